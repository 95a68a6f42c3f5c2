"""Stage 5 -- compile: ``numba.njit`` the generated NumPy function and make the first (compiling) call.

The first call is timed on its own: it includes type inference and LLVM compilation (seconds for LDA), or
loading machine code from Numba's on-disk cache when the same generated module was compiled before
(``cache=True``; the cache sits in ``__pycache__`` next to the generated file).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import numpy as np

__all__ = ["Compiled", "compile_numba"]


@dataclass
class Compiled:
    """Output of :func:`compile_numba`.

    Attributes
    ----------
    fn
        The Numba dispatcher.
    first_call_seconds
        Wall time of the first call on the example arrays (compile or cache load, plus one run).
    cache_hit
        Whether Numba loaded the machine code from its disk cache instead of compiling.
    result
        Output of that first call.
    """

    fn: Callable[..., Any]
    first_call_seconds: float
    cache_hit: bool
    result: np.ndarray = field(repr=False)


def compile_numba(
    fn: Callable[..., Any], *example_arrays: np.ndarray, cache: bool = True, parallel: bool = False
) -> Compiled:
    """Compile ``fn`` with ``numba.njit`` and call it once on ``example_arrays``.

    Parameters
    ----------
    fn
        A plain NumPy function defined in a real file (needed for ``cache=True``).
    *example_arrays
        Arguments for the first call.
    cache
        Use Numba's on-disk cache.
    parallel
        ``numba.njit(parallel=True)``: fuse whole-array expressions into loop nests and run them and the
        reductions on ``numba.config.NUMBA_NUM_THREADS`` threads. Not used by :func:`waxegg.egg.accelerate`
        (see :mod:`waxegg.egg.rewrites`).

    Returns
    -------
    Compiled
    """
    import numba  # noqa: PLC0415 -- importing numba costs ~0.5 s; only pay when compiling

    from waxegg._numba import configure_numba, launch_lock  # noqa: PLC0415

    configure_numba()  # the threading layer is chosen before this first call can launch a parallel loop
    jitted = numba.njit(cache=cache, parallel=parallel)(fn)
    with warnings.catch_warnings():
        # The generated code multiplies transposed (non-contiguous) views with ``@``; Numba warns that this is
        # slower than contiguous input on every compile. It is the expression the rules chose; not actionable here.
        warnings.simplefilter("ignore", numba.NumbaPerformanceWarning)
        start = perf_counter()
        try:
            with launch_lock():
                result = jitted(*example_arrays)
        except Exception as exc:
            exc.add_note(f"while compiling the generated function {getattr(fn, '__name__', fn)!r} with numba.njit")
            raise
        elapsed = perf_counter() - start
    stats = getattr(jitted, "stats", None)
    cache_hit = bool(stats is not None and sum(stats.cache_hits.values()) > 0)
    return Compiled(fn=jitted, first_call_seconds=elapsed, cache_hit=cache_hit, result=result)
