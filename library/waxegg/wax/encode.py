"""Encoders that make non-numeric data "JAX ready", and decode it back exactly.

JAX arrays hold numbers only. ``datetime64``/``timedelta64`` values become their int64 tick counts
(a view, no copy) and strings become integer codes into a sorted table of the distinct strings
(``numpy.unique``, vectorised: no per-element Python loop). Both round-trip exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr


@dataclass(frozen=True)
class DatetimeEncoder:
    """int64 ticks <-> ``datetime64``/``timedelta64`` of a fixed unit (``dtype``)."""

    dtype: np.dtype

    def encode(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values)
        if values.dtype != self.dtype:
            raise TypeError(f"DatetimeEncoder for {self.dtype} got values of dtype {values.dtype}")
        return values.view(np.int64)

    def decode(self, codes: Any) -> np.ndarray:
        return np.asarray(codes).astype(np.int64, copy=False).view(self.dtype)


@dataclass(frozen=True)
class StringEncoder:
    """int32 codes <-> strings, through the sorted table ``categories`` of distinct values."""

    categories: np.ndarray

    def encode(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values)
        codes = np.searchsorted(self.categories, values)
        codes = np.clip(codes, 0, len(self.categories) - 1)
        unknown = self.categories[codes] != values
        if np.any(unknown):
            raise ValueError(f"StringEncoder got values it was not fitted on: {np.unique(values[unknown])[:5]}")
        return codes.astype(np.int32)

    def decode(self, codes: Any) -> np.ndarray:
        return self.categories[np.asarray(codes)]


Encoder = DatetimeEncoder | StringEncoder


def is_datetime_like(dtype: np.dtype) -> bool:
    return np.dtype(dtype).kind in "mM"


def is_string_like(dtype: np.dtype) -> bool:
    return np.dtype(dtype).kind in "USO" or str(dtype) in ("str", "string")


def encode_array(values: Any, name: str = "values") -> tuple[np.ndarray, Encoder | None]:
    """Encode one array; return ``(numeric_array, encoder_or_None)``.

    Numeric and boolean arrays are returned unchanged (no copy) with no encoder.

    Raises
    ------
    TypeError
        For object arrays that hold something other than strings.
    """
    values = np.asarray(values)
    kind = values.dtype.kind
    if kind in "biufc":
        return values, None
    if kind in "mM":
        enc = DatetimeEncoder(values.dtype)
        return enc.encode(values), enc
    if kind in "US" or kind == "O" or str(values.dtype) in ("str", "string"):
        if kind == "O" and values.size and not all(isinstance(v, str) for v in values.ravel()[:1000]):
            bad = next(v for v in values.ravel()[:1000] if not isinstance(v, str))
            raise TypeError(f"{name}: cannot encode object values such as {bad!r} (type {type(bad).__name__}); "
                            "only numbers, datetimes and strings are supported")
        values = values.astype(str) if kind == "O" else values
        categories, codes = np.unique(values, return_inverse=True)
        return codes.reshape(values.shape).astype(np.int32), StringEncoder(categories)
    raise TypeError(f"{name}: cannot encode dtype {values.dtype}")


def encode_dataset(dataset: xr.Dataset) -> tuple[dict[str, np.ndarray], dict[str, Encoder]]:
    """Encode every data variable of ``dataset``.

    Returns ``(arrays, encoders)``: numeric numpy arrays by variable name, and the encoders of the
    variables that needed one (to decode outputs or inputs later).
    """
    arrays: dict[str, np.ndarray] = {}
    encoders: dict[str, Encoder] = {}
    for name, var in dataset.data_vars.items():
        arrays[name], enc = encode_array(var.values, name=str(name))
        if enc is not None:
            encoders[name] = enc
    return arrays, encoders


def decode_array(codes: Any, encoder: Encoder | None) -> np.ndarray:
    """Inverse of :func:`encode_array`."""
    return np.asarray(codes) if encoder is None else encoder.decode(codes)
