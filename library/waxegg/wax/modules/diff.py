"""Differences ``x_t - x_{t-periods}`` as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk

from waxegg.wax.modules._util import as_floating, check_positive_int
from waxegg.wax.modules.lag import Lag


class Diff(hk.Module):
    """``x_t - x_{t-periods}``, matching ``pandas.DataFrame.diff(periods)`` (any ``periods >= 1``).

    The first ``periods`` outputs are NaN.
    """

    def __init__(self, periods: int = 1, name: str | None = None):
        super().__init__(name=name)
        self.periods = check_positive_int("Diff", "periods", periods)

    def __call__(self, x):
        x = as_floating(x)
        return x - Lag(self.periods, name="lag")(x)
