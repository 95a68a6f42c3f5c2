"""WAX workloads shared by the sweep runner, asv and the tests: seeded data, kernels and runners.

A *kernel* (:class:`WaxKernel`) is one pandas-style computation (``ewm_mean`` first) with the ways
each system spells it. A *runner* (:class:`Runner`) binds a kernel, a backend and a frame and
exposes the stages it has as zero-argument methods (``encode``, ``compute``, ``format``,
``end_to_end``), each reusing the previous stage's output, so any stage can be timed on its own.
The first ``end_to_end`` call in a process is the ``compile`` stage.

Backends (the ``backend`` column of the results):

- ``copy`` -- ``values.copy(order="K")``, the memory-bandwidth floor of a one-pass kernel;
- ``pandas`` -- the reference (``df.ewm(...).mean()``);
- ``numbagg``, ``polars`` -- peers, skipped with a reason when not installed;
- ``waxegg-<name>`` -- ``df.wax.ewm(..., backend=<name>)`` for every name in
  :func:`waxegg.wax.backends.available_backends`;
- ``wax-3step`` -- the seed tutorial's three steps: ``trace_dataset`` + ``convert_to_tensors``,
  the Haiku module under :func:`dynamic_unroll` reading data with ``tree_access_data``, and
  ``format_dataframe``.
"""

from __future__ import annotations

import functools
import importlib.util
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import haiku as hk
import numba
import numpy as np
import pandas as pd
import xarray as xr

from waxegg.wax.accessors import register_wax_accessors
from waxegg.wax.compile import jit_init_apply
from waxegg.wax.format import format_dataframe, to_numpy
from waxegg.wax.modules import EWMA
from waxegg.wax.stream import convert_to_tensors, tree_access_data
from waxegg.wax.unroll import dynamic_unroll

#: Stages of a WAX runner, in the order the sweep times them.
WAX_STAGES = ("compile", "end_to_end", "encode", "compute", "format")
#: Peers that are not waxegg, floor first.
PEERS = ("copy", "pandas", "numbagg", "polars")
THREE_STEP = "wax-3step"


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

#: Memory layouts :func:`make_frame` can build: ``"F"`` is what ``pd.DataFrame(values, index=...)``
#: builds in pandas 3 (the seed's frame; pandas copies a 2-D array into one column-major block),
#: ``"C"`` wraps the row-major array without a copy.
LAYOUTS = ("F", "C")


@functools.lru_cache(maxsize=4)
def make_frame(T: int, N: int, dtype: str = "float64", seed: int = 0, layout: str = "F") -> pd.DataFrame:
    """The seed's data: ``T x N`` standard normals indexed by seconds from 1970 (cached per key).

    ``layout`` (:data:`LAYOUTS`) is the memory order of ``frame.to_numpy()``: column-major by default,
    like the seed's ``pd.DataFrame(values, index=...)`` under pandas 3, or row-major (``"C"``).
    Callers must not modify the returned frame.
    """
    if T < 1 or N < 1:
        raise ValueError(f"T and N must be >= 1, got T={T}, N={N}")
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"dtype must be a floating dtype, got {dtype!r}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((T, N), dtype=np.dtype(dtype).type)
    if layout == "F":
        values = np.asfortranarray(values)
    return pd.DataFrame(values, index=pd.date_range("1970", periods=T, freq="s"), copy=False)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _max_abs_diff(a, b):  # pragma: no cover (compiled)
    """``max |a - b|`` over positions where both are numbers, ``inf`` if the NaN positions differ.

    One pass over two 2-D arrays walked row by row (callers hand row-major views), without temporaries.
    """
    worst = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            x, y = np.float64(a[i, j]), np.float64(b[i, j])
            if np.isnan(x) != np.isnan(y):
                return np.inf
            d = abs(x - y)
            if d > worst:  # NaN (both missing, or inf - inf) is never larger
                worst = d
    return worst


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _max_abs_diff_tiled(a, b, tile):  # pragma: no cover (compiled)
    """:func:`_max_abs_diff` for two 2-D arrays of any memory orders, walked in ``tile x tile`` blocks.

    A row-major result against a column-major reference (the row-major cells of the sweep) read element by
    element in one order would stride through the other array a cache line per element.
    """
    worst = 0.0
    n, m = a.shape
    for i0 in range(0, n, tile):
        i1 = min(i0 + tile, n)
        for j0 in range(0, m, tile):
            j1 = min(j0 + tile, m)
            for i in range(i0, i1):
                for j in range(j0, j1):
                    x, y = np.float64(a[i, j]), np.float64(b[i, j])
                    if np.isnan(x) != np.isnan(y):
                        return np.inf
                    d = abs(x - y)
                    if d > worst:
                        worst = d
    return worst


def max_abs_error(result: Any, reference: np.ndarray, *, chunk: int = 8192) -> float:
    """``max |result - reference|`` in float64, ``inf`` if shapes or NaN positions differ.

    2-D float arrays go through one compiled pass without temporaries (the sweep checks 800 MB outputs
    hundreds of times): row by row when both have one memory order, in square tiles when the orders differ;
    others in row chunks, so that no full-size temporary is allocated.
    """
    result = to_numpy(result.to_numpy() if isinstance(result, (pd.DataFrame, pd.Series)) else result)
    reference = np.asarray(reference)
    if result.shape != reference.shape:
        return float("inf")
    if result.ndim == 2 and result.dtype.kind == "f" and reference.dtype.kind == "f":
        if result.flags.c_contiguous and reference.flags.c_contiguous:
            return float(_max_abs_diff(result, reference))
        if result.flags.f_contiguous and reference.flags.f_contiguous:
            return float(_max_abs_diff(result.T, reference.T))
        return float(_max_abs_diff_tiled(result, reference, 64))
    worst = 0.0
    for start in range(0, result.shape[0], chunk):
        a = result[start:start + chunk].astype(np.float64, copy=False)
        b = reference[start:start + chunk].astype(np.float64, copy=False)
        nan_a, nan_b = np.isnan(a), np.isnan(b)
        if not np.array_equal(nan_a, nan_b):
            return float("inf")
        with np.errstate(invalid="ignore"):
            diff = np.abs(a - b)
        diff[np.isnan(diff)] = 0.0  # missing in both, or equal infinities (inf - inf): not an error
        if diff.size:
            worst = max(worst, float(diff.max()))
    return worst


# --------------------------------------------------------------------------------------------
# The seed's 3-step workflow
# --------------------------------------------------------------------------------------------

@dataclass
class WaxSeedWorkflow:
    """The WAX 3-step workflow of the seed tutorial, one method per step.

    ``encode()`` (synchronise / trace / encode and put on the device), ``compute()`` (the module
    under :func:`dynamic_unroll`; the first call after an ``encode()`` compiles), ``format()``
    (back to a DataFrame). Each step can be called and timed on its own once the previous one ran.
    ``module`` builds the Haiku module applied to each step (default: ``EWMA(alpha, adjust=True)``).
    """

    dataframe: pd.DataFrame
    alpha: float = 0.1
    module: Callable[[], Callable[[Any], Any]] | None = None
    _state: dict[str, Any] = field(default_factory=dict, repr=False)

    def encode(self) -> Any:
        register_wax_accessors()
        dataset = xr.DataArray(self.dataframe).to_dataset(name="dataarray")
        stream = self.dataframe.wax.stream()
        np_data, np_index, xs = stream.trace_dataset(dataset)
        jnp_data, jnp_index, jxs = convert_to_tensors((np_data, np_index, xs), "jax")
        make_module = self.module or (lambda: EWMA(alpha=self.alpha, adjust=True))

        @jit_init_apply
        @hk.transform_with_state
        def transform_dataset(step):
            data = tree_access_data(jnp_data, jnp_index, step)
            return make_module()(data["dataarray"])

        self._state.update(dataset=dataset, xs=xs, transform=transform_dataset, jnp_data=jnp_data)
        self._state.pop("outputs", None)
        return jnp_data

    def compute(self) -> Any:
        if "transform" not in self._state:
            raise RuntimeError("call encode() before compute()")
        rng = next(hk.PRNGSequence(42))
        outputs, state = dynamic_unroll(self._state["transform"], self._state["xs"], rng)
        self._state["outputs"] = outputs
        return outputs

    def format(self) -> pd.DataFrame:
        if "outputs" not in self._state:
            raise RuntimeError("call compute() before format()")
        dataset = self._state["dataset"]
        return format_dataframe(dataset.coords, np.asarray(self._state["outputs"]), format_dims=dataset.dataarray.dims)

    def run(self) -> pd.DataFrame:
        self.encode()
        self.compute()
        return self.format()


# --------------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WaxKernel:
    """One computation and how each system spells it (``None``: that system lacks it).

    Attributes
    ----------
    name
        Column value in the results (``"ewm_mean"``): the :class:`~waxegg.wax.backends.Backend`
        kernel of that name, which the registry says which backends implement.
    title
        Human label with the parameters (``"EWM mean, alpha=0.1"``).
    pandas
        ``frame -> frame``: the reference and the pandas peer. Pairwise statistics pair each column
        with the same column of :func:`partner` (``pairwise=False``), elementwise like numbagg.
    backend_args, backend_kwargs
        Arguments of the backend kernel after the array(s) (e.g. the validated ``EWMParams``).
    accessor
        ``(frame, backend, dtype) -> frame`` through the ``.wax`` accessor.
    numbagg, polars, module
        ``values -> values`` with numbagg (pairwise: ``(x, y) -> values``); a zero-argument function
        returning the polars expression; a zero-argument Haiku module factory for the 3-step workflow.
    """

    name: str
    title: str
    pandas: Callable[[pd.DataFrame], pd.DataFrame]
    backend_args: Callable[[], tuple]
    accessor: Callable[[pd.DataFrame, str, str], Any]
    numbagg: Callable[..., np.ndarray] | None = None
    polars: Callable[[], Any] | None = None
    module: Callable[[], Callable[[Any], Any]] | None = None
    backend_kwargs: dict = field(default_factory=dict)

    @property
    def backend_method(self) -> str:
        return self.name

    @property
    def pairwise(self) -> bool:
        return self.name.endswith(("_cov", "_corr"))


_PARTNERS: dict[int, pd.DataFrame] = {}


def partner(frame: pd.DataFrame) -> pd.DataFrame:
    """The second operand of the pairwise statistics: ``frame``'s columns in reverse order, same labels.

    Made once per frame (outside the timed calls, which :func:`prepare` warms) and kept while the frame lives.
    """
    key = id(frame)
    if key not in _PARTNERS:
        values = frame.to_numpy()[:, ::-1]
        other = pd.DataFrame(np.array(values, order="F" if frame.to_numpy().flags.f_contiguous else "C"),
                             index=frame.index, columns=frame.columns)
        _PARTNERS[key] = other
        weakref.finalize(frame, _PARTNERS.pop, key, None)
    return _PARTNERS[key]


#: ``ewm(alpha=ALPHA)`` and ``rolling(WINDOW)``: the parameters of every benchmarked statistic.
ALPHA = 0.1
WINDOW = 20
#: numbagg's counterparts: equal to pandas' defaults (ewm: adjust=True, ignore_na=False; rolling:
#: min_periods=window) on NaN-free data, tested in tests/test_bench_peers.py.
NUMBAGG_EWM = {"mean": "move_exp_nanmean", "sum": "move_exp_nansum", "var": "move_exp_nanvar",
               "std": "move_exp_nanstd", "cov": "move_exp_nancov", "corr": "move_exp_nancorr"}
NUMBAGG_ROLLING = {"mean": "move_mean", "sum": "move_sum", "var": "move_var", "std": "move_std",
                   "cov": "move_cov", "corr": "move_corr"}
#: The same by kernel name (``"ewm_var"`` -> ``"move_exp_nanvar"``).
NUMBAGG = {**{f"ewm_{s}": f for s, f in NUMBAGG_EWM.items()}, **{f"rolling_{s}": f for s, f in NUMBAGG_ROLLING.items()}}
_POLARS_EWM = {"mean": "ewm_mean", "sum": None, "var": "ewm_var", "std": "ewm_std"}
_POLARS_ROLLING = {"mean": "rolling_mean", "sum": "rolling_sum", "var": "rolling_var", "std": "rolling_std",
                   "min": "rolling_min", "max": "rolling_max", "median": "rolling_median"}


def ewm_kernel(stat: str, alpha: float = ALPHA) -> WaxKernel:
    """``ewm(alpha=alpha).<stat>()`` and its peers."""
    from waxegg.wax._params import ewm_params
    from waxegg.wax.modules import EWMA, EWMVar

    pair = stat in ("cov", "corr")

    def pandas_fn(df: pd.DataFrame) -> pd.DataFrame:
        window = df.ewm(alpha=alpha)
        return getattr(window, stat)(partner(df), pairwise=False) if pair else getattr(window, stat)()

    def accessor(df: pd.DataFrame, backend: str | None, dtype: str) -> Any:
        window = df.wax.ewm(alpha=alpha, backend=backend, dtype=dtype)
        return getattr(window, stat)(partner(df), pairwise=False) if pair else getattr(window, stat)()

    def numbagg_fn(*arrays: np.ndarray) -> np.ndarray:
        import numbagg

        return getattr(numbagg, NUMBAGG_EWM[stat])(*arrays, alpha=alpha, axis=0)

    polars_name = _POLARS_EWM.get(stat)

    def polars_expr() -> Any:
        import polars as pl

        # Same as pandas adjust=True where inputs are not NaN (polars propagates NaN as a value).
        options = dict(bias=False) if stat in ("var", "std") else {}
        return getattr(pl.all(), polars_name)(alpha=alpha, adjust=True, ignore_nulls=False, **options)

    module = {"mean": lambda: EWMA(alpha=alpha, adjust=True), "var": lambda: EWMVar(alpha=alpha)}.get(stat)
    return WaxKernel(
        name=f"ewm_{stat}", title=f"EWM {stat}, alpha={alpha}", pandas=pandas_fn,
        backend_args=lambda: (ewm_params(alpha=alpha),), accessor=accessor,
        numbagg=numbagg_fn if stat in NUMBAGG_EWM else None,
        polars=polars_expr if polars_name else None, module=module,
    )


def rolling_kernel(stat: str, window: int = WINDOW) -> WaxKernel:
    """``rolling(window).<stat>()`` and its peers."""
    from waxegg.wax._params import RollingParams
    from waxegg.wax.modules import RollingMean

    pair = stat in ("cov", "corr")

    def pandas_fn(df: pd.DataFrame) -> pd.DataFrame:
        r = df.rolling(window)
        return getattr(r, stat)(partner(df), pairwise=False) if pair else getattr(r, stat)()

    def accessor(df: pd.DataFrame, backend: str | None, dtype: str) -> Any:
        r = df.wax.rolling(window, backend=backend, dtype=dtype)
        return getattr(r, stat)(partner(df), pairwise=False) if pair else getattr(r, stat)()

    def numbagg_fn(*arrays: np.ndarray) -> np.ndarray:
        import numbagg

        # min_count=window is pandas' default min_periods.
        return getattr(numbagg, NUMBAGG_ROLLING[stat])(*arrays, window=window, min_count=window, axis=0)

    polars_name = _POLARS_ROLLING.get(stat)

    def polars_expr() -> Any:
        import polars as pl

        return getattr(pl.all(), polars_name)(window_size=window)

    return WaxKernel(
        name=f"rolling_{stat}", title=f"rolling {stat}, window={window}", pandas=pandas_fn,
        backend_args=lambda: (RollingParams(window=window, min_periods=window),), accessor=accessor,
        numbagg=numbagg_fn if stat in NUMBAGG_ROLLING else None,
        polars=polars_expr if polars_name else None,
        module=(lambda: RollingMean(window)) if stat == "mean" else None,
    )


def wax_kernels() -> dict[str, WaxKernel]:
    """The WAX kernels the sweep and asv know, by name: every statistic of the accessors."""
    from waxegg.wax.backends._base import EWM_STATISTICS, ROLLING_STATISTICS

    kernels = [ewm_kernel(s) for s in EWM_STATISTICS] + [rolling_kernel(s) for s in ROLLING_STATISTICS]
    return {k.name: k for k in kernels}


def _ewm_mean_kernel(alpha: float = ALPHA) -> WaxKernel:
    return ewm_kernel("mean", alpha)


# --------------------------------------------------------------------------------------------
# Runners
# --------------------------------------------------------------------------------------------

class Runner:
    """A (kernel, backend) pair bound to one frame; each stage is a zero-argument method.

    Subclasses set ``stages`` (the stages they have besides ``compile``) and implement them.
    """

    backend: str = "?"
    stages: ClassVar[tuple[str, ...]] = ("end_to_end",)

    def __init__(self, kernel: WaxKernel, frame: pd.DataFrame):
        self.kernel = kernel
        self.frame = frame
        self.dtype = str(frame.dtypes.iloc[0])
        self._values: Any = None
        self._out: Any = None

    @classmethod
    def applies(cls, kernel: WaxKernel) -> bool:
        """Whether this runner has a spelling of ``kernel`` at all (if not, the sweep emits no row)."""
        return True

    @classmethod
    def unavailable(cls, kernel: WaxKernel) -> str | None:
        """Why this runner cannot run ``kernel`` here (a missing package), else None: a ``skipped`` row."""
        return None

    def stage(self, name: str) -> Callable[[], Any]:
        """The zero-argument callable of stage ``name`` (``compile`` is the first ``end_to_end``)."""
        if name == "compile":
            name = "end_to_end"
        if name not in self.stages:
            raise ValueError(f"backend {self.backend!r} has no stage {name!r}; it has {self.stages}")
        return getattr(self, name)

    def end_to_end(self) -> Any:
        raise NotImplementedError

    def before_call(self, stage: str) -> None:
        """Run untimed before each timed call of ``stage`` (default: nothing)."""

    def _frame(self, out: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(out, index=self.frame.index, columns=self.frame.columns, copy=False)


class CopyRunner(Runner):
    """``values.copy(order="K")``: reads and writes each element once in the frame's memory order, the
    floor for a one-pass kernel (a plain ``.copy()`` of a column-major frame's values would transpose)."""

    backend = "copy"

    def __init__(self, kernel: WaxKernel, frame: pd.DataFrame):
        super().__init__(kernel, frame)
        self._values = frame.to_numpy()

    def end_to_end(self) -> np.ndarray:
        return self._values.copy(order="K")


class PandasRunner(Runner):
    """The pandas call the kernel mirrors (the reference)."""

    backend = "pandas"

    def end_to_end(self) -> pd.DataFrame:
        return self.kernel.pandas(self.frame)


class NumbaggRunner(Runner):
    """numbagg on the frame's values (a view), wrapped back into a DataFrame."""

    backend = "numbagg"
    stages = ("end_to_end", "encode", "compute", "format")

    @classmethod
    def applies(cls, kernel: WaxKernel) -> bool:
        return kernel.numbagg is not None

    @classmethod
    def unavailable(cls, kernel: WaxKernel) -> str | None:
        return "numbagg is not installed" if importlib.util.find_spec("numbagg") is None else None

    def _arrays(self) -> tuple[np.ndarray, ...]:
        if self.kernel.pairwise:
            return self.frame.to_numpy(), partner(self.frame).to_numpy()
        return (self.frame.to_numpy(),)

    def encode(self) -> tuple[np.ndarray, ...]:
        self._values = self._arrays()
        return self._values

    def compute(self) -> np.ndarray:
        self._out = self.kernel.numbagg(*self._values)
        return self._out

    def format(self) -> pd.DataFrame:
        return self._frame(self._out)

    def end_to_end(self) -> pd.DataFrame:
        return self._frame(self.kernel.numbagg(*self._arrays()))


class PolarsRunner(Runner):
    """polars: ``from_numpy`` (a column-wise copy), the expression on all columns, ``to_numpy``."""

    backend = "polars"
    stages = ("end_to_end", "encode", "compute", "format")

    @classmethod
    def applies(cls, kernel: WaxKernel) -> bool:
        return kernel.polars is not None

    @classmethod
    def unavailable(cls, kernel: WaxKernel) -> str | None:
        return "polars is not installed" if importlib.util.find_spec("polars") is None else None

    def encode(self) -> Any:
        import polars as pl

        self._values = pl.from_numpy(self.frame.to_numpy())
        return self._values

    def compute(self) -> Any:
        self._out = self._values.select(self.kernel.polars())
        return self._out

    def format(self) -> pd.DataFrame:
        return self._frame(self._out.to_numpy())

    def end_to_end(self) -> pd.DataFrame:
        import polars as pl

        return self._frame(pl.from_numpy(self.frame.to_numpy()).select(self.kernel.polars()).to_numpy())


class WaxeggRunner(Runner):
    """``df.wax.<kernel>(..., backend=<name>, dtype=<frame dtype>)`` and its three stages.

    ``dtype`` is passed so that float32 frames are computed in float32 (the accessor's default,
    like pandas, returns float64).
    """

    stages = ("end_to_end", "encode", "compute", "format")
    backend_name: str = "?"

    def __init__(self, kernel: WaxKernel, frame: pd.DataFrame):
        from waxegg.wax.backends import get_backend

        super().__init__(kernel, frame)
        register_wax_accessors()
        self._impl = getattr(get_backend(self.backend_name), kernel.backend_method)
        self._args = kernel.backend_args()

    @classmethod
    def for_backend(cls, name: str) -> type["WaxeggRunner"]:
        """The runner class of registered backend ``name`` (``backend`` column ``waxegg-<name>``)."""
        return _waxegg_runner_class(name)

    @classmethod
    def applies(cls, kernel: WaxKernel) -> bool:
        return _backend_implements(cls.backend_name, kernel.backend_method)

    def encode(self) -> Any:
        # The accessor's own encode step (frame -> time-first float array; a view when it can be).
        from waxegg.wax.adapters import frame_values

        self._values = frame_values(self.frame, self.dtype)[0]
        if self.kernel.pairwise:
            self._values = (self._values, frame_values(partner(self.frame), self.dtype)[0])
        return self._values

    def compute(self) -> np.ndarray:
        arrays = self._values if self.kernel.pairwise else (self._values,)
        self._out, _ = self._impl(*arrays, *self._args, **self.kernel.backend_kwargs)
        return self._out

    def format(self) -> pd.DataFrame:
        return self._frame(self._out)

    def end_to_end(self) -> pd.DataFrame:
        return self.kernel.accessor(self.frame, self.backend_name, self.dtype)


def _backend_implements(name: str, method: str) -> bool:
    """Whether registered backend ``name`` declares kernel ``method`` (the registry's capabilities)."""
    from waxegg.wax.backends import get_backend

    return get_backend(name).capabilities.supports(method)


class AccessorRunner(Runner):
    """``waxegg``: the ``.wax`` accessor for kernels no registered backend implements.

    Those (``ewm().var()``, ``rolling().mean()``) run their Haiku module under ``dynamic_unroll``
    whatever the backend, so they get one row, not one per backend.
    """

    backend = "waxegg"

    @classmethod
    def applies(cls, kernel: WaxKernel) -> bool:
        from waxegg.wax.backends import available_backends

        return not any(_backend_implements(name, kernel.backend_method) for name in available_backends())

    def __init__(self, kernel: WaxKernel, frame: pd.DataFrame):
        super().__init__(kernel, frame)
        register_wax_accessors()

    def end_to_end(self) -> Any:
        return self.kernel.accessor(self.frame, None, self.dtype)


@functools.lru_cache(maxsize=None)
def _waxegg_runner_class(name: str) -> type[WaxeggRunner]:
    # One class per backend name, made once: runner classes are compared and used as dict values.
    return type(f"WaxeggRunner_{name}", (WaxeggRunner,), {"backend": f"waxegg-{name}", "backend_name": name})


class ThreeStepRunner(Runner):
    """The seed tutorial's 3-step workflow (:class:`WaxSeedWorkflow`) with the kernel's module."""

    backend = THREE_STEP
    stages = ("end_to_end", "encode", "compute", "format")

    def __init__(self, kernel: WaxKernel, frame: pd.DataFrame):
        super().__init__(kernel, frame)
        self.workflow = WaxSeedWorkflow(frame, module=kernel.module)

    @classmethod
    def applies(cls, kernel: WaxKernel) -> bool:
        return kernel.module is not None

    def before_call(self, stage: str) -> None:
        # Each encode() defines a new transform that captures the data as a constant; JAX keeps every
        # compiled one (dynamic_unroll's jit takes the transform as a static argument), ~1-2x the data
        # each. Free them before a call that makes a new one, or repeats run out of memory at T=1e5 x N=1000.
        if stage in ("compile", "end_to_end", "encode"):
            import jax

            jax.clear_caches()

    def encode(self) -> Any:
        return self.workflow.encode()

    def compute(self) -> Any:
        return self.workflow.compute()

    def format(self) -> pd.DataFrame:
        return self.workflow.format()

    def end_to_end(self) -> pd.DataFrame:
        return self.workflow.run()


def wax_runners() -> dict[str, type[Runner]]:
    """Runner classes by backend column name: peers, one per registered waxegg backend, the 3-step."""
    from waxegg.wax.backends import available_backends

    runners: dict[str, type[Runner]] = {
        "copy": CopyRunner, "pandas": PandasRunner, "numbagg": NumbaggRunner, "polars": PolarsRunner,
    }
    for name in available_backends():
        cls = WaxeggRunner.for_backend(name)
        runners[cls.backend] = cls
    runners[AccessorRunner.backend] = AccessorRunner
    runners[THREE_STEP] = ThreeStepRunner
    return runners


def wax_reference(kernel: WaxKernel, frame: pd.DataFrame) -> np.ndarray:
    """The reference result: the pandas call on the same values in float64."""
    return kernel.pandas(frame.astype(np.float64)).to_numpy(dtype=np.float64)


def peer_parity(T: int = 2_000, N: int = 16, nan_fraction: float = 0.2, seed: int = 1) -> dict[str, dict[str, Any]]:
    """Semantics check of the peers against pandas ``ewm(alpha=0.1).mean()`` on data with NaNs.

    For each peer and each pandas ``ignore_na`` the max abs error over positions where both are
    numbers, and how many positions disagree on being NaN. (The sweep's own data has no NaNs, so
    its ``max_abs_err`` column says nothing about missing-value semantics; this does.)
    """
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((T, N))
    values[rng.random(values.shape) < nan_fraction] = np.nan
    values[:5, 0] = np.nan  # a leading gap
    frame = pd.DataFrame(values)
    kernel = _ewm_mean_kernel(alpha=0.1)
    peers: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    if NumbaggRunner.applies(kernel) and NumbaggRunner.unavailable(kernel) is None:
        peers["numbagg"] = kernel.numbagg
    if PolarsRunner.applies(kernel) and PolarsRunner.unavailable(kernel) is None:
        def polars_fn(v: np.ndarray) -> np.ndarray:
            import polars as pl

            return pl.from_numpy(v).select(kernel.polars()).to_numpy()

        peers["polars"] = polars_fn
    for name in sorted(set(wax_runners()) - set(PEERS) - {THREE_STEP}):
        runner = wax_runners()[name]
        if runner.applies(kernel) and runner.unavailable(kernel) is None:
            peers[name] = lambda v, r=runner: np.asarray(r(kernel, pd.DataFrame(v)).end_to_end())
    report: dict[str, dict[str, Any]] = {}
    for name, fn in peers.items():
        out = np.asarray(fn(values), dtype=np.float64)
        for ignore_na in (False, True):
            ref = frame.ewm(alpha=0.1, ignore_na=ignore_na).mean().to_numpy()
            both = ~np.isnan(out) & ~np.isnan(ref)
            report.setdefault(name, {})[f"ignore_na={ignore_na}"] = {
                "max_abs_err": float(np.max(np.abs(out[both] - ref[both]))) if both.any() else float("nan"),
                "nan_mismatches": int(np.sum(np.isnan(out) != np.isnan(ref))),
            }
    return {"data": f"{T}x{N} float64, {nan_fraction:.0%} NaN, alpha=0.1", "peers": report}
