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


# --- property test -------------------------------------------------------------------------------------
@st.composite
def streams(draw):
    T = draw(st.one_of(st.integers(1, 20), st.integers(60, 140), st.integers(500, 530)))
    N = draw(st.one_of(st.integers(1, 9), st.integers(60, 72)))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    order = draw(st.sampled_from(["C", "F"]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N)) * 2.0
    y = rng.standard_normal((T, N)) + 0.5 * x
    for arr in (x, y):
        for _ in range(draw(st.integers(0, 3))):  # NaN runs
            j, t0 = rng.integers(N), rng.integers(T)
            arr[t0:t0 + rng.integers(1, 40), j] = np.nan
        arr[rng.random((T, N)) < draw(st.sampled_from([0.0, 0.05, 0.3]))] = np.nan
        arr[rng.random((T, N)) < 0.01] = np.inf
        arr[rng.random((T, N)) < 0.01] = -np.inf
    window = draw(st.sampled_from(WINDOWS))
    kw = dict(window, adjust=draw(st.booleans()), ignore_na=draw(st.booleans()),
              min_periods=draw(st.sampled_from([0, 1, 3, 10])))
    stat = draw(st.sampled_from(["sum", "var", "std", "cov", "corr", "times"]))
    if stat == "sum":
        kw["adjust"] = True
    return (np.asarray(x.astype(dtype), order=order), np.asarray(y.astype(dtype), order=order), kw, stat,
            draw(st.booleans()), rng.integers(0, T + 1))


@settings(max_examples=60, deadline=None)
@given(streams())
def test_property_vs_pandas_and_split(case):
    """Random shapes past every block size, both dtypes and layouts, NaN runs and +-inf: pandas, then a split."""
    x, y, kw, stat, bias, k = case
    p = ewm_params(**kw)
    if stat == "times":
        deltas = np.random.default_rng(int(k)).exponential(1.0, max(x.shape[0] - 1, 0))
        times = pd.DatetimeIndex(pd.Timestamp("2020") + pd.to_timedelta(np.r_[0, np.cumsum(deltas)] * 3600, "s"))
        got, _ = ne.ewm_mean_times(x, ewm_params(com=1.0, **{k_: v for k_, v in kw.items() if k_ not in WINDOW_KEYS}),
                                   pandas_deltas(times, "1h"))
        want = (pd.DataFrame(x.astype(np.float64), index=times)
                .ewm(halflife="1h", times=times, **{k_: v for k_, v in kw.items() if k_ not in WINDOW_KEYS})
                .mean().to_numpy())
        assert_array_equal(np.isnan(got), np.isnan(want))
        tol = 1e-12 if x.dtype == np.float64 else 1e-4
        assert_allclose(got, want, rtol=tol, atol=tol * 2.0, equal_nan=True)
        return
    got, _ = ours(stat, x, y, p, bias=bias)
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
    b, _ = ours(stat, x[k:], y[k:], p, bias=bias, state=s)
    assert_array_equal(np.concatenate([a, b]), got)


WINDOW_KEYS = {"com", "span", "halflife", "alpha"}
