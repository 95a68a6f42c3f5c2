"""The ``.wax`` accessor on pandas and xarray objects.

``register_wax_accessors()`` attaches ``.wax`` to ``pd.DataFrame``, ``pd.Series``,
``xr.DataArray`` and ``xr.Dataset`` through the official pandas / xarray registration hooks:

- ``obj.wax.ewm(...)`` is a drop-in for pandas' ``ewm(...)``: ``.mean()``, ``.sum()``, ``.var()``,
  ``.std()``, ``.cov()``, ``.corr()``, with every pandas option (``times=`` included);
- ``obj.wax.rolling(window, ...)`` is a drop-in for pandas' ``rolling(...)``: ``.mean()``,
  ``.sum()``, ``.var()``, ``.std()``, ``.min()``, ``.max()``, ``.median()``, ``.count()``,
  ``.cov()``, ``.corr()``, with ``min_periods``, ``center``, ``closed``, ``step`` and offset windows;
- ``outputs, state = obj.wax.stream(**options).apply(fn)`` runs a Haiku-style stateful ``fn`` step by
  step over the time axis (one compiled ``lax.scan``) and formats the outputs back to ``obj``'s container
  (WAX-ML's default; ``stream(return_state=False)`` returns the outputs alone).

Every statistic runs on the chosen backend's kernel (``backend=``, default ``"numba"``; see
:mod:`waxegg.wax.backends`) through one container adapter (:mod:`waxegg.wax.adapters`). On xarray
objects every method runs along the time dimension (``local_time=``), on a Dataset variable by
variable; dask-backed objects stay lazy (:mod:`waxegg.wax.lazy`).

State, WAX-ML's way: ``return_state=True`` returns ``(result, state)``, and ``state=`` starts a
later call from it, so a stream cut in two equals the one-shot call bit for bit.

This module imports neither JAX nor Haiku: they load when a JAX path is first used.
"""

from __future__ import annotations

import datetime
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import numpy.typing
import pandas as pd
import xarray as xr

from waxegg.wax._params import EWMParams, RollingParams, center_of_mass, ewm_params
from waxegg.wax.adapters import SINGLE, Container, TimeFirst, adapt, as_2d, frame_values, from_2d, time_dim
from waxegg.wax.backends import Backend, get_backend
from waxegg.wax.format import format_like_dataarray, format_like_dataset, format_like_frame, format_like_series

_Container = Container

if TYPE_CHECKING:
    from waxegg.wax.stream import Stream


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _check_engine(engine: Any, engine_kwargs: Any) -> None:
    # pandas' engine= picks its own cython / numba loops; waxegg's equivalent is backend=.
    if engine not in (None, "cython") or engine_kwargs:
        raise NotImplementedError(f"engine={engine!r} / engine_kwargs are pandas' own loops; "
                                  "choose waxegg's kernels with backend= instead")


def _check_ddof(ddof: Any) -> int:
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)):
        raise TypeError(f"ddof must be an integer, got {ddof!r}")
    return int(ddof)


# --------------------------------------------------------------------------------------------
# The shared runner: container -> kernel(s) -> container, with state in and out
# --------------------------------------------------------------------------------------------

class _Window:
    """What ``ewm`` and ``rolling`` share: the container, the backend, the state options."""

    _kind = "window"

    def __init__(self, obj: Container, *, format_outputs: bool, dtype: Any, backend: str | None,
                 local_time: str | None, state: Any, return_state: bool):
        self._obj = obj
        self.format_outputs = _check_bool("format_outputs", format_outputs)
        self.dtype = dtype
        self.backend: Backend = get_backend(backend)
        self.local_time = local_time
        self.state = state
        self.return_state = _check_bool("return_state", return_state)

    def _kernel(self, name: str) -> Callable:
        if not self.backend.capabilities.supports(name):
            raise NotImplementedError(f"backend {self.backend.name!r} has no {name} kernel "
                                      f"(it offers {sorted(self.backend.capabilities.kernels)})")
        return getattr(self.backend, name)

    def _state_options(self, state: Any, return_state: bool | None) -> tuple[Any, bool]:
        state = self.state if state is None else state
        return_state = self.return_state if return_state is None else _check_bool("return_state", return_state)
        if (state is not None or return_state) and not self.backend.capabilities.state:
            raise NotImplementedError(f"backend {self.backend.name!r} cannot carry state (state= / return_state=)")
        return state, return_state

    def _finish(self, tf: TimeFirst, outputs: dict, states: dict, return_state: bool, rows: slice | None) -> Any:
        if self.format_outputs:
            result = tf.wrap(outputs, rows)
        else:
            result = outputs[SINGLE] if tf.single else outputs
        if not return_state:
            return result
        return result, (states.get(SINGLE) if tf.single else states)

    def _apply(self, name: str, call: Callable[..., tuple[np.ndarray, Any]], *, numeric_only: bool = False,
               state: Any = None, return_state: bool | None = None, out_rows: int | None = None,
               rows: slice | None = None, stateful: bool = True) -> Any:
        """Run ``call(kernel, values, state) -> (out, state)`` on every variable of the container.

        ``out_rows``: rows of each output (explicit window bounds with ``step``), default ``T``.
        """
        kernel = self._kernel(name)
        state, return_state = self._state_options(state, return_state)
        if not stateful and (state is not None or return_state):
            raise NotImplementedError(f"{self._kind}: state= / return_state= need a trailing window "
                                      "(not center=True, closed=, step= or an offset window)")
        tf = adapt(self._obj, dtype=self.dtype, local_time=self.local_time, numeric_only=_check_bool(
            "numeric_only", numeric_only))
        states_in = _states_by_variable(tf, state)
        outputs, states = {}, {}
        for key, values in tf.arrays.items():
            one = _one_array(lambda v, s: call(kernel, v, s), out_rows)
            if tf.lazy:
                if return_state or states_in.get(key) is not None:
                    raise NotImplementedError("state= / return_state= on a dask-backed object: compute it, "
                                              "or stream it with waxegg.wax.chunked")
                from waxegg.wax.lazy import chain_time_chunks

                outputs[key] = chain_time_chunks(lambda v, s: one(v, s), [values], dtype=values.dtype,
                                                 stateful=stateful and self.backend.capabilities.state)
            else:
                outputs[key], states[key] = one(values, states_in.get(key))
        return self._finish(tf, outputs, states, return_state, rows)


def _states_by_variable(tf: TimeFirst, state: Any) -> dict:
    if state is None:
        return {}
    if tf.single:
        return {SINGLE: state}
    if not isinstance(state, dict) or set(state) - set(tf.arrays):
        raise ValueError("state of a Dataset is a {variable: state} dict as returned by return_state=True")
    return state


def _one_array(call: Callable[[np.ndarray, Any], tuple[np.ndarray, Any]], out_rows: int | None):
    """``call`` on a ``(T, ...)`` array through its ``(T, rest)`` view; empty inputs without a kernel."""

    def run(values: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        values = np.asarray(values)
        rows = values.shape[0] if out_rows is None else out_rows
        if values.shape[0] == 0 or values.size == 0:
            return np.full((rows,) + values.shape[1:], np.nan, dtype=values.dtype), state
        flat, order = as_2d(values)
        out, state = call(flat, state)
        return from_2d(out, values.shape, order), state

    return run


def _run_pair(call: Callable, x: np.ndarray, y: np.ndarray, state: Any, out_rows: int | None = None):
    """``call(x2d, y2d, state)`` on two same-shaped time-first arrays."""
    if x.shape != y.shape:
        x, y = np.broadcast_arrays(x, y)
    rows = x.shape[0] if out_rows is None else out_rows
    if x.shape[0] == 0 or x.size == 0:
        return np.full((rows,) + x.shape[1:], np.nan, dtype=np.result_type(x, y)), state
    x2, order = as_2d(np.ascontiguousarray(x) if not (x.flags.c_contiguous or x.flags.f_contiguous) else x)
    y2, _ = as_2d(np.asarray(y, order="F" if order == "F" else "C"))
    if x2.shape != y2.shape:
        y2 = y2.reshape(x2.shape, order=order)
    out, state = call(x2, y2, state)
    return from_2d(out, x.shape, order), state


class _Pairwise:
    """pandas' pairing rules of ``cov`` / ``corr`` (``other``, ``pairwise``), written once for both."""

    def __init__(self, window: _Window, name: str, call: Callable, *, numeric_only: bool, state: Any,
                 return_state: bool | None, out_rows: int | None = None, rows: slice | None = None,
                 stateful: bool = True):
        self.w, self.name, self.call = window, name, call
        self.numeric_only, self.out_rows, self.rows = numeric_only, out_rows, rows
        self.kernel = window._kernel(name)
        self.state, self.return_state = window._state_options(state, return_state)
        if not stateful and (self.state is not None or self.return_state):
            raise NotImplementedError(f"{window._kind}: state= / return_state= need a trailing window")

    def pair(self, x: np.ndarray, y: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        return _run_pair(lambda a, b, s: self.call(self.kernel, a, b, s), x, y, state, self.out_rows)

    def done(self, result: Any, state: Any) -> Any:
        return (result, state) if self.return_state else result

    def run(self, other: Any, pairwise: bool | None) -> Any:
        obj = self.w._obj
        if isinstance(obj, (xr.DataArray, xr.Dataset)):
            return self._xarray(other)
        if not isinstance(obj, (pd.Series, pd.DataFrame)):
            raise TypeError(f"unsupported container {type(obj).__name__}")
        if other is None:
            other = obj
            pairwise = True if pairwise is None else pairwise
        if not isinstance(other, (pd.Series, pd.DataFrame)):
            raise TypeError(f"{self.name}: other must be a Series or DataFrame, got {type(other).__name__}")
        dtype = self.w.dtype
        if isinstance(obj, pd.Series) and isinstance(other, pd.Series):
            # pandas' _prep_binary: outer-aligned, NaN where either is. The kernels skip a step where
            # either value is missing (inf included), so aligned inputs need no masking pass.
            aligned = obj.index.equals(other.index)
            x, y = (obj, other) if aligned else (obj + 0 * other, other + 0 * obj)
            if aligned and x.name != y.name:
                x = x.rename(None)  # as pandas' arithmetic names the result of two differently named Series
            xa, ya = adapt(x, dtype=dtype), adapt(y, dtype=dtype)
            out, state = self.pair(xa.arrays[SINGLE], ya.arrays[SINGLE], self.state)
            return self.done(xa.wrap({SINGLE: out}, self.rows) if self.w.format_outputs else out, state)
        if isinstance(obj, pd.Series):  # Series with a DataFrame: pandas swaps them (symmetric)
            obj, other = other, obj
        if isinstance(other, pd.Series):
            x = obj.add(0 * other, axis=0)
            y = (0 * obj).add(other, axis=0)
            return self._frames(x, y)
        if not pairwise:
            for label, frame in (("self", obj), ("other", other)):
                if not frame.columns.is_unique:
                    raise ValueError(f"{self.name}: the columns of {label} are not unique")
            if obj.index.equals(other.index) and obj.columns.equals(other.columns):
                return self._frames(obj, other)  # aligned: the kernels mask pairs themselves
            return self._frames(obj + 0 * other, other + 0 * obj)
        symmetric = other is obj
        index = obj.index.union(other.index) if not obj.index.equals(other.index) else obj.index
        x, xcols = frame_values(obj.reindex(index), dtype, numeric_only=self.numeric_only)
        y, ycols = frame_values(other.reindex(index), dtype, numeric_only=self.numeric_only)
        # pandas' layout: rows (time, other's column), columns self's: out[t, j, i] = f(self_i, other_j);
        # with other=self, pandas computes f(self_j, self_i) for j < i (it copies the upper triangle),
        # and f(a, b) is not bit-symmetric, so do the same.
        if symmetric:
            i, j = np.meshgrid(np.arange(x.shape[1]), np.arange(x.shape[1]))
            xb, yb = x[:, np.minimum(i, j)], x[:, np.maximum(i, j)]
        else:
            xb, yb = np.broadcast_arrays(x[:, None, :], y[:, :, None])
        out, state = self.pair(np.ascontiguousarray(xb), np.ascontiguousarray(yb), self.state)
        if not self.w.format_outputs:
            return self.done(out, state)
        T, n2, n1 = out.shape
        labels = index if self.rows is None else index[self.rows]
        rows = pd.MultiIndex.from_product([labels, ycols], names=[index.name, ycols.name])
        return self.done(pd.DataFrame(out.reshape(T * n2, n1), index=rows, columns=xcols, copy=False), state)

    def _frames(self, x: pd.DataFrame, y: pd.DataFrame) -> Any:
        xa = adapt(x, dtype=self.w.dtype, numeric_only=self.numeric_only)
        ya = adapt(y, dtype=self.w.dtype, numeric_only=self.numeric_only)
        out, state = self.pair(xa.arrays[SINGLE], ya.arrays[SINGLE], self.state)
        return self.done(xa.wrap({SINGLE: out}, self.rows) if self.w.format_outputs else out, state)

    def _xarray(self, other: Any) -> Any:
        obj = self.w._obj
        other = obj if other is None else other
        short = self.name.split("_", 1)[1]
        if type(other) is not type(obj):
            raise TypeError(f"{short}: other must be a {type(obj).__name__} like self, got {type(other).__name__}")
        if isinstance(obj, xr.Dataset):
            missing = [n for n in obj.data_vars if n not in other.data_vars]
            if missing:
                raise ValueError(f"{short}: variables {missing} of self are missing from other")
        xa = adapt(obj, dtype=self.w.dtype, local_time=self.w.local_time)
        variables = {SINGLE: (obj, other)} if xa.single else {n: (obj[n], other[n]) for n in xa.arrays}
        states_in = _states_by_variable(xa, self.state)
        outputs, states = {}, {}
        for key, (da, db) in variables.items():
            label = obj.name if key is SINGLE else key
            try:
                da, db = xr.align(da, db, join="exact")
            except ValueError as err:
                raise ValueError(f"{short}: {label!r} and its other do not share coordinates ({err})") from None
            if set(db.dims) == set(da.dims):
                db = db.transpose(*da.dims)
            if db.shape != da.shape:
                raise ValueError(f"{short}: {label!r} has dims {da.dims} {da.shape} but other has {db.dims} {db.shape}")
            x = adapt(da, dtype=self.w.dtype, local_time=xa.dim).arrays[SINGLE]
            y = adapt(db, dtype=self.w.dtype, local_time=xa.dim).arrays[SINGLE]
            if xa.lazy or hasattr(y, "dask"):
                if self.return_state or states_in.get(key) is not None:
                    raise NotImplementedError("state= / return_state= on a dask-backed object: compute it, "
                                              "or stream it with waxegg.wax.chunked")
                import dask.array as dsk
                from waxegg.wax.lazy import chain_time_chunks

                xs = [v if hasattr(v, "dask") else dsk.from_array(v, chunks=-1) for v in (x, y)]
                outputs[key] = chain_time_chunks(lambda a, b, s: self.pair(a, b, s), xs,
                                                 dtype=np.result_type(x.dtype, y.dtype),
                                                 stateful=self.w.backend.capabilities.state)
            else:
                outputs[key], states[key] = self.pair(x, y, states_in.get(key))
        result = xa.wrap(outputs, self.rows) if self.w.format_outputs else (
            outputs[SINGLE] if xa.single else outputs)
        return self.done(result, states.get(SINGLE) if xa.single else states)


# --------------------------------------------------------------------------------------------
# ewm
# --------------------------------------------------------------------------------------------

def _times_deltas(times: Any, halflife: Any, n: int) -> tuple[np.ndarray, np.ndarray, float]:
    """pandas' ``_calculate_deltas``: ``(times as int64, diff(times) / halflife, halflife)`` in the times' unit."""
    times_dtype = getattr(times, "dtype", None)
    if not (pd.api.types.is_datetime64_dtype(times_dtype) or isinstance(times_dtype, pd.DatetimeTZDtype)):
        raise ValueError("times must be datetime64 dtype.")
    if len(times) != n:
        raise ValueError(f"times must be the same length as the object ({len(times)} != {n}).")
    if not isinstance(halflife, (str, datetime.timedelta, np.timedelta64)):
        raise ValueError("halflife must be a timedelta convertible object when times= is given")
    if pd.isna(times).any():
        raise ValueError("times must not contain NaT")
    index = pd.DatetimeIndex(times)
    unit = np.datetime_data(index.values.dtype)[0]
    stamps = index.values.view(np.int64)
    half = float(pd.Timedelta(halflife).as_unit(unit)._value)
    if not half > 0:
        raise ValueError(f"halflife must be a positive time span, got {halflife!r}")
    return stamps, np.diff(stamps.astype(np.float64)) / half, half


@dataclass(frozen=True)
class TimedState:
    """The state of ``ewm(times=...).mean()``: the kernel's state and the last time (int64, the times' unit)."""

    state: Any
    last_time: int


class ExponentialMovingWindow(_Window):
    """``obj.wax.ewm(...)``, as pandas' ``ExponentialMovingWindow``: call a statistic."""

    _kind = "ewm"

    def __init__(self, obj: Container, params: EWMParams, *, times: Any = None, halflife: Any = None,
                 initial_value: float = float("nan"), initial_params: EWMParams | None = None, **options: Any):
        super().__init__(obj, **options)
        self.params = params
        # WAX-ML's initial_value: one observation before the first step (see WaxAccessor.ewm).
        self.initial_value, self._initial_params = float(initial_value), initial_params
        self.times, self._stamps, self._deltas, self._halflife = times, None, None, None
        if times is not None:
            n = obj.sizes[adapt(obj, local_time=self.local_time, require_dim=False).dim] \
                if isinstance(obj, (xr.DataArray, xr.Dataset)) else len(obj)
            self._stamps, self._deltas, self._halflife = _times_deltas(times, halflife, n)

    def _no_times(self, what: str) -> None:
        if self.times is not None:
            raise NotImplementedError(f"{what} is not implemented with times (as pandas)")
        self._no_initial_value(what)

    def mean(self, numeric_only: bool = False, engine: Any = None, engine_kwargs: Any = None, *,
             state: Any = None, return_state: bool | None = None) -> Any:
        """EWM mean, equal to pandas' ``ewm(...).mean()`` (float64 within 1e-12), ``times=`` included."""
        _check_engine(engine, engine_kwargs)
        params = self.params
        if self.times is None and self.initial_value == self.initial_value:
            return self._apply("ewm_mean", self._mean_from_initial_value, numeric_only=numeric_only,
                               state=state, return_state=return_state)
        if self.times is None:
            return self._apply("ewm_mean", lambda k, v, s: k(v, params, state=s), numeric_only=numeric_only,
                               state=state, return_state=return_state)
        if not self.backend.capabilities.times:
            raise NotImplementedError(f"backend {self.backend.name!r} has no ewm mean with times=")
        stamps, deltas, half = self._stamps, self._deltas, self._halflife

        def call(kernel: Callable, v: np.ndarray, s: Any) -> tuple[np.ndarray, Any]:
            if s is None:
                out, inner = kernel(v, params, deltas=deltas)
            else:
                if not isinstance(s, TimedState):
                    raise TypeError("state= of an ewm with times= is the TimedState a previous call returned")
                if len(stamps) and stamps[0] < s.last_time:
                    raise ValueError("times must continue after the state's last time")
                gap = (stamps[:1].astype(np.float64) - float(s.last_time)) / half
                out, inner = kernel(v, params, state=s.state, deltas=np.concatenate([gap, deltas]))
            last = int(stamps[-1]) if len(stamps) else (s.last_time if s is not None else 0)
            return out, TimedState(inner, last)

        return self._apply("ewm_mean", call, numeric_only=numeric_only, state=state, return_state=return_state)

    def _mean_from_initial_value(self, kernel: Callable, v: np.ndarray, s: Any) -> tuple[np.ndarray, Any]:
        """The kernel on ``[initial_value, *v]`` without its first row (a state given: on ``v``, from it)."""
        if s is not None:
            return kernel(v, self._initial_params, state=s)
        ahead = np.concatenate([np.full((1,) + v.shape[1:], self.initial_value, dtype=v.dtype), v])
        if v.ndim == 2 and v.flags.f_contiguous and not v.flags.c_contiguous:
            ahead = np.asfortranarray(ahead)  # keep the caller's memory order (the kernels' fast path)
        out, state = kernel(ahead, self._initial_params, state=None)
        return out[1:], state

    def _no_initial_value(self, what: str) -> None:
        if self.initial_value == self.initial_value:
            raise NotImplementedError(f"initial_value= applies to mean() only (as WAX-ML), not to {what}()")

    def sum(self, numeric_only: bool = False, engine: Any = None, engine_kwargs: Any = None, *,
            state: Any = None, return_state: bool | None = None) -> Any:
        """EWM sum, equal to pandas' ``ewm(...).sum()``."""
        _check_engine(engine, engine_kwargs)
        self._no_times("sum")
        return self._apply("ewm_sum", lambda k, v, s: k(v, self.params, state=s), numeric_only=numeric_only,
                           state=state, return_state=return_state)

    def var(self, bias: bool = False, numeric_only: bool = False, *, state: Any = None,
            return_state: bool | None = None) -> Any:
        """EWM variance, equal to pandas' ``ewm(...).var(bias=bias)``."""
        bias = _check_bool("bias", bias)
        self._no_times("var")
        return self._apply("ewm_var", lambda k, v, s: k(v, self.params, bias=bias, state=s),
                           numeric_only=numeric_only, state=state, return_state=return_state)

    def std(self, bias: bool = False, numeric_only: bool = False, *, state: Any = None,
            return_state: bool | None = None) -> Any:
        """EWM standard deviation, equal to pandas' ``ewm(...).std(bias=bias)``."""
        bias = _check_bool("bias", bias)
        self._no_times("std")
        return self._apply("ewm_std", lambda k, v, s: k(v, self.params, bias=bias, state=s),
                           numeric_only=numeric_only, state=state, return_state=return_state)

    def cov(self, other: Any = None, pairwise: bool | None = None, bias: bool = False, numeric_only: bool = False,
            *, state: Any = None, return_state: bool | None = None) -> Any:
        """EWM covariance, equal to pandas' ``ewm(...).cov(other, pairwise, bias)``.

        pandas' conventions: ``other=None`` on a Series is its variance; on a DataFrame it is the
        pairwise covariance, a frame indexed by ``(time, column)``; a DataFrame ``other`` pairs columns
        by name unless ``pairwise=True``; inputs are aligned on their index (outer join) first. On an
        xarray object, ``other`` is an object of the same kind and shape (matched variable by variable
        for a Dataset) and the covariance is elementwise; ``other=None`` gives the variance.
        """
        bias = _check_bool("bias", bias)
        self._no_times("cov")
        call = lambda k, x, y, s: k(x, y, self.params, bias=bias, state=s)
        return _Pairwise(self, "ewm_cov", call, numeric_only=numeric_only, state=state,
                         return_state=return_state).run(other, pairwise)

    def corr(self, other: Any = None, pairwise: bool | None = None, numeric_only: bool = False, *,
             state: Any = None, return_state: bool | None = None) -> Any:
        """EWM correlation, equal to pandas' ``ewm(...).corr(other, pairwise)`` (conventions as :meth:`cov`)."""
        self._no_times("corr")
        call = lambda k, x, y, s: k(x, y, self.params, state=s)
        return _Pairwise(self, "ewm_corr", call, numeric_only=numeric_only, state=state,
                         return_state=return_state).run(other, pairwise)


# --------------------------------------------------------------------------------------------
# rolling
# --------------------------------------------------------------------------------------------

def _time_index_of(obj: Container, local_time: str | None) -> pd.Index:
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        return obj.index
    return adapt(obj, local_time=local_time, require_dim=False).index


def rolling_window(index: pd.Index, window: Any, min_periods: Any = None, center: bool = False,
                   closed: str | None = None, step: int | None = None) -> RollingParams:
    """pandas' window over ``index`` as :class:`RollingParams` (pandas validates, with its exception types).

    A trailing window of whole steps stays a window length (kernels can carry state); centred,
    ``closed=``, ``step=`` and offset windows become pandas' own window bounds.
    """
    if isinstance(window, (bool, np.bool_)):
        raise ValueError(f"window must be an integer 0 or greater, got {window!r}")
    if isinstance(window, (int, np.integer)) and window < 0:
        raise ValueError(f"window must be an integer 0 or greater, got {window}")
    if min_periods is not None:
        if isinstance(min_periods, (bool, np.bool_)) or not isinstance(min_periods, (int, np.integer)):
            raise ValueError(f"min_periods must be an integer, got {min_periods!r}")
        if min_periods < 0:
            raise ValueError(f"min_periods must be >= 0, got {min_periods}")
        if isinstance(window, (int, np.integer)) and min_periods > window:
            raise ValueError(f"min_periods {min_periods} must be <= window {window}")
    # pandas validates everything else (closed, step, center, offsets on a monotonic datetime index)
    probe = pd.Series(np.zeros(len(index), dtype=np.int8), index=index).rolling(
        window, min_periods=min_periods, center=center, closed=closed, step=step)
    minp = probe.min_periods
    if isinstance(window, (int, np.integer)):
        window = int(window)
        minp = window if minp is None else int(minp)
        if not center and closed in (None, "right") and step in (None, 1) and window > 0:
            return RollingParams(window=window, min_periods=minp)
    minp = 1 if minp is None else int(minp)
    indexer = probe._get_window_indexer()
    start, end = indexer.get_window_bounds(num_values=len(index), min_periods=minp, center=probe.center,
                                           closed=probe.closed, step=probe.step)
    start, end = np.asarray(start, dtype=np.int64), np.asarray(end, dtype=np.int64)
    width = int((end - start).max()) if len(start) else 0
    return RollingParams(window=width, min_periods=minp, start=start, end=end)


class Rolling(_Window):
    """``obj.wax.rolling(window, ...)``, as pandas' ``Rolling``: call a statistic."""

    _kind = "rolling"

    def __init__(self, obj: Container, window: RollingParams, *, step: int | None = None, **options: Any):
        super().__init__(obj, **options)
        self.window = window
        self.step = step
        self._rows = slice(None, None, step) if step not in (None, 1) else None

    @property
    def min_periods(self) -> int:
        return self.window.min_periods

    def _stat(self, name: str, numeric_only: bool, state: Any, return_state: bool | None, **kw: Any) -> Any:
        window = self.window
        out_rows = None if window.fixed else len(window.start)
        return self._apply(f"rolling_{name}", lambda k, v, s: k(v, window, state=s, **kw),
                           numeric_only=numeric_only, state=state, return_state=return_state,
                           out_rows=out_rows, rows=self._rows, stateful=window.fixed)

    def _pair(self, name: str, other: Any, pairwise: bool | None, ddof: int, numeric_only: bool, state: Any,
              return_state: bool | None) -> Any:
        if self._rows is not None:
            raise NotImplementedError(f"step not implemented for {name} (as pandas)")
        window = self.window
        call = lambda k, x, y, s: k(x, y, window, ddof=ddof, state=s)
        return _Pairwise(self, f"rolling_{name}", call, numeric_only=numeric_only, state=state,
                         return_state=return_state, out_rows=None if window.fixed else len(window.start),
                         rows=self._rows, stateful=window.fixed).run(other, pairwise)

    def mean(self, numeric_only: bool = False, engine: Any = None, engine_kwargs: Any = None, *,
             state: Any = None, return_state: bool | None = None) -> Any:
        """Moving mean, equal to pandas' ``rolling(...).mean()``."""
        _check_engine(engine, engine_kwargs)
        return self._stat("mean", numeric_only, state, return_state)

    def sum(self, numeric_only: bool = False, engine: Any = None, engine_kwargs: Any = None, *,
            state: Any = None, return_state: bool | None = None) -> Any:
        """Moving sum, equal to pandas' ``rolling(...).sum()``."""
        _check_engine(engine, engine_kwargs)
        return self._stat("sum", numeric_only, state, return_state)

    def var(self, ddof: int = 1, numeric_only: bool = False, engine: Any = None, engine_kwargs: Any = None, *,
            state: Any = None, return_state: bool | None = None) -> Any:
        """Moving variance, equal to pandas' ``rolling(...).var(ddof)``."""
        _check_engine(engine, engine_kwargs)
        return self._stat("var", numeric_only, state, return_state, ddof=_check_ddof(ddof))

    def std(self, ddof: int = 1, numeric_only: bool = False, engine: Any = None, engine_kwargs: Any = None, *,
            state: Any = None, return_state: bool | None = None) -> Any:
        """Moving standard deviation, equal to pandas' ``rolling(...).std(ddof)``."""
        _check_engine(engine, engine_kwargs)
        return self._stat("std", numeric_only, state, return_state, ddof=_check_ddof(ddof))

    def min(self, numeric_only: bool = False, engine: Any = None, engine_kwargs: Any = None, *,
            state: Any = None, return_state: bool | None = None) -> Any:
        """Moving minimum, equal to pandas' ``rolling(...).min()``."""
        _check_engine(engine, engine_kwargs)
        return self._stat("min", numeric_only, state, return_state)

    def max(self, numeric_only: bool = False, engine: Any = None, engine_kwargs: Any = None, *,
            state: Any = None, return_state: bool | None = None) -> Any:
        """Moving maximum, equal to pandas' ``rolling(...).max()``."""
        _check_engine(engine, engine_kwargs)
        return self._stat("max", numeric_only, state, return_state)

    def median(self, numeric_only: bool = False, engine: Any = None, engine_kwargs: Any = None, *,
               state: Any = None, return_state: bool | None = None) -> Any:
        """Moving median, equal to pandas' ``rolling(...).median()``."""
        _check_engine(engine, engine_kwargs)
        return self._stat("median", numeric_only, state, return_state)

    def count(self, numeric_only: bool = False, *, state: Any = None, return_state: bool | None = None) -> Any:
        """Observations (finite values) in each window, equal to pandas' ``rolling(...).count()``."""
        return self._stat("count", numeric_only, state, return_state)

    def cov(self, other: Any = None, pairwise: bool | None = None, ddof: int = 1, numeric_only: bool = False, *,
            state: Any = None, return_state: bool | None = None) -> Any:
        """Moving covariance, equal to pandas' ``rolling(...).cov(other, pairwise, ddof)``."""
        return self._pair("cov", other, pairwise, _check_ddof(ddof), numeric_only, state, return_state)

    def corr(self, other: Any = None, pairwise: bool | None = None, ddof: int = 1, numeric_only: bool = False, *,
             state: Any = None, return_state: bool | None = None) -> Any:
        """Moving correlation, equal to pandas' ``rolling(...).corr(other, pairwise, ddof)``."""
        return self._pair("corr", other, pairwise, _check_ddof(ddof), numeric_only, state, return_state)


# --------------------------------------------------------------------------------------------
# stream
# --------------------------------------------------------------------------------------------

class ObjectStream:
    """``obj.wax.stream(...)``: apply stateful functions step by step over ``obj``'s time axis.

    As WAX-ML's ``StreamDataFrame`` & co. (which are Streams), the :class:`~waxegg.wax.stream.Stream`'s
    options and methods are reachable from it: ``obj.wax.stream().prepare(dataset, fn)``,
    ``.get_dataset_schema(dataset)``, ``.merge(...)``, ``.local_time``, ...
    """

    def __init__(self, obj: _Container, stream: Stream, *, return_state: bool = True, format_outputs: bool = True):
        self._obj = obj
        self.stream = stream
        self.return_state = _check_bool("return_state", return_state)
        self.format_outputs = _check_bool("format_outputs", format_outputs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("stream", "_obj"):
            raise AttributeError(name)
        return getattr(self.stream, name)

    def _coords(self, obj: _Container) -> dict[str, Any]:
        """``obj``'s coordinates by dimension name, for ``format_dims=`` (a frame's index and columns under
        their names, else ``index`` / ``columns``)."""
        if isinstance(obj, (xr.DataArray, xr.Dataset)):
            return {name: obj.coords[name] for name in obj.coords}
        coords = {obj.index.name or "index": obj.index}
        if isinstance(obj, pd.DataFrame):
            coords[obj.columns.name or "columns"] = obj.columns
        return coords

    def trace_dataset(self, dataset: xr.Dataset) -> tuple[dict, dict, np.ndarray]:
        """Step (1) of the 3-step workflow on ``dataset`` (see :meth:`Stream.trace_dataset`)."""
        return self.stream.trace_dataset(dataset)

    def _time_dim(self, obj: _Container) -> str | None:
        if isinstance(obj, xr.DataArray):
            return time_dim(obj, self.stream.local_time)
        if isinstance(obj, xr.Dataset):
            return self.stream.resolve_local_time(obj)
        return None

    def _formatter(self, obj: _Container) -> Callable[[Any], Any]:
        """The way back from outputs along ``obj``'s steps to ``obj``'s container."""
        dim = self._time_dim(obj)
        if isinstance(obj, pd.DataFrame):
            return lambda out: format_like_frame(obj, out)
        if isinstance(obj, pd.Series):
            return lambda out: format_like_series(obj, out)
        if isinstance(obj, xr.DataArray):
            return lambda out: format_like_dataarray(obj, dim, out)
        return lambda out: format_like_dataset(obj, dim, out)

    def _inputs(self) -> tuple[Any, dict | None, Callable[[Any], Any]]:
        """``(xs, statics, formatter)`` for the container: time-first step inputs and the way back."""
        obj = self._obj
        if isinstance(obj, pd.DataFrame):
            if obj.shape[0] == 0:
                raise ValueError("cannot stream an empty DataFrame (no rows)")
            return frame_values(obj)[0], None, self._formatter(obj)
        if isinstance(obj, pd.Series):
            if len(obj) == 0:
                raise ValueError("cannot stream an empty Series")
            from waxegg.wax.encode import encode_array

            values, _ = encode_array(obj.to_numpy(), name=f"Series {obj.name!r}")
            return values, None, self._formatter(obj)
        if isinstance(obj, xr.DataArray):
            dim = self._time_dim(obj)
            if obj.sizes[dim] == 0:
                raise ValueError(f"cannot stream an empty DataArray (dimension {dim!r} has length 0)")
            from waxegg.wax.encode import encode_array

            values, _ = encode_array(obj.transpose(dim, ...).values, name=f"DataArray {obj.name!r}")
            return values, None, self._formatter(obj)
        if isinstance(obj, xr.Dataset):
            # Secondary streams arrive synchronised (forward filled / buffered as the Stream says).
            steps, statics = self.stream.step_values(obj)
            return steps, statics or None, self._formatter(obj)
        raise TypeError(f"unsupported container {type(obj).__name__}")

    def _without_first_step(self, obj: _Container) -> _Container:
        if isinstance(obj, (pd.DataFrame, pd.Series)):
            return obj.iloc[1:]
        return obj.isel({self._time_dim(obj): slice(1, None)})

    def apply(self, fn: Callable, skip_first: bool = False, format_dims: Any = None, params: Any = None,
              state: Any = None, rng: Any = None, *, format_outputs: bool | None = None,
              return_state: bool | None = None) -> Any:
        """Run ``fn`` (called inside a Haiku transform with the values of one step) over all steps.

        The positional order is WAX-ML's ``apply(module, skip_first, format_dims, params, state, rng)``.

        Parameters
        ----------
        fn : callable
            ``fn(x_t)``: ``x_t`` is the row (DataFrame), the value (Series), the slice at one time
            (DataArray) or a ``{variable: value}`` dict (Dataset). It may use Haiku modules and state.
        skip_first : bool, default False
            WAX-ML's option: initialise on the first step but apply from the second one, so the outputs have
            one step less; formatted, they are indexed like the input without its first step (WAX-ML could
            format them only with ``format_outputs=False``).
        params, state : optional
            Continue from a previous call's ``state`` (see ``return_state``).
        rng : jax PRNG key, optional
        format_outputs : bool, optional
            Put outputs back into the input's container; False returns raw arrays. Default: the stream's
            (``obj.wax.stream(format_outputs=True)``).
        return_state : bool, optional
            Also return the state after the last step, to continue a later call from it. Default: the stream's
            (``obj.wax.stream(return_state=True)``, as WAX-ML's Stream).
        format_dims : optional
            WAX-ML's option: name the dimensions of the outputs (one tuple, or a pytree of tuples matching the
            outputs) and format them with :func:`waxegg.wax.format.format_dataframe` (pandas input) or
            :func:`~waxegg.wax.format.format_dataarray` (xarray input), taking coordinates from the input
            (a frame's index and columns by their names, ``index`` / ``columns`` when unnamed).
        """
        if not callable(fn):
            raise TypeError(f"apply expects a callable, got {type(fn).__name__}")
        skip_first = _check_bool("skip_first", skip_first)
        format_outputs = self.format_outputs if format_outputs is None else _check_bool("format_outputs",
                                                                                       format_outputs)
        return_state = self.return_state if return_state is None else _check_bool("return_state", return_state)
        if _dask_backed(self._obj):  # lazy: a dask graph chaining time chunks (waxegg.wax.chunked.stream_dask)
            if skip_first:
                raise NotImplementedError("skip_first=True on a dask-backed object: drop its first step instead")
            from waxegg.wax.chunked import stream_dask

            return stream_dask(fn, self._obj, stream=self.stream, params=params, state=state, rng=rng,
                               return_state=return_state, format_outputs=format_outputs)
        import jax

        from waxegg.wax.unroll import dynamic_unroll, init_params_state, transform_stream_fn

        xs, statics, formatter = self._inputs()
        transformed = transform_stream_fn(fn, statics)
        obj = self._obj
        if skip_first:
            params, state = init_params_state(transformed, xs, rng, params=params, state=state)
            xs = jax.tree_util.tree_map(lambda x: x[1:], xs)
            obj = self._without_first_step(obj)
            formatter = self._formatter(obj)
        outputs, state = dynamic_unroll(transformed, xs, rng, params=params, state=state)
        if format_dims is not None and format_outputs:
            result = self._format_with_dims(outputs, format_dims, obj)
        else:
            result = formatter(outputs) if format_outputs else outputs
        return (result, state) if return_state else result

    def _format_with_dims(self, outputs: Any, format_dims: Any, obj: _Container) -> Any:
        import jax

        from waxegg.wax.format import format_dataarray, format_dataframe, format_series

        coords = self._coords(obj)
        xarray_input = isinstance(obj, (xr.DataArray, xr.Dataset))

        def one(x: Any, dims: Any) -> Any:
            dims = tuple(dims)
            if np.ndim(x) != len(dims):
                dims = dims[:1]  # WAX-ML's fallback: an output reduced per step keeps the time dim only
            if xarray_input:
                return format_dataarray(coords, x, dims)
            return format_series(coords, x, dims) if len(dims) == 1 else format_dataframe(coords, x, dims)

        def is_dims(d: Any) -> bool:
            return isinstance(d, tuple) and all(isinstance(n, str) for n in d)

        if is_dims(format_dims) or (isinstance(format_dims, list) and all(isinstance(n, str) for n in format_dims)):
            return jax.tree_util.tree_map(lambda x: one(x, format_dims), outputs)
        return jax.tree_util.tree_map(one, outputs, format_dims, is_leaf=lambda d: d is None)


class _WaxMLStream(ObjectStream):
    """``ObjectStream`` under WAX-ML's class name for one container, built either way: waxegg's
    ``(obj, stream, return_state=, format_outputs=)`` or WAX-ML's ``(*stream_options, accessor=obj.wax)``
    (then ``return_state`` / ``format_outputs`` are the Stream's, True by default as in WAX-ML)."""

    def __init__(self, *args: Any, accessor: WaxAccessor | None = None, **kwargs: Any):
        if accessor is None:
            super().__init__(*args, **kwargs)
            return
        from waxegg.wax.stream import Stream

        stream = Stream(*args, **kwargs)
        super().__init__(accessor._obj, stream, return_state=stream.return_state,
                         format_outputs=stream.format_outputs)


class StreamDataFrame(_WaxMLStream):
    """``df.wax.stream(...)`` (WAX-ML's class name): see :class:`ObjectStream`."""


class StreamSeries(_WaxMLStream):
    """``series.wax.stream(...)`` (WAX-ML's class name): see :class:`ObjectStream`."""


class StreamDataArray(_WaxMLStream):
    """``dataarray.wax.stream(...)`` (WAX-ML's class name): see :class:`ObjectStream`."""


class StreamDataset(_WaxMLStream):
    """``dataset.wax.stream(...)`` (WAX-ML's class name): see :class:`ObjectStream`."""


_STREAM_CLASSES: tuple[tuple[type, type[ObjectStream]], ...] = (
    (pd.DataFrame, StreamDataFrame), (pd.Series, StreamSeries), (xr.DataArray, StreamDataArray),
    (xr.Dataset, StreamDataset),
)

#: WAX-ML's name for a dtype argument.
DTypeLike = np.typing.DTypeLike


def _dask_backed(obj: Any) -> bool:
    if isinstance(obj, xr.DataArray):
        return obj.chunks is not None
    if isinstance(obj, xr.Dataset):
        return any(v.chunks is not None for v in obj.data_vars.values())
    return False


# --------------------------------------------------------------------------------------------
# The accessor and its registration
# --------------------------------------------------------------------------------------------

class WaxAccessor:
    """``obj.wax``: WAX streaming on pandas / xarray containers."""

    def __init__(self, obj: Container):
        self._obj = obj

    def stream(self, local_time: str | None = None, freqs: dict[str, str] | None = None,
               ffills: dict[str, bool] | None = None, buffer_maxlen: dict[str, int] | None = None,
               buffer_dtype_init_values: dict | None = None, verbose: bool | None = None, pbar: bool = False,
               tensor_type: str = "jax", trace: bool = True, format_outputs: bool = True,
               return_state: bool = True) -> ObjectStream:
        """A stream over this object's time axis (see :class:`ObjectStream`); the options are those of
        :class:`~waxegg.wax.stream.Stream`, in WAX-ML's order.

        ``freqs``, ``ffills`` and ``buffer_maxlen`` synchronise the secondary time dimensions of a
        Dataset with ``local_time`` (see :mod:`waxegg.wax.stream`); ``pbar`` shows a progress bar.
        WAX-ML's ``verbose=True`` shows it too. ``return_state`` / ``format_outputs`` are the defaults of
        :meth:`ObjectStream.apply`; both default to True, as WAX-ML's Stream: ``outputs, state =
        obj.wax.stream().apply(f)``, and ``obj.wax.stream(return_state=False).apply(f)`` is the result alone.
        """
        from waxegg.wax.stream import DTYPE_INIT_VALUES, Stream

        if verbose is not None:
            pbar = pbar or _check_bool("verbose", verbose)
        stream = Stream(local_time=local_time, freqs=freqs or {}, ffills=ffills or {},
                        buffer_maxlen=buffer_maxlen or {},
                        buffer_dtype_init_values=dict(DTYPE_INIT_VALUES if buffer_dtype_init_values is None
                                                      else buffer_dtype_init_values),
                        verbose=bool(verbose), pbar=pbar, tensor_type=tensor_type, trace=trace,
                        format_outputs=format_outputs, return_state=return_state)
        cls = next((c for kind, c in _STREAM_CLASSES if isinstance(self._obj, kind)), ObjectStream)
        return cls(self._obj, stream, return_state=return_state, format_outputs=format_outputs)

    def rolling(
        self,
        window: Any,
        min_periods: int | None = None,
        center: bool = False,
        win_type: str | None = None,
        on: str | None = None,
        closed: str | None = None,
        step: int | None = None,
        method: str = "single",
        *,
        format_outputs: bool = True,
        dtype: Any = None,
        backend: str | None = None,
        local_time: str | None = None,
        state: Any = None,
        return_state: bool = False,
    ) -> Rolling:
        """A rolling window, as ``pandas.DataFrame.rolling`` (pandas' options and exception types).

        ``window`` is a number of steps or, on a DatetimeIndex (a datetime time coordinate), an
        offset such as ``"5min"``. ``min_periods`` defaults to ``window`` (1 for offsets);
        ``center``, ``closed`` and ``step`` as pandas. ``win_type``, ``on`` and ``method="table"``
        are not implemented (NotImplementedError). Keyword-only options as for :meth:`ewm`.
        """
        if win_type is not None:
            raise NotImplementedError(f"win_type={win_type!r}: weighted windows are not implemented in waxegg")
        if on is not None:
            raise NotImplementedError(f"on={on!r}: set the column as the index (or the time coordinate) instead")
        if method != "single":
            raise NotImplementedError(f"method={method!r}: only method='single' is implemented")
        center = _check_bool("center", center)
        params = rolling_window(_time_index_of(self._obj, local_time), window, min_periods, center, closed, step)
        return Rolling(self._obj, params, step=step, format_outputs=format_outputs, dtype=dtype, backend=backend,
                       local_time=local_time, state=state, return_state=return_state)

    def ewm(
        self,
        com: float | None = None,
        span: float | None = None,
        halflife: Any = None,
        alpha: float | None = None,
        min_periods: int | None = 0,
        adjust: bool = True,
        ignore_na: bool = False,
        times: Any = None,
        method: str = "single",
        *,
        format_outputs: bool = True,
        dtype: Any = None,
        backend: str | None = None,
        local_time: str | None = None,
        state: Any = None,
        return_state: bool = False,
        initial_value: float = float("nan"),
    ) -> ExponentialMovingWindow:
        """Exponentially weighted window, as ``pandas.DataFrame.ewm`` (parameters validated as pandas does).

        ``times=`` (datetime64, one per step) with a time-based ``halflife`` (``"2h"``) weighs by
        elapsed time, as pandas (``mean`` only, as pandas). ``method="table"`` is not implemented.

        Extra keyword-only options: ``format_outputs`` (False returns the raw array), ``dtype``
        (e.g. ``"float32"`` to compute in single precision; default keeps float32 / float64 input's
        dtype, else float64), ``backend`` (``"numba"`` default, ``"jax"``; see
        :mod:`waxegg.wax.backends`), ``local_time`` (the time dimension of xarray objects),
        ``return_state`` (statistics return ``(result, state)``) and ``state`` (continue from one), and
        WAX-ML's ``initial_value`` (``mean`` only, as WAX-ML): the mean starts from it as from one observation
        made before the first step, as :class:`~waxegg.wax.modules.EWMA`'s option (``min_periods`` counts
        only real observations; with ``min_periods=0`` every step has a value).
        """
        if method != "single":
            raise NotImplementedError(f"method={method!r}: only method='single' is implemented")
        if times is not None:
            if any(v is not None for v in (com, span, alpha)):
                if not adjust:
                    raise NotImplementedError("None of com, span, or alpha can be specified if times is provided "
                                              "and adjust=False (as pandas)")
                com = center_of_mass(com, span, None, alpha)
            else:
                com = 1.0  # pandas: the decay per halflife is then 1/2
            params = ewm_params(com=com, min_periods=min_periods, adjust=adjust, ignore_na=ignore_na)
        else:
            if isinstance(halflife, (str, datetime.timedelta, np.timedelta64)):
                raise ValueError("halflife can only be a timedelta convertible argument if times is not None.")
            params = ewm_params(com=com, span=span, halflife=halflife, alpha=alpha,
                                min_periods=min_periods, adjust=adjust, ignore_na=ignore_na)
        initial_params = None
        if initial_value == initial_value:  # not NaN
            if times is not None:
                raise NotImplementedError("initial_value= with times= is not implemented")
            # The kernel sees the initial value as its first row, which every count includes: ask one more.
            real = 0 if min_periods is None else min_periods
            initial_params = ewm_params(com=com, span=span, halflife=halflife, alpha=alpha,
                                        min_periods=real + 1 if real >= 1 else 1, adjust=adjust, ignore_na=ignore_na)
        return ExponentialMovingWindow(self._obj, params, times=times, halflife=halflife, format_outputs=format_outputs,
                                       dtype=dtype, backend=backend, local_time=local_time, state=state,
                                       return_state=return_state, initial_value=initial_value,
                                       initial_params=initial_params)


class WaxDataFrameAccessor(WaxAccessor):
    """``df.wax`` (WAX-ML's class name): see :class:`WaxAccessor`."""


class WaxSeriesAccessor(WaxAccessor):
    """``series.wax`` (WAX-ML's class name): see :class:`WaxAccessor`."""


class WaxDataArrayAccessor(WaxAccessor):
    """``dataarray.wax`` (WAX-ML's class name): see :class:`WaxAccessor`."""


class WaxDatasetAccessor(WaxAccessor):
    """``dataset.wax`` (WAX-ML's class name): see :class:`WaxAccessor`."""


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
        pd.api.extensions.register_dataframe_accessor("wax")(WaxDataFrameAccessor)
        pd.api.extensions.register_series_accessor("wax")(WaxSeriesAccessor)
        xr.register_dataarray_accessor("wax")(WaxDataArrayAccessor)
        xr.register_dataset_accessor("wax")(WaxDatasetAccessor)
    _REGISTERED = True
