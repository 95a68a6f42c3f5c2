"""Step counter as a streaming Haiku module."""

from __future__ import annotations

from typing import Any

import haiku as hk
import jax.numpy as jnp


class Counter(hk.Module):
    """Number of calls so far, this one included (1 at the first step), as a ``uint32`` scalar.

    ``uint32`` is WAX-ML's dtype (it counts to 4.29e9 steps before wrapping); pass ``dtype`` for
    another integer type.

    Parameters
    ----------
    dtype : integer dtype, default uint32
    reset_on : optional
        Passed at call time: when true, the count restarts (the output of that step is 1).
    """

    def __init__(self, dtype: Any = jnp.uint32, name: str | None = None):
        super().__init__(name=name)
        if not jnp.issubdtype(dtype, jnp.integer):
            raise TypeError(f"Counter: dtype must be an integer dtype, got {dtype!r}")
        self.dtype = dtype

    def __call__(self, reset_on=None):
        count = hk.get_state("count", [], self.dtype, init=jnp.zeros)
        if reset_on is not None:
            count = jnp.where(jnp.asarray(reset_on, bool), jnp.zeros_like(count), count)
        count = count + jnp.ones_like(count)
        hk.set_state("count", count)
        return count
