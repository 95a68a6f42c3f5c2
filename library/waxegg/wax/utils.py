"""WAX-ML's ``wax.utils``: small helpers over mappings and pytrees."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

__all__ = ["dict_map", "get_unique_dtype"]


def dict_map(fun: Callable[[Any], Any], col: Mapping[Any, Any]) -> dict[Any, Any]:
    """``{key: fun(value)}`` for every item of ``col``."""
    return {key: fun(val) for key, val in col.items()}


def get_unique_dtype(current_values_: Any) -> type:
    """The numpy scalar type shared by every leaf of a pytree; ValueError naming the types when they differ."""
    import jax  # noqa: PLC0415

    types = {np.asarray(x).dtype.type for x in jax.tree_util.tree_leaves(current_values_)}
    if len(types) != 1:
        raise ValueError(f"get_unique_dtype: expected one dtype, got {sorted(t.__name__ for t in types)}")
    return types.pop()
