"""Moving covariance over a fixed number of steps as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp

from waxegg.wax.modules._util import as_floating, check_positive_int
from waxegg.wax.modules._window import ring_get, ring_set, unfused
from waxegg.wax.modules.rolling_mean import rolling_params


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


def comoments(x, y, window: int):
    """Streaming co-moments of the last ``window`` joint observations (Haiku state of the caller).

    Welford's updates for adding and removing an observation, in the form of pandas 3's
    ``roll_cov`` / ``roll_corr`` (measured bit for bit on expanding windows: with
    ``dx = x - mean_x``, ``c += dx * (dy / n) * (n - 1)`` on add, ``c -= dx * (dy / n) * (n + 1)``
    on remove, the same for the sums of squares). ``x`` and ``y`` must already be NaN together.
    Returns ``(nobs, c, m2x, m2y)``: the count, the co-moment and both sums of squared deviations.
    """
    shape, dtype = x.shape, x.dtype
    ring_x, pos = ring_get(x, window)
    ring_y = hk.get_state("ring_y", (window,) + shape, dtype, init=lambda s, d: jnp.full(s, jnp.nan, d))
    nobs = hk.get_state("nobs", shape, jnp.int32, init=jnp.zeros)
    names = ("mean_x", "mean_y", "c", "m2x", "m2y")
    mean_x, mean_y, c, m2x, m2y = (hk.get_state(n, shape, dtype, init=jnp.zeros) for n in names)

    # Remove the pair leaving the window; the last one leaving resets every moment to 0.
    ox, oy = ring_x[pos], ring_y[pos]
    out_obs = ox == ox
    nobs = nobs - out_obs.astype(nobs.dtype)
    n = nobs.astype(dtype)
    safe = jnp.maximum(n, 1)
    dx, dy = ox - mean_x, oy - mean_y
    dxn, dyn = dx / safe, dy / safe
    left = out_obs & (nobs > 0)
    emptied = out_obs & (nobs == 0)
    zero = jnp.zeros_like(c)

    def removed(value, update):
        return jnp.where(left, value - unfused(update), jnp.where(emptied, zero, value))

    c = removed(c, dx * dyn * (n + 1.0))
    m2x = removed(m2x, dxn * dx * (n + 1.0))
    m2y = removed(m2y, dyn * dy * (n + 1.0))
    mean_x = removed(mean_x, dxn)
    mean_y = removed(mean_y, dyn)

    # Add the new pair.
    is_obs = x == x
    nobs = nobs + is_obs.astype(nobs.dtype)
    n = nobs.astype(dtype)
    safe = jnp.maximum(n, 1)
    dx, dy = x - mean_x, y - mean_y
    dxn, dyn = dx / safe, dy / safe

    def added(value, update):
        return jnp.where(is_obs, value + unfused(update), value)

    c = added(c, dx * dyn * (n - 1.0))
    m2x = added(m2x, dx * dxn * (n - 1.0))
    m2y = added(m2y, dy * dyn * (n - 1.0))
    mean_x = added(mean_x, dxn)
    mean_y = added(mean_y, dyn)

    ring_set(ring_x, pos, x)
    hk.set_state("ring_y", ring_y.at[pos].set(y))
    hk.set_state("nobs", nobs)
    for name, value in zip(names, (mean_x, mean_y, c, m2x, m2y)):
        hk.set_state(name, value)
    return nobs, c, m2x, m2y


class RollingCov(hk.Module):
    """Covariance of the last ``window`` steps, matching ``pandas rolling(window, min_periods).cov(other, ddof)``.

    pandas 3 computes it in one pass (``roll_cov``): Welford's co-moment ``c`` of the steps where
    both ``x`` and ``y`` are present, updated as each pair enters and leaves the window (see
    :func:`comoments`), and ``c / (nobs - ddof)``. ``x`` and ``y`` are broadcast together.

    Parameters
    ----------
    window : int
        Number of steps, ``>= 1``.
    min_periods : int, optional
        Joint observations needed in the window (default ``window``, as pandas).
    ddof : int, default 1
        Delta degrees of freedom; ``nobs <= ddof`` gives NaN.
    """

    def __init__(self, window: int, min_periods: int | None = None, ddof: int = 1, name: str | None = None):
        super().__init__(name=name)
        owner = type(self).__name__
        self.window, self.min_periods = rolling_params(window, min_periods, owner)
        self.ddof = check_positive_int(owner, "ddof", ddof, minimum=0)

    def __call__(self, x, y):
        x, y = joint_observations(x, y)
        nobs, c, _, _ = comoments(x, y, self.window)
        value = c / (nobs.astype(c.dtype) - self.ddof)
        return jnp.where((nobs >= max(self.min_periods, 1)) & (nobs > self.ddof), value, jnp.nan).astype(c.dtype)
