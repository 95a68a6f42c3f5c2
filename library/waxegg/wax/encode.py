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


# --------------------------------------------------------------------------------------------
# WAX-ML's scalar encoders: a 64-bit integer (or a time stamp's nanoseconds) as two uint32 words
# --------------------------------------------------------------------------------------------

def encode_int64(seed: Any) -> np.ndarray:
    """A 64-bit integer as ``uint32[2]``: ``[high word, low word]`` (WAX-ML's ``encode_int64``).

    Raises
    ------
    TypeError
        If ``seed`` is not a scalar integer.
    """
    if np.shape(seed):
        raise TypeError(f"seed must be a scalar, got shape {np.shape(seed)}")
    if isinstance(seed, np.ndarray):
        seed = seed.item()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    value = int(np.int64(seed))  # two's complement for negative values
    return np.array([(value >> 32) & 0xFFFFFFFF, value & 0xFFFFFFFF], dtype=np.uint32)


def decode_int64(code: Any) -> int:
    """Inverse of :func:`encode_int64`."""
    high, low = (int(v) for v in np.asarray(code).astype(np.uint32)[:2])
    return int(np.array((high << 32) | low, dtype=np.uint64).view(np.int64))


def encode_timestamp(date: Any) -> np.ndarray:
    """A ``pandas.Timestamp`` as :func:`encode_int64` of its nanoseconds since the epoch."""
    import pandas as pd

    if not isinstance(date, pd.Timestamp):
        raise TypeError(f"date must be a pandas Timestamp, got {type(date).__name__}")
    return encode_int64(date.as_unit("ns").value)


def decode_timestamp(code: Any) -> Any:
    """Inverse of :func:`encode_timestamp` (a ``pandas.Timestamp``)."""
    import pandas as pd

    return pd.Timestamp(decode_int64(code), unit="ns")


def encode_datetime64(date: Any) -> np.ndarray:
    """A ``numpy.datetime64`` scalar as :func:`encode_int64` of its nanoseconds."""
    if not np.issubdtype(np.asarray(date).dtype, np.datetime64):
        raise TypeError(f"date must be a numpy datetime64, got dtype {np.asarray(date).dtype}")
    return encode_int64(np.asarray(date).astype("M8[ns]").astype(np.int64))


def decode_datetime64(code: Any) -> np.datetime64:
    """Inverse of :func:`encode_datetime64` (``datetime64[ns]``)."""
    return np.int64(decode_int64(code)).astype("M8[ns]")


def encode_datetime(date: Any) -> np.ndarray:
    """A ``datetime.datetime`` as :func:`encode_int64` of its nanoseconds."""
    import datetime

    if not isinstance(date, datetime.datetime):
        raise TypeError(f"date must be a datetime.datetime, got {type(date).__name__}")
    return encode_datetime64(np.datetime64(date))


def decode_datetime(code: Any) -> Any:
    """Inverse of :func:`encode_datetime` (a ``datetime.datetime``; sub-microsecond digits are dropped)."""
    return decode_timestamp(code).to_pydatetime(warn=False)


def floor_datetime(time: Any, freq: Any = "d") -> np.ndarray:
    """``time`` (datetime64 array or scalar) floored to the fixed frequency ``freq``, as ``datetime64[ns]``.

    Equal to ``pandas.Series.dt.floor(freq)``; WAX-ML accepted only ``"d"``, any fixed (``Tick``)
    frequency works here. Raises ValueError for calendar offsets (``"MS"``, ``"W"``), as pandas.
    """
    import pandas as pd

    values = np.asarray(time).astype("M8[ns]")
    freq = "D" if freq == "d" else freq  # WAX-ML's default; pandas 3 deprecates the lower-case alias
    floored = pd.DatetimeIndex(values.ravel()).floor(freq).asi8
    return floored.reshape(values.shape).view("M8[ns]")
