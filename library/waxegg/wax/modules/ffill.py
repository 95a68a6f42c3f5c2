"""Forward fill as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp


class Ffill(hk.Module):
    """Replace missing values by the last present one, matching ``pandas.DataFrame.ffill()``.

    Leading missing values stay NaN. Non-floating inputs cannot be missing and pass through.
    """

    def __call__(self, x):
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            return x
        last = hk.get_state("last_valid", x.shape, x.dtype, init=lambda s, d: jnp.full(s, jnp.nan, d))
        out = jnp.where(jnp.isnan(x), last, x)
        hk.set_state("last_valid", out)
        return out
