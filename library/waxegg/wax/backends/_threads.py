"""Running a ``nogil`` Numba kernel over blocks of columns on a few Python threads.

The WAX kernels are plain ``@numba.njit(nogil=True, cache=True)`` loops over a range of columns;
this module splits the columns between threads. Doing the split in Python rather than with
``parallel=True`` / ``prange`` keeps each kernel a small serial function, which compiles in a
fraction of the time (Numba's parfors pass and its gufunc wrapper are most of a parallel
kernel's cold compile), and it needs no Numba threading layer at all, so the WAX kernels run the
same whatever layer the process chose and may be called from several threads (dask) at once.
"""

from __future__ import annotations

import gc
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator

_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0


def num_threads() -> int:
    """Threads the WAX kernels use: ``$WAXEGG_NUM_THREADS``, else ``$NUMBA_NUM_THREADS``, else the usable cores."""
    for var in ("WAXEGG_NUM_THREADS", "NUMBA_NUM_THREADS"):
        value = os.environ.get(var)
        if value:
            try:
                n = int(value)
            except ValueError:
                raise ValueError(f"${var} must be a positive integer, got {value!r}") from None
            if n < 1:
                raise ValueError(f"${var} must be a positive integer, got {value!r}")
            return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _pool(n: int) -> ThreadPoolExecutor:
    global _POOL, _POOL_SIZE
    if _POOL is None or _POOL_SIZE < n:
        _POOL = ThreadPoolExecutor(max_workers=n, thread_name_prefix="waxegg-kernel")
        _POOL_SIZE = n
    return _POOL


def split(n_items: int, n_blocks: int, align: int = 1) -> list[tuple[int, int]]:
    """``n_blocks`` contiguous ranges covering ``0..n_items``, cut at multiples of ``align``, none empty."""
    n_blocks = max(1, min(n_blocks, -(-n_items // max(align, 1))))
    cuts = [0]
    for b in range(1, n_blocks):
        c = (b * n_items // n_blocks + align // 2) // align * align
        cuts.append(min(max(c, cuts[-1]), n_items))
    cuts.append(n_items)
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def run_blocks(fn: Callable[[int, int], object], n_items: int, *, min_items: int = 1, align: int = 1,
               threads: int | None = None) -> list[object]:
    """Call ``fn(j0, j1)`` on contiguous column ranges covering ``0..n_items``, on up to ``threads`` threads.

    ``fn`` must release the GIL (a ``nogil`` Numba function) for the threads to overlap. Ranges hold
    at least ``min_items`` items (so tiny calls run inline, with no thread hand-off) and start at
    multiples of ``align``. Returns the results in range order; an exception in any range is raised.
    """
    threads = num_threads() if threads is None else threads
    blocks = split(n_items, min(threads, max(1, n_items // max(min_items, 1))), align)
    if len(blocks) <= 1:
        return [fn(a, b) for a, b in blocks]
    pool = _pool(len(blocks))
    futures = [pool.submit(fn, a, b) for a, b in blocks[1:]]
    first = fn(*blocks[0])  # this thread takes the first range itself
    return [first] + [f.result() for f in futures]


@contextmanager
def gc_paused_while_compiling(kernel, dtype) -> Iterator[None]:
    """Pause Python's cyclic garbage collector while ``kernel`` (a Numba dispatcher) has no
    specialisation whose first argument has ``dtype`` yet, i.e. while its first call in the process
    compiles it or loads it from the cache; restore the collector's state after.

    Numba's compiler allocates millions of short-lived objects, which set off full collections of
    the whole heap (two of ~0.08 s in a cold ``ewm_var`` beside pandas), about a tenth of a cold
    first call; the compile's garbage is collected by the next collection after it.
    """
    name = getattr(dtype, "name", str(dtype))
    if gc.isenabled() and not any(str(sig[0].dtype) == name for sig in kernel.signatures):
        gc.disable()
        try:
            yield
        finally:
            gc.enable()
    else:
        yield
