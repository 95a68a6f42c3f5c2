"""Median over a fixed number of steps as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp

from waxegg.wax.modules._util import as_floating
from waxegg.wax.modules._window import window_values
from waxegg.wax.modules.rolling_mean import rolling_params


class RollingMedian(hk.Module):
    """Median of the last ``window`` steps, matching ``pandas rolling(window, min_periods).median()``.

    The window (a ring of the last ``window`` inputs in Haiku state) is sorted at every step; with
    ``nobs`` observations the median is the middle one, or ``(upper + lower) / 2`` of the two
    middle ones for even ``nobs``, the arithmetic of pandas' skiplist ``roll_median_c``. Missing
    values (NaN, +-inf) are skipped; fewer than ``max(min_periods, 1)`` observations give NaN.

    Parameters
    ----------
    window : int
        Number of steps, ``>= 1``.
    min_periods : int, optional
        Observations needed in the window for a value (default ``window``, as pandas).
    """

    def __init__(self, window: int, min_periods: int | None = None, name: str | None = None):
        super().__init__(name=name)
        self.window, self.min_periods = rolling_params(window, min_periods, type(self).__name__)

    def __call__(self, x):
        ring, nobs = window_values(as_floating(x), self.window)
        ordered = jnp.sort(ring, axis=0)  # NaN sorts last, so the observations come first
        mid = nobs // 2

        def at(index):
            index = jnp.clip(index, 0, self.window - 1)
            return jnp.take_along_axis(ordered, index[None], axis=0)[0]

        upper = at(mid)
        value = jnp.where(nobs % 2 == 1, upper, (upper + at(mid - 1)) / 2)
        return jnp.where(nobs >= max(self.min_periods, 1), value, jnp.nan).astype(ring.dtype)
