"""Host arrays in the form JAX takes without copying them again: row-major, 64-byte aligned.

``jax.device_put`` of a NumPy array copies it through XLA: 2.7x the CPU time of ``x.copy()`` for a
row-major 800 MB float64 array and more for a column-major one (it transposes element by element),
measured at T=1e5 x N=1000 on the 2-core machine. JAX can instead adopt a buffer through DLPack without
a copy when it is row-major and aligned to 64 bytes. :func:`to_jax` therefore makes one copy itself,
into an aligned row-major buffer that nothing else references, and hands that buffer over:

- a row-major input: one plain copy (``np.copyto``);
- a 2-D column-major float32 / float64 input (what pandas 3 stores for ``pd.DataFrame(values)``): one
  pass of 8 x 8 block transposes in registers (:func:`waxegg.wax.backends._simd.transpose_block`, as the
  column-major kernels do), an 8-row strip at a time (:func:`transpose_to_rows`): 1.3-1.5x a copy, where
  ``np.ascontiguousarray`` takes 1.9-2.5x;
- anything else (other dtypes or layouts, dtypes DLPack lacks): ``jax.device_put`` as before.

The copy is what keeps JAX's arrays immutable: the caller's array may change later, the adopted buffer
cannot (JAX holds the only reference).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from waxegg.wax.backends._simd import BLOCK as _B
from waxegg.wax.backends._simd import transpose_block
from waxegg.wax.backends._threads import run_blocks

__all__ = ["ALIGN", "aligned_empty", "row_major_copy", "to_jax", "transpose_to_rows"]

#: XLA's CPU client adopts host buffers aligned to this many bytes.
ALIGN = 64


def aligned_empty(shape: tuple[int, ...], dtype: Any, align: int = ALIGN) -> np.ndarray:
    """An uninitialised row-major array whose data starts on an ``align``-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + align, dtype=np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + nbytes].view(dtype).reshape(shape)


@numba.njit(nogil=True, cache=True)
def transpose_to_rows(src, T, N, dst, t0, t1):  # pragma: no cover (compiled)
    """Rows ``t0:t1`` of ``dst`` (row-major ``T x N``, flat) from ``src`` (column-major ``T x N``, flat:
    ``(t, j)`` at ``j * T + t``); ``t0`` a multiple of 8.

    An 8-row strip at a time across all columns, in 8 x 8 blocks: the strip's rows are written in
    order and each column is read 64 bytes at a time, where it left off (1.3-1.5x a plain copy at
    T=1e5 x N=1000; 8-column strips down the rows, or square tiles, were 2-2.5x: every row they write
    is on another page). A ragged last strip or block is shifted back to end at the edge, so it copies a
    few elements twice, with the same values; arrays under 8 x 8 go element by element. Returns the
    path taken: ``(blocks, shifted blocks)``, ``(0, 0)`` element by element.
    """
    if T < _B or N < _B:
        for r in range(t0, t1):
            for j in range(N):
                dst[r * N + j] = src[j * T + r]
        return 0, 0
    blocks = shifted = 0
    for tb in range(t0, t1, _B):
        t = min(tb, T - _B)  # a ragged last strip is shifted back to end at the edge (rewrites equal values)
        for jb in range(0, N, _B):
            j = min(jb, N - _B)
            shifted += (t != tb) | (j != jb)
            blocks += 1
            transpose_block(src, j * T + t, T, dst, t * N + j, N)
    return blocks, shifted


#: Rows per thread at least this many elements' worth (smaller copies run on the calling thread).
_MIN_THREAD_ELEMENTS = 1 << 18


def row_major_copy(a: np.ndarray) -> np.ndarray:
    """A row-major, :data:`ALIGN`-byte aligned copy of ``a`` in native byte order (a 2-D column-major float
    array by block transposes, its rows split between the kernel threads)."""
    a = np.asarray(a)
    out = aligned_empty(a.shape, a.dtype.newbyteorder("="))  # native byte order (JAX takes no other)
    if (a.ndim == 2 and a.dtype in (np.float32, np.float64) and a.flags.f_contiguous and not a.flags.c_contiguous
            and a.size):
        (T, N), src, dst = a.shape, a.ravel(order="F"), out.reshape(-1)
        run_blocks(lambda t0, t1: transpose_to_rows(src, T, N, dst, t0, t1), T, align=_B,
                   min_items=max(_B, _MIN_THREAD_ELEMENTS // N))
    else:
        np.copyto(out, a)
    return out


def _adoptable(a: np.ndarray) -> bool:
    # DLPack carries bool, signed / unsigned integers, floats and complex; not datetimes, objects, strings
    return a.dtype.kind in "biufc"


def to_jax(a: Any) -> Any:
    """``a`` on the default JAX device: NumPy arrays through one copy of our own (see the module docstring)."""
    import jax
    import jax.numpy as jnp

    if not isinstance(a, np.ndarray) or not _adoptable(a) or a.ndim == 0:
        return jax.device_put(a)
    return jnp.from_dlpack(row_major_copy(a), copy=False)
