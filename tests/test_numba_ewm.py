"""The numba EWM kernels (sum, var, std, cov, corr, mean with times) against pandas 3.

Tolerances. float64: ``sum`` and ``mean`` with times perform pandas' Cython operations in pandas'
order and equal pandas bit for bit (tested); ``var``/``std``/``cov``/``corr`` multiply by one
reciprocal where pandas divides, an ulp per step that the recursion contracts. The parity table
uses ``rtol=1e-12`` and an ``atol`` of ``1e-12 * scale**k`` (``k`` the statistic's degree in the
data: 1 for sum and std, 2 for var/cov, 0 for corr), because an ulp of a running mean of size
``scale`` shows as ``eps * scale * deviation`` in a second moment, which a relative tolerance alone
would not bound where the moment is near zero. float32: the kernels compute in float32 while pandas
upcasts to float64, so each step rounds at ``eps32 ~ 6e-8``; the recursions contract (by
``1 - alpha`` per step), so errors stay a few hundred eps32 at most: ``rtol=1e-4`` and
``atol=1e-4 * scale**k``.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from waxegg.wax._params import ewm_params
from waxegg.wax.backends import numba_ewm as ne

WINDOWS = [dict(com=2.5), dict(span=7), dict(halflife=3.0), dict(alpha=0.5), dict(alpha=1.0), dict(com=0.0),
           dict(alpha=0.02)]
DEGREE = dict(sum=1, var=2, std=1, cov=2, corr=0)


def data(T=160, N=7, seed=0, dtype=np.float64, scale=1.0, order="C"):
    """Time-first values with leading NaNs, a NaN run, scattered NaNs, +-inf and a constant column."""
    rng = np.random.default_rng(seed)
    x = scale * (rng.standard_normal((T, N)) + 3.0)
    x[:5, 0] = np.nan
    x[40:70, 1] = np.nan
    x[rng.random(T) < 0.2, 2] = np.nan
    x[10, 2], x[11, 3], x[T - 1, 0] = np.inf, -np.inf, np.inf
    x[:, 4 % N] = 1.5 * scale
    x[T // 2:, 5 % N] = np.nan
    return np.asarray(x.astype(dtype), order=order)


def pandas_stat(stat, x, y, window, bias=False):
    """The pandas call each kernel mirrors, on float64 frames."""
    e = pd.DataFrame(np.asarray(x, dtype=np.float64)).ewm(**window)
    if stat == "sum":
        return e.sum().to_numpy()
    if stat == "var":
        return e.var(bias=bias).to_numpy()
    if stat == "std":
        return e.std(bias=bias).to_numpy()
    other = pd.DataFrame(np.asarray(y, dtype=np.float64))
    if stat == "cov":
        return e.cov(other, bias=bias).to_numpy()
    return e.corr(other).to_numpy()


def ours(stat, x, y, params, bias=False, state=None):
    if stat == "sum":
        return ne.ewm_sum(x, params, state=state)
    if stat == "var":
        return ne.ewm_var(x, params, bias=bias, state=state)
    if stat == "std":
        return ne.ewm_std(x, params, bias=bias, state=state)
    if stat == "cov":
        return ne.ewm_cov(x, y, params, bias=bias, state=state)
    return ne.ewm_corr(x, y, params, state=state)


def check(got, want, stat, dtype, scale=1.0):
    k = DEGREE[stat]
    if np.dtype(dtype) == np.float64:
        assert_array_equal(np.isnan(got), np.isnan(want))
        assert_allclose(got, want, rtol=1e-12, atol=1e-12 * scale ** k, equal_nan=True)
        return
    atol = 1e-4 * scale ** k
    differ = np.isnan(got) != np.isnan(want)
    if differ.any():
        # float32 only: after a single observation the bias correction's denominator
        # sum_wt**2 - sum_wt2 is zero up to rounding (pandas' float64 rounding leaves it +-1e-17,
        # so pandas prints 0.0 or NaN by chance); the moment there is 0, so a NaN on one side may
        # only face a zero on the other
        assert stat in ("var", "std", "cov")
        other = np.where(np.isnan(got), want, got)[differ]
        assert_allclose(other, 0.0, atol=atol)
        got, want = np.where(differ, np.nan, got), np.where(differ, np.nan, want)
    assert_allclose(got, want, rtol=1e-4, atol=atol, equal_nan=True)


def cases():
    for stat in ("sum", "var", "std", "cov", "corr"):
        for window in WINDOWS:
            for adjust in (True, False):
                if stat == "sum" and not adjust:
                    continue  # pandas: NotImplementedError (tested below)
                for ignore_na in (False, True):
                    for min_periods in (0, 4):
                        for bias in ((False, True) if stat in ("var", "std", "cov") else (False,)):
                            yield stat, window, adjust, ignore_na, min_periods, bias


@pytest.mark.parametrize("order", ["C", "F"])
def test_parity_table(order):
    """Every statistic x window x adjust x ignore_na x min_periods x bias, against pandas, float64."""
    scale = 100.0
    x = data(order=order, scale=scale)
    y = np.asarray(data(seed=1, scale=scale)[::-1] * 0.5 + x * 0.25, order=order)
    n = 0
    for stat, window, adjust, ignore_na, min_periods, bias in cases():
        kw = dict(window, adjust=adjust, ignore_na=ignore_na, min_periods=min_periods)
        got, _ = ours(stat, x, y, ewm_params(**kw), bias=bias)
        assert got.dtype == np.float64 and got.shape == x.shape
        assert got.flags.f_contiguous == (order == "F")
        check(got, pandas_stat(stat, x, y, kw, bias), stat, np.float64, scale)
        n += 1
    assert n > 300


def test_float64_sum_is_bitwise_pandas():
    """pandas' operations in pandas' order: the float64 sum equals pandas' to the last bit."""
    x = data(T=300, N=9)
    y = data(T=300, N=9, seed=3)
    for stat, window, adjust, ignore_na, min_periods, bias in cases():
        if window not in (dict(com=2.5), dict(alpha=0.5)) or stat != "sum":
            continue
        kw = dict(window, adjust=adjust, ignore_na=ignore_na, min_periods=min_periods)
        got, _ = ours(stat, x, y, ewm_params(**kw), bias=bias)
        assert_array_equal(got, pandas_stat(stat, x, y, kw, bias), err_msg=f"{stat} {kw} bias={bias}")


@pytest.mark.parametrize("order", ["C", "F"])
def test_parity_float32(order):
    """float32 computes in float32 (pandas upcasts): within float32 rounding of pandas on the same values."""
    x = data(T=240, N=9, dtype=np.float32, order=order)  # NaN runs shorter than float32's underflow
    y = np.asarray((x[::-1] * 0.5 + 1).astype(np.float32), order=order)
    for stat, window, adjust, ignore_na, min_periods, bias in cases():
        if window not in (dict(com=2.5), dict(alpha=0.02), dict(alpha=1.0)):
            continue
        kw = dict(window, adjust=adjust, ignore_na=ignore_na, min_periods=min_periods)
        got, _ = ours(stat, x, y, ewm_params(**kw), bias=bias)
        assert got.dtype == np.float32
        check(got, pandas_stat(stat, x, y, kw, bias), stat, np.float32, scale=4.0)


def test_float32_weights_underflow_in_long_gaps():
    """Documented float32 limit: ~130 missing steps at com=2.5 underflow sum_wt2 (pandas' float64 does not)."""
    x = np.ones(400, dtype=np.float32)
    x[::3] = 2.0
    x[100:] = np.nan
    got, s = ne.ewm_var(x, ewm_params(com=2.5))
    want = pd.Series(x.astype(np.float64)).ewm(com=2.5).var().to_numpy()
    assert_allclose(got[:200], want[:200], rtol=1e-4)
    assert np.isnan(got[300:]).all() and np.isfinite(want[300:]).all()
    assert s.sum_wt2[0] < 1e-37


def test_corr_masks_each_series_with_the_other():
    """pandas' corr masks x with y's missing values (prep_binary): var_x counts joint observations only."""
    x = data(T=120, N=6)
    y = data(T=120, N=6, seed=5)
    y[30:60, :] = np.nan
    got, _ = ne.ewm_corr(x, y, ewm_params(com=3.0))
    want = pd.DataFrame(x).ewm(com=3.0).corr(pd.DataFrame(y)).to_numpy()
    check(got, want, "corr", np.float64)
    assert np.isfinite(got[70:, 3]).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_columns_do_not_depend_on_their_neighbours(dtype, order):
    """Rows whose columns share weights take a division-free loop; a column's result is the same alone."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((300, 75)).astype(dtype)
    y = rng.standard_normal((300, 75)).astype(dtype)
    x[rng.random(x.shape) < 0.003] = np.nan
    x[100:150, 7] = np.nan
    x, y = np.asarray(x, order=order), np.asarray(y, order=order)
    for p in (ewm_params(com=3.0), ewm_params(com=3.0, adjust=False), ewm_params(span=5, ignore_na=True)):
        for fn in (lambda a, b: ne.ewm_var(a, p)[0], lambda a, b: ne.ewm_std(a, p, bias=True)[0],
                   lambda a, b: ne.ewm_cov(a, b, p)[0], lambda a, b: ne.ewm_corr(a, b, p)[0]):
            whole = fn(x, y)
            alone = np.column_stack([fn(x[:, j], y[:, j]) for j in range(0, 75, 4)])
            assert_array_equal(whole[:, ::4], alone)


def test_var_is_cov_with_itself():
    x = data(T=200, N=11, order="F")
    p = ewm_params(span=10, adjust=False)
    for bias in (False, True):
        assert_array_equal(ne.ewm_var(x, p, bias=bias)[0], ne.ewm_cov(x, x, p, bias=bias)[0])
        std = ne.ewm_std(x, p, bias=bias)[0]
        var = ne.ewm_var(x, p, bias=bias)[0]
        with np.errstate(invalid="ignore"):
            assert_array_equal(std, np.where(var < 0, 0, np.sqrt(var)))


# --- splitting the stream ----------------------------------------------------------------------------
def split_run(fn, x, k, *extra):
    whole, _ = fn(x, *extra)
    a, s = fn(x[:k], *extra)
    b, _ = fn(x[k:], *extra, state=s)
    return whole, np.concatenate([a, b])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_split_stream_is_bitwise(dtype, order):
    """``f(x[:k])`` then ``f(x[k:], state=...)`` equals ``f(x)`` bit for bit, with NaN runs around k."""
    x = data(T=700, N=70, dtype=dtype, order=order)
    y = np.asarray((x[::-1] * 0.5 + 1).astype(dtype), order=order)
    for p in (ewm_params(com=4.0, min_periods=3), ewm_params(alpha=0.3, adjust=False, ignore_na=True)):
        for k in (0, 1, 5, 45, 60, 513, 699, 700):  # inside the NaN run of column 1 at 45 and 60
            fns = {
                "var": lambda v, state=None: ne.ewm_var(v, p, state=state),
                "std": lambda v, state=None: ne.ewm_std(v, p, bias=True, state=state),
                "cov": lambda v, w, state=None: ne.ewm_cov(v, w, p, state=state),
                "corr": lambda v, w, state=None: ne.ewm_corr(v, w, p, state=state),
            }
            if p.adjust:
                fns["sum"] = lambda v, state=None: ne.ewm_sum(v, p, state=state)
            for name, fn in fns.items():
                if name in ("cov", "corr"):
                    whole, _ = fn(x, y)
                    a, s = fn(x[:k], y[:k])
                    b, _ = fn(x[k:], y[k:], state=s)
                    parts = np.concatenate([a, b])
                else:
                    whole, parts = split_run(fn, x, k)
                assert_array_equal(parts, whole, err_msg=f"{name} k={k}")


@pytest.mark.parametrize("order", ["C", "F"])
def test_split_stream_times(order):
    rng = np.random.default_rng(2)
    x = data(T=300, N=20, order=order)
    deltas = rng.exponential(1.0, 299)
    for p in (ewm_params(com=1.0, adjust=False), ewm_params(com=1.0), ewm_params(com=3.0, ignore_na=True)):
        whole, _ = ne.ewm_mean_times(x, p, deltas)
        for k in (1, 50, 299):
            a, s = ne.ewm_mean_times(x[:k], p, deltas[:k - 1])
            b, _ = ne.ewm_mean_times(x[k:], p, deltas[k - 1:], state=s)  # deltas[k-1]: the gap into x[k]
            assert_array_equal(np.concatenate([a, b]), whole)


# --- times -----------------------------------------------------------------------------------------------
def pandas_deltas(times: pd.DatetimeIndex, halflife: str) -> np.ndarray:
    """pandas' ``_calculate_deltas``: the time steps over the halflife, in the times' unit."""
    unit = np.datetime_data(times.dtype)[0]
    return np.diff(times.asi8.astype(np.float64)) / float(pd.Timedelta(halflife).as_unit(unit)._value)


@pytest.mark.parametrize("order", ["C", "F"])
def test_mean_times_vs_pandas(order):
    """``df.ewm(halflife="2h", times=idx).mean()`` on irregular times, every adjust / ignore_na / min_periods."""
    rng = np.random.default_rng(7)
    T = 250
    idx = pd.DatetimeIndex(pd.Timestamp("2024-01-01") + pd.to_timedelta(np.cumsum(rng.integers(1, 400, T)), "min"))
    x = data(T=T, N=8, order=order)
    deltas = pandas_deltas(idx, "2h")
    for adjust in (True, False):
        for ignore_na in (False, True):
            for min_periods in (0, 5):
                kw = dict(adjust=adjust, ignore_na=ignore_na, min_periods=min_periods)
                want = pd.DataFrame(x, index=idx).ewm(halflife="2h", times=idx, **kw).mean().to_numpy()
                got, _ = ne.ewm_mean_times(x, ewm_params(com=1.0, **kw), deltas)  # pandas: com=1 with times
                assert_array_equal(np.isnan(got), np.isnan(want))
                assert_allclose(got, want, rtol=1e-12, atol=1e-12 * 3)
                assert_array_equal(got, want)  # same ops, same order: bit for bit
    # with com= as well as a time halflife (pandas: adjust=True only)
    want = pd.DataFrame(x, index=idx).ewm(com=4.0, halflife="2h", times=idx).mean().to_numpy()
    assert_array_equal(ne.ewm_mean_times(x, ewm_params(com=4.0), deltas)[0], want)
    x32 = x.astype(np.float32)
    got32, _ = ne.ewm_mean_times(x32, ewm_params(com=1.0), deltas)
    want = pd.DataFrame(x32.astype(np.float64), index=idx).ewm(halflife="2h", times=idx).mean().to_numpy()
    assert got32.dtype == np.float32
    assert_allclose(got32, want, rtol=1e-5, atol=1e-5 * 3, equal_nan=True)


def test_mean_times_regular_is_mean():
    x = data(T=100, N=4)
    got, _ = ne.ewm_mean_times(x, ewm_params(com=2.0), np.ones(99))
    assert_allclose(got, pd.DataFrame(x).ewm(com=2.0).mean().to_numpy(), rtol=1e-12, atol=1e-12 * 3)


# --- shapes, layouts, errors ---------------------------------------------------------------------------
def test_shapes_and_layouts():
    p = ewm_params(com=3.0)
    x = data(T=90, N=12)
    want = pandas_stat("var", x, None, dict(com=3.0))
    for v in (x, np.asfortranarray(x), x[:, ::2], np.asfortranarray(x)[:, 1::2], x[::-1][::-1]):
        got, st_ = ne.ewm_var(v, p)
        check(got, pandas_stat("var", v, None, dict(com=3.0)), "var", np.float64, 3.0)
        assert st_.nobs.shape == (v.shape[1],)
    # 1-D and 3-D, both orders: same shape, same memory order
    one, _ = ne.ewm_var(x[:, 2], p)
    assert one.shape == (90,)
    check(one, want[:, 2], "var", np.float64, 3.0)
    cube = x.reshape(90, 3, 4)
    for c in (cube, np.asfortranarray(cube)):
        got, _ = ne.ewm_var(c, p)
        assert got.shape == c.shape and got.flags.f_contiguous == c.flags.f_contiguous
        check(got.reshape(90, -1, order="F" if c.flags.f_contiguous else "C"),
              pandas_stat("var", c.reshape(90, -1, order="F" if c.flags.f_contiguous else "C"), None,
                          dict(com=3.0)), "var", np.float64, 3.0)
    # empty and tiny
    for T in (0, 1, 2, 7, 9):
        for N in (1, 3, 17):
            v = data(T=20, N=17)[:T, :N]
            check(ne.ewm_sum(v, p)[0], pandas_stat("sum", v, None, dict(com=3.0)), "sum", np.float64)
            check(ne.ewm_cov(np.asfortranarray(v), v, p)[0], pandas_stat("cov", v, v, dict(com=3.0)), "cov",
                  np.float64)


def test_wide_row_major_blocks():
    """Row-major input wider than a column block (and split between threads)."""
    x = data(T=40, N=1100)
    p = ewm_params(alpha=0.2, min_periods=2)
    check(ne.ewm_var(x, p)[0], pandas_stat("var", x, None, dict(alpha=0.2, min_periods=2)), "var", np.float64)
    check(ne.ewm_sum(x, p)[0], pandas_stat("sum", x, None, dict(alpha=0.2, min_periods=2)), "sum", np.float64)


def test_mixed_inputs_for_cov():
    x = data(T=80, N=9)
    y = np.asfortranarray(data(T=80, N=9, seed=4).astype(np.float32))
    got, _ = ne.ewm_cov(x, y, ewm_params(com=2.0))
    assert got.dtype == np.float64 and got.flags.c_contiguous
    check(got, pandas_stat("cov", x, y, dict(com=2.0)), "cov", np.float64)


def test_errors():
    x = data(T=20, N=6)[:, :3]
    with pytest.raises(NotImplementedError, match="adjust=False"):
        ne.ewm_sum(x, ewm_params(com=1.0, adjust=False))
    with pytest.raises(NotImplementedError):  # the pandas call the kernel mirrors
        pd.DataFrame(x).ewm(com=1.0, adjust=False).sum()
    with pytest.raises(TypeError, match="bias"):
        ne.ewm_var(x, ewm_params(com=1.0), bias=1)
    with pytest.raises(ValueError, match="same shape"):
        ne.ewm_cov(x, x[:, :2], ewm_params(com=1.0))
    with pytest.raises(ValueError, match="deltas"):
        ne.ewm_mean_times(x, ewm_params(com=1.0), np.ones(5))
    _, s = ne.ewm_mean_times(x, ewm_params(com=1.0), np.ones(19))
    with pytest.raises(ValueError, match="deltas"):  # continuing needs the gap into the first step
        ne.ewm_mean_times(x, ewm_params(com=1.0), np.ones(19), state=s)
    with pytest.raises(ValueError, match="state.weighted"):
        ne.ewm_sum(x[:, :2], ewm_params(com=1.0), state=s)
    with pytest.raises(ValueError, match="time axis"):
        ne.ewm_var(np.float64(1.0), ewm_params(com=1.0))


# --- code paths ----------------------------------------------------------------------------------------
MOMENTS = ("var", "std", "cov", "corr")  # the statistics with a shared-weights and a per-column loop


@contextmanager
def threads(n):
    """``$WAXEGG_NUM_THREADS`` for the calls inside (read by the kernels at each call)."""
    old = os.environ.get("WAXEGG_NUM_THREADS")
    os.environ["WAXEGG_NUM_THREADS"] = str(n)
    try:
        yield
    finally:
        if old is None:
            del os.environ["WAXEGG_NUM_THREADS"]
        else:
            os.environ["WAXEGG_NUM_THREADS"] = old


def groups_of(paths):
    """Per reported range: the column groups one row update ran over (a column-major tile's columns)."""
    out = []
    for r in paths["ranges"]:
        c0, c1 = r["cols"]
        if paths["layout"] == "F":
            out.append([(g, min(c1, g + paths["tile"][1])) for g in range(c0, c1, paths["tile"][1])])
        else:
            out.append([(c0, c1)])
    return out


def must_be_general(miss, seen, g0, g1, fresh, adjust, ignore_na):
    """Rows of columns ``g0:g1`` that the per-column loop must take, from the data alone.

    ``miss[t, j]``: step t of column j is no observation; ``seen[t, j]``: column j observed before t
    (this call or the stream the state ends). A row with a missing value cannot share weights; the
    first row of a fresh stream has no mean; without ``adjust`` and ``ignore_na``, a column missing at
    ``t`` after an observation has ``old_wt < 1`` at ``t + 1`` while an observed one has ``old_wt = 1``.
    """
    m = miss[:, g0:g1]
    rows = m.any(axis=1)
    if fresh and rows.size:
        rows[0] = True
    if not adjust and not ignore_na and rows.size > 1:
        decayed = (m & seen[:, g0:g1]).any(axis=1) & (~m).any(axis=1)
        rows[1:] |= decayed[:-1]
    return rows


def assert_paths(paths, stat, x, y, adjust, ignore_na, before=None):
    """The paths ``paths`` (``ne.last_paths()``) reports are the ones this data must take.

    ``before``: the values of the stream a ``state=`` ended (None: a fresh stream).
    """
    x2, y2 = (x, y) if x.ndim == 2 else (x.reshape(len(x), -1), y.reshape(len(y), -1))
    T, N = x2.shape
    colmajor = paths["layout"] == "F"
    assert paths["shape"] == (T, N)
    if x2.flags.c_contiguous or x2.flags.f_contiguous:  # else (a strided slice) the kernel copies it
        assert colmajor == (not x2.flags.c_contiguous)
    # the ranges cover the columns once, in order; column-major ones start at block boundaries
    cols = [r["cols"] for r in paths["ranges"]]
    assert [c0 for c0, _ in cols] == [0] + [c1 for _, c1 in cols[:-1]] and (not cols or cols[-1][1] == N)
    assert all(c1 > c0 for c0, c1 in cols)
    if colmajor:
        assert all(c0 % paths["micro"] == 0 for c0, _ in cols)
    else:
        assert all(c1 - c0 <= ne._ROW_BLOCK for c0, c1 in cols)
    miss = ~np.isfinite(x2)
    if stat in ("cov", "corr"):
        miss |= ~np.isfinite(y2)
    if before is None:
        seen = np.zeros(N, dtype=bool)
    else:
        ok = np.isfinite(before[0])
        if stat in ("cov", "corr"):
            ok &= np.isfinite(before[1])
        seen = ok.any(axis=0)
    seen_t = np.vstack([seen[None, :], (~miss).cumsum(axis=0)[:-1] > 0]) | seen[None, :] if T else miss
    fresh = before is None or len(before[0]) == 0
    clean_before = before is None or not len(before[0]) or (np.isfinite(before[0]).all()
                                                             and np.isfinite(before[1]).all())
    ragged = False
    for r, gs in zip(paths["ranges"], groups_of(paths)):
        if stat not in MOMENTS:
            assert r["shared_rows"] == r["general_rows"] == 0  # one loop
        else:
            assert r["shared_rows"] + r["general_rows"] == T * len(gs)
            lower = sum(int(must_be_general(miss, seen_t, g0, g1, fresh, adjust, ignore_na).sum()) for g0, g1 in gs)
            assert r["general_rows"] >= lower, (r, lower)
            # no missing value in a range (nor in the stream before): the weights stay shared
            if clean_before and not miss[:, r["cols"][0]:r["cols"][1]].any():
                assert r["general_rows"] == (len(gs) if fresh and T else 0), r
        if not colmajor:
            assert r["block_tiles"] == r["element_tiles"] == r["edge_blocks"] == 0
            continue
        tile_t, micro = paths["tile"][0], paths["micro"]
        shapes = [(g1 - g0, min(T, t0 + tile_t) - t0) for g0, g1 in gs for t0 in range(0, T, tile_t)]
        element = [(w, n) for w, n in shapes if w < micro or n < micro]
        blocks = [(w, n) for w, n in shapes if w >= micro and n >= micro]
        assert r["element_tiles"] == len(element), (r, shapes)
        assert r["block_tiles"] == len(blocks), (r, shapes)
        # a ragged edge (width or steps not a multiple of 8) is one shifted block per block row/column
        edge = sum(-(-w // micro) * -(-n // micro) - (w // micro) * (n // micro) for w, n in blocks)
        assert r["edge_blocks"] == edge, (r, shapes)
        ragged = ragged or any(w % micro or n % micro for w, n in blocks)
    if colmajor and N and T:
        if N < 8 or T < 8:
            assert paths["element_tiles"] > 0 and paths["block_tiles"] == 0
        else:
            assert paths["block_tiles"] > 0
            # a block tile with a ragged width or step count ran the shifted edge block; a ragged remainder that
            # is a whole element tile (fewer than 8 steps or columns after the last full tile) has none
            if ragged:
                assert paths["edge_blocks"] > 0


def call(stat, x, y, p, bias=False, state=None, deltas=None):
    if stat == "times":
        return ne.ewm_mean_times(x, p, deltas, state=state)
    return ours(stat, x, y, p, bias=bias, state=state)


@pytest.mark.parametrize("order", ["C", "F"])
def test_every_path_is_reached(order):
    """Shapes chosen to reach each path of each statistic, and the counters say they were taken."""
    p = ewm_params(com=3.0)
    wide = 2100 if order == "C" else 140  # two threads; row-major: two row blocks in the first thread
    for T, N in ((5, 3), (9, 13), (530, wide), (64, 16)):
        x = data(T=T, N=N, order=order) if N >= 6 and T >= 80 else np.asarray(
            np.random.default_rng(T).standard_normal((T, N)), order=order)
        if T == 530:
            x = np.asarray(x, order=order)
            x[:, N - 20:] = np.random.default_rng(1).standard_normal((T, 20))  # a clean last range
        y = np.asarray(x * 0.5 + 1.0, order=order)
        for stat in ("sum", "var", "std", "cov", "corr", "times"):
            with threads(2):
                call(stat, x, y, p, deltas=np.ones(max(T - 1, 0)))
            paths = ne.last_paths()
            assert_paths(paths, stat, x, y, True, False)
            if stat in MOMENTS:
                assert paths["shared_rows"] > 0 and paths["general_rows"] > 0
            if order == "F":
                if T < 8 or N < 8:
                    assert paths["element_tiles"] > 0
                else:
                    ragged = paths["edge_blocks"] + paths["element_tiles"] > 0
                    assert paths["block_tiles"] > 0 and ragged == (N % 8 != 0 or T % 8 != 0)
            if T == 530:
                assert len(paths["ranges"]) >= (3 if order == "C" else 2)
    assert ne.last_paths() is not ne.last_paths()  # a copy


def test_missing_value_sends_its_block_and_the_next_rows_down_the_per_column_loop():
    """One missing value in one column: its row and, its weights then differing, the rows after it."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 16))
    x[100:103, 5] = np.nan
    for order in ("C", "F"):
        v = np.asarray(x, order=order)
        for kw in (dict(com=3.0), dict(com=3.0, adjust=False)):
            got, _ = ne.ewm_var(v, ewm_params(**kw))
            paths = ne.last_paths()
            assert_paths(paths, "var", v, v, kw.get("adjust", True), False)
            assert paths["general_rows"] >= 1 + 3 + 1  # the first row, the missing ones, the next
            clean, _ = ne.ewm_var(np.asarray(rng.standard_normal((300, 16)), order=order), ewm_params(**kw))
            again = ne.last_paths()
            assert again["general_rows"] == sum(len(g) for g in groups_of(again))  # each group's first row
            check(got, pandas_stat("var", v, None, kw), "var", np.float64)


# --- property test -------------------------------------------------------------------------------------
@st.composite
def streams(draw):
    T = draw(st.one_of(st.integers(1, 20), st.integers(60, 140), st.integers(500, 530)))
    layout = draw(st.sampled_from(["C", "F"]))
    # below and past the 8-column block, the 64-column tile, two threads' tiles, and (row-major, short
    # streams) past a thread's row block
    sizes = [st.integers(1, 9), st.integers(14, 20), st.integers(60, 72)]
    if T <= 140:
        sizes.append(st.integers(126, 140))
    if T <= 20 and layout == "C":
        sizes.append(st.integers(2050, 2120))
    N = draw(st.one_of(*sizes))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N)) * 2.0
    y = rng.standard_normal((T, N)) + 0.5 * x
    clean = draw(st.sampled_from([True, False, False]))  # NaN-free: only the shared-weights loop
    for arr in (x, y):
        if clean:
            break
        for _ in range(draw(st.integers(0, 3))):  # NaN runs
            j, t0 = rng.integers(N), rng.integers(T)
            arr[t0:t0 + rng.integers(1, 40), j] = np.nan
        arr[rng.random((T, N)) < draw(st.sampled_from([0.0, 0.002, 0.05, 0.3]))] = np.nan
        inf = draw(st.sampled_from([0.0, 0.01]))
        arr[rng.random((T, N)) < inf] = np.inf
        arr[rng.random((T, N)) < inf] = -np.inf
    window = draw(st.sampled_from(WINDOWS))
    kw = dict(window, adjust=draw(st.booleans()), ignore_na=draw(st.booleans()),
              min_periods=draw(st.sampled_from([0, 1, 3, 10])))
    stat = draw(st.sampled_from(["sum", "var", "std", "cov", "corr", "times"]))
    if stat == "sum":
        kw["adjust"] = True
    return (np.asarray(x.astype(dtype), order=layout), np.asarray(y.astype(dtype), order=layout), kw, stat,
            draw(st.booleans()), rng.integers(0, T + 1), draw(st.sampled_from([1, 2, 3])))


@settings(max_examples=60, deadline=None)
@given(streams())
def test_property_vs_pandas_and_split(case):
    """Random shapes past every block size, both dtypes and layouts, NaN runs and +-inf: the paths the
    data must take, pandas, then a split stream."""
    x, y, kw, stat, bias, k, n_threads = case
    p = ewm_params(**kw)
    tkw = {k_: v for k_, v in kw.items() if k_ not in WINDOW_KEYS}
    adjust, ignore_na = kw["adjust"], kw["ignore_na"]
    deltas = None
    if stat == "times":
        p = ewm_params(com=1.0, **tkw)
        steps = np.random.default_rng(int(k)).exponential(1.0, max(x.shape[0] - 1, 0))
        times = pd.DatetimeIndex(pd.Timestamp("2020") + pd.to_timedelta(np.r_[0, np.cumsum(steps)] * 3600, "s"))
        deltas = pandas_deltas(times, "1h")
    with threads(n_threads):
        got, _ = call(stat, x, y, p, bias=bias, deltas=deltas)
        assert_paths(ne.last_paths(), stat, x, y, adjust, ignore_na)
        if stat == "times":
            want = (pd.DataFrame(x.astype(np.float64), index=times)
                    .ewm(halflife="1h", times=times, **tkw).mean().to_numpy())
            assert_array_equal(np.isnan(got), np.isnan(want))
            tol = 1e-12 if x.dtype == np.float64 else 1e-4
            assert_allclose(got, want, rtol=tol, atol=tol * 2.0, equal_nan=True)
            a, s = ne.ewm_mean_times(x[:k], p, deltas[:max(k - 1, 0)])
            b, _ = ne.ewm_mean_times(x[k:], p, np.r_[deltas, 0.0][max(k - 1, 0):][:x.shape[0] - k] if k else
                                     deltas, state=s if k else None)
            assert_paths(ne.last_paths(), stat, x[k:], y[k:], adjust, ignore_na)
            assert_array_equal(np.concatenate([a, b]), got)
            return
        assert got.dtype == x.dtype and got.flags.f_contiguous == x.flags.f_contiguous
        want = pandas_stat(stat, x, y, kw, bias)
        if x.dtype == np.float32 and stat in ("var", "std", "cov") and not bias:
            # float32: pandas' bias correction sum_wt**2 / (sum_wt**2 - sum_wt2) cancels where few
            # effective observations remain (e.g. one value after a long gap) and multiplies the
            # rounding error by itself; widen the tolerance by that factor (pandas' own, in float64)
            with np.errstate(all="ignore"):
                factor = np.abs(want / pandas_stat(stat, x, y, kw, True))
            factor = np.where(np.isfinite(factor), factor, 1.0) ** (2 if stat == "std" else 1)
            loose = factor > 100
            check(np.where(loose, np.nan, got), np.where(loose, np.nan, want), stat, x.dtype, scale=2.0)
        else:
            check(got, want, stat, x.dtype, scale=2.0)
        a, s = ours(stat, x[:k], y[:k], p, bias=bias)
        assert_paths(ne.last_paths(), stat, x[:k], y[:k], adjust, ignore_na)
        b, _ = ours(stat, x[k:], y[k:], p, bias=bias, state=s)
        assert_paths(ne.last_paths(), stat, x[k:], y[k:], adjust, ignore_na, before=(x[:k], y[:k]))
    assert_array_equal(np.concatenate([a, b]), got)


WINDOW_KEYS = {"com", "span", "halflife", "alpha"}


def test_one_specialisation_per_dtype():
    """Writable (NumPy) and read-only (pandas) inputs call the same kernel specialisation, and the tile
    transposition compiles once per dtype for every statistic, both directions and both inputs."""
    p = ewm_params(alpha=0.1)
    for dtype in (np.float64, np.float32):
        x = data(T=40, N=20, dtype=dtype, order="F")
        ro = x.copy(order="F")
        ro.flags.writeable = False
        for arr in (x, ro):
            ne.ewm_sum(arr, p)
            ne.ewm_var(arr, p)
            ne.ewm_std(arr, p)
            ne.ewm_cov(arr, arr[::-1], p)
            ne.ewm_corr(arr, arr[::-1], p)
            ne.ewm_mean_times(arr, p, np.ones(len(arr) - 1))
            ne.ewm_var(np.ascontiguousarray(arr), p)
    for fn in (ne._sum_kernel, ne._var_kernel, ne._cov_kernel, ne._corr_kernel, ne._times_kernel, ne._transpose):
        dtypes = [str(sig[0].dtype) for sig in fn.signatures]
        assert sorted(dtypes) == sorted(set(dtypes)), (fn, fn.signatures)


def test_garbage_collector_state_restored():
    """A kernel's first call pauses the cyclic garbage collector while it compiles, and leaves it as it was."""
    import gc

    x = data(T=30, N=9, dtype=np.float32)
    p = ewm_params(com=2.5)
    assert gc.isenabled()
    gc.disable()
    try:
        ne.ewm_corr(x, x[::-1], p)
        assert not gc.isenabled()
    finally:
        gc.enable()
    ne.ewm_cov(x, x[::-1], p)
    ne.ewm_var(x, p)
    assert gc.isenabled()
