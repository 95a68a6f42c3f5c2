"""Lagged values (``shift``) as a streaming Haiku module."""

from __future__ import annotations

from typing import Any, Callable

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from waxegg.wax.modules._util import as_floating, check_positive_int
from waxegg.wax.modules.buffer import BufferState, _check_fill


class Lag(hk.Module):
    """The input of ``periods`` steps ago, matching ``pandas.DataFrame.shift(periods, fill_value=...)``.

    The first ``periods`` outputs are ``fill_value``. With the default NaN inputs become floating,
    as pandas turns shifted integers into float64; another ``fill_value`` keeps the input's dtype
    (it must fit it), as pandas' ``shift(fill_value=0)`` keeps integers. State: a ring of the last
    ``periods`` inputs and the step count.

    Parameters
    ----------
    periods : int, default 1
        How many steps back, ``>= 1`` (a stream cannot look forward). WAX-ML's name ``lag`` is
        accepted as a keyword.
    fill_value : scalar, default NaN
        Output before ``periods`` steps have been seen (WAX-ML's and pandas' option).
    return_state : bool, default False
        WAX-ML's option: return ``(lagged, BufferState(ring, len_buffer, i_start))``, the ring of
        the last ``periods`` inputs in storage order.
    name : str, optional
        Haiku module name.
    """

    def __init__(self, periods: int | None = None, fill_value: Any = np.nan, return_state: bool = False,
                 name: str | None = None, *, lag: int | None = None):
        super().__init__(name=name)
        if periods is not None and lag is not None:
            raise TypeError(f"Lag: pass periods or lag (WAX-ML's name), not both; got {periods!r} and {lag!r}")
        which, value = ("lag", lag) if lag is not None else ("periods", 1 if periods is None else periods)
        self.periods = check_positive_int("Lag", which, value)
        self.fill_value = fill_value
        self.return_state = bool(return_state)

    def __call__(self, x):
        fill = self.fill_value
        if np.ndim(fill) == 0 and fill != fill:
            x = as_floating(x)
        else:
            x = jnp.asarray(x)
            _check_fill(fill, x.dtype, "Lag's input")
        ring = hk.get_state("ring", (self.periods,) + x.shape, x.dtype,
                            init=lambda s, d: jnp.full(s, fill, d))
        step = hk.get_state("step", [], jnp.int32, init=jnp.zeros)
        # The slot about to be overwritten holds the input of exactly `periods` steps ago.
        pos = step % self.periods
        lagged = ring[pos]
        ring = ring.at[pos].set(x)
        hk.set_state("ring", ring)
        hk.set_state("step", step + 1)
        if not self.return_state:
            return lagged
        length = jnp.minimum(step + 1, self.periods)
        return lagged, BufferState(ring, length, self.periods - length)


def tree_lag(shift: int = 1) -> Callable[..., tuple]:
    """WAX-ML's ``tree_lag``: a function lagging every leaf of its arguments by ``shift`` steps.

    Use it inside a transformed function; ``tree_lag(2)(a, b)`` returns the tuple
    ``(lagged a, lagged b)`` (one :class:`Lag` per leaf; ``None`` leaves stay ``None``).
    """
    shift = check_positive_int("tree_lag", "shift", shift)

    def apply_fn(*pytree):
        return jax.tree_util.tree_map(lambda leaf: Lag(shift)(leaf), pytree)

    return apply_fn
