"""Moving correlation over a fixed number of steps as a streaming Haiku module."""

from __future__ import annotations

import jax.numpy as jnp

from waxegg.wax.modules.rolling_cov import RollingCov, joint_observations
from waxegg.wax.modules.rolling_var import RollingVar


class RollingCorr(RollingCov):
    """Correlation of the last ``window`` steps, matching ``pandas rolling(window, min_periods).corr(other, ddof)``.

    As pandas' ``Rolling.corr``: the covariance of :class:`~waxegg.wax.modules.RollingCov` divided
    by ``(var(x) * var(y)) ** 0.5``, both :class:`~waxegg.wax.modules.RollingVar` over the joint
    observations. A constant window gives NaN (0 / 0), as in pandas. Parameters are those of
    :class:`~waxegg.wax.modules.RollingCov`.
    """

    def __call__(self, x, y):
        x, y = joint_observations(x, y)
        cov = self._cov(x, y)
        var_x = RollingVar(self.window, self.min_periods, self.ddof, name="var_x")(x)
        var_y = RollingVar(self.window, self.min_periods, self.ddof, name="var_y")(y)
        return (cov / jnp.sqrt(var_x * var_y)).astype(x.dtype)
