"""Exponentially weighted moving variance as a streaming Haiku module."""

from __future__ import annotations

import math

import haiku as hk
import jax.numpy as jnp

from waxegg.wax.modules._util import as_floating
from waxegg.wax.modules.ewmcov import EWMCov, validate_cov_options


class EWMVar(hk.Module):
    """Exponentially weighted moving variance, matching ``pandas ewm(...).var(bias=...)``.

    pandas computes the variance as the covariance of a series with itself, and so do we (an
    :class:`~waxegg.wax.modules.EWMCov` fed ``x`` twice), which keeps the two bit-identical.
    Parameters are those of :class:`~waxegg.wax.modules.EWMCov`. With ``std=True`` the module
    returns pandas' ``ewm(...).std()``: the square root of the variance, negative values (rounding)
    set to 0 as pandas' ``zsqrt`` does.

    ``adjust="linear"`` is WAX-ML's linear scheme (biased only, see
    :func:`~waxegg.wax.modules.ewmcov.ewmcov_linear_step`). WAX-ML's ``EWMVar`` returns the
    *biased* variance (``Mean(x^2) - Mean(x)^2``) and ignores missing values in its weights: pass
    ``bias=True`` (and ``ignore_na=True`` on gappy data) for its values; the default stays
    pandas' unbiased ``var()``.

    ``learn_com=True`` makes the centre of mass a Haiku parameter ``logcom`` of this module (``log(com)``,
    WAX-ML's name, which WAX-ML's ``EWMVar`` always creates), trainable by gradient as
    :class:`~waxegg.wax.modules.EWMA`'s.
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
        std: bool = False,
        span: float | None = None,
        halflife: float | None = None,
        learn_com: bool = False,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self._kwargs = dict(alpha=alpha, adjust=adjust, com=com, min_periods=min_periods, ignore_na=ignore_na,
                            bias=bias, span=span, halflife=halflife)
        # Validate now (errors at construction, naming the bad option), not at the first call.
        self.params = validate_cov_options(type(self).__name__, bias, com=com, span=span, halflife=halflife,
                                           alpha=alpha, min_periods=min_periods, adjust=adjust,
                                           ignore_na=ignore_na)
        self.std = std
        self.learn_com = bool(learn_com)
        if self.learn_com and self.params.com == 0:
            raise ValueError(f"{type(self).__name__}: learn_com needs com > 0 (its parameter is log(com)), got com=0")

    def __call__(self, x):
        x = as_floating(x)
        com = None
        if self.learn_com:
            logcom = hk.get_parameter("logcom", [], x.dtype,
                                      init=lambda s, d: jnp.full(s, math.log(self.params.com), d))
            com = jnp.exp(logcom)
        var = EWMCov(**self._kwargs, name="cov")(x, x, com=com)
        if not self.std:
            return var
        return jnp.where(var < 0, jnp.zeros_like(var), jnp.sqrt(var))
