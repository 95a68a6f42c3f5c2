"""Private helpers shared by the streaming modules (argument checks, dtype handling)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp


def as_floating(x: Any) -> jnp.ndarray:
    """``x`` as a JAX array with a floating dtype (integers and booleans become the default float).

    Modules take their dtype from the data: float32 stays float32, float64 stays float64 (inside
    waxegg's x64 scope), anything else becomes the default float, as pandas turns ints into float64.
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


def check_positive_int(owner: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an ``int >= minimum``, or a ``ValueError``/``TypeError`` naming ``owner.name``."""
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
            hasattr(value, "__index__") and not isinstance(value, float)):
        raise TypeError(f"{owner}: {name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return value


def nan_like(x: jnp.ndarray) -> jnp.ndarray:
    return jnp.full(x.shape, jnp.nan, x.dtype)
