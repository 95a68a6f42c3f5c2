"""The grids: which sizes, dtypes, backends and stages the sweep (and asv) measure.

Named grids (:data:`GRIDS`):

- ``default`` -- what ``waxegg repro`` measures: WAX EWM mean over T = 1e3..1e5 at N = 1000 and at
  T=1e6 x N=100 in float64 and float32 (the seed size T=1e5 x N=1000 included), EWM variance and rolling mean at
  T = 1e4 and 1e5 x N = 1000 in float64 (the 3-step workflow only at 1e4), egglog LDA over n_samples = 1e4..1e6 at 20 features (the
  seed size 1e6 x 20 included), with the rewrite ablation (2 classes) and the cached-start check there.
- ``seed`` -- the seed sizes only, float64 (the ordering check of the issue; ~4 minutes).
- ``quick`` -- tiny sizes for smoke tests (~1 minute, mostly compilation).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from waxegg.bench.first_call import FIRST_CALL_SHAPE
from waxegg.bench.workloads import LAYOUTS, WAX_STAGES

#: Stages of the egglog pipeline (one-shot), in order, then the steady-state run of each function.
EGG_STAGES = ("trace", "optimize", "lower", "codegen", "compile")
EGG_FUNCTIONS = ("original", "extracted", "numba")


@dataclass(frozen=True)
class WaxGrid:
    """WAX part of a sweep.

    Attributes
    ----------
    sizes
        ``(T, N)`` pairs, time steps by columns, measured smallest first.
    dtypes
        Input dtypes (each backend computes in it where it can; ``out_dtype`` records what came back).
    layouts
        Memory orders of the input frame (:data:`waxegg.bench.workloads.LAYOUTS`): ``F`` (column-major,
        what pandas 3 builds from a 2-D array, as in the seed) by default, ``C`` (row-major) on request.
    kernels
        Names from :func:`waxegg.bench.workloads.wax_kernels`.
    backends
        Backend column names (:func:`waxegg.bench.workloads.wax_runners`); ``None``: all of them.
    exclude_backends
        Backend names left out (of ``backends``, or of all of them).
    stages
        Stages to time among :data:`~waxegg.bench.workloads.WAX_STAGES`.
    repeat, min_repeat, budget_s
        Steady-state repeats per stage: ``repeat``, but stop after ``min_repeat`` once a stage has used
        ``budget_s`` seconds (so that slow backends at big sizes do not dominate the run time).
    """

    sizes: tuple[tuple[int, int], ...]
    dtypes: tuple[str, ...] = ("float64", "float32")
    layouts: tuple[str, ...] = ("F",)
    kernels: tuple[str, ...] = ("ewm_mean",)
    backends: tuple[str, ...] | None = None
    exclude_backends: tuple[str, ...] = ()
    stages: tuple[str, ...] = WAX_STAGES
    repeat: int = 7
    min_repeat: int = 3
    budget_s: float = 12.0

    def __post_init__(self) -> None:
        for T, N in self.sizes:
            if int(T) < 1 or int(N) < 1:
                raise ValueError(f"sizes must be positive (T, N) pairs, got {(T, N)}")
        bad_layouts = [x for x in self.layouts if x not in LAYOUTS]
        if bad_layouts:
            raise ValueError(f"unknown layouts {bad_layouts}; known: {LAYOUTS}")
        bad = [s for s in self.stages if s not in WAX_STAGES]
        if bad:
            raise ValueError(f"unknown WAX stages {bad}; known: {WAX_STAGES}")
        if not 1 <= self.min_repeat <= self.repeat:
            raise ValueError(f"need 1 <= min_repeat <= repeat, got min_repeat={self.min_repeat}, repeat={self.repeat}")


@dataclass(frozen=True)
class EggGrid:
    """egglog part of a sweep: the seed's LDA over ``n_samples`` rows of ``n_features`` columns.

    The pipeline (trace .. compile) runs once per size; ``original`` / ``extracted`` / ``numba`` are
    then timed like the WAX stages (``repeat``, ``min_repeat``, ``budget_s``).

    ``waxegg repro`` also measures, at the largest ``n_samples``: the rewrite ablation
    (:func:`waxegg.egg.measure.ablation_lda`) for each class count in ``ablation_classes``, and with
    ``cached_start`` the cold and cached first result in fresh processes
    (:func:`waxegg.egg.measure.cached_start`); with ``estimators`` the scikit-learn estimator coverage
    (:func:`waxegg.bench.egg_workloads.measure_estimators`) at ``estimator_samples`` rows: every estimator
    workload (``estimators=True``) or the named ones.

    ``estimator_sweep`` names scikit-learn estimator workloads (:data:`waxegg.egg.workloads.ESTIMATORS` and
    ``NOT_TRACEABLE``; ``True``: one configuration per estimator class, ``ONE_PER_ESTIMATOR``, and the
    estimators that do not trace) swept like the LDA: pipeline stages, then ``original`` / ``extracted`` /
    ``numba`` and a plain ``copy`` of X, at each ``n_samples`` (``n_features`` 10; a kernel matrix at most
    :data:`waxegg.bench.egg_workloads.KERNEL_ROWS` square). Their rows are the coverage table's where
    ``estimator_samples`` is one of ``n_samples``, so those are not measured twice.
    """

    n_samples: tuple[int, ...]
    n_features: int = 20
    repeat: int = 7
    min_repeat: int = 3
    budget_s: float = 12.0
    ablation_classes: tuple[int, ...] = ()
    cached_start: bool = False
    estimators: bool | tuple[str, ...] = False
    estimator_samples: int = 1_000_000
    estimator_sweep: bool | tuple[str, ...] = False

    def __post_init__(self) -> None:
        if any(int(n) < 4 for n in self.n_samples):
            raise ValueError(f"n_samples must all be >= 4, got {self.n_samples}")
        if not 1 <= self.min_repeat <= self.repeat:
            raise ValueError(f"need 1 <= min_repeat <= repeat, got min_repeat={self.min_repeat}, repeat={self.repeat}")


@dataclass(frozen=True)
class FirstCallGrid:
    """First calls as users meet them (:mod:`waxegg.bench.first_call`), measured by ``waxegg repro``.

    Each statistic's first call on a ``shape`` frame in a fresh process with empty cache folders (cold)
    and in a second one over the filled caches (warm), beside numbagg's counterpart, and with
    ``three_step`` the seed's 3-step workflow. ``kernels=None``: every accessor statistic. ``repeat``
    interleaved rounds, the fastest kept.
    """

    kernels: tuple[str, ...] | None = None
    dtypes: tuple[str, ...] = ("float64",)
    layouts: tuple[str, ...] = ("F",)
    shape: tuple[int, int] = FIRST_CALL_SHAPE
    three_step: bool = True
    repeat: int = 1

    def __post_init__(self) -> None:
        if self.repeat < 1:
            raise ValueError(f"repeat must be >= 1, got {self.repeat}")
        bad = [layout for layout in self.layouts if layout not in LAYOUTS]
        if bad:
            raise ValueError(f"layouts must be among {LAYOUTS}, got {bad}")


@dataclass(frozen=True)
class Grid:
    """A whole sweep: a WAX part and an egglog part (either may be ``None``).

    ``extra_wax`` holds further WAX parts measured after ``wax`` (e.g. other kernels on fewer sizes);
    ``first_calls`` the fresh-process first calls the repro measures after the sweep.
    """

    name: str
    wax: WaxGrid | None = None
    egg: EggGrid | None = None
    #: The (T, N) at which the report's swarm and stage figures are drawn (the largest WAX size by default).
    focus: tuple[int, int] | None = field(default=None)
    extra_wax: tuple[WaxGrid, ...] = ()
    first_calls: FirstCallGrid | None = None

    @property
    def wax_parts(self) -> tuple[WaxGrid, ...]:
        """``wax`` and ``extra_wax``, in measuring order."""
        return ((self.wax,) if self.wax is not None else ()) + tuple(self.extra_wax)

    @property
    def focus_size(self) -> tuple[int, int] | None:
        if self.focus is not None:
            return self.focus
        if self.wax is None or not self.wax.sizes:
            return None
        return max(self.wax.sizes, key=lambda s: s[0] * s[1])

    def with_backends(self, backends: tuple[str, ...] | None) -> "Grid":
        """This grid restricted to WAX ``backends`` (in every WAX part)."""
        return replace(self, wax=None if self.wax is None else replace(self.wax, backends=backends),
                       extra_wax=tuple(replace(w, backends=backends) for w in self.extra_wax))


SEED_WAX_SIZE = (100_000, 1000)
#: The accessor statistics besides the seed's EWM mean, as the backends name their kernels.
OTHER_STATISTICS = ("ewm_sum", "ewm_var", "ewm_std", "ewm_cov", "ewm_corr", "rolling_mean", "rolling_sum",
                    "rolling_var", "rolling_std", "rolling_min", "rolling_max", "rolling_median",
                    "rolling_count", "rolling_cov", "rolling_corr")
LONG_WAX_SIZE = (1_000_000, 100)
SEED_EGG_SAMPLES = 1_000_000

GRIDS: dict[str, Grid] = {
    "default": Grid(
        "default",
        # The seed size and the same number of elements as a long, narrow frame (T=1e6 x N=100). A stage
        # stops after 3 repeats (best-of-3, BENCHMARKING.md's minimum) once it has spent 6 s: the fast kernels
        # still get 7, the seconds-long pandas / JAX calls at the big sizes 3 or 4 (the report's run time).
        wax=WaxGrid(sizes=((1_000, 1000), (10_000, 1000), SEED_WAX_SIZE, LONG_WAX_SIZE), budget_s=6.0),
        focus=SEED_WAX_SIZE,
        egg=EggGrid(n_samples=(10_000, 100_000, SEED_EGG_SAMPLES), ablation_classes=(2,), cached_start=True,
                    estimators=True, estimator_sweep=True),
        # Every other window statistic, beside its peers (float64 unless said): every peer at
        # T=1e4 x N=1000; the JAX reference path on a tenth of that (its scans run at pandas' speed or
        # slower: a rolling median takes ~30 s a call at 1e7 elements); at the seed size the default
        # backend beside the copy and numbagg in both layouts and in float32, and the median beside
        # pandas. Not the 3-step workflow (its module is the EWMA's).
        extra_wax=(WaxGrid(sizes=((10_000, 1000),), dtypes=("float64",), kernels=OTHER_STATISTICS,
                           exclude_backends=("wax-3step", "waxegg-jax"), repeat=3, budget_s=4.0),
                   WaxGrid(sizes=((10_000, 100),), dtypes=("float64",), kernels=OTHER_STATISTICS,
                           backends=("copy", "pandas", "waxegg-jax"), repeat=3, budget_s=4.0),
                   WaxGrid(sizes=(SEED_WAX_SIZE,), dtypes=("float64",), layouts=("F", "C"),
                           kernels=OTHER_STATISTICS, backends=("copy", "numbagg", "waxegg-numba"),
                           repeat=3, budget_s=4.0),
                   WaxGrid(sizes=(SEED_WAX_SIZE,), dtypes=("float64",), kernels=("rolling_median",),
                           backends=("copy", "pandas", "waxegg-numba"), repeat=3, budget_s=4.0),
                   WaxGrid(sizes=(SEED_WAX_SIZE,), dtypes=("float32",), kernels=OTHER_STATISTICS,
                           backends=("copy", "numbagg", "waxegg-numba"), repeat=3, budget_s=4.0)),
        # every statistic's cold and warm first call at T=1e4 x N=100 float64, column-major, beside numbagg
        first_calls=FirstCallGrid(),
    ),
    "seed": Grid(
        "seed",
        wax=WaxGrid(sizes=(SEED_WAX_SIZE,), dtypes=("float64",), repeat=5),
        egg=EggGrid(n_samples=(SEED_EGG_SAMPLES,), repeat=5),
    ),
    "quick": Grid(
        "quick",
        wax=WaxGrid(sizes=((500, 16), (5_000, 64)), repeat=3, budget_s=2.0),
        egg=EggGrid(n_samples=(1_000,), repeat=3, budget_s=2.0, estimators=("MinMaxScaler()", "GaussianNB()"),
                    estimator_samples=1_000, estimator_sweep=("MinMaxScaler()", "GaussianNB()")),
        # a statistic of each kind beside the EWM mean, so the smoke run renders the whole page
        extra_wax=(WaxGrid(sizes=((500, 16),), dtypes=("float64",), kernels=("ewm_std", "rolling_median", "rolling_cov"),
                           exclude_backends=("wax-3step",), repeat=3, budget_s=1.0),),
        first_calls=FirstCallGrid(kernels=("ewm_mean",), shape=(500, 16), three_step=False),
    ),
}


def get_grid(name: str) -> Grid:
    """The named grid (see :data:`GRIDS`)."""
    if name not in GRIDS:
        raise ValueError(f"unknown grid {name!r}; known: {sorted(GRIDS)}")
    return GRIDS[name]


# --------------------------------------------------------------------------------------------
# asv parameters
# --------------------------------------------------------------------------------------------

#: Set to 1 to add the big sizes to the asv suites (T up to 1e6 x N=1000 where memory allows).
ASV_BIG_ENV = "WAXEGG_ASV_BIG"


def asv_wax_sizes() -> list[tuple[int, int]]:
    """(T, N) pairs of the asv WAX suites: small by default, big ones behind ``WAXEGG_ASV_BIG=1``.

    A big size is kept only if four arrays of it in float64 (input, output, reference and one
    temporary) fit in the memory available now.
    """
    sizes = [(10_000, 100), (100_000, 100)]
    if os.environ.get(ASV_BIG_ENV, "") not in ("", "0"):
        import psutil

        available = psutil.virtual_memory().available
        sizes += [s for s in ((100_000, 1000), (1_000_000, 1000)) if 4 * 8 * s[0] * s[1] < available]
    return sizes


def asv_estimator_samples() -> list[int]:
    """n_samples of the asv scikit-learn estimator suite (``WAXEGG_ASV_BIG=1`` adds 1e6)."""
    sizes = [10_000]
    if os.environ.get(ASV_BIG_ENV, "") not in ("", "0"):
        sizes.append(SEED_EGG_SAMPLES)
    return sizes


def asv_egg_samples() -> list[int]:
    """n_samples of the asv egglog suites (``WAXEGG_ASV_BIG=1`` adds the seed's 1e6)."""
    sizes = [10_000, 100_000]
    if os.environ.get(ASV_BIG_ENV, "") not in ("", "0"):
        sizes.append(SEED_EGG_SAMPLES)
    return sizes
