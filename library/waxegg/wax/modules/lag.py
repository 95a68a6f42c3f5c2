"""Lagged values (``shift``) as a streaming Haiku module."""

from __future__ import annotations

import haiku as hk
import jax.numpy as jnp

from waxegg.wax.modules._util import as_floating, check_positive_int


class Lag(hk.Module):
    """The input of ``periods`` steps ago, matching ``pandas.DataFrame.shift(periods)``.

    The first ``periods`` outputs are NaN (inputs become floating, as pandas turns shifted
    integers into float64). State: a ring of the last ``periods`` inputs and the step count.

    Parameters
    ----------
    periods : int, default 1
        How many steps back, ``>= 1`` (a stream cannot look forward).
    name : str, optional
        Haiku module name.
    """

    def __init__(self, periods: int = 1, name: str | None = None):
        super().__init__(name=name)
        self.periods = check_positive_int("Lag", "periods", periods)

    def __call__(self, x):
        x = as_floating(x)
        ring = hk.get_state("ring", (self.periods,) + x.shape, x.dtype,
                            init=lambda s, d: jnp.full(s, jnp.nan, d))
        step = hk.get_state("step", [], jnp.int32, init=jnp.zeros)
        # The slot about to be overwritten holds the input of exactly `periods` steps ago.
        pos = step % self.periods
        lagged = ring[pos]
        hk.set_state("ring", ring.at[pos].set(x))
        hk.set_state("step", step + 1)
        return lagged
