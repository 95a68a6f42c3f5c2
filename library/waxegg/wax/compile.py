"""Step (2a): compile a Haiku transformed function once."""

from __future__ import annotations

import haiku as hk
import jax

from waxegg.wax._x64 import with_x64


def jit_init_apply(transformed: hk.TransformedWithState | hk.Transformed) -> hk.TransformedWithState:
    """``jax.jit`` both halves of a Haiku transform, running them with 64-bit types enabled.

    Used as a decorator on top of ``hk.transform_with_state`` (WAX-ML's idiom). The jitted
    ``apply`` is cached by JAX per input shape and dtype, so repeated calls do not recompile.
    """
    if isinstance(transformed, hk.TransformedWithState):
        return hk.TransformedWithState(init=with_x64(jax.jit(transformed.init)), apply=with_x64(jax.jit(transformed.apply)))
    if isinstance(transformed, hk.Transformed):
        return hk.Transformed(init=with_x64(jax.jit(transformed.init)), apply=with_x64(jax.jit(transformed.apply)))
    raise TypeError(f"jit_init_apply expects the result of hk.transform[_with_state], got {type(transformed).__name__}")
