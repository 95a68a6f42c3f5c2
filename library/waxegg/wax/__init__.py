"""The WAX streaming stack on JAX + dm-haiku (encode / compute / format).

Public names follow WAX-ML so its users feel at home; see :mod:`waxegg.wax.accessors`,
:mod:`waxegg.wax.stream`, :mod:`waxegg.wax.compile`, :mod:`waxegg.wax.unroll`,
:mod:`waxegg.wax.format` and :mod:`waxegg.wax.modules`.

Every name is imported on first access (PEP 562 module ``__getattr__``), so ``import waxegg.wax``
and ``register_wax_accessors()`` load neither JAX, Haiku nor optax: the Numba path starts fast, and
JAX loads when a JAX path (``EWMA``, ``dynamic_unroll``, ``convert_to_tensors``, ...) is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name -> the module that defines it.
_LAZY = {
    "EWMA": "waxegg.wax.modules",
    "Stream": "waxegg.wax.stream",
    "available_backends": "waxegg.wax.backends",
    "convert_to_tensors": "waxegg.wax.stream",
    "device_put": "waxegg.wax.stream",
    "dynamic_unroll": "waxegg.wax.unroll",
    "format_dataarray": "waxegg.wax.format",
    "format_dataframe": "waxegg.wax.format",
    "format_dataset": "waxegg.wax.format",
    "format_series": "waxegg.wax.format",
    "get_backend": "waxegg.wax.backends",
    "jit_init_apply": "waxegg.wax.compile",
    "register_wax_accessors": "waxegg.wax.accessors",
    "static_unroll": "waxegg.wax.unroll",
    "tree_access_data": "waxegg.wax.stream",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from waxegg.wax.accessors import register_wax_accessors
    from waxegg.wax.backends import available_backends, get_backend
    from waxegg.wax.compile import jit_init_apply
    from waxegg.wax.format import format_dataarray, format_dataframe, format_dataset, format_series
    from waxegg.wax.modules import EWMA
    from waxegg.wax.stream import Stream, convert_to_tensors, device_put, tree_access_data
    from waxegg.wax.unroll import dynamic_unroll, static_unroll


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
