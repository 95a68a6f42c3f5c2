"""``.wax.ewm().var()/std()/cov()`` and ``.wax.rolling().mean()`` against pandas, on every container."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import nan_pattern_frame

TOL = dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(alpha=0.2), dict(com=3.0, adjust=False, ignore_na=True, min_periods=5)], ids=str)
@pytest.mark.parametrize("bias", [False, True])
def test_frame_var_std_match_pandas(frame, kw, bias):
    # mirrors: DataFrame.ewm(**kw).var(bias=...) / .std(bias=...)
    pd.testing.assert_frame_equal(frame.wax.ewm(**kw).var(bias=bias), frame.ewm(**kw).var(bias=bias), **TOL)
    pd.testing.assert_frame_equal(frame.wax.ewm(**kw).std(bias=bias), frame.ewm(**kw).std(bias=bias), **TOL)


def test_frame_cov_forms_match_pandas(frame):
    ewm, ref = frame.wax.ewm(alpha=0.2), frame.ewm(alpha=0.2)
    other = frame.iloc[5:, ::-1] * 2.0
    other.columns = [0, 1, 2, 3, 4, 9]
    # mirrors: DataFrame.ewm().cov() (pairwise MultiIndex frame)
    pd.testing.assert_frame_equal(ewm.cov(), ref.cov(), **TOL)
    # mirrors: .cov(other) -- columns matched by name, outer-aligned index and columns
    pd.testing.assert_frame_equal(ewm.cov(other), ref.cov(other), **TOL)
    # mirrors: .cov(other, pairwise=True) and .cov(other, bias=True)
    pd.testing.assert_frame_equal(ewm.cov(other, pairwise=True), ref.cov(other, pairwise=True), **TOL)
    pd.testing.assert_frame_equal(ewm.cov(other, bias=True), ref.cov(other, bias=True), **TOL)
    # mirrors: .cov(series)
    pd.testing.assert_frame_equal(ewm.cov(frame[2].iloc[3:]), ref.cov(frame[2].iloc[3:]), **TOL)


def test_series_cov_forms_match_pandas(frame):
    s, t = frame[1], frame[2].iloc[3:]
    pd.testing.assert_series_equal(s.wax.ewm(alpha=0.2).cov(t), s.ewm(alpha=0.2).cov(t), **TOL)
    pd.testing.assert_series_equal(s.wax.ewm(alpha=0.2).cov(), s.ewm(alpha=0.2).cov(), **TOL)
    pd.testing.assert_frame_equal(s.wax.ewm(alpha=0.2).cov(frame), s.ewm(alpha=0.2).cov(frame), **TOL)
    pd.testing.assert_series_equal(s.wax.ewm(span=4).std(), s.ewm(span=4).std(), **TOL)


@pytest.mark.parametrize("order", ["F", "C"])
@pytest.mark.parametrize("stat", ["ewm_cov", "ewm_corr", "rolling_cov", "rolling_corr"])
def test_other_reaches_the_kernel_in_place(monkeypatch, order, stat):
    # mirrors: DataFrame.ewm(alpha).cov(other, pairwise=False) / .rolling(w).corr(other, pairwise=False)
    # on aligned frames: both operands reach the kernel as views of the frames' data, in their own
    # memory order (a transposing copy of `other` cost more than the kernel at T=1e5 x N=1000)
    from waxegg.wax.backends import get_backend

    rng = np.random.default_rng(3)
    x, y = (np.array(rng.standard_normal((40, 5)), order=order) for _ in range(2))
    df, other = pd.DataFrame(x, copy=False), pd.DataFrame(y, copy=False)
    backend = get_backend("numba")
    seen = []
    kernel = getattr(backend, stat)

    def spy(a, b, *args, **kw):
        seen.append((np.shares_memory(a, df.to_numpy()), np.shares_memory(b, other.to_numpy()),
                     a.flags.f_contiguous, b.flags.f_contiguous))
        return kernel(a, b, *args, **kw)

    monkeypatch.setattr(backend, stat, spy)
    kind, name = stat.split("_")
    window = df.wax.ewm(alpha=0.2) if kind == "ewm" else df.wax.rolling(4)
    ref = df.ewm(alpha=0.2) if kind == "ewm" else df.rolling(4)
    pd.testing.assert_frame_equal(getattr(window, name)(other, pairwise=False),
                                  getattr(ref, name)(other, pairwise=False), **TOL)
    f = df.to_numpy().flags.f_contiguous
    assert seen == [(True, True, f, f)]


@pytest.mark.parametrize("window, min_periods", [(1, None), (4, None), (7, 2), (20, 0)])
def test_rolling_mean_matches_pandas(frame, window, min_periods):
    # mirrors: DataFrame.rolling(window, min_periods).mean()
    got = frame.wax.rolling(window, min_periods).mean()
    pd.testing.assert_frame_equal(got, frame.rolling(window, min_periods=min_periods).mean(), **TOL)
    s = frame[2]
    pd.testing.assert_series_equal(s.wax.rolling(window, min_periods).mean(),
                                   s.rolling(window, min_periods=min_periods).mean(), **TOL)


def test_inf_is_missing_like_pandas():
    # mirrors: DataFrame.ewm(alpha).var() / .cov(), Series.ewm(alpha).cov(other), DataFrame.rolling(w).mean()
    # -- pandas turns +-inf into NaN before any window operation
    rng = np.random.default_rng(5)
    x = rng.standard_normal((120, 3))
    x[x > 1.4] = np.inf
    x[x < -1.4] = -np.inf
    x[::13, 1] = np.nan
    df = pd.DataFrame(x)
    pd.testing.assert_frame_equal(df.wax.ewm(alpha=0.1).var(), df.ewm(alpha=0.1).var(), **TOL)
    pd.testing.assert_series_equal(df[0].wax.ewm(alpha=0.1).cov(df[1]), df[0].ewm(alpha=0.1).cov(df[1]), **TOL)
    for window, min_periods in ((1, None), (3, 1), (10, 2)):
        pd.testing.assert_frame_equal(df.wax.rolling(window, min_periods).mean(),
                                      df.rolling(window, min_periods=min_periods).mean(), **TOL)


def _xr(frame):
    da = xr.DataArray(frame.to_numpy().T, dims=("asset", "time"), coords={"time": frame.index})
    return da, xr.Dataset({"a": da, "b": da * 2.0, "c": da.isel(asset=0)}, attrs={"k": 1})


def test_dataarray_and_dataset_var_std_cov_rolling(frame):
    da, ds = _xr(frame)
    got = da.wax.ewm(alpha=0.2).var()
    assert got.dims == ("asset", "time")
    np.testing.assert_allclose(got.values.T, frame.ewm(alpha=0.2).var(), equal_nan=True, **TOL)
    out = ds.wax.ewm(alpha=0.2).std(bias=True)
    assert isinstance(out, xr.Dataset) and set(out.data_vars) == {"a", "b", "c"} and out.attrs == {"k": 1}
    np.testing.assert_allclose(out["b"].values.T, (frame * 2).ewm(alpha=0.2).std(bias=True), equal_nan=True, **TOL)
    np.testing.assert_allclose(out["c"].values, frame[0].ewm(alpha=0.2).std(bias=True), equal_nan=True, **TOL)
    cov = ds.wax.ewm(alpha=0.2).cov(ds * 3.0)
    np.testing.assert_allclose(cov["b"].values.T, (frame * 2).ewm(alpha=0.2).cov(frame * 6), equal_nan=True, **TOL)
    roll = ds.wax.rolling(6, 3).mean()
    np.testing.assert_allclose(roll["a"].values.T, frame.rolling(6, min_periods=3).mean(), equal_nan=True, **TOL)
    # the existing mean path works on a Dataset too (WAX-ML raised there)
    np.testing.assert_allclose(ds.wax.ewm(alpha=0.2).mean()["a"].values.T, frame.ewm(alpha=0.2).mean(),
                               equal_nan=True, **TOL)


def test_format_outputs_false_and_float32(frame):
    raw = frame.wax.ewm(alpha=0.2, format_outputs=False).var()
    assert isinstance(raw, np.ndarray) and raw.shape == frame.shape
    got = frame.wax.rolling(5, dtype="float32").mean()
    assert got.dtypes.eq(np.float32).all()
    np.testing.assert_allclose(got, frame.rolling(5).mean(), rtol=1e-5, atol=1e-6, equal_nan=True)


def test_empty_and_integer_like_pandas():
    empty = pd.DataFrame({"a": [], "b": []}, dtype=float)
    assert empty.wax.ewm(alpha=0.5).var().shape == (0, 2)
    assert empty.wax.rolling(3).mean().shape == (0, 2)
    ints = pd.DataFrame({"a": [1, 2, 4, 8, 16]})
    pd.testing.assert_frame_equal(ints.wax.ewm(com=1).var(), ints.ewm(com=1).var(), **TOL)
    pd.testing.assert_frame_equal(ints.wax.rolling(2).mean(), ints.rolling(2).mean(), **TOL)


@pytest.mark.parametrize("call, error, message", [
    (lambda df: df.wax.rolling(-2), ValueError, "window must be an integer 0 or greater, got -2"),
    (lambda df: df.wax.rolling(2.5), ValueError, "window must be an integer 0 or greater"),
    (lambda df: df.wax.rolling(3, 5), ValueError, "min_periods 5 must be <= window 3"),
    (lambda df: df.wax.ewm(alpha=0.5).var(bias="no"), TypeError, "bias must be a bool"),
    (lambda df: df.wax.ewm(alpha=0.5).cov(np.ones(3)), TypeError, "other must be a Series or DataFrame"),
])
def test_bad_input_named(call, error, message):
    with pytest.raises(error, match=message):
        call(pd.DataFrame({"a": [1.0, 2.0]}))


def test_window_of_zero_steps_as_pandas():
    # pandas accepts window=0: every window is empty, so every value is missing
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    pd.testing.assert_frame_equal(df.wax.rolling(0).mean(), df.rolling(0).mean(), check_exact=True)
    assert df.wax.rolling(0).mean()["a"].isna().all()


def test_xarray_cov_bad_other_named(frame):
    da, ds = _xr(frame)
    with pytest.raises(TypeError, match="other must be a DataArray"):
        da.wax.ewm(alpha=0.2).cov(ds)
    with pytest.raises(ValueError, match="variables \\['c'\\] of self are missing from other"):
        ds.wax.ewm(alpha=0.2).cov(ds[["a", "b"]])


@settings(max_examples=15, deadline=None)
@given(T=st.integers(1, 30), N=st.integers(1, 3), nan_rate=st.sampled_from([0.0, 0.3]),
       alpha=st.floats(0.05, 1.0), adjust=st.booleans(), ignore_na=st.booleans(), min_periods=st.integers(0, 4),
       window=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_property_accessor_stats_equal_pandas(T, N, nan_rate, alpha, adjust, ignore_na, min_periods, window, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N)) * 10.0 ** rng.integers(-2, 3)
    x[rng.random((T, N)) < nan_rate] = np.nan
    df = pd.DataFrame(x)
    kw = dict(alpha=alpha, adjust=adjust, ignore_na=ignore_na, min_periods=min_periods)
    pd.testing.assert_frame_equal(df.wax.ewm(**kw).var(), df.ewm(**kw).var(), **TOL)
    pd.testing.assert_frame_equal(df.wax.ewm(**kw).cov(), df.ewm(**kw).cov(), **TOL)
    mp = min(min_periods, window)
    pd.testing.assert_frame_equal(df.wax.rolling(window, mp).mean(), df.rolling(window, min_periods=mp).mean(), **TOL)
