"""Open-high-low-close bars as a streaming Haiku module."""

from __future__ import annotations

from typing import NamedTuple

import haiku as hk
import jax.numpy as jnp


class OHLCData(NamedTuple):
    """Open, high, low and close of the current bar (arrays shaped like the input).

    The fields carry WAX-ML's names (``OPEN``, ``HIGH``, ``LOW``, ``CLOSE``: what its users read and
    what ``_asdict()`` gives); ``open``, ``high``, ``low``, ``close`` read the same arrays.
    """

    OPEN: jnp.ndarray
    HIGH: jnp.ndarray
    LOW: jnp.ndarray
    CLOSE: jnp.ndarray

    @property
    def open(self) -> jnp.ndarray:
        return self.OPEN

    @property
    def high(self) -> jnp.ndarray:
        return self.HIGH

    @property
    def low(self) -> jnp.ndarray:
        return self.LOW

    @property
    def close(self) -> jnp.ndarray:
        return self.CLOSE


class OHLC(hk.Module):
    """Open, high, low and close of the values seen since the last reset (WAX-ML's ``OHLC``).

    ``OHLC()(x, reset_on=event)``: when ``event`` is true the bar is cleared *before* ``x`` is
    taken in, so ``x`` is the first value of the new bar (its open). Missing values are skipped;
    a bar with no value yet is all NaN. ``reset_on`` may be a scalar or broadcast to ``x``. State:
    ``BIN_OPEN``, ``BIN_HIGH``, ``BIN_LOW``, ``BIN_CLOSE`` (WAX-ML's keys).
    """

    def __call__(self, x, *, reset_on=False):
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(jnp.result_type(float))
        nan = lambda s, d: jnp.full(s, jnp.nan, d)
        state = OHLCData(*(hk.get_state(f"BIN_{n}", x.shape, x.dtype, init=nan) for n in OHLCData._fields))
        reset = jnp.asarray(reset_on, bool)
        state = OHLCData(*(jnp.where(reset, jnp.nan, v).astype(x.dtype) for v in state))
        obs = x == x
        fresh = state.open != state.open
        bar = OHLCData(
            OPEN=jnp.where(obs & fresh, x, state.open),
            HIGH=jnp.where(obs & (fresh | (x > state.high)), x, state.high),
            LOW=jnp.where(obs & (fresh | (x < state.low)), x, state.low),
            CLOSE=jnp.where(obs, x, state.close),
        )
        for name, value in zip(OHLCData._fields, bar):
            hk.set_state(f"BIN_{name}", value)
        return bar
