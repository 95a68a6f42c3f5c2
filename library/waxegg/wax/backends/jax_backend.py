"""The JAX backend: WAX's own path, a Haiku module unrolled with ``lax.scan``."""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

from waxegg._cache import cache_dir

from waxegg.wax._params import EWMParams, RollingParams
from waxegg.wax.backends import register_backend
from waxegg.wax.backends._base import KERNELS, Backend, Capabilities
from waxegg.wax.format import to_numpy


@functools.lru_cache(maxsize=64)
def _ewma_transform(params: EWMParams) -> hk.TransformedWithState:
    # One transform per parameter set: dynamic_unroll's jit cache is keyed on the apply function,
    # so reusing it means repeated accessor calls never recompile.
    import haiku as hk

    from waxegg.wax.modules.ewma import EWMA

    def fn(x):
        return EWMA(com=params.com, adjust=params.adjust, ignore_na=params.ignore_na,
                    min_periods=params.min_periods)(x)

    return hk.transform_with_state(fn)


#: Kernel -> (file under waxegg.wax.modules, Haiku module, takes a pair ``(x, y)``).
_MODULES = {
    "ewm_sum": ("ewmsum", "EWMSum", False),
    "ewm_var": ("ewmvar", "EWMVar", False),
    "ewm_cov": ("ewmcov", "EWMCov", True),
    "ewm_corr": ("ewmcorr", "EWMCorr", True),
    "rolling_mean": ("rolling_mean", "RollingMean", False),
    "rolling_sum": ("rolling_sum", "RollingSum", False),
    "rolling_var": ("rolling_var", "RollingVar", False),
    "rolling_min": ("rolling_min", "RollingMin", False),
    "rolling_max": ("rolling_max", "RollingMax", False),
    "rolling_median": ("rolling_median", "RollingMedian", False),
    "rolling_count": ("rolling_count", "RollingCount", False),
    "rolling_cov": ("rolling_cov", "RollingCov", True),
    "rolling_corr": ("rolling_corr", "RollingCorr", True),
}


@functools.lru_cache(maxsize=256)
def _module_transform(kernel: str, options: tuple[tuple[str, Any], ...]) -> hk.TransformedWithState:
    """The Haiku transform of ``kernel``'s module built with ``options`` (sorted keyword items).

    Cached per parameter set for the same reason as :func:`_ewma_transform`.
    """
    import importlib

    import haiku as hk

    file, cls_name, pairwise = _MODULES[kernel]
    cls = getattr(importlib.import_module(f"waxegg.wax.modules.{file}"), cls_name)
    kwargs = dict(options)

    if pairwise:
        def fn(xy):
            return cls(**kwargs)(*xy)
    else:
        def fn(x):
            return cls(**kwargs)(x)

    return hk.transform_with_state(fn)


@functools.lru_cache(maxsize=256)
def _jit_init(transformed: hk.TransformedWithState) -> Any:
    # One compiled init instead of dozens of eagerly dispatched ops (each compiled on first use).
    import jax

    return jax.jit(transformed.init)


def _ewm_options(params: EWMParams, **extra: Any) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(dict(com=params.com, adjust=params.adjust, ignore_na=params.ignore_na,
                             min_periods=params.min_periods, **extra).items()))


def _rolling_options(window: RollingParams, kernel: str, **extra: Any) -> tuple[tuple[str, Any], ...]:
    if not window.fixed:
        raise NotImplementedError(
            f"backend 'jax' has no {kernel} kernel for explicit window bounds (offset windows, center, closed, "
            "step): its capabilities declare variable_windows=False; use a trailing window of steps or another "
            "backend")
    return tuple(sorted(dict(window=int(window.window), min_periods=int(window.min_periods), **extra).items()))


def _check_values(kernel: str, values: Any) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim == 0:
        raise ValueError(f"{kernel}: values need a leading time axis, got a 0-d array")
    if values.dtype not in JaxBackend.capabilities.dtypes:
        raise TypeError(f"{kernel}: backend 'jax' computes float32 and float64, got dtype {values.dtype}; "
                        "convert first")
    return values


def _check_pair(kernel: str, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = _check_values(kernel, x), _check_values(kernel, y)
    if x.shape != y.shape:
        raise ValueError(f"{kernel}: x and other must have the same shape, got {x.shape} and {y.shape}")
    if x.dtype != y.dtype:
        raise TypeError(f"{kernel}: x and other must have the same dtype, got {x.dtype} and {y.dtype}")
    return x, y


def _unroll(transformed: hk.TransformedWithState, xs: Any, like: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
    """Run ``transformed`` over the steps of ``xs`` from ``state`` (None: a fresh start).

    Empty inputs return an all-NaN array of ``like``'s shape and the state unchanged, compiling nothing.
    """
    if like.shape[0] == 0 or like.size == 0:
        return np.full(like.shape, np.nan, like.dtype), state
    import jax

    from waxegg.wax._x64 import x64_context
    from waxegg.wax.unroll import dynamic_unroll

    if state is None:
        with x64_context():
            _, state = _jit_init(transformed)(None, jax.tree_util.tree_map(lambda a: a[0], xs))
    outputs, state = dynamic_unroll(transformed, xs, params={}, state=state)
    out = to_numpy(outputs)
    if out.dtype != like.dtype:  # pragma: no cover - the modules keep the data's dtype
        raise TypeError(f"backend 'jax' returned {out.dtype} for {like.dtype} input")
    return out, state


def enable_persistent_cache() -> None:
    """Turn on JAX's on-disk compilation cache under waxegg's cache dir, unless the user chose one.

    Compiled scans then survive the process. Set ``WAXEGG_JAX_CACHE=0`` to leave JAX's config alone.
    """
    import jax

    if os.environ.get("WAXEGG_JAX_CACHE", "1") == "0" or jax.config.jax_compilation_cache_dir:
        return
    jax.config.update("jax_compilation_cache_dir", str(cache_dir("jax")))
    # Our scans compile in well under JAX's default 1 s threshold; cache them anyway.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


@register_backend("jax")
class JaxBackend(Backend):
    """WAX's reference path: one Haiku module per statistic under :func:`~waxegg.wax.unroll.dynamic_unroll`.

    Every kernel is a streaming module of :mod:`waxegg.wax.modules` (``EWMA``, ``EWMSum``,
    ``EWMVar``, ``EWMCov``, ``EWMCorr``, ``RollingMean``, ``RollingSum``, ``RollingVar``,
    ``RollingMin``, ``RollingMax``, ``RollingMedian``, ``RollingCount``, ``RollingCov``,
    ``RollingCorr``) scanned over time with ``lax.scan``; ``state`` is that module's Haiku state
    after the last step. Transforms are cached per parameter set, so a repeated call with the same
    shape and dtype never recompiles. float32 input is computed and returned in float32, float64
    inside waxegg's x64 scope.
    """

    capabilities = Capabilities(
        kernels=frozenset(KERNELS),
        state=True,
        times=False,
        variable_windows=False,
        notes={
            "ewm_mean": "no deltas= (pandas' times=): EWMA has no time-based decay",
            "ewm_sum": "adjust=False raises NotImplementedError, as in pandas",
            "rolling": "trailing windows of steps only (no explicit start/end bounds)",
        },
    )

    def __init__(self) -> None:
        enable_persistent_cache()

    # --- exponentially weighted --------------------------------------------------------------
    def ewm_mean(self, values: np.ndarray, params: EWMParams, *, state: Any = None,
                 deltas: np.ndarray | None = None) -> tuple[np.ndarray, Any]:
        if deltas is not None:
            raise NotImplementedError("backend 'jax' has no ewm_mean kernel with deltas= (pandas' times=): "
                                      "its capabilities declare times=False")
        values = _check_values("ewm_mean", values)
        return _unroll(_ewma_transform(params), values, values, state)

    def ewm_sum(self, values: np.ndarray, params: EWMParams, *, state: Any = None) -> tuple[np.ndarray, Any]:
        if not params.adjust:
            raise NotImplementedError("sum is not implemented with adjust=False")  # pandas' message
        values = _check_values("ewm_sum", values)
        return _unroll(_module_transform("ewm_sum", _ewm_options(params)), values, values, state)

    def ewm_var(self, values: np.ndarray, params: EWMParams, *, bias: bool = False,
                state: Any = None) -> tuple[np.ndarray, Any]:
        values = _check_values("ewm_var", values)
        return _unroll(_module_transform("ewm_var", _ewm_options(params, bias=bool(bias))), values, values, state)

    def ewm_cov(self, x: np.ndarray, y: np.ndarray, params: EWMParams, *, bias: bool = False,
                state: Any = None) -> tuple[np.ndarray, Any]:
        x, y = _check_pair("ewm_cov", x, y)
        return _unroll(_module_transform("ewm_cov", _ewm_options(params, bias=bool(bias))), (x, y), x, state)

    def ewm_corr(self, x: np.ndarray, y: np.ndarray, params: EWMParams, *,
                 state: Any = None) -> tuple[np.ndarray, Any]:
        x, y = _check_pair("ewm_corr", x, y)
        return _unroll(_module_transform("ewm_corr", _ewm_options(params)), (x, y), x, state)

    # --- rolling -----------------------------------------------------------------------------
    def _rolling(self, kernel: str, values: np.ndarray, window: RollingParams, state: Any,
                 **extra: Any) -> tuple[np.ndarray, Any]:
        options = _rolling_options(window, kernel, **extra)
        values = _check_values(kernel, values)
        return _unroll(_module_transform(kernel, options), values, values, state)

    def _rolling_pair(self, kernel: str, x: np.ndarray, y: np.ndarray, window: RollingParams, state: Any,
                      **extra: Any) -> tuple[np.ndarray, Any]:
        options = _rolling_options(window, kernel, **extra)
        x, y = _check_pair(kernel, x, y)
        return _unroll(_module_transform(kernel, options), (x, y), x, state)

    def rolling_mean(self, values: np.ndarray, window: RollingParams, *, state: Any = None) -> tuple[np.ndarray, Any]:
        return self._rolling("rolling_mean", values, window, state)

    def rolling_sum(self, values: np.ndarray, window: RollingParams, *, state: Any = None) -> tuple[np.ndarray, Any]:
        return self._rolling("rolling_sum", values, window, state)

    def rolling_var(self, values: np.ndarray, window: RollingParams, *, ddof: int = 1,
                    state: Any = None) -> tuple[np.ndarray, Any]:
        return self._rolling("rolling_var", values, window, state, ddof=int(ddof))

    def rolling_min(self, values: np.ndarray, window: RollingParams, *, state: Any = None) -> tuple[np.ndarray, Any]:
        return self._rolling("rolling_min", values, window, state)

    def rolling_max(self, values: np.ndarray, window: RollingParams, *, state: Any = None) -> tuple[np.ndarray, Any]:
        return self._rolling("rolling_max", values, window, state)

    def rolling_median(self, values: np.ndarray, window: RollingParams, *,
                       state: Any = None) -> tuple[np.ndarray, Any]:
        return self._rolling("rolling_median", values, window, state)

    def rolling_count(self, values: np.ndarray, window: RollingParams, *,
                      state: Any = None) -> tuple[np.ndarray, Any]:
        return self._rolling("rolling_count", values, window, state)

    def rolling_cov(self, x: np.ndarray, y: np.ndarray, window: RollingParams, *, ddof: int = 1,
                    state: Any = None) -> tuple[np.ndarray, Any]:
        return self._rolling_pair("rolling_cov", x, y, window, state, ddof=int(ddof))

    def rolling_corr(self, x: np.ndarray, y: np.ndarray, window: RollingParams, *, ddof: int = 1,
                     state: Any = None) -> tuple[np.ndarray, Any]:
        return self._rolling_pair("rolling_corr", x, y, window, state, ddof=int(ddof))
