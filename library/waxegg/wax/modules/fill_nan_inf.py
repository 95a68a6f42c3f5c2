"""Replace NaN and infinities as a (stateless) Haiku module."""

from __future__ import annotations

from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp


class FillNanInf(hk.Module):
    """Replace NaN, ``+inf`` and ``-inf`` by ``fill_value`` in every leaf of a pytree.

    Non-floating leaves pass through unchanged.
    """

    def __init__(self, fill_value: float = 0.0, name: str | None = None):
        super().__init__(name=name)
        self.fill_value = fill_value

    def __call__(self, x: Any) -> Any:
        def fill(leaf):
            leaf = jnp.asarray(leaf)
            if not jnp.issubdtype(leaf.dtype, jnp.inexact):
                return leaf
            return jnp.where(jnp.isfinite(leaf), leaf, jnp.asarray(self.fill_value, leaf.dtype))

        return jax.tree_util.tree_map(fill, x)
