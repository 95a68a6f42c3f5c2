"""Count of observations over a fixed number of steps as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp

from waxegg.wax.modules._util import as_floating
from waxegg.wax.modules._window import ring_get, ring_set
from waxegg.wax.modules.rolling_mean import rolling_params


class RollingCount(hk.Module):
    """Non-missing values in the last ``window`` steps, matching ``pandas rolling(window, min_periods).count()``.

    pandas counts with ``notna``, so +-inf *is* counted (unlike every other rolling statistic),
    and applies ``min_periods`` to the number of rows in the window, not to the count: the first
    ``min_periods - 1`` rows are NaN, and a later window without any value counts 0. State: a ring
    of the last ``window`` presence flags, the running count and the rows seen (up to ``window``).

    Parameters
    ----------
    window : int
        Number of steps, ``>= 1``.
    min_periods : int, optional
        Rows needed in the window for a value (default ``window``, as pandas).
    """

    def __init__(self, window: int, min_periods: int | None = None, name: str | None = None):
        super().__init__(name=name)
        self.window, self.min_periods = rolling_params(window, min_periods, type(self).__name__)

    def __call__(self, x):
        x = as_floating(x)
        present = (x == x).astype(jnp.int32)
        ring, pos = ring_get(present, self.window, fill=jnp.zeros)
        rows = hk.get_state("rows", [], jnp.int32, init=jnp.zeros)
        count = hk.get_state("count", x.shape, jnp.int32, init=jnp.zeros)
        count = count - ring[pos] + present
        rows = jnp.minimum(rows + 1, self.window)
        ring_set(ring, pos, present)
        hk.set_state("rows", rows)
        hk.set_state("count", count)
        return jnp.where(rows >= self.min_periods, count.astype(x.dtype), jnp.nan).astype(x.dtype)
