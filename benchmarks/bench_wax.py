"""WAX kernels (EWM mean, and every kernel in ``waxegg.bench.workloads.wax_kernels``) per backend and stage.

Backends are the sweep's: ``copy`` (floor), ``pandas`` (reference), ``numbagg``, ``polars`` (skipped
when not installed), ``waxegg-<name>`` for each registered backend, and the seed's ``wax-3step``.
"""

from __future__ import annotations

from waxegg.bench import timers
from waxegg.bench.workloads import max_abs_error, wax_reference

from .common import BACKENDS, DTYPES, SIZES, wax_kernels, wax_runner

KERNELS = list(wax_kernels())


class EndToEnd:
    """``time_``/``peakmem_`` of the whole call (frame in, frame out) and its error vs pandas."""

    params = (KERNELS, SIZES, DTYPES, BACKENDS)
    param_names = ["kernel", "size", "dtype", "backend"]
    timeout = 300

    def setup(self, kernel, size, dtype, backend):
        self.runner = wax_runner(kernel, size, dtype, backend)
        self.runner.end_to_end()  # the first call compiles; asv times steady state

    def time_end_to_end(self, kernel, size, dtype, backend):
        self.runner.end_to_end()

    def peakmem_end_to_end(self, kernel, size, dtype, backend):
        self.runner.end_to_end()

    def track_max_abs_err_vs_pandas(self, kernel, size, dtype, backend):
        if backend == "copy":
            raise NotImplementedError("the copy has no error to track")
        return max_abs_error(self.runner.end_to_end(), wax_reference(self.runner.kernel, self.runner.frame))

    track_max_abs_err_vs_pandas.unit = "abs error"


class Stages:
    """Steady-state ``encode`` / ``compute`` / ``format`` of backends that have them apart."""

    params = (KERNELS, SIZES, DTYPES, BACKENDS)
    param_names = ["kernel", "size", "dtype", "backend"]
    timeout = 300

    def setup(self, kernel, size, dtype, backend):
        self.runner = wax_runner(kernel, size, dtype, backend, stages=True)
        self.runner.end_to_end()
        for stage in ("encode", "compute", "format"):  # warm each stage (the 3-step recompiles after encode)
            self.runner.stage(stage)()

    def time_encode(self, kernel, size, dtype, backend):
        self.runner.encode()

    def time_compute(self, kernel, size, dtype, backend):
        self.runner.compute()

    def time_format(self, kernel, size, dtype, backend):
        self.runner.format()


class FirstCall:
    """The first end-to-end call in a fresh process (compilation, or Numba's disk-cache load)."""

    params = (KERNELS, SIZES, DTYPES, BACKENDS)
    param_names = ["kernel", "size", "dtype", "backend"]
    timeout = 300

    def setup(self, kernel, size, dtype, backend):
        self.runner = wax_runner(kernel, size, dtype, backend)

    def track_first_call(self, kernel, size, dtype, backend):
        return timers.time_once(self.runner.end_to_end, memory=False).seconds

    track_first_call.unit = "seconds"
