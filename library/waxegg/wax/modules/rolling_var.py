"""Variance over a fixed number of steps as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from waxegg.wax.modules._util import as_floating, check_positive_int
from waxegg.wax.modules._window import missing_as_nan, ring_get, ring_set, unfused
from waxegg.wax.modules.rolling_mean import rolling_params


def _add_var(x, is_obs, nobs, mean_x, ssqdm_x, comp):
    """pandas' ``add_var``: a Kahan-compensated Welford update with ``x`` where ``is_obs``.

    Returns ``(nobs, mean_x, ssqdm_x, comp, unstable)``; ``unstable`` flags a catastrophic
    cancellation of the sum of squares (pandas' ``prev_m2 * InvCondTol > ssqdm_x``).
    """
    dtype = x.dtype
    nobs = nobs + is_obs.astype(nobs.dtype)
    prev_mean = mean_x - comp
    y = x - comp
    t = y - mean_x
    new_comp = t + mean_x - y
    new_mean = mean_x + t / jnp.maximum(nobs, 1).astype(dtype)
    new_ssqdm = ssqdm_x + unfused((x - prev_mean) * (x - new_mean))
    unstable = is_obs & (ssqdm_x * _inv_cond_tol(dtype) > new_ssqdm)
    return (nobs, jnp.where(is_obs, new_mean, mean_x), jnp.where(is_obs, new_ssqdm, ssqdm_x),
            jnp.where(is_obs, new_comp, comp), unstable)


def _remove_var(x, is_obs, nobs, mean_x, ssqdm_x, comp):
    """pandas' ``remove_var``: the inverse Welford update; the last observation leaving resets mean
    and sum of squares to 0. Returns ``(nobs, mean_x, ssqdm_x, comp, unstable)``."""
    dtype = x.dtype
    nobs = nobs - is_obs.astype(nobs.dtype)
    left = is_obs & (nobs > 0)
    prev_mean = mean_x - comp
    y = x - comp
    t = y - mean_x
    new_comp = t + mean_x - y
    new_mean = mean_x - t / jnp.maximum(nobs, 1).astype(dtype)
    new_ssqdm = ssqdm_x - unfused((x - prev_mean) * (x - new_mean))
    unstable = left & (ssqdm_x * _inv_cond_tol(dtype) > new_ssqdm)
    emptied = is_obs & (nobs == 0)
    zero = jnp.zeros_like(mean_x)
    mean_x = jnp.where(left, new_mean, jnp.where(emptied, zero, mean_x))
    ssqdm_x = jnp.where(left, new_ssqdm, jnp.where(emptied, zero, ssqdm_x))
    return nobs, mean_x, ssqdm_x, jnp.where(left, new_comp, comp), unstable


def _inv_cond_tol(dtype) -> float:
    # pandas: InvCondTol = EpsF64 * 1e3, "ill-conditioned if only 3 significant digits remain";
    # the same rule in the data's precision.
    return float(np.finfo(dtype).eps) * 1e3


class RollingVar(hk.Module):
    """Variance of the last ``window`` steps, matching ``pandas rolling(window, min_periods).var(ddof)``.

    It mirrors pandas' ``roll_var`` state machine (``pandas/_libs/window/aggregations.pyx``):
    Welford's running mean and sum of squared deviations, each update Kahan-compensated (separate
    compensations for added and removed values), the observation count; the last observation
    leaving resets mean and sum of squares to 0, and an update that cancels all but three digits
    of the sum of squares makes pandas recompute the window from scratch, which we do too (from a
    ring of the last ``window`` inputs kept in state). Missing values (NaN, +-inf) are skipped.
    With ``std=True`` the module returns pandas' ``rolling(...).std(ddof)``: the square root,
    negative values set to 0 (pandas' ``zsqrt``).

    Parameters
    ----------
    window : int
        Number of steps, ``>= 1``.
    min_periods : int, optional
        Observations needed in the window for a value (default ``window``, as pandas; at least 1).
    ddof : int, default 1
        Delta degrees of freedom: the divisor is ``nobs - ddof``; fewer observations give NaN.
    std : bool, default False
        Return the standard deviation instead.
    """

    def __init__(self, window: int, min_periods: int | None = None, ddof: int = 1, *, std: bool = False,
                 name: str | None = None):
        super().__init__(name=name)
        owner = type(self).__name__
        self.window, self.min_periods = rolling_params(window, min_periods, owner)
        self.ddof = check_positive_int(owner, "ddof", ddof, minimum=0)
        self.std = bool(std)

    def __call__(self, x):
        x, is_obs = missing_as_nan(as_floating(x))
        var = self._var(x, is_obs)
        if not self.std:
            return var
        return jnp.where(var < 0, jnp.zeros_like(var), jnp.sqrt(var))

    def _var(self, x, is_obs):
        minp = max(self.min_periods, 1)
        dtype = x.dtype
        if self.window == 1:
            # pandas recomputes a window that does not overlap the previous one: one observation,
            # whose sum of squares is exactly 0.
            return jnp.where(is_obs & (self.ddof < 1), jnp.zeros_like(x), jnp.nan).astype(dtype)

        shape = x.shape
        ring, pos = ring_get(x, self.window)
        mean_x = hk.get_state("mean_x", shape, dtype, init=jnp.zeros)
        ssqdm_x = hk.get_state("ssqdm_x", shape, dtype, init=jnp.zeros)
        comp_add = hk.get_state("compensation_add", shape, dtype, init=jnp.zeros)
        comp_remove = hk.get_state("compensation_remove", shape, dtype, init=jnp.zeros)
        nobs = hk.get_state("nobs", shape, jnp.int32, init=jnp.zeros)

        old = ring[pos]
        nobs, mean_x, ssqdm_x, comp_remove, unstable_remove = _remove_var(old, old == old, nobs, mean_x, ssqdm_x,
                                                                          comp_remove)
        nobs, mean_x, ssqdm_x, comp_add, unstable_add = _add_var(x, is_obs, nobs, mean_x, ssqdm_x, comp_add)
        ring = ring_set(ring, pos, x)
        unstable = unstable_remove | unstable_add

        def recompute(_):
            # pandas: reset, then add_var over the window in time order (oldest slot follows pos).
            def body(k, carry):
                value = ring[(pos + 1 + k) % self.window]
                return _add_var(value, value == value, *carry)[:4]

            zero = jnp.zeros_like(mean_x)
            return jax.lax.fori_loop(0, self.window, body, (jnp.zeros_like(nobs), zero, zero, zero))

        fresh = jax.lax.cond(jnp.any(unstable), recompute, lambda _: (nobs, mean_x, ssqdm_x, comp_add), None)
        nobs, mean_x, ssqdm_x, comp_add = (jnp.where(unstable, f, c) for f, c in
                                           zip(fresh, (nobs, mean_x, ssqdm_x, comp_add)))
        comp_remove = jnp.where(unstable, jnp.zeros_like(comp_remove), comp_remove)

        # calc_var
        value = ssqdm_x / (nobs.astype(dtype) - self.ddof)
        output = jnp.where((nobs >= minp) & (nobs > self.ddof), value, jnp.nan).astype(dtype)
        for name, state in dict(mean_x=mean_x, ssqdm_x=ssqdm_x, compensation_add=comp_add,
                                compensation_remove=comp_remove, nobs=nobs).items():
            hk.set_state(name, state)
        return output
