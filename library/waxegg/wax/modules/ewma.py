"""Exponentially weighted moving average as a streaming Haiku module."""

from __future__ import annotations

import dataclasses
import math

import haiku as hk
import jax.numpy as jnp

from waxegg.wax._params import EWMParams, ewm_params


def ewma_step(x, mean, old_wt, nobs, params: EWMParams, alpha=None):
    """One step of pandas' EWM mean recursion, vectorised over the shape of ``x``.

    This is ``pandas._libs.window.aggregations.ewm`` (``normalize=True``) written as a state
    update, so that a stream of steps reproduces ``DataFrame.ewm(...).mean()`` bit for bit:
    ``mean`` is pandas' ``weighted`` (NaN before the first observation), ``old_wt`` its ``old_wt``
    and ``nobs`` the count of observations seen.

    ``alpha``, when given, is a traced smoothing factor (a learnable centre of mass) used instead
    of ``params.alpha``; missing inputs and the NaN mean are then zeroed before the blend so that
    gradients stay finite (the selected values are unchanged).

    Returns ``(output, mean, old_wt, nobs)``.
    """
    learn = alpha is not None
    if not learn:
        alpha = params.alpha
    old_wt_factor = 1.0 - alpha
    new_wt = 1.0 if params.adjust else alpha
    is_obs = jnp.isfinite(x)  # pandas treats inf as missing in window ops
    nobs = nobs + is_obs.astype(nobs.dtype)
    has_mean = mean == mean
    if learn:
        x = jnp.where(is_obs, x, jnp.zeros_like(x))
        mean = jnp.where(has_mean, mean, jnp.zeros_like(mean))

    decay = has_mean & (is_obs | (not params.ignore_na))
    old_wt = jnp.where(decay, old_wt * old_wt_factor, old_wt)
    update = has_mean & is_obs
    # pandas skips the update when the value equals the mean, which keeps constant series exact.
    if params.half_alpha_blend and not learn:
        blended = old_wt * mean + (1.0 - old_wt) * x
    else:
        blended = (old_wt * mean + new_wt * x) / (old_wt + new_wt)
    mean = jnp.where(update & (mean != x), blended, mean)
    if params.adjust:
        old_wt = jnp.where(update, old_wt + new_wt, old_wt)
    else:
        old_wt = jnp.where(update, jnp.ones_like(old_wt), old_wt)
    mean = jnp.where(~has_mean & is_obs, x, mean)
    if learn:
        mean = jnp.where(has_mean | is_obs, mean, jnp.full_like(mean, jnp.nan))

    output = jnp.where(nobs >= params.min_periods, mean, jnp.nan).astype(mean.dtype)
    return output, mean, old_wt, nobs


def ewma_linear_step(x, mean, old_wt, nobs, params: EWMParams, com=None):
    """One step of WAX-ML 0.6.4's ``adjust="linear"`` EWM mean, vectorised over the shape of ``x``.

    WAX-ML 0.6.4 (``wax/modules/ewma.py``, the last release) written with waxegg's parameters:
    ``old_wt`` is the effective centre of mass. It grows by one per observation, is capped at the
    nominal ``com`` before each blend ``mean = (old_wt * mean + x) / (old_wt + 1)``, so the first
    ``com + 1`` observations give their running (expanding) average and the module then behaves as a
    fixed-``alpha`` recursive EWMA with ``alpha = 1 / (1 + com)``. With ``ignore_na=False`` a missing
    value shrinks it: ``old_wt <- min(old_wt, com) * max(0, (old_wt - 1) / old_wt)`` (one less below
    the cap, reset to 0 below 1); with ``ignore_na=True`` missing values leave it alone.

    ``mean`` is NaN before the first observation. ``com``, when given, is a traced centre of mass
    (learnable) used instead of ``params.com``. Returns ``(output, mean, old_wt, nobs)``.
    """
    com = params.com if com is None else com
    is_obs = x == x
    has_mean = mean == mean
    # 0.6.4 takes the shrink factor from old_wt before the cap; (0 - 1) / 0 = -inf, clipped to 0.
    shrink = jnp.maximum(0.0, (old_wt - 1.0) / old_wt)
    old_wt = jnp.minimum(old_wt, com)
    if not params.ignore_na:
        old_wt = jnp.where(is_obs, old_wt, old_wt * shrink)
    old_wt = jnp.where(has_mean, old_wt, jnp.zeros_like(old_wt))
    prev = jnp.where(has_mean, mean, jnp.zeros_like(mean))
    blended = (old_wt * prev + jnp.where(is_obs, x, jnp.zeros_like(x))) / (old_wt + 1.0)
    mean = jnp.where(is_obs, blended, mean)
    old_wt = jnp.where(is_obs, old_wt + 1.0, old_wt)
    nobs = nobs + is_obs.astype(nobs.dtype)
    output = jnp.where(nobs >= params.min_periods, mean, jnp.nan).astype(mean.dtype)
    return output, mean, old_wt, nobs


class EWMA(hk.Module):
    """Exponentially weighted moving average, matching ``pandas.DataFrame.ewm(...).mean()``.

    Call it once per time step on the values of that step (any shape); it keeps its running
    mean, weight and observation count as Haiku state. The output has the input's floating dtype.

    Parameters
    ----------
    alpha : float, optional
        Smoothing factor, ``0 < alpha <= 1``.
    adjust : bool or "linear", default True
        pandas' ``adjust`` (see :meth:`pandas.DataFrame.ewm`), or WAX-ML 0.6.4's ``"linear"``: the
        effective centre of mass grows linearly from 0 to ``com`` (see :func:`ewma_linear_step`);
        it has no pandas twin.
    com, span, halflife : float, optional
        Alternatives to ``alpha``; exactly one of ``alpha``, ``com``, ``span``, ``halflife``.
    min_periods : int, default 0
        Observations required before a value is emitted.
    ignore_na : bool, default False
        pandas' ``ignore_na``.
    initial_value : float, default NaN
        WAX-ML's option: the mean the state starts from. A finite value acts as one observation
        made before the first step, so the outputs equal pandas' ``ewm`` of ``[initial_value, x_0,
        x_1, ...]`` without its first row (``min_periods`` counts only real observations, as in
        WAX-ML, and with ``min_periods=0`` the initial value is emitted until the first one).
    return_info : bool, default False
        WAX-ML's option: also return ``{"com_eff": ..., "nobs": ...}``: the decayed weight of the
        past relative to the new value (0 before the first observation) and the observation count.
    learn_com : bool, default False
        Make the centre of mass a Haiku *parameter* ``logcom`` (``log(com)``, WAX-ML's name and
        parametrisation) that can be trained by gradient. WAX-ML always creates it; waxegg only on
        request, because ``exp(log(com))`` is not ``com`` to the last bit (pandas parity) and a
        constant ``alpha`` folds into the compiled step (speed), and a params-free module runs with
        ``params={}``. Not with ``span``/``halflife`` given as such (pass ``com``/``alpha``).
    name : str, optional
        Haiku module name.
    """

    def __init__(
        self,
        alpha: float | None = None,
        adjust: bool | str = True,
        com: float | None = None,
        min_periods: int = 0,
        ignore_na: bool = False,
        *,
        span: float | None = None,
        halflife: float | None = None,
        initial_value: float = float("nan"),
        return_info: bool = False,
        learn_com: bool = False,
        name: str | None = None,
    ):
        super().__init__(name=name)
        if isinstance(adjust, str) and adjust != "linear":
            raise ValueError(f"adjust must be True, False or 'linear', got {adjust!r}")
        self.linear = adjust == "linear"
        self.params = ewm_params(
            com=com, span=span, halflife=halflife, alpha=alpha,
            min_periods=min_periods, adjust=True if self.linear else adjust, ignore_na=ignore_na,
        )
        self.initial_value = float(initial_value)
        if self.initial_value == self.initial_value and min_periods == 0:
            # WAX-ML: with an initial value and no min_periods every step emits the running mean.
            self.params = dataclasses.replace(self.params, min_periods=0)
        self.return_info = bool(return_info)
        self.learn_com = bool(learn_com)
        if self.learn_com and self.params.com == 0:
            raise ValueError("EWMA: learn_com needs com > 0 (its parameter is log(com)), got com=0")

    def _com(self, dtype):
        logcom = hk.get_parameter("logcom", [], dtype, init=lambda s, d: jnp.full(s, math.log(self.params.com), d))
        return jnp.exp(logcom)

    def __call__(self, x):
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
        mean = hk.get_state("mean", x.shape, x.dtype, init=lambda s, d: jnp.full(s, self.initial_value, d))
        old_wt = hk.get_state("old_wt", x.shape, x.dtype, init=jnp.ones)
        nobs = hk.get_state("nobs", x.shape, jnp.int32, init=jnp.zeros)
        com = self._com(x.dtype) if self.learn_com else None
        if self.linear:
            output, new_mean, new_wt, nobs = ewma_linear_step(x, mean, old_wt, nobs, self.params, com=com)
        else:
            alpha = None if com is None else 1.0 / (1.0 + com)
            output, new_mean, new_wt, nobs = ewma_step(x, mean, old_wt, nobs, self.params, alpha=alpha)
        if self.params.min_periods == 0 or (self.params.min_periods == 1 and self.initial_value != self.initial_value):
            # The mean is NaN exactly until the first observation, so the count's mask changes nothing: leaving it
            # out lets XLA drop the count from a scan whose final state is not used (jax.jit(unroll(f))).
            output = new_mean
        for name, value in dict(mean=new_mean, old_wt=new_wt, nobs=nobs).items():
            hk.set_state(name, value)
        if not self.return_info:
            return output
        return output, dict(com_eff=self._com_eff(x, mean, old_wt, com), nobs=nobs)

    def _com_eff(self, x, mean, old_wt, com):
        """WAX-ML's ``com_eff``: the past's weight against the new value's, before this step's blend."""
        has_mean = mean == mean
        if self.linear:
            c = self.params.com if com is None else com
            shrink = jnp.maximum(0.0, (old_wt - 1.0) / old_wt)
            w = jnp.minimum(old_wt, c)
            if not self.params.ignore_na:
                w = jnp.where(x == x, w, w * shrink)
            return jnp.where(has_mean, w, jnp.zeros_like(w))
        alpha = self.params.alpha if com is None else 1.0 / (1.0 + com)
        decay = has_mean & (jnp.isfinite(x) | (not self.params.ignore_na))
        w = jnp.where(decay, old_wt * (1.0 - alpha), old_wt)
        new_wt = 1.0 if self.params.adjust else alpha
        return jnp.where(has_mean, w, jnp.zeros_like(w)) / new_wt
