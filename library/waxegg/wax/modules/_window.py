"""Private machinery shared by the rolling-window modules: the ring of the last ``window`` steps.

A trailing window of ``window`` steps is, in streaming form, a ring buffer in Haiku state: slot
``pos`` holds the value that leaves the window at this step and receives the new one. The modules
whose result depends on summation order (sum, mean, var) keep pandas' running accumulators and use
the ring only to know what leaves; min, max, median and count reduce over the ring itself, which
is exact.
"""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp


def nan_init(shape, dtype):
    return jnp.full(shape, jnp.nan, dtype)


def ring_get(x: jnp.ndarray, window: int, *, fill=nan_init) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(ring, pos)``: the last ``window`` inputs of this module (``fill`` before they exist,
    shape ``(window,) + x.shape``) and the slot the current step overwrites (the value leaving)."""
    ring = hk.get_state("ring", (window,) + x.shape, x.dtype, init=fill)
    pos = hk.get_state("pos", [], jnp.int32, init=jnp.zeros)
    return ring, pos


def ring_set(ring: jnp.ndarray, pos: jnp.ndarray, x: jnp.ndarray) -> jnp.ndarray:
    """Store ``x`` in slot ``pos``, advance the position; returns the ring holding the current window."""
    window = ring.shape[0]
    ring = ring.at[pos].set(x)
    hk.set_state("ring", ring)
    hk.set_state("pos", (pos + 1) % window)
    return ring


def missing_as_nan(x: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(x with +-inf set to NaN, observed mask)``: pandas' rolling ``_prep_values`` turns inf into NaN."""
    is_obs = jnp.isfinite(x)
    return jnp.where(is_obs, x, jnp.nan).astype(x.dtype), is_obs


def window_values(x: jnp.ndarray, window: int) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(ring, nobs)``: the current window's values (inf as NaN; NaN where missing or not yet
    seen), shape ``(window,) + x.shape``, and its observation count. Updates the ring state."""
    x, _ = missing_as_nan(x)
    ring, pos = ring_get(x, window)
    ring = ring_set(ring, pos, x)
    nobs = jnp.sum(ring == ring, axis=0, dtype=jnp.int32)
    return ring, nobs


def unfused(product: jnp.ndarray) -> jnp.ndarray:
    """``product`` rounded on its own before it is added to anything.

    XLA's CPU backend lets LLVM contract ``a * b + c`` into a fused multiply-add (it always allows
    FP-op fusion), which skips the rounding of ``a * b``: measured on jax 0.10.2, ``x * y - x * y``
    under ``jit`` is ``fma(x, y, -(x * y))``, about 1e-16 instead of 0. pandas rounds every
    product, and where a result hinges on an exact cancellation (a covariance of one observation
    is 0 * inf = NaN, not +-inf) so must we. A select on a data-dependent mask is not an ``fmul``
    to LLVM, so the product is rounded; for NaN both arms are NaN, so the value never changes.
    """
    return jnp.where(product == product, product, -product)
