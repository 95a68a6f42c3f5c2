"""Registry of compute backends for waxegg's streaming kernels.

A backend is a small class exposing the kernels it implements (``ewm_mean`` first). The accessors,
the benchmark sweep and asv all ask this registry, so adding a backend is one new file plus one
``@register_backend`` line.
"""

from __future__ import annotations

from typing import Any, Callable

from waxegg.wax.backends._base import Backend, Capabilities, WindowKernel

_REGISTRY: dict[str, type[Backend]] = {}
_INSTANCES: dict[str, Backend] = {}

#: Backend used when the caller does not choose one (the fastest measured on 2 CPU cores).
DEFAULT_BACKEND = "numba"


def register_backend(name: str) -> Callable[[type[Backend]], type[Backend]]:
    """Class decorator registering a :class:`Backend` under ``name``."""

    def decorate(cls: type[Backend]) -> type[Backend]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"backend {name!r} is already registered by {_REGISTRY[name].__qualname__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def available_backends() -> list[str]:
    """Names of the registered backends."""
    return sorted(_REGISTRY)


def get_backend(name: str | None = None) -> Backend:
    """The (shared) instance of backend ``name`` (default :data:`DEFAULT_BACKEND`)."""
    name = DEFAULT_BACKEND if name is None else name
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}; available: {available_backends()}")
    if name not in _INSTANCES:
        _INSTANCES[name] = _REGISTRY[name]()
    return _INSTANCES[name]


def backends_for(kernel: str, *, state: bool = False) -> list[str]:
    """Registered backends that declare ``kernel`` (e.g. ``"rolling_median"``), and state if asked.

    The accessors, the benchmark sweep and asv ask this instead of inspecting methods.
    """
    from waxegg.wax.backends._base import KERNELS

    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; kernels are {list(KERNELS)}")
    # Capabilities are class data: asking them instantiates nothing (the JAX backend would import JAX).
    return [name for name in available_backends()
            if _REGISTRY[name].capabilities.supports(kernel) and (_REGISTRY[name].capabilities.state or not state)]


def window_kernel(name: str, *args: Any, backend: str | None = None, **options: Any) -> WindowKernel:
    """``name`` (e.g. ``"ewm_mean"``) of ``backend`` with its parameters bound, as a stateful callable.

    ``window_kernel("ewm_mean", ewm_params(alpha=0.1))(x, state=s) -> (out, state)``: what
    :func:`waxegg.wax.chunked.chunked_unroll` runs over the time chunks of a larger-than-memory array.
    """
    b = get_backend(backend)
    if not b.capabilities.supports(name):
        raise NotImplementedError(f"backend {b.name!r} has no {name} kernel (it offers {sorted(b.capabilities.kernels)})")
    return WindowKernel(name, b, args, options)


# Registration happens on import of each backend module. The JAX backend's module does not import JAX:
# JAX and Haiku load when that backend is first instantiated (get_backend("jax")).
from waxegg.wax.backends import jax_backend as _jax_backend  # noqa: E402,F401
from waxegg.wax.backends import numba_backend as _numba_backend  # noqa: E402,F401

__all__ = ["Backend", "Capabilities", "DEFAULT_BACKEND", "available_backends", "backends_for", "get_backend",
           "register_backend", "window_kernel", "WindowKernel"]
