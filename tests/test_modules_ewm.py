"""EWMVar / EWMCov parity with pandas ``ewm().var()/std()/cov()``, and EWMA ``adjust="linear"``."""

import math

import haiku as hk
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waxegg.wax import dynamic_unroll, static_unroll
from waxegg.wax.modules import EWMA, EWMCov, EWMVar

from conftest import nan_pattern_frame

OPTIONS = [
    dict(alpha=0.1),
    dict(alpha=0.3, adjust=False),
    dict(com=3.0, ignore_na=True),
    dict(span=5, adjust=False, ignore_na=True, min_periods=4),
    dict(halflife=4.0, min_periods=10),
    dict(alpha=1.0),
]


def assert_same(got, ref, rtol=1e-12, atol=1e-12):
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True)


def unroll(fn, xs, how=dynamic_unroll):
    out, _ = how(hk.transform_with_state(fn), xs)
    return np.asarray(out)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("kw", OPTIONS, ids=str)
def test_ewmvar_matches_pandas_var_and_std(frame, kw, bias):
    # mirrors: DataFrame.ewm(**kw).var(bias=bias) and .std(bias=bias)
    x = frame.to_numpy()
    assert_same(unroll(lambda v: EWMVar(**kw, bias=bias)(v), x), frame.ewm(**kw).var(bias=bias))
    assert_same(unroll(lambda v: EWMVar(**kw, bias=bias, std=True)(v), x), frame.ewm(**kw).std(bias=bias))


@pytest.mark.parametrize("kw", OPTIONS[:4], ids=str)
def test_ewmcov_matches_pandas_cov_pairwise_false(frame, kw):
    # mirrors: DataFrame.ewm(**kw).cov(other, pairwise=False, bias=...)
    other = pd.DataFrame(np.roll(frame.to_numpy(), 2, axis=1), index=frame.index, columns=frame.columns)
    for bias in (False, True):
        got = unroll(lambda a: EWMCov(**kw, bias=bias)(a[0], a[1]), (frame.to_numpy(), other.to_numpy()))
        assert_same(got, frame.ewm(**kw).cov(other, pairwise=False, bias=bias))


def test_ewmcov_pairwise_matrix_matches_pandas(frame):
    # mirrors: DataFrame.ewm(com=2).cov() (pairwise=True, a MultiIndex frame)
    x = frame.to_numpy()
    got = unroll(lambda v: EWMCov(com=2.0)(v[:, None], v[None, :]), x)
    T, N = x.shape
    assert got.shape == (T, N, N)
    assert_same(got.reshape(T * N, N), frame.ewm(com=2.0).cov())


def test_static_and_dynamic_unroll_agree(frame):
    x = frame.to_numpy()[:60]
    fn = lambda v: EWMVar(alpha=0.2)(v)
    assert_same(unroll(fn, x, static_unroll), unroll(fn, x, dynamic_unroll))


def test_float32_input_stays_float32(frame):
    x = frame.to_numpy().astype(np.float32)
    got = unroll(lambda v: EWMVar(alpha=0.2)(v), x)
    assert got.dtype == np.float32
    ref = pd.DataFrame(x.astype(np.float64)).ewm(alpha=0.2).var().to_numpy()
    assert_same(got, ref, rtol=2e-4, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    T=st.integers(1, 40),
    N=st.integers(1, 3),
    nan_rate=st.sampled_from([0.0, 0.3, 0.8]),
    alpha=st.floats(0.01, 1.0),
    adjust=st.booleans(),
    ignore_na=st.booleans(),
    min_periods=st.integers(0, 5),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_property_ewmvar_ewmcov_equal_pandas(T, N, nan_rate, alpha, adjust, ignore_na, min_periods, bias, seed):
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.integers(-3, 4)
    x = rng.standard_normal((T, N)) * scale
    y = rng.standard_normal((T, N)) * scale + 0.5 * x
    x[rng.random((T, N)) < nan_rate] = np.nan
    y[rng.random((T, N)) < nan_rate / 2] = np.nan
    kw = dict(alpha=alpha, adjust=adjust, ignore_na=ignore_na, min_periods=min_periods)
    dx, dy = pd.DataFrame(x), pd.DataFrame(y)
    got = unroll(lambda a: (EWMVar(**kw, bias=bias)(a[0]), EWMCov(**kw, bias=bias)(a[0], a[1])), (x, y))
    assert_same(got[0], dx.ewm(**kw).var(bias=bias))
    assert_same(got[1], dx.ewm(**kw).cov(dy, pairwise=False, bias=bias))


def construct(make):
    # Haiku modules are created inside a transform; init runs the constructor.
    return hk.transform_with_state(lambda x: make()(x)).init(None, np.zeros(2))


def test_ewm_bad_parameters_named():
    with pytest.raises(TypeError, match="bias must be a bool"):
        construct(lambda: EWMVar(alpha=0.1, bias="yes"))
    with pytest.raises(ValueError, match="alpha must satisfy"):
        construct(lambda: EWMCov(alpha=1.5))
    with pytest.raises(ValueError, match="adjust must be True, False or 'linear'"):
        construct(lambda: EWMA(alpha=0.1, adjust="lin"))


# --- EWMA adjust="linear" (WAX-ML 0.6.4's definition; no pandas twin: hand-computed values) -------

def waxml_064_linear_ewma(x, com, ignore_na=False, min_periods=0):
    """WAX-ML 0.6.4's ``EWMA(com=com, adjust="linear")`` (``wax/modules/ewma.py`` at tag v0.6.4,
    commit d4f7f55, the last release) transcribed as a plain loop over one column.

    ``old_wt`` starts at 1; each step: ``factor = 1`` on an observation, else ``max(0, (old_wt - 1) /
    old_wt)``; ``old_wt = min(old_wt, com)``; times ``factor`` (always with ignore_na=False, on
    observations only with ignore_na=True); 0 while the mean is NaN; on an observation
    ``mean = (old_wt * mean + x) / (old_wt + 1)`` and ``old_wt += 1``; NaN until ``min_periods``
    observations (0.6.4 takes ``com`` as ``exp(log(com))``, a learnable parameter: same to an ulp).
    """
    old_wt, mean, nobs, out = 1.0, math.nan, 0, []
    for v in x:
        is_obs = not math.isnan(v)
        if is_obs:
            factor = 1.0
        else:  # in JAX (0 - 1) / 0 is -inf, clipped to 0
            factor = max(0.0, (old_wt - 1.0) / old_wt) if old_wt else 0.0
        old_wt = min(old_wt, com)
        if is_obs or not ignore_na:
            old_wt = old_wt * factor
        if math.isnan(mean):
            old_wt = 0.0
        if is_obs:
            mean = (old_wt * (0.0 if math.isnan(mean) else mean) + v) / (old_wt + 1.0)
            old_wt = old_wt + 1.0
            nobs += 1
        out.append(mean if nobs >= min_periods else math.nan)
    return np.array(out)


def test_linear_hand_computed_no_nan():
    # com=2: old_wt (the effective com) before each blend 0, 1, 2, 2, 2 -> alpha 1, 1/2, 1/3, 1/3, 1/3
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    got = unroll(lambda v: EWMA(com=2.0, adjust="linear")(v), x)
    np.testing.assert_allclose(got, [1.0, 1.5, 2.0, 8 / 3, 31 / 9], rtol=1e-15, atol=0)
    np.testing.assert_allclose(waxml_064_linear_ewma(x, 2.0), [1.0, 1.5, 2.0, 8 / 3, 31 / 9], rtol=1e-15, atol=0)


def test_linear_hand_computed_with_nan():
    x = np.array([np.nan, 1.0, np.nan, 3.0, 5.0])
    # WAX-ML 0.6.4, ignore_na=False: old_wt 0 (no mean yet) -> 1 after the 1; the NaN shrinks it by one,
    # 1 * max(0, (1 - 1) / 1) = 0, so 3 starts afresh: means 1, 1, 3, (1 * 3 + 5) / 2 = 4
    got = unroll(lambda v: EWMA(com=2.0, adjust="linear")(v), x)
    np.testing.assert_allclose(got, [np.nan, 1.0, 1.0, 3.0, 4.0], rtol=1e-15, atol=0)
    # ignore_na=True: the NaN is skipped: alphas 1, 1/2, 1/3 on 1, 3, 5 -> 1, 2, 3
    got = unroll(lambda v: EWMA(com=2.0, adjust="linear", ignore_na=True)(v), x)
    np.testing.assert_allclose(got, [np.nan, 1.0, 1.0, 2.0, 3.0], rtol=1e-15, atol=0)
    # min_periods counts observations: the third is at the last step
    got = unroll(lambda v: EWMA(com=2.0, adjust="linear", min_periods=3)(v), x)
    np.testing.assert_allclose(got, [np.nan, np.nan, np.nan, np.nan, 4.0], rtol=1e-15, atol=0)
    for kw, expected in [({}, [np.nan, 1.0, 1.0, 3.0, 4.0]), ({"ignore_na": True}, [np.nan, 1.0, 1.0, 2.0, 3.0]),
                         ({"min_periods": 3}, [np.nan, np.nan, np.nan, np.nan, 4.0])]:
        np.testing.assert_allclose(waxml_064_linear_ewma(x, 2.0, **kw), expected, rtol=1e-15, atol=0)


def test_linear_nan_after_the_cap_shrinks_the_effective_com():
    # com=3: after four observations old_wt = 4 (the cap 3, plus one). A NaN then gives
    # min(4, 3) * (4 - 1) / 4 = 9/4, the next 5/4, the next 1/4, then 0 (max(0, (1/4 - 1) / (1/4))).
    x = np.array([1.0, 2.0, 3.0, 4.0, np.nan, 8.0, np.nan, np.nan, 0.0, np.nan, np.nan, np.nan, 6.0, 7.0])
    m = 2.5  # the running mean of 1..4
    m1 = (9 / 4 * m + 8.0) / (9 / 4 + 1)  # old_wt 9/4 -> 13/4
    # two NaNs: min(13/4, 3) * (9/4) / (13/4) = 27/13, then (27/13 - 1) = 14/13
    m2 = (14 / 13 * m1 + 0.0) / (14 / 13 + 1)  # old_wt -> 27/13
    # three NaNs: 27/13 - 1 = 14/13, 1/13, then 0: 6 replaces the mean, then (1 * 6 + 7) / 2
    expected = [1.0, 1.5, 2.0, 2.5, 2.5, m1, m1, m1, m2, m2, m2, m2, 6.0, 6.5]
    np.testing.assert_allclose(waxml_064_linear_ewma(x, 3.0), expected, rtol=1e-15, atol=0)
    got = unroll(lambda v: EWMA(com=3.0, adjust="linear")(v), x)
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize("kw", [dict(com=2.0), dict(com=4.5, ignore_na=True), dict(alpha=0.25, min_periods=3),
                                dict(com=1.0, ignore_na=False, min_periods=1)], ids=str)
def test_linear_equals_waxml_064_loop(kw):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((80, 3))
    x[rng.random(x.shape) < 0.3] = np.nan
    x[:3, 1] = np.nan
    got = unroll(lambda v: EWMA(adjust="linear", **kw)(v), x)
    com = kw["com"] if "com" in kw else 1.0 / kw["alpha"] - 1.0
    options = {k: v for k, v in kw.items() if k in ("ignore_na", "min_periods")}
    expected = np.stack([waxml_064_linear_ewma(x[:, j], com, **options) for j in range(x.shape[1])], axis=1)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15, equal_nan=True)


def test_linear_is_expanding_mean_then_recursive_ewma():
    # For the first com + 1 observations it is the running mean; afterwards the plain recursion
    # y_t = (1 - alpha) y_{t-1} + alpha x_t with alpha = 1 / (1 + com) (pandas adjust=False).
    com = 4.0
    x = np.random.default_rng(3).standard_normal((40, 3))
    got = unroll(lambda v: EWMA(com=com, adjust="linear")(v), x)
    k = int(com) + 1
    np.testing.assert_allclose(got[:k], pd.DataFrame(x[:k]).expanding().mean(), rtol=1e-13, atol=1e-14)
    alpha = 1 / (1 + com)
    expected = got[k - 1].copy()
    for t in range(k, len(x)):
        expected = (1 - alpha) * expected + alpha * x[t]
        np.testing.assert_allclose(got[t], expected, rtol=1e-12, atol=1e-13)


def test_adjust_bool_paths_unchanged_by_linear(frame):
    got = unroll(lambda v: EWMA(alpha=0.2)(v), frame.to_numpy())
    assert_same(got, frame.ewm(alpha=0.2).mean())
