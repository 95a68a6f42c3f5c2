"""Relative change ``x_t / x_{t-periods} - 1`` as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk

from waxegg.wax.modules._util import as_floating, check_positive_int
from waxegg.wax.modules.lag import Lag


class PctChange(hk.Module):
    """``x_t / x_{t-periods} - 1``, matching ``pandas.DataFrame.pct_change(periods)``.

    pandas' default ``fill_method=None``: missing values are not filled first, a missing value on
    either side gives NaN, a zero denominator gives ``inf`` (or NaN for ``0 / 0``) as in pandas.
    """

    def __init__(self, periods: int = 1, name: str | None = None):
        super().__init__(name=name)
        self.periods = check_positive_int("PctChange", "periods", periods)

    def __call__(self, x):
        x = as_floating(x)
        return x / Lag(self.periods, name="lag")(x) - 1
