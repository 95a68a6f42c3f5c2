"""Loop nests behind the fused kernels of :mod:`waxegg.egg.kernels` (Numba, ``parallel=True``, cached on disk).

They are separate dispatchers, compiled and cached once for all generated programs (the program that calls them
only links them), and run their outer loop with ``prange`` over fixed blocks of ``BLOCK`` rows. Reductions keep one
partial per block and add the partials in block order afterwards, so the result does not depend on the number of
threads or on scheduling: two runs, on one core or two, give the same bits.

Only float64 2-D data reach these loops (the ``@overload`` in ``kernels`` checks the types; any other input runs
the NumPy expression the kernel stands for), and ``error_model="numpy"``: an empty class divides 0 / 0 into NaN as
NumPy does instead of raising.
"""

from __future__ import annotations

import numba
import numpy as np

# Rows per block: 16384 x 20 float64 = 2.6 MB, a few per core of L2/L3; fixed so results do not depend on threads.
BLOCK = 1 << 14
TILE = 256

# No nogil: holding the GIL keeps two Python threads from launching parallel loops at once (see kernels).
_jit = numba.njit(parallel=True, cache=True, error_model="numpy")


@numba.njit(cache=True)
def n_blocks(n):  # noqa: ANN001, ANN201 -- Numba kernel
    return (n + BLOCK - 1) // BLOCK


@numba.njit(cache=True)
def sum_blocks(part):  # noqa: ANN001, ANN201
    # The per-block partials added in block order (one thread): the same bits for any thread count.
    total = np.zeros(part.shape[1])
    for b in range(part.shape[0]):
        for j in range(part.shape[1]):
            total[j] += part[b, j]
    return total


@_jit
def masked_mean(x, m):  # noqa: ANN001, ANN201
    n, d = x.shape
    nb = n_blocks(n)
    part = np.zeros((nb, d))
    cnt = np.zeros(nb, dtype=np.int64)
    for b in numba.prange(nb):
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            if m[i]:
                cnt[b] += 1
                for j in range(d):
                    part[b, j] += x[i, j]
    return sum_blocks(part) / cnt.sum()


@_jit
def masked_concat_sub(x, masks, rows):  # noqa: ANN001, ANN201
    # np.concatenate([x[masks[c]] - rows[c] for c in range(k)]): class c's rows in input order, class after class.
    k, n = masks.shape
    d = x.shape[1]
    nb = n_blocks(n)
    counts = np.zeros((nb, k), dtype=np.int64)
    for b in numba.prange(nb):
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            for c in range(k):
                if masks[c, i]:
                    counts[b, c] += 1
    start = np.empty((nb, k), dtype=np.int64)
    offset = 0
    for c in range(k):
        for b in range(nb):
            start[b, c] = offset
            offset += counts[b, c]
    out = np.empty((offset, d))
    for b in numba.prange(nb):
        pos = start[b].copy()
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            for c in range(k):
                if masks[c, i]:
                    p = pos[c]
                    for j in range(d):
                        out[p, j] = x[i, j] - rows[c, j]
                    pos[c] = p + 1
    return out


@_jit
def mean0(a):  # noqa: ANN001, ANN201
    n, d = a.shape
    nb = n_blocks(n)
    part = np.zeros((nb, d))
    for b in numba.prange(nb):
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            for j in range(d):
                part[b, j] += a[i, j]
    return sum_blocks(part) / n


@_jit
def mean_sq_dev(a, m):  # noqa: ANN001, ANN201
    n, d = a.shape
    nb = n_blocks(n)
    part = np.zeros((nb, d))
    for b in numba.prange(nb):
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            for j in range(d):
                t = a[i, j] - m[j]
                part[b, j] += t * t
    return sum_blocks(part) / n


@_jit
def scaled_fortran(a, s, c):  # noqa: ANN001, ANN201
    # c * (a / s) -- the same two roundings per element as NumPy's `c * (a / s)` -- written column-major, the
    # layout LAPACK's QR overwrites in place (saves the copy `qr_r` would make).
    # Tiles of TILE rows (40 KB at d = 20, in L1/L2): scaled along the rows (unit stride, so the divisions
    # vectorise), then transposed into the columns. Measured at 1e6 x 20: 0.117 s dividing column by column in
    # tiles, 0.136 s without tiles.
    n, d = a.shape
    f = np.empty((d, n)).T
    for b in numba.prange(n_blocks(n)):
        stop = min(n, (b + 1) * BLOCK)
        tmp = np.empty((TILE, d))
        for t in range(b * BLOCK, stop, TILE):
            rows = min(stop, t + TILE) - t
            for r in range(rows):
                for j in range(d):
                    tmp[r, j] = c * (a[t + r, j] / s[j])
            for j in range(d):
                for r in range(rows):
                    f[t + r, j] = tmp[r, j]
    return f


@_jit
def sub_matmul(x, v, w):  # noqa: ANN001, ANN201
    # (x - v) @ w row by row: each output row is independent, so parallel rows need no reduction.
    n, d = x.shape
    p = w.shape[1]
    out = np.zeros((n, p))
    for b in numba.prange(n_blocks(n)):
        t = np.empty(d)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            for j in range(d):
                t[j] = x[i, j] - v[j]
            for q in range(p):
                acc = 0.0
                for j in range(d):
                    acc += t[j] * w[j, q]
                out[i, q] = acc
    return out


@_jit
def all_finite(x):  # noqa: ANN001, ANN201
    n, d = x.shape
    nb = n_blocks(n)
    bad = np.zeros(nb, dtype=np.bool_)
    for b in numba.prange(nb):
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            for j in range(d):
                if not np.isfinite(x[i, j]):
                    bad[b] = True
    return not bad.any()


@_jit
def same_value_set(y, values):  # noqa: ANN001, ANN201
    # set(np.unique(y)) == set(values) without sorting: every y in values, every value seen.
    n = y.shape[0]
    k = values.shape[0]
    nb = n_blocks(n)
    seen = np.zeros((nb, k), dtype=np.bool_)
    stray = np.zeros(nb, dtype=np.bool_)
    for b in numba.prange(nb):
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            found = False
            for c in range(k):
                if y[i] == values[c]:
                    seen[b, c] = True
                    found = True
            if not found:
                stray[b] = True
    if stray.any():
        return False
    for c in range(k):
        if not seen[:, c].any():
            return False
    return True
