"""Forward fill as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp


class Ffill(hk.Module):
    """Replace missing values by the last present one, matching ``pandas.DataFrame.ffill()``.

    Leading missing values stay NaN. Non-floating inputs cannot be missing and pass through.
    ``periods`` is accepted for WAX-ML's signature ``Ffill(periods=1)``, which ignores it; only 1
    is meaningful.
    """

    def __init__(self, periods: int = 1, name: str | None = None):
        super().__init__(name=name)
        if periods != 1:
            raise ValueError(f"Ffill: periods must be 1 (WAX-ML accepts and ignores it), got {periods!r}")

    def __call__(self, x):
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            return x
        last = hk.get_state("last_valid", x.shape, x.dtype, init=lambda s, d: jnp.full(s, jnp.nan, d))
        out = jnp.where(jnp.isnan(x), last, x)
        hk.set_state("last_valid", out)
        return out
