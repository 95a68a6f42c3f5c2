"""The JAX backend: WAX's own path, a Haiku module unrolled with ``lax.scan``."""

from __future__ import annotations

import functools

import haiku as hk
import numpy as np

from waxegg.wax._params import EWMParams
from waxegg.wax.backends import register_backend
from waxegg.wax.backends._base import Backend
from waxegg.wax.format import to_numpy


@functools.lru_cache(maxsize=64)
def _ewma_transform(params: EWMParams) -> hk.TransformedWithState:
    # One transform per parameter set: dynamic_unroll's jit cache is keyed on the apply function,
    # so reusing it means repeated accessor calls never recompile.
    from waxegg.wax.modules.ewma import EWMA

    def fn(x):
        return EWMA(com=params.com, adjust=params.adjust, ignore_na=params.ignore_na,
                    min_periods=params.min_periods)(x)

    return hk.transform_with_state(fn)


@register_backend("jax")
class JaxBackend(Backend):
    """Haiku :class:`~waxegg.wax.modules.EWMA` under :func:`~waxegg.wax.unroll.dynamic_unroll`."""

    def ewm_mean(self, values: np.ndarray, params: EWMParams) -> np.ndarray:
        from waxegg.wax.unroll import dynamic_unroll

        outputs, _ = dynamic_unroll(_ewma_transform(params), values)
        return to_numpy(outputs)
