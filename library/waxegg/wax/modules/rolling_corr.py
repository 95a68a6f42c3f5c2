"""Moving correlation over a fixed number of steps as a streaming Haiku module."""

from __future__ import annotations

import jax.numpy as jnp

from waxegg.wax.modules.rolling_cov import RollingCov, comoments, joint_observations


class RollingCorr(RollingCov):
    """Correlation of the last ``window`` steps, matching ``pandas rolling(window, min_periods).corr(other)``.

    As pandas 3's ``roll_corr``: Welford's co-moment over the sums of squared deviations of the
    joint observations (see :func:`~waxegg.wax.modules.rolling_cov.comoments`),
    ``c / sqrt(m2x * m2y)``. A window with one observation, or a constant ``x`` or ``y`` (0 / 0), gives
    NaN, as in pandas. ``ddof`` is accepted and cancels out (pandas ignores it too).
    Parameters are those of :class:`~waxegg.wax.modules.RollingCov`.
    """

    def __call__(self, x, y):
        x, y = joint_observations(x, y)
        nobs, c, m2x, m2y = comoments(x, y, self.window)
        value = c / jnp.sqrt(m2x * m2y)
        # One observation is NaN in pandas even when removals left c, m2x, m2y a rounding away from 0.
        return jnp.where((nobs >= max(self.min_periods, 1)) & (nobs > 1), value, jnp.nan).astype(c.dtype)
