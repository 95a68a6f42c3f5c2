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

import threading
from dataclasses import dataclass

import numba
import numpy as np

from waxegg.wax._params import EWMParams
from waxegg.wax.backends._simd import BLOCK as _MICRO
from waxegg.wax.backends._simd import transpose_block
from waxegg.wax.backends._threads import run_blocks

__all__ = ["EWMState", "EWMCovState", "EWMCorrState", "ewm_sum", "ewm_var", "ewm_std", "ewm_cov", "ewm_corr",
           "ewm_mean_times", "last_paths"]

_JIT = dict(nogil=True, cache=True, error_model="numpy")

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


# --- transposition of column-major tiles -------------------------------------------------------
@numba.njit(**_JIT)
def _tile_in(big, T, t0, n_t, g0, width, small, W):  # pragma: no cover
    """``small[:n_t, :width] = big[t0:t0+n_t, g0:g0+width]``: column-major ``big`` into row-major ``small``, both flat.

    ``big`` holds element ``(t, j)`` at ``j * T + t``; ``small`` holds ``(i, g)`` at ``i * W + g``. In 8 x 8
    blocks; a ragged edge is covered by one block shifted back to end at the edge, which copies
    some elements twice with the same values. ``big`` is only read, so it may be read-only (pandas 3
    hands out read-only views); :func:`_tile_out` is the way back.

    Returns the path taken (see :func:`last_paths`): -1 for the element-by-element copy, else the
    number of 8 x 8 blocks shifted back to end at a ragged edge.
    """
    if width < _MICRO or n_t < _MICRO:
        for g in range(width):
            for i in range(n_t):
                small[i * W + g] = big[(g0 + g) * T + t0 + i]
        return -1
    shifted = 0
    for gb in range(0, width, _MICRO):
        g = min(gb, width - _MICRO)
        for ib in range(0, n_t, _MICRO):
            i = min(ib, n_t - _MICRO)
            shifted += (g != gb) | (i != ib)
            transpose_block(big, (g0 + g) * T + t0 + i, T, small, i * W + g, W)
    return shifted


@numba.njit(**_JIT)
def _tile_out(big, T, t0, n_t, g0, width, small, W):  # pragma: no cover
    """``big[t0:t0+n_t, g0:g0+width] = small[:n_t, :width]``: the reverse of :func:`_tile_in`."""
    if width < _MICRO or n_t < _MICRO:
        for g in range(width):
            for i in range(n_t):
                big[(g0 + g) * T + t0 + i] = small[i * W + g]
        return
    for gb in range(0, width, _MICRO):
        g = min(gb, width - _MICRO)
        for ib in range(0, n_t, _MICRO):
            i = min(ib, n_t - _MICRO)
            transpose_block(small, i * W + g, W, big, (g0 + g) * T + t0 + i, T)


# --- the block updates: rows t0:t1, columns c0:c1 of row-major x, state columns from s0 ---------
@numba.njit(**_JIT)
def _sum_rows(x, out, t0, t1, c0, c1, s0, wt, nobs, f, dna, minp):  # pragma: no cover
    """pandas' ``ewm(normalize=False)``: ``weighted = f * weighted; weighted += cur``."""
    nan = (f - f) / (f - f)  # NaN in the data's dtype
    width = c1 - c0
    # unit-stride views from index 0, so that LLVM sees consecutive accesses and vectorises
    wt = wt[s0:s0 + width]
    nobs = nobs[s0:s0 + width]
    for t in range(t0, t1):
        row = x[t, c0:c1]
        orow = out[t, c0:c1]
        for k in range(width):
            cur = row[k]
            w = wt[k]
            obs = cur - cur == 0  # finite: pandas treats inf as missing
            has = w == w
            w1 = f * w if has & (obs | dna) else w
            w1 = w1 + cur if has & obs else w1
            w1 = cur if (not has) & obs else w1
            n = nobs[k] + obs
            wt[k] = w1
            nobs[k] = n
            orow[k] = w1 if n >= minp else nan


@numba.njit(**_JIT)
def _times_rows(x, out, t0, t1, c0, c1, s0, wt, owt, nobs, decay, nw, one, adjust, dna, half, minp):  # pragma: no cover
    """pandas' ``ewm(normalize=True, deltas=...)``: the old weight decays by ``decay[t]`` at step ``t``."""
    nan = (one - one) / (one - one)
    width = c1 - c0
    # unit-stride views from index 0, so that LLVM sees consecutive accesses and vectorises
    wt = wt[s0:s0 + width]
    owt = owt[s0:s0 + width]
    nobs = nobs[s0:s0 + width]
    for t in range(t0, t1):
        row = x[t, c0:c1]
        orow = out[t, c0:c1]
        d = decay[t]
        for k in range(width):
            cur = row[k]
            w = wt[k]
            ow = owt[k]
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
            n = nobs[k] + obs
            wt[k] = w1
            owt[k] = ow
            nobs[k] = n
            orow[k] = w1 if n >= minp else nan


@numba.njit(**_JIT)
def _weights_shared(xrow, yrow, mean, owt, swt, swt2):  # pragma: no cover
    """Whether every column of the row observes both values, has a mean, and has the weights of column 0.

    Then the step's weights, their reciprocal and the bias correction are one scalar computation
    for the row, and the vector loop has no division (the weights depend only on a column's
    pattern of observations, so for data without missing values every column shares them). The
    scalar and the vector loop do the same operations on the same values: the results do not
    depend on which loop ran (nor on a column's neighbours).
    """
    if xrow.size == 0:
        return False
    a = owt[0]
    b = swt[0]
    c = swt2[0]
    bad = 0
    for k in range(xrow.size):
        cx = xrow[k]
        cy = yrow[k]
        m = mean[k]
        bad += not ((cx - cx == 0) & (cy - cy == 0) & (m == m) & (owt[k] == a) & (swt[k] == b) & (swt2[k] == c))
    return bad == 0


@numba.njit(**_JIT)
def _all_finite(xrow, yrow):  # pragma: no cover
    """Whether both rows hold only finite values (observations everywhere)."""
    bad = 0
    for k in range(xrow.size):
        cx = xrow[k]
        cy = yrow[k]
        bad += not ((cx - cx == 0) & (cy - cy == 0))
    return bad == 0


@numba.njit(**_JIT)
def _var_shared_row(row, orow, mean, cov, nobs, ow, nw, r, ratio, den, one, bias, root, minp):  # pragma: no cover
    """One step of ``_var_rows`` for a row whose columns share their weights (scalars here)."""
    nan = (one - one) / (one - one)
    zero = one - one
    for k in range(row.size):
        cur = row[k]
        m = mean[k]
        m1 = (ow * m + nw * cur) * r
        m1 = m1 if m != cur else m
        c = (ow * (cov[k] + (m - m1) * (m - m1)) + nw * ((cur - m1) * (cur - m1))) * r
        n = nobs[k] + 1
        mean[k] = m1
        cov[k] = c
        nobs[k] = n
        v = ratio * c
        v = c if bias else (v if den > 0 else nan)
        s = np.sqrt(v)
        v = (zero if v < 0 else s) if root else v
        orow[k] = v if n >= minp else nan


@numba.njit(**_JIT)
def _var_general_row(row, orow, mean, cov, swt, swt2, owt, nobs, f, f2, nw, one, adjust, dna, bias, root,
                     minp):  # pragma: no cover
    """One step of ``_var_rows``, each column with its own weights."""
    nan = (one - one) / (one - one)
    zero = one - one
    for k in range(row.size):
        cur = row[k]
        m = mean[k]
        c = cov[k]
        sw = swt[k]
        sw2 = swt2[k]
        ow = owt[k]
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
        c1_ = (ow * (c + (m - m1) * (m - m1)) + nw * ((cur - m1) * (cur - m1))) * r
        sw1 = sw + nw
        sw21 = sw2 + nw * nw
        if adjust:
            ow1 = ow + nw
        else:
            sw1 = sw1 / (ow + nw)  # pandas' division: the bias correction cancels, so keep its bits
            sw21 = sw21 / ((ow + nw) * (ow + nw))
            ow1 = one
        m = m1 if upd else m
        c = c1_ if upd else c
        sw = sw1 if upd else sw
        sw2 = sw21 if upd else sw2
        ow = ow1 if upd else ow
        m = cur if (not has) & obs else m
        n = nobs[k] + obs
        mean[k] = m
        cov[k] = c
        swt[k] = sw
        swt2[k] = sw2
        owt[k] = ow
        nobs[k] = n
        num = sw * sw
        den = num - sw2
        v = (num / den) * c
        v = c if bias else (v if den > 0 else nan)
        s = np.sqrt(v)
        v = (zero if v < 0 else s) if root else v  # pandas' zsqrt
        orow[k] = v if n >= minp else nan


@numba.njit(**_JIT)
def _var_rows(x, out, t0, t1, c0, c1, s0, mean, cov, swt, swt2, owt, nobs, f, f2, nw, one, adjust, dna, bias,
              root, minp, cnt):  # pragma: no cover
    """pandas' ``ewmcov(x, x)``, reading ``x`` once; ``root``: pandas' ``zsqrt`` of the result (std).

    Rows whose columns share their weights (see ``_weights_shared``) take the division-free loop;
    after such a row the columns still share them when the next row is all finite. ``cnt[0]`` /
    ``cnt[1]`` count the rows that took the shared / the per-column loop (see :func:`last_paths`).
    """
    width = c1 - c0
    # unit-stride views from index 0, so that LLVM sees consecutive accesses and vectorises
    mean = mean[s0:s0 + width]
    cov = cov[s0:s0 + width]
    swt = swt[s0:s0 + width]
    swt2 = swt2[s0:s0 + width]
    owt = owt[s0:s0 + width]
    nobs = nobs[s0:s0 + width]
    shared = False
    n_shared = 0
    for t in range(t0, t1):
        row = x[t, c0:c1]
        orow = out[t, c0:c1]
        shared = _all_finite(row, row) if shared else _weights_shared(row, row, mean, owt, swt, swt2)
        n_shared += shared
        if shared:
            # the scalar form of the weight updates in _var_general_row
            ow = owt[0] * f
            sw = swt[0] * f
            sw2 = swt2[0] * f2
            r = one / (ow + nw)
            sw = sw + nw
            sw2 = sw2 + nw * nw
            if adjust:
                ow1 = ow + nw
            else:
                sw = sw / (ow + nw)  # pandas' divisions (see _var_general_row)
                sw2 = sw2 / ((ow + nw) * (ow + nw))
                ow1 = one
            num = sw * sw
            den = num - sw2
            _var_shared_row(row, orow, mean, cov, nobs, ow, nw, r, num / den, den, one, bias, root, minp)
            swt[:] = sw
            swt2[:] = sw2
            owt[:] = ow1
        else:
            _var_general_row(row, orow, mean, cov, swt, swt2, owt, nobs, f, f2, nw, one, adjust, dna, bias, root,
                             minp)
    # counted in registers, stored once: the loops above see no extra array
    cnt[0] += n_shared
    cnt[1] += max(t1 - t0, 0) - n_shared


@numba.njit(**_JIT)
def _cov_rows(x, y, out, t0, t1, c0, c1, s0, mean_x, mean_y, cov, swt, swt2, owt, nobs, f, f2, nw, one, adjust,
          dna, bias, minp, cnt):  # pragma: no cover
    """pandas' ``ewmcov(x, y)``: an observation needs both values (see ``_var_rows``)."""
    nan = (one - one) / (one - one)
    width = c1 - c0
    mean_x = mean_x[s0:s0 + width]
    mean_y = mean_y[s0:s0 + width]
    cov = cov[s0:s0 + width]
    swt = swt[s0:s0 + width]
    swt2 = swt2[s0:s0 + width]
    owt = owt[s0:s0 + width]
    nobs = nobs[s0:s0 + width]
    n_shared = 0
    for t in range(t0, t1):
        xrow = x[t, c0:c1]
        yrow = y[t, c0:c1]
        orow = out[t, c0:c1]
        if _weights_shared(xrow, yrow, mean_x, owt, swt, swt2):
            n_shared += 1
            ow = owt[0] * f
            sw = swt[0] * f
            sw2 = swt2[0] * f2
            r = one / (ow + nw)
            sw = sw + nw
            sw2 = sw2 + nw * nw
            if adjust:
                ow1 = ow + nw
            else:
                sw = sw / (ow + nw)  # pandas' divisions (see _var_general_row)
                sw2 = sw2 / ((ow + nw) * (ow + nw))
                ow1 = one
            num = sw * sw
            den = num - sw2
            ratio = num / den
            for k in range(width):
                cx = xrow[k]
                cy = yrow[k]
                mx = mean_x[k]
                my = mean_y[k]
                mx1 = (ow * mx + nw * cx) * r
                my1 = (ow * my + nw * cy) * r
                mx1 = mx1 if mx != cx else mx
                my1 = my1 if my != cy else my
                c = (ow * (cov[k] + (mx - mx1) * (my - my1)) + nw * ((cx - mx1) * (cy - my1))) * r
                n = nobs[k] + 1
                mean_x[k] = mx1
                mean_y[k] = my1
                cov[k] = c
                nobs[k] = n
                v = ratio * c
                v = c if bias else (v if den > 0 else nan)
                orow[k] = v if n >= minp else nan
            # the common weights, in loops of their own (fewer arrays written in the loop above
            # keeps LLVM's runtime alias checks within the vectoriser's limit)
            swt[:] = sw
            swt2[:] = sw2
            owt[:] = ow1
            continue
        for k in range(width):
            cx = xrow[k]
            cy = yrow[k]
            mx = mean_x[k]
            my = mean_y[k]
            c = cov[k]
            sw = swt[k]
            sw2 = swt2[k]
            ow = owt[k]
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
            cv1 = (ow * (c + (mx - mx1) * (my - my1)) + nw * ((cx - mx1) * (cy - my1))) * r
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
            c = cv1 if upd else c
            sw = sw1 if upd else sw
            sw2 = sw21 if upd else sw2
            ow = ow1 if upd else ow
            n = nobs[k] + obs
            mean_x[k] = mx
            mean_y[k] = my
            cov[k] = c
            swt[k] = sw
            swt2[k] = sw2
            owt[k] = ow
            nobs[k] = n
            num = sw * sw
            den = num - sw2
            v = (num / den) * c
            v = c if bias else (v if den > 0 else nan)
            orow[k] = v if n >= minp else nan
    cnt[0] += n_shared
    cnt[1] += max(t1 - t0, 0) - n_shared


@numba.njit(**_JIT)
def _corr_rows(x, y, out, t0, t1, c0, c1, s0, mean_x, mean_y, cov, var_x, var_y, owt, nobs, f, nw, one, adjust,
           dna, minp, cnt):  # pragma: no cover
    """pandas' ``corr``: ``cov / zsqrt(var_x * var_y)`` of three biased ``ewmcov``, fused.

    pandas first masks each series with the other's missing values (``prep_binary``), so the three
    recursions share their observations, weights and means: one recursion, three moments.
    """
    nan = (one - one) / (one - one)
    zero = one - one
    width = c1 - c0
    mean_x = mean_x[s0:s0 + width]
    mean_y = mean_y[s0:s0 + width]
    cov = cov[s0:s0 + width]
    var_x = var_x[s0:s0 + width]
    var_y = var_y[s0:s0 + width]
    owt = owt[s0:s0 + width]
    nobs = nobs[s0:s0 + width]
    n_shared = 0
    for t in range(t0, t1):
        xrow = x[t, c0:c1]
        yrow = y[t, c0:c1]
        orow = out[t, c0:c1]
        shared = _weights_shared(xrow, yrow, mean_x, owt, owt, owt)
        n_shared += shared
        ow0 = owt[0] * f
        r0 = one / (ow0 + nw)
        ow10 = ow0 + nw if adjust else one
        for k in range(width):
            cx = xrow[k]
            cy = yrow[k]
            mx = mean_x[k]
            my = mean_y[k]
            c = cov[k]
            vx = var_x[k]
            vy = var_y[k]
            obs = (cx - cx == 0) & (cy - cy == 0)
            has = mx == mx
            ow = owt[k]
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
            c1_ = (ow * (c + dx * dy) + nw * (ex * ey)) * r
            vx1 = (ow * (vx + dx * dx) + nw * (ex * ex)) * r
            vy1 = (ow * (vy + dy * dy) + nw * (ey * ey)) * r
            ow1 = ow + nw if adjust else one
            first = (not has) & obs
            mean_x[k] = cx if first else (mx1 if upd else mx)
            mean_y[k] = cy if first else (my1 if upd else my)
            c = c1_ if upd else c
            vx = vx1 if upd else vx
            vy = vy1 if upd else vy
            cov[k] = c
            var_x[k] = vx
            var_y[k] = vy
            owt[k] = ow1 if upd else ow
            n = nobs[k] + obs
            nobs[k] = n
            p = vx * vy
            s = np.sqrt(p)
            res = c / (zero if p < 0 else s)
            orow[k] = res if n >= minp else nan
    cnt[0] += n_shared
    cnt[1] += max(t1 - t0, 0) - n_shared


# --- column-major drivers: the same updates on transposed tiles ---------------------------------
# ``xf``/``of``: the input/output as flat column-major arrays (element (t, j) at j * T + t);
# ``buf``/``obuf``: row-major tile buffers, ``bf``/``obf`` their flat views (allocated by the caller);
# ``cnt``: the range's path counters (``_PATH_KEYS``), added to once at the end.
@numba.njit(**_JIT)
def _sum_cols(xf, of, T, buf, bf, obuf, obf, j0, j1, wt, nobs, f, dna, minp, cnt):  # pragma: no cover
    tile_t, tile_n = buf.shape
    # not literals (0, True, False): each literal argument would compile another specialisation
    z = np.int64(0)
    n_block = 0
    n_elem = 0
    n_edge = 0
    for g0 in range(j0, j1, tile_n):
        width = min(j1, g0 + tile_n) - g0
        for t0 in range(0, T, tile_t):
            n_t = min(T, t0 + tile_t) - t0
            path = _tile_in(xf, T, t0, n_t, g0, width, bf, tile_n)
            n_elem += path < 0
            n_block += path >= 0
            n_edge += max(path, 0)
            _sum_rows(buf, obuf, z, n_t, z, width, g0, wt, nobs, f, dna, minp)
            _tile_out(of, T, t0, n_t, g0, width, obf, tile_n)
    cnt[2] += n_block
    cnt[3] += n_elem
    cnt[4] += n_edge


@numba.njit(**_JIT)
def _times_cols(xf, of, T, buf, bf, obuf, obf, j0, j1, wt, owt, nobs, decay, nw, one, adjust, dna, half,
                minp, cnt):  # pragma: no cover
    tile_t, tile_n = buf.shape
    z = np.int64(0)
    n_block = 0
    n_elem = 0
    n_edge = 0
    for g0 in range(j0, j1, tile_n):
        width = min(j1, g0 + tile_n) - g0
        for t0 in range(0, T, tile_t):
            n_t = min(T, t0 + tile_t) - t0
            path = _tile_in(xf, T, t0, n_t, g0, width, bf, tile_n)
            n_elem += path < 0
            n_block += path >= 0
            n_edge += max(path, 0)
            _times_rows(buf, obuf, z, n_t, z, width, g0, wt, owt, nobs, decay[t0:t0 + n_t], nw, one, adjust, dna,
                        half, minp)
            _tile_out(of, T, t0, n_t, g0, width, obf, tile_n)
    cnt[2] += n_block
    cnt[3] += n_elem
    cnt[4] += n_edge


@numba.njit(**_JIT)
def _var_cols(xf, of, T, buf, bf, obuf, obf, j0, j1, mean, cov, swt, swt2, owt, nobs, f, f2, nw, one, adjust, dna,
              bias, root, minp, cnt):  # pragma: no cover
    tile_t, tile_n = buf.shape
    z = np.int64(0)
    n_block = 0
    n_elem = 0
    n_edge = 0
    for g0 in range(j0, j1, tile_n):
        width = min(j1, g0 + tile_n) - g0
        for t0 in range(0, T, tile_t):
            n_t = min(T, t0 + tile_t) - t0
            path = _tile_in(xf, T, t0, n_t, g0, width, bf, tile_n)
            n_elem += path < 0
            n_block += path >= 0
            n_edge += max(path, 0)
            _var_rows(buf, obuf, z, n_t, z, width, g0, mean, cov, swt, swt2, owt, nobs, f, f2, nw, one, adjust, dna,
                      bias, root, minp, cnt)
            _tile_out(of, T, t0, n_t, g0, width, obf, tile_n)
    cnt[2] += n_block
    cnt[3] += n_elem
    cnt[4] += n_edge


@numba.njit(**_JIT)
def _cov_cols(xf, yf, of, T, xbuf, xbf, ybuf, ybf, obuf, obf, j0, j1, mean_x, mean_y, cov, swt, swt2, owt, nobs, f,
              f2, nw, one, adjust, dna, bias, minp, cnt):  # pragma: no cover
    tile_t, tile_n = xbuf.shape
    z = np.int64(0)
    n_block = 0
    n_elem = 0
    n_edge = 0
    for g0 in range(j0, j1, tile_n):
        width = min(j1, g0 + tile_n) - g0
        for t0 in range(0, T, tile_t):
            n_t = min(T, t0 + tile_t) - t0
            path = _tile_in(xf, T, t0, n_t, g0, width, xbf, tile_n)
            n_elem += path < 0
            n_block += path >= 0
            n_edge += max(path, 0)
            _tile_in(yf, T, t0, n_t, g0, width, ybf, tile_n)
            _cov_rows(xbuf, ybuf, obuf, z, n_t, z, width, g0, mean_x, mean_y, cov, swt, swt2, owt, nobs, f, f2, nw,
                      one, adjust, dna, bias, minp, cnt)
            _tile_out(of, T, t0, n_t, g0, width, obf, tile_n)
    cnt[2] += n_block
    cnt[3] += n_elem
    cnt[4] += n_edge


@numba.njit(**_JIT)
def _corr_cols(xf, yf, of, T, xbuf, xbf, ybuf, ybf, obuf, obf, j0, j1, mean_x, mean_y, cov, var_x, var_y, owt,
               nobs, f, nw, one, adjust, dna, minp, cnt):  # pragma: no cover
    tile_t, tile_n = xbuf.shape
    z = np.int64(0)
    n_block = 0
    n_elem = 0
    n_edge = 0
    for g0 in range(j0, j1, tile_n):
        width = min(j1, g0 + tile_n) - g0
        for t0 in range(0, T, tile_t):
            n_t = min(T, t0 + tile_t) - t0
            path = _tile_in(xf, T, t0, n_t, g0, width, xbf, tile_n)
            n_elem += path < 0
            n_block += path >= 0
            n_edge += max(path, 0)
            _tile_in(yf, T, t0, n_t, g0, width, ybf, tile_n)
            _corr_rows(xbuf, ybuf, obuf, z, n_t, z, width, g0, mean_x, mean_y, cov, var_x, var_y, owt, nobs, f, nw,
                       one, adjust, dna, minp, cnt)
            _tile_out(of, T, t0, n_t, g0, width, obf, tile_n)
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


def _colflat(a: np.ndarray) -> np.ndarray:
    """The flat view of a column-major 2-D array, column after column (element (t, j) at j * T + t)."""
    return a.T.reshape(-1)


def _buffers(n: int, dtype) -> list[np.ndarray]:
    """``n`` row-major tile buffers for one thread, each followed by its flat view."""
    bufs = []
    for _ in range(n):
        b = np.empty((_TILE_T, _TILE_N), dtype=dtype)
        bufs += [b, b.reshape(-1)]
    return bufs


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


def _run(flat: np.ndarray, colmajor: bool, rows_call, cols_call) -> None:
    """Run ``rows_call(c0, c1, cnt)`` (row-major) or ``cols_call(j0, j1, cnt)`` (column-major) over the columns, threaded.

    ``cnt``: a fresh counter array per call (``_PATH_KEYS``), reported by :func:`last_paths`.
    """
    N = flat.shape[1]
    ranges = []  # list.append is atomic: the threads may add to it

    def counter(a, b):
        cnt = np.zeros(len(_PATH_KEYS), dtype=np.int64)
        ranges.append((a, b, cnt))
        return cnt

    if colmajor:
        run_blocks(lambda j0, j1: cols_call(j0, j1, counter(j0, j1)), N, min_items=_MICRO, align=_MICRO)
    else:
        def rows_block(j0, j1):
            for c0 in range(j0, j1, _ROW_BLOCK):
                c1 = min(j1, c0 + _ROW_BLOCK)
                rows_call(c0, c1, counter(c0, c1))

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
    _run(flat, colmajor,
         lambda c0, c1, cnt: _sum_rows(flat, out, 0, flat.shape[0], c0, c1, c0, wt, nobs, f, dna, minp),
         lambda j0, j1, cnt: _sum_cols(_colflat(flat), _colflat(out), flat.shape[0], *_buffers(2, flat.dtype), j0,
                                        j1, wt, nobs, f, dna, minp, cnt))
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
    _run(flat, colmajor,
         lambda c0, c1, cnt: _times_rows(flat, out, 0, T, c0, c1, c0, wt, owt, nobs, decay, *args),
         lambda j0, j1, cnt: _times_cols(_colflat(flat), _colflat(out), T, *_buffers(2, flat.dtype), j0, j1, wt,
                                          owt, nobs, decay, *args, cnt))
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
    _run(flat, colmajor,
         lambda c0, c1, cnt: _var_rows(flat, out, 0, T, c0, c1, c0, *st, *args, cnt),
         lambda j0, j1, cnt: _var_cols(_colflat(flat), _colflat(out), T, *_buffers(2, flat.dtype), j0, j1, *st,
                                       *args, cnt))
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
    _run(fx, colmajor,
         lambda c0, c1, cnt: _cov_rows(fx, fy, out, 0, T, c0, c1, c0, *st, *args, cnt),
         lambda j0, j1, cnt: _cov_cols(_colflat(fx), _colflat(fy), _colflat(out), T, *_buffers(3, fx.dtype), j0,
                                       j1, *st, *args, cnt))
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
    _run(fx, colmajor,
         lambda c0, c1, cnt: _corr_rows(fx, fy, out, 0, T, c0, c1, c0, *st, *args, cnt),
         lambda j0, j1, cnt: _corr_cols(_colflat(fx), _colflat(fy), _colflat(out), T, *_buffers(3, fx.dtype), j0,
                                        j1, *st, *args, cnt))
    return _unflat(out, shape, colmajor), EWMCorrState(*st)
