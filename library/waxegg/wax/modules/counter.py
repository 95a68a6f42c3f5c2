"""Step counter as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp


class Counter(hk.Module):
    """Number of calls so far, this one included (1 at the first step), as an int32 scalar.

    Parameters
    ----------
    reset_on : optional
        Passed at call time: when true, the count restarts (the output of that step is 1).
    """

    def __call__(self, reset_on=None):
        count = hk.get_state("count", [], jnp.int32, init=jnp.zeros)
        if reset_on is not None:
            count = jnp.where(jnp.asarray(reset_on, bool), jnp.zeros_like(count), count)
        count = count + 1
        hk.set_state("count", count)
        return count
