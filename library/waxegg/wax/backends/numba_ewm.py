"""Numba kernels for pandas' EWM ``sum``, ``var``/``std``, ``cov``, ``corr`` and ``mean`` with ``times=``.

Each statistic is pandas 3's Cython loop (``pandas/_libs/window/aggregations.pyx``: ``ewm`` and
``ewmcov``) with the same floating-point operations in the same order, no fused multiply-adds,
so ``sum`` and ``mean`` with times equal pandas bit for bit in float64. ``var``/``std``/``cov``/
``corr`` divide by ``old_wt + new_wt`` through one reciprocal (pandas divides two or three times):
divisions bound those loops, and each product is within an ulp of pandas' quotient, so results
stay within ``1e-12`` of pandas (tested). The loop is written once per statistic as an update of
a block of rows (time outside, columns inside) over per-column state held in small arrays; it is
branch-free (selects, ``&``/``|``) and uses ``error_model="numpy"`` so that LLVM vectorises it
across columns: a recursion that is latency bound down one column becomes throughput bound.

- The weights (``old_wt``, ``sum_wt``, ``sum_wt2``) depend only on a column's pattern of
  observations, so without missing values every column of a row shares them: such rows compute
  the weights, their reciprocal and the bias correction once, as scalars, and the vector loop has
  no division. Both loops do the same operations on the same values, so a column's result does not
  depend on its neighbours or on how the columns were split (tested).
- Row-major input runs the block update directly on each thread's columns.
- Column-major input (what pandas 3 stores for ``pd.DataFrame(2-D array)``) is transposed in tiles
  of ``_TILE_T`` steps x ``_TILE_N`` columns, in 8 x 8 blocks that LLVM turns into register
  shuffles, into a small row-major buffer; the same block update runs on it and the result is
  transposed back. The buffers stay in L2, so the input and output are each streamed once.
- Constants and state have the data's dtype: float32 computes in float32 (twice the SIMD lanes,
  half the bytes), to float32 precision, where pandas would upcast to float64. One consequence:
  without ``ignore_na``, a long run of missing values decays ``sum_wt2`` by ``(1 - alpha)**2`` a
  step, and float32 underflows after ``-38 / log10((1 - alpha)**2)`` steps (~130 at com=2.5,
  ~60 at alpha=0.5), after which the bias-corrected ``var``/``std``/``cov`` is NaN until the next
  observation, where pandas' float64 still returns the last (constant) value.
- Threads (``_threads.run_blocks``) take contiguous column ranges; the kernels are serial
  ``nogil`` functions, so each statistic compiles one small function per dtype and layout.

Every function returns ``(out, state)``; ``state=`` continues the stream bit for bit (see
:class:`EWMState`, :class:`EWMCovState`, :class:`EWMCorrState`). pandas treats +-inf as missing
in window operations (``_prep_values``), and so do these kernels: an observation is a finite value.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numba
import numpy as np

from waxegg.wax._params import EWMParams
from waxegg.wax.backends._simd import BLOCK as _MICRO
from waxegg.wax.backends._simd import transpose_block
from waxegg.wax.backends._threads import gc_paused_while_compiling, run_blocks

__all__ = ["EWMState", "EWMCovState", "EWMCorrState", "ewm_sum", "ewm_var", "ewm_std", "ewm_cov", "ewm_corr",
           "ewm_mean_times", "last_paths"]

_JIT = dict(nogil=True, cache=True, error_model="numpy")
#: Helpers only the kernels call: no CPython or C wrapper to compile, and no cache entry of their own
#: (a cached kernel carries its inlined helpers; writing the helper's entry too was time of a cold call).
_HELPER = dict(_JIT, cache=False, no_cpython_wrapper=True, no_cfunc_wrapper=True)

#: Steps x columns of a column-major tile transposed into the row-major buffer at once.
_TILE_T = 512
_TILE_N = 64
#: Row-major input: columns updated together over all steps (their state stays in L2); narrower
#: blocks cut the rows into short runs that cost more than the state misses (see the benchmarks).
_ROW_BLOCK = 1024
#: Fewest bytes of a row-major row per thread: threads sharing narrow rows slow each other down.
_ROW_BYTES_PER_THREAD = 2048


# --- state ------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class EWMState:
    """State of ``ewm_sum`` and ``ewm_mean_times`` after the last step, one entry per column.

    Attributes
    ----------
    weighted : ndarray, data dtype
        pandas' ``weighted``: the running sum (or mean); NaN before the first observation.
    old_wt : ndarray, data dtype
        pandas' ``old_wt`` (the mean's weight of the past; 1 for the sum).
    nobs : ndarray of int64
        Observations (finite values) so far.
    """

    weighted: np.ndarray
    old_wt: np.ndarray
    nobs: np.ndarray


@dataclass(frozen=True, eq=False)
class EWMCovState:
    """State of ``ewm_cov`` / ``ewm_var`` / ``ewm_std``: pandas' ``ewmcov`` variables per column.

    A step is an observation when both inputs are finite. ``mean_x``/``mean_y`` are NaN before the
    first observation; ``sum_wt``, ``sum_wt2`` and ``old_wt`` are pandas' weight sums; ``cov`` is
    the biased covariance. For ``ewm_var`` ``mean_y`` is ``mean_x``.
    """

    mean_x: np.ndarray
    mean_y: np.ndarray
    cov: np.ndarray
    sum_wt: np.ndarray
    sum_wt2: np.ndarray
    old_wt: np.ndarray
    nobs: np.ndarray


@dataclass(frozen=True, eq=False)
class EWMCorrState:
    """State of ``ewm_corr``: pandas' biased ``ewmcov`` of ``(x, y)``, ``(x, x)`` and ``(y, y)``.

    pandas masks each series with the other's missing values first, so the three share one
    observation pattern: the means, ``old_wt`` and ``nobs`` are common; ``cov``, ``var_x`` and
    ``var_y`` are the three biased moments (the bias-corrected weight sums are not needed).
    """

    mean_x: np.ndarray
    mean_y: np.ndarray
    cov: np.ndarray
    var_x: np.ndarray
    var_y: np.ndarray
    old_wt: np.ndarray
    nobs: np.ndarray


# --- transposition of column-major tiles ---------------------------------------------------------
@numba.njit(**_HELPER)
def _transpose(src, s0, ss, dst, d0, ds, nr, nc, by_rows):  # pragma: no cover
    """``dst[d0 + c * ds + r] = src[s0 + r * ss + c]`` for ``r < nr``, ``c < nc`` (flat arrays): a tile in or out.

    In: ``src`` the column-major input (``ss = T``, ``nr`` columns of ``nc`` steps), ``dst`` the row-major
    buffer (``ds`` its row length). Out: the other way round. In 8 x 8 blocks (:func:`transpose_block`),
    a block column of the column-major side at a time (``by_rows``: it is ``src``; else ``dst``), so that
    it is read or written down 8 columns at once; a ragged edge is covered by one block shifted back to
    end at the edge, which copies some elements twice with the same values; a tile narrower or shorter
    than a block is copied element by element.

    Both directions, every statistic and both inputs of ``cov``/``corr`` call this one function with one
    signature (``src`` read-only, see :func:`_ro`), so it compiles once. Returns the number of blocks
    shifted back at an edge, or -1 for an element-by-element copy (the path counters).
    """
    edges = nr - nr  # int64 0, no literal (see above the kernels)
    if nr < _MICRO or nc < _MICRO:
        for r in range(nr):
            for c in range(nc):
                dst[d0 + c * ds + r] = src[s0 + r * ss + c]
        return edges - 1
    na = nr if by_rows else nc
    nb = nc if by_rows else nr
    for ab in range(0, na, _MICRO):
        a = ab if ab + _MICRO <= na else na - _MICRO
        for bb in range(0, nb, _MICRO):
            b = bb if bb + _MICRO <= nb else nb - _MICRO
            edges += (a != ab) | (b != bb)
            r = a if by_rows else b
            c = b if by_rows else a
            transpose_block(src, s0 + r * ss + c, ss, dst, d0 + c * ds + r, ds)
    return edges


# --- the kernels: one per statistic, both layouts ---------------------------------------------
# Every kernel takes the input and output flat (``xf``/``of``: element (t, j) at ``j * T + t``
# column-major, at ``t * N + j`` row-major) and updates columns ``j0:j1``. Row-major input is
# updated in place, a row at a time; column-major input goes through tiles: ``tile_t`` steps x
# ``tile_n`` columns are transposed into the row-major buffer ``bf`` by :func:`_transpose`, the same
# row update runs on it into ``obf``, and that is transposed back from ``obr`` (a read-only view of
# ``obf``, so that both copies call one specialisation of :func:`_transpose`). One function per
# statistic, the row updates written out: each njit function compiles on its own, and LLVM
# re-optimises a callee inside every caller, so helpers cost compile time twice (see the module
# docstring); the transposition is the exception, one helper that every kernel, both directions and
# both inputs of ``cov``/``corr`` share (written out, the copy in cost more compile time than the
# whole helper). Its ``by_rows`` is passed as ``colmajor`` / ``not colmajor`` (True / False where it
# is called) rather than as a literal ``True`` / ``False``, which would compile a specialisation of
# its own for each. ``cnt``: the range's path counters (``_PATH_KEYS``), added to once at the end.
#
# Counters and flags start from ``z = j0 - j0`` (an int64 0), not from ``0`` / ``False``: Numba types a
# literal ``0`` as ``Literal[int](0)``, and a loop-carried variable that starts from one is refined to
# int64 one loop level per pass of type inference, each pass re-resolving every operation of the
# kernel (6 passes instead of 2 for ``_var_kernel``, ~0.3 s of a cold compile).
@numba.njit(**_JIT)
def _sum_kernel(xf, of, T, N, colmajor, bf, obf, obr, tile_t, tile_n, j0, j1, wt, nobs, f, dna, minp,
                cnt):  # pragma: no cover
    """pandas' ``ewm(normalize=False)``: ``weighted = f * weighted; weighted += cur``."""
    nan = (f - f) / (f - f)  # NaN in the data's dtype
    z = j0 - j0  # int64 0, no literal (see above the kernels)
    if not colmajor:
        tile_t, tile_n = T, j1 - j0
    tile_t = tile_t if tile_t > 0 else 1
    n_block = z
    n_elem = z
    n_edge = z
    for g0 in range(j0, j1, tile_n):
        width = (j1 if j1 < g0 + tile_n else g0 + tile_n) - g0  # (no min(): an overload of its own to compile)
        # unit-stride views from index 0, so that LLVM sees consecutive accesses and vectorises
        w_ = wt[g0:g0 + width]
        n_ = nobs[g0:g0 + width]
        for t0 in range(0, T, tile_t):
            n_t = (T if T < t0 + tile_t else t0 + tile_t) - t0
            if colmajor:
                e = _transpose(xf, g0 * T + t0, T, bf, z, tile_n, width, n_t, colmajor)
                n_elem += e < 0
                n_block += e >= 0
                n_edge += e if e > 0 else z
                src = bf
                dst = obf
                base = z
                step = tile_n
            else:
                src = xf
                dst = of
                base = g0
                step = N
            for i in range(n_t):
                row = src[base + i * step:base + i * step + width]
                orow = dst[base + i * step:base + i * step + width]
                for k in range(width):
                    cur = row[k]
                    w = w_[k]
                    obs = cur - cur == 0  # finite: pandas treats inf as missing
                    has = w == w
                    w1 = f * w if has & (obs | dna) else w
                    w1 = w1 + cur if has & obs else w1
                    w1 = cur if (not has) & obs else w1
                    n = n_[k] + obs
                    w_[k] = w1
                    n_[k] = n
                    orow[k] = w1 if n >= minp else nan
            if colmajor:
                _transpose(obr, z, tile_n, of, g0 * T + t0, T, n_t, width, not colmajor)
    cnt[2] += n_block
    cnt[3] += n_elem
    cnt[4] += n_edge


@numba.njit(**_JIT)
def _times_kernel(xf, of, T, N, colmajor, bf, obf, obr, tile_t, tile_n, j0, j1, wt, owt, nobs, decay, nw, one, adjust,
                  dna, half, minp, cnt):  # pragma: no cover
    """pandas' ``ewm(normalize=True, deltas=...)``: the old weight decays by ``decay[t]`` at step ``t``."""
    nan = (one - one) / (one - one)
    z = j0 - j0  # int64 0, no literal (see above the kernels)
    if not colmajor:
        tile_t, tile_n = T, j1 - j0
    tile_t = tile_t if tile_t > 0 else 1
    n_block = z
    n_elem = z
    n_edge = z
    for g0 in range(j0, j1, tile_n):
        width = (j1 if j1 < g0 + tile_n else g0 + tile_n) - g0
        w_ = wt[g0:g0 + width]
        ow_ = owt[g0:g0 + width]
        n_ = nobs[g0:g0 + width]
        for t0 in range(0, T, tile_t):
            n_t = (T if T < t0 + tile_t else t0 + tile_t) - t0
            if colmajor:
                e = _transpose(xf, g0 * T + t0, T, bf, z, tile_n, width, n_t, colmajor)
                n_elem += e < 0
                n_block += e >= 0
                n_edge += e if e > 0 else z
                src = bf
                dst = obf
                base = z
                step = tile_n
            else:
                src = xf
                dst = of
                base = g0
                step = N
            for i in range(n_t):
                row = src[base + i * step:base + i * step + width]
                orow = dst[base + i * step:base + i * step + width]
                d = decay[t0 + i]
                for k in range(width):
                    cur = row[k]
                    w = w_[k]
                    ow = ow_[k]
                    obs = cur - cur == 0
                    has = w == w
                    ow = ow * d if has & (obs | dna) else ow
                    upd = has & obs
                    new = one - ow if half else nw  # pandas: "update in case of irregular-interval series"
                    blended = (ow * w + new * cur) / (ow + new)
                    w1 = blended if upd & (w != cur) else w  # pandas skips the blend when cur equals the mean
                    if adjust:
                        ow = ow + new if upd else ow
                    else:
                        ow = one if upd else ow
                    w1 = cur if (not has) & obs else w1
                    n = n_[k] + obs
                    w_[k] = w1
                    ow_[k] = ow
                    n_[k] = n
                    orow[k] = w1 if n >= minp else nan
            if colmajor:
                _transpose(obr, z, tile_n, of, g0 * T + t0, T, n_t, width, not colmajor)
    cnt[2] += n_block
    cnt[3] += n_elem
    cnt[4] += n_edge


@numba.njit(**_JIT)
def _var_kernel(xf, of, T, N, colmajor, bf, obf, obr, tile_t, tile_n, j0, j1, mean, cov, swt, swt2, owt, nobs, f, f2,
                nw, one, adjust, dna, bias, root, minp, cnt):  # pragma: no cover
    """pandas' ``ewmcov(x, x)``, reading ``x`` once; ``root``: pandas' ``zsqrt`` of the result (std).

    Rows whose columns share their weights (every column observes, has a mean and the weights of
    the first: the weights depend only on a column's pattern of observations, so without missing
    values every column of a row shares them) compute the weights, their reciprocal and the bias
    correction once, as scalars, and the vector loop has no division; after such a row the columns
    still share them when the next row is all finite. Both loops do the same operations on the same
    values: a column's result does not depend on which loop ran, nor on its neighbours.
    """
    nan = (one - one) / (one - one)
    z = j0 - j0  # int64 0, no literal (see above the kernels)
    zero = one - one
    if not colmajor:
        tile_t, tile_n = T, j1 - j0
    tile_t = tile_t if tile_t > 0 else 1
    n_shared = z
    n_rows = z
    n_block = z
    n_elem = z
    n_edge = z
    for g0 in range(j0, j1, tile_n):
        width = (j1 if j1 < g0 + tile_n else g0 + tile_n) - g0
        m_ = mean[g0:g0 + width]
        c_ = cov[g0:g0 + width]
        sw_ = swt[g0:g0 + width]
        sw2_ = swt2[g0:g0 + width]
        ow_ = owt[g0:g0 + width]
        n_ = nobs[g0:g0 + width]
        for t0 in range(0, T, tile_t):
            n_t = (T if T < t0 + tile_t else t0 + tile_t) - t0
            n_rows += n_t
            if colmajor:
                e = _transpose(xf, g0 * T + t0, T, bf, z, tile_n, width, n_t, colmajor)
                n_elem += e < 0
                n_block += e >= 0
                n_edge += e if e > 0 else z
                src = bf
                dst = obf
                base = z
                step = tile_n
            else:
                src = xf
                dst = of
                base = g0
                step = N
            shared = z != z
            for i in range(n_t):
                row = src[base + i * step:base + i * step + width]
                orow = dst[base + i * step:base + i * step + width]
                bad = z
                if shared:  # the weights stay shared while the rows are all finite
                    for k in range(width):
                        cur = row[k]
                        bad += not (cur - cur == 0)
                else:
                    a = ow_[0]
                    b = sw_[0]
                    c = sw2_[0]
                    for k in range(width):
                        cur = row[k]
                        m = m_[k]
                        bad += not ((cur - cur == 0) & (m == m) & (ow_[k] == a) & (sw_[k] == b) & (sw2_[k] == c))
                shared = bad == 0
                n_shared += shared
                if shared:
                    # the scalar form of the weight updates below
                    ow = ow_[0] * f
                    sw = sw_[0] * f
                    sw2 = sw2_[0] * f2
                    r = one / (ow + nw)
                    sw = sw + nw
                    sw2 = sw2 + nw * nw
                    if adjust:
                        ow1 = ow + nw
                    else:
                        sw = sw / (ow + nw)  # pandas' divisions (see below)
                        sw2 = sw2 / ((ow + nw) * (ow + nw))
                        ow1 = one
                    num = sw * sw
                    den = num - sw2
                    ratio = num / den
                    for k in range(width):
                        cur = row[k]
                        m = m_[k]
                        m1 = (ow * m + nw * cur) * r
                        m1 = m1 if m != cur else m
                        cv = (ow * (c_[k] + (m - m1) * (m - m1)) + nw * ((cur - m1) * (cur - m1))) * r
                        n = n_[k] + 1
                        m_[k] = m1
                        c_[k] = cv
                        n_[k] = n
                        v = ratio * cv
                        v = cv if bias else (v if den > 0 else nan)
                        s = math.sqrt(v)
                        v = (zero if v < 0 else s) if root else v
                        orow[k] = v if n >= minp else nan
                    # the common weights, in a loop of their own (fewer arrays written in the loop
                    # above keeps LLVM's runtime alias checks within the vectoriser's limit)
                    for k in range(width):
                        sw_[k] = sw
                        sw2_[k] = sw2
                        ow_[k] = ow1
                    continue
                for k in range(width):
                    cur = row[k]
                    m = m_[k]
                    cv = c_[k]
                    sw = sw_[k]
                    sw2 = sw2_[k]
                    ow = ow_[k]
                    obs = cur - cur == 0
                    has = m == m
                    dec = has & (obs | dna)
                    sw = sw * f if dec else sw
                    sw2 = sw2 * f2 if dec else sw2
                    ow = ow * f if dec else ow
                    upd = has & obs
                    # one reciprocal for the mean and the moment: divisions bound this loop; each
                    # product is within an ulp of pandas' quotient
                    r = one / (ow + nw)
                    m1 = (ow * m + nw * cur) * r
                    m1 = m1 if m != cur else m  # pandas skips the blend when cur equals the mean
                    cv1 = (ow * (cv + (m - m1) * (m - m1)) + nw * ((cur - m1) * (cur - m1))) * r
                    sw1 = sw + nw
                    sw21 = sw2 + nw * nw
                    if adjust:
                        ow1 = ow + nw
                    else:
                        sw1 = sw1 / (ow + nw)  # pandas' division: the bias correction cancels, so keep its bits
                        sw21 = sw21 / ((ow + nw) * (ow + nw))
                        ow1 = one
                    m = m1 if upd else m
                    cv = cv1 if upd else cv
                    sw = sw1 if upd else sw
                    sw2 = sw21 if upd else sw2
                    ow = ow1 if upd else ow
                    m = cur if (not has) & obs else m
                    n = n_[k] + obs
                    m_[k] = m
                    c_[k] = cv
                    sw_[k] = sw
                    sw2_[k] = sw2
                    ow_[k] = ow
                    n_[k] = n
                    num = sw * sw
                    den = num - sw2
                    v = (num / den) * cv
                    v = cv if bias else (v if den > 0 else nan)
                    s = math.sqrt(v)
                    v = (zero if v < 0 else s) if root else v  # pandas' zsqrt
                    orow[k] = v if n >= minp else nan
            if colmajor:
                _transpose(obr, z, tile_n, of, g0 * T + t0, T, n_t, width, not colmajor)
    cnt[0] += n_shared
    cnt[1] += n_rows - n_shared
    cnt[2] += n_block
    cnt[3] += n_elem
    cnt[4] += n_edge


@numba.njit(**_JIT)
def _cov_kernel(xf, yf, of, T, N, colmajor, xbf, ybf, obf, obr, tile_t, tile_n, j0, j1, mean_x, mean_y, cov, swt, swt2,
                owt, nobs, f, f2, nw, one, adjust, dna, bias, minp, cnt):  # pragma: no cover
    """pandas' ``ewmcov(x, y)``: an observation needs both values (see ``_var_kernel``)."""
    nan = (one - one) / (one - one)
    z = j0 - j0  # int64 0, no literal (see above the kernels)
    if not colmajor:
        tile_t, tile_n = T, j1 - j0
    tile_t = tile_t if tile_t > 0 else 1
    n_shared = z
    n_rows = z
    n_block = z
    n_elem = z
    n_edge = z
    for g0 in range(j0, j1, tile_n):
        width = (j1 if j1 < g0 + tile_n else g0 + tile_n) - g0
        mx_ = mean_x[g0:g0 + width]
        my_ = mean_y[g0:g0 + width]
        c_ = cov[g0:g0 + width]
        sw_ = swt[g0:g0 + width]
        sw2_ = swt2[g0:g0 + width]
        ow_ = owt[g0:g0 + width]
        n_ = nobs[g0:g0 + width]
        for t0 in range(0, T, tile_t):
            n_t = (T if T < t0 + tile_t else t0 + tile_t) - t0
            n_rows += n_t
            if colmajor:
                e = _transpose(xf, g0 * T + t0, T, xbf, z, tile_n, width, n_t, colmajor)
                _transpose(yf, g0 * T + t0, T, ybf, z, tile_n, width, n_t, colmajor)
                n_elem += e < 0
                n_block += e >= 0
                n_edge += e if e > 0 else z
                xs = xbf
                ys = ybf
                dst = obf
                base = z
                step = tile_n
            else:
                xs = xf
                ys = yf
                dst = of
                base = g0
                step = N
            for i in range(n_t):
                xrow = xs[base + i * step:base + i * step + width]
                yrow = ys[base + i * step:base + i * step + width]
                orow = dst[base + i * step:base + i * step + width]
                a = ow_[0]
                b = sw_[0]
                c = sw2_[0]
                bad = z
                for k in range(width):
                    cx = xrow[k]
                    cy = yrow[k]
                    m = mx_[k]
                    bad += not ((cx - cx == 0) & (cy - cy == 0) & (m == m) & (ow_[k] == a) & (sw_[k] == b)
                                & (sw2_[k] == c))
                if bad == 0:
                    n_shared += 1
                    ow = a * f
                    sw = b * f
                    sw2 = c * f2
                    r = one / (ow + nw)
                    sw = sw + nw
                    sw2 = sw2 + nw * nw
                    if adjust:
                        ow1 = ow + nw
                    else:
                        sw = sw / (ow + nw)  # pandas' divisions (see _var_kernel)
                        sw2 = sw2 / ((ow + nw) * (ow + nw))
                        ow1 = one
                    num = sw * sw
                    den = num - sw2
                    ratio = num / den
                    for k in range(width):
                        cx = xrow[k]
                        cy = yrow[k]
                        mx = mx_[k]
                        my = my_[k]
                        mx1 = (ow * mx + nw * cx) * r
                        my1 = (ow * my + nw * cy) * r
                        mx1 = mx1 if mx != cx else mx
                        my1 = my1 if my != cy else my
                        cv = (ow * (c_[k] + (mx - mx1) * (my - my1)) + nw * ((cx - mx1) * (cy - my1))) * r
                        n = n_[k] + 1
                        mx_[k] = mx1
                        my_[k] = my1
                        c_[k] = cv
                        n_[k] = n
                        v = ratio * cv
                        v = cv if bias else (v if den > 0 else nan)
                        orow[k] = v if n >= minp else nan
                    for k in range(width):  # (see _var_kernel)
                        sw_[k] = sw
                        sw2_[k] = sw2
                        ow_[k] = ow1
                    continue
                for k in range(width):
                    cx = xrow[k]
                    cy = yrow[k]
                    mx = mx_[k]
                    my = my_[k]
                    cv = c_[k]
                    sw = sw_[k]
                    sw2 = sw2_[k]
                    ow = ow_[k]
                    obs = (cx - cx == 0) & (cy - cy == 0)
                    has = mx == mx
                    dec = has & (obs | dna)
                    sw = sw * f if dec else sw
                    sw2 = sw2 * f2 if dec else sw2
                    ow = ow * f if dec else ow
                    upd = has & obs
                    r = one / (ow + nw)
                    mx1 = (ow * mx + nw * cx) * r
                    my1 = (ow * my + nw * cy) * r
                    mx1 = mx1 if mx != cx else mx
                    my1 = my1 if my != cy else my
                    cv1 = (ow * (cv + (mx - mx1) * (my - my1)) + nw * ((cx - mx1) * (cy - my1))) * r
                    sw1 = sw + nw
                    sw21 = sw2 + nw * nw
                    if adjust:
                        ow1 = ow + nw
                    else:
                        sw1 = sw1 / (ow + nw)  # pandas' division: the bias correction cancels, so keep its bits
                        sw21 = sw21 / ((ow + nw) * (ow + nw))
                        ow1 = one
                    first = (not has) & obs
                    mx = cx if first else (mx1 if upd else mx)
                    my = cy if first else (my1 if upd else my)
                    cv = cv1 if upd else cv
                    sw = sw1 if upd else sw
                    sw2 = sw21 if upd else sw2
                    ow = ow1 if upd else ow
                    n = n_[k] + obs
                    mx_[k] = mx
                    my_[k] = my
                    c_[k] = cv
                    sw_[k] = sw
                    sw2_[k] = sw2
                    ow_[k] = ow
                    n_[k] = n
                    num = sw * sw
                    den = num - sw2
                    v = (num / den) * cv
                    v = cv if bias else (v if den > 0 else nan)
                    orow[k] = v if n >= minp else nan
            if colmajor:
                _transpose(obr, z, tile_n, of, g0 * T + t0, T, n_t, width, not colmajor)
    cnt[0] += n_shared
    cnt[1] += n_rows - n_shared
    cnt[2] += n_block
    cnt[3] += n_elem
    cnt[4] += n_edge


@numba.njit(**_JIT)
def _corr_kernel(xf, yf, of, T, N, colmajor, xbf, ybf, obf, obr, tile_t, tile_n, j0, j1, mean_x, mean_y, cov, var_x,
                 var_y, owt, nobs, f, nw, one, adjust, dna, minp, cnt):  # pragma: no cover
    """pandas' ``corr``: ``cov / zsqrt(var_x * var_y)`` of three biased ``ewmcov``, fused.

    pandas first masks each series with the other's missing values (``prep_binary``), so the three
    recursions share their observations, weights and means: one recursion, three moments.
    """
    nan = (one - one) / (one - one)
    z = j0 - j0  # int64 0, no literal (see above the kernels)
    zero = one - one
    if not colmajor:
        tile_t, tile_n = T, j1 - j0
    tile_t = tile_t if tile_t > 0 else 1
    n_shared = z
    n_rows = z
    n_block = z
    n_elem = z
    n_edge = z
    for g0 in range(j0, j1, tile_n):
        width = (j1 if j1 < g0 + tile_n else g0 + tile_n) - g0
        mx_ = mean_x[g0:g0 + width]
        my_ = mean_y[g0:g0 + width]
        c_ = cov[g0:g0 + width]
        vx_ = var_x[g0:g0 + width]
        vy_ = var_y[g0:g0 + width]
        ow_ = owt[g0:g0 + width]
        n_ = nobs[g0:g0 + width]
        for t0 in range(0, T, tile_t):
            n_t = (T if T < t0 + tile_t else t0 + tile_t) - t0
            n_rows += n_t
            if colmajor:
                e = _transpose(xf, g0 * T + t0, T, xbf, z, tile_n, width, n_t, colmajor)
                _transpose(yf, g0 * T + t0, T, ybf, z, tile_n, width, n_t, colmajor)
                n_elem += e < 0
                n_block += e >= 0
                n_edge += e if e > 0 else z
                xs = xbf
                ys = ybf
                dst = obf
                base = z
                step = tile_n
            else:
                xs = xf
                ys = yf
                dst = of
                base = g0
                step = N
            for i in range(n_t):
                xrow = xs[base + i * step:base + i * step + width]
                yrow = ys[base + i * step:base + i * step + width]
                orow = dst[base + i * step:base + i * step + width]
                a = ow_[0]
                bad = z
                for k in range(width):
                    cx = xrow[k]
                    cy = yrow[k]
                    m = mx_[k]
                    bad += not ((cx - cx == 0) & (cy - cy == 0) & (m == m) & (ow_[k] == a))
                shared = bad == 0
                n_shared += shared
                ow0 = a * f
                r0 = one / (ow0 + nw)
                for k in range(width):
                    cx = xrow[k]
                    cy = yrow[k]
                    mx = mx_[k]
                    my = my_[k]
                    cv = c_[k]
                    vx = vx_[k]
                    vy = vy_[k]
                    obs = (cx - cx == 0) & (cy - cy == 0)
                    has = mx == mx
                    ow = ow_[k]
                    ow = ow * f if has & (obs | dna) else ow
                    # one division per row where the weights are shared (the same value)
                    r = r0 if shared else one / (ow + nw)
                    upd = has & obs
                    mx1 = (ow * mx + nw * cx) * r
                    my1 = (ow * my + nw * cy) * r
                    mx1 = mx1 if mx != cx else mx
                    my1 = my1 if my != cy else my
                    dx = mx - mx1
                    dy = my - my1
                    ex = cx - mx1
                    ey = cy - my1
                    cv1 = (ow * (cv + dx * dy) + nw * (ex * ey)) * r
                    vx1 = (ow * (vx + dx * dx) + nw * (ex * ex)) * r
                    vy1 = (ow * (vy + dy * dy) + nw * (ey * ey)) * r
                    ow1 = ow + nw if adjust else one
                    first = (not has) & obs
                    mx_[k] = cx if first else (mx1 if upd else mx)
                    my_[k] = cy if first else (my1 if upd else my)
                    cv = cv1 if upd else cv
                    vx = vx1 if upd else vx
                    vy = vy1 if upd else vy
                    c_[k] = cv
                    vx_[k] = vx
                    vy_[k] = vy
                    ow_[k] = ow1 if upd else ow
                    n = n_[k] + obs
                    n_[k] = n
                    p = vx * vy
                    s = math.sqrt(p)
                    res = cv / (zero if p < 0 else s)
                    orow[k] = res if n >= minp else nan
            if colmajor:
                _transpose(obr, z, tile_n, of, g0 * T + t0, T, n_t, width, not colmajor)
    cnt[0] += n_shared
    cnt[1] += n_rows - n_shared
    cnt[2] += n_block
    cnt[3] += n_elem
    cnt[4] += n_edge


@numba.njit(**_JIT)
def _pow_steps(factor, deltas):  # pragma: no cover
    """``factor ** deltas`` with C's ``pow``, as pandas' loop computes each step's decay."""
    out = np.empty(deltas.size, dtype=np.float64)
    for i in range(deltas.size):
        out[i] = factor ** deltas[i]
    return out


# --- Python side: layouts, state, threads --------------------------------------------------------
def _as_float(a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    if a.ndim == 0:
        raise ValueError(f"values must have a time axis (ndim >= 1), got shape {a.shape}")
    return a


def _flat(a: np.ndarray) -> tuple[np.ndarray, bool]:
    """A 2-D ``(T, N)`` view (or copy) of time-first ``a``, C- or F-contiguous, and whether it is F."""
    T = a.shape[0]
    if a.ndim == 1:
        a = a.reshape(T, 1)
    elif a.ndim > 2:
        f = a.flags.f_contiguous and not a.flags.c_contiguous
        a = a.reshape(T, -1, order="F" if f else "C")
    if a.flags.c_contiguous:
        return a, False
    if a.flags.f_contiguous:
        return a, True
    # strided: one copy, in the order closer to its strides
    if abs(a.strides[0]) < abs(a.strides[1]):
        return np.asfortranarray(a), True
    return np.ascontiguousarray(a), False


def _memflat(a: np.ndarray, colmajor: bool) -> np.ndarray:
    """The flat view of a 2-D C- or F-contiguous array in memory order (column-major: (t, j) at j * T + t)."""
    return a.T.reshape(-1) if colmajor else a.reshape(-1)


def _ro(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a``.

    The kernels take their inputs read-only whatever the caller's flags (pandas' are read-only, NumPy's
    writable), so each compiles one specialisation per dtype rather than two; and :func:`_transpose`
    reads a read-only array in both directions, so it compiles once.
    """
    v = a.view()
    v.flags.writeable = False
    return v


def _buffers(n: int, dtype, colmajor: bool) -> list[np.ndarray]:
    """``n`` flat row-major tile buffers for one thread (empty for row-major input, which needs none),
    then a read-only view of the last (the output tile, which :func:`_transpose` reads back)."""
    bufs = [np.empty(_TILE_T * _TILE_N if colmajor else 0, dtype=dtype) for _ in range(n)]
    return bufs + [_ro(bufs[-1])]


def _unflat(out: np.ndarray, shape: tuple, colmajor: bool) -> np.ndarray:
    return out.reshape(shape, order="F" if colmajor else "C")


#: The kernels' path counters, in the order of their ``cnt`` argument (see :func:`last_paths`).
_PATH_KEYS = ("shared_rows", "general_rows", "block_tiles", "element_tiles", "edge_blocks")
_LAST = threading.local()


def last_paths() -> dict | None:
    """The code paths the last kernel call on this thread took (a debug and test hook), or None before any.

    Counted by the kernels themselves, in registers, and stored once per column range (no cost in
    the loops). Keys:

    - ``layout``: ``"C"`` (row-major: the block update runs on the input) or ``"F"`` (column-major:
      tiles are transposed into row-major buffers); ``shape``: the ``(T, N)`` of the flat input.
    - ``tile``: ``(steps, columns)`` of a column-major tile, ``None`` for row-major; ``micro``: the
      side of the square blocks tiles are copied in.
    - ``ranges``: one dict per column range a kernel call ran over, in column order: ``cols``
      ``(c0, c1)`` (row-major: a block of at most ``_ROW_BLOCK`` columns of a thread; column-major: a
      thread's columns, updated in tiles of ``tile[1]`` columns from ``c0``), and the counters below.
    - the counters, summed over the ranges: ``shared_rows`` / ``general_rows``, rows (time steps of
      a block of columns; column-major: of a tile's columns) that took the shared-weights loop /
      the per-column loop (``var``/``std``/``cov``/``corr``; 0 for ``sum`` and ``mean`` with times,
      which have one loop); ``block_tiles`` / ``element_tiles``, column-major tiles copied in 8 x 8
      blocks / element by element (narrower or shorter than a block); ``edge_blocks``, 8 x 8
      blocks shifted back to end at a tile's ragged edge (column-major only; counted on the way in).
    """
    paths = getattr(_LAST, "paths", None)
    if paths is None:
        return None
    return dict(paths, ranges=[dict(r) for r in paths["ranges"]])


def _run(flat: np.ndarray, colmajor: bool, kernel, call) -> None:
    """Run ``call(c0, c1, cnt)`` over the columns, threaded: column-major, one call per thread's range (the
    kernel walks it in tiles); row-major, one per block of at most ``_ROW_BLOCK`` columns of a thread's range.

    ``cnt``: a fresh counter array per call (``_PATH_KEYS``), reported by :func:`last_paths`. ``kernel``: the
    njit function ``call`` calls; while it has no specialisation for the data's dtype yet, Python's cyclic
    garbage collector is paused (:func:`~waxegg.wax.backends._threads.gc_paused_while_compiling`).
    """
    with gc_paused_while_compiling(kernel, flat.dtype):
        _run_blocks(flat, colmajor, call)


def _run_blocks(flat: np.ndarray, colmajor: bool, call) -> None:
    N = flat.shape[1]
    ranges = []  # list.append is atomic: the threads may add to it

    def counter(a, b):
        cnt = np.zeros(len(_PATH_KEYS), dtype=np.int64)
        ranges.append((a, b, cnt))
        return cnt

    if colmajor:
        run_blocks(lambda j0, j1: call(j0, j1, counter(j0, j1)), N, min_items=_MICRO, align=_MICRO)
    else:
        def rows_block(j0, j1):
            for c0 in range(j0, j1, _ROW_BLOCK):
                c1 = min(j1, c0 + _ROW_BLOCK)
                call(c0, c1, counter(c0, c1))

        run_blocks(rows_block, N, min_items=max(1, _ROW_BYTES_PER_THREAD // flat.itemsize), align=16)
    ranges.sort(key=lambda r: r[0])
    rows = [dict(cols=(a, b), **dict(zip(_PATH_KEYS, (int(v) for v in cnt)))) for a, b, cnt in ranges]
    _LAST.paths = dict(layout="F" if colmajor else "C", shape=tuple(flat.shape),
                       tile=(_TILE_T, _TILE_N) if colmajor else None, micro=_MICRO, ranges=rows,
                       **{k: sum(r[k] for r in rows) for k in _PATH_KEYS})


def _state_arrays(state, names, N: int, dtype, defaults) -> list[np.ndarray]:
    """Fresh per-column state arrays: copies of ``state``'s fields, or pandas' initial values."""
    arrays = []
    for name, default in zip(names, defaults):
        kind = np.int64 if name.endswith("nobs") else dtype
        if state is None:
            arrays.append(np.full(N, default, dtype=kind))
            continue
        value = np.asarray(getattr(state, name))
        if value.shape != (N,):
            raise ValueError(f"state.{name} has shape {value.shape}; these values need ({N},)")
        arrays.append(np.array(value, dtype=kind, copy=True))
    return arrays


def _consts(params: EWMParams, dtype):
    ft = np.dtype(dtype).type
    f = ft(1.0 - params.alpha)
    return f, f * f, ft(1.0 if params.adjust else params.alpha), ft(1.0)


def _pair(x, y) -> tuple[np.ndarray, np.ndarray, bool, tuple]:
    x, y = _as_float(x), _as_float(y)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    dtype = np.result_type(x.dtype, y.dtype)
    shape = x.shape
    fx, colmajor = _flat(x.astype(dtype, copy=False))
    fy = y.astype(dtype, copy=False)
    fy = fy.reshape(shape[0], -1, order="F" if colmajor else "C") if fy.ndim != 2 else fy
    fy = np.asfortranarray(fy) if colmajor else np.ascontiguousarray(fy)
    return fx, fy, colmajor, shape


# --- public kernels --------------------------------------------------------------------------------
def ewm_sum(values, params: EWMParams, *, state: EWMState | None = None) -> tuple[np.ndarray, EWMState]:
    """pandas' ``ewm(...).sum()`` along axis 0 of time-first ``values``.

    pandas raises ``NotImplementedError`` for ``adjust=False`` (its loop would ignore ``adjust``);
    so does this kernel. ``ignore_na`` decides whether missing values decay the sum.
    """
    if not params.adjust:
        raise NotImplementedError("sum is not implemented with adjust=False")
    values = _as_float(values)
    flat, colmajor = _flat(values)
    N = flat.shape[1]
    wt, owt, nobs = _state_arrays(state, ("weighted", "old_wt", "nobs"), N, flat.dtype, (np.nan, 1.0, 0))
    out = np.empty(flat.shape, dtype=flat.dtype, order="F" if colmajor else "C")
    f = _consts(params, flat.dtype)[0]
    dna, minp = not params.ignore_na, params.min_periods
    T, xf, of = flat.shape[0], _ro(_memflat(flat, colmajor)), _memflat(out, colmajor)
    _run(flat, colmajor, _sum_kernel,
         lambda c0, c1, cnt: _sum_kernel(xf, of, T, N, colmajor, *_buffers(2, flat.dtype, colmajor),
                                         _TILE_T, _TILE_N, c0, c1, wt, nobs, f, dna, minp, cnt))
    return _unflat(out, values.shape, colmajor), EWMState(wt, owt, nobs)


def ewm_mean_times(values, params: EWMParams, deltas, *,
                   state: EWMState | None = None) -> tuple[np.ndarray, EWMState]:
    """pandas' ``ewm(..., times=...).mean()`` along axis 0: irregular steps.

    Parameters
    ----------
    values : array (T, ...)
        Time-first float32/float64 values.
    params : EWMParams
        pandas' window with ``times``: ``com=1`` when only a (time) halflife is given (then
        ``adjust=False`` is allowed), else the centre of mass of ``com``/``span``/``alpha``.
    deltas : float64 array, (T - 1,) or (T,)
        The time steps divided by the halflife, in the same unit (pandas:
        ``np.diff(times.view(int64)) / halflife_in_that_unit``); step ``t`` decays the past weight by
        ``(1 - alpha) ** deltas[t - 1]``. Length ``T``: ``deltas[0]`` is the gap from the last time
        of the stream the ``state`` ends (ignored without ``state``); required when continuing.
    state : EWMState, optional
        The state returned by the previous chunk.
    """
    values = _as_float(values)
    flat, colmajor = _flat(values)
    T, N = flat.shape
    deltas = np.ascontiguousarray(deltas, dtype=np.float64).reshape(-1)
    if deltas.size == T - 1 and state is None:
        deltas = np.concatenate([np.zeros(min(T, 1)), deltas])
    if deltas.size != T:
        raise ValueError(f"deltas must have length T - 1 = {T - 1} (or T = {T}, first entry the gap from the "
                         f"state's last time; required with state=), got {deltas.size}")
    decay = _pow_steps(1.0 - params.alpha, deltas).astype(flat.dtype)
    wt, owt, nobs = _state_arrays(state, ("weighted", "old_wt", "nobs"), N, flat.dtype, (np.nan, 1.0, 0))
    out = np.empty(flat.shape, dtype=flat.dtype, order="F" if colmajor else "C")
    _, _, nw, one = _consts(params, flat.dtype)
    args = (nw, one, params.adjust, not params.ignore_na, params.half_alpha_blend, params.min_periods)
    xf, of = _ro(_memflat(flat, colmajor)), _memflat(out, colmajor)
    _run(flat, colmajor, _times_kernel,
         lambda c0, c1, cnt: _times_kernel(xf, of, T, N, colmajor, *_buffers(2, flat.dtype, colmajor),
                                           _TILE_T, _TILE_N, c0, c1, wt, owt, nobs, decay, *args, cnt))
    return _unflat(out, values.shape, colmajor), EWMState(wt, owt, nobs)


_COV_FIELDS = ("mean_x", "mean_y", "cov", "sum_wt", "sum_wt2", "old_wt", "nobs")
_COV_INIT = (np.nan, np.nan, 0.0, 1.0, 1.0, 1.0, 0)


def _var(values, params: EWMParams, bias: bool, state, root: bool) -> tuple[np.ndarray, EWMCovState]:
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"bias must be a bool, got {bias!r}")
    values = _as_float(values)
    flat, colmajor = _flat(values)
    T, N = flat.shape
    fields = ("mean_x",) + _COV_FIELDS[2:]
    mean, cov, swt, swt2, owt, nobs = _state_arrays(state, fields, N, flat.dtype, (np.nan,) + _COV_INIT[2:])
    out = np.empty(flat.shape, dtype=flat.dtype, order="F" if colmajor else "C")
    args = _consts(params, flat.dtype) + (params.adjust, not params.ignore_na, bool(bias), root,
                                          params.min_periods)
    st = (mean, cov, swt, swt2, owt, nobs)
    xf, of = _ro(_memflat(flat, colmajor)), _memflat(out, colmajor)
    _run(flat, colmajor, _var_kernel,
         lambda c0, c1, cnt: _var_kernel(xf, of, T, N, colmajor, *_buffers(2, flat.dtype, colmajor),
                                         _TILE_T, _TILE_N, c0, c1, *st, *args, cnt))
    return _unflat(out, values.shape, colmajor), EWMCovState(mean, mean, cov, swt, swt2, owt, nobs)


def ewm_var(values, params: EWMParams, *, bias: bool = False,
            state: EWMCovState | None = None) -> tuple[np.ndarray, EWMCovState]:
    """pandas' ``ewm(...).var(bias=bias)`` along axis 0 (``ewmcov(x, x)``, reading ``x`` once)."""
    return _var(values, params, bias, state, False)


def ewm_std(values, params: EWMParams, *, bias: bool = False,
            state: EWMCovState | None = None) -> tuple[np.ndarray, EWMCovState]:
    """pandas' ``ewm(...).std(bias=bias)``: ``zsqrt`` of :func:`ewm_var`, fused into the same pass."""
    return _var(values, params, bias, state, True)


def ewm_cov(x, y, params: EWMParams, *, bias: bool = False,
            state: EWMCovState | None = None) -> tuple[np.ndarray, EWMCovState]:
    """pandas' ``ewm(...).cov(other, bias=bias)`` of same-shaped ``x`` and ``y`` along axis 0.

    A step is an observation when both values are finite. The result has the dtype both
    inputs cast to and ``x``'s memory order.
    """
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"bias must be a bool, got {bias!r}")
    fx, fy, colmajor, shape = _pair(x, y)
    T, N = fx.shape
    st = _state_arrays(state, _COV_FIELDS, N, fx.dtype, _COV_INIT)
    out = np.empty(fx.shape, dtype=fx.dtype, order="F" if colmajor else "C")
    args = _consts(params, fx.dtype) + (params.adjust, not params.ignore_na, bool(bias), params.min_periods)
    xf, yf, of = _ro(_memflat(fx, colmajor)), _ro(_memflat(fy, colmajor)), _memflat(out, colmajor)
    _run(fx, colmajor, _cov_kernel,
         lambda c0, c1, cnt: _cov_kernel(xf, yf, of, T, N, colmajor, *_buffers(3, fx.dtype, colmajor),
                                         _TILE_T, _TILE_N, c0, c1, *st, *args, cnt))
    return _unflat(out, shape, colmajor), EWMCovState(*st)


_CORR_FIELDS = ("mean_x", "mean_y", "cov", "var_x", "var_y", "old_wt", "nobs")
_CORR_INIT = (np.nan, np.nan, 0.0, 0.0, 0.0, 1.0, 0)


def ewm_corr(x, y, params: EWMParams, *, state: EWMCorrState | None = None) -> tuple[np.ndarray, EWMCorrState]:
    """pandas' ``ewm(...).corr(other)``: ``cov(x, y) / zsqrt(var(x) * var(y))``, all biased, along axis 0.

    As in pandas (``prep_binary``), a step is an observation for all three moments only when both
    values are finite.
    """
    fx, fy, colmajor, shape = _pair(x, y)
    T, N = fx.shape
    st = _state_arrays(state, _CORR_FIELDS, N, fx.dtype, _CORR_INIT)
    out = np.empty(fx.shape, dtype=fx.dtype, order="F" if colmajor else "C")
    f, _, nw, one = _consts(params, fx.dtype)
    args = (f, nw, one, params.adjust, not params.ignore_na, params.min_periods)
    xf, yf, of = _ro(_memflat(fx, colmajor)), _ro(_memflat(fy, colmajor)), _memflat(out, colmajor)
    _run(fx, colmajor, _corr_kernel,
         lambda c0, c1, cnt: _corr_kernel(xf, yf, of, T, N, colmajor, *_buffers(3, fx.dtype, colmajor),
                                          _TILE_T, _TILE_N, c0, c1, *st, *args, cnt))
    return _unflat(out, shape, colmajor), EWMCorrState(*st)
