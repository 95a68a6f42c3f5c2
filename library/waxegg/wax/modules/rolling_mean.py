"""Moving average over a fixed number of steps as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp

from waxegg.wax.modules._util import as_floating, check_positive_int


def rolling_params(window: int, min_periods: int | None, owner: str = "RollingMean") -> tuple[int, int]:
    """Validate ``window`` / ``min_periods`` as ``pandas.DataFrame.rolling`` does (plus ``window >= 1``)."""
    window = check_positive_int(owner, "window", window)
    if min_periods is None:
        min_periods = window
    min_periods = check_positive_int(owner, "min_periods", min_periods, minimum=0)
    if min_periods > window:
        raise ValueError(f"{owner}: min_periods {min_periods} must be <= window {window}")
    return window, min_periods


class RollingMean(hk.Module):
    """Mean of the last ``window`` steps, matching ``pandas.DataFrame.rolling(window, min_periods).mean()``.

    It mirrors pandas' ``roll_mean`` state machine (``pandas/_libs/window/aggregations.pyx``): a
    running sum with separate Kahan compensations for added and removed values, the counts of
    observations and of negative observations (a mean of same-signed values is clipped at 0), and
    the run length of equal consecutive observations (a constant window returns that constant
    exactly). Missing values are skipped. State also keeps a ring of the last ``window`` inputs.

    Parameters
    ----------
    window : int
        Number of steps, ``>= 1``.
    min_periods : int, optional
        Observations needed in the window for a value (default ``window``, as pandas; 1 when the
        window is given as ``horizon``, WAX-ML's default).
    horizon : int, optional
        WAX-ML's name for ``window`` (keyword only): ``RollingMean(horizon=10)`` behaves as WAX-ML's,
        ``min_periods=1`` unless given.
    """

    def __init__(self, window: int | None = None, min_periods: int | None = None, name: str | None = None,
                 *, horizon: int | None = None):
        super().__init__(name=name)
        if horizon is not None:
            if window is not None:
                raise TypeError(f"RollingMean: pass window or horizon (WAX-ML's name), not both; "
                                f"got {window!r} and {horizon!r}")
            window = horizon
            min_periods = 1 if min_periods is None else min_periods
        elif window is None:
            raise TypeError("RollingMean: missing the window (or WAX-ML's horizon=)")
        self.window, self.min_periods = rolling_params(window, min_periods)

    def __call__(self, x):
        x = as_floating(x)
        minp = max(self.min_periods, 1)
        is_obs = jnp.isfinite(x)
        x = jnp.where(is_obs, x, jnp.nan)  # pandas treats inf as missing in window ops
        if self.window == 1:
            # pandas re-initialises a window that does not overlap the previous one, so a window of
            # one step is exactly its value.
            return jnp.where(is_obs & (1 >= minp), x, jnp.nan).astype(x.dtype)

        shape, dtype = x.shape, x.dtype
        nan = lambda s, d: jnp.full(s, jnp.nan, d)
        ring = hk.get_state("ring", (self.window,) + shape, dtype, init=nan)
        step = hk.get_state("step", [], jnp.int32, init=jnp.zeros)
        sum_x = hk.get_state("sum_x", shape, dtype, init=jnp.zeros)
        comp_add = hk.get_state("compensation_add", shape, dtype, init=jnp.zeros)
        comp_remove = hk.get_state("compensation_remove", shape, dtype, init=jnp.zeros)
        nobs = hk.get_state("nobs", shape, jnp.int32, init=jnp.zeros)
        neg_ct = hk.get_state("neg_ct", shape, jnp.int32, init=jnp.zeros)
        same = hk.get_state("num_consecutive_same_value", shape, jnp.int32, init=jnp.zeros)
        prev_value = hk.get_state("prev_value", shape, dtype, init=nan)

        # Remove the value leaving the window (a NaN slot before `window` steps: nothing to remove).
        pos = step % self.window
        old = ring[pos]
        out_obs = old == old
        y = -old - comp_remove
        t = sum_x + y
        comp_remove = jnp.where(out_obs, t - sum_x - y, comp_remove)
        sum_x = jnp.where(out_obs, t, sum_x)
        nobs = nobs - out_obs.astype(nobs.dtype)
        neg_ct = neg_ct - (out_obs & jnp.signbit(old)).astype(neg_ct.dtype)

        # Add the new value.
        y = x - comp_add
        t = sum_x + y
        comp_add = jnp.where(is_obs, t - sum_x - y, comp_add)
        sum_x = jnp.where(is_obs, t, sum_x)
        nobs = nobs + is_obs.astype(nobs.dtype)
        neg_ct = neg_ct + (is_obs & jnp.signbit(x)).astype(neg_ct.dtype)
        same = jnp.where(is_obs, jnp.where(x == prev_value, same + 1, 1), same)
        prev_value = jnp.where(is_obs, x, prev_value)

        safe_n = jnp.maximum(nobs, 1).astype(dtype)
        mean = sum_x / safe_n
        mean = jnp.where(same >= nobs, prev_value,
                         jnp.where((neg_ct == 0) & (mean < 0), jnp.zeros_like(mean),
                                   jnp.where((neg_ct == nobs) & (mean > 0), jnp.zeros_like(mean), mean)))
        output = jnp.where((nobs >= minp) & (nobs > 0), mean, jnp.nan).astype(dtype)

        for name, value in dict(ring=ring.at[pos].set(x), step=step + 1, sum_x=sum_x, compensation_add=comp_add,
                                compensation_remove=comp_remove, nobs=nobs, neg_ct=neg_ct,
                                num_consecutive_same_value=same, prev_value=prev_value).items():
            hk.set_state(name, value)
        return output
