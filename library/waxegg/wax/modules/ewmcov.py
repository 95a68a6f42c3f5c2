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


def ewmcov_linear_step(x, y, mean_x, mean_y, cov, old_wt, nobs, params: EWMParams):
    """One step of WAX-ML's ``adjust="linear"`` EWM covariance (biased), vectorised over ``x, y``.

    The weights are those of :func:`~waxegg.wax.modules.ewma.ewma_linear_step` (the effective
    centre of mass ``old_wt`` grows by one per observation up to ``com``); the covariance is updated
    with pandas' weighted recursion for an old weight ``old_wt`` and a new weight 1, which equals
    WAX-ML's ``EWMA(x y) - EWMA(x) EWMA(y)`` (each with ``adjust="linear"``) without its
    cancellation. A step is an observation when both ``x`` and ``y`` are present (not NaN).

    Returns ``(output, mean_x, mean_y, cov, old_wt, nobs)``.
    """
    is_obs = (x == x) & (y == y)
    has_mean = mean_x == mean_x
    shrink = jnp.maximum(0.0, (old_wt - 1.0) / old_wt)
    old_wt = jnp.minimum(old_wt, params.com)
    if not params.ignore_na:
        old_wt = jnp.where(is_obs, old_wt, old_wt * shrink)
    old_wt = jnp.where(has_mean, old_wt, jnp.zeros_like(old_wt))
    zero = jnp.zeros_like(x)
    mx, my = jnp.where(has_mean, mean_x, zero), jnp.where(has_mean, mean_y, zero)
    c0 = jnp.where(has_mean, cov, zero)
    xs, ys = jnp.where(is_obs, x, zero), jnp.where(is_obs, y, zero)
    total = old_wt + 1.0
    new_mx = (old_wt * mx + xs) / total
    new_my = (old_wt * my + ys) / total
    new_cov = (old_wt * (c0 + (mx - new_mx) * (my - new_my)) + (xs - new_mx) * (ys - new_my)) / total
    mean_x = jnp.where(is_obs, new_mx, mean_x)
    mean_y = jnp.where(is_obs, new_my, mean_y)
    cov = jnp.where(is_obs, new_cov, cov)
    old_wt = jnp.where(is_obs, total, old_wt)
    nobs = nobs + is_obs.astype(nobs.dtype)
    output = jnp.where(nobs >= params.min_periods, cov, jnp.nan).astype(cov.dtype)
    return output, mean_x, mean_y, cov, old_wt, nobs


def validate_cov_options(owner: str, bias: Any, **window: Any) -> EWMParams:
    """Check ``bias`` and the window options (pandas rules) of ``owner``; return the window params.

    ``adjust="linear"`` (WAX-ML's) is accepted: the params then hold ``adjust=True`` and the caller
    checks ``window["adjust"]`` itself.
    """
    if bias is not None and not isinstance(bias, bool):
        raise TypeError(f"{owner}: bias must be a bool, got {bias!r}")
    adjust = window.get("adjust", True)
    if isinstance(adjust, str):
        if adjust != "linear":
            raise ValueError(f"{owner}: adjust must be True, False or 'linear', got {adjust!r}")
        if bias is False:
            raise ValueError(f"{owner}: adjust='linear' (WAX-ML's) has only the biased estimate; "
                             "pass bias=True or leave bias unset")
        window = dict(window, adjust=True)
    return ewm_params(**window)


class EWMCov(hk.Module):
    """Exponentially weighted moving covariance, matching ``pandas ewm(...).cov(other, bias=...)``.

    Call it once per time step with the values ``x`` and ``y`` of that step; they are broadcast
    together, so ``EWMCov(...)(x[:, None], x[None, :])`` gives the pairwise covariance matrix
    (pandas' ``pairwise=True``). State: both means, the covariance and pandas' weight sums.

    WAX-ML's tuple call ``EWMCov(...)((x, y))`` gives WAX-ML's outer-product matrix
    ``cov[..., i, j]`` of ``x[i]`` and ``y[j]`` (``pairwise=True`` does the same for the two-argument
    call); the two-argument call stays pandas' element-wise ``cov(other)``.

    Parameters
    ----------
    alpha, com, span, halflife : float, optional
        Exactly one, as in :meth:`pandas.DataFrame.ewm`.
    adjust : bool or "linear", default True
        pandas' ``adjust``, or WAX-ML's ``"linear"`` (see :func:`ewmcov_linear_step`; biased only).
    ignore_na, min_periods
        As in :meth:`pandas.DataFrame.ewm`.
    bias : bool, optional
        pandas' ``bias``: False applies the unbiased-weights correction
        ``sum_wt**2 / (sum_wt**2 - sum_wt2)``. Unset: pandas' False, except in WAX-ML's modes (the
        tuple call, ``adjust="linear"``), where it is WAX-ML's biased estimate.
    assume_centered : bool, default False
        WAX-ML's option: take both means to be 0, i.e. return the exponentially weighted mean of
        ``x * y`` (pandas' ``ewm(...).mean()`` of the product over the steps where both are
        present; ``bias`` does not apply).
    pairwise : bool, optional
        True: outer product ``x[..., :, None]``, ``y[..., None, :]`` (pandas' ``pairwise=True``).
        Unset: True for the tuple call, False for the two-argument call.
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
        bias: bool | None = None,
        *,
        span: float | None = None,
        halflife: float | None = None,
        assume_centered: bool = False,
        pairwise: bool | None = None,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.params = validate_cov_options(type(self).__name__, bias, com=com, span=span, halflife=halflife,
                                           alpha=alpha, min_periods=min_periods, adjust=adjust,
                                           ignore_na=ignore_na)
        self.linear = adjust == "linear"
        self.bias = bias
        self.assume_centered = bool(assume_centered)
        self.pairwise = pairwise

    def __call__(self, x, y=None):
        tuple_call = y is None
        if tuple_call:
            if not (isinstance(x, (tuple, list)) and len(x) == 2):
                raise TypeError(f"{type(self).__name__}: call with (x, y) or with the pair ((x, y)) "
                                f"(WAX-ML's form), got one {type(x).__name__}")
            x, y = x
        x, y = as_floating(x), as_floating(y)
        dtype = jnp.result_type(x.dtype, y.dtype)
        x, y = x.astype(dtype), y.astype(dtype)
        if (tuple_call if self.pairwise is None else self.pairwise):
            x, y = x[..., :, None], y[..., None, :]
        x, y = jnp.broadcast_arrays(x, y)
        bias = (tuple_call or self.linear) if self.bias is None else self.bias
        if self.assume_centered:
            return self._centered(x, y)
        shape = x.shape
        nan = lambda s, d: jnp.full(s, jnp.nan, d)
        mean_x = hk.get_state("mean_x", shape, dtype, init=nan)
        mean_y = hk.get_state("mean_y", shape, dtype, init=nan)
        cov = hk.get_state("cov", shape, dtype, init=jnp.zeros)
        if self.linear:
            old_wt = hk.get_state("old_wt", shape, dtype, init=jnp.ones)
            nobs = hk.get_state("nobs", shape, jnp.int32, init=jnp.zeros)
            output, *new_state = ewmcov_linear_step(x, y, mean_x, mean_y, cov, old_wt, nobs, self.params)
            for name, value in zip(("mean_x", "mean_y", "cov", "old_wt", "nobs"), new_state):
                hk.set_state(name, value)
            return output
        sum_wt = hk.get_state("sum_wt", shape, dtype, init=jnp.ones)
        sum_wt2 = hk.get_state("sum_wt2", shape, dtype, init=jnp.ones)
        old_wt = hk.get_state("old_wt", shape, dtype, init=jnp.ones)
        nobs = hk.get_state("nobs", shape, jnp.int32, init=jnp.zeros)
        output, *new_state = ewmcov_step(x, y, mean_x, mean_y, cov, sum_wt, sum_wt2, old_wt, nobs,
                                         self.params, bias)
        for name, value in zip(("mean_x", "mean_y", "cov", "sum_wt", "sum_wt2", "old_wt", "nobs"), new_state):
            hk.set_state(name, value)
        return output

    def _centered(self, x, y):
        """WAX-ML's ``assume_centered``: the EW mean of ``x * y`` over the steps both are present."""
        from waxegg.wax.modules.ewma import EWMA

        if self.linear:
            xy = jnp.where((x == x) & (y == y), x * y, jnp.nan)
        else:
            xy = jnp.where(jnp.isfinite(x) & jnp.isfinite(y), x * y, jnp.nan)
        p = self.params
        return EWMA(com=p.com, adjust="linear" if self.linear else p.adjust, ignore_na=p.ignore_na,
                    min_periods=p.min_periods, name="mean_xy")(xy)
