"""The ``.wax`` accessor on pandas and xarray objects.

``register_wax_accessors()`` attaches ``.wax`` to ``pd.DataFrame``, ``pd.Series``,
``xr.DataArray`` and ``xr.Dataset`` through the official pandas / xarray registration hooks:

- ``obj.wax.stream(**options).apply(fn)`` runs a Haiku-style stateful ``fn`` step by step over
  the time axis (one compiled ``lax.scan``) and formats the result back to ``obj``'s container;
- ``obj.wax.ewm(...).mean()`` is a drop-in for pandas' ``ewm(...).mean()``, and ``.var()``,
  ``.std()``, ``.cov()`` for pandas' ``ewm(...).var()/std()/cov()``;
- ``obj.wax.rolling(window, min_periods).mean()`` is a drop-in for ``rolling(...).mean()``.

On xarray objects every method runs along the time dimension (``local_time=``), on a Dataset
variable by variable.
"""

from __future__ import annotations

import functools
import warnings
import weakref
from typing import Any, Callable

import haiku as hk
import jax
import numpy as np
import pandas as pd
import xarray as xr

from waxegg.wax._params import EWMParams, ewm_params
from waxegg.wax.backends import get_backend
from waxegg.wax.encode import encode_array
from waxegg.wax.format import format_dataframe, format_series, to_numpy
from waxegg.wax.modules.ewmcov import EWMCov
from waxegg.wax.modules.rolling_mean import RollingMean, rolling_params
from waxegg.wax.stream import STATIC, Stream
from waxegg.wax.unroll import dynamic_unroll

_Container = pd.DataFrame | pd.Series | xr.DataArray | xr.Dataset


# --------------------------------------------------------------------------------------------
# Turning a container into time-first arrays, and arrays back into that container.
# --------------------------------------------------------------------------------------------

def _numeric_frame_values(df: pd.DataFrame, dtype: Any = None) -> np.ndarray:
    bad = [c for c, t in df.dtypes.items() if not (pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_complex_dtype(t))]
    if bad:
        raise TypeError(f"non-numeric columns {bad[:5]} (dtypes {[str(df.dtypes[c]) for c in bad[:5]]}); "
                        "select numeric columns first, or stream a Dataset to encode them")
    if dtype is not None:
        target = np.dtype(dtype)
        if target.kind != "f":
            raise TypeError(f"dtype must be a floating dtype, got {target}")
    else:
        # Float columns keep their precision (float32 stays float32); integers compute in float64 like pandas.
        target = np.result_type(*[np.dtype(t.numpy_dtype if hasattr(t, "numpy_dtype") else t) for t in df.dtypes]) \
            if len(df.columns) else np.dtype(np.float64)
        if target.kind != "f":
            target = np.dtype(np.float64)
    if all(isinstance(t, np.dtype) for t in df.dtypes):
        # A single block of the target dtype comes back as a view of the frame's data: no copy.
        # (Passing na_value would force pandas to copy.)
        return df.to_numpy(dtype=target, copy=False)
    return df.to_numpy(dtype=target, na_value=np.nan)  # nullable extension dtypes: pd.NA -> NaN


def _float_values(values: np.ndarray, name: str, dtype: Any = None) -> np.ndarray:
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{name} has non-numeric dtype {values.dtype}")
    target = np.dtype(dtype) if dtype is not None else (values.dtype if values.dtype.kind == "f" else np.dtype(np.float64))
    if target.kind != "f":
        raise TypeError(f"dtype must be a floating dtype, got {target}")
    return values.astype(target, copy=False)


def _time_dim_of(obj: xr.DataArray | xr.Dataset, local_time: str | None) -> str:
    ds = obj.to_dataset(name="__x__") if isinstance(obj, xr.DataArray) else obj
    return Stream(local_time=local_time).resolve_local_time(ds)


def _dask_backed(obj: Any) -> bool:
    # Dask-backed xarray objects stay lazy: waxegg.wax.chunked builds a dask graph of time chunks
    # chained through the module state instead of loading them (.values would compute everything).
    if not isinstance(obj, (xr.DataArray, xr.Dataset)):
        return False
    from waxegg.wax.chunked import is_dask_backed

    return is_dask_backed(obj)


def _like_dataarray(da: xr.DataArray, dim: str, values: np.ndarray) -> xr.DataArray:
    dims = (dim,) + tuple(d for d in da.dims if d != dim)
    out = xr.DataArray(values, dims=dims, coords=da.coords, name=da.name, attrs=da.attrs)
    return out.transpose(*da.dims)


# --------------------------------------------------------------------------------------------
# ewm
# --------------------------------------------------------------------------------------------

class ExponentialMovingWindow:
    """Result of ``obj.wax.ewm(...)``; call :meth:`mean`."""

    def __init__(self, obj: _Container, params: EWMParams, *, format_outputs: bool, dtype: Any,
                 backend: str | None, local_time: str | None):
        self._obj = obj
        self.params = params
        self.format_outputs = format_outputs
        self.dtype = dtype
        self.backend = get_backend(backend)
        self.local_time = local_time

    def _kernel(self, values: np.ndarray) -> np.ndarray:
        if values.shape[0] == 0 or values.size == 0:
            return np.full(values.shape, np.nan, dtype=values.dtype)
        return self.backend.ewm_mean(values, self.params)

    def mean(self) -> Any:
        """EWM mean along time, equal to pandas' ``ewm(...).mean()`` (float64 within 1e-12)."""
        obj = self._obj
        if _dask_backed(obj):  # lazy; the backend's kernel when time is one chunk, else the chained EWMA
            from waxegg.wax.backends.jax_backend import _ewma_transform
            from waxegg.wax.chunked import lazy_time_map

            return lazy_time_map(obj, _ewma_transform(self.params), dtype=self.dtype, local_time=self.local_time,
                                 format_outputs=self.format_outputs, kernel=self._kernel)
        if isinstance(obj, pd.DataFrame):
            out = self._kernel(_numeric_frame_values(obj, self.dtype))
            return pd.DataFrame(out, index=obj.index, columns=obj.columns, copy=False) if self.format_outputs else out
        if isinstance(obj, pd.Series):
            values = _float_values(obj.to_numpy(), f"Series {obj.name!r}", self.dtype)
            out = self._kernel(values.reshape(-1, 1)).reshape(-1)
            return pd.Series(out, index=obj.index, name=obj.name, copy=False) if self.format_outputs else out
        if isinstance(obj, xr.DataArray):
            return self._dataarray_mean(obj)
        if isinstance(obj, xr.Dataset):
            dim = _time_dim_of(obj, self.local_time)
            results = {}
            for name, da in obj.data_vars.items():
                if dim not in da.dims:
                    raise ValueError(f"variable {name!r} has no {dim!r} dimension to average over")
                results[name] = self._dataarray_mean(da, dim)
            return xr.Dataset(results, attrs=obj.attrs) if self.format_outputs else results
        raise TypeError(f"unsupported container {type(obj).__name__}")

    def _dataarray_mean(self, da: xr.DataArray, dim: str | None = None) -> Any:
        dim = dim or _time_dim_of(da, self.local_time)
        values = _float_values(da.transpose(dim, ...).values, f"DataArray {da.name!r}", self.dtype)
        out = self._kernel(values)
        return _like_dataarray(da, dim, out) if self.format_outputs else out


# --------------------------------------------------------------------------------------------
# ewm var / std / cov and rolling mean: Haiku modules under dynamic_unroll
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _ewmcov_transform(params: EWMParams, bias: bool) -> hk.TransformedWithState:
    # One transform per parameter set, so that repeated calls reuse dynamic_unroll's compiled scan.
    def fn(xy):
        return EWMCov(com=params.com, adjust=params.adjust, ignore_na=params.ignore_na,
                      min_periods=params.min_periods, bias=bias)(*xy)

    return hk.transform_with_state(fn)


@functools.lru_cache(maxsize=64)
def _rolling_mean_transform(window: int, min_periods: int) -> hk.TransformedWithState:
    return hk.transform_with_state(lambda x: RollingMean(window, min_periods)(x))


def _unroll_kernel(transformed: hk.TransformedWithState, xs: Any, shape: tuple, dtype: Any) -> np.ndarray:
    if not shape or shape[0] == 0 or int(np.prod(shape)) == 0:
        return np.full(shape, np.nan, dtype=dtype)
    outputs, _ = dynamic_unroll(transformed, xs)
    return to_numpy(outputs)


def _ewm_cov_kernel(x: np.ndarray, y: np.ndarray, params: EWMParams, bias: bool) -> np.ndarray:
    """pandas-exact EWM covariance of ``x`` and ``y`` (time first, broadcast together) along axis 0."""
    shape = np.broadcast_shapes(x.shape, y.shape)
    return _unroll_kernel(_ewmcov_transform(params, bias), (x, y), shape, np.result_type(x, y))


def _zsqrt(values: np.ndarray) -> np.ndarray:
    # pandas' zsqrt: the square root, with negative variances (rounding) set to 0
    with np.errstate(invalid="ignore"):
        return np.where(values < 0, 0.0, np.sqrt(values)).astype(values.dtype, copy=False)


def _map_time_kernel(obj: _Container, kernel: Callable[[np.ndarray], np.ndarray], *, dtype: Any,
                     local_time: str | None, format_outputs: bool) -> Any:
    """Apply ``kernel`` (time-first float array -> same shape) to ``obj`` along its time axis."""
    if isinstance(obj, pd.DataFrame):
        out = kernel(_numeric_frame_values(obj, dtype))
        return pd.DataFrame(out, index=obj.index, columns=obj.columns, copy=False) if format_outputs else out
    if isinstance(obj, pd.Series):
        out = kernel(_float_values(obj.to_numpy(), f"Series {obj.name!r}", dtype))
        return pd.Series(out, index=obj.index, name=obj.name, copy=False) if format_outputs else out
    if isinstance(obj, xr.DataArray):
        dim = _time_dim_of(obj, local_time)
        out = kernel(_float_values(obj.transpose(dim, ...).values, f"DataArray {obj.name!r}", dtype))
        return _like_dataarray(obj, dim, out) if format_outputs else out
    if isinstance(obj, xr.Dataset):
        dim = _time_dim_of(obj, local_time)
        results = {}
        for name, da in obj.data_vars.items():
            if dim not in da.dims:
                raise ValueError(f"variable {name!r} has no {dim!r} dimension to run along")
            results[name] = _map_time_kernel(da, kernel, dtype=dtype, local_time=dim, format_outputs=format_outputs)
        return xr.Dataset(results, attrs=obj.attrs) if format_outputs else results
    raise TypeError(f"unsupported container {type(obj).__name__}")


def _ewm_var(self: "ExponentialMovingWindow", bias: bool = False) -> Any:
    """EWM variance along time, equal to pandas' ``ewm(...).var(bias=bias)`` (float64 within 1e-12).

    Computed by the :class:`~waxegg.wax.modules.EWMVar` recursion under ``dynamic_unroll`` (on
    every backend).
    """
    _check_bias(bias)
    if _dask_backed(self._obj):
        return _lazy_ewm_cov(self, self._obj, bias)
    return _map_time_kernel(self._obj, lambda v: _ewm_cov_kernel(v, v, self.params, bias), dtype=self.dtype,
                            local_time=self.local_time, format_outputs=self.format_outputs)


def _ewm_std(self: "ExponentialMovingWindow", bias: bool = False) -> Any:
    """EWM standard deviation, equal to pandas' ``ewm(...).std(bias=bias)``: ``zsqrt(var)``."""
    _check_bias(bias)
    if _dask_backed(self._obj):
        return _lazy_ewm_cov(self, self._obj, bias, post=_zsqrt)
    return _map_time_kernel(self._obj, lambda v: _zsqrt(_ewm_cov_kernel(v, v, self.params, bias)),
                            dtype=self.dtype, local_time=self.local_time, format_outputs=self.format_outputs)


def _lazy_ewm_cov(self: "ExponentialMovingWindow", other: Any, bias: bool, post: Callable | None = None) -> Any:
    from waxegg.wax.chunked import lazy_time_map

    return lazy_time_map(self._obj, _ewmcov_transform(self.params, bias), dtype=self.dtype, local_time=self.local_time,
                         format_outputs=self.format_outputs, other=other, post=post)


def _check_bias(bias: Any) -> None:
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"bias must be a bool, got {bias!r}")


def _ewm_cov(self: "ExponentialMovingWindow", other: Any = None, pairwise: bool | None = None,
             bias: bool = False) -> Any:
    """EWM covariance, equal to pandas' ``ewm(...).cov(other, pairwise, bias)``.

    pandas' conventions: ``other=None`` on a Series is its variance; on a DataFrame it is the
    pairwise covariance, a frame indexed by ``(time, column)``; a DataFrame ``other`` pairs columns
    by name unless ``pairwise=True``; inputs are aligned on their index (outer join) first. On an
    xarray object, ``other`` is an object of the same kind and shape (matched variable by variable
    for a Dataset) and the covariance is elementwise; ``other=None`` gives the variance.
    """
    _check_bias(bias)
    obj, params, dtype = self._obj, self.params, self.dtype
    kernel = lambda x, y: _ewm_cov_kernel(x, y, params, bias)
    if _dask_backed(obj) or _dask_backed(other):
        return _lazy_ewm_cov(self, obj if other is None else other, bias)
    if isinstance(obj, (xr.DataArray, xr.Dataset)):
        return _xarray_cov(self, other, kernel)
    if not isinstance(obj, (pd.Series, pd.DataFrame)):
        raise TypeError(f"unsupported container {type(obj).__name__}")
    if other is None:
        other = obj
        pairwise = True if pairwise is None else pairwise
    if not isinstance(other, (pd.Series, pd.DataFrame)):
        raise TypeError(f"cov: other must be a Series or DataFrame, got {type(other).__name__}")
    if isinstance(obj, pd.Series) and isinstance(other, pd.Series):
        x, y = obj + 0 * other, other + 0 * obj  # pandas' _prep_binary: outer-aligned, NaN where either is
        out = kernel(_float_values(x.to_numpy(), f"Series {x.name!r}", dtype),
                     _float_values(y.to_numpy(), f"Series {y.name!r}", dtype))
        return pd.Series(out, index=x.index, name=x.name, copy=False) if self.format_outputs else out
    if isinstance(obj, pd.Series):  # Series with a DataFrame: pandas swaps them (covariance is symmetric)
        obj, other = other, obj
    if isinstance(other, pd.Series):
        x = obj.add(0 * other, axis=0)
        y = (0 * obj).add(other, axis=0)
        out = kernel(_numeric_frame_values(x, dtype), _numeric_frame_values(y, dtype))
        return pd.DataFrame(out, index=x.index, columns=x.columns, copy=False) if self.format_outputs else out
    if not pairwise:
        for name, frame in (("self", obj), ("other", other)):
            if not frame.columns.is_unique:
                raise ValueError(f"cov: the columns of {name} are not unique")
        x, y = obj + 0 * other, other + 0 * obj
        out = kernel(_numeric_frame_values(x, dtype), _numeric_frame_values(y, dtype))
        return pd.DataFrame(out, index=x.index, columns=x.columns, copy=False) if self.format_outputs else out
    index = obj.index.union(other.index) if not obj.index.equals(other.index) else obj.index
    x = _numeric_frame_values(obj.reindex(index), dtype)
    y = _numeric_frame_values(other.reindex(index), dtype)
    # pandas' layout: rows (time, other's column), columns self's: out[t, j, i] = cov(self_i, other_j)
    out = kernel(x[:, None, :], y[:, :, None])  # (T, N_other, N_self)
    if not self.format_outputs:
        return out
    T, n2, n1 = out.shape
    rows = pd.MultiIndex.from_product([index, other.columns], names=[index.name, other.columns.name])
    return pd.DataFrame(out.reshape(T * n2, n1), index=rows, columns=obj.columns, copy=False)


def _xarray_cov(self: "ExponentialMovingWindow", other: Any, kernel: Callable) -> Any:
    obj = self._obj
    if other is None:
        other = obj
    if type(other) is not type(obj):
        raise TypeError(f"cov: other must be a {type(obj).__name__} like self, got {type(other).__name__}")

    def one(da: xr.DataArray, db: xr.DataArray, name: Any, dim: str) -> Any:
        try:
            da, db = xr.align(da, db, join="exact")
        except ValueError as err:
            raise ValueError(f"cov: {name!r} and its other do not share coordinates ({err})") from None
        if da.dims != db.dims or da.shape != db.shape:
            db = db.transpose(*da.dims) if set(da.dims) == set(db.dims) else db
            if da.shape != db.shape:
                raise ValueError(f"cov: {name!r} has dims {da.dims} {da.shape} but other has {db.dims} {db.shape}")
        x = _float_values(da.transpose(dim, ...).values, f"DataArray {name!r}", self.dtype)
        y = _float_values(db.transpose(dim, ...).values, f"other {name!r}", self.dtype)
        out = kernel(x, y)
        return _like_dataarray(da, dim, out) if self.format_outputs else out

    dim = _time_dim_of(obj, self.local_time)
    if isinstance(obj, xr.DataArray):
        return one(obj, other, obj.name, dim)
    missing = [n for n in obj.data_vars if n not in other.data_vars]
    if missing:
        raise ValueError(f"cov: variables {missing} of self are missing from other")
    results = {}
    for name, da in obj.data_vars.items():
        if dim not in da.dims:
            raise ValueError(f"variable {name!r} has no {dim!r} dimension to run along")
        results[name] = one(da, other[name], name, dim)
    return xr.Dataset(results, attrs=obj.attrs) if self.format_outputs else results


ExponentialMovingWindow.var = _ewm_var
ExponentialMovingWindow.std = _ewm_std
ExponentialMovingWindow.cov = _ewm_cov


class Rolling:
    """Result of ``obj.wax.rolling(window, min_periods)``; call :meth:`mean`."""

    def __init__(self, obj: _Container, window: int, min_periods: int, *, format_outputs: bool, dtype: Any,
                 local_time: str | None):
        self._obj = obj
        self.window = window
        self.min_periods = min_periods
        self.format_outputs = format_outputs
        self.dtype = dtype
        self.local_time = local_time

    def mean(self) -> Any:
        """Moving mean along time, equal to pandas' ``rolling(window, min_periods).mean()``.

        Computed by the :class:`~waxegg.wax.modules.RollingMean` module (pandas' ``roll_mean``
        state machine) under ``dynamic_unroll``.
        """
        transformed = _rolling_mean_transform(self.window, self.min_periods)
        if _dask_backed(self._obj):
            from waxegg.wax.chunked import lazy_time_map

            return lazy_time_map(self._obj, transformed, dtype=self.dtype, local_time=self.local_time,
                                 format_outputs=self.format_outputs)
        return _map_time_kernel(self._obj, lambda v: _unroll_kernel(transformed, v, v.shape, v.dtype),
                                dtype=self.dtype, local_time=self.local_time, format_outputs=self.format_outputs)


# --------------------------------------------------------------------------------------------
# stream
# --------------------------------------------------------------------------------------------

# Haiku transforms of user functions, reused across calls so that the compiled scan is reused too.
_TRANSFORMS: "weakref.WeakKeyDictionary[Callable, hk.TransformedWithState]" = weakref.WeakKeyDictionary()


def _transform(fn: Callable, statics: dict | None) -> hk.TransformedWithState:
    if statics:
        return hk.transform_with_state(lambda x: fn({**x, **statics}))
    try:
        return _TRANSFORMS[fn]
    except (KeyError, TypeError):
        pass
    t = hk.transform_with_state(fn)
    try:
        _TRANSFORMS[fn] = t
    except TypeError:
        pass
    return t


class ObjectStream:
    """``obj.wax.stream(...)``: apply stateful functions step by step over ``obj``'s time axis."""

    def __init__(self, obj: _Container, stream: Stream):
        self._obj = obj
        self.stream = stream

    def trace_dataset(self, dataset: xr.Dataset) -> tuple[dict, dict, np.ndarray]:
        """Step (1) of the 3-step workflow on ``dataset`` (see :meth:`Stream.trace_dataset`)."""
        return self.stream.trace_dataset(dataset)

    def _inputs(self) -> tuple[Any, dict | None, Callable[[Any], Any]]:
        """``(xs, statics, formatter)`` for the container: time-first step inputs and the way back."""
        obj = self._obj
        if isinstance(obj, pd.DataFrame):
            if obj.shape[0] == 0:
                raise ValueError("cannot stream an empty DataFrame (no rows)")
            values = _numeric_frame_values(obj)
            return values, None, lambda out: _format_like_frame(obj, out)
        if isinstance(obj, pd.Series):
            if len(obj) == 0:
                raise ValueError("cannot stream an empty Series")
            values, _ = encode_array(obj.to_numpy(), name=f"Series {obj.name!r}")
            return values, None, lambda out: _format_like_series(obj, out)
        if isinstance(obj, xr.DataArray):
            dim = _time_dim_of(obj, self.stream.local_time)
            if obj.sizes[dim] == 0:
                raise ValueError(f"cannot stream an empty DataArray (dimension {dim!r} has length 0)")
            values, _ = encode_array(obj.transpose(dim, ...).values, name=f"DataArray {obj.name!r}")
            return values, None, lambda out: _format_like_dataarray(obj, dim, out)
        if isinstance(obj, xr.Dataset):
            # Secondary streams arrive synchronised (forward filled / buffered as the Stream says).
            steps, statics = self.stream.step_values(obj)
            dim = self.stream.resolve_local_time(obj)
            return steps, statics or None, lambda out: _format_like_dataset(obj, dim, out)
        raise TypeError(f"unsupported container {type(obj).__name__}")

    def apply(self, fn: Callable, *, params: Any = None, state: Any = None, rng: Any = None,
              format_outputs: bool = True, return_state: bool = False) -> Any:
        """Run ``fn`` (called inside a Haiku transform with the values of one step) over all steps.

        Parameters
        ----------
        fn : callable
            ``fn(x_t)``: ``x_t`` is the row (DataFrame), the value (Series), the slice at one time
            (DataArray) or a ``{variable: value}`` dict (Dataset). It may use Haiku modules and state.
        params, state : optional
            Continue from a previous call's ``state`` (see ``return_state``).
        rng : jax PRNG key, optional
        format_outputs : bool, default True
            Put outputs back into the input's container; False returns raw arrays.
        return_state : bool, default False
            Also return the state after the last step, to continue a later call from it.
        """
        if not callable(fn):
            raise TypeError(f"apply expects a callable, got {type(fn).__name__}")
        if _dask_backed(self._obj):  # lazy: a dask graph chaining time chunks (waxegg.wax.chunked.stream_dask)
            from waxegg.wax.chunked import stream_dask

            return stream_dask(fn, self._obj, stream=self.stream, params=params, state=state, rng=rng,
                               return_state=return_state, format_outputs=format_outputs)
        xs, statics, formatter = self._inputs()
        transformed = _transform(fn, statics)
        outputs, state = dynamic_unroll(transformed, xs, rng, params=params, state=state)
        result = formatter(outputs) if format_outputs else outputs
        return (result, state) if return_state else result


def _format_leaf(leaf: Any, T: int, one_d: Callable, same_shape: Callable, shape: tuple, fallback: Callable) -> Any:
    values = to_numpy(leaf)
    if values.ndim == 0 or values.shape[0] != T:
        return values
    if values.ndim == 1:
        return one_d(values)
    if values.shape == shape:
        return same_shape(values)
    return fallback(values)


def _format_like_frame(df: pd.DataFrame, outputs: Any) -> Any:
    coords = {"index": df.index, "columns": df.columns}
    return jax.tree_util.tree_map(lambda leaf: _format_leaf(
        leaf, len(df),
        one_d=lambda v: format_series(coords, v, ("index",)),
        same_shape=lambda v: format_dataframe(coords, v, ("index", "columns")),
        shape=df.shape,
        fallback=lambda v: pd.DataFrame(v.reshape(len(df), -1), index=df.index, copy=False),
    ), outputs)


def _format_like_series(s: pd.Series, outputs: Any) -> Any:
    coords = {"index": s.index}
    return jax.tree_util.tree_map(lambda leaf: _format_leaf(
        leaf, len(s),
        one_d=lambda v: format_series(coords, v, ("index",), name=s.name),
        same_shape=lambda v: format_series(coords, v, ("index",), name=s.name),
        shape=s.shape,
        fallback=lambda v: pd.DataFrame(v.reshape(len(s), -1), index=s.index, copy=False),
    ), outputs)


def _format_like_dataarray(da: xr.DataArray, dim: str, outputs: Any) -> Any:
    tfirst = da.transpose(dim, ...)
    return jax.tree_util.tree_map(lambda leaf: _format_leaf(
        leaf, da.sizes[dim],
        one_d=lambda v: xr.DataArray(v, dims=(dim,), coords={dim: da[dim]} if dim in da.coords else None, name=da.name),
        same_shape=lambda v: _like_dataarray(da, dim, v),
        shape=tfirst.shape,
        fallback=lambda v: xr.DataArray(v, dims=(dim,) + tuple(f"{dim}_out_{i}" for i in range(v.ndim - 1)),
                                        coords={dim: da[dim]} if dim in da.coords else None, name=da.name),
    ), outputs)


def _format_like_dataset(ds: xr.Dataset, dim: str, outputs: Any) -> Any:
    if isinstance(outputs, dict):
        return xr.Dataset({
            name: (_format_like_dataarray(ds[name], dim, v) if name in ds.data_vars and dim in ds[name].dims
                   and np.shape(v) == ds[name].transpose(dim, ...).shape
                   else _format_like_dataarray(xr.DataArray(np.empty((ds.sizes[dim],)), dims=(dim,),
                                                            coords={dim: ds[dim]} if dim in ds.coords else None), dim, v))
            for name, v in outputs.items()
        })
    template = xr.DataArray(np.empty((ds.sizes[dim],)), dims=(dim,), coords={dim: ds[dim]} if dim in ds.coords else None)
    return _format_like_dataarray(template, dim, outputs)


# --------------------------------------------------------------------------------------------
# The accessor and its registration
# --------------------------------------------------------------------------------------------

class WaxAccessor:
    """``obj.wax``: WAX streaming on pandas / xarray containers."""

    def __init__(self, obj: _Container):
        self._obj = obj

    def stream(self, *, local_time: str | None = None, freqs: dict[str, str] | None = None,
               ffills: dict[str, bool] | None = None, buffer_maxlen: dict[str, int] | None = None,
               pbar: bool = False) -> ObjectStream:
        """A stream over this object's time axis (see :class:`ObjectStream`).

        ``freqs``, ``ffills`` and ``buffer_maxlen`` synchronise the secondary time dimensions of a
        Dataset with ``local_time`` (see :mod:`waxegg.wax.stream`); ``pbar`` shows a progress bar.
        """
        return ObjectStream(self._obj, Stream(local_time=local_time, pbar=pbar, freqs=freqs or {},
                                              ffills=ffills or {}, buffer_maxlen=buffer_maxlen or {}))

    def rolling(self, window: int, min_periods: int | None = None, *, format_outputs: bool = True,
                dtype: Any = None, local_time: str | None = None) -> "Rolling":
        """Fixed window of ``window`` steps, as ``pandas.DataFrame.rolling(window, min_periods)``.

        ``window >= 1``; ``min_periods`` defaults to ``window``. Options as for :meth:`ewm`.
        """
        window, min_periods = rolling_params(window, min_periods, owner="rolling")
        return Rolling(self._obj, window, min_periods, format_outputs=format_outputs, dtype=dtype,
                       local_time=local_time)

    def ewm(
        self,
        com: float | None = None,
        span: float | None = None,
        halflife: float | None = None,
        alpha: float | None = None,
        min_periods: int | None = 0,
        adjust: bool = True,
        ignore_na: bool = False,
        *,
        format_outputs: bool = True,
        dtype: Any = None,
        backend: str | None = None,
        local_time: str | None = None,
    ) -> ExponentialMovingWindow:
        """Exponentially weighted window, as ``pandas.DataFrame.ewm`` (parameters validated as pandas does).

        Extra keyword-only options: ``format_outputs`` (False returns the raw array), ``dtype``
        (e.g. ``"float32"`` to compute in single precision; default keeps float input's dtype, else
        float64), ``backend`` (``"numba"`` default, ``"jax"``; see :mod:`waxegg.wax.backends`) and
        ``local_time`` (the time dimension of xarray objects).
        """
        if isinstance(halflife, (str, pd.Timedelta, np.timedelta64)):
            raise NotImplementedError("a time-based halflife needs `times=`, which waxegg does not support; "
                                      "pass a number of steps")
        params = ewm_params(com=com, span=span, halflife=halflife, alpha=alpha,
                            min_periods=min_periods, adjust=adjust, ignore_na=ignore_na)
        return ExponentialMovingWindow(self._obj, params, format_outputs=format_outputs, dtype=dtype,
                                       backend=backend, local_time=local_time)


_REGISTERED = False


def register_wax_accessors() -> None:
    """Register ``.wax`` on ``pd.DataFrame``, ``pd.Series``, ``xr.DataArray`` and ``xr.Dataset``.

    Idempotent: calling it again does nothing (and raises no override warning).
    """
    global _REGISTERED
    if _REGISTERED:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pd.api.extensions.register_dataframe_accessor("wax")(WaxAccessor)
        pd.api.extensions.register_series_accessor("wax")(WaxAccessor)
        xr.register_dataarray_accessor("wax")(WaxAccessor)
        xr.register_dataset_accessor("wax")(WaxAccessor)
    _REGISTERED = True
