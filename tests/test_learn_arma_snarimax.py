"""ARMA signal generator and SNARIMAX online forecaster (with differencing and seasonal orders)."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest
from scipy.signal import lfilter

from waxegg.wax import dynamic_unroll
from waxegg.wax.modules import ARMA, SNARIMAX
from waxegg.wax.modules.snarimax import differencing_coefficients
from waxegg.wax.optim import newton


def run(fn, xs, rng=None):
    return dynamic_unroll(hk.transform_with_state(fn), xs, rng)


def ar_series(phi, T, seed, integrate=0):
    y = lfilter([1.0], np.r_[1.0, -np.asarray(phi)], np.random.default_rng(seed).standard_normal(T))
    for _ in range(integrate):
        y = np.cumsum(y)
    return y


# ---------------------------------------------------------------------------------------------
# ARMA
# ---------------------------------------------------------------------------------------------

ALPHA, BETA = [0.6, -0.5, 0.4, -0.4, 0.3], [0.3, -0.2]


@pytest.mark.parametrize("shape", [(), (3,), (2, 2)])
def test_arma_matches_scipy_lfilter(shape):
    eps = np.random.default_rng(0).standard_normal((400,) + shape)
    y, _ = run(lambda e: ARMA(ALPHA, BETA)(e), eps)
    expected = lfilter(np.r_[1.0, BETA], np.r_[1.0, -np.asarray(ALPHA)], eps, axis=0)
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("alpha, beta", [([0.5], []), ([], [0.4, 0.1]), ([], [])])
def test_arma_pure_ar_pure_ma_and_white_noise(alpha, beta):
    eps = np.random.default_rng(1).standard_normal(200)
    y, _ = run(lambda e: ARMA(alpha, beta)(e), eps)
    np.testing.assert_allclose(np.asarray(y), lfilter(np.r_[1.0, beta], np.r_[1.0, -np.asarray(alpha)], eps),
                               rtol=1e-12, atol=1e-12)


def test_arma_float32_stays_float32():
    eps = np.random.default_rng(2).standard_normal(300).astype(np.float32)
    y, state = run(lambda e: ARMA(ALPHA, BETA)(e), eps)
    assert y.dtype == np.float32 and state["arma"]["y_past"].dtype == np.float32
    expected = lfilter(np.r_[1.0, BETA], np.r_[1.0, -np.asarray(ALPHA)], eps.astype(np.float64))
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-4, atol=1e-5)


def test_arma_nan_innovation_is_nan_once_then_zero():
    eps = np.random.default_rng(3).standard_normal(100)
    eps[40] = np.nan
    y, _ = run(lambda e: ARMA(ALPHA, BETA)(e), eps)
    y = np.asarray(y)
    expected = lfilter(np.r_[1.0, BETA], np.r_[1.0, -np.asarray(ALPHA)], np.nan_to_num(eps, nan=0.0))
    assert np.isnan(y[40])
    np.testing.assert_allclose(np.delete(y, 40), np.delete(expected, 40), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("alpha, beta, match", [
    ([[0.5]], [], r"ARMA: alpha must be 1-D"),
    ([0.5, np.nan], [], r"ARMA: alpha must be finite"),
    ([0.5], ["a"], r"ARMA: beta must be a 1-D sequence of numbers"),
])
def test_arma_rejects_bad_coefficients(alpha, beta, match):
    with pytest.raises(ValueError, match=match):
        run(lambda e: ARMA(alpha, beta)(e), np.zeros(3))


# ---------------------------------------------------------------------------------------------
# SNARIMAX
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("d, m, sd", [(0, 1, 0), (1, 1, 0), (2, 1, 0), (0, 4, 1), (1, 12, 1), (2, 3, 2)])
def test_differencing_coefficients_match_pandas_diff(d, m, sd):
    y = pd.Series(np.random.default_rng(4).standard_normal(80))
    expected = y
    for _ in range(d):
        expected = expected.diff(1)
    for _ in range(sd):
        expected = expected.diff(m)
    c = differencing_coefficients(d, m, sd)
    assert len(c) == d + m * sd + 1 and c[0] == 1.0
    got = np.convolve(y.to_numpy(), c)[: len(y)]
    k = d + m * sd
    np.testing.assert_allclose(got[k:], expected.to_numpy()[k:], rtol=1e-12, atol=1e-12)


def test_snarimax_features_and_integration_against_numpy():
    """A fixed (parameter-free) regressor: the forecast is w . features integrated back, step by step.

    The reference builds the documented features from pandas' differencing, independently of the
    module's ring buffers.
    """
    p, d, q, m, sp, sd, sq = 2, 1, 1, 3, 1, 1, 2
    T = 60
    rs = np.random.default_rng(5)
    y = np.cumsum(rs.standard_normal(T))
    X = rs.standard_normal((T, 2))
    n_features = 2 + p + sp + q + sq
    w = rs.standard_normal(n_features)

    def fn(inputs):
        return SNARIMAX(p, d, q, m, sp, sd, sq, regressor=lambda f: f @ jnp.asarray(w, f.dtype),
                        opt=optax.sgd(0.1))(inputs[0], inputs[1])

    (forecast, info), _ = run(fn, (y, X))
    forecast = np.asarray(forecast)

    c = differencing_coefficients(d, m, sd)
    k = len(c) - 1
    yd = pd.Series(y).diff(1).diff(m).to_numpy()     # (1-B)(1-B^m) y, NaN for t < k
    yd_pred = np.full(T, np.nan)                      # forecast of yd_t made at t-1
    yd_pred[0] = 0.0                                  # the first one comes from all-zero features
    err = np.full(T, np.nan)
    expected = np.full(T, np.nan)
    for t in range(T):
        def lag(series, j):
            return series[t + 1 - j] if t + 1 - j >= 0 else np.nan
        err[t] = yd[t] - yd_pred[t]  # errors e_s = y'_s - prediction_s are known up to s = t
        feats = np.r_[X[t],
                      [lag(yd, j) for j in range(1, p + 1)],
                      [lag(yd, j * m) for j in range(1, sp + 1)],
                      [lag(err, j) for j in range(1, q + 1)],
                      [lag(err, j * m) for j in range(1, sq + 1)]]
        feats = np.where(np.isfinite(feats), feats, 0.0)
        if t + 1 < T:
            yd_pred[t + 1] = feats @ w
        past = [y[t + 1 - j] if t + 1 - j >= 0 else np.nan for j in range(1, k + 1)]
        expected[t] = feats @ w - c[1:] @ past
    assert np.isnan(forecast[: k - 1]).all()
    np.testing.assert_allclose(forecast[k - 1:], expected[k - 1:], rtol=1e-10, atol=1e-10)
    # The loss is that of the differenced one-step forecast; NaN while y'_t is undefined.
    loss = np.asarray(info.loss)
    assert np.isnan(loss[:k]).all()
    np.testing.assert_allclose(loss[k + 1:], (yd[k + 1:] - yd_pred[k + 1:]) ** 2, rtol=1e-10, atol=0)


def _sgd_by_hand(lr):
    def update(g, state):
        return -lr * g, state
    return update, None


def _adam_by_hand(lr, b1=0.9, b2=0.999, eps=1e-8):
    # optax.adam's rule: bias-corrected moments; its count advances on every update call (zero gradients too)
    def update(g, state):
        m, v, count = state
        m, v, count = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g, count + 1
        m_hat, v_hat = m / (1 - b1 ** count), v / (1 - b2 ** count)
        return -lr * m_hat / (np.sqrt(v_hat) + eps), (m, v, count)
    return update, (np.zeros(4), np.zeros(4), 0)


@pytest.mark.parametrize("opt, by_hand", [(optax.sgd(0.05), _sgd_by_hand(0.05)), (optax.adam(0.1), _adam_by_hand(0.1))],
                         ids=["sgd", "adam"])
def test_snarimax_learning_steps_by_hand(opt, by_hand):
    """SNARIMAX(p=2, d=1, q=1), the default zero-initialised ``hk.Linear(1)``: each step is one gradient step
    of the squared error ``(w . f + b - y'_t)^2`` on the features kept from the step before, then a forecast."""
    y = np.array([1.0, 1.5, 0.7, 1.2, 2.0, 1.1, 0.4, 0.9, 1.6, 1.3])
    (forecast, info), _ = run(lambda v: SNARIMAX(2, 1, 1, opt=opt)(v), y)
    update, opt_state = by_hand
    theta = np.zeros(4)                   # [w_1, w_2, w_3, b]: weights of [y'_{t-1}, y'_{t-2}, e_{t-1}], bias
    f = np.zeros(3)                       # features for step 0: no history
    yd_hist, err_hist = [], []
    for t in range(len(y)):
        yd = y[t] - y[t - 1] if t else np.nan              # (1 - B) y, undefined at t = 0
        pred = theta[:3] @ f + theta[3]
        loss = (pred - yd) ** 2
        grad = 2 * (pred - yd) * np.r_[f, 1.0]
        grad = np.where(np.isfinite(grad), grad, 0.0)      # the learner fills NaN gradients with 0
        step, opt_state = update(grad, opt_state)
        theta = theta + step
        yd_hist.insert(0, yd)
        err_hist.insert(0, yd - pred)
        lags = [yd_hist[0], yd_hist[1] if t >= 1 else np.nan, err_hist[0]]
        f = np.where(np.isfinite(lags), lags, 0.0)
        expected_forecast = theta[:3] @ f + theta[3] + y[t]  # y_{t+1} = y'_{t+1} + y_t
        np.testing.assert_allclose(np.asarray(forecast[t]), expected_forecast, rtol=1e-12, atol=1e-14, err_msg=t)
        np.testing.assert_allclose(np.asarray(info.loss[t]), loss, rtol=1e-12, atol=1e-14, equal_nan=True,
                                   err_msg=t)
        np.testing.assert_allclose(np.asarray(info.params["linear"]["w"][t])[:, 0], theta[:3], rtol=1e-12,
                                   atol=1e-14, err_msg=t)
        np.testing.assert_allclose(np.asarray(info.params["linear"]["b"][t]), theta[3:], rtol=1e-12, atol=1e-14,
                                   err_msg=t)
    assert np.isnan(info.loss[0]) and np.abs(theta).min() > 0  # step 0 learns nothing, later steps move every weight


def test_snarimax_learns_arima_210():
    """ARIMA(2,1,0): the differencing makes it learnable; the AR coefficients are recovered."""
    phi = (0.6, -0.3)
    y = ar_series(phi, 3000, seed=6, integrate=1) + 5.0
    (forecast, info), state = run(lambda v: SNARIMAX(2, 1, 0, opt=newton(2.0, eps=10.0))(v), y)
    w = np.asarray(state["snarimax/learner"]["model_params_state"].params["linear"]["w"])[:, 0]
    np.testing.assert_allclose(w, phi, rtol=0, atol=0.05)
    # One-step-ahead forecast error over the last 1000 steps: near the unit noise variance.
    err = y[1:] - np.asarray(forecast)[:-1]
    assert np.mean(err[-1000:] ** 2) < 1.1
    # Without differencing the same AR order cannot follow the random walk's level.
    (forecast0, _), _ = run(lambda v: SNARIMAX(2, 0, 0, opt=newton(2.0, eps=10.0))(v), y)
    err0 = y[1:] - np.asarray(forecast0)[:-1]
    assert np.mean(err0[-1000:] ** 2) > 10 * np.mean(err[-1000:] ** 2)


def _last_mse_and_weights(y, **orders):
    (forecast, _), state = run(lambda v: SNARIMAX(**orders, opt=newton(2.0, eps=10.0))(v), y)
    err = y[1:] - np.asarray(forecast)[:-1]
    w = np.asarray(state["snarimax/learner"]["model_params_state"].params["linear"]["w"])[:, 0]
    return np.mean(err[-1000:] ** 2), w


def test_snarimax_seasonal_differencing():
    """A seasonal random walk y_t = y_{t-12} + u_t, u an AR(1): SARIMA(1,0,0)(0,1,0)_12."""
    T, m = 3000, 12
    u = ar_series([0.5], T, seed=8)
    y = lfilter([1.0], np.r_[1.0, np.zeros(m - 1), -1.0], u)
    seasonal, w = _last_mse_and_weights(y, p=1, m=m, sd=1)
    np.testing.assert_allclose(w, [0.5], rtol=0, atol=0.05)
    assert seasonal < 1.1                      # the innovation variance is 1
    plain, _ = _last_mse_and_weights(y, p=1)
    assert plain > 2 * seasonal


def test_snarimax_seasonal_autoregression():
    """y_t = 0.3 y_{t-1} + 0.6 y_{t-12} + eps_t: the AR and seasonal AR weights are recovered."""
    T, m = 3000, 12
    ar = np.zeros(m + 1)
    ar[[0, 1, m]] = [1.0, -0.3, -0.6]
    y = lfilter([1.0], ar, np.random.default_rng(11).standard_normal(T))
    seasonal, w = _last_mse_and_weights(y, p=1, m=m, sp=1)
    np.testing.assert_allclose(w, [0.3, 0.6], rtol=0, atol=0.05)
    assert seasonal < 1.1
    plain, _ = _last_mse_and_weights(y, p=1)
    assert plain > 1.3 * seasonal


def test_snarimax_forecasts_an_arma_generated_in_the_same_stream():
    """ARMA generates the signal, SNARIMAX (AR and MA parts) forecasts it, in one transform."""
    eps = np.random.default_rng(9).standard_normal(3000)

    def fn(e):
        y = ARMA([0.5, -0.3], [0.4])(e)
        forecast, info = SNARIMAX(4, 0, 2, opt=newton(2.0, eps=10.0))(y)
        return y, forecast

    (y, forecast), _ = run(fn, eps)
    err = np.asarray(y)[1:] - np.asarray(forecast)[:-1]
    assert np.mean(err[-1000:] ** 2) < 1.1                            # innovation variance 1
    assert np.mean(err[-1000:] ** 2) < 0.8 * np.var(np.asarray(y)[-1000:])  # beats the mean


def test_snarimax_float32():
    y = ar_series([0.5], 200, seed=10).astype(np.float32)
    (forecast, info), state = run(lambda v: SNARIMAX(2, 1, 1)(v), y)
    assert forecast.dtype == np.float32 and info.loss.dtype == np.float32
    assert state["snarimax"]["features"].dtype == np.float32


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(p=-1), ValueError, r"SNARIMAX: p must be >= 0, got -1"),
    (dict(p=1, m=0), ValueError, r"SNARIMAX: m must be >= 1, got 0"),
    (dict(p=1.5), TypeError, r"SNARIMAX: p must be an integer"),
    (dict(p=1, regressor=lambda f: jnp.stack([f.sum(), f.sum()])), ValueError,
     r"SNARIMAX: regressor must return one value per step, got shape \(2,\)"),
    (dict(p=1, opt=optax.adam), TypeError, r"opt must be an optax.GradientTransformation"),
])
def test_snarimax_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        run(lambda v: SNARIMAX(**kwargs)(v), np.zeros(5))


def test_snarimax_needs_one_series():
    with pytest.raises(ValueError, match=r"SNARIMAX: y must be one value per step .* got shape \(2,\)"):
        run(lambda v: SNARIMAX(1)(v), np.zeros((5, 2)))
