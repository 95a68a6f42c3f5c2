"""Moving covariance over a fixed number of steps as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp

from waxegg.wax.modules._util import as_floating, check_positive_int
from waxegg.wax.modules._window import unfused
from waxegg.wax.modules.rolling_count import RollingCount
from waxegg.wax.modules.rolling_mean import RollingMean, rolling_params


def joint_observations(x, y):
    """``x`` and ``y`` broadcast to one floating dtype, each NaN where either is missing (NaN or +-inf).

    pandas' binary moments first align the pair as ``x + 0 * y`` / ``y + 0 * x`` and then treat inf
    as missing, so a step counts only when both values are finite.
    """
    x, y = as_floating(x), as_floating(y)
    dtype = jnp.result_type(x.dtype, y.dtype)
    x, y = jnp.broadcast_arrays(x.astype(dtype), y.astype(dtype))
    both = jnp.isfinite(x) & jnp.isfinite(y)
    return jnp.where(both, x, jnp.nan), jnp.where(both, y, jnp.nan)


class RollingCov(hk.Module):
    """Covariance of the last ``window`` steps, matching ``pandas rolling(window, min_periods).cov(other, ddof)``.

    pandas computes it from rolling means (``Rolling.cov``), and so do we, with the same
    arithmetic: ``(mean(x * y) - mean(x) * mean(y)) * (n / (n - ddof))``, every mean a
    :class:`~waxegg.wax.modules.RollingMean` over the steps where both ``x`` and ``y`` are present
    and ``n`` their count in the window. ``x`` and ``y`` are broadcast together.

    Parameters
    ----------
    window : int
        Number of steps, ``>= 1``.
    min_periods : int, optional
        Joint observations needed in the window (default ``window``, as pandas).
    ddof : int, default 1
        Delta degrees of freedom.
    """

    def __init__(self, window: int, min_periods: int | None = None, ddof: int = 1, name: str | None = None):
        super().__init__(name=name)
        owner = type(self).__name__
        self.window, self.min_periods = rolling_params(window, min_periods, owner)
        self.ddof = check_positive_int(owner, "ddof", ddof, minimum=0)

    def __call__(self, x, y):
        x, y = joint_observations(x, y)
        return self._cov(x, y)

    def _cov(self, x, y):
        w, minp = self.window, self.min_periods
        mean_xy = RollingMean(w, minp, name="mean_xy")(unfused(x * y))
        mean_x = RollingMean(w, minp, name="mean_x")(x)
        mean_y = RollingMean(w, minp, name="mean_y")(y)
        # pandas: roll_sum(notna(x + y), minp=0), which counts the joint observations exactly.
        count = RollingCount(w, 0, name="count")(x + y)
        # unfused: pandas rounds mean_x * mean_y, so one observation gives exactly 0 (then 0 * inf = NaN).
        return ((mean_xy - unfused(mean_x * mean_y)) * (count / (count - self.ddof))).astype(x.dtype)
