"""Exponentially weighted moving sum as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp

from waxegg.wax._params import EWMParams, ewm_params
from waxegg.wax.modules._util import as_floating
from waxegg.wax.modules._window import unfused


def ewmsum_step(x, weighted, nobs, params: EWMParams):
    """One step of pandas' EWM sum recursion, vectorised over the shape of ``x``.

    This is ``pandas._libs.window.aggregations.ewm`` with ``normalize=False`` written as a state
    update: ``weighted`` (NaN before the first observation) decays by ``1 - alpha`` at every
    observation, and at every missing value too unless ``ignore_na``, and each observation is
    added to it. Missing values are NaN and +-inf (pandas' ``_prep_values``).

    Returns ``(output, weighted, nobs)``.
    """
    factor = 1.0 - params.alpha
    is_obs = jnp.isfinite(x)
    nobs = nobs + is_obs.astype(nobs.dtype)
    has_sum = weighted == weighted
    decay = has_sum & (is_obs | (not params.ignore_na))
    weighted = jnp.where(decay, factor * weighted, weighted)
    # unfused: pandas rounds the decayed sum before adding the value (no fused multiply-add).
    weighted = jnp.where(has_sum & is_obs, unfused(weighted) + x, weighted)
    weighted = jnp.where(~has_sum & is_obs, x, weighted)
    output = jnp.where(nobs >= params.min_periods, weighted, jnp.nan).astype(weighted.dtype)
    return output, weighted, nobs


class EWMSum(hk.Module):
    """Exponentially weighted moving sum, matching ``pandas.DataFrame.ewm(...).sum()``.

    State: the running weighted sum and the observation count. The output has the input's
    floating dtype.

    Parameters
    ----------
    alpha, com, span, halflife : float, optional
        Exactly one, as in :meth:`pandas.DataFrame.ewm`.
    adjust : bool, default True
        pandas implements the sum only for ``adjust=True``; False raises ``NotImplementedError``
        as pandas does.
    min_periods, ignore_na
        As in :meth:`pandas.DataFrame.ewm`.
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
        *,
        span: float | None = None,
        halflife: float | None = None,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.params = ewm_params(com=com, span=span, halflife=halflife, alpha=alpha,
                                 min_periods=min_periods, adjust=adjust, ignore_na=ignore_na)
        if not adjust:
            raise NotImplementedError("EWMSum: sum is not implemented with adjust=False (as in pandas)")

    def __call__(self, x):
        x = as_floating(x)
        weighted = hk.get_state("weighted", x.shape, x.dtype, init=lambda s, d: jnp.full(s, jnp.nan, d))
        nobs = hk.get_state("nobs", x.shape, jnp.int32, init=jnp.zeros)
        output, weighted, nobs = ewmsum_step(x, weighted, nobs, self.params)
        hk.set_state("weighted", weighted)
        hk.set_state("nobs", nobs)
        return output
