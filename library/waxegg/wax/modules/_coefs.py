"""Private argument checks shared by the online-learning modules (coefficients, orders)."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np


def is_traced(value: Any) -> bool:
    """Whether ``value`` is a JAX tracer: a value under ``jit`` / ``vmap`` / ``grad``, known only at run time."""
    import jax  # noqa: PLC0415

    return isinstance(value, jax.core.Tracer)


def as_coefficients(owner: str, name: str, value: Any) -> np.ndarray:
    """``value`` as a finite 1-D float64 array, or a ``ValueError`` naming ``owner`` and ``name``.

    Kept in NumPy (float64) on purpose: the modules cast coefficients to the data's dtype at trace
    time, so float32 data stays float32. A traced value (coefficients under ``jit`` / ``vmap``, as in
    WAX-ML's hyper-parameter scans) is returned as it is once its shape is checked: its values are
    known only at run time.
    """
    if is_traced(value):
        if value.ndim != 1:
            raise ValueError(f"{owner}: {name} must be 1-D, got shape {value.shape}")
        return value
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{owner}: {name} must be a 1-D sequence of numbers, got {value!r}") from err
    if arr.ndim != 1:
        raise ValueError(f"{owner}: {name} must be 1-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{owner}: {name} must be finite, got {arr.tolist()}")
    return arr


def as_order(owner: str, name: str, value: Any, minimum: int = 0) -> int:
    """``value`` as an ``int >= minimum`` (bools refused), or an error naming ``owner`` and ``name``."""
    if isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError as err:
        raise TypeError(f"{owner}: {name} must be an integer, got {value!r}") from err
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return value
