"""SNARIMAX: an online (seasonal, non-linear, exogenous) ARIMA forecaster as a streaming module."""

from __future__ import annotations

from typing import Any, Callable

import haiku as hk
import jax.numpy as jnp
import numpy as np
import optax

from waxegg.wax.modules._coefs import as_order
from waxegg.wax.modules.online_supervised_learner import (
    OnlineSupervisedLearner,
    OnlineSupervisedLearnerInfo,
    fill_nonfinite,
)


def differencing_coefficients(d: int, m: int = 1, sd: int = 0) -> np.ndarray:
    """Coefficients ``c`` of ``(1 - B)^d (1 - B^m)^sd = sum_k c[k] B^k`` (``B`` the lag operator).

    ``c[0] == 1`` and ``len(c) == d + m * sd + 1``; the differenced series is
    ``y'_t = sum_k c[k] y_{t-k}``.
    """
    d = as_order("differencing_coefficients", "d", d)
    m = as_order("differencing_coefficients", "m", m, minimum=1)
    sd = as_order("differencing_coefficients", "sd", sd)
    c = np.ones(1)
    for _ in range(d):
        c = np.convolve(c, [1.0, -1.0])
    seasonal = np.zeros(m + 1)
    seasonal[[0, m]] = [1.0, -1.0]
    for _ in range(sd):
        c = np.convolve(c, seasonal)
    return c


def _squared_error(y_pred: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    return jnp.square(y_pred - y)


def _scalar_model(regressor: Callable[[jnp.ndarray], jnp.ndarray]) -> Callable[[jnp.ndarray], jnp.ndarray]:
    # A plain closure, not a method: Haiku would add the method's name ("~_model") to the
    # regressor's parameter names.
    def model(features: jnp.ndarray) -> jnp.ndarray:
        out = jnp.asarray(regressor(features))
        if out.size != 1:
            raise ValueError(f"SNARIMAX: regressor must return one value per step, got shape {out.shape}")
        return out.reshape(())

    return model


def _default_regressor(features: jnp.ndarray) -> jnp.ndarray:
    # Zero weights: a deterministic start that needs no PRNG key, and a first forecast of "no change".
    return hk.Linear(1, w_init=hk.initializers.Constant(0.0), name="linear")(features)


class SNARIMAX(hk.Module):
    """Online SNARIMAX forecaster (WAX-ML's / river's name): learn one step, forecast the next.

    Each call receives the observation ``y_t`` (a scalar; use :class:`~waxegg.wax.modules.VMap`
    for several series) and optional exogenous features ``X_t``, and

    1. differences: ``y'_t = (1 - B)^d (1 - B^m)^sd y_t`` (:func:`differencing_coefficients`);
    2. learns: one :class:`OnlineSupervisedLearner` step of ``regressor`` on the features kept from
       the previous step with target ``y'_t``; ``e_t = y'_t - prediction`` is the error of the
       forecast made at ``t - 1`` (equal in the differenced and original scale);
    3. builds the features for ``t + 1``, in this order: ``X_t`` (flattened), the AR lags
       ``y'_t, ..., y'_{t+1-p}``, the seasonal AR lags ``y'_{t+1-m}, ..., y'_{t+1-sp*m}``, the MA
       lags ``e_t, ..., e_{t+1-q}`` and the seasonal MA lags ``e_{t+1-m}, ..., e_{t+1-sq*m}``
       (missing history, NaN or inf, enters as 0);
    4. forecasts ``y'_{t+1}`` with the updated regressor and integrates it back:
       ``y_{t+1} = y'_{t+1} - sum_{k>=1} c_k y_{t+1-k}``.

    The differencing and seasonal orders (``d``, ``sd``, and ``sp``/``sq`` with ``m > 1``) are
    implemented here; WAX-ML accepted but ignored them. With ``K = d + m * sd``, the forecast is
    NaN for the first ``K - 1`` steps (nothing to integrate from yet) and the loss for the first
    ``K`` steps (``y'_t`` needs ``K + 1`` observations); those steps leave the regressor unchanged
    (the learner fills NaN gradients with 0). A NaN observation likewise skips learning.

    Parameters
    ----------
    p, d, q : int
        AR order, differencing order, MA order (``>= 0``).
    m : int, default 1
        Season length (``>= 1``).
    sp, sd, sq : int, default 0
        Seasonal AR order, seasonal differencing order, seasonal MA order.
    regressor : callable, optional
        ``regressor(features) -> prediction`` using Haiku modules, called inside the learner's own
        transform (pass a function, not a module instance); its output must have one element.
        Default: ``hk.Linear(1)`` with zero initial weights (a linear ARIMA).
    opt : optax.GradientTransformation, optional
        Default ``optax.sgd(1e-2)`` (for features of about unit scale); :func:`waxegg.wax.optim.newton`
        suits the linear default regressor.
    loss : callable, optional
        ``loss(prediction, y'_t) -> scalar``, default the squared error.
    name : str, optional
        Haiku module name.

    Returns
    -------
    (forecast, info)
        The forecast of ``y_{t+1}`` and the learner's
        :class:`~waxegg.wax.modules.OnlineSupervisedLearnerInfo` of this step (``loss`` of the
        forecast of ``y'_t``, ``params`` of the regressor after the update).
    """

    def __init__(
        self,
        p: int,
        d: int = 0,
        q: int = 0,
        m: int = 1,
        sp: int = 0,
        sd: int = 0,
        sq: int = 0,
        regressor: Callable[[jnp.ndarray], jnp.ndarray] | None = None,
        name: str | None = None,
        *,
        opt: optax.GradientTransformation | None = None,
        loss: Callable[[Any, Any], Any] | None = None,
    ):
        super().__init__(name=name)
        self.p, self.d, self.q = (as_order("SNARIMAX", n, v) for n, v in (("p", p), ("d", d), ("q", q)))
        self.m = as_order("SNARIMAX", "m", m, minimum=1)
        self.sp, self.sd, self.sq = (as_order("SNARIMAX", n, v) for n, v in (("sp", sp), ("sd", sd), ("sq", sq)))
        if regressor is not None and not callable(regressor):
            raise TypeError(f"SNARIMAX: regressor must be a callable features -> prediction, got {regressor!r}")
        if isinstance(regressor, hk.Module):
            raise TypeError("SNARIMAX: regressor must be a function that builds its Haiku modules when called "
                            "(e.g. lambda f: hk.Linear(1)(f)), not a module instance created outside the learner")
        self.regressor = _default_regressor if regressor is None else regressor
        self.opt = optax.sgd(1e-2) if opt is None else opt
        self.loss = _squared_error if loss is None else loss
        self.diff = differencing_coefficients(self.d, self.m, self.sd)

    def __call__(self, y: Any, X: Any = None) -> tuple[jnp.ndarray, OnlineSupervisedLearnerInfo]:
        y = jnp.asarray(y)
        if not jnp.issubdtype(y.dtype, jnp.floating):
            y = y.astype(jnp.result_type(float))
        if y.size != 1:
            raise ValueError(f"SNARIMAX: y must be one value per step (one series; use VMap for several), "
                             f"got shape {y.shape}")
        y = y.reshape(())
        dtype = y.dtype
        exog = jnp.zeros((0,), dtype) if X is None else jnp.ravel(jnp.asarray(X)).astype(dtype)

        n_y, n_yd, n_err = len(self.diff) - 1, max(self.p, self.sp * self.m), max(self.q, self.sq * self.m)
        n_features = exog.size + self.p + self.sp + self.q + self.sq
        nan_init = lambda shape, dt: jnp.full(shape, jnp.nan, dt)  # noqa: E731
        # Histories, newest first: y_past[0] = y_{t-1}, yd_past[0] = y'_{t-1}, err_past[0] = e_{t-1}.
        y_past = hk.get_state("y_past", (n_y,), dtype, init=nan_init)
        yd_past = hk.get_state("yd_past", (n_yd,), dtype, init=nan_init)
        err_past = hk.get_state("err_past", (n_err,), dtype, init=nan_init)
        features = hk.get_state("features", (n_features,), dtype, init=jnp.zeros)

        diff = jnp.asarray(self.diff, dtype)
        y_hist = jnp.concatenate([y[None], y_past])
        yd = diff @ y_hist

        loss = self.loss  # loss(prediction, y); the learner calls loss(y, y_pred) (WAX-ML's order)
        learner = OnlineSupervisedLearner(_scalar_model(self.regressor), self.opt, lambda y, p: loss(p, y),
                                          name="learner")
        yd_pred, info = learner(features, yd)
        err = yd - yd_pred

        y_past = y_hist[:n_y]
        yd_past = jnp.concatenate([yd[None], yd_past])[:n_yd]
        err_past = jnp.concatenate([err[None], err_past])[:n_err]
        season = slice(self.m - 1, None, self.m)
        features = fill_nonfinite(jnp.concatenate([
            exog,
            yd_past[:self.p],
            yd_past[season][:self.sp],
            err_past[:self.q],
            err_past[season][:self.sq],
        ]))
        for key, value in dict(y_past=y_past, yd_past=yd_past, err_past=err_past, features=features).items():
            hk.set_state(key, value)

        forecast = learner.predict(features) - diff[1:] @ y_past
        return forecast, info
