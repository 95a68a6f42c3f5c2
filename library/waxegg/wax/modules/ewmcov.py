"""Exponentially weighted moving covariance as a streaming Haiku module."""

from __future__ import annotations

from typing import Any

import haiku as hk
import jax.numpy as jnp

from waxegg.wax._params import EWMParams, ewm_params
from waxegg.wax.modules._util import as_floating


def ewmcov_step(x, y, mean_x, mean_y, cov, sum_wt, sum_wt2, old_wt, nobs, params: EWMParams, bias: bool):
    """One step of pandas' EWM covariance recursion, vectorised over the (broadcast) shape of ``x, y``.

    This is ``pandas._libs.window.aggregations.ewmcov`` written as a state update, with the same
    operations in the same order, so that a stream of steps reproduces
    ``ewm(...).cov(other, bias=bias)`` (and ``.var(bias=bias)`` when ``y is x``) to the last bits:
    a step is an observation only when both ``x`` and ``y`` are present; ``mean_x``/``mean_y`` are
    NaN before the first observation; ``sum_wt``, ``sum_wt2`` and ``old_wt`` are pandas' weight
    sums; ``nobs`` counts observations.

    Returns ``(output, mean_x, mean_y, cov, sum_wt, sum_wt2, old_wt, nobs)``.
    """
    # In the data's dtype, so that float32 rounds factor**2 as it rounds sum_wt**2 (pandas works in
    # float64, where this is exactly its (old_wt_factor * old_wt_factor)).
    factor = jnp.asarray(1.0 - params.alpha, sum_wt.dtype)
    factor2 = factor * factor
    new_wt = 1.0 if params.adjust else params.alpha
    is_obs = jnp.isfinite(x) & jnp.isfinite(y)  # pandas: inf is missing
    nobs = nobs + is_obs.astype(nobs.dtype)
    has_mean = mean_x == mean_x

    decay = has_mean & (is_obs | (not params.ignore_na))
    sum_wt = jnp.where(decay, sum_wt * factor, sum_wt)
    sum_wt2 = jnp.where(decay, sum_wt2 * factor2, sum_wt2)
    old_wt = jnp.where(decay, old_wt * factor, old_wt)

    update = has_mean & is_obs
    total = old_wt + new_wt
    # pandas skips the blend when the value equals the mean, which keeps constant series exact.
    new_mean_x = jnp.where(mean_x != x, (old_wt * mean_x + new_wt * x) / total, mean_x)
    new_mean_y = jnp.where(mean_y != y, (old_wt * mean_y + new_wt * y) / total, mean_y)
    new_cov = (old_wt * (cov + (mean_x - new_mean_x) * (mean_y - new_mean_y))
               + new_wt * ((x - new_mean_x) * (y - new_mean_y))) / total
    new_sum_wt = sum_wt + new_wt
    new_sum_wt2 = sum_wt2 + new_wt * new_wt
    new_old_wt = old_wt + new_wt
    if not params.adjust:
        new_sum_wt = new_sum_wt / new_old_wt
        new_sum_wt2 = new_sum_wt2 / (new_old_wt * new_old_wt)
        new_old_wt = jnp.ones_like(new_old_wt)

    mean_x = jnp.where(update, new_mean_x, mean_x)
    mean_y = jnp.where(update, new_mean_y, mean_y)
    cov = jnp.where(update, new_cov, cov)
    sum_wt = jnp.where(update, new_sum_wt, sum_wt)
    sum_wt2 = jnp.where(update, new_sum_wt2, sum_wt2)
    old_wt = jnp.where(update, new_old_wt, old_wt)

    first = ~has_mean & is_obs
    mean_x = jnp.where(first, x, mean_x)
    mean_y = jnp.where(first, y, mean_y)

    if bias:
        value = cov
    else:
        numerator = sum_wt * sum_wt
        denominator = numerator - sum_wt2
        safe = jnp.where(denominator > 0, denominator, jnp.ones_like(denominator))
        value = jnp.where(denominator > 0, (numerator / safe) * cov, jnp.nan)
    output = jnp.where(nobs >= params.min_periods, value, jnp.nan).astype(cov.dtype)
    return output, mean_x, mean_y, cov, sum_wt, sum_wt2, old_wt, nobs


def validate_cov_options(owner: str, bias: Any, **window: Any) -> EWMParams:
    """Check ``bias`` and the window options (pandas rules) of ``owner``; return the window params."""
    if not isinstance(bias, bool):
        raise TypeError(f"{owner}: bias must be a bool, got {bias!r}")
    return ewm_params(**window)


class EWMCov(hk.Module):
    """Exponentially weighted moving covariance, matching ``pandas ewm(...).cov(other, bias=...)``.

    Call it once per time step with the values ``x`` and ``y`` of that step; they are broadcast
    together, so ``EWMCov(...)(x[:, None], x[None, :])`` gives the pairwise covariance matrix
    (pandas' ``pairwise=True``). State: both means, the covariance and pandas' weight sums.

    Parameters
    ----------
    alpha, com, span, halflife : float, optional
        Exactly one, as in :meth:`pandas.DataFrame.ewm`.
    adjust, ignore_na, min_periods
        As in :meth:`pandas.DataFrame.ewm`.
    bias : bool, default False
        pandas' ``bias``: False applies the unbiased-weights correction
        ``sum_wt**2 / (sum_wt**2 - sum_wt2)``.
    name : str, optional
        Haiku module name.
    """

    def __init__(
        self,
        alpha: float | None = None,
        adjust: bool = True,
        com: float | None = None,
        min_periods: int = 0,
        ignore_na: bool = False,
        bias: bool = False,
        *,
        span: float | None = None,
        halflife: float | None = None,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.params = validate_cov_options(type(self).__name__, bias, com=com, span=span, halflife=halflife,
                                           alpha=alpha, min_periods=min_periods, adjust=adjust,
                                           ignore_na=ignore_na)
        self.bias = bias

    def __call__(self, x, y):
        x, y = as_floating(x), as_floating(y)
        dtype = jnp.result_type(x.dtype, y.dtype)
        x, y = jnp.broadcast_arrays(x.astype(dtype), y.astype(dtype))
        shape = x.shape
        nan = lambda s, d: jnp.full(s, jnp.nan, d)
        mean_x = hk.get_state("mean_x", shape, dtype, init=nan)
        mean_y = hk.get_state("mean_y", shape, dtype, init=nan)
        cov = hk.get_state("cov", shape, dtype, init=jnp.zeros)
        sum_wt = hk.get_state("sum_wt", shape, dtype, init=jnp.ones)
        sum_wt2 = hk.get_state("sum_wt2", shape, dtype, init=jnp.ones)
        old_wt = hk.get_state("old_wt", shape, dtype, init=jnp.ones)
        nobs = hk.get_state("nobs", shape, jnp.int32, init=jnp.zeros)
        output, *new_state = ewmcov_step(x, y, mean_x, mean_y, cov, sum_wt, sum_wt2, old_wt, nobs,
                                         self.params, self.bias)
        for name, value in zip(("mean_x", "mean_y", "cov", "sum_wt", "sum_wt2", "old_wt", "nobs"), new_state):
            hk.set_state(name, value)
        return output
