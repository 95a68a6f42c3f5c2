"""Sum over a fixed number of steps as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp

from waxegg.wax.modules._util import as_floating
from waxegg.wax.modules._window import missing_as_nan, nan_init, ring_get, ring_set
from waxegg.wax.modules.rolling_mean import rolling_params


class RollingSum(hk.Module):
    """Sum of the last ``window`` steps, matching ``pandas.DataFrame.rolling(window, min_periods).sum()``.

    It mirrors pandas' ``roll_sum`` state machine (``pandas/_libs/window/aggregations.pyx``): a
    running Kahan sum with separate compensations for added and removed values, the observation
    count, and the run length of equal consecutive observations (a window of one repeated value
    ``v`` returns ``v * nobs`` exactly). Missing values (NaN, +-inf) are skipped; a window without
    observations is 0 when ``min_periods == 0``, as in pandas. State also keeps a ring of the last
    ``window`` inputs.

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
        x, is_obs = missing_as_nan(as_floating(x))
        minp = self.min_periods
        if self.window == 1:
            # pandas re-initialises a window that does not overlap the previous one: the value itself.
            empty = jnp.zeros_like(x) if minp == 0 else jnp.full_like(x, jnp.nan)
            return jnp.where(is_obs, x, empty)

        shape, dtype = x.shape, x.dtype
        ring, pos = ring_get(x, self.window)
        sum_x = hk.get_state("sum_x", shape, dtype, init=jnp.zeros)
        comp_add = hk.get_state("compensation_add", shape, dtype, init=jnp.zeros)
        comp_remove = hk.get_state("compensation_remove", shape, dtype, init=jnp.zeros)
        nobs = hk.get_state("nobs", shape, jnp.int32, init=jnp.zeros)
        same = hk.get_state("num_consecutive_same_value", shape, jnp.int32, init=jnp.zeros)
        prev_value = hk.get_state("prev_value", shape, dtype, init=nan_init)

        # remove_sum: the value leaving the window (a NaN slot before `window` steps).
        old = ring[pos]
        out_obs = old == old
        y = -old - comp_remove
        t = sum_x + y
        comp_remove = jnp.where(out_obs, t - sum_x - y, comp_remove)
        sum_x = jnp.where(out_obs, t, sum_x)
        nobs = nobs - out_obs.astype(nobs.dtype)

        # add_sum: the new value.
        y = x - comp_add
        t = sum_x + y
        comp_add = jnp.where(is_obs, t - sum_x - y, comp_add)
        sum_x = jnp.where(is_obs, t, sum_x)
        nobs = nobs + is_obs.astype(nobs.dtype)
        same = jnp.where(is_obs, jnp.where(x == prev_value, same + 1, 1), same)
        prev_value = jnp.where(is_obs, x, prev_value)

        # calc_sum
        total = jnp.where(same >= nobs, prev_value * nobs.astype(dtype), sum_x)
        output = jnp.where(nobs >= minp, total, jnp.nan)
        if minp == 0:
            output = jnp.where(nobs == 0, jnp.zeros_like(output), output)

        ring_set(ring, pos, x)
        for name, value in dict(sum_x=sum_x, compensation_add=comp_add, compensation_remove=comp_remove,
                                nobs=nobs, num_consecutive_same_value=same, prev_value=prev_value).items():
            hk.set_state(name, value)
        return output.astype(dtype)
