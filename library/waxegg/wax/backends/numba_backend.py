"""The Numba backend: compiled, vectorised EWM loops, columns split between Python threads.

Why this shape (speed measured as ratios to a plain copy taken in the same run, T=1e5 x N=1000
and 1e6 x 100; compile cost measured in fresh processes with empty caches; see
``scripts/first_call.py`` and the benchmark suite for numbers):

- ``error_model="numpy"``: with Numba's default (Python) error model every division carries a
  ZeroDivisionError check, which stops LLVM from vectorising the loop; the numpy model (IEEE
  inf/nan, what pandas' C loop produces too) lets it emit vector divisions.
- The update is branch-free (selects, no short-circuit ``and``/``or``) so that it vectorises.
- ``blended * (1 / (old_wt + new_wt))`` instead of pandas' division: the reciprocal depends on the
  weights only, so the divide leaves the loop-carried dependency through the mean. It differs from
  pandas' rounding by at most an ulp per step, and the recursion contracts errors, so results stay
  within 1e-12 of pandas (tested).
- The state and arithmetic use the data's dtype: float32 runs 16 lanes wide on half the bytes.
- Steady state: once a column's weights reach their floating-point fixed point (a few hundred
  steps for common alphas) and while no value is missing, pandas' recursion is
  ``y = (1 - alpha) * y + alpha * x``. Column-major input (what pandas 3 builds from a 2-D array)
  is scanned down each contiguous column one SIMD register at a time (``_simd.scan_register``: one
  FMA on the loop-carried path per 8 float64 / 16 float32 steps); row-major input takes the plain
  affine update across each row (no division, no selects). Everything else -- the first steps,
  missing values, ``min_periods`` not reached -- runs the exact recursion: down the column for
  column-major input (the copy-speed scan is what matters there, and the serial exact update stays
  near memory speed on few cores), vectorised across columns for row-major input.
- The path of every step depends only on the stream, never on how it was cut into calls: a fast
  column stays fast until an output comes out non-finite (the steps before it stand; that step is
  redone exactly), and an exact column turns fast only at fixed stream positions (register starts
  down a column, ``_ROWS``-row block starts across rows) where it is steady. The state carries the
  stream position and, down a column, the inputs of a register cut by the end of a call. So a
  stream continued from a state equals the one-shot run bit for bit, and so do any thread split.
- Threads: ``_threads.run_blocks`` hands contiguous column ranges to Python threads running the
  ``nogil`` kernels; each thread first-touches its part of the fresh output. No ``parallel=True``:
  its parfors pass and gufunc wrapper were most of the earlier prange kernel's cold compile, and
  without it the kernel needs no Numba threading layer and may run from several
  threads at once (dask).
- Compile cost: a cold compile is paid per (dtype, layout) only, so the two layouts are separate
  entry points. Each njit function is compiled (and cached) on its own, with a fixed cost of its
  own, so helpers used once are written out in place, the rest are plain calls (LLVM inlines them;
  Numba-level ``inline="always"`` retyped the callee at every call site), and helpers carry no
  CPython or C wrapper. No array is allocated and no NumPy function is called inside the kernels
  (each would compile an implementation of its own); buffers come from Python.
- ``cache=True`` keeps the machine code on disk: only the first process ever compiles.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from waxegg.wax._params import EWMParams
from waxegg.wax.backends import _simd, _threads, register_backend
from waxegg.wax.backends._base import KERNELS, Backend, Capabilities

_JIT = dict(nogil=True, cache=True, error_model="numpy")
# helpers: no wrappers, and no cache entries of their own (a cached kernel carries its inlined helpers)
_HELPER = dict(_JIT, cache=False, no_cpython_wrapper=True, no_cfunc_wrapper=True)

# No parallel=True here: every kernel is a serial nogil function run on Python threads
# (_threads.run_blocks), so the WAX kernels need no Numba threading layer and no launch lock
# (waxegg._numba configures both for the egg kernels).

#: Rows of a row-major input taken at a time. Block starts are absolute stream positions (multiples
#: of this), where an exactly-updated column may switch to the fast update; a fast block that meets
#: a non-finite value is redone exactly from that row down the (still cached) block.
_ROWS = 512
#: Row-major input gets one thread per this many bytes of a row (rounded). Two threads each taking
#: half of every row of T=1e6 x N=100 were slower than one (float64 1.5x vs 1.1x the copy, float32
#: 2.2x vs 1.1x); they gain from 8000-byte rows on (1e5 x 1000 float64: 1.16x -> 1.02x).
_ROW_BYTES_PER_THREAD = 4096
#: Row-major column ranges given to threads start at multiples of this many columns (a 64-byte line
#: of float32), so that two threads never write the same cache line.
_SPLIT = 16
#: Fewest elements per thread: below this a call runs on the calling thread alone.
_MIN_PER_THREAD = 1 << 16


# --- the update, one step of one column -------------------------------------------------------
@numba.njit(**_HELPER)
def _ewm_step(cur, w, ow, n, old_wt_factor, new_wt, one, adjust, decay_on_missing, half_blend):  # pragma: no cover
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


@numba.njit(**_HELPER)
def _steady(w, ow, n, old_wt_factor, new_wt, one, adjust, minp):  # pragma: no cover
    """Whether a column's recursion has become ``y = y + alpha * (x - y)``.

    A column is steady once its weight is at its floating-point fixed point (adjust: ``ow * f + 1
    == ow``, reached after about -36 / log10(1 - alpha) steps in float64; otherwise ``ow == 1``
    after any observation), its mean is finite and ``min_periods`` is reached: from then on, while
    no value is missing, every step of pandas' recursion is that update (to ~1e-16 in float64), and
    the state stays steady. The fast paths take ``alpha`` itself as the weight of the new value,
    rather than a weight derived from ``ow`` in the data's dtype: in float32 the fixed point ``ow``
    stalls ~1e-5 away from ``1 / alpha`` at com=200, and a rounded ``1 - alpha`` carries a relative
    error of ``eps / alpha`` into alpha.
    """
    if not (w - w == 0) or n < minp:
        return False
    if adjust:
        return ow * old_wt_factor + new_wt == ow
    return ow == one


@numba.njit(**_HELPER)
def _exact_strided(src, i, si, dst, o, so, n, w, ow, cnt, old_wt_factor, new_wt, one, adjust, decay_on_missing,
                   half_blend, minp):  # pragma: no cover
    """The exact update over ``n`` steps of flat ``src`` from ``i`` by ``si`` into ``dst`` from ``o`` by ``so``.

    Returns the state after the last step.
    """
    nan = (one - one) / (one - one)  # NaN in the data's dtype (np.nan would be a float64)
    for m in range(n):
        w, ow, cnt = _ewm_step(src[i + m * si], w, ow, cnt, old_wt_factor, new_wt, one, adjust,
                               decay_on_missing, half_blend)
        dst[o + m * so] = w if cnt >= minp else nan
    return w, ow, cnt


# --- column-major: each column down its contiguous memory ------------------------------------
@numba.njit(**_JIT)
def _ewm_cols(src, s_col, dst, d_col, T, j0, j1, pos, weighted, old_wt, nobs, fast, pend_n, pend_carry, pend_x, buf,
              old_wt_factor, new_wt, one, adjust, decay_on_missing, half_blend, minp, alpha, decay,
              allow_fast):  # pragma: no cover
    """Columns ``j0:j1`` of a column-major input: column ``j`` is ``src[j * s_col:][:T]`` (output: ``d_col``).

    ``pos`` is the stream position of step 0. A fast column takes whole SIMD registers of ``L`` steps
    through the vector scan (``_simd.scan_register``; registers start at stream positions that are
    multiples of ``L``) until an output comes out non-finite (a NaN or inf in the input): the lanes
    before it stand, and from that step on the column takes the exact update. An exact column becomes
    fast again at a register start where it is steady (``_steady``), though not at the end of the
    register it fell back in. A register that is cut by the end of the call, or that holds a
    non-finite output, is scanned zero-padded in ``buf`` (lane ``k`` depends only on lanes ``0..k``
    and the carry, so its lanes carry the bits of the whole register); the inputs of a cut one are
    kept (``pend_*``), so that the next call scans the same register. So the outputs depend only on
    the stream, never on where it was cut. Returns the number of elements done by the scan.
    """
    L = buf.size
    nan = (one - one) / (one - one)  # NaN in the data's dtype (np.nan would be a float64)
    # int64 zeros that are no literals: a literal 0 is refined to int64 one loop level per type
    # inference pass (6 passes instead of 2), and as an argument compiles another copy of a callee
    izero = j0 - j0
    done = izero
    for j in range(j0, j1):
        col = src[j * s_col:j * s_col + T]  # contiguous views of the column (the scan takes one offset)
        out = dst[j * d_col:j * d_col + T]
        w, ow, n = weighted[j], old_wt[j], nobs[j]
        m = pend_n[j]  # lanes of the current register already scanned by the previous call
        # a fast column enters whole registers only (a state from a row-major call may stop mid-register)
        is_fast = fast[j] and allow_fast and (m > 0 or pos % L == 0)
        if not is_fast:
            m = izero
        hold = False  # just fell back: stay exact to the end of this register
        i = izero
        while i < T:
            if is_fast:
                if m == 0:
                    while i + L <= T:
                        y = _simd.scan_register(col, out, i, w, decay, alpha)
                        if not (y - y == 0):
                            break
                        w = y
                        i += L
                        n += L
                        done += L
                    if i == T:
                        break
                # A register cut short by either end of the call, or with a non-finite output, goes
                # through buf, zero-padded: lane k of the scan depends only on lanes 0..k and the
                # carry, so its lanes get the bits the whole register gives. (Written out here, as
                # are the loops below: each small njit function costs a compile of its own.)
                r = L - m if L - m < T - i else T - i  # (no min(): a builtin's impl to compile)
                carry = pend_carry[j] if m > 0 else w
                for k in range(m):
                    buf[k] = pend_x[j * L + k]
                for k in range(r):
                    buf[m + k] = col[i + k]
                for k in range(m + r, L):
                    buf[k] = 0
                _simd.scan_register(buf, buf, 0, carry, decay, alpha)
                q = izero
                while q < r and buf[m + q] - buf[m + q] == 0:
                    q += 1
                for k in range(q):
                    out[i + k] = buf[m + k]
                if m + q > 0:
                    w = buf[m + q - 1]
                if q == r and m + r < L:  # the call ends inside this register: keep its inputs
                    pend_carry[j] = carry
                    for k in range(r):
                        pend_x[j * L + m + k] = col[i + k]
                    m += r
                else:
                    m = izero
                    is_fast = q == r
                    hold = not is_fast
                i += q
                n += q
                done += q
            else:
                p = pos + i
                if p % L == 0 and not hold and allow_fast and _steady(w, ow, n, old_wt_factor, new_wt, one, adjust,
                                                                     minp):
                    is_fast = True
                    continue
                hold = False
                stop = T if T < i + L - p % L else i + L - p % L
                while i < stop:  # (written out: _exact_strided here would compile a second copy of it)
                    w, ow, n = _ewm_step(col[i], w, ow, n, old_wt_factor, new_wt, one, adjust, decay_on_missing,
                                         half_blend)
                    out[i] = w if n >= minp else nan
                    i += 1
        weighted[j], old_wt[j], nobs[j], fast[j], pend_n[j] = w, ow, n, is_fast, m
    return done


# --- row-major: a block of rows at a time, columns inside ------------------------------------
@numba.njit(**_HELPER)
def _exact_rows(src, s_row, dst, N, t0, t1, j0, j1, weighted, old_wt, nobs, old_wt_factor, new_wt, one, adjust,
                decay_on_missing, half_blend, minp):  # pragma: no cover
    """The exact update over rows ``t0:t1``, columns ``j0:j1``: row ``t`` is ``src[t * s_row:]`` (``dst[t * N:]``).

    The inner loop runs along a contiguous row and LLVM vectorises it across columns: a recursion that
    is latency bound down one column becomes throughput bound.
    """
    nan = (one - one) / (one - one)
    width = j1 - j0
    weighted, old_wt, nobs = weighted[j0:j1], old_wt[j0:j1], nobs[j0:j1]
    for t in range(t0, t1):
        # slices indexed from 0 by a range: LLVM drops Numba's negative-index wraparound, which on a
        # flat index (t * N + k) kept the loop from vectorising (2-3x slower)
        row = src[t * s_row + j0:t * s_row + j1]
        orow = dst[t * N + j0:t * N + j1]
        for k in range(width):
            w, ow, n = _ewm_step(row[k], weighted[k], old_wt[k], nobs[k], old_wt_factor, new_wt, one, adjust,
                                 decay_on_missing, half_blend)
            weighted[k] = w
            old_wt[k] = ow
            nobs[k] = n
            orow[k] = w if n >= minp else nan


@numba.njit(**_HELPER)
def _affine_rows(src, s_row, dst, N, t0, t1, j0, j1, weighted, alpha):  # pragma: no cover
    """``y = y + alpha * (x - y)`` over rows ``t0:t1``, columns ``j0:j1`` (no division, no selects)."""
    width = j1 - j0
    weighted = weighted[j0:j1]
    for t in range(t0, t1):
        row = src[t * s_row + j0:t * s_row + j1]  # (see _exact_rows)
        orow = dst[t * N + j0:t * N + j1]
        for k in range(width):
            w = weighted[k] + alpha * (row[k] - weighted[k])
            weighted[k] = w
            orow[k] = w


@numba.njit(**_JIT)
def _ewm_rows(src, s_row, dst, T, N, j0, j1, pos, weighted, old_wt, nobs, fast, saved, old_wt_factor, new_wt, one,
              adjust, decay_on_missing, half_blend, minp, alpha, allow_fast):  # pragma: no cover
    """Columns ``j0:j1`` of a row-major input (row ``t`` is ``src[t * s_row:][:N]``), ``_ROWS`` rows at a time.

    Blocks start at stream positions that are multiples of ``_ROWS`` (``pos`` is step 0's). At a block
    start an exact column that is steady (``_steady``) becomes fast. In a block, each run of adjacent
    fast columns takes the affine update across the rows; a column of it whose last mean comes out
    non-finite is redone exactly from its first non-finite output down the (still cached) block, the
    rows before it standing, and stays exact until a block start finds it steady; runs of exact
    columns take the exact update. Returns the number of elements done by the affine update.
    """
    i = j0 - j0  # int64 zeros, not literals (see _ewm_cols)
    done = i
    while i < T:
        p = pos + i
        if p % _ROWS == 0 and allow_fast:
            for j in range(j0, j1):
                if not fast[j]:
                    fast[j] = _steady(weighted[j], old_wt[j], nobs[j], old_wt_factor, new_wt, one, adjust, minp)
        stop = T if T < i + _ROWS - p % _ROWS else i + _ROWS - p % _ROWS
        k = j0
        while k < j1:
            e = k + 1
            while e < j1 and fast[e] == fast[k]:
                e += 1
            if fast[k] and allow_fast:
                for q in range(k, e):
                    saved[q] = weighted[q]
                _affine_rows(src, s_row, dst, N, i, stop, k, e, weighted, alpha)
                for q in range(k, e):
                    if weighted[q] - weighted[q] == 0:
                        nobs[q] += stop - i
                        done += stop - i
                        continue
                    t = i
                    while dst[t * N + q] - dst[t * N + q] == 0:
                        t += 1
                    weighted[q] = saved[q] if t == i else dst[(t - 1) * N + q]
                    nobs[q] += t - i
                    done += t - i
                    fast[q] = False
                    weighted[q], old_wt[q], nobs[q] = _exact_strided(
                        src, t * s_row + q, s_row, dst, t * N + q, N, stop - t, weighted[q], old_wt[q], nobs[q],
                        old_wt_factor, new_wt, one, adjust, decay_on_missing, half_blend, minp)
            else:
                _exact_rows(src, s_row, dst, N, i, stop, k, e, weighted, old_wt, nobs, old_wt_factor, new_wt, one,
                            adjust, decay_on_missing, half_blend, minp)
            k = e
        i = stop
    return done


# --- the Python side: state, plan, threads ----------------------------------------------------
@dataclass(frozen=True, eq=False)
class EWMMeanState:
    """State of :func:`ewm_mean` after the last step; arrays have the shape of one step (``values.shape[1:]``).

    Attributes
    ----------
    weighted : ndarray, data dtype
        The mean so far (NaN before the first observation; not masked by ``min_periods``).
    old_wt : ndarray, data dtype
        pandas' weight of that mean.
    nobs : ndarray of int64
        Observations (finite values) so far.
    fast : ndarray of bool
        Whether the column is on the steady-state path.
    position : int
        Steps seen since the stream began: fast-path blocks start at fixed stream positions.
    pending : ndarray of int64
        Column-major only: lanes of the SIMD register the last call ended in that the vector scan
        already took (0 if none); ``register_carry`` is the mean at that register's start and
        ``register_inputs`` (``shape + (L,)``) its inputs so far, so that the next call scans the same
        register.
    """

    weighted: np.ndarray
    old_wt: np.ndarray
    nobs: np.ndarray
    fast: np.ndarray
    position: int
    pending: np.ndarray
    register_carry: np.ndarray
    register_inputs: np.ndarray

    @classmethod
    def initial(cls, shape: tuple[int, ...], dtype: np.dtype) -> EWMMeanState:
        """The state before any step, for steps of ``shape`` and float ``dtype``."""
        dtype = np.dtype(dtype)
        lanes = _simd.lanes(dtype.itemsize * 8)
        return cls(np.full(shape, np.nan, dtype), np.ones(shape, dtype), np.zeros(shape, np.int64),
                   np.zeros(shape, np.bool_), 0, np.zeros(shape, np.int64), np.full(shape, np.nan, dtype),
                   np.zeros(shape + (lanes,), dtype))


@dataclass(frozen=True)
class EWMMeanPlan:
    """How :func:`ewm_mean_kernel` runs one call (for tests and benchmarks).

    Attributes
    ----------
    layout : str
        ``"columns"`` (each column scanned down its contiguous memory) or ``"rows"``.
    block_starts : ndarray of int64
        Steps of this call (``0 <= t < T``) where a block starts: where an exactly-updated column may
        switch to the fast path (column-major: SIMD register starts; row-major: ``_ROWS``-row blocks).
        They are fixed stream positions, so they depend on the state's ``position``, not on the call.
    column_ranges : list of (int, int)
        The column ranges given to threads.
    """

    layout: str
    block_starts: np.ndarray
    column_ranges: list[tuple[int, int]]


def _as_columns(values: np.ndarray) -> tuple[np.ndarray, bool, np.ndarray, int]:
    """``values`` as ``(T, N)``; whether time runs along memory (``"columns"``, else ``"rows"``); a flat
    view of its memory from element ``[0, 0]``; and the stride, in elements, between columns (rows).

    Views whose columns (rows) are contiguous but spaced apart -- ``x[:k]`` of a column-major ``x``
    -- are read in place; other strides are copied once to row-major.
    """
    flat = values.reshape(values.shape[0], -1) if values.ndim != 2 else values
    T, N = flat.shape
    size = flat.itemsize
    st, sc = flat.strides
    # A single column goes down its memory: the row update would run it as one dependent chain of
    # operations per step, the scan puts one FMA per register on that chain.
    colmajor = (st == size or T == 1) and (N == 1 or sc != size) and sc >= 0 and sc % size == 0
    if colmajor:
        outer, span = sc // size, (N - 1) * (sc // size) + T
    else:
        if not ((sc == size or N == 1) and st >= 0 and st % size == 0):
            flat = np.ascontiguousarray(flat)  # any other strides: one copy, then the row path
            st = flat.strides[0]
        outer, span = st // size, (T - 1) * (st // size) + N
    if T == 0 or N == 0:
        outer, span = 0, 0
    return flat, colmajor, np.lib.stride_tricks.as_strided(flat, (span,), (size,)), outer


def _threads_and_align(T: int, N: int, itemsize: int, colmajor: bool) -> tuple[int, int]:
    """How many threads take column ranges of a ``(T, N)`` call, and the multiple the ranges start at."""
    threads = max(1, min(_threads.num_threads(), T * N // _MIN_PER_THREAD))
    if colmajor:
        return threads, 1
    # threads sharing narrow rows slow each other down (see _ROW_BYTES_PER_THREAD)
    row_bytes = N * itemsize
    return max(1, min(threads, (row_bytes + _ROW_BYTES_PER_THREAD // 2) // _ROW_BYTES_PER_THREAD)), _SPLIT


def ewm_mean_plan(values: np.ndarray, state: EWMMeanState | None = None) -> EWMMeanPlan:
    """The blocks and thread ranges :func:`ewm_mean_kernel` uses for ``values`` continuing ``state``."""
    values = np.asarray(values)
    flat, colmajor, _, _ = _as_columns(values)
    T, N = flat.shape
    pos = 0 if state is None else state.position
    period = _simd.lanes(flat.dtype.itemsize * 8) if colmajor else _ROWS
    first = -pos % period
    return EWMMeanPlan("columns" if colmajor else "rows", np.arange(first, T, period, dtype=np.int64),
                       _threads.split(N, *_threads_and_align(T, N, flat.dtype.itemsize, colmajor)))


def _check_state(state: EWMMeanState, shape: tuple[int, ...], dtype: np.dtype) -> None:
    if not isinstance(state, EWMMeanState):
        raise TypeError(f"state must be an EWMMeanState from ewm_mean, got {type(state).__name__}")
    if state.weighted.shape != shape or state.weighted.dtype != dtype:
        raise ValueError(f"state is for steps of shape {state.weighted.shape} and dtype {state.weighted.dtype}, "
                         f"got values with steps of shape {shape} and dtype {dtype}")


def ewm_mean_kernel(values: np.ndarray, params: EWMParams, *, state: EWMMeanState | None = None,
                    fast: bool = True) -> tuple[np.ndarray, EWMMeanState, int]:
    """pandas' ``ewm(...).mean()`` of float ``values`` (``(T, ...)``) along axis 0, continuing ``state``.

    Returns ``(out, state, n_fast)``: the means (same shape, dtype and memory order as ``values``),
    the state after the last step, and how many elements took the steady-state paths. The result
    depends only on the stream, not on how it is cut: running ``values[:k]`` and then ``values[k:]``
    from the first call's state gives the one-shot result bit for bit, for every ``k`` and layout
    (both calls in the same layout). ``fast=False`` computes everything with the exact recursion
    (the reference the fast paths are tested against); its results are the same in both layouts.
    """
    values = np.asarray(values)
    if values.ndim == 0 or values.dtype not in (np.float32, np.float64):
        raise ValueError(f"values must be a float32 or float64 array with time on axis 0, got "
                         f"{values.dtype} of shape {values.shape}")
    step_shape = values.shape[1:]
    if state is None:
        state = EWMMeanState.initial(step_shape, values.dtype)
    else:
        _check_state(state, step_shape, values.dtype)
    flat, colmajor, src, outer = _as_columns(values)
    T, N = flat.shape
    # Same memory order as the input (a column-major frame gets a column-major result, which is also
    # the layout pandas stores), so neither side needs a transposing copy.
    out = np.empty((T, N), flat.dtype, order="F" if colmajor else "C")
    if T == 0 or N == 0:
        return out.reshape(values.shape, order="A"), state, 0
    # the kernels update the state in place: work on copies, flat views of them
    weighted, old_wt, nobs = (np.array(a).reshape(N) for a in (state.weighted, state.old_wt, state.nobs))
    is_fast = np.array(state.fast).reshape(N) if fast else np.zeros(N, np.bool_)
    pending = np.array(state.pending).reshape(N) if fast and colmajor else np.zeros(N, np.int64)
    carry = np.array(state.register_carry).reshape(N)
    inputs = np.array(state.register_inputs).reshape(-1)
    dst = out.reshape(-1, order="F" if colmajor else "C")  # a view, in memory order
    # Constants in the data's dtype: a float32 stream computes in float32 (16 SIMD lanes, half the
    # bytes), to float32 precision; pandas would upcast to float64.
    ft = flat.dtype.type
    consts = (ft(1.0 - params.alpha), ft(1.0 if params.adjust else params.alpha), ft(1.0), params.adjust,
              not params.ignore_na, params.half_alpha_blend, params.min_periods, ft(params.alpha))
    pos = int(state.position)
    threads, align = _threads_and_align(T, N, flat.dtype.itemsize, colmajor)
    lanes = inputs.size // max(N, 1)
    if colmajor:
        def block(j0, j1):
            buf = np.empty(lanes, flat.dtype)  # this thread's register buffer
            return _ewm_cols(src, outer, dst, T, T, j0, j1, pos, weighted, old_wt, nobs, is_fast, pending, carry,
                             inputs, buf, *consts, float(1.0 - params.alpha), fast)
    else:
        saved = np.empty(N, flat.dtype)

        def block(j0, j1):
            return _ewm_rows(src, outer, dst, T, N, j0, j1, pos, weighted, old_wt, nobs, is_fast, saved, *consts, fast)
    with _threads.gc_paused_while_compiling(_ewm_cols if colmajor else _ewm_rows, flat.dtype):
        done = sum(_threads.run_blocks(block, N, align=align, threads=threads))
    new = EWMMeanState(weighted.reshape(step_shape), old_wt.reshape(step_shape), nobs.reshape(step_shape),
                       is_fast.reshape(step_shape), pos + T, pending.reshape(step_shape), carry.reshape(step_shape),
                       inputs.reshape(step_shape + (lanes,)))
    return out.reshape(values.shape, order="A"), new, int(done)


def ewm_mean(values: np.ndarray, params: EWMParams, *,
             state: EWMMeanState | None = None) -> tuple[np.ndarray, EWMMeanState]:
    """pandas' ``ewm(...).mean()`` along axis 0 of float ``values`` (``(T, ...)``), continuing ``state``.

    Returns ``(out, state)``; see :func:`ewm_mean_kernel`.
    """
    out, state, _ = ewm_mean_kernel(values, params, state=state)
    return out, state


@register_backend("numba")
class NumbaBackend(Backend):
    """Compiled serial loops on Python threads over blocks of columns (the default backend).

    Every statistic is its own small ``nogil`` kernel (``numba_backend`` for the EWM mean,
    :mod:`~waxegg.wax.backends.numba_ewm`, :mod:`~waxegg.wax.backends.numba_rolling`), compiled on
    first use for the call's dtype and memory layout and cached on disk, and each continues from a
    state exactly.
    """

    capabilities = Capabilities(kernels=frozenset(KERNELS), state=True, times=True, variable_windows=True)

    def ewm_mean(self, values, params, *, state=None, deltas=None):
        if deltas is not None:
            from waxegg.wax.backends import numba_ewm

            return numba_ewm.ewm_mean_times(values, params, deltas, state=state)
        return ewm_mean(values, params, state=state)

    def ewm_sum(self, values, params, *, state=None):
        from waxegg.wax.backends import numba_ewm

        return numba_ewm.ewm_sum(values, params, state=state)

    def ewm_var(self, values, params, *, bias=False, state=None):
        from waxegg.wax.backends import numba_ewm

        return numba_ewm.ewm_var(values, params, bias=bias, state=state)

    def ewm_std(self, values, params, *, bias=False, state=None):
        from waxegg.wax.backends import numba_ewm

        return numba_ewm.ewm_std(values, params, bias=bias, state=state)

    def ewm_cov(self, x, y, params, *, bias=False, state=None):
        from waxegg.wax.backends import numba_ewm

        return numba_ewm.ewm_cov(x, y, params, bias=bias, state=state)

    def ewm_corr(self, x, y, params, *, state=None):
        from waxegg.wax.backends import numba_ewm

        return numba_ewm.ewm_corr(x, y, params, state=state)

    def _rolling(self, name, *arrays, window, state, **kw):
        from waxegg.wax.backends import numba_rolling

        return getattr(numba_rolling, name)(*arrays, window, state=state, **kw)

    def rolling_mean(self, values, window, *, state=None):
        return self._rolling("rolling_mean", values, window=window, state=state)

    def rolling_sum(self, values, window, *, state=None):
        return self._rolling("rolling_sum", values, window=window, state=state)

    def rolling_var(self, values, window, *, ddof=1, state=None):
        return self._rolling("rolling_var", values, window=window, state=state, ddof=ddof)

    def rolling_std(self, values, window, *, ddof=1, state=None):
        return self._rolling("rolling_std", values, window=window, state=state, ddof=ddof)

    def rolling_min(self, values, window, *, state=None):
        return self._rolling("rolling_min", values, window=window, state=state)

    def rolling_max(self, values, window, *, state=None):
        return self._rolling("rolling_max", values, window=window, state=state)

    def rolling_median(self, values, window, *, state=None):
        return self._rolling("rolling_median", values, window=window, state=state)

    def rolling_count(self, values, window, *, state=None):
        return self._rolling("rolling_count", values, window=window, state=state)

    def rolling_cov(self, x, y, window, *, ddof=1, state=None):
        return self._rolling("rolling_cov", x, y, window=window, state=state, ddof=ddof)

    def rolling_corr(self, x, y, window, *, ddof=1, state=None):
        return self._rolling("rolling_corr", x, y, window=window, state=state, ddof=ddof)
