"""Loop nests behind the fused kernels of :mod:`waxegg.egg.kernels` (Numba, ``parallel=True``, cached on disk).

They are separate dispatchers, compiled and cached once for all generated programs (the program that calls them
only links them), and run their outer loop with ``prange`` over fixed blocks of ``BLOCK`` rows. Reductions keep one
partial per block and add the partials in block order afterwards, so the result does not depend on the number of
threads or on scheduling: two runs, on one core or two, give the same bits.

Only float64 2-D data reach these loops (the ``@overload`` in ``kernels`` checks the types; any other input runs
the NumPy expression the kernel stands for), and ``error_model="numpy"``: an empty class divides 0 / 0 into NaN as
NumPy does instead of raising.

Outputs of the data's size are allocated by :func:`empty_rows` / :func:`empty_vec`, which ask Linux for
transparent huge pages on them (``madvise(MADV_HUGEPAGE)``), as NumPy does for its own large allocations. Numba's
allocator does not, and with the machine's THP mode ``madvise`` every 4 KB page of a fresh output then faults on
its first write: measured at 1e6 x 10 float64 on 2 cores, ``X / r[:, None]`` took 16 ms in NumPy, 32 ms as a
parallel loop into Numba's ``np.empty``, 7.7 ms into a NumPy-allocated output and 9 ms with the advice.

The pass kernels of ``fuse_passes`` (``sum0`` ... ``center2``) reduce over blocks of :func:`rows_per_block` rows
(a fixed number of elements per block, so a wide matrix such as a kernel matrix still splits into many blocks);
like ``BLOCK`` it depends on the shape only, never on the thread count.
"""

from __future__ import annotations

import sys

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# Rows per block: 16384 x 20 float64 = 2.6 MB, a few per core of L2/L3; fixed so results do not depend on threads.
BLOCK = 1 << 14
TILE = 256

# No nogil: holding the GIL keeps two Python threads from launching parallel loops at once (see kernels).
_jit = numba.njit(parallel=True, cache=True, error_model="numpy")

# Elements per reduction block of the pass kernels (128 K float64 = 1 MB), and the smallest block.
BLOCK_ELEMENTS = 1 << 17
MIN_BLOCK_ROWS = 64

# -- outputs on huge pages ---------------------------------------------------------------------------------------
MADV_HUGEPAGE = 14  # <linux/mman.h>
PAGE = 4096
HUGE_MIN_BYTES = 4 << 20  # below two 2 MB pages there is nothing to gain


@intrinsic
def _madvise(typingctx, addr, length, advice):  # noqa: ANN001, ANN202, ARG001 -- Numba intrinsic
    # libc's madvise by symbol: no ctypes pointer, so callers stay cacheable.
    sig = types.int32(types.uint64, types.uint64, types.int32)

    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202, ARG001
        i8p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.IntType(32), [i8p, ir.IntType(64), ir.IntType(32)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "madvise")
        return builder.call(fn, [builder.inttoptr(args[0], i8p), args[1], args[2]])

    return sig, codegen


if sys.platform.startswith("linux"):

    @numba.njit(cache=True)
    def advise_huge(out):  # noqa: ANN001, ANN201
        """Ask for transparent huge pages on ``out``'s whole pages (before its first write); returns ``out``."""
        nbytes = np.uint64(out.size * out.itemsize)
        if nbytes >= np.uint64(HUGE_MIN_BYTES):
            page = np.uint64(PAGE)
            addr = np.uint64(out.ctypes.data)
            start = (addr + page - np.uint64(1)) // page * page
            stop = (addr + nbytes) // page * page
            if stop > start:
                _madvise(start, stop - start, np.int32(MADV_HUGEPAGE))  # advice only: its result is ignored
        return out

else:

    @numba.njit(cache=True)
    def advise_huge(out):  # noqa: ANN001, ANN201
        return out


@numba.njit(cache=True)
def empty_rows(n, d):  # noqa: ANN001, ANN201
    return advise_huge(np.empty((n, d)))


@numba.njit(cache=True)
def empty_vec(n):  # noqa: ANN001, ANN201
    return advise_huge(np.empty(n))


@numba.njit(cache=True)
def rows_per_block(d):  # noqa: ANN001, ANN201
    return max(MIN_BLOCK_ROWS, BLOCK_ELEMENTS // max(d, 1))


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
    out = empty_rows(offset, d)
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
    f = empty_rows(d, n).T
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
    out = empty_rows(n, p)  # every element is written
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


# -- pass kernels (fuse_passes) ----------------------------------------------------------------------------------
# Row-parallel kernels write each output element once from its own inputs (the same roundings as NumPy's
# element-wise expression); reductions keep per-block partials added in block order.


@_jit
def sum0(a):  # noqa: ANN001, ANN201
    n, d = a.shape
    rb = rows_per_block(d)
    nb = (n + rb - 1) // rb
    part = np.zeros((nb, d))
    for b in numba.prange(nb):
        for i in range(b * rb, min(n, (b + 1) * rb)):
            for j in range(d):
                part[b, j] += a[i, j]
    return sum_blocks(part)


@_jit
def col_row_sums(a):  # noqa: ANN001, ANN201
    # (np.sum(a, axis=0), np.sum(a, axis=1)) in one pass
    n, d = a.shape
    rb = rows_per_block(d)
    nb = (n + rb - 1) // rb
    part = np.zeros((nb, d))
    rows = empty_vec(n)
    for b in numba.prange(nb):
        for i in range(b * rb, min(n, (b + 1) * rb)):
            acc = 0.0
            for j in range(d):
                v = a[i, j]
                part[b, j] += v
                acc += v
            rows[i] = acc
    return sum_blocks(part), rows


@_jit
def dev_sums(a, m):  # noqa: ANN001, ANN201
    # (np.sum(np.square(a - m), axis=0), np.sum(a - m, axis=0)) in one pass, no deviation matrix
    n, d = a.shape
    rb = rows_per_block(d)
    nb = (n + rb - 1) // rb
    sq = np.zeros((nb, d))
    lin = np.zeros((nb, d))
    for b in numba.prange(nb):
        for i in range(b * rb, min(n, (b + 1) * rb)):
            for j in range(d):
                t = a[i, j] - m[j]
                sq[b, j] += t * t
                lin[b, j] += t
    return sum_blocks(sq), sum_blocks(lin)


@_jit
def max_min0(a):  # noqa: ANN001, ANN201
    # (max, min) over axis 0; a NaN, once met, stays (no comparison with it is true), as in np.max / np.min
    n, d = a.shape
    if n == 0:
        raise ValueError("zero-size array to reduction operation maximum which has no identity")
    rb = rows_per_block(d)
    nb = (n + rb - 1) // rb
    hi = np.empty((nb, d))
    lo = np.empty((nb, d))
    for b in numba.prange(nb):
        first = b * rb
        for j in range(d):
            hi[b, j] = a[first, j]
            lo[b, j] = a[first, j]
        for i in range(first + 1, min(n, first + rb)):
            for j in range(d):
                v = a[i, j]
                if v > hi[b, j] or v != v:
                    hi[b, j] = v
                if v < lo[b, j] or v != v:
                    lo[b, j] = v
    top = hi[0].copy()
    bottom = lo[0].copy()
    for b in range(1, nb):
        for j in range(d):
            if hi[b, j] > top[j] or hi[b, j] != hi[b, j]:
                top[j] = hi[b, j]
            if lo[b, j] < bottom[j] or lo[b, j] != lo[b, j]:
                bottom[j] = lo[b, j]
    return top, bottom


@_jit
def max_abs0(a):  # noqa: ANN001, ANN201
    # np.max(np.abs(a), axis=0), NaN propagating
    n, d = a.shape
    if n == 0:
        raise ValueError("zero-size array to reduction operation maximum which has no identity")
    rb = rows_per_block(d)
    nb = (n + rb - 1) // rb
    hi = np.zeros((nb, d))
    for b in numba.prange(nb):
        for i in range(b * rb, min(n, (b + 1) * rb)):
            for j in range(d):
                v = abs(a[i, j])
                if v > hi[b, j] or v != v:
                    hi[b, j] = v
    top = hi[0].copy()
    for b in range(1, nb):
        for j in range(d):
            if hi[b, j] > top[j] or hi[b, j] != hi[b, j]:
                top[j] = hi[b, j]
    return top


@_jit
def row_sumsq(a):  # noqa: ANN001, ANN201
    n, d = a.shape
    out = empty_vec(n)
    rb = rows_per_block(d)
    for b in numba.prange((n + rb - 1) // rb):
        for i in range(b * rb, min(n, (b + 1) * rb)):
            acc = 0.0
            for j in range(d):
                acc += a[i, j] * a[i, j]
            out[i] = acc
    return out


@_jit
def row_abs_sum(a):  # noqa: ANN001, ANN201
    n, d = a.shape
    out = empty_vec(n)
    rb = rows_per_block(d)
    for b in numba.prange((n + rb - 1) // rb):
        for i in range(b * rb, min(n, (b + 1) * rb)):
            acc = 0.0
            for j in range(d):
                acc += abs(a[i, j])
            out[i] = acc
    return out


@_jit
def row_max_abs(a):  # noqa: ANN001, ANN201
    # np.max(np.abs(a), axis=1) for d >= 1 (the caller refuses d == 0), NaN propagating
    n, d = a.shape
    out = empty_vec(n)
    rb = rows_per_block(d)
    for b in numba.prange((n + rb - 1) // rb):
        for i in range(b * rb, min(n, (b + 1) * rb)):
            best = abs(a[i, 0])
            for j in range(1, d):
                v = abs(a[i, j])
                if v > best or v != v:
                    best = v
            out[i] = best
    return out


@_jit
def sub_div(a, m, s):  # noqa: ANN001, ANN201
    # (a - m) / s, m and s per column
    n, d = a.shape
    out = empty_rows(n, d)
    rb = rows_per_block(d)
    for b in numba.prange((n + rb - 1) // rb):
        for i in range(b * rb, min(n, (b + 1) * rb)):
            for j in range(d):
                out[i, j] = (a[i, j] - m[j]) / s[j]
    return out


@_jit
def div_cols(a, s):  # noqa: ANN001, ANN201
    # a / s, s per column
    n, d = a.shape
    out = empty_rows(n, d)
    rb = rows_per_block(d)
    for b in numba.prange((n + rb - 1) // rb):
        for i in range(b * rb, min(n, (b + 1) * rb)):
            for j in range(d):
                out[i, j] = a[i, j] / s[j]
    return out


@_jit
def div_rows(a, r):  # noqa: ANN001, ANN201
    # a / r[:, None], r per row
    n, d = a.shape
    out = empty_rows(n, d)
    rb = rows_per_block(d)
    for b in numba.prange((n + rb - 1) // rb):
        for i in range(b * rb, min(n, (b + 1) * rb)):
            ri = r[i]
            for j in range(d):
                out[i, j] = a[i, j] / ri
    return out


@_jit
def mul_add(a, s, c):  # noqa: ANN001, ANN201
    # a * s + c, s and c per column (two roundings, as NumPy's two statements: no fused multiply-add)
    n, d = a.shape
    out = empty_rows(n, d)
    rb = rows_per_block(d)
    for b in numba.prange((n + rb - 1) // rb):
        for i in range(b * rb, min(n, (b + 1) * rb)):
            for j in range(d):
                out[i, j] = a[i, j] * s[j] + c[j]
    return out


@_jit
def center2(a, c, r, g):  # noqa: ANN001, ANN201
    # ((a - c) - r[:, None]) + g: a kernel matrix centred by its column means c, row means r and grand mean g
    n, d = a.shape
    out = empty_rows(n, d)
    rb = rows_per_block(d)
    for b in numba.prange((n + rb - 1) // rb):
        for i in range(b * rb, min(n, (b + 1) * rb)):
            ri = r[i]
            for j in range(d):
                out[i, j] = ((a[i, j] - c[j]) - ri) + g
    return out


GRAM_TILE = 64  # rows per transposed tile of gram (10 columns: 5 KB, in L1)
GRAM_LANES = 8  # independent partial sums per dot product (they vectorise; one sum would be a latency chain)


@_jit
def gram(a):  # noqa: ANN001, ANN201
    # a.T @ a for a narrow a: each tile of rows transposed into `tmp` (columns contiguous), the upper triangle's
    # dot products in GRAM_LANES lanes, per-block partials added in block order, then mirrored (symmetric bit for
    # bit, as NumPy's syrk). Measured at 1e6 x 10 on 2 cores: 26 ms; Numba's own `a.T @ a` (BLAS gemm) 58 ms,
    # NumPy's (syrk) 13-24 ms.
    n, d = a.shape
    span = GRAM_TILE * MIN_BLOCK_ROWS  # rows per block: a fixed count, so the sums do not depend on threads
    nb = (n + span - 1) // span
    part = np.zeros((nb, d, d))
    for b in numba.prange(nb):
        tmp = np.zeros((d, GRAM_TILE))
        lanes = np.empty(GRAM_LANES)
        for t in range(b * span, min(n, (b + 1) * span), GRAM_TILE):
            rows = min(n, t + GRAM_TILE) - t
            for r in range(rows):
                for j in range(d):
                    tmp[j, r] = a[t + r, j]
            for r in range(rows, GRAM_TILE):  # the last tile's unused rows add zeros
                for j in range(d):
                    tmp[j, r] = 0.0
            for j in range(d):
                for k in range(j, d):
                    lanes[:] = 0.0
                    for r0 in range(0, GRAM_TILE, GRAM_LANES):
                        for u in range(GRAM_LANES):
                            lanes[u] += tmp[j, r0 + u] * tmp[k, r0 + u]
                    part[b, j, k] += lanes.sum()
    g = np.zeros((d, d))
    for b in range(nb):
        for j in range(d):
            for k in range(j, d):
                g[j, k] += part[b, j, k]
    for j in range(d):
        for k in range(j):
            g[j, k] = g[k, j]
    return g


@_jit
def matmul_sub(a, w, c):  # noqa: ANN001, ANN201
    # a @ w - c row by row (c = v @ w, computed by the caller): each output row independent, no (n, p) temporaries
    n, d = a.shape
    p = w.shape[1]
    wt = np.empty((p, d))
    for q in range(p):
        for j in range(d):
            wt[q, j] = w[j, q]
    out = empty_rows(n, p)
    rb = rows_per_block(d)
    for b in numba.prange((n + rb - 1) // rb):
        for i in range(b * rb, min(n, (b + 1) * rb)):
            for q in range(p):
                acc = 0.0
                for j in range(d):
                    acc += a[i, j] * wt[q, j]
                out[i, q] = acc - c[q]
    return out


@_jit
def sub_cols(a, m):  # noqa: ANN001, ANN201
    # a - m, m per column
    n, d = a.shape
    out = empty_rows(n, d)
    rb = rows_per_block(d)
    for b in numba.prange((n + rb - 1) // rb):
        for i in range(b * rb, min(n, (b + 1) * rb)):
            for j in range(d):
                out[i, j] = a[i, j] - m[j]
    return out
