"""Maximum over a fixed number of steps as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp

from waxegg.wax.modules._util import as_floating
from waxegg.wax.modules._window import window_values
from waxegg.wax.modules.rolling_mean import rolling_params


class RollingMax(hk.Module):
    """Maximum of the last ``window`` steps, matching ``pandas rolling(window, min_periods).max()``.

    The maximum is taken exactly over a ring of the last ``window`` inputs kept in Haiku state.
    Missing values (NaN, +-inf, which pandas' rolling treats as missing) are skipped; a window
    with fewer than ``max(min_periods, 1)`` observations gives NaN.

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
        value = jnp.max(jnp.where(ring == ring, ring, -jnp.inf), axis=0)
        return jnp.where(nobs >= max(self.min_periods, 1), value, jnp.nan).astype(ring.dtype)
