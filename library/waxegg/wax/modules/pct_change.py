"""Relative change ``x_t / x_{t-periods} - 1`` as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp

from waxegg.wax.modules._util import as_floating, check_positive_int
from waxegg.wax.modules.lag import Lag


class PctChange(hk.Module):
    """``x_t / x_{t-periods} - 1``, matching ``pandas.DataFrame.pct_change(periods)``.

    With pandas 3's default ``fill_method=None``, missing values are not filled first: a missing
    value on either side gives NaN, a zero denominator ``inf`` (or NaN for ``0 / 0``) as in pandas.
    ``fill_method="pad"``/``"ffill"`` (WAX-ML's default, pandas' before 2.1) forward-fills first
    (at most ``limit`` consecutive values): the result then equals pandas'
    ``ffill(limit=limit).pct_change(periods)``, 0 where a value was filled after an equal one.

    Parameters
    ----------
    periods : int, default 1
    fill_method : None, "pad" or "ffill", default None
    limit : int, optional
        Most consecutive missing values forward-filled (only with a ``fill_method``).
    fillna_zero : bool, default True
        WAX-ML's option, with a ``fill_method``: False gives NaN (instead of the filled result)
        where the current value is missing.
    name : str, optional
    """

    def __init__(self, periods: int = 1, fill_method: str | None = None, limit: int | None = None,
                 fillna_zero: bool = True, name: str | None = None):
        super().__init__(name=name)
        self.periods = check_positive_int("PctChange", "periods", periods)
        if fill_method not in (None, "pad", "ffill"):
            raise ValueError(f"PctChange: fill_method must be None, 'pad' or 'ffill', got {fill_method!r}")
        if limit is not None:
            limit = check_positive_int("PctChange", "limit", limit)
        self.fill_method, self.limit, self.fillna_zero = fill_method, limit, bool(fillna_zero)

    def __call__(self, x):
        x = as_floating(x)
        if self.fill_method is None:
            return x / Lag(self.periods, name="lag")(x) - 1
        filled = self._ffill(x)
        out = filled / Lag(self.periods, name="lag")(filled) - 1
        if not self.fillna_zero:
            out = jnp.where(jnp.isnan(x), jnp.nan, out)
        return out

    def _ffill(self, x):
        last = hk.get_state("last_valid", x.shape, x.dtype, init=lambda s, d: jnp.full(s, jnp.nan, d))
        run = hk.get_state("missing_run", x.shape, jnp.int32, init=jnp.zeros)
        missing = jnp.isnan(x)
        run = jnp.where(missing, run + 1, 0)
        usable = missing if self.limit is None else missing & (run <= self.limit)
        out = jnp.where(usable, last, x)
        hk.set_state("last_valid", jnp.where(missing, last, x))
        hk.set_state("missing_run", run)
        return out
