"""Exponentially weighted moving correlation as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp

from waxegg.wax.modules.ewmcov import EWMCov, validate_cov_options
from waxegg.wax.modules.rolling_cov import joint_observations


class EWMCorr(hk.Module):
    """Exponentially weighted moving correlation, matching ``pandas ewm(...).corr(other)``.

    As pandas' ``ExponentialMovingWindow.corr``: on the steps where both ``x`` and ``y`` are
    present, ``cov(x, y) / zsqrt(var(x) * var(y))`` with the three moments the biased
    :class:`~waxegg.wax.modules.EWMCov` (``bias=True``), ``zsqrt`` setting negative products to 0.
    ``x`` and ``y`` are broadcast together.

    Parameters
    ----------
    alpha, com, span, halflife : float, optional
        Exactly one, as in :meth:`pandas.DataFrame.ewm`.
    adjust, ignore_na, min_periods
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
        self._kwargs = dict(alpha=alpha, adjust=adjust, com=com, min_periods=min_periods, ignore_na=ignore_na,
                            bias=True, span=span, halflife=halflife)
        self.params = validate_cov_options(type(self).__name__, True, com=com, span=span, halflife=halflife,
                                           alpha=alpha, min_periods=min_periods, adjust=adjust,
                                           ignore_na=ignore_na)

    def __call__(self, x, y):
        x, y = joint_observations(x, y)
        cov = EWMCov(**self._kwargs, name="cov")(x, y)
        var_x = EWMCov(**self._kwargs, name="var_x")(x, x)
        var_y = EWMCov(**self._kwargs, name="var_y")(y, y)
        product = var_x * var_y
        return (cov / jnp.where(product < 0, jnp.zeros_like(product), jnp.sqrt(product))).astype(cov.dtype)
