"""The WAX streaming stack on JAX + dm-haiku (encode / compute / format).

Public names follow WAX-ML so its users feel at home; see :mod:`waxegg.wax.accessors`,
:mod:`waxegg.wax.stream`, :mod:`waxegg.wax.compile`, :mod:`waxegg.wax.unroll`,
:mod:`waxegg.wax.format` and :mod:`waxegg.wax.modules`.
"""

from waxegg.wax.accessors import register_wax_accessors
from waxegg.wax.backends import available_backends, get_backend
from waxegg.wax.compile import jit_init_apply
from waxegg.wax.format import format_dataarray, format_dataframe, format_dataset, format_series
from waxegg.wax.modules import EWMA
from waxegg.wax.stream import Stream, convert_to_tensors, device_put, tree_access_data
from waxegg.wax.unroll import dynamic_unroll, static_unroll

__all__ = [
    "EWMA",
    "Stream",
    "available_backends",
    "convert_to_tensors",
    "device_put",
    "dynamic_unroll",
    "format_dataarray",
    "format_dataframe",
    "format_dataset",
    "format_series",
    "get_backend",
    "jit_init_apply",
    "register_wax_accessors",
    "static_unroll",
    "tree_access_data",
]
