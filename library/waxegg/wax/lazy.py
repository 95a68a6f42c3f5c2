"""Window kernels on dask arrays: time chunks chained through the kernel's state, lazily.

A window statistic is a scan over time, so a dask array chunked along time is computed chunk after
chunk, each starting from the state the previous chunk's kernel returned; chunks of the other
dimensions are independent chains that dask runs in parallel. The backend's own kernels do the
work (the Numba kernels by default): nothing falls back to another path. The result equals the
one-shot kernel on the whole array bit for bit, because a backend's kernels continue from a state
exactly (see :mod:`waxegg.wax.backends`).
"""

from __future__ import annotations

import itertools
import operator
from typing import Any, Callable, Sequence

import numpy as np

#: ``kernel(*blocks, state) -> (out, state)`` on NumPy blocks (time first).
StatefulKernel = Callable[..., tuple[np.ndarray, Any]]


def _call(kernel: StatefulKernel, state: Any, *blocks: np.ndarray) -> tuple[np.ndarray, Any]:
    return kernel(*[np.asarray(b) for b in blocks], state)


def chain_time_chunks(kernel: StatefulKernel, arrays: Sequence[Any], *, dtype: np.dtype,
                      stateful: bool = True) -> Any:
    """``kernel`` over dask ``arrays`` (same shape, time on axis 0), lazily; a dask array of ``dtype``.

    With ``stateful``, time chunks are chained through the returned state; otherwise (a kernel
    that cannot continue from a state, e.g. centred or offset windows) time is rechunked into one
    chunk first, so each block holds the whole time axis.
    """
    import dask
    import dask.array as da

    first = arrays[0]
    if not stateful:
        first = first.rechunk({0: -1})
    arrays = [first] + [a.rechunk(first.chunks) for a in arrays[1:]]
    chunks = first.chunks
    grid = np.empty(tuple(len(c) for c in chunks), dtype=object)
    for rest in itertools.product(*[range(len(c)) for c in chunks[1:]]):
        state = None
        for it in range(len(chunks[0])):
            index = (it,) + rest
            blocks = [a.blocks[index] for a in arrays]
            result = dask.delayed(_call, pure=True)(kernel, state, *blocks)
            state = dask.delayed(operator.getitem, pure=True)(result, 1)
            out = dask.delayed(operator.getitem, pure=True)(result, 0)
            shape = tuple(c[i] for c, i in zip(chunks, index))
            grid[index] = da.from_delayed(out, shape=shape, dtype=dtype)
    return da.block(grid.tolist())
