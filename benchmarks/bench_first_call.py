"""First calls as users meet them: every statistic's first call in fresh processes, cold and warm, beside numbagg.

``cold``: a fresh process with empty ``NUMBA_CACHE_DIR`` / ``WAXEGG_CACHE_DIR`` (a new environment pays
the compilation); ``warm``: a second fresh process over the caches the cold one filled. T=1e4 x N=100
float64, column-major frame (:mod:`waxegg.bench.first_call`, the repro's table). The cases run once, in
``setup_cache`` (each in its own processes, interleaved), and the ``track_`` methods report them, so the
suite pays each compilation once.
"""

from __future__ import annotations

from waxegg.bench.first_call import NUMBAGG, SYSTEMS, measure_first_calls
from waxegg.wax.backends._base import KERNELS


class FirstCall:
    """Seconds of the first call (imports apart); ``n/a`` where a system has no such statistic."""

    params = (list(KERNELS), list(SYSTEMS))
    param_names = ["kernel", "system"]
    # 16 statistics + 12 numbagg counterparts + the 3-step workflow, two fresh processes each
    timeout = 1800

    def setup_cache(self):
        rows = measure_first_calls(KERNELS)
        return {(r["kernel"], r["system"], r["run"]): r["call_s"] for r in rows}

    def _get(self, cache, kernel, system, run):
        key = (kernel, system, run)
        if key not in cache:
            raise NotImplementedError(f"{system} has no first call of {kernel}")
        return cache[key]

    def setup(self, cache, kernel, system):
        if system == "numbagg" and kernel not in NUMBAGG or system == "wax-3step" and kernel != "ewm_mean":
            raise NotImplementedError(f"{system} has no {kernel}")

    def track_cold(self, cache, kernel, system):
        return self._get(cache, kernel, system, "cold")

    def track_warm(self, cache, kernel, system):
        return self._get(cache, kernel, system, "warm")

    track_cold.unit = "seconds"
    track_warm.unit = "seconds"
