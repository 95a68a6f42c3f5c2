"""Encoders that make non-numeric data "JAX ready", and decode it back exactly.

JAX arrays hold numbers only. ``datetime64``/``timedelta64`` values become their int64 tick counts
(a view, no copy) and strings become integer codes into a sorted table of the distinct strings
(``numpy.unique``, vectorised: no per-element Python loop). Both round-trip exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np
import numpy.typing
import xarray as xr

#: WAX-ML's name for a dtype argument.
DTypeLike = numpy.typing.DTypeLike


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


class Encoder(NamedTuple):
    """WAX-ML's encoder pair: ``encode(values) -> codes`` and ``decode(codes) -> values``.

    waxegg's own :class:`DatetimeEncoder` and :class:`StringEncoder` have the same two methods, so every
    function here that takes an encoder takes any of the three.
    """

    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


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


def encode_dataset(dataset: Any, *waxml_dataset: Any) -> Any:
    """Encode every data variable of ``dataset``.

    Returns ``(arrays, encoders)``: numeric numpy arrays by variable name, and the encoders of the
    variables that needed one (to decode outputs or inputs later).

    WAX-ML's form ``encode_dataset(encoders, dataset)`` (a ``{name: encoder}`` mapping first) returns
    ``{name: values}`` with each variable that has an encoder encoded by it, the others as they are.
    """
    if waxml_dataset:
        (data,) = waxml_dataset
        return _map_encoders(dataset, data, "encode")
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


# --- WAX-ML's encoder helpers ------------------------------------------------------------------------------------


def _map_encoders(encoders: Mapping[str, Any], data: Any, method: str) -> dict[str, Any]:
    items = data.data_vars.items() if isinstance(data, xr.Dataset) else data.items()
    return {name: getattr(encoders[name], method)(var) if name in encoders else var for name, var in items}


def decode_dataset(encoders: Mapping[str, Any], dataset: Any) -> dict[str, Any]:
    """WAX-ML's ``decode_dataset``: each variable that has an encoder decoded by it, the others as they are."""
    return _map_encoders(encoders, dataset, "decode")


class DecodeDataset(NamedTuple):
    """WAX-ML's record of how a dataset was split and encoded (its fields, for code that builds one)."""

    iter_coords: dict
    embed_map: dict
    event_map: dict
    embedding_coords: dict
    event_coords: dict
    other_coords: dict
    encoders: dict
    constant_data: dict
    iter_data: dict
    embed_data: dict
    event_data: dict


def string_encoder(values: Any) -> Encoder:
    """WAX-ML's ``string_encoder``: codes into the sorted distinct strings of ``values`` (any shape; as
    scikit-learn's LabelEncoder, which WAX-ML used, but int32 codes); unknown strings raise ValueError."""
    enc = StringEncoder(np.unique(np.asarray(values).ravel()))
    return Encoder(enc.encode, enc.decode)


def datetime64_encoder(values: Any) -> Encoder:
    """WAX-ML's ``datetime64_encoder``: ``datetime64`` values <-> ``uint32`` words ``[..., (high, low)]`` of their
    nanosecond ticks (the words of :func:`encode_datetime64`, vectorised)."""
    del values  # WAX-ML's signature; the encoding does not depend on the fitted values

    def encode(value: Any) -> np.ndarray:
        ticks = np.asarray(value).astype("datetime64[ns]").view(np.int64).astype(np.uint64)
        return np.stack([(ticks >> np.uint64(32)).astype(np.uint32), (ticks & np.uint64(0xFFFFFFFF)).astype(np.uint32)],
                        axis=-1)

    def decode(code: Any) -> np.ndarray:
        words = np.asarray(code).astype(np.uint64)
        ticks = ((words[..., 0] << np.uint64(32)) | words[..., 1]).view(np.int64)
        return ticks.view("datetime64[ns]")

    return Encoder(encode, decode)


def less(t1: Any, t2: Any) -> bool:
    """WAX-ML's ``less``: ``t1 < t2`` for two ``(high, low)`` word pairs (as from :func:`encode_int64`)."""
    return (int(t1[0]), int(t1[1])) < (int(t2[0]), int(t2[1]))


def floor_jax_datekey(datekey: Any) -> Any:
    """WAX-ML's ``floor_jax_datekey``: a date's ``(high, low)`` words floored to the day (as a JAX array)."""
    import jax.numpy as jnp  # noqa: PLC0415

    day = 24 * 60 * 60 * 10**9
    date = decode_int64(np.asarray(datekey))
    return jnp.asarray(encode_int64((date // day) * day))
