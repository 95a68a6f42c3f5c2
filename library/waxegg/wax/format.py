"""Step (3): put raw outputs back into pandas / xarray containers.

WAX-ML's format step was its bottleneck (pandas copied and transposed every output). Here an
output of shape ``(T, N)`` becomes a DataFrame that *wraps* the array: ``numpy.asarray`` of a CPU
JAX array is a view, and ``pd.DataFrame(..., copy=False)`` keeps it as the frame's only block.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

#: WAX-ML's name for the type of ``dataset.coords`` (the coordinates the formatters take).
DatasetCoordinates = xr.core.coordinates.DatasetCoordinates


def to_numpy(x: Any) -> np.ndarray:
    """A numpy view of ``x`` (JAX CPU arrays are not copied)."""
    return np.asarray(x)


def _tree_map(fn: Callable[[Any], Any], outputs: Any) -> Any:
    # One array (the Numba path's outputs) needs no pytree machinery, so formatting it does not
    # import JAX; a pytree of outputs comes from the JAX path, where JAX is loaded already.
    if isinstance(outputs, np.ndarray) or (hasattr(outputs, "__array__") and hasattr(outputs, "shape")):
        return fn(outputs)
    import jax

    return jax.tree_util.tree_map(fn, outputs)


def _coord_index(coords: Mapping[str, Any], dim: str, size: int) -> pd.Index:
    if dim in coords:
        index = coords[dim]
        index = index.to_index() if hasattr(index, "to_index") else pd.Index(index)
        if len(index) != size:
            raise ValueError(f"coordinate {dim!r} has length {len(index)} but the output has {size} along it")
        return index
    return pd.RangeIndex(size, name=dim)


def _check_dims(name: str, values: np.ndarray, format_dims: Sequence[str]) -> None:
    if values.ndim != len(format_dims):
        raise ValueError(f"{name}: output of shape {values.shape} does not match format_dims={tuple(format_dims)}")


def _is_dims(spec: Any) -> bool:
    """Whether ``spec`` names the dims of one output (a name, or a sequence / string array of names)."""
    if isinstance(spec, str):
        return True
    if isinstance(spec, np.ndarray):
        return spec.dtype.kind in "UO" and spec.ndim <= 1
    return isinstance(spec, (tuple, list)) and all(isinstance(d, str) for d in spec)


def _as_dims(spec: Any) -> tuple:
    return (str(spec),) if isinstance(spec, str) else tuple(str(d) for d in np.asarray(spec).reshape(-1))


def _map_with_dims(fn: Callable[[Any, tuple], Any], outputs: Any, format_dims: Any) -> Any:
    """``fn(leaf, dims)`` on every leaf of ``outputs``.

    ``format_dims`` is either the dims of every leaf or, as WAX-ML's formatters take it, a pytree of
    the outputs' structure holding each leaf's dims (``{"a": ("time", "x"), "b": "time"}``).
    """
    if _is_dims(format_dims):
        dims = _as_dims(format_dims)
        return _tree_map(lambda x: fn(x, dims), outputs)
    import jax

    # The outputs' structure is a prefix of the dims tree: each leaf's dims arrive whole.
    try:
        return jax.tree_util.tree_map(lambda x, spec: fn(x, _as_dims(spec)), outputs, format_dims)
    except ValueError as error:
        raise ValueError(f"format_dims {format_dims!r} is neither dims nor a tree of dims shaped like the "
                         f"outputs: {error}") from None


def format_dataframe(coords: Mapping[str, Any] | None, outputs: Any, format_dims: Any = None,
                     index_nlevels: int = 1) -> Any:
    """Wrap ``(T, N)`` outputs as DataFrames indexed by ``coords[format_dims[0]]`` with columns
    ``coords[format_dims[1]]``. A pytree of outputs gives the same pytree of DataFrames.

    ``format_dims`` names the dims of every output, or (WAX-ML's nested form) is a pytree shaped like
    the outputs giving each output its own dims, e.g. ``{"mean": ("time", "asset"), "count": "time"}``.
    An output with one dim becomes a Series, as WAX-ML's. ``format_dims=None`` (WAX-ML's default)
    names the dimensions ``dim_0, dim_1, ...`` and so takes their coordinates from ``coords`` where it
    has them, else a RangeIndex; ``coords=None`` means no coordinates. Outputs of three or more dims
    (WAX-ML's ``index_nlevels``) become a frame whose index is the first ``index_nlevels`` dims and
    whose columns are the others (MultiIndexes where there are several).
    """
    coords = {} if coords is None else coords
    if isinstance(index_nlevels, bool) or not isinstance(index_nlevels, (int, np.integer)) or index_nlevels < 1:
        raise ValueError(f"format_dataframe: index_nlevels must be an integer >= 1, got {index_nlevels!r}")
    def one(x: Any, dims: tuple) -> Any:
        values = to_numpy(x)
        _check_dims("format_dataframe", values, dims)
        if len(dims) == 1:
            return format_series(coords, values, dims)
        if len(dims) > 2:
            if index_nlevels >= len(dims):
                raise ValueError(f"format_dataframe: index_nlevels={index_nlevels} leaves no dims of "
                                 f"{dims} for the columns")
            series = format_dataarray(coords, values, dims).to_series()
            return series.unstack(list(range(index_nlevels, len(dims))))
        index = _coord_index(coords, dims[0], values.shape[0])
        columns = _coord_index(coords, dims[1], values.shape[1])
        return pd.DataFrame(values, index=index, columns=columns, copy=False)

    if format_dims is None:
        def auto(x: Any) -> Any:
            values = to_numpy(x)
            if values.ndim == 0:
                raise ValueError("format_dataframe takes outputs of at least one dimension, got a scalar")
            return one(values, tuple(f"dim_{i}" for i in range(values.ndim)))

        return _tree_map(auto, outputs)
    return _map_with_dims(one, outputs, format_dims)


def format_series(coords: Mapping[str, Any] | None, outputs: Any, format_dims: Any, name: Any = None) -> Any:
    """Wrap ``(T,)`` outputs as Series indexed by ``coords[format_dims[0]]``.

    ``format_dims`` is one dim name (or a one-name sequence) for every output, or a pytree of them
    shaped like the outputs (WAX-ML's nested form).
    """
    coords = {} if coords is None else coords

    def one(x: Any, dims: tuple) -> pd.Series:
        if len(dims) != 1:
            raise ValueError(f"format_series needs one format_dim, got {dims}")
        values = to_numpy(x)
        _check_dims("format_series", values, dims)
        index = _coord_index(coords, dims[0], values.shape[0])
        return pd.Series(values, index=index, name=name, copy=False)

    return _map_with_dims(one, outputs, format_dims)


def format_dataarray(coords: Mapping[str, Any] | None, outputs: Any, format_dims: Any, name: Any = None) -> Any:
    """Wrap outputs as DataArrays over ``format_dims`` with the matching ``coords``.

    ``format_dims`` names the dims of every output, or is a pytree of dims shaped like the outputs
    (WAX-ML's nested form).
    """
    coords = {} if coords is None else coords

    def one(x: Any, dims: tuple) -> xr.DataArray:
        values = to_numpy(x)
        _check_dims("format_dataarray", values, dims)
        c = {d: _coord_index(coords, d, n) for d, n in zip(dims, values.shape) if d in coords}
        return xr.DataArray(values, dims=dims, coords=c, name=name)

    return _map_with_dims(one, outputs, format_dims)


def format_dataset(coords: Mapping[str, Any], outputs: Mapping[str, Any], format_dims: Mapping[str, Sequence[str]] | Sequence[str]) -> xr.Dataset:
    """Build a Dataset from ``{variable: array}`` outputs.

    ``format_dims`` is either one tuple of dims for every variable or a ``{variable: dims}`` mapping.
    """
    if not isinstance(outputs, Mapping):
        raise TypeError(f"format_dataset expects a mapping of variable -> array, got {type(outputs).__name__}")
    data_vars = {}
    for name, x in outputs.items():
        dims = format_dims[name] if isinstance(format_dims, Mapping) else format_dims
        data_vars[name] = format_dataarray(coords, x, dims, name=name)
    return xr.Dataset(data_vars)


# --------------------------------------------------------------------------------------------
# Formatting like a given container (the accessors' stream, the chunked and dask paths)
# --------------------------------------------------------------------------------------------

def like_dataarray(da: xr.DataArray, dim: str, values: Any) -> xr.DataArray:
    """``values`` (time-first: ``dim`` then ``da``'s other dims) as a DataArray laid out like ``da``."""
    dims = (dim,) + tuple(d for d in da.dims if d != dim)
    out = xr.DataArray(values, dims=dims, coords=da.coords, name=da.name, attrs=da.attrs)
    return out.transpose(*da.dims)


def _format_leaf(leaf: Any, T: int, one_d: Callable, same_shape: Callable, shape: tuple, fallback: Callable) -> Any:
    values = np.asarray(leaf)
    if values.ndim == 0 or values.shape[0] != T:
        return values
    if values.ndim == 1:
        return one_d(values)
    if values.shape == shape:
        return same_shape(values)
    return fallback(values)


def format_like_frame(df: pd.DataFrame, outputs: Any) -> Any:
    """Outputs of a stream over ``df``'s rows back into pandas: ``(T, N)`` leaves as frames like ``df``, ``(T,)`` as Series."""
    import jax

    coords = {"index": df.index, "columns": df.columns}
    return jax.tree_util.tree_map(lambda leaf: _format_leaf(
        leaf, len(df),
        one_d=lambda v: format_series(coords, v, ("index",)),
        same_shape=lambda v: format_dataframe(coords, v, ("index", "columns")),
        shape=df.shape,
        fallback=lambda v: pd.DataFrame(v.reshape(len(df), -1), index=df.index, copy=False),
    ), outputs)


def format_like_series(s: pd.Series, outputs: Any) -> Any:
    """Outputs of a stream over ``s`` back into Series indexed like ``s`` (wider leaves as frames)."""
    import jax

    coords = {"index": s.index}
    return jax.tree_util.tree_map(lambda leaf: _format_leaf(
        leaf, len(s),
        one_d=lambda v: format_series(coords, v, ("index",), name=s.name),
        same_shape=lambda v: format_series(coords, v, ("index",), name=s.name),
        shape=s.shape,
        fallback=lambda v: pd.DataFrame(v.reshape(len(s), -1), index=s.index, copy=False),
    ), outputs)


def format_like_dataarray(da: xr.DataArray, dim: str, outputs: Any) -> Any:
    """Outputs of a stream along ``da``'s ``dim`` back into DataArrays (same-shaped leaves keep ``da``'s dims)."""
    import jax

    tfirst = da.transpose(dim, ...)
    return jax.tree_util.tree_map(lambda leaf: _format_leaf(
        leaf, da.sizes[dim],
        one_d=lambda v: xr.DataArray(v, dims=(dim,), coords={dim: da[dim]} if dim in da.coords else None, name=da.name),
        same_shape=lambda v: like_dataarray(da, dim, v),
        shape=tfirst.shape,
        fallback=lambda v: xr.DataArray(v, dims=(dim,) + tuple(f"{dim}_out_{i}" for i in range(v.ndim - 1)),
                                        coords={dim: da[dim]} if dim in da.coords else None, name=da.name),
    ), outputs)


def format_like_dataset(ds: xr.Dataset, dim: str, outputs: Any) -> Any:
    """Outputs of a stream along ``ds``'s ``dim`` back into a Dataset (a ``{variable: leaf}`` dict) or DataArrays."""
    if isinstance(outputs, dict):
        return xr.Dataset({
            name: (format_like_dataarray(ds[name], dim, v) if name in ds.data_vars and dim in ds[name].dims
                   and np.shape(v) == ds[name].transpose(dim, ...).shape
                   else format_like_dataarray(xr.DataArray(np.empty((ds.sizes[dim],)), dims=(dim,),
                                                            coords={dim: ds[dim]} if dim in ds.coords else None), dim, v))
            for name, v in outputs.items()
        })
    template = xr.DataArray(np.empty((ds.sizes[dim],)), dims=(dim,), coords={dim: ds[dim]} if dim in ds.coords else None)
    return format_like_dataarray(template, dim, outputs)


def auto_format_with_shape(dataset: xr.Dataset, data: Any, output_format: str = "dataarray") -> Any:
    """WAX-ML's ``auto_format_with_shape``: ``data`` as a DataArray (``output_format="dataarray"``) or a pandas
    object (``"dataframe"``) over the dimensions of the first variable of ``dataset`` whose leading shape equals
    ``data.shape`` (with that variable's coordinates); ``data`` unchanged when no variable has that shape.
    """
    if output_format not in ("dataarray", "dataframe"):
        raise ValueError(f"Unknown format {output_format!r}: expected 'dataarray' or 'dataframe'")
    values = to_numpy(data)
    for variable in dataset.data_vars.values():
        for i in range(variable.ndim + 1):
            if tuple(variable.shape[:i]) == values.shape:
                dims = variable.dims[:i]
                if output_format == "dataarray":
                    return format_dataarray(dataset.coords, values, dims)
                if not dims:  # a scalar has no pandas container
                    return values
                if len(dims) == 1:
                    return format_series(dataset.coords, values, dims)
                return format_dataframe(dataset.coords, values, dims)
    return data


def tree_auto_format_with_shape(dataset: xr.Dataset, pytree: Any, output_format: str = "dataarray") -> Any:
    """:func:`auto_format_with_shape` on every leaf of ``pytree`` (WAX-ML's name)."""
    return _tree_map(lambda leaf: auto_format_with_shape(dataset, leaf, output_format), pytree)
