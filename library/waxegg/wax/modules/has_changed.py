"""Change detection as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp


class HasChanged(hk.Module):
    """Whether the input differs from the previous step's input.

    The first step counts as a change. Two NaNs in the same place are *not* a change (WAX-ML
    compared with ``!=``, so a NaN input was a change at every step).

    Parameters
    ----------
    elementwise : bool, default False
        False returns one boolean scalar (any element changed); True a boolean per element.
    """

    def __init__(self, elementwise: bool = False, name: str | None = None):
        super().__init__(name=name)
        self.elementwise = elementwise

    def __call__(self, x):
        x = jnp.asarray(x)
        prev = hk.get_state("prev_value", x.shape, x.dtype, init=jnp.zeros)
        seen = hk.get_state("seen", [], jnp.bool_, init=jnp.zeros)
        differs = x != prev
        if jnp.issubdtype(x.dtype, jnp.inexact):
            differs = differs & ~(jnp.isnan(x) & jnp.isnan(prev))
        changed = differs | ~seen
        hk.set_state("prev_value", x)
        hk.set_state("seen", jnp.ones((), jnp.bool_))
        return changed if self.elementwise else jnp.any(changed)
