"""The JAX backend: WAX's own path, a Haiku module unrolled with ``lax.scan``."""

from __future__ import annotations

import functools
import os

import haiku as hk
import jax
import numpy as np

from waxegg._cache import cache_dir

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


def enable_persistent_cache() -> None:
    """Turn on JAX's on-disk compilation cache under waxegg's cache dir, unless the user chose one.

    Compiled scans then survive the process. Set ``WAXEGG_JAX_CACHE=0`` to leave JAX's config alone.
    """
    if os.environ.get("WAXEGG_JAX_CACHE", "1") == "0" or jax.config.jax_compilation_cache_dir:
        return
    jax.config.update("jax_compilation_cache_dir", str(cache_dir("jax")))
    # Our scans compile in well under JAX's default 1 s threshold; cache them anyway.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


@register_backend("jax")
class JaxBackend(Backend):
    """Haiku :class:`~waxegg.wax.modules.EWMA` under :func:`~waxegg.wax.unroll.dynamic_unroll`."""

    def __init__(self) -> None:
        enable_persistent_cache()

    def ewm_mean(self, values: np.ndarray, params: EWMParams) -> np.ndarray:
        from waxegg.wax.unroll import dynamic_unroll

        outputs, _ = dynamic_unroll(_ewma_transform(params), values)
        return to_numpy(outputs)
