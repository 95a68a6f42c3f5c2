"""One adapter between the user's container and the time-first arrays the kernels take.

:func:`adapt` turns a DataFrame, Series, DataArray or Dataset (dask-backed or not) into
:class:`TimeFirst`: one floating array per variable with time on axis 0 (``(T, ...)``; a view of
the container's data where pandas / xarray allow it), the time labels, and :meth:`TimeFirst.wrap`
to put kernel outputs back into the same kind of container. Every accessor statistic goes through
it, so conversions, dtype rules and error messages are written once.

dtype rules follow pandas' window operations: float32 and float64 keep their dtype; integers,
booleans, float16 and numeric object columns compute in float64 (pandas returns float64 for them);
anything else raises :class:`pandas.errors.DataError`, as pandas does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

import numpy as np
import pandas as pd
import xarray as xr
from pandas.errors import DataError

Container = pd.DataFrame | pd.Series | xr.DataArray | xr.Dataset

#: The key of the only variable of a DataFrame, Series or DataArray.
SINGLE = "__single__"


def float_dtype(source: np.dtype, requested: Any = None) -> np.dtype:
    """The dtype a window kernel computes in for data of dtype ``source``."""
    if requested is not None:
        target = np.dtype(requested)
        if target not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"dtype must be float32 or float64, got {target}")
        return target
    if source in (np.dtype(np.float32), np.dtype(np.float64)):
        return source
    return np.dtype(np.float64)  # ints, bools, float16, numeric objects: as pandas


def float_values(values: Any, name: str, dtype: Any = None) -> np.ndarray:
    """``values`` as a floating array (no copy when already of the target dtype); DataError if not numeric."""
    values = np.asarray(values) if not _is_dask(values) else values
    kind = values.dtype.kind
    if kind == "O":
        try:
            values = values.astype(np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{name}: cannot aggregate non-numeric object values") from None
    elif kind not in "biuf":
        raise DataError(f"{name}: cannot aggregate non-numeric dtype {values.dtype}")
    target = float_dtype(values.dtype, dtype)
    return values if values.dtype == target else values.astype(target)


def _is_dask(x: Any) -> bool:
    return type(x).__module__.startswith("dask.")


def _numeric_column(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype) \
        and not pd.api.types.is_timedelta64_dtype(dtype)


def frame_values(df: pd.DataFrame, dtype: Any = None, *, numeric_only: bool = False) -> tuple[np.ndarray, pd.Index]:
    """``(values (T, N), columns)`` of a DataFrame's columns, floating; a view of a single float block.

    ``numeric_only`` drops non-numeric columns, as pandas does; otherwise one raises DataError.
    """
    if numeric_only:
        df = df.loc[:, [_numeric_column(t) for t in df.dtypes]]
    bad = [c for c, t in df.dtypes.items() if not _numeric_column(t) and t != object]
    if bad:
        raise DataError(f"cannot aggregate non-numeric columns {bad[:5]} "
                        f"(dtypes {[str(df.dtypes[c]) for c in bad[:5]]}); select numeric columns "
                        "or pass numeric_only=True")
    if len(df.columns) == 0:
        return np.empty((len(df), 0), dtype=float_dtype(np.dtype(np.float64), dtype)), df.columns
    sources = [np.dtype(t.numpy_dtype if hasattr(t, "numpy_dtype") else t) for t in df.dtypes]
    target = float_dtype(np.result_type(*sources) if all(s.kind in "biuf" for s in sources) else np.dtype("O"),
                         dtype)
    if any(s.kind == "O" for s in sources):
        try:
            return df.to_numpy(dtype=np.float64, na_value=np.nan).astype(target, copy=False), df.columns
        except (TypeError, ValueError):
            raise DataError("cannot aggregate non-numeric object columns") from None
    if all(isinstance(t, np.dtype) for t in df.dtypes):
        # A single block of the target dtype comes back as a view of the frame's data (pandas 3
        # stores it column-major): no copy. Passing na_value would force pandas to copy.
        return df.to_numpy(dtype=target, copy=False), df.columns
    return df.to_numpy(dtype=target, na_value=np.nan), df.columns  # nullable dtypes: pd.NA -> NaN


def time_dim(obj: xr.DataArray | xr.Dataset, local_time: str | None) -> str:
    """The dimension xarray objects run along: ``local_time``, else the one datetime dimension, else the first."""
    from waxegg.wax.stream import Stream

    ds = obj.to_dataset(name="__x__") if isinstance(obj, xr.DataArray) else obj
    return Stream(local_time=local_time).resolve_local_time(ds)


def _dim_index(obj: xr.DataArray | xr.Dataset, dim: str) -> pd.Index:
    if dim in obj.coords:
        return obj.indexes[dim] if dim in obj.indexes else pd.Index(np.asarray(obj[dim]))
    return pd.RangeIndex(obj.sizes[dim], name=dim)


@dataclass
class TimeFirst:
    """A container as time-first floating arrays, and the way back.

    Attributes
    ----------
    arrays : dict
        ``{variable: (T, ...) array}``: :data:`SINGLE` for a DataFrame / Series / DataArray.
        NumPy arrays, or dask arrays for a dask-backed xarray object (:attr:`lazy`).
    index : pandas.Index
        The time labels (the frame's index, the time coordinate), length ``T``.
    """

    obj: Any
    arrays: dict[Hashable, Any]
    index: pd.Index
    wrap_one: Callable[[Hashable, Any, Any], Any]
    dim: str | None = None
    columns: pd.Index | None = None
    lazy: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def single(self) -> bool:
        return list(self.arrays) == [SINGLE]

    def wrap(self, outputs: dict[Hashable, Any], rows: slice | None = None) -> Any:
        """The container of ``outputs`` (same keys as :attr:`arrays`); ``rows`` selects time labels (``step=``)."""
        if self.single:
            return self.wrap_one(SINGLE, outputs[SINGLE], rows)
        data = {name: self.wrap_one(name, out, rows) for name, out in outputs.items()}
        return xr.Dataset(data, attrs=self.obj.attrs)


def adapt(obj: Container, *, dtype: Any = None, local_time: str | None = None, numeric_only: bool = False,
          require_dim: bool = True) -> TimeFirst:
    """The time-first view of ``obj`` (see :class:`TimeFirst`)."""
    if isinstance(obj, pd.DataFrame):
        values, columns = frame_values(obj, dtype, numeric_only=numeric_only)

        def wrap_frame(_: Hashable, out: Any, rows: slice | None) -> pd.DataFrame:
            index = obj.index if rows is None else obj.index[rows]
            return pd.DataFrame(out, index=index, columns=columns, copy=False)

        return TimeFirst(obj, {SINGLE: values}, obj.index, wrap_frame, columns=columns)
    if isinstance(obj, pd.Series):
        if numeric_only and not _numeric_column(obj.dtype):
            raise NotImplementedError("numeric_only=True is not implemented for a non-numeric Series (as pandas)")
        if not isinstance(obj.dtype, np.dtype):
            raw = obj.to_numpy(dtype=np.float64, na_value=np.nan) if _numeric_column(obj.dtype) else obj.to_numpy()
        else:
            raw = obj.to_numpy()
        values = float_values(raw, f"Series {obj.name!r}", dtype)

        def wrap_series(_: Hashable, out: Any, rows: slice | None) -> pd.Series:
            index = obj.index if rows is None else obj.index[rows]
            return pd.Series(out, index=index, name=obj.name, copy=False)

        return TimeFirst(obj, {SINGLE: values}, obj.index, wrap_series)
    if isinstance(obj, (xr.DataArray, xr.Dataset)):
        dim = time_dim(obj, local_time)
        variables = {SINGLE: obj} if isinstance(obj, xr.DataArray) else dict(obj.data_vars)
        arrays, lazy = {}, False
        for name, var in variables.items():
            label = f"DataArray {obj.name!r}" if name is SINGLE else f"variable {name!r}"
            if dim not in var.dims:
                if require_dim:
                    raise ValueError(f"{label} has no {dim!r} dimension to run along")
                continue
            data = var.transpose(dim, ...).data
            lazy = lazy or _is_dask(data)
            arrays[name] = float_values(data, label, dtype)

        def wrap_xarray(name: Hashable, out: Any, rows: slice | None) -> xr.DataArray:
            var = variables[name]
            tfirst = var.transpose(dim, ...)
            if rows is not None:
                tfirst = tfirst.isel({dim: rows})
            result = xr.DataArray(out, dims=tfirst.dims, coords=tfirst.coords, name=var.name, attrs=var.attrs)
            return result.transpose(*var.dims)

        return TimeFirst(obj, arrays, _dim_index(obj, dim), wrap_xarray, dim=dim, lazy=lazy)
    raise TypeError(f"unsupported container {type(obj).__name__}: expected a pandas DataFrame / Series or "
                    "an xarray DataArray / Dataset")


def as_2d(values: np.ndarray) -> tuple[np.ndarray, str]:
    """``(T, ...)`` as ``(T, rest)`` and the index order used (a view for contiguous inputs of either order).

    Pass the order to :func:`from_2d`: the same order maps the columns back to the trailing dims. It is
    also the input's memory order (``"F"`` for a column-major array, 2-D included), the order a second
    operand should come in so that no side needs a transposing copy.
    """
    if values.ndim == 1:
        return values.reshape(-1, 1), "C"
    order = "F" if (values.flags.f_contiguous and not values.flags.c_contiguous) else "C"
    if values.ndim == 2:
        return values, order
    return values.reshape((values.shape[0], -1), order=order), order


def from_2d(out: np.ndarray, shape: tuple[int, ...], order: str) -> np.ndarray:
    """Undo :func:`as_2d` for a ``(T', rest)`` output: ``(T',) + shape[1:]``."""
    if len(shape) == 2:
        return out
    return out.reshape((out.shape[0],) + tuple(shape[1:]), order=order)
