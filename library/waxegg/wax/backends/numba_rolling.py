"""Numba kernels for pandas' rolling window statistics, with state carried across calls.

Each statistic is a port of pandas 3.1.1's algorithm (``pandas/_libs/window/aggregations.pyx``),
so results match ``DataFrame.rolling(...)`` to the last bits in float64:

- ``sum``/``mean``: ``roll_sum``/``roll_mean``: Kahan-compensated adds and removes (separate
  compensations), the count of consecutive equal values (a window of one repeated value returns
  it exactly), the sign clipping of ``neg_ct``;
- ``var``: ``roll_var``: Welford with Kahan compensation; a window whose sum of squares fell by
  more than ``1e3 * eps`` in a step is recomputed from scratch, as pandas does;
- ``cov``/``corr``: ``roll_cov``/``roll_corr``: Welford anchored at the window's first value,
  with pandas' cancellation test and recomputation;
- ``min``/``max``: the maximum of the window's finite values; where equal values differ (0.0 and
  -0.0), the newest one, which is what pandas' monotonic deque returns;
- ``median``: an order statistic, kept exactly in a sorted buffer per column;
- ``count``: pandas counts non-NaN values (inf counts) and applies ``min_periods`` to the number
  of rows in the window.

pandas treats +-inf as missing in every statistic but ``count``; so do these kernels. float32
input is computed in float32 with the same algorithms (pandas itself upcasts to float64).

Why this shape:

- Every kernel is a small serial ``@njit(nogil=True)`` loop over a range of columns, run on
  Python threads by :func:`~waxegg.wax.backends._threads.run_blocks`: no ``parallel=True``, so a
  statistic compiles in about a second and only for the layout it is called with.
- Row-major input is scanned row by row with the columns in the inner loop: the updates are
  written with selects (no branches), so LLVM vectorises them across columns. Column-major input
  (pandas' own storage) is scanned down each contiguous column, a few columns at a time, so that
  their independent dependency chains overlap.
- ``error_model="numpy"``: divisions carry no ZeroDivisionError check, which would stop
  vectorisation.
- A trailing window carries its state (:class:`RollingState`): the accumulators and the last
  ``window`` rows of input. A call with ``state=`` runs on the virtual sequence ``[tail; values]``,
  so a split stream equals the one-shot run bit for bit.
"""

from __future__ import annotations

import contextlib
import math
import threading
from dataclasses import dataclass

import numba
import numpy as np

from waxegg.wax._params import RollingParams
from waxegg.wax.backends._simd import BLOCK as _BLOCK
from waxegg.wax.backends._simd import transpose_block
from waxegg.wax.backends._threads import gc_paused_while_compiling, run_blocks

__all__ = ["RollingState", "rolling_sum", "rolling_mean", "rolling_var", "rolling_std", "rolling_min",
           "rolling_max", "rolling_median", "rolling_count", "rolling_cov", "rolling_corr", "last_paths"]

_JIT = dict(nogil=True, cache=True, error_model="numpy")
# Helpers called only from the kernels: LLVM inlines them itself (Numba-level inlining only slowed
# compiles), and they need no CPython or C wrapper, each of which would be compiled too. Nor a cache
# entry: a cached kernel carries its inlined helpers, and writing each helper's own entry was a tenth
# of a cold first call. Each helper is a compile of its own (its LLVM passes and machine code), so
# one-line tests such as "finite" (``v - v == 0``) and ``min``/``max`` of two ints (a builtin's
# implementation to compile) are written out in the kernels.
_INLINE = dict(_JIT, cache=False, no_cpython_wrapper=True, no_cfunc_wrapper=True)

#: Elements a thread should get at least, so that small calls run inline.
_MIN_WORK = 1 << 16


@dataclass(frozen=True, eq=False)
class RollingState:
    """The state of a trailing-window statistic after the last step of a call.

    Attributes
    ----------
    statistic : str
        The kernel that made it (``"sum"``, ``"mean"``, ``"var"``, ...).
    window, min_periods : int
        The window it belongs to.
    seen : int
        Steps seen so far (over all calls).
    tail : numpy array ``(min(window, seen), N)``
        The last rows of input, in the input's dtype.
    tail_other : numpy array or None
        The same for the second series of ``cov``/``corr``.
    acc : numpy array ``(k, N)`` or None
        The accumulators per column (statistic-specific rows), in the input's dtype.
    """

    statistic: str
    window: int
    min_periods: int
    seen: int
    tail: np.ndarray
    tail_other: np.ndarray | None = None
    acc: np.ndarray | None = None


# --------------------------------------------------------------------------------------------
# scalar steps, shared by the layouts


@numba.njit(**_INLINE)
def _isfinite(v):  # pragma: no cover
    return v - v == 0


@numba.njit(**_INLINE)
def _mean_step(o, v, n, s, ca, cr, neg, run, prev, zero, one):  # pragma: no cover
    """pandas' ``remove_mean(o)`` then ``add_mean(v)`` (missing values are skipped), as selects."""
    ook = o - o == 0  # finite
    y = -o - cr
    t = s + y
    cr = t - s - y if ook else cr
    s = t if ook else s
    n = n - one if ook else n
    neg = neg - one if ook & np.signbit(o) else neg
    vok = v - v == 0
    y = v - ca
    t = s + y
    ca = t - s - y if vok else ca
    s = t if vok else s
    n = n + one if vok else n
    neg = neg + one if vok & np.signbit(v) else neg
    run = (run + one if v == prev else one) if vok else run
    prev = v if vok else prev
    return n, s, ca, cr, neg, run, prev


@numba.njit(**_INLINE)
def _mean_value(n, s, neg, run, prev, minp, mean, zero, nan):  # pragma: no cover
    """pandas' ``calc_mean`` (``mean``) or ``calc_sum``."""
    if mean:
        r = s / n
        r = zero if (neg == zero) & (r < zero) else (zero if (neg == n) & (r > zero) else r)
        r = prev if run >= n else r
        return r if (n >= minp) & (n > zero) else nan
    r = prev * n if run >= n else s
    r = r if n >= minp else nan
    return zero if (n == zero) & (minp == zero) else r


@numba.njit(**_INLINE)
def _var_remove(o, n, m, q, cr, unstable, zero, one, tol):  # pragma: no cover
    """pandas' ``remove_var``; returns the new state and the unstable flag."""
    if o - o == 0:
        prev_m2 = q
        n = n - one
        if n != zero:
            prev_mean = m - cr
            y = o - cr
            t = y - m
            cr = t + m - y
            m = m - t / n
            q = q - (o - prev_mean) * (o - m)
            unstable = unstable | (prev_m2 * tol > q)
        else:
            m = zero
            q = zero
            unstable = False
    return n, m, q, cr, unstable


@numba.njit(**_INLINE)
def _var_add(v, n, m, q, ca, unstable, one, tol):  # pragma: no cover
    """pandas' ``add_var``."""
    if v - v == 0:
        prev_m2 = q
        n = n + one
        prev_mean = m - ca
        y = v - ca
        t = y - m
        ca = t + m - y
        m = m + t / n
        q = q + (v - prev_mean) * (v - m)
        unstable = unstable | (prev_m2 * tol > q)
    return n, m, q, ca, unstable


@numba.njit(**_INLINE)
def _var_value(n, q, minp, ddof, nan, root):  # pragma: no cover
    """pandas' ``calc_var`` (``minp`` already at least 1); ``root``: its ``zsqrt`` (negatives -> 0), the std."""
    v = q / (n - ddof) if (n >= minp) & (n > ddof) else nan
    s = np.sqrt(v)
    return (v - v if v < 0 else s) if root else v


@numba.njit(**_INLINE)
def _cov_remove(vx, vy, n, mx, my, ox, oy, sxy, sxx, syy, px, py, unstable, zero, one, tol):  # pragma: no cover
    """pandas' ``remove_cov`` (shared by ``roll_corr``)."""
    if _isfinite(vx) & _isfinite(vy):
        shx = vx - ox
        shy = vy - oy
        dx = shx - mx
        dy = shy - my
        n = n - one
        if n != zero:
            mx = mx - dx / n
            my = my - dy / n
            sxy = sxy - (shx - mx) * dy
            sxx = sxx - (shx - mx) * dx
            syy = syy - (shy - my) * dy
            px, py = _peak_dev(shx, shy, mx, my, px, py)
            unstable = unstable | _cancellation(sxy, sxx, syy, px, py, tol)
        else:
            mx = my = ox = oy = sxy = sxx = syy = px = py = zero
            unstable = False
    return n, mx, my, ox, oy, sxy, sxx, syy, px, py, unstable


@numba.njit(**_INLINE)
def _cov_add(vx, vy, n, mx, my, ox, oy, sxy, sxx, syy, px, py, unstable, zero, one, tol, big):  # pragma: no cover
    """pandas' ``add_cov`` (shared by ``roll_corr``)."""
    if _isfinite(vx) & _isfinite(vy):
        n = n + one
        if n == one:
            # pandas anchors the accumulators at the window's first value
            ox = vx if abs(vx) < big else zero
            oy = vy if abs(vy) < big else zero
        shx = vx - ox
        shy = vy - oy
        dx = shx - mx
        dy = shy - my
        mx = mx + dx / n
        my = my + dy / n
        sxy = sxy + (shx - mx) * dy
        sxx = sxx + (shx - mx) * dx
        syy = syy + (shy - my) * dy
        px, py = _peak_dev(shx, shy, mx, my, px, py)
        unstable = unstable | _cancellation(sxy, sxx, syy, px, py, tol)
    return n, mx, my, ox, oy, sxy, sxx, syy, px, py, unstable


@numba.njit(**_INLINE)
def _peak_dev(shx, shy, mx, my, px, py):  # pragma: no cover
    """pandas' ``track_peak_dev``."""
    dev_x = abs(shx - mx)
    dev_y = abs(shy - my)
    return (dev_x if dev_x > px else px), (dev_y if dev_y > py else py)


@numba.njit(**_INLINE)
def _cancellation(sxy, sxx, syy, px, py, tol):  # pragma: no cover
    """pandas' ``cancellation_suspected``."""
    nan_acc = (sxy != sxy) | (sxx != sxx) | (syy != syy)
    return nan_acc | (px * py * tol > abs(sxy)) | (px * px * tol > sxx) | (py * py * tol > syy)


@numba.njit(**_INLINE)
def _cov_value(n, sxy, sxx, syy, minp, ddof, corr, nan, zero, one):  # pragma: no cover
    """pandas' ``calc_cov`` / ``calc_corr`` (``minp`` already at least 1)."""
    if corr:
        val = sxy / np.sqrt(sxx * syy)
        val = one if val > one else (-one if val < -one else val)
        val = nan if (n <= zero) | (sxx == zero) | (syy == zero) else val
    else:
        val = nan if n <= ddof else sxy / (n - ddof)
    return nan if n < minp else val


@numba.njit(**_INLINE)
def _mean_values(n_, s_, neg_, run_, prev_, orow, width, minp, mean, zero, nan):  # pragma: no cover
    """:func:`_mean_value` of columns ``0:width`` into ``orow``, in a loop of its own after the update
    (as :func:`_cov_values`: the sum then skips the mean's divide, the mean the sum's selects).

    :func:`_mean_value`'s two branches are written out here, one per loop: calling it made a
    compile of its own (its lowering, LLVM passes and machine code) on every statistic's first call.
    """
    if mean:
        for k in range(width):
            n, run, prev = n_[k], run_[k], prev_[k]
            r = s_[k] / n
            r = zero if (neg_[k] == zero) & (r < zero) else (zero if (neg_[k] == n) & (r > zero) else r)
            r = prev if run >= n else r
            orow[k] = r if (n >= minp) & (n > zero) else nan
    else:
        for k in range(width):
            n, run, prev = n_[k], run_[k], prev_[k]
            r = prev * n if run >= n else s_[k]
            r = r if n >= minp else nan
            orow[k] = zero if (n == zero) & (minp == zero) else r


@numba.njit(**_INLINE)
def _cov_values(n_, sxy_, sxx_, syy_, orow, width, minp, ddof, corr, nan, zero, one):  # pragma: no cover
    """:func:`_cov_value` of columns ``0:width`` into ``orow``, in a loop of its own after the update.

    The two loops are the same text: inside each, ``corr`` is a known constant, so LLVM drops the
    other statistic's branch (in the update loop, a select computed both: corr's square root and
    divide for every cov, and cov's divide for every corr).
    """
    if corr:
        for k in range(width):
            orow[k] = _cov_value(n_[k], sxy_[k], sxx_[k], syy_[k], minp, ddof, corr, nan, zero, one)
    else:
        for k in range(width):
            orow[k] = _cov_value(n_[k], sxy_[k], sxx_[k], syy_[k], minp, ddof, corr, nan, zero, one)


# --------------------------------------------------------------------------------------------
# column-major input: blocks of K columns x TB steps, transposed through small L1 buffers
#
# Each thread walks K contiguous columns at once down the time axis: TB steps of each column (and
# the TB values leaving their windows) are copied into (TB, K) buffers, the statistic's step runs
# across the K columns exactly as in the row-major kernel (the same scalar helpers, so every column
# sees the same operations in the same order: results equal the row-major path bit for bit), and
# the (TB, K) results are copied back down the columns. The buffers stay in L1; the data is read
# and written once, in contiguous runs. K and TB are arguments, not constants: LLVM unrolls a loop
# of a known short trip count instead of vectorising it, and its vector loop over the K columns
# needs K >= 4 registers' worth of lanes (it interleaves 4), hence K = 256 bytes of the dtype.


def _col_k(dtype) -> int:
    return 256 // np.dtype(dtype).itemsize


#: Steps per column-major buffer.
_TB = 32


def _col_scratch(n_buffers: int, n_state: int, dtype, flag: bool = False) -> list[np.ndarray]:
    """A column-group kernel's scratch, one set per thread: ``n_buffers`` ``(TB, K)`` buffers, the ``(n_state, K)``
    state and (``flag``) ``K`` bools. Allocated here, not in the kernels: each ``np.empty`` / ``np.zeros`` a
    kernel calls is compiled with it (a few tenths of a second of its cold first call)."""
    K = _col_k(dtype)
    bufs = list(np.empty((n_buffers, _TB, K), dtype=dtype))
    bufs.append(np.empty((n_state, K), dtype=dtype))
    if flag:
        bufs.append(np.empty(K, dtype=np.bool_))
    return bufs


@numba.njit(**_INLINE)
def _gather(xt, tailt, b, nb, t0, tn, w, fresh, vin, vold):  # pragma: no cover
    """The ``(TB, K)`` buffers of columns ``b:b+nb``, steps ``t0:t0+tn`` of the ``(N, T)`` views ``xt``/``tailt``.

    ``vin[tt, k]`` is step ``t0 + tt`` of column ``b + k``; ``vold[tt, k]`` the value that leaves its
    window there (from the tail before the call's first steps; NaN before the stream, and for a window
    of one, ``fresh``, where pandas recomputes). Whole 8 x 8 blocks move through
    :func:`~waxegg.wax.backends._simd.transpose_block` (in registers; it indexes the C-contiguous
    arrays' memory flat, so no reshape is compiled); a ragged edge, or old values that reach into the
    tail, element by element. Returns the path: 0 both buffers by blocks, 1 ``vin`` only, 2 element by
    element.
    """
    T = xt.shape[1]
    L = tailt.shape[1]
    K = vin.shape[1]
    zero = xt.dtype.type(0)
    nan = zero / zero
    sub = xt[b:b + nb]
    tsub = tailt[b:b + nb]
    blocks = nb % _BLOCK == 0 and tn % _BLOCK == 0
    if blocks:
        for kb in range(0, nb, _BLOCK):
            for tb in range(0, tn, _BLOCK):
                transpose_block(xt, (b + kb) * T + t0 + tb, T, vin, tb * K + kb, K)
    else:
        for tt in range(tn):
            for k in range(nb):
                vin[tt, k] = sub[k, t0 + tt]
    r0 = t0 - w
    if blocks and not fresh and r0 >= 0:
        for kb in range(0, nb, _BLOCK):
            for tb in range(0, tn, _BLOCK):
                transpose_block(xt, (b + kb) * T + r0 + tb, T, vold, tb * K + kb, K)
        return 0
    for tt in range(tn):
        r = r0 + tt
        ok = not (fresh or r + L < 0)
        src = sub if r >= 0 else tsub
        i = r if r >= 0 else (r + L if ok else 0)
        for k in range(nb):
            vold[tt, k] = src[k, i] if ok else nan
    return 1 if blocks else 2


@numba.njit(**_INLINE)
def _scatter(vout, outt, b, nb, t0, tn):  # pragma: no cover
    """``outt[b + k, t0 + tt] = vout[tt, k]`` for ``k < nb``, ``tt < tn``: the way back of :func:`_gather`."""
    T = outt.shape[1]
    K = vout.shape[1]
    if nb % _BLOCK == 0 and tn % _BLOCK == 0:
        for kb in range(0, nb, _BLOCK):
            for tb in range(0, tn, _BLOCK):
                transpose_block(vout, tb * K + kb, K, outt, (b + kb) * T + t0 + tb, T)
        return
    osub = outt[b:b + nb]
    for tt in range(tn):
        for k in range(nb):
            osub[k, t0 + tt] = vout[tt, k]


@numba.njit(**_JIT)
def _sum_cols(xt, tailt, outt, acc, w, minp, mean, j0, j1, vin, vold, vout, st, paths):  # pragma: no cover
    """``_sum_rows`` on ``(N, T)`` views ``xt``/``tailt``/``outt`` of column-major arrays, columns ``j0:j1``;
    ``vin``/``vold``/``vout``: ``(TB, K)`` scratch, ``st``: ``(7, K)`` (see :func:`_col_scratch`)."""
    T = xt.shape[1]
    L = tailt.shape[1]
    TB, K = vin.shape
    zero = xt.dtype.type(0)
    one = xt.dtype.type(1)
    nan = zero / zero
    fresh = w <= 1
    fminp = zero + minp
    n_, s_, ca_, cr_, neg_, run_, prev_ = st[0], st[1], st[2], st[3], st[4], st[5], st[6]
    for b in range(j0, j1, K):
        nb = K if j1 - b > K else j1 - b
        for k in range(K):
            for q in range(st.shape[0]):
                st[q, k] = acc[q, b + k] if k < nb else zero
            if k >= nb:
                for tt in range(TB):
                    vin[tt, k] = nan
                    vold[tt, k] = nan
        for t0 in range(0, T, TB):
            tn = TB if T - t0 > TB else T - t0
            paths[_gather(xt, tailt, b, nb, t0, tn, w, fresh, vin, vold)] += 1
            for tt in range(tn):
                for k in range(K):
                    n, s, ca, cr, neg, run, prev = n_[k], s_[k], ca_[k], cr_[k], neg_[k], run_[k], prev_[k]
                    if fresh:
                        n, s, ca, cr, neg, run, prev = zero, zero, zero, zero, zero, zero, nan
                    n, s, ca, cr, neg, run, prev = _mean_step(vold[tt, k], vin[tt, k], n, s, ca, cr, neg, run, prev, zero, one)
                    n_[k], s_[k], ca_[k], cr_[k], neg_[k], run_[k], prev_[k] = n, s, ca, cr, neg, run, prev
                _mean_values(n_, s_, neg_, run_, prev_, vout[tt], K, fminp, mean, zero, nan)
            _scatter(vout, outt, b, nb, t0, tn)
        for k in range(nb):
            for q in range(st.shape[0]):
                acc[q, b + k] = st[q, k]


@numba.njit(**_JIT)
def _var_cols(xt, tailt, outt, acc, w, minp, ddof, tol, root, j0, j1, vin, vold, vout, st, flag,
              paths):  # pragma: no cover
    """``_var_rows`` on ``(N, T)`` views of column-major arrays (scratch as in :func:`_sum_cols`; ``flag``: ``K``)."""
    T = xt.shape[1]
    L = tailt.shape[1]
    TB, K = vin.shape
    zero = xt.dtype.type(0)
    one = xt.dtype.type(1)
    nan = zero / zero
    fresh = w <= 1
    fminp = zero + (minp if minp > 1 else 1)
    fddof = zero + ddof
    n_, m_, q_, ca_, cr_ = st[0], st[1], st[2], st[3], st[4]
    for b in range(j0, j1, K):
        nb = K if j1 - b > K else j1 - b
        for k in range(K):
            for q in range(st.shape[0]):
                st[q, k] = acc[q, b + k] if k < nb else zero
            if k >= nb:
                for tt in range(TB):
                    vin[tt, k] = nan
                    vold[tt, k] = nan
        for t0 in range(0, T, TB):
            tn = TB if T - t0 > TB else T - t0
            paths[_gather(xt, tailt, b, nb, t0, tn, w, fresh, vin, vold)] += 1
            for tt in range(tn):
                anyu = False
                for k in range(K):
                    n, m, q, ca, cr = n_[k], m_[k], q_[k], ca_[k], cr_[k]
                    if fresh:
                        n, m, q, ca, cr = zero, zero, zero, zero, zero
                    n, m, q, cr, u = _var_remove(vold[tt, k], n, m, q, cr, False, zero, one, tol)
                    n, m, q, ca, u = _var_add(vin[tt, k], n, m, q, ca, u, one, tol)
                    n_[k], m_[k], q_[k], ca_[k], cr_[k] = n, m, q, ca, cr
                    flag[k] = u
                    anyu |= u
                    vout[tt, k] = _var_value(n, q, fminp, fddof, nan, root)
                if anyu:
                    t = t0 + tt
                    for k in range(nb):
                        if flag[k]:
                            col = xt[b + k]
                            tcol = tailt[b + k]
                            n = m = q = ca = zero
                            u = False
                            for i in range(t - w + 1 if t - w + 1 > -L else -L, t + 1):
                                v = col[i] if i >= 0 else tcol[L + i]
                                n, m, q, ca, u = _var_add(v, n, m, q, ca, u, one, tol)
                            n_[k], m_[k], q_[k], ca_[k], cr_[k] = n, m, q, ca, zero
                            vout[tt, k] = _var_value(n, q, fminp, fddof, nan, root)
            _scatter(vout, outt, b, nb, t0, tn)
        for k in range(nb):
            for q in range(st.shape[0]):
                acc[q, b + k] = st[q, k]


@numba.njit(**_JIT)
def _cov_cols(xt, yt, txt, tyt, outt, acc, w, minp, ddof, corr, tol, big, j0, j1, vx, vy, ux, uy, vout, st, flag,
              paths):  # pragma: no cover
    """``_cov_rows`` on ``(N, T)`` views of column-major arrays (scratch as in :func:`_var_cols`)."""
    T = xt.shape[1]
    L = txt.shape[1]
    TB, K = vx.shape
    zero = xt.dtype.type(0)
    one = xt.dtype.type(1)
    nan = zero / zero
    fresh = w <= 1
    fminp = xt.dtype.type(max(minp, 1))
    fddof = xt.dtype.type(ddof)
    a0, a1, a2, a3, a4, a5, a6, a7, a8, a9 = st[0], st[1], st[2], st[3], st[4], st[5], st[6], st[7], st[8], st[9]
    for b in range(j0, j1, K):
        nb = min(K, j1 - b)
        for k in range(K):
            for q in range(st.shape[0]):
                st[q, k] = acc[q, b + k] if k < nb else zero
            if k >= nb:
                for tt in range(TB):
                    vx[tt, k] = nan
                    vy[tt, k] = nan
                    ux[tt, k] = nan
                    uy[tt, k] = nan
        for t0 in range(0, T, TB):
            tn = min(TB, T - t0)
            paths[_gather(xt, txt, b, nb, t0, tn, w, fresh, vx, ux)] += 1
            _gather(yt, tyt, b, nb, t0, tn, w, fresh, vy, uy)
            for tt in range(tn):
                anyu = False
                for k in range(K):
                    n, mx, my, gx, gy, sxy, sxx, syy, px, py = (a0[k], a1[k], a2[k], a3[k], a4[k], a5[k], a6[k],
                                                                a7[k], a8[k], a9[k])
                    if fresh:
                        n = mx = my = gx = gy = sxy = sxx = syy = px = py = zero
                    n, mx, my, gx, gy, sxy, sxx, syy, px, py, u = _cov_remove(
                        ux[tt, k], uy[tt, k], n, mx, my, gx, gy, sxy, sxx, syy, px, py, False, zero, one, tol)
                    n, mx, my, gx, gy, sxy, sxx, syy, px, py, u = _cov_add(
                        vx[tt, k], vy[tt, k], n, mx, my, gx, gy, sxy, sxx, syy, px, py, u, zero, one, tol, big)
                    a0[k], a1[k], a2[k], a3[k], a4[k], a5[k], a6[k], a7[k], a8[k], a9[k] = (n, mx, my, gx, gy, sxy,
                                                                                            sxx, syy, px, py)
                    flag[k] = u
                    anyu |= u
                _cov_values(a0, a5, a6, a7, vout[tt], K, fminp, fddof, corr, nan, zero, one)
                if anyu:
                    t = t0 + tt
                    for k in range(nb):
                        if flag[k]:
                            cx, cy, tcx, tcy = xt[b + k], yt[b + k], txt[b + k], tyt[b + k]
                            n = mx = my = gx = gy = sxy = sxx = syy = px = py = zero
                            u = False
                            for i in range(max(t - w + 1, -L), t + 1):
                                vxi = cx[i] if i >= 0 else tcx[L + i]
                                vyi = cy[i] if i >= 0 else tcy[L + i]
                                n, mx, my, gx, gy, sxy, sxx, syy, px, py, u = _cov_add(
                                    vxi, vyi, n, mx, my, gx, gy, sxy, sxx, syy, px, py, u, zero, one, tol, big)
                            a0[k], a1[k], a2[k], a3[k], a4[k], a5[k], a6[k], a7[k], a8[k], a9[k] = (
                                n, mx, my, gx, gy, sxy, sxx, syy, px, py)
                            vout[tt, k] = _cov_value(n, sxy, sxx, syy, fminp, fddof, corr, nan, zero, one)
            _scatter(vout, outt, b, nb, t0, tn)
        for k in range(nb):
            for q in range(st.shape[0]):
                acc[q, b + k] = st[q, k]


@numba.njit(**_JIT)
def _count_cols(xt, tailt, outt, acc, w, minp, seen, j0, j1, vin, vold, vout, st, paths):  # pragma: no cover
    """``_count_rows`` on ``(N, T)`` views of column-major arrays (scratch as in :func:`_sum_cols`)."""
    T = xt.shape[1]
    L = tailt.shape[1]
    TB, K = vin.shape
    zero = xt.dtype.type(0)
    one = xt.dtype.type(1)
    nan = zero / zero
    c_ = st[0]
    for b in range(j0, j1, K):
        nb = K if j1 - b > K else j1 - b
        for k in range(K):
            for q in range(st.shape[0]):
                st[q, k] = acc[q, b + k] if k < nb else zero
            if k >= nb:
                for tt in range(TB):
                    vin[tt, k] = nan
                    vold[tt, k] = nan
        for t0 in range(0, T, TB):
            tn = TB if T - t0 > TB else T - t0
            paths[_gather(xt, tailt, b, nb, t0, tn, w, False, vin, vold)] += 1
            for tt in range(tn):
                enough = (seen + t0 + tt + 1 if seen + t0 + tt + 1 < w else w) >= minp
                for k in range(K):
                    o = vold[tt, k]
                    v = vin[tt, k]
                    c = c_[k] - (one if o == o else zero) + (one if v == v else zero)
                    c_[k] = c
                    vout[tt, k] = c if enough else nan
            _scatter(vout, outt, b, nb, t0, tn)
        for k in range(nb):
            for q in range(st.shape[0]):
                acc[q, b + k] = st[q, k]


# --------------------------------------------------------------------------------------------
# trailing windows: sum and mean


@numba.njit(**_JIT)
def _sum_rows(x, tail, out, acc, nanrow, w, minp, mean, j0, j1):  # pragma: no cover
    """Rows of a row-major ``x`` (columns ``j0:j1``), the ``tail`` rows before them, state in ``acc``."""
    T = x.shape[0]
    L = tail.shape[0]
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    nan = zero / zero
    n_, s_, ca_, cr_, neg_, run_, prev_ = (acc[0, j0:j1], acc[1, j0:j1], acc[2, j0:j1], acc[3, j0:j1],
                                          acc[4, j0:j1], acc[5, j0:j1], acc[6, j0:j1])
    fresh = w <= 1  # pandas recomputes windows that do not overlap the previous one
    fminp = zero + minp
    for t in range(T):
        r = t - w
        if fresh or r + L < 0:
            old = nanrow[j0:j1]
        elif r >= 0:
            old = x[r, j0:j1]
        else:
            old = tail[L + r, j0:j1]
        row = x[t, j0:j1]
        orow = out[t, j0:j1]
        for k in range(j1 - j0):
            n, s, ca, cr, neg, run, prev = n_[k], s_[k], ca_[k], cr_[k], neg_[k], run_[k], prev_[k]
            if fresh:
                n, s, ca, cr, neg, run, prev = zero, zero, zero, zero, zero, zero, nan
            n, s, ca, cr, neg, run, prev = _mean_step(old[k], row[k], n, s, ca, cr, neg, run, prev, zero, one)
            n_[k], s_[k], ca_[k], cr_[k], neg_[k], run_[k], prev_[k] = n, s, ca, cr, neg, run, prev
        _mean_values(n_, s_, neg_, run_, prev_, orow, j1 - j0, fminp, mean, zero, nan)


@numba.njit(**_JIT)
def _sum_bounds(xt, outt, start, end, monotonic, minp, mean, j0, j1):  # pragma: no cover
    """pandas' ``roll_sum``/``roll_mean`` with explicit bounds, columns ``j0:j1`` of ``xt = x.T``."""
    zero = xt.dtype.type(0)
    one = xt.dtype.type(1)
    nan = zero / zero
    fminp = zero + minp
    for j in range(j0, j1):
        col = xt[j]
        n = s = ca = cr = neg = run = zero
        prev = nan
        for i in range(len(start)):
            si, ei = start[i], end[i]
            if i == 0 or not monotonic or si >= end[i - 1]:
                n = s = ca = cr = neg = run = zero
                prev = nan
                for q in range(si, ei):
                    n, s, ca, cr, neg, run, prev = _mean_step(nan, col[q], n, s, ca, cr, neg, run, prev, zero, one)
            else:
                for q in range(start[i - 1], si):
                    n, s, ca, cr, neg, run, prev = _mean_step(col[q], nan, n, s, ca, cr, neg, run, prev, zero, one)
                for q in range(end[i - 1], ei):
                    n, s, ca, cr, neg, run, prev = _mean_step(nan, col[q], n, s, ca, cr, neg, run, prev, zero, one)
            outt[j, i] = _mean_value(n, s, neg, run, prev, fminp, mean, zero, nan)


# --------------------------------------------------------------------------------------------
# trailing windows: var


@numba.njit(**_JIT)
def _var_rows(x, tail, out, acc, nanrow, w, minp, ddof, tol, root, j0, j1, flag):  # pragma: no cover
    """Row-major ``roll_var`` (``root``: its ``zsqrt``, the std); a column flagged unstable is recomputed
    over its window (``flag``: ``j1 - j0`` bools of scratch)."""
    T = x.shape[0]
    L = tail.shape[0]
    width = j1 - j0
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    nan = zero / zero
    fminp = zero + (minp if minp > 1 else 1)
    fddof = zero + ddof
    n_, m_, q_, ca_, cr_ = acc[0, j0:j1], acc[1, j0:j1], acc[2, j0:j1], acc[3, j0:j1], acc[4, j0:j1]
    fresh = w <= 1
    for t in range(T):
        r = t - w
        if fresh or r + L < 0:
            old = nanrow[j0:j1]
        elif r >= 0:
            old = x[r, j0:j1]
        else:
            old = tail[L + r, j0:j1]
        row = x[t, j0:j1]
        orow = out[t, j0:j1]
        anyu = False
        for k in range(width):
            n, m, q, ca, cr = n_[k], m_[k], q_[k], ca_[k], cr_[k]
            if fresh:
                n, m, q, ca, cr = zero, zero, zero, zero, zero
            n, m, q, cr, u = _var_remove(old[k], n, m, q, cr, False, zero, one, tol)
            n, m, q, ca, u = _var_add(row[k], n, m, q, ca, u, one, tol)
            n_[k], m_[k], q_[k], ca_[k], cr_[k] = n, m, q, ca, cr
            flag[k] = u
            anyu |= u
            orow[k] = _var_value(n, q, fminp, fddof, nan, root)
        if anyu:
            for k in range(width):
                if flag[k]:
                    j = j0 + k
                    n = m = q = ca = zero
                    u = False
                    for i in range(t - w + 1 if t - w + 1 > -L else -L, t + 1):
                        v = x[i, j] if i >= 0 else tail[L + i, j]
                        n, m, q, ca, u = _var_add(v, n, m, q, ca, u, one, tol)
                    n_[k], m_[k], q_[k], ca_[k], cr_[k] = n, m, q, ca, zero
                    orow[k] = _var_value(n, q, fminp, fddof, nan, root)


@numba.njit(**_JIT)
def _var_bounds(xt, outt, start, end, monotonic, minp, ddof, tol, root, j0, j1):  # pragma: no cover
    """pandas' ``roll_var`` with explicit bounds (``root``: its ``zsqrt``)."""
    zero = xt.dtype.type(0)
    one = xt.dtype.type(1)
    nan = zero / zero
    fminp = zero + (minp if minp > 1 else 1)
    fddof = zero + ddof
    for j in range(j0, j1):
        col = xt[j]
        n = m = q = ca = cr = zero
        u = False
        for i in range(len(start)):
            si, ei = start[i], end[i]
            recompute = i == 0 or not monotonic or si >= end[i - 1]
            if not recompute:
                for p in range(start[i - 1], si):
                    n, m, q, cr, u = _var_remove(col[p], n, m, q, cr, u, zero, one, tol)
                for p in range(end[i - 1], ei):
                    n, m, q, ca, u = _var_add(col[p], n, m, q, ca, u, one, tol)
            if recompute or u:
                n = m = q = ca = cr = zero
                for p in range(si, ei):
                    n, m, q, ca, u = _var_add(col[p], n, m, q, ca, u, one, tol)
                u = False
            outt[j, i] = _var_value(n, q, fminp, fddof, nan, root)


# --------------------------------------------------------------------------------------------
# trailing windows: cov and corr


@numba.njit(**_JIT)
def _cov_rows(x, y, tx, ty, out, acc, nanrow, w, minp, ddof, corr, tol, big, j0, j1, flag):  # pragma: no cover
    """Row-major ``roll_cov``/``roll_corr``; a column flagged unstable is recomputed over its window
    (``flag``: ``j1 - j0`` bools of scratch)."""
    T = x.shape[0]
    L = tx.shape[0]
    width = j1 - j0
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    nan = zero / zero
    fminp = x.dtype.type(max(minp, 1))
    fddof = x.dtype.type(ddof)
    a0, a1, a2, a3, a4 = acc[0, j0:j1], acc[1, j0:j1], acc[2, j0:j1], acc[3, j0:j1], acc[4, j0:j1]
    a5, a6, a7, a8, a9 = acc[5, j0:j1], acc[6, j0:j1], acc[7, j0:j1], acc[8, j0:j1], acc[9, j0:j1]
    fresh = w <= 1
    for t in range(T):
        r = t - w
        if fresh or r + L < 0:
            ox = oy = nanrow[j0:j1]
        elif r >= 0:
            ox, oy = x[r, j0:j1], y[r, j0:j1]
        else:
            ox, oy = tx[L + r, j0:j1], ty[L + r, j0:j1]
        rx, ry = x[t, j0:j1], y[t, j0:j1]
        orow = out[t, j0:j1]
        anyu = False
        for k in range(width):
            n, mx, my, gx, gy, sxy, sxx, syy, px, py = a0[k], a1[k], a2[k], a3[k], a4[k], a5[k], a6[k], a7[k], a8[k], a9[k]
            if fresh:
                n = mx = my = gx = gy = sxy = sxx = syy = px = py = zero
            n, mx, my, gx, gy, sxy, sxx, syy, px, py, u = _cov_remove(
                ox[k], oy[k], n, mx, my, gx, gy, sxy, sxx, syy, px, py, False, zero, one, tol)
            n, mx, my, gx, gy, sxy, sxx, syy, px, py, u = _cov_add(
                rx[k], ry[k], n, mx, my, gx, gy, sxy, sxx, syy, px, py, u, zero, one, tol, big)
            a0[k], a1[k], a2[k], a3[k], a4[k], a5[k], a6[k], a7[k], a8[k], a9[k] = n, mx, my, gx, gy, sxy, sxx, syy, px, py
            flag[k] = u
            anyu |= u
        _cov_values(a0, a5, a6, a7, orow, width, fminp, fddof, corr, nan, zero, one)
        if anyu:
            for k in range(width):
                if flag[k]:
                    j = j0 + k
                    n = mx = my = gx = gy = sxy = sxx = syy = px = py = zero
                    u = False
                    for i in range(max(t - w + 1, -L), t + 1):
                        vx = x[i, j] if i >= 0 else tx[L + i, j]
                        vy = y[i, j] if i >= 0 else ty[L + i, j]
                        n, mx, my, gx, gy, sxy, sxx, syy, px, py, u = _cov_add(
                            vx, vy, n, mx, my, gx, gy, sxy, sxx, syy, px, py, u, zero, one, tol, big)
                    a0[k], a1[k], a2[k], a3[k], a4[k], a5[k], a6[k], a7[k], a8[k], a9[k] = n, mx, my, gx, gy, sxy, sxx, syy, px, py
                    orow[k] = _cov_value(n, sxy, sxx, syy, fminp, fddof, corr, nan, zero, one)


@numba.njit(**_JIT)
def _cov_bounds(xt, yt, outt, start, end, monotonic, minp, ddof, corr, tol, big, j0, j1):  # pragma: no cover
    """pandas' ``roll_cov``/``roll_corr`` with explicit bounds."""
    zero = xt.dtype.type(0)
    one = xt.dtype.type(1)
    nan = zero / zero
    fminp = xt.dtype.type(max(minp, 1))
    fddof = xt.dtype.type(ddof)
    for j in range(j0, j1):
        cx, cy = xt[j], yt[j]
        n = mx = my = gx = gy = sxy = sxx = syy = px = py = zero
        u = False
        for i in range(len(start)):
            si, ei = start[i], end[i]
            recompute = i == 0 or not monotonic or si >= end[i - 1]
            if not recompute:
                for p in range(start[i - 1], si):
                    n, mx, my, gx, gy, sxy, sxx, syy, px, py, u = _cov_remove(
                        cx[p], cy[p], n, mx, my, gx, gy, sxy, sxx, syy, px, py, u, zero, one, tol)
                for p in range(end[i - 1], ei):
                    n, mx, my, gx, gy, sxy, sxx, syy, px, py, u = _cov_add(
                        cx[p], cy[p], n, mx, my, gx, gy, sxy, sxx, syy, px, py, u, zero, one, tol, big)
            if recompute or u:
                n = mx = my = gx = gy = sxy = sxx = syy = px = py = zero
                for p in range(si, ei):
                    n, mx, my, gx, gy, sxy, sxx, syy, px, py, u = _cov_add(
                        cx[p], cy[p], n, mx, my, gx, gy, sxy, sxx, syy, px, py, u, zero, one, tol, big)
                u = False
            outt[j, i] = _cov_value(n, sxy, sxx, syy, fminp, fddof, corr, nan, zero, one)
            if not monotonic:
                n = mx = my = gx = gy = sxy = sxx = syy = px = py = zero


# --------------------------------------------------------------------------------------------
# trailing windows: count (pandas counts non-NaN values, inf included)


@numba.njit(**_JIT)
def _count_rows(x, tail, out, acc, nanrow, w, minp, seen, j0, j1):  # pragma: no cover
    T = x.shape[0]
    L = tail.shape[0]
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    nan = zero / zero
    c_ = acc[0, j0:j1]
    for t in range(T):
        r = t - w
        if r + L < 0:
            old = nanrow[j0:j1]
        elif r >= 0:
            old = x[r, j0:j1]
        else:
            old = tail[L + r, j0:j1]
        row = x[t, j0:j1]
        orow = out[t, j0:j1]
        enough = (seen + t + 1 if seen + t + 1 < w else w) >= minp
        for k in range(j1 - j0):
            o = old[k]
            v = row[k]
            c = c_[k] - (one if o == o else zero) + (one if v == v else zero)
            c_[k] = c
            orow[k] = c if enough else nan


# --------------------------------------------------------------------------------------------
# trailing windows: min and max (blocked prefix/suffix extremes, branch-free)
#
# The virtual sequence [tail; x] is cut into blocks: the tail (shorter than the window), then
# blocks of ``w`` steps. A window spans at most the previous block and the current one, so its
# maximum is that of the previous block's suffix from the window start and the current block's
# prefix. Ties keep the newer value, as pandas' deque does (it pops an older value equal to a new
# one): that only shows as the sign of a zero. ``min`` is ``-max(-x)``; missing values enter as
# -inf and a window is NaN unless it holds ``max(min_periods, 1)`` finite values.


@numba.njit(**_JIT)
def _max_rows(x, tail, out, scratch, w, minp, sign, j0, j1):  # pragma: no cover
    """Row-major: the same blocks, every column of ``j0:j1`` at once (``scratch``: ``(w + 2, j1 - j0)``)."""
    T = x.shape[0]
    L = tail.shape[0]
    width = j1 - j0
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    nan = zero / zero
    ninf = -one / zero
    sign = zero + sign
    minp = zero + (minp if minp > 1 else 1)
    suffix = scratch[:w]
    pre = scratch[w]
    cnt = scratch[w + 1]
    for k in range(width):
        cnt[k] = zero
        pre[k] = ninf
    for i in range(L - 1, -1, -1):
        row = tail[i, j0:j1]
        srow = suffix[i]
        nrow = suffix[i + 1] if i + 1 < L else pre  # pre holds -inf here
        for k in range(width):
            v = row[k]
            ok = v - v == 0
            cnt[k] += one if ok else zero
            v = sign * v if ok else ninf
            a = nrow[k]
            srow[k] = v if v > a else a
    pbs = 0
    bs = L
    for t in range(T):
        i = L + t
        if i - bs == w:
            for k in range(width):
                pre[k] = ninf
            for q in range(t - 1, bs - L - 1, -1):
                row = x[q, j0:j1]
                srow = suffix[q + L - bs]
                nrow = suffix[q + L - bs + 1] if q > bs - L else pre
                for k in range(width):
                    v = row[k]
                    v = sign * v if v - v == 0 else ninf
                    a = nrow[k]
                    srow[k] = v if v > a else a
            pbs = bs
            bs = i
        r = t - w
        if r >= 0:
            old = x[r, j0:j1]
        elif r + L >= 0:
            old = tail[r + L, j0:j1]
        else:
            old = pre[:0]
        has_old = len(old) > 0
        row = x[t, j0:j1]
        orow = out[t, j0:j1]
        st = i - w + 1 if i - w + 1 > 0 else 0
        if st < bs:
            srow = suffix[st - pbs]
            for k in range(width):
                v = row[k]
                ok = v - v == 0
                c = cnt[k] + (one if ok else zero)
                if has_old:
                    c -= one if old[k] - old[k] == 0 else zero
                cnt[k] = c
                v = sign * v if ok else ninf
                p = pre[k]
                p = v if v >= p else p
                pre[k] = p
                sv = srow[k]
                res = p if p >= sv else sv
                orow[k] = sign * res if c >= minp else nan
        else:
            for k in range(width):
                v = row[k]
                ok = v - v == 0
                c = cnt[k] + (one if ok else zero)
                if has_old:
                    c -= one if old[k] - old[k] == 0 else zero
                cnt[k] = c
                v = sign * v if ok else ninf
                p = pre[k]
                p = v if v >= p else p
                pre[k] = p
                orow[k] = sign * p if c >= minp else nan


@numba.njit(**_JIT)
def _max_bounds(xt, outt, start, end, monotonic, minp, sign, j0, j1, dq, fin):  # pragma: no cover
    """Explicit bounds: a monotonic deque of indices when the bounds only move forward, else a scan
    (``dq``: ``max(T, 1)``, ``fin``: ``T + 1`` int64 of scratch)."""
    N = len(start)
    T = xt.shape[1]
    zero = xt.dtype.type(0)
    nan = zero / zero
    sign = zero + sign
    minp = minp if minp > 1 else 1
    for j in range(j0, j1):
        col = xt[j]
        fin[0] = 0
        for p in range(T):
            fin[p + 1] = fin[p] + (col[p] - col[p] == 0)
        head = 0
        tail = 0
        last_end = 0
        for i in range(N):
            si, ei = start[i], end[i]
            enough = ei > si and fin[ei] - fin[si] >= minp
            res = nan
            if monotonic:
                for p in range(last_end, ei):
                    v = sign * col[p]
                    if v - v == 0:
                        while tail > head and v >= sign * col[dq[tail - 1]]:
                            tail -= 1
                        dq[tail] = p
                        tail += 1
                last_end = last_end if last_end > ei else ei
                while head < tail and dq[head] < si:
                    head += 1
                if enough:
                    res = col[dq[head]]
            elif enough:
                best = -1
                for p in range(si, ei):
                    v = sign * col[p]
                    if v - v == 0 and (best < 0 or v >= sign * col[best]):
                        best = p
                res = col[best]
            outt[j, i] = res


# --------------------------------------------------------------------------------------------
# median: a sorted buffer of the window's finite values per column


@numba.njit(**_INLINE)
def _sorted_insert(buf, n, v):  # pragma: no cover
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) >> 1
        if buf[mid] <= v:
            lo = mid + 1
        else:
            hi = mid
    for p in range(n, lo, -1):
        buf[p] = buf[p - 1]
    buf[lo] = v
    return n + 1


@numba.njit(**_INLINE)
def _sorted_remove(buf, n, v):  # pragma: no cover
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) >> 1
        if buf[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    for p in range(lo, n - 1):
        buf[p] = buf[p + 1]
    return n - 1


@numba.njit(**_INLINE)
def _sorted_median(buf, n, minp, nan, two):  # pragma: no cover
    if n < minp or n == 0:
        return nan
    mid = n >> 1
    if n & 1:
        return buf[mid]
    return (buf[mid - 1] + buf[mid]) / two


@numba.njit(**_INLINE)
def _sorted_replace(buf, k, n, o, v):  # pragma: no cover
    """``_sorted_remove(buf[k], n, o)`` then ``_sorted_insert(buf[k], n - 1, v)``, in one pass.

    The same buffer results (``o``'s first equal slot is vacated, ``v`` lands after its equals),
    but only the values between the two slots move: about ``w / 3`` instead of ``w``, and one
    binary search instead of two. (A branch-free search measured slower.)
    """
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) >> 1
        if buf[k, mid] < o:
            lo = mid + 1
        else:
            hi = mid
    p = lo
    if p + 1 < n and buf[k, p + 1] <= v:
        while p + 1 < n and buf[k, p + 1] <= v:
            buf[k, p] = buf[k, p + 1]
            p += 1
    else:
        while p > 0 and buf[k, p - 1] > v:
            buf[k, p] = buf[k, p - 1]
            p -= 1
    buf[k, p] = v


@numba.njit(**_JIT)
def _median_trailing(xt, tailt, outt, w, minp, j0, j1, buf, cnt):  # pragma: no cover
    """``xt``/``tailt``/``outt``: ``(N, T)`` views of either layout; 8 columns at a time (scratch: ``buf``
    ``(8, max(w, 1) + 1)`` of the dtype, ``cnt`` 8 int64)."""
    T = xt.shape[1]
    L = tailt.shape[1]
    zero = xt.dtype.type(0)
    nan = zero / zero
    two = xt.dtype.type(2)
    B = buf.shape[0]
    for b in range(j0, j1, B):
        nb = B if j1 - b > B else j1 - b
        sub = xt[b:b + nb]
        tsub = tailt[b:b + nb]
        osub = outt[b:b + nb]
        for k in range(nb):
            cnt[k] = 0
            for i in range(L):
                v = tsub[k, i]
                if v - v == 0:
                    cnt[k] = _sorted_insert(buf[k], cnt[k], v)
        for t in range(T):
            r = t - w
            for k in range(nb):
                n = cnt[k]
                if r >= 0:
                    o = sub[k, r]
                elif r + L >= 0:
                    o = tsub[k, r + L]
                else:
                    o = nan
                v = sub[k, t]
                ook = o - o == 0
                vok = v - v == 0
                if ook and vok:
                    _sorted_replace(buf, k, n, o, v)
                elif ook:
                    n = _sorted_remove(buf[k], n, o)
                elif vok:
                    n = _sorted_insert(buf[k], n, v)
                cnt[k] = n
                if n < minp or n == 0:
                    res = nan
                else:
                    mid = n >> 1
                    res = buf[k, mid] if n & 1 else (buf[k, mid - 1] + buf[k, mid]) / two
                osub[k, t] = res


@numba.njit(**_JIT)
def _median_bounds(xt, outt, start, end, monotonic, minp, j0, j1, buf):  # pragma: no cover
    """pandas' ``roll_median_c`` with explicit bounds (``buf``: the longest window plus one, of the dtype)."""
    zero = xt.dtype.type(0)
    nan = zero / zero
    two = xt.dtype.type(2)
    for j in range(j0, j1):
        col = xt[j]
        n = 0
        for i in range(len(start)):
            si, ei = start[i], end[i]
            if i == 0 or not monotonic or si >= end[i - 1]:
                n = 0
                for p in range(si, ei):
                    if col[p] - col[p] == 0:
                        n = _sorted_insert(buf, n, col[p])
            else:
                for p in range(start[i - 1], si):
                    if col[p] - col[p] == 0:
                        n = _sorted_remove(buf, n, col[p])
                for p in range(end[i - 1], ei):
                    if col[p] - col[p] == 0:
                        n = _sorted_insert(buf, n, col[p])
            outt[j, i] = _sorted_median(buf, n, minp, nan, two)


# --------------------------------------------------------------------------------------------
# Python entry points


# Which path a call took, for the tests: recorded per thread, in Python, with no per-element work.
_PATHS = threading.local()


def last_paths() -> dict | None:
    """The paths the last rolling call on this thread took (None before any), a fresh dict.

    Keys: ``stat``; ``layout`` (``"row"`` or ``"col"``: the layout the kernels saw); ``driver``:
    ``"rows"`` (row-major kernel), ``"col_groups"`` (column-major ``(TB, K)`` group kernel),
    ``"tiles"`` (row-major kernel on transposed tiles: min/max column-major), ``"median"`` (the
    sorted-window buffer), ``"bounds"`` (explicit-bounds kernel) or ``"prefix"`` (count's
    explicit bounds); ``trailing``; ``T``, ``N``, ``window``; ``ranges``: the column ranges,
    one per thread, sorted; ``continued`` (a state came in) and ``tail_rows``;
    ``recomputed_windows``: windows per column that pandas' non-overlap rule starts from scratch
    (``T`` for a trailing window of 1, else 0; for bounds, those with ``start >= previous end``
    or all when not monotonic; 0 for min/max/count bounds, which do not use that rule).
    The variance/cov/corr recompute on cancellation is decided inside the kernels and not reported.
    Driver geometry: ``col_groups``: ``K``, ``TB``, ``groups``, ``full_groups``, ``ragged_groups``,
    ``time_blocks`` (per group), ``ragged_time_block``, and how the ``(TB, K)`` tiles were gathered
    (:func:`_gather`): ``block_tiles`` (new and old values in 8 x 8 register transposes),
    ``half_block_tiles`` (new values so, old ones element by element: they reach before the call's
    first steps) and ``element_tiles`` (a ragged edge; all add up to ``groups * time_blocks``); ``tiles``: ``B``, ``TT``, ``keep``,
    ``tiles`` (column blocks), ``full_tiles``, ``ragged_tiles``, ``time_tiles``; ``rows`` for
    min/max: ``step``, ``blocks``; ``median``: ``B``, ``buffer``, ``blocks``, ``ragged_blocks``.
    """
    d = getattr(_PATHS, "last", None)
    if d is None:
        return None
    d = dict(d)
    d["ranges"] = sorted(d["ranges"])
    return d


def _begin(stat: str, col: bool, driver: str, T: int, n: int, window: RollingParams, state=None,
           tail_rows: int = 0, **geometry) -> dict:
    d = dict(stat=stat, layout="col" if col else "row", driver=driver, trailing=bool(window.fixed), T=T, N=n,
             window=int(window.window) if window.fixed else None, ranges=[], continued=state is not None,
             tail_rows=tail_rows, recomputed_windows=(T if window.fixed and int(window.window) <= 1 else 0))
    d.update(geometry)
    _PATHS.last = d
    return d


def _tracked(d: dict, fn):
    """``fn(j0, j1)`` that also records its range in ``d`` (list.append is atomic)."""
    ranges = d["ranges"]

    def run(j0, j1):
        ranges.append((j0, j1))
        return fn(j0, j1)

    return run


def _blocks(d: dict, size: int) -> tuple[int, int]:
    """Blocks of ``size`` columns over ``d``'s ranges, and how many of them are short."""
    full = ragged = 0
    for j0, j1 in d["ranges"]:
        full += (j1 - j0) // size
        ragged += (j1 - j0) % size != 0
    return full, ragged


def _counted(d: dict, fn):
    """``fn(j0, j1, cnt)`` as ``fn(j0, j1)``: records its range in ``d`` and gives it its own path counters
    (a column-group kernel's :func:`_gather` paths), summed into ``d`` by :func:`_groups_done`."""
    ranges = d["ranges"]
    counts = d.setdefault("counts", [])  # list.append is atomic: the threads may add to it

    def run(j0, j1):
        cnt = np.zeros(3, dtype=np.int64)
        ranges.append((j0, j1))
        counts.append(cnt)
        return fn(j0, j1, cnt)

    return run


def _groups_done(d: dict) -> None:
    full, ragged = _blocks(d, d["K"])
    paths = sum(d.pop("counts", []), np.zeros(3, dtype=np.int64))
    d.update(groups=full + ragged, full_groups=full, ragged_groups=ragged,
             time_blocks=-(-d["T"] // d["TB"]), ragged_time_block=d["T"] % d["TB"] != 0,
             block_tiles=int(paths[0]), half_block_tiles=int(paths[1]), element_tiles=int(paths[2]))


def _bounds_begin(stat: str, col: bool, driver: str, T: int, n: int, window: RollingParams,
                  start, end, mono: bool, rule: bool = True) -> dict:
    d = _begin(stat, col, driver, T, n, window, monotonic=mono, windows=len(start))
    if rule and len(start):
        d["recomputed_windows"] = len(start) if not mono else int(1 + np.count_nonzero(start[1:] >= end[:-1]))
    return d


def _as_2d(values, name: str):
    """``(T, N)`` view (or copy) of ``values`` and whether it is column-major."""
    a = np.asarray(values)
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: values must be float32 or float64, got dtype {a.dtype}")
    if a.ndim == 0:
        raise ValueError(f"{name}: values must have a time axis, got a 0-d array")
    T = a.shape[0]
    n = math.prod(a.shape[1:])
    if a.ndim == 1:
        return np.ascontiguousarray(a).reshape(T, 1), True
    if a.flags.f_contiguous:
        return a.reshape(T, n, order="F"), True
    if a.flags.c_contiguous:
        return a.reshape(T, n), n == 1
    # strided: copy into the layout whose fast axis the input's strides favour
    if abs(a.strides[0]) <= min(abs(s) for s in a.strides[1:]):
        return np.asfortranarray(a).reshape(T, n, order="F"), True
    return np.ascontiguousarray(a).reshape(T, n), False


def _finish(out2, values, col: bool) -> np.ndarray:
    shape = (out2.shape[0],) + np.shape(values)[1:]
    return out2.reshape(shape, order="F" if col else "C")


def _empty(rows: int, n: int, dtype, col: bool) -> np.ndarray:
    return np.empty((rows, n), dtype=dtype, order="F" if col else "C")


def _compiling(kernel, dtype):
    """:func:`~waxegg.wax.backends._threads.gc_paused_while_compiling` for ``kernel``, if one is named."""
    return contextlib.nullcontext() if kernel is None else gc_paused_while_compiling(kernel, dtype)


def _threads(fn, n: int, rows: int, col: bool, itemsize: int, kernel=None, dtype=None) -> None:
    """``fn`` over column ranges on threads; ``kernel`` (of data ``dtype``): the njit function it calls,
    compiled with the garbage collector paused."""
    align = 1 if col else max(1, 64 // itemsize)
    with _compiling(kernel, dtype):
        run_blocks(fn, n, min_items=max(1, _MIN_WORK // max(rows, 1)), align=align)


def _col_threads(fn, n: int, rows: int, K: int, kernel=None, dtype=None) -> None:
    """Column-major kernels: ranges of whole ``K``-column groups (``kernel``, ``dtype``: see :func:`_threads`)."""
    with _compiling(kernel, dtype):
        run_blocks(fn, n, min_items=max(1, _MIN_WORK // max(rows, 1)), align=K)


#: Bytes of the transposed tile buffers of a column-major call, per thread.
_TILE_BYTES = 1 << 21


def _col_tiles(T: int, n: int, keep: int, dtype, xts, tails, outt, acc, call, kernel=None) -> None:
    """Run a row-major kernel on column-major input, transposed tile by tile.

    A column-major input (pandas' storage) has each column contiguous; the row-major kernels
    vectorise across columns instead. Each thread takes blocks of up to 64 columns and transposes
    them ``TT`` steps at a time into a row-major buffer that also keeps the ``keep`` steps before
    (the values leaving the window), runs ``call(xs, tails, out_tile, acc_block, t0)`` on it and
    transposes the result back. ``xts``/``tails``/``outt`` are ``(N, steps)`` views.
    """
    item = dtype.itemsize
    TT = max(1024, keep)
    B = int(max(8, min(64, _TILE_BYTES // ((keep + 2 * TT) * item) // 8 * 8)))
    d = _PATHS.last
    d.update(B=B, TT=TT, keep=keep)

    def block(j0, j1):
        L = tails[0].shape[1]
        for b in range(j0, j1, B):
            e = min(j1, b + B)
            exts = [np.empty((keep + TT, e - b), dtype) for _ in xts]
            for ext, tt in zip(exts, tails):
                ext[:L] = tt[b:e].T
            accb = None if acc is None else np.ascontiguousarray(acc[:, b:e])
            obuf = np.empty((TT, e - b), dtype)
            lt = L
            for t0 in range(0, T, TT):
                tn = min(TT, T - t0)
                for ext, xt in zip(exts, xts):
                    ext[lt:lt + tn] = xt[b:e, t0:t0 + tn].T
                call([ext[lt:lt + tn] for ext in exts], [ext[:lt] for ext in exts], obuf[:tn], accb, t0)
                outt[b:e, t0:t0 + tn] = obuf[:tn].T
                k = min(keep, lt + tn)
                for ext in exts:
                    ext[:k] = ext[lt + tn - k:lt + tn]
                lt = k
            if acc is not None:
                acc[:, b:e] = accb

    _threads(_tracked(d, block), n, T, True, item, kernel, dtype)
    full, ragged = _blocks(d, B)
    d.update(tiles=full + ragged, full_tiles=full, ragged_tiles=ragged, time_tiles=-(-T // TT))


def _check_window(name: str, window: RollingParams) -> None:
    if not isinstance(window, RollingParams):
        raise TypeError(f"{name}: window must be a RollingParams, got {type(window).__name__}")
    if window.min_periods < 0:
        raise ValueError(f"{name}: min_periods must be >= 0, got {window.min_periods}")


def _bounds(name: str, window: RollingParams, T: int, state):
    if state is not None:
        raise ValueError(f"{name}: state= is only for trailing windows; explicit window bounds "
                         f"(offset windows, center, closed, step) start from scratch")
    start = np.ascontiguousarray(window.start, dtype=np.int64)
    end = np.ascontiguousarray(window.end, dtype=np.int64)
    if start.shape != end.shape or start.ndim != 1:
        raise ValueError(f"{name}: window start and end must be 1-d arrays of one length, "
                         f"got shapes {start.shape} and {end.shape}")
    if len(start) and (start.min() < 0 or end.max() > T or np.any(end < start)):
        raise ValueError(f"{name}: window bounds must satisfy 0 <= start <= end <= {T}")
    monotonic = bool(np.all(np.diff(start) >= 0) and np.all(np.diff(end) >= 0))
    return start, end, monotonic


def _tail_in(state, name: str, stat: str, window: RollingParams, a2, col: bool, other: bool = False):
    """The state's last rows (in this call's layout) and its seen count; empty for no state."""
    n = a2.shape[1]
    if state is None:
        return _empty(0, n, a2.dtype, col), 0
    if not isinstance(state, RollingState) or state.statistic != stat:
        raise ValueError(f"{name}: state must be a RollingState of rolling {stat}, got {state!r:.80}")
    if state.window != window.window:
        raise ValueError(f"{name}: state belongs to window {state.window}, not {window.window}")
    tail = state.tail_other if other else state.tail
    if tail.dtype != a2.dtype or tail.shape[1] != n:
        raise ValueError(f"{name}: state has dtype {tail.dtype} and {tail.shape[1]} columns, "
                         f"values have dtype {a2.dtype} and {n}")
    tail = np.asfortranarray(tail) if col else np.ascontiguousarray(tail)
    return tail, state.seen


def _tail_out(tail, a2, w: int, col: bool) -> np.ndarray:
    """The last ``min(w, len(tail) + T)`` rows of ``[tail; a2]``."""
    T = a2.shape[0]
    keep = min(w, tail.shape[0] + T)
    if T >= keep:
        return a2[T - keep:].copy(order="F" if col else "C")
    both = np.concatenate([tail[tail.shape[0] - (keep - T):], a2], axis=0)
    return np.asfortranarray(both) if col else np.ascontiguousarray(both)


def _acc_in(state, rows: int, n: int, dtype, init=None) -> np.ndarray:
    if state is not None:
        return np.array(state.acc, dtype=dtype, order="C")  # a copy: states stay immutable
    acc = np.zeros((rows, n), dtype=dtype)
    if init:
        for r, v in init.items():
            acc[r] = v
    return acc


def _tol(dtype) -> float:
    """pandas' ``InvCondTol`` (1e3 eps: 3 significant digits left), in the data's dtype."""
    return np.dtype(dtype).type(np.finfo(dtype).eps * 1e3)


def _big(dtype):
    """pandas' ``MaxOriginMagnitude``: the largest anchor whose subtraction cannot overflow."""
    return np.dtype(dtype).type(np.sqrt(np.finfo(dtype).max))


def _sum_like(stat: str, values, window: RollingParams, state, mean: bool):
    name = f"rolling_{stat}"
    _check_window(name, window)
    a2, col = _as_2d(values, name)
    T, n = a2.shape
    if not window.fixed:
        start, end, mono = _bounds(name, window, T, state)
        out = _empty(len(start), n, a2.dtype, col)
        xt, ot = a2.T, out.T
        d = _bounds_begin(stat, col, "bounds", T, n, window, start, end, mono)
        _threads(_tracked(d, lambda j0, j1: _sum_bounds(xt, ot, start, end, mono, window.min_periods, mean, j0, j1)),
                 n, T, True, a2.dtype.itemsize, _sum_bounds, a2.dtype)
        return _finish(out, values, col), None
    w = int(window.window)
    tail, seen = _tail_in(state, name, stat, window, a2, col)
    acc = _acc_in(state, 7, n, a2.dtype, {6: np.nan})
    out = _empty(T, n, a2.dtype, col)
    if col:
        xt, tt, ot, K = a2.T, tail.T, out.T, _col_k(a2.dtype)
        d = _begin(stat, col, "col_groups", T, n, window, state, tail.shape[0], K=K, TB=_TB)
        _col_threads(_counted(d, lambda j0, j1, cnt: _sum_cols(xt, tt, ot, acc, w, window.min_periods, mean, j0, j1,
                                                               *_col_scratch(3, 7, a2.dtype), cnt)), n, T, K,
                     _sum_cols, a2.dtype)
        _groups_done(d)
    else:
        nanrow = np.full(n, np.nan, dtype=a2.dtype)
        d = _begin(stat, col, "rows", T, n, window, state, tail.shape[0])
        _threads(_tracked(d, lambda j0, j1: _sum_rows(a2, tail, out, acc, nanrow, w, window.min_periods, mean, j0,
                                                      j1)), n, T, False, a2.dtype.itemsize, _sum_rows, a2.dtype)
    new = RollingState(stat, w, window.min_periods, seen + T, _tail_out(tail, a2, w, col), acc=acc)
    return _finish(out, values, col), new


def rolling_sum(values, window: RollingParams, *, state: RollingState | None = None
                ) -> tuple[np.ndarray, RollingState | None]:
    """pandas' ``rolling(...).sum()`` along axis 0 (``roll_sum``).

    Parameters
    ----------
    values : float32 or float64 array ``(T, ...)``, time first, any memory layout.
    window : RollingParams
        A trailing window, or explicit bounds (then ``state`` must be None).
    state : RollingState, optional
        The state returned by the previous call on the preceding steps.

    Returns
    -------
    out : array of ``values``' dtype, ``(T, ...)`` (``len(window.start)`` rows for bounds),
        in ``values``' memory order.
    state : RollingState, or None for explicit bounds.
    """
    return _sum_like("sum", values, window, state, False)


def rolling_mean(values, window: RollingParams, *, state: RollingState | None = None
                 ) -> tuple[np.ndarray, RollingState | None]:
    """pandas' ``rolling(...).mean()`` along axis 0 (``roll_mean``); see :func:`rolling_sum`."""
    return _sum_like("mean", values, window, state, True)


def _var_like(stat: str, values, window: RollingParams, ddof: int, state, root: bool):
    name = f"rolling_{stat}"
    _check_window(name, window)
    ddof = int(ddof)
    a2, col = _as_2d(values, name)
    T, n = a2.shape
    tol = _tol(a2.dtype)
    minp = window.min_periods
    if not window.fixed:
        start, end, mono = _bounds(name, window, T, state)
        out = _empty(len(start), n, a2.dtype, col)
        xt, ot = a2.T, out.T
        d = _bounds_begin(stat, col, "bounds", T, n, window, start, end, mono)
        _threads(_tracked(d, lambda j0, j1: _var_bounds(xt, ot, start, end, mono, minp, ddof, tol, root, j0, j1)),
                 n, T, True, a2.dtype.itemsize, _var_bounds, a2.dtype)
        return _finish(out, values, col), None
    w = int(window.window)
    tail, seen = _tail_in(state, name, stat, window, a2, col)
    acc = _acc_in(state, 5, n, a2.dtype)
    out = _empty(T, n, a2.dtype, col)
    if col:
        xt, tt, ot, K = a2.T, tail.T, out.T, _col_k(a2.dtype)
        d = _begin(stat, col, "col_groups", T, n, window, state, tail.shape[0], K=K, TB=_TB)
        _col_threads(_counted(d, lambda j0, j1, cnt: _var_cols(xt, tt, ot, acc, w, minp, ddof, tol, root, j0, j1,
                                                               *_col_scratch(3, 5, a2.dtype, True), cnt)),
                     n, T, K, _var_cols, a2.dtype)
        _groups_done(d)
    else:
        nanrow = np.full(n, np.nan, dtype=a2.dtype)
        d = _begin(stat, col, "rows", T, n, window, state, tail.shape[0])
        _threads(_tracked(d, lambda j0, j1: _var_rows(a2, tail, out, acc, nanrow, w, minp, ddof, tol, root, j0, j1,
                                                      np.empty(j1 - j0, dtype=np.bool_))),
                 n, T, False, a2.dtype.itemsize, _var_rows, a2.dtype)
    new = RollingState(stat, w, minp, seen + T, _tail_out(tail, a2, w, col), acc=acc)
    return _finish(out, values, col), new


def rolling_var(values, window: RollingParams, *, ddof: int = 1, state: RollingState | None = None
                ) -> tuple[np.ndarray, RollingState | None]:
    """pandas' ``rolling(...).var(ddof=ddof)`` along axis 0 (``roll_var``); see :func:`rolling_sum`."""
    return _var_like("var", values, window, ddof, state, False)


def rolling_std(values, window: RollingParams, *, ddof: int = 1, state: RollingState | None = None
                ) -> tuple[np.ndarray, RollingState | None]:
    """pandas' ``rolling(...).std(ddof=ddof)``: ``zsqrt`` of :func:`rolling_var`, fused into its pass
    (a separate ``sqrt`` / ``where`` made two more passes over fresh arrays)."""
    return _var_like("std", values, window, ddof, state, True)


def _pair(stat: str, x, y, window: RollingParams, ddof: int, state, corr: bool):
    name = f"rolling_{stat}"
    _check_window(name, window)
    x2, col = _as_2d(x, name)
    y2, ycol = _as_2d(y, name)
    if x2.shape != y2.shape or x2.dtype != y2.dtype or np.shape(x) != np.shape(y):
        raise ValueError(f"{name}: x and y must have one shape and dtype, got {np.shape(x)} {x2.dtype} "
                         f"and {np.shape(y)} {y2.dtype}")
    if ycol != col:
        y2 = np.asfortranarray(y2) if col else np.ascontiguousarray(y2)
    T, n = x2.shape
    tol, big = _tol(x2.dtype), _big(x2.dtype)
    ddof = int(ddof)
    minp = window.min_periods
    if not window.fixed:
        start, end, mono = _bounds(name, window, T, state)
        out = _empty(len(start), n, x2.dtype, col)
        xt, yt, ot = x2.T, y2.T, out.T
        d = _bounds_begin(stat, col, "bounds", T, n, window, start, end, mono)
        _threads(_tracked(d, lambda j0, j1: _cov_bounds(xt, yt, ot, start, end, mono, minp, ddof, corr, tol, big, j0,
                                                        j1)), n, T, True, x2.dtype.itemsize)
        return _finish(out, x, col), None
    w = int(window.window)
    tx, seen = _tail_in(state, name, stat, window, x2, col)
    ty, _ = _tail_in(state, name, stat, window, y2, col, other=True)
    acc = _acc_in(state, 10, n, x2.dtype)
    out = _empty(T, n, x2.dtype, col)
    if col:
        xt, yt, txt, tyt, ot, K = x2.T, y2.T, tx.T, ty.T, out.T, _col_k(x2.dtype)
        d = _begin(stat, col, "col_groups", T, n, window, state, tx.shape[0], K=K, TB=_TB)
        _col_threads(_counted(d, lambda j0, j1, cnt: _cov_cols(xt, yt, txt, tyt, ot, acc, w, minp, ddof, corr, tol, big,
                                                          j0, j1, *_col_scratch(5, 10, x2.dtype, True), cnt)), n, T, K)
        _groups_done(d)
    else:
        nanrow = np.full(n, np.nan, dtype=x2.dtype)
        d = _begin(stat, col, "rows", T, n, window, state, tx.shape[0])
        _threads(_tracked(d, lambda j0, j1: _cov_rows(x2, y2, tx, ty, out, acc, nanrow, w, minp, ddof, corr, tol,
                                                      big, j0, j1, np.empty(j1 - j0, dtype=np.bool_))),
                 n, T, False, x2.dtype.itemsize)
    new = RollingState(stat, w, minp, seen + T, _tail_out(tx, x2, w, col), _tail_out(ty, y2, w, col), acc)
    return _finish(out, x, col), new


def rolling_cov(x, y, window: RollingParams, *, ddof: int = 1, state: RollingState | None = None
                ) -> tuple[np.ndarray, RollingState | None]:
    """pandas' ``rolling(...).cov(other, ddof=ddof)`` of same-shaped ``x`` and ``y`` (``roll_cov``).

    A step counts when both values are finite. See :func:`rolling_sum` for the rest.
    """
    return _pair("cov", x, y, window, ddof, state, False)


def rolling_corr(x, y, window: RollingParams, *, ddof: int = 1, state: RollingState | None = None
                 ) -> tuple[np.ndarray, RollingState | None]:
    """pandas' ``rolling(...).corr(other)`` (``roll_corr``). ``ddof`` cancels out (pandas ignores it)."""
    return _pair("corr", x, y, window, ddof, state, True)


def rolling_count(values, window: RollingParams, *, state: RollingState | None = None
                  ) -> tuple[np.ndarray, RollingState | None]:
    """pandas' ``rolling(...).count()``: non-NaN values per window (inf counts, as in pandas).

    ``min_periods`` applies to the number of rows in the window, not to the count; see
    :func:`rolling_sum` for the rest.
    """
    name = "rolling_count"
    _check_window(name, window)
    a2, col = _as_2d(values, name)
    T, n = a2.shape
    minp = window.min_periods
    if not window.fixed:
        start, end, mono = _bounds(name, window, T, state)
        d = _bounds_begin("count", col, "prefix", T, n, window, start, end, mono, rule=False)
        d["ranges"].append((0, n))
        prefix = np.zeros((T + 1, n), dtype=np.int64)
        np.cumsum(~np.isnan(a2), axis=0, out=prefix[1:])
        counts = (prefix[end] - prefix[start]).astype(a2.dtype)
        counts[end - start < minp] = np.nan  # pandas' calc_sum: too few rows (an empty one at 0 is 0)
        out = np.asfortranarray(counts) if col else counts
        return _finish(out, values, col), None
    w = int(window.window)
    tail, seen = _tail_in(state, name, "count", window, a2, col)
    acc = _acc_in(state, 1, n, a2.dtype)
    out = _empty(T, n, a2.dtype, col)
    if col:
        xt, tt, ot, K = a2.T, tail.T, out.T, _col_k(a2.dtype)
        d = _begin("count", col, "col_groups", T, n, window, state, tail.shape[0], K=K, TB=_TB)
        _col_threads(_counted(d, lambda j0, j1, cnt: _count_cols(xt, tt, ot, acc, w, minp, seen, j0, j1,
                                                                 *_col_scratch(3, 1, a2.dtype), cnt)),
                     n, T, K, _count_cols, a2.dtype)
        _groups_done(d)
    else:
        nanrow = np.full(n, np.nan, dtype=a2.dtype)
        d = _begin("count", col, "rows", T, n, window, state, tail.shape[0])
        _threads(_tracked(d, lambda j0, j1: _count_rows(a2, tail, out, acc, nanrow, w, minp, seen, j0, j1)),
                 n, T, False, a2.dtype.itemsize, _count_rows, a2.dtype)
    new = RollingState("count", w, minp, seen + T, _tail_out(tail, a2, w, col), acc=acc)
    return _finish(out, values, col), new


#: Bytes of the suffix buffer a row-major min/max thread keeps per column block.
_MAX_SCRATCH = 1 << 18


def _extreme(stat: str, values, window: RollingParams, state, sign: int):
    name = f"rolling_{stat}"
    _check_window(name, window)
    a2, col = _as_2d(values, name)
    T, n = a2.shape
    minp = window.min_periods
    if not window.fixed:
        start, end, mono = _bounds(name, window, T, state)
        out = _empty(len(start), n, a2.dtype, col)
        xt, ot = a2.T, out.T
        d = _bounds_begin(stat, col, "bounds", T, n, window, start, end, mono, rule=False)
        _threads(_tracked(d, lambda j0, j1: _max_bounds(xt, ot, start, end, mono, minp, sign, j0, j1,
                                                           np.empty(max(T, 1), np.int64), np.empty(T + 1, np.int64))),
                 n, T, True, a2.dtype.itemsize, _max_bounds, a2.dtype)
        return _finish(out, values, col), None
    w = int(window.window)
    tail, seen = _tail_in(state, name, stat, window, a2, col)
    # only the last w - 1 rows matter: the window of the next step starts after them
    tail = tail[max(0, tail.shape[0] - (w - 1)):]
    out = _empty(T, n, a2.dtype, col)
    if col:
        def call(xs, ts, o, accb, t0):
            scratch = np.empty((w + 2, o.shape[1]), dtype=a2.dtype)
            _max_rows(xs[0], ts[0], o, scratch, w, minp, sign, 0, o.shape[1])

        _begin(stat, col, "tiles", T, n, window, state, tail.shape[0])
        _col_tiles(T, n, max(w - 1, 0), a2.dtype, [a2.T], [tail.T], out.T, None, call, _max_rows)
    else:
        step = max(64 // a2.dtype.itemsize, _MAX_SCRATCH // ((w + 2) * a2.dtype.itemsize))

        def block(j0, j1):
            scratch = np.empty((w + 2, min(step, j1 - j0)), dtype=a2.dtype)
            for b in range(j0, j1, step):
                e = min(j1, b + step)
                _max_rows(a2, tail, out, scratch[:, :e - b], w, minp, sign, b, e)

        d = _begin(stat, col, "rows", T, n, window, state, tail.shape[0], step=step)
        _threads(_tracked(d, block), n, T, False, a2.dtype.itemsize, _max_rows, a2.dtype)
        full, ragged = _blocks(d, step)
        d["blocks"] = full + ragged
    new = RollingState(stat, w, minp, seen + T, _tail_out(tail, a2, max(w - 1, 0), col))
    return _finish(out, values, col), new


def rolling_max(values, window: RollingParams, *, state: RollingState | None = None
                ) -> tuple[np.ndarray, RollingState | None]:
    """pandas' ``rolling(...).max()`` along axis 0; see :func:`rolling_sum`."""
    return _extreme("max", values, window, state, 1)


def rolling_min(values, window: RollingParams, *, state: RollingState | None = None
                ) -> tuple[np.ndarray, RollingState | None]:
    """pandas' ``rolling(...).min()`` along axis 0; see :func:`rolling_sum`."""
    return _extreme("min", values, window, state, -1)


def rolling_median(values, window: RollingParams, *, state: RollingState | None = None
                   ) -> tuple[np.ndarray, RollingState | None]:
    """pandas' ``rolling(...).median()`` along axis 0 (``roll_median_c``); see :func:`rolling_sum`."""
    name = "rolling_median"
    _check_window(name, window)
    a2, col = _as_2d(values, name)
    T, n = a2.shape
    minp = window.min_periods
    if not window.fixed:
        start, end, mono = _bounds(name, window, T, state)
        out = _empty(len(start), n, a2.dtype, col)
        xt, ot = a2.T, out.T
        wmax = int(max(1, (end - start).max(initial=1)))
        d = _bounds_begin("median", col, "bounds", T, n, window, start, end, mono)
        _threads(_tracked(d, lambda j0, j1: _median_bounds(xt, ot, start, end, mono, minp, j0, j1,
                                                              np.empty(wmax + 1, a2.dtype))),
                 n, T, True, a2.dtype.itemsize, _median_bounds, a2.dtype)
        return _finish(out, values, col), None
    w = int(window.window)
    tail, seen = _tail_in(state, name, "median", window, a2, col)
    tail = tail[max(0, tail.shape[0] - (w - 1)):]
    out = _empty(T, n, a2.dtype, col)
    xt, tt, ot = a2.T, tail.T, out.T
    d = _begin("median", col, "median", T, n, window, state, tail.shape[0], B=8, buffer=max(w, 1) + 1)
    _threads(_tracked(d, lambda j0, j1: _median_trailing(xt, tt, ot, w, minp, j0, j1,
                                                                np.empty((8, max(w, 1) + 1), a2.dtype),
                                                                np.empty(8, np.int64))), n, T, col, a2.dtype.itemsize,
             _median_trailing, a2.dtype)
    full, ragged = _blocks(d, 8)
    d.update(blocks=full + ragged, ragged_blocks=ragged)
    new = RollingState("median", w, minp, seen + T, _tail_out(tail, a2, max(w - 1, 0), col))
    return _finish(out, values, col), new
