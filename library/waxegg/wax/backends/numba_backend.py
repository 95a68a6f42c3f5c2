"""The Numba backend: compiled, vectorised EWM loops, columns split between threads.

Why this shape (measured on this 2-core AVX-512 machine, T=1e5 x N=1000 float64, ratios to a plain
copy taken in the same run; the machine was shared, so see the benchmark suite for current numbers):

- ``error_model="numpy"``: with Numba's default (Python) error model every division carries a
  ZeroDivisionError check, which stops LLVM from vectorising the loop; the numpy model (IEEE
  inf/nan, what pandas' C loop produces too) lets it emit ``vdivpd zmm``: ~4 ns -> ~1 ns per element.
- The update is branch-free (selects, no short-circuit ``and``/``or``) so that it vectorises.
- ``blended * (1 / (old_wt + new_wt))`` instead of pandas' division: the reciprocal depends on the
  weights only, so the divide leaves the loop-carried dependency through the mean (2.8x -> 2.0x the
  copy). It differs from pandas' rounding by at most an ulp per step, and the recursion contracts
  errors, so results stay within 1e-12 of pandas (tested).
- The state and arithmetic use the data's dtype: float32 runs 16 lanes wide on half the bytes.
- Steady state: once a column's weights reach their floating-point fixed point (a few hundred
  steps for common alphas) and while no value is missing, pandas' recursion is
  ``y = (1 - alpha) * y + alpha * x``. Column-major input (what pandas 3 builds from a 2-D array:
  its block is ``(N, T)``) is then scanned down each contiguous column one SIMD register at a time
  (``_simd.scan_register``: a prefix scan inside the register, one FMA on the loop-carried path
  per 8 float64 / 16 float32 steps): 0.8x the copy for both dtypes at T=1e5 x N=1000 and 1e6 x 100,
  where transposing tiles for the exact update had cost 1.4-1.6x (float64) and 2.0-2.3x (float32).
  Row-major input takes the plain update across each row (no division, no selects).
- Everything else -- the first steps, columns with missing values or infs in a tile, min_periods
  not reached -- runs the exact recursion, and a fast tile that meets a NaN or inf (it propagates
  to the column's last value) is redone exactly from its saved state. Row-major: time loop outside,
  columns inside (contiguous rows, state of a column block in L1). Column-major: up to 7 columns
  of a tile one by one down the column; more are transposed in tiles (``_TILES``) into a small
  buffer, in 8 x 8 blocks that LLVM turns into register shuffles, and run the row-major update.
- Each thread owns a contiguous block of columns and first-touches its part of the fresh output,
  so page faults are spread over the threads.
- ``cache=True`` keeps the machine code on disk: only the first process ever compiles.
"""

from __future__ import annotations

import threading

import numba
import numpy as np

from waxegg.wax._params import EWMParams
from waxegg.wax.backends import _simd, register_backend
from waxegg.wax.backends._base import Backend

_JIT = dict(nogil=True, cache=True, error_model="numpy")

# One parallel launch at a time. The kernel already uses every Numba thread, so concurrent calls
# (dask's threaded scheduler runs one per block) gain nothing, and Numba's workqueue threading
# layer -- which waxegg.egg selects to keep OpenMP's spinning threads off LAPACK -- aborts the
# process on concurrent launches.
_LAUNCH = threading.Lock()

#: Tiles (steps, columns) of a column-major input transposed at once, by dtype: the best of 256..8192
#: steps x 16..64 columns measured at T=1e5 x N=1000 and T=1e6 x N=100 on 2 cores. Long runs down
#: each column matter more than fitting the buffers in L2 (float64: 512 x 64 -> 4096 x 32 took the
#: compute from ~1.6x to ~1.4x a plain copy at 1e6 x 100); float32 is ~2x its (half as long) copy
#: for every shape tried. Scalar transposition had been the float32 bottleneck (3.0x).
_TILES = {np.dtype(np.float64): (4096, 32), np.dtype(np.float32): (1024, 32)}
#: Side of the square blocks a full tile is transposed in; a constant, so LLVM unrolls the block and
#: turns its loads and stores into in-register vector shuffles (scalar transposition was ~2x the copy).
_MICRO = 8
#: Steps in the first tile of a column-major input (the rest are _TILES long).
_FIRST_TILE = 512
#: Rows of a row-major input taken at a time: a block is redone exactly when the fast affine update
#: meets a NaN in it, so it should still be in cache then (512 rows x 500 float64 columns: 2 MB).
_ROWS = 512
#: Row-major input gets one thread per this many bytes of a row (rounded). Two threads each taking
#: half of every row of T=1e6 x N=100 were slower than one (float64 1.5x vs 1.1x the copy, float32
#: 2.2x vs 1.1x); they gain from 8000-byte rows on (1e5 x 1000 float64: 1.16x -> 1.02x).
_ROW_BYTES_PER_THREAD = 4096
#: Row-major column ranges given to threads start at multiples of this many columns (a 64-byte line
#: of float32).
_SPLIT = 16


@numba.njit(inline="always", **_JIT)
def _ewm_update(cur, w, ow, n, old_wt_factor, new_wt, one, adjust, decay_on_missing, half_blend):  # pragma: no cover
    """One step of pandas' ``ewm`` (normalize=True) recursion for one column, branch-free.

    Every float here has the data's dtype (``one`` is 1 in it): no float64 literal may promote a
    float32 loop, which would halve its SIMD width.
    """
    is_obs = cur - cur == 0  # finite: pandas treats inf as missing in window ops
    has_mean = w == w
    decay = has_mean & (is_obs | decay_on_missing)
    ow = ow * old_wt_factor if decay else ow
    update = has_mean & is_obs
    if half_blend:  # pandas' rule at adjust=False, alpha=0.5 (see _params.pandas_half_alpha_blend)
        blended = ow * w + (one - ow) * cur
    else:
        blended = (ow * w + new_wt * cur) * (one / (ow + new_wt))
    # pandas skips the blend when the value equals the mean (keeps constant series exact)
    w_new = blended if update & (w != cur) else w
    if adjust:
        ow = ow + new_wt if update else ow
    else:
        ow = one if update else ow
    w_new = cur if (~has_mean) & is_obs else w_new
    return w_new, ow, n + is_obs


@numba.njit(**_JIT)
def _ewm_rows(rows, orows, t0, t1, j0, j1, weighted, old_wt, nobs, old_wt_factor, new_wt, one, adjust,
              decay_on_missing, half_blend, minp):  # pragma: no cover
    """Run the exact update over ``rows[t0:t1, j0:j1]`` (row-major), writing ``orows``.

    ``rows``/``orows`` are C-contiguous so that ``rows[t, j0:j1]`` is a unit-stride slice LLVM
    vectorises without runtime stride checks (an 'A'-layout version measured ~2.5x slower).
    """
    width = j1 - j0
    nan = (one - one) / (one - one)  # NaN in the data's dtype (np.nan would be a float64)
    for t in range(t0, t1):
        row = rows[t, j0:j1]
        orow = orows[t, j0:j1]
        for k in range(width):
            w, ow, n = _ewm_update(row[k], weighted[k], old_wt[k], nobs[k],
                                   old_wt_factor, new_wt, one, adjust, decay_on_missing, half_blend)
            weighted[k] = w
            old_wt[k] = ow
            nobs[k] = n
            orow[k] = w if n >= minp else nan


@numba.njit(inline="always", **_JIT)
def _steady(w, ow, n, old_wt_factor, new_wt, one, adjust, minp):  # pragma: no cover
    """Whether a column's recursion has become ``y = y + alpha * (x - y)``.

    A column is steady once its weight is at its floating-point fixed point (adjust: ``ow * f + 1
    == ow``, reached after about -36 / log10(1 - alpha) steps in float64; otherwise ``ow == 1``
    after any observation), its mean is finite and ``min_periods`` is reached: from then on, while
    no value is missing, every step of pandas' recursion is that update (to ~1e-16 in float64).
    The fast paths take ``alpha`` itself as the weight of the new value, rather than a weight
    derived from ``ow`` in the data's dtype: in float32 the fixed point ``ow`` stalls ~1e-5 away
    from ``1 / alpha`` at com=200, and a rounded ``1 - alpha`` carries a relative error of
    ``eps / alpha`` into alpha.
    """
    if not (w - w == 0) or n < minp:
        return False
    if adjust:
        return ow * old_wt_factor + new_wt == ow
    return ow == one


@numba.njit(inline="always", **_JIT)
def _affine_rows(rows, orows, t0, t1, j0, j1, weighted, alpha):  # pragma: no cover
    """``y = y + alpha * (x - y)`` over ``rows[t0:t1, j0:j1]`` (state index 0 is column ``j0``).

    A NaN or inf anywhere in a column propagates to its last mean, so the final means tell which
    columns must be redone exactly.
    """
    width = j1 - j0
    for t in range(t0, t1):
        row = rows[t, j0:j1]
        orow = orows[t, j0:j1]
        for k in range(width):
            w = weighted[k] + alpha * (row[k] - weighted[k])
            weighted[k] = w
            orow[k] = w


@numba.njit(inline="always", **_JIT)
def _ewm_column(src, dst, i, n, stride, k, weighted, old_wt, nobs, old_wt_factor, new_wt, one, adjust,
                decay_on_missing, half_blend, minp):  # pragma: no cover
    """The exact update down one column, ``n`` steps of flat ``src`` from ``i`` by ``stride`` (state at ``k``).

    Returns whether every step was an observation.
    """
    nan = (one - one) / (one - one)
    w, ow, cnt = weighted[k], old_wt[k], nobs[k]
    for m in range(n):
        w, ow, cnt = _ewm_update(src[i + m * stride], w, ow, cnt, old_wt_factor, new_wt, one, adjust,
                                 decay_on_missing, half_blend)
        dst[i + m * stride] = w if cnt >= minp else nan
    complete = cnt - nobs[k] == n
    weighted[k], old_wt[k], nobs[k] = w, ow, cnt
    return complete


@numba.njit(**_JIT)
def _ewm_block_rowmajor(values, out, j0, j1, old_wt_factor, new_wt, one, adjust, ignore_na, half_blend, minp,
                        tile_t, fast, alpha):  # pragma: no cover
    """Columns ``j0:j1`` of a row-major ``values``, ``tile_t`` rows at a time.

    In a block of rows, each run of adjacent columns that are steady (``_steady``) and had no
    missing value in the previous block takes the plain affine update across the rows (``fast``: no
    division, no selects); the other runs take the exact update. A column of a fast run whose last
    mean comes out NaN or inf had a missing value in the block: it is redone from its saved mean
    with the exact update, down the (still cached) block. Returns the number of elements done fast.
    """
    width = j1 - j0
    T, N = values.shape
    src = values.reshape(values.size)  # flat views
    dst = out.reshape(out.size)
    weighted = np.full(width, np.nan, dtype=values.dtype)
    old_wt = np.ones(width, dtype=values.dtype)
    nobs = np.zeros(width, dtype=np.int64)
    before = np.empty(width, dtype=np.int64)
    saved = np.empty(width, dtype=values.dtype)
    ready = np.empty(width, dtype=np.bool_)
    complete = np.ones(width, dtype=np.bool_)  # the column's last block had no missing value
    done_fast = 0
    for t0 in range(0, T, tile_t):
        t1 = min(T, t0 + tile_t)
        for k in range(width):
            ready[k] = fast and complete[k] and _steady(weighted[k], old_wt[k], nobs[k], old_wt_factor, new_wt, one,
                                                        adjust, minp)
        k = 0
        while k < width:
            e = k + 1
            while e < width and ready[e] == ready[k]:
                e += 1
            if ready[k]:
                saved[k:e] = weighted[k:e]
                _affine_rows(values, out, t0, t1, j0 + k, j0 + e, weighted[k:e], alpha)
                for q in range(k, e):
                    if weighted[q] - weighted[q] == 0:
                        nobs[q] += t1 - t0
                        done_fast += t1 - t0
                    else:  # a NaN or inf in this column: redo it exactly, down the (cached) block
                        weighted[q] = saved[q]
                        complete[q] = _ewm_column(src, dst, t0 * N + j0 + q, t1 - t0, N, q, weighted, old_wt, nobs,
                                                  old_wt_factor, new_wt, one, adjust, not ignore_na, half_blend, minp)
            else:
                before[k:e] = nobs[k:e]
                _ewm_rows(values, out, t0, t1, j0 + k, j0 + e, weighted[k:e], old_wt[k:e], nobs[k:e],
                          old_wt_factor, new_wt, one, adjust, not ignore_na, half_blend, minp)
                for q in range(k, e):
                    complete[q] = nobs[q] - before[q] == t1 - t0
            k = e
    return done_fast


@numba.njit(inline="always", **_JIT)
def _transpose_blocks(big, t0, g0, small, n_t, width, into_small):  # pragma: no cover
    """Copy ``big[t0:t0+n_t, g0:g0+width]`` (column-major) to or from ``small[:n_t, :width]`` (row-major).

    In 8 x 8 blocks with constant bounds, which LLVM transposes in registers with vector shuffles
    (element by element this was ~2x the time of a plain copy). A ragged edge is covered by one more
    block shifted back to end at the edge: it copies some elements twice, with the same values.
    A tile narrower or shorter than a block is copied element by element.
    """
    if width < _MICRO or n_t < _MICRO:
        for g in range(width):
            for i in range(n_t):
                if into_small:
                    small[i, g] = big[t0 + i, g0 + g]
                else:
                    big[t0 + i, g0 + g] = small[i, g]
        return
    for gb in range(0, width, _MICRO):
        g = min(gb, width - _MICRO)
        for ib in range(0, n_t, _MICRO):
            i = min(ib, n_t - _MICRO)
            if into_small:
                for a in range(_MICRO):
                    for c in range(_MICRO):
                        small[i + a, g + c] = big[t0 + i + a, g0 + g + c]
            else:
                for a in range(_MICRO):
                    for c in range(_MICRO):
                        big[t0 + i + a, g0 + g + c] = small[i + a, g + c]


@numba.njit(inline="always", **_JIT)
def _scan_segment(src, dst, i, n, y, decay, alpha):  # pragma: no cover
    """``y = (1 - alpha) * y + alpha * x`` over flat, contiguous ``src[i:i+n]`` into ``dst``; returns the last ``y``.

    ``decay`` is ``1 - alpha`` in float64 (see ``_simd``).

    Whole registers through the vector scan, the rest one by one. Any NaN or inf in the segment makes
    the returned value non-finite (NaN propagates through every later carry), which is how the caller
    knows to redo the segment with the exact recursion.
    """
    step = _simd.REGISTER_BYTES // src.itemsize
    end = i + n
    while i + step <= end:
        y = _simd.scan_register(src, dst, i, y, decay, alpha)
        i += step
    while i < end:
        y = y + alpha * (src[i] - y)
        dst[i] = y
        i += 1
    return y


@numba.njit(**_JIT)
def _ewm_block_colmajor(values, out, j0, j1, old_wt_factor, new_wt, one, adjust, ignore_na, half_blend, minp,
                        tile_t, tile_n, fast, alpha, decay):  # pragma: no cover
    """Columns ``j0:j1`` of a column-major ``values``, in tiles of ``tile_t`` steps x ``tile_n`` columns.

    In a tile, each steady column (see ``_steady``) whose previous tile had no missing value is
    scanned down its contiguous memory with the vector scan (``fast``); a column whose last value
    comes out non-finite (a NaN or inf in the tile) joins the other columns for the exact recursion.
    Up to 7 such columns run it one by one down the column; from 8 on, the whole tile is done the
    exact way: transposed into a row-major buffer in 8 x 8 register blocks, updated with the same
    vectorised loop as row-major input, transposed back. Returns the number of elements scanned.
    """
    T = values.shape[0]
    src = values.T.reshape(values.size)  # flat views, column after column
    dst = out.T.reshape(out.size)
    # A group of fewer than 8 columns left at the end joins the group before it (up to
    # tile_n + 7 columns), so that every group of 8 or more columns is transposed in blocks.
    cap = tile_n + _MICRO
    buf = np.empty((tile_t, cap), dtype=values.dtype)
    obuf = np.empty((tile_t, cap), dtype=values.dtype)
    weighted = np.empty(cap, dtype=values.dtype)
    old_wt = np.empty(cap, dtype=values.dtype)
    nobs = np.empty(cap, dtype=np.int64)
    before = np.empty(cap, dtype=np.int64)
    ends = np.empty(cap, dtype=values.dtype)
    ready = np.empty(cap, dtype=np.bool_)     # steady and complete: try the scan
    complete = np.empty(cap, dtype=np.bool_)  # the column's last tile had no missing value
    scanned = 0
    for g0 in range(j0, j1, tile_n):
        if g0 > j0 and j1 - g0 < _MICRO:
            break  # taken by the group before
        width = min(j1, g0 + tile_n) - g0
        if j1 - (g0 + width) < _MICRO:
            width = j1 - g0
        weighted[:] = np.nan
        old_wt[:] = 1.0
        nobs[:] = 0
        complete[:] = True
        t0 = 0
        while t0 < T:
            # a short first tile: the weights settle within it for common alphas (~330 steps at 0.1)
            n_t = min(T, t0 + (min(tile_t, _FIRST_TILE) if t0 == 0 else tile_t)) - t0
            n_exact = 0
            for k in range(width):
                ready[k] = fast and complete[k] and _steady(weighted[k], old_wt[k], nobs[k], old_wt_factor, new_wt,
                                                            one, adjust, minp)
                n_exact += not ready[k]
            if n_exact < _MICRO:
                for k in range(width):
                    if ready[k]:
                        last = _scan_segment(src, dst, (g0 + k) * T + t0, n_t, weighted[k], decay, alpha)
                        ends[k] = last
                        if not (last - last == 0):
                            ready[k] = False
                            n_exact += 1
                            if n_exact == _MICRO:
                                break
            if n_exact < _MICRO:  # commit the scans, then the few other columns one by one
                for k in range(width):
                    if ready[k]:
                        weighted[k] = ends[k]
                        nobs[k] += n_t
                        scanned += n_t
                    else:
                        complete[k] = _ewm_column(src, dst, (g0 + k) * T + t0, n_t, 1, k, weighted, old_wt, nobs,
                                                  old_wt_factor, new_wt, one, adjust, not ignore_na, half_blend, minp)
            else:  # the whole tile, exactly, from the state at its start
                before[:] = nobs
                _transpose_blocks(values, t0, g0, buf, n_t, width, True)
                _ewm_rows(buf, obuf, 0, n_t, 0, width, weighted, old_wt, nobs,
                          old_wt_factor, new_wt, one, adjust, not ignore_na, half_blend, minp)
                _transpose_blocks(out, t0, g0, obuf, n_t, width, False)
                for k in range(width):
                    complete[k] = nobs[k] - before[k] == n_t
            t0 += n_t
    return scanned


@numba.njit(inline="always", **_JIT)
def _column_range(b, N, nblocks, split):  # pragma: no cover
    """Thread ``b``'s contiguous range of about ``N / nblocks`` columns, cut at multiples of ``split``."""
    j0 = min(N, (b * N // nblocks + split // 2) // split * split)
    j1 = N if b == nblocks - 1 else min(N, ((b + 1) * N // nblocks + split // 2) // split * split)
    return j0, j1


# One parallel entry point per layout, so that each compiles only its own block function (a single
# entry compiled both for every dtype and layout: ~20 s cold per signature instead of ~10 s).
@numba.njit(parallel=True, **_JIT)
def _ewm_mean_cols(values, out, old_wt_factor, new_wt, one, adjust, ignore_na, half_blend, minp, nblocks,
                   tile_t, tile_n, fast, alpha, decay, scanned):  # pragma: no cover
    """Column-major ``values``: threads take whole 8 x 8 transposition blocks of columns."""
    for b in numba.prange(nblocks):
        j0, j1 = _column_range(b, values.shape[1], nblocks, _MICRO)
        if j1 > j0:
            scanned[b] = _ewm_block_colmajor(values, out, j0, j1, old_wt_factor, new_wt, one, adjust, ignore_na,
                                             half_blend, minp, tile_t, tile_n, fast, alpha, decay)
    return out


@numba.njit(parallel=True, **_JIT)
def _ewm_mean_rows(values, out, old_wt_factor, new_wt, one, adjust, ignore_na, half_blend, minp, nblocks,
                   tile_t, fast, alpha, scanned):  # pragma: no cover
    """Row-major ``values``: threads take whole 64-byte lines of the rows (never writing the same line)."""
    for b in numba.prange(nblocks):
        j0, j1 = _column_range(b, values.shape[1], nblocks, _SPLIT)
        if j1 > j0:
            scanned[b] = _ewm_block_rowmajor(values, out, j0, j1, old_wt_factor, new_wt, one, adjust, ignore_na,
                                             half_blend, minp, tile_t, fast, alpha)
    return out


def ewm_mean_kernel(values: np.ndarray, params: EWMParams, fast: bool = True) -> tuple[np.ndarray, int]:
    """The numba EWM mean of ``values`` and how many of its elements took the steady-state paths.

    ``fast=False`` computes everything with the exact recursion (the reference the fast paths are
    tested against).
    """
    values = np.asarray(values)
    shape = values.shape
    flat = values.reshape(shape[0], -1) if values.ndim != 2 else values
    # Same memory order as the input (a column-major frame gets a column-major result, which
    # is also the layout pandas stores), so neither side needs a transposing copy.
    out = np.empty_like(flat, order="K")
    colmajor = bool(flat.flags.f_contiguous and not flat.flags.c_contiguous)
    if not colmajor and not flat.flags.c_contiguous:
        flat = np.ascontiguousarray(flat)  # strided views: one copy, then the fast path
        out = np.empty_like(flat)
    tile_t, tile_n = _TILES.get(flat.dtype, (1024, 32))
    nblocks = max(1, min(numba.get_num_threads(), -(-flat.shape[1] // _SPLIT)))
    if colmajor:  # the threads' transposition buffers stay under 5% of the output (peak memory)
        per_step = 2 * nblocks * (tile_n + _MICRO) * flat.dtype.itemsize
        fit = int(0.05 * out.nbytes) // per_step // _MICRO * _MICRO
        tile_t = max(_MICRO * 8, min(tile_t, fit))
    else:  # threads sharing narrow rows slow each other down (see _ROW_BYTES_PER_THREAD)
        row_bytes = flat.shape[1] * flat.dtype.itemsize
        nblocks = max(1, min(nblocks, (row_bytes + _ROW_BYTES_PER_THREAD // 2) // _ROW_BYTES_PER_THREAD))
    scanned = np.zeros(nblocks, dtype=np.int64)
    # Constants in the data's dtype: a float32 stream computes in float32 (16 SIMD lanes, half
    # the bytes), to float32 precision; pandas would upcast to float64.
    ft = flat.dtype.type
    args = (ft(1.0 - params.alpha), ft(1.0 if params.adjust else params.alpha), ft(1.0), params.adjust,
            params.ignore_na, params.half_alpha_blend, params.min_periods, nblocks)
    with _LAUNCH:
        if colmajor:
            _ewm_mean_cols(flat, out, *args, tile_t, tile_n, fast, ft(params.alpha), float(1.0 - params.alpha), scanned)
        else:
            _ewm_mean_rows(flat, out, *args, _ROWS, fast, ft(params.alpha), scanned)
    return out.reshape(shape), int(scanned.sum())


@register_backend("numba")
class NumbaBackend(Backend):
    """Compiled, vectorised, column-blocked loops on all Numba threads (the default backend)."""

    def ewm_mean(self, values: np.ndarray, params: EWMParams) -> np.ndarray:
        return ewm_mean_kernel(values, params)[0]
