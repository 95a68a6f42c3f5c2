"""Exponentially weighted moving covariance as a streaming Haiku module."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import haiku as hk
import jax.numpy as jnp

from waxegg.wax._params import EWMParams, ewm_params
from waxegg.wax.modules._util import as_floating


def ewmcov_step(x, y, mean_x, mean_y, cov, sum_wt, sum_wt2, old_wt, nobs, params: EWMParams, bias: bool,
                alpha=None):
    """One step of pandas' EWM covariance recursion, vectorised over the (broadcast) shape of ``x, y``.

    This is ``pandas._libs.window.aggregations.ewmcov`` written as a state update, with the same
    operations in the same order, so that a stream of steps reproduces
    ``ewm(...).cov(other, bias=bias)`` (and ``.var(bias=bias)`` when ``y is x``) to the last bits:
    a step is an observation only when both ``x`` and ``y`` are present; ``mean_x``/``mean_y`` are
    NaN before the first observation; ``sum_wt``, ``sum_wt2`` and ``old_wt`` are pandas' weight
    sums; ``nobs`` counts observations.

    ``alpha``, when given, is a traced smoothing factor (a learnable centre of mass) used instead of
    ``params.alpha``; missing inputs and the NaN means are then zeroed before the update so that
    gradients stay finite (the selected values are unchanged).

    Returns ``(output, mean_x, mean_y, cov, sum_wt, sum_wt2, old_wt, nobs)``.
    """
    learn = alpha is not None
    alpha = params.alpha if alpha is None else alpha
    # In the data's dtype, so that float32 rounds factor**2 as it rounds sum_wt**2 (pandas works in
    # float64, where this is exactly its (old_wt_factor * old_wt_factor)).
    factor = jnp.asarray(1.0 - alpha, sum_wt.dtype)
    factor2 = factor * factor
    new_wt = 1.0 if params.adjust else alpha
    is_obs = jnp.isfinite(x) & jnp.isfinite(y)  # pandas: inf is missing
    nobs = nobs + is_obs.astype(nobs.dtype)
    has_mean = mean_x == mean_x
    if learn:
        zero = jnp.zeros_like(x)
        x, y = jnp.where(is_obs, x, zero), jnp.where(is_obs, y, zero)
        mean_x, mean_y = jnp.where(has_mean, mean_x, zero), jnp.where(has_mean, mean_y, zero)

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
    if learn:
        nan = jnp.full_like(mean_x, jnp.nan)
        mean_x = jnp.where(has_mean | is_obs, mean_x, nan)
        mean_y = jnp.where(has_mean | is_obs, mean_y, nan)

    if bias:
        value = cov
    else:
        numerator = sum_wt * sum_wt
        denominator = numerator - sum_wt2
        safe = jnp.where(denominator > 0, denominator, jnp.ones_like(denominator))
        value = jnp.where(denominator > 0, (numerator / safe) * cov, jnp.nan)
    output = jnp.where(nobs >= params.min_periods, value, jnp.nan).astype(cov.dtype)
    return output, mean_x, mean_y, cov, sum_wt, sum_wt2, old_wt, nobs


def ewmcov_linear_step(x, y, mean_x, mean_y, cov, old_wt, nobs, params: EWMParams, com=None):
    """One step of WAX-ML's ``adjust="linear"`` EWM covariance (biased), vectorised over ``x, y``.

    The weights are those of :func:`~waxegg.wax.modules.ewma.ewma_linear_step` (the effective
    centre of mass ``old_wt`` grows by one per observation up to ``com``); the covariance is updated
    with pandas' weighted recursion for an old weight ``old_wt`` and a new weight 1, which equals
    WAX-ML's ``EWMA(x y) - EWMA(x) EWMA(y)`` (each with ``adjust="linear"``) without its
    cancellation. A step is an observation when both ``x`` and ``y`` are present (not NaN). ``com``, when
    given, is a traced centre of mass (learnable) used instead of ``params.com``.

    Returns ``(output, mean_x, mean_y, cov, old_wt, nobs)``.
    """
    is_obs = (x == x) & (y == y)
    has_mean = mean_x == mean_x
    shrink = jnp.maximum(0.0, (old_wt - 1.0) / old_wt)
    old_wt = jnp.minimum(old_wt, params.com if com is None else com)
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
    initial_value : float, default NaN
        WAX-ML's option: both means start from it, as one observation ``(v, v)`` made before the first
        step, so the outputs equal pandas' ``ewm(...).cov`` of ``[(v, v), (x_0, y_0), ...]`` without its
        first row (``min_periods`` counts only real observations). WAX-ML started ``E[x]``, ``E[y]`` and
        ``E[x y]`` from ``v``: the same for ``v = 0``, while for other values its ``E[x y]`` should have
        started from ``v**2``.
    learn_com : bool, default False
        Make the centre of mass a Haiku parameter ``logcom`` (``log(com)``) trainable by gradient, as
        :class:`~waxegg.wax.modules.EWMA` (``learn_com``). WAX-ML always did, through three ``logcom``
        parameters (of its ``mean_xy``, ``mean_x`` and ``mean_y`` EWMAs); here one ``logcom`` of this module.
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
        initial_value: float = float("nan"),
        learn_com: bool = False,
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
        self.initial_value = float(initial_value)
        if self.initial_value == self.initial_value and min_periods == 0:
            # As EWMA: with an initial value and no min_periods every step emits.
            self.params = dataclasses.replace(self.params, min_periods=0)
        self.learn_com = bool(learn_com)
        if self.learn_com and self.params.com == 0:
            raise ValueError(f"{type(self).__name__}: learn_com needs com > 0 (its parameter is log(com)), got com=0")

    def _com(self, dtype, com=None):
        """The traced centre of mass: ``com`` (a caller's), the ``logcom`` parameter, or None (constant)."""
        if com is not None or not self.learn_com:
            return com
        logcom = hk.get_parameter("logcom", [], dtype, init=lambda s, d: jnp.full(s, math.log(self.params.com), d))
        return jnp.exp(logcom)

    def __call__(self, x, y=None, *, com=None):
        """``com``: a traced centre of mass from an enclosing module (EWMVar's learnable one)."""
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
        com = self._com(dtype, com)
        if self.assume_centered:
            return self._centered(x, y, com)
        shape = x.shape
        start = lambda s, d: jnp.full(s, self.initial_value, d)
        mean_x = hk.get_state("mean_x", shape, dtype, init=start)
        mean_y = hk.get_state("mean_y", shape, dtype, init=start)
        cov = hk.get_state("cov", shape, dtype, init=jnp.zeros)
        if self.linear:
            old_wt = hk.get_state("old_wt", shape, dtype, init=jnp.ones)
            nobs = hk.get_state("nobs", shape, jnp.int32, init=jnp.zeros)
            output, *new_state = ewmcov_linear_step(x, y, mean_x, mean_y, cov, old_wt, nobs, self.params, com=com)
            for name, value in zip(("mean_x", "mean_y", "cov", "old_wt", "nobs"), new_state):
                hk.set_state(name, value)
            return output
        sum_wt = hk.get_state("sum_wt", shape, dtype, init=jnp.ones)
        sum_wt2 = hk.get_state("sum_wt2", shape, dtype, init=jnp.ones)
        old_wt = hk.get_state("old_wt", shape, dtype, init=jnp.ones)
        nobs = hk.get_state("nobs", shape, jnp.int32, init=jnp.zeros)
        output, *new_state = ewmcov_step(x, y, mean_x, mean_y, cov, sum_wt, sum_wt2, old_wt, nobs,
                                         self.params, bias, alpha=None if com is None else 1.0 / (1.0 + com))
        for name, value in zip(("mean_x", "mean_y", "cov", "sum_wt", "sum_wt2", "old_wt", "nobs"), new_state):
            hk.set_state(name, value)
        return output

    def _centered(self, x, y, com=None):
        """WAX-ML's ``assume_centered``: the EW mean of ``x * y`` over the steps both are present."""
        from waxegg.wax.modules.ewma import EWMA, ewma_linear_step, ewma_step

        if self.linear:
            xy = jnp.where((x == x) & (y == y), x * y, jnp.nan)
        else:
            xy = jnp.where(jnp.isfinite(x) & jnp.isfinite(y), x * y, jnp.nan)
        p = self.params
        if com is None:
            return EWMA(com=p.com, adjust="linear" if self.linear else p.adjust, ignore_na=p.ignore_na,
                        min_periods=p.min_periods, initial_value=self.initial_value, name="mean_xy")(xy)
        # A traced centre of mass: EWMA's step functions, with this module's state.
        mean = hk.get_state("mean_xy", xy.shape, xy.dtype, init=lambda s, d: jnp.full(s, self.initial_value, d))
        old_wt = hk.get_state("old_wt", xy.shape, xy.dtype, init=jnp.ones)
        nobs = hk.get_state("nobs", xy.shape, jnp.int32, init=jnp.zeros)
        if self.linear:
            output, mean, old_wt, nobs = ewma_linear_step(xy, mean, old_wt, nobs, p, com=com)
        else:
            output, mean, old_wt, nobs = ewma_step(xy, mean, old_wt, nobs, p, alpha=1.0 / (1.0 + com))
        for name, value in dict(mean_xy=mean, old_wt=old_wt, nobs=nobs).items():
            hk.set_state(name, value)
        return output
