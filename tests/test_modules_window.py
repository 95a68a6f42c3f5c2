"""Window and history modules: parity with pandas shift/diff/pct_change/rolling().mean()/ffill, Buffer by hand."""

import haiku as hk
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waxegg.wax import dynamic_unroll, static_unroll
from waxegg.wax._x64 import x64_context
from waxegg.wax.modules import Buffer, Diff, Ffill, Lag, PctChange, RollingMean


def assert_same(got, ref, rtol=1e-12, atol=1e-12):
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True)


def unroll(fn, xs, how=dynamic_unroll):
    out, _ = how(hk.transform_with_state(fn), xs)
    return out


def construct(make):
    return hk.transform_with_state(lambda x: make()(x)).init(None, np.zeros(2))


@pytest.mark.parametrize("periods", [1, 2, 7])
def test_lag_diff_pct_change_match_pandas(frame, periods):
    # mirrors: DataFrame.shift(p), .diff(p), .pct_change(p)
    x = frame.to_numpy()
    lag, diff, pct = unroll(lambda v: (Lag(periods)(v), Diff(periods)(v), PctChange(periods)(v)), x)
    assert_same(lag, frame.shift(periods))
    assert_same(diff, frame.diff(periods))
    assert_same(pct, frame.pct_change(periods))


def test_pct_change_zero_denominator_like_pandas():
    s = pd.Series([0.0, 1.0, 0.0, 0.0, -2.0, np.nan, 3.0])
    assert_same(unroll(lambda v: PctChange()(v), s.to_numpy()), s.pct_change())


def test_integer_input_becomes_float64_like_pandas():
    s = pd.Series([1, 4, 9, 16, 25])
    got = unroll(lambda v: Diff(2)(v), s.to_numpy())
    assert got.dtype == np.float64
    assert_same(got, s.diff(2))


@pytest.mark.parametrize("window, min_periods", [(1, None), (2, None), (3, 1), (5, 0), (10, 4), (25, None)])
def test_rolling_mean_matches_pandas(frame, window, min_periods):
    # mirrors: DataFrame.rolling(window, min_periods=min_periods).mean()
    got = unroll(lambda v: RollingMean(window, min_periods)(v), frame.to_numpy())
    assert_same(got, frame.rolling(window, min_periods=min_periods).mean())


def test_rolling_mean_constant_and_same_sign_windows_exact():
    # pandas returns the constant of a constant window exactly and clips same-sign means at 0
    s = pd.Series([1e16, 0.1, 0.1, 0.1, 0.1, -1e-300, -1e-300, np.nan, 0.3, 0.3])
    got = unroll(lambda v: RollingMean(3, 1)(v), s.to_numpy())
    assert_same(got, s.rolling(3, min_periods=1).mean(), rtol=0, atol=0)


def test_ffill_matches_pandas(frame):
    assert_same(unroll(lambda v: Ffill()(v), frame.to_numpy()), frame.ffill(), rtol=0, atol=0)


@settings(max_examples=20, deadline=None)
@given(
    T=st.integers(1, 40),
    N=st.integers(1, 3),
    nan_rate=st.sampled_from([0.0, 0.2, 0.7]),
    window=st.integers(1, 12),
    min_periods=st.integers(0, 12),
    periods=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_property_window_modules_equal_pandas(T, N, nan_rate, window, min_periods, periods, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N)) * 10.0 ** rng.integers(-3, 4) + rng.integers(-2, 3)
    x[rng.random((T, N)) < nan_rate] = np.nan
    df = pd.DataFrame(x)
    min_periods = min(min_periods, window)
    roll, lag, diff, pct, ff = unroll(lambda v: (RollingMean(window, min_periods)(v), Lag(periods)(v),
                                                 Diff(periods)(v), PctChange(periods)(v), Ffill()(v)), x)
    assert_same(roll, df.rolling(window, min_periods=min_periods).mean())
    assert_same(lag, df.shift(periods))
    assert_same(diff, df.diff(periods))
    assert_same(pct, df.pct_change(periods))
    assert_same(ff, df.ffill())


def test_buffer_hand_computed_nd_and_pytree():
    x = np.arange(12.0).reshape(4, 3)  # 4 steps of a 3-vector
    got = np.asarray(unroll(lambda v: Buffer(2)(v), x))
    assert got.shape == (4, 2, 3)
    np.testing.assert_array_equal(got[0], [[np.nan] * 3, [0.0, 1.0, 2.0]])
    np.testing.assert_array_equal(got[3], [[6.0, 7.0, 8.0], [9.0, 10.0, 11.0]])
    tree = {"a": np.arange(3, dtype=np.int32), "b": np.arange(3.0) * 10}
    out = unroll(lambda v: Buffer(3, fill_value={"a": -1, "b": np.nan})(v), tree, static_unroll)
    np.testing.assert_array_equal(out["a"][1], [-1, 0, 1])
    assert out["a"].dtype == np.int32
    np.testing.assert_array_equal(out["b"][2], [0.0, 10.0, 20.0])


def test_buffer_bad_input_named():
    with pytest.raises(ValueError, match="maxlen must be >= 1, got 0"):
        construct(lambda: Buffer(0))
    with pytest.raises(ValueError, match=r"fill_value nan cannot be stored in leaf \['a'\] of dtype int32"):
        hk.transform_with_state(lambda v: Buffer(2)(v)).init(None, {"a": np.zeros(2, np.int32), "b": np.zeros(2)})
    # a leaf whose dtype changes between steps (the state was created for float64)
    t = hk.transform_with_state(lambda v: Buffer(2)(v))
    with x64_context():
        params, state = t.init(None, np.zeros(2))
        with pytest.raises(TypeError, match="has dtype float32 .* but the buffer holds float64"):
            t.apply(params, state, None, np.zeros(2, np.float32))


@pytest.mark.parametrize("make, message", [
    (lambda: Lag(0), "Lag: periods must be >= 1, got 0"),
    (lambda: Diff(-1), "Diff: periods must be >= 1, got -1"),
    (lambda: PctChange(1.5), "PctChange: periods must be an integer"),
    (lambda: RollingMean(0), "RollingMean: window must be >= 1, got 0"),
    (lambda: RollingMean(-3), "RollingMean: window must be >= 1, got -3"),
    (lambda: RollingMean(3, 4), "min_periods 4 must be <= window 3"),
])
def test_window_bad_parameters_named(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        construct(make)
