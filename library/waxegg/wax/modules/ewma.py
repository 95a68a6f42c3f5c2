"""Exponentially weighted moving average as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp

from waxegg.wax._params import EWMParams, ewm_params


def ewma_step(x, mean, old_wt, nobs, params: EWMParams):
    """One step of pandas' EWM mean recursion, vectorised over the shape of ``x``.

    This is ``pandas._libs.window.aggregations.ewm`` (``normalize=True``) written as a state
    update, so that a stream of steps reproduces ``DataFrame.ewm(...).mean()`` bit for bit:
    ``mean`` is pandas' ``weighted`` (NaN before the first observation), ``old_wt`` its ``old_wt``
    and ``nobs`` the count of observations seen.

    Returns ``(output, mean, old_wt, nobs)``.
    """
    old_wt_factor = 1.0 - params.alpha
    new_wt = 1.0 if params.adjust else params.alpha
    is_obs = jnp.isfinite(x)  # pandas treats inf as missing in window ops
    nobs = nobs + is_obs.astype(nobs.dtype)
    has_mean = mean == mean

    decay = has_mean & (is_obs | (not params.ignore_na))
    old_wt = jnp.where(decay, old_wt * old_wt_factor, old_wt)
    update = has_mean & is_obs
    # pandas skips the update when the value equals the mean, which keeps constant series exact.
    if params.half_alpha_blend:
        blended = old_wt * mean + (1.0 - old_wt) * x
    else:
        blended = (old_wt * mean + new_wt * x) / (old_wt + new_wt)
    mean = jnp.where(update & (mean != x), blended, mean)
    if params.adjust:
        old_wt = jnp.where(update, old_wt + new_wt, old_wt)
    else:
        old_wt = jnp.where(update, jnp.ones_like(old_wt), old_wt)
    mean = jnp.where(~has_mean & is_obs, x, mean)

    output = jnp.where(nobs >= params.min_periods, mean, jnp.nan).astype(mean.dtype)
    return output, mean, old_wt, nobs


def ewma_linear_step(x, mean, old_wt, nobs, params: EWMParams):
    """One step of WAX-ML 0.6.4's ``adjust="linear"`` EWM mean, vectorised over the shape of ``x``.

    WAX-ML 0.6.4 (``wax/modules/ewma.py``, the last release) written with waxegg's parameters:
    ``old_wt`` is the effective centre of mass. It grows by one per observation, is capped at the
    nominal ``com`` before each blend ``mean = (old_wt * mean + x) / (old_wt + 1)``, so the first
    ``com + 1`` observations give their running (expanding) average and the module then behaves as a
    fixed-``alpha`` recursive EWMA with ``alpha = 1 / (1 + com)``. With ``ignore_na=False`` a missing
    value shrinks it: ``old_wt <- min(old_wt, com) * max(0, (old_wt - 1) / old_wt)`` (one less below
    the cap, reset to 0 below 1); with ``ignore_na=True`` missing values leave it alone.

    ``mean`` is NaN before the first observation. Returns ``(output, mean, old_wt, nobs)``.
    """
    is_obs = x == x
    has_mean = mean == mean
    # 0.6.4 takes the shrink factor from old_wt before the cap; (0 - 1) / 0 = -inf, clipped to 0.
    shrink = jnp.maximum(0.0, (old_wt - 1.0) / old_wt)
    old_wt = jnp.minimum(old_wt, params.com)
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

    def __call__(self, x):
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
        mean = hk.get_state("mean", x.shape, x.dtype, init=lambda s, d: jnp.full(s, jnp.nan, d))
        if self.linear:
            return self._linear(x, mean)
        old_wt = hk.get_state("old_wt", x.shape, x.dtype, init=jnp.ones)
        nobs = hk.get_state("nobs", x.shape, jnp.int32, init=jnp.zeros)
        output, mean, old_wt, nobs = ewma_step(x, mean, old_wt, nobs, self.params)
        hk.set_state("mean", mean)
        hk.set_state("old_wt", old_wt)
        hk.set_state("nobs", nobs)
        return output

    def _linear(self, x, mean):
        old_wt = hk.get_state("old_wt", x.shape, x.dtype, init=jnp.ones)
        nobs = hk.get_state("nobs", x.shape, jnp.int32, init=jnp.zeros)
        output, mean, old_wt, nobs = ewma_linear_step(x, mean, old_wt, nobs, self.params)
        for name, value in dict(mean=mean, old_wt=old_wt, nobs=nobs).items():
            hk.set_state(name, value)
        return output
