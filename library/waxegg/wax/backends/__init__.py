"""Registry of compute backends for waxegg's streaming kernels.

A backend is a small class exposing the kernels it implements (``ewm_mean`` first). The accessors,
the benchmark sweep and asv all ask this registry, so adding a backend is one new file plus one
``@register_backend`` line.
"""

from __future__ import annotations

from typing import Callable

from waxegg.wax.backends._base import Backend

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


# Registration happens on import of each backend module.
from waxegg.wax.backends import jax_backend as _jax_backend  # noqa: E402,F401
from waxegg.wax.backends import numba_backend as _numba_backend  # noqa: E402,F401

__all__ = ["Backend", "DEFAULT_BACKEND", "available_backends", "get_backend", "register_backend"]
