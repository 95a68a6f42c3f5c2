"""Scoped 64-bit mode for JAX.

JAX truncates float64 to float32 unless ``jax_enable_x64`` is set. waxegg must return float64 for
float64 input without touching the user's global JAX config, so every entry point that creates or
traces JAX arrays runs inside :func:`jax.enable_x64` (a thread-local context manager). Float32 input
stays float32 in that mode: our modules always take their dtype from the data.

JAX is imported on the first call, not when this module is imported.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def x64_context():
    """Context manager enabling 64-bit JAX types for the enclosed block only."""
    import jax

    return jax.enable_x64(True)


def with_x64(fn: F) -> F:
    """Decorate ``fn`` so that it always runs with 64-bit JAX types enabled."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with x64_context():
            return fn(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
