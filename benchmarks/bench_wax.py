"""WAX kernels per backend and stage: ``EWMMean*`` and, for each later kernel, ``<Kernel>*`` classes.

Backends are the sweep's (``waxegg.bench.workloads.wax_runners``): ``copy`` (floor), ``pandas``
(reference), ``numbagg``, ``polars`` (skipped when not installed), ``waxegg-<name>`` for each registered
backend, ``waxegg`` (the accessor, for kernels no backend implements) and the seed's ``wax-3step``.
A backend without a kernel or stage is skipped in ``setup`` (asv shows it as n/a).

The EWM mean runs over every default size in float64 and float32; every other statistic (ewm sum, var,
std, cov, corr; rolling mean, sum, var, std, min, max, median, count, cov, corr) over the largest
default size in float64, to keep the default suite's time in check.
Each class holds one kind of measurement because asv runs every benchmark method in its own process
(and each process pays the setup, compilation included).
"""

from __future__ import annotations

from waxegg.bench import timers
from waxegg.bench.workloads import max_abs_error, wax_reference

from .common import BACKENDS, DTYPES, SIZES, wax_kernels, wax_runner

KERNELS = list(wax_kernels())

# Each timed call here takes 1 ms to 2 s; three to ten samples in at most ~5 s per benchmark, one round.
_TIMING = dict(repeat=(3, 10, 5.0), rounds=1, timeout=300)


class _Base:
    param_names = ["kernel", "size", "dtype", "backend"]
    timeout = 300


class _EndToEnd(_Base):
    """``time_``/``peakmem_`` of the whole call, frame in, frame out (the first call is made in setup)."""

    def setup(self, kernel, size, dtype, backend):
        self.runner = wax_runner(kernel, size, dtype, backend)
        self.runner.end_to_end()

    def time_end_to_end(self, kernel, size, dtype, backend):
        self.runner.end_to_end()

    def peakmem_end_to_end(self, kernel, size, dtype, backend):
        self.runner.end_to_end()


class _Stages(_Base):
    """Steady-state ``encode`` / ``compute`` / ``format`` of backends that have them apart."""

    def setup(self, kernel, size, dtype, backend):
        self.runner = wax_runner(kernel, size, dtype, backend, stages=True)
        for stage in ("encode", "compute", "format"):  # warm each stage (the 3-step compiles after encode)
            self.runner.stage(stage)()

    def time_encode(self, kernel, size, dtype, backend):
        self.runner.encode()

    def time_compute(self, kernel, size, dtype, backend):
        self.runner.compute()

    def time_format(self, kernel, size, dtype, backend):
        self.runner.format()


class _FirstCall(_Base):
    """The first end-to-end call in a fresh process (compilation, or Numba's disk-cache load), and its error."""

    def setup(self, kernel, size, dtype, backend):
        self.runner = wax_runner(kernel, size, dtype, backend)

    def track_first_call(self, kernel, size, dtype, backend):
        return timers.time_once(self.runner.end_to_end, memory=False).seconds

    track_first_call.unit = "seconds"


class _Error(_Base):
    """Max abs error of the end-to-end result vs pandas on the same values in float64."""

    def setup(self, kernel, size, dtype, backend):
        if backend == "copy":
            raise NotImplementedError("the copy has no error to track")
        self.runner = wax_runner(kernel, size, dtype, backend)

    def track_max_abs_err_vs_pandas(self, kernel, size, dtype, backend):
        return max_abs_error(self.runner.end_to_end(), wax_reference(self.runner.kernel, self.runner.frame))

    track_max_abs_err_vs_pandas.unit = "abs error"


def _suite(prefix: str, kernels: list[str], sizes: list[str], dtypes: list[str]) -> dict[str, type]:
    params = (kernels, sizes, dtypes, BACKENDS)
    return {
        f"{prefix}EndToEnd": type(f"{prefix}EndToEnd", (_EndToEnd,), {"params": params, **_TIMING}),
        f"{prefix}Stages": type(f"{prefix}Stages", (_Stages,), {"params": params, **_TIMING}),
        f"{prefix}FirstCall": type(f"{prefix}FirstCall", (_FirstCall,), {"params": params}),
        f"{prefix}Error": type(f"{prefix}Error", (_Error,), {"params": params}),
    }


globals().update(_suite("EWMMean", ["ewm_mean"], SIZES, DTYPES))
if len(KERNELS) > 1:
    globals().update(_suite("LaterKernels", [k for k in KERNELS if k != "ewm_mean"], SIZES[-1:], ["float64"]))
