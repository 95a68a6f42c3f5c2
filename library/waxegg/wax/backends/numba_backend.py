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
- Row-major input: time loop outside, columns inside (contiguous rows, state of a column block in
  L1). Column-major input (what pandas 3 builds from a 2-D array: its block is ``(N, T)``): walking
  rows would touch one page per column at every step, so tiles (``_TILES``: steps x columns, by
  dtype) are first transposed into a small buffer, in 8 x 8 blocks that LLVM turns into register
  shuffles, and the same vectorised update runs on it.
- Each thread owns a contiguous block of columns and first-touches its part of the fresh output,
  so page faults are spread over the threads.
- ``cache=True`` keeps the machine code on disk: only the first process ever compiles.
"""

from __future__ import annotations

import threading

import numba
import numpy as np

from waxegg.wax._params import EWMParams
from waxegg.wax.backends import register_backend
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
#: Row-major column ranges given to threads start at multiples of this many columns (a 64-byte line
#: of float32).
_SPLIT = 16


@numba.njit(inline="always", **_JIT)
def _ewm_update(cur, w, ow, n, old_wt_factor, new_wt, one, adjust, decay_on_missing, half_blend):  # pragma: no cover
    """One step of pandas' ``ewm`` (normalize=True) recursion for one column, branch-free.

    Every float here has the data's dtype (``one`` is 1 in it): no float64 literal may promote a
    float32 loop, which would halve its SIMD width.
    """
    is_obs = cur == cur
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
def _ewm_rows(rows, orows, n_rows, j0, j1, weighted, old_wt, nobs, old_wt_factor, new_wt, one, adjust,
              decay_on_missing, half_blend, minp):  # pragma: no cover
    """Run the update over ``rows[:n_rows, j0:j1]`` (row-major), writing ``orows``.

    ``rows``/``orows`` are C-contiguous so that ``rows[t, j0:j1]`` is a unit-stride slice LLVM
    vectorises without runtime stride checks (an 'A'-layout version measured ~2.5x slower).
    """
    width = j1 - j0
    nan = (one - one) / (one - one)  # NaN in the data's dtype (np.nan would be a float64)
    for t in range(n_rows):
        row = rows[t, j0:j1]
        orow = orows[t, j0:j1]
        for k in range(width):
            w, ow, n = _ewm_update(row[k], weighted[k], old_wt[k], nobs[k],
                                   old_wt_factor, new_wt, one, adjust, decay_on_missing, half_blend)
            weighted[k] = w
            old_wt[k] = ow
            nobs[k] = n
            orow[k] = w if n >= minp else nan


@numba.njit(**_JIT)
def _ewm_block_rowmajor(values, out, j0, j1, old_wt_factor, new_wt, one, adjust, ignore_na, half_blend, minp):  # pragma: no cover
    width = j1 - j0
    weighted = np.full(width, np.nan, dtype=values.dtype)
    old_wt = np.ones(width, dtype=values.dtype)
    nobs = np.zeros(width, dtype=np.int64)
    _ewm_rows(values, out, values.shape[0], j0, j1, weighted, old_wt, nobs,
              old_wt_factor, new_wt, one, adjust, not ignore_na, half_blend, minp)


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


@numba.njit(**_JIT)
def _ewm_block_colmajor(values, out, j0, j1, old_wt_factor, new_wt, one, adjust, ignore_na, half_blend, minp,
                        tile_t, tile_n):  # pragma: no cover
    T = values.shape[0]
    # A group of fewer than 8 columns left at the end joins the group before it (up to
    # tile_n + 7 columns), so that every group of 8 or more columns is transposed in blocks.
    cap = tile_n + _MICRO
    buf = np.empty((tile_t, cap), dtype=values.dtype)
    obuf = np.empty((tile_t, cap), dtype=values.dtype)
    weighted = np.empty(cap, dtype=values.dtype)
    old_wt = np.empty(cap, dtype=values.dtype)
    nobs = np.empty(cap, dtype=np.int64)
    for g0 in range(j0, j1, tile_n):
        if g0 > j0 and j1 - g0 < _MICRO:
            break  # taken by the group before
        width = min(j1, g0 + tile_n) - g0
        if j1 - (g0 + width) < _MICRO:
            width = j1 - g0
        weighted[:] = np.nan
        old_wt[:] = 1.0
        nobs[:] = 0
        for t0 in range(0, T, tile_t):
            n_t = min(T, t0 + tile_t) - t0
            _transpose_blocks(values, t0, g0, buf, n_t, width, True)
            _ewm_rows(buf, obuf, n_t, 0, width, weighted, old_wt, nobs,
                      old_wt_factor, new_wt, one, adjust, not ignore_na, half_blend, minp)
            _transpose_blocks(out, t0, g0, obuf, n_t, width, False)


@numba.njit(parallel=True, **_JIT)
def _ewm_mean_2d(values, out, old_wt_factor, new_wt, one, adjust, ignore_na, half_blend, minp, nblocks, colmajor,
                 tile_t, tile_n):  # pragma: no cover
    N = values.shape[1]
    # Contiguous column ranges of about N / nblocks columns, one per thread, cut at multiples of
    # `split` columns: whole 64-byte lines of the output rows when row-major (threads never write
    # the same line), whole 8 x 8 transposition blocks when column-major.
    split = _MICRO if colmajor else _SPLIT
    for b in numba.prange(nblocks):
        j0 = min(N, (b * N // nblocks + split // 2) // split * split)
        j1 = N if b == nblocks - 1 else min(N, ((b + 1) * N // nblocks + split // 2) // split * split)
        if j1 > j0:
            if colmajor:
                _ewm_block_colmajor(values, out, j0, j1, old_wt_factor, new_wt, one, adjust, ignore_na, half_blend, minp,
                                    tile_t, tile_n)
            else:
                _ewm_block_rowmajor(values, out, j0, j1, old_wt_factor, new_wt, one, adjust, ignore_na, half_blend, minp)
    return out


@register_backend("numba")
class NumbaBackend(Backend):
    """Compiled, vectorised, column-blocked loops on all Numba threads (the default backend)."""

    def ewm_mean(self, values: np.ndarray, params: EWMParams) -> np.ndarray:
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
        # Constants in the data's dtype: a float32 stream computes in float32 (16 SIMD lanes, half
        # the bytes), to float32 precision; pandas would upcast to float64.
        ft = flat.dtype.type
        with _LAUNCH:
            _ewm_mean_2d(flat, out, ft(1.0 - params.alpha), ft(1.0 if params.adjust else params.alpha), ft(1.0),
                         params.adjust, params.ignore_na, params.half_alpha_blend, params.min_periods, nblocks,
                         colmajor, tile_t, tile_n)
        return out.reshape(shape)
