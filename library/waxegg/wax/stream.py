"""Step (1) of the WAX workflow: synchronise, trace and encode data for fast per-step access.

A :class:`Stream` turns an :class:`xarray.Dataset` into three things (WAX's names):

- ``np_data``: ``{time_dim: {variable: array with that time dim first}}``, numeric (encoded);
  variables without a time dimension sit under :data:`STATIC`;
- ``np_index``: ``{time_dim: int array}``, for each step of the local time, the row of each time
  dimension's data that this step sees;
- ``xs``: the steps, ``numpy.arange(T)``.

Several time axes (multi-stream synchronisation, WAX-ML's semantics). One datetime dimension is the
``local_time`` that drives the steps; every other datetime dimension is a *secondary stream*. At a
local step with timestamp ``t``, a secondary observation stamped ``s`` is visible when
``s < embed(t)`` -- strictly before, so nothing from the future (or from the same instant) leaks in.
``embed`` is the identity, or with ``freqs={dim: alias}`` the floor of ``t`` to that pandas offset
(any alias: ``"D"``, ``"h"``, ``"15min"``, ``"W"``, ``"MS"``, ``"B"`` ...), so a daily value stamped at
midnight of day ``d`` is seen from day ``d + 1`` on. A secondary variable then shows, at each step:

- without a buffer, its latest visible value if one *arrived* during this step, else the fill
  value; with ``ffills={dim: True}`` its latest visible value (fill value before the first one);
- with ``buffer_maxlen={dim: n}`` (for streams faster than the local one), its last ``n`` visible
  values on a new leading axis, oldest first, the front padded with the fill value; without
  ``ffills`` the whole buffer is fill on steps where nothing arrived.

Secondary data get one extra row holding the fill value (NaN for floats, NaT for datetimes, ``-99999``
for integers, False for booleans, :func:`fill_value`), and ``np_index`` points at it, so
:func:`tree_access_data` needs no masking and works for n-dimensional variables and buffers alike.

:func:`tree_access_data` reads one step from those inside a JAX function, and :func:`convert_to_tensors`
puts them on the JAX device keeping float64 as float64.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from waxegg.wax._x64 import x64_context
from waxegg.wax.encode import DatetimeEncoder, Encoder, datetime64_encoder, encode_array, string_encoder

STATIC = "__static__"

#: Local steps per chunk of the (vectorised) merge; the progress bar advances once per chunk.
MERGE_CHUNK = 1 << 16

#: WAX-ML's fill value for integer data with no observation yet.
INT_FILL = -99999

#: WAX-ML's name for the dtype keys of :data:`DTYPE_INIT_VALUES` (numpy scalar types).
DTypeLike = type

#: WAX-ML's fill values by (encoded) numpy scalar type: what a secondary variable shows before its first
#: observation, and what :func:`access_data` reads at a negative index.
DTYPE_INIT_VALUES: dict[Any, Any] = {
    np.float32: np.nan, np.float64: np.nan,
    np.int64: INT_FILL, np.int32: INT_FILL,
    np.uint64: 0, np.uint32: 0,
    bool: False, np.bool_: False,
}

#: WAX-ML's ``{numpy scalar type: encoder or encoder factory}`` (see :meth:`Stream.get_dataset_schema`).
EncoderMapping = Mapping[Any, Any]

#: WAX-ML's default encoders: strings to integer codes, datetimes to ``uint32`` words.
DEFAULT_TYPES_ENCODERS: dict[Any, Any] = {np.dtype(str).type: string_encoder, np.datetime64: datetime64_encoder}


class StreamObservation(NamedTuple):
    """WAX-ML's observation of a stream: its ``time`` stamp and its ``value`` (a pytree)."""

    time: Any
    value: Any


class DatasetSchema(NamedTuple):
    """WAX-ML's dataset schema: the dataset's coordinates and ``{name: encoder}``."""

    coords: Any
    encoders: dict


class GeneratorState(NamedTuple):
    """WAX-ML's record of a merge: what each stream shows, and its last observation."""

    output_values: Any
    stream_obs: Any


def fill_value(dtype: Any, encoder: Encoder | None = None) -> Any:
    """The value a secondary variable of (encoded) ``dtype`` shows when it has no observation.

    NaN for floats and complex, NaT's tick count for datetimes (so they decode to ``NaT``), False for
    booleans, 0 for unsigned and :data:`INT_FILL` for signed integers (WAX-ML's choices).
    """
    dtype = np.dtype(dtype)
    if isinstance(encoder, DatetimeEncoder):
        return np.iinfo(np.int64).min
    if dtype.kind in "fc":
        return np.nan
    if dtype.kind == "b":
        return False
    if dtype.kind == "u":
        return 0
    if dtype.kind == "i":
        return INT_FILL
    raise TypeError(f"no fill value for dtype {dtype}")


def to_offset(alias: Any, *, what: str) -> pd.DateOffset:
    """``pandas.tseries.frequencies.to_offset(alias)`` with an error naming ``what`` and the alias."""
    try:
        offset = pd.tseries.frequencies.to_offset(alias)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{what}={alias!r} is not a pandas offset alias ({err})") from None
    if offset is None:
        raise ValueError(f"{what}={alias!r} is not a pandas offset alias")
    if isinstance(offset, (pd.offsets.BusinessHour, pd.offsets.CustomBusinessHour)):
        raise ValueError(f"{what}={alias!r}: business-hour offsets cannot be used to floor timestamps")
    return offset


def embed_times(times: pd.DatetimeIndex, offset: pd.DateOffset | None) -> np.ndarray:
    """Floor ``times`` to ``offset`` (identity when None), as int64 nanoseconds.

    Fixed frequencies (``Tick``: days and shorter) use :meth:`pandas.DatetimeIndex.floor`; calendar
    offsets (weeks, months, business days ...) roll each distinct day back onto the offset with
    :meth:`pandas.DateOffset.rollback` (one call per distinct day, not per timestamp).
    """
    times = times.as_unit("ns")
    if offset is None:
        return times.asi8
    if isinstance(offset, pd.offsets.Tick):
        return times.floor(offset).asi8
    days = times.normalize().asi8
    uniq, inverse = np.unique(days, return_inverse=True)
    rolled = np.array([offset.rollback(pd.Timestamp(d)).normalize().value for d in uniq], dtype=np.int64)
    return rolled[inverse]


def sync_index(local_times: np.ndarray, secondary_times: np.ndarray, *, offset: pd.DateOffset | None = None,
               ffill: bool = False, maxlen: int | None = None, fill_row: int | None = None,
               pbar: bool = False, desc: str = "") -> np.ndarray:
    """For each local step, the row(s) of a secondary stream it sees (see the module docstring).

    Parameters
    ----------
    local_times, secondary_times : int64 nanoseconds
        Local timestamps (non-decreasing) and secondary ones (strictly increasing), already checked.
    offset, ffill, maxlen
        The secondary stream's ``freqs``, ``ffills`` and ``buffer_maxlen`` options.
    fill_row : int, optional
        Row that holds the fill value (default ``len(secondary_times)``).

    Returns
    -------
    numpy.ndarray of int64, shape ``(T,)`` or ``(T, maxlen)``
    """
    T = len(local_times)
    fill_row = len(secondary_times) if fill_row is None else fill_row
    seen = np.empty(T, dtype=np.int64)  # how many secondary rows are visible at each step
    starts = range(0, T, MERGE_CHUNK)
    bar = tqdm(total=T, desc=f"sync {desc}".strip(), unit="step", disable=not pbar, leave=False)
    with bar:
        for start in starts:
            chunk = pd.DatetimeIndex(local_times[start:start + MERGE_CHUNK].view("M8[ns]"))
            seen[start:start + MERGE_CHUNK] = np.searchsorted(secondary_times, embed_times(chunk, offset), side="left")
            bar.update(len(chunk))
    arrived = seen > np.concatenate([[0], seen[:-1]])
    last = seen - 1
    if maxlen is None:
        index = np.where(last >= 0, last, fill_row)
        if not ffill:
            index[~arrived] = fill_row
        return index
    index = last[:, None] + np.arange(1 - maxlen, 1)[None, :]
    index[index < 0] = fill_row
    if not ffill:
        index[~arrived, :] = fill_row
    return index


def _check_times(times: np.ndarray, dim: str, variables: list[str], *, strict: bool) -> np.ndarray:
    """``times`` as int64 ns, with clear errors for NaT, unsorted and (when ``strict``) duplicated stamps."""
    idx = pd.DatetimeIndex(times).as_unit("ns")
    role = f"secondary time dimension {dim!r} (variables {variables})" if strict else f"local time {dim!r}"
    if idx.hasnans:
        raise ValueError(f"{role} has missing (NaT) timestamps at positions {np.flatnonzero(idx.isna())[:5].tolist()}")
    ns = idx.asi8
    step = np.diff(ns)
    back = np.flatnonzero(step < 0)
    if back.size:
        i = int(back[0])
        raise ValueError(f"{role} is not sorted: {idx[i + 1]} (position {i + 1}) comes after {idx[i]}; "
                         "sort it first (dataset.sortby)")
    if strict:
        dup = np.flatnonzero(step == 0)
        if dup.size:
            i = int(dup[0])
            raise ValueError(f"{role} has duplicated timestamp {idx[i]} at positions {i} and {i + 1}; "
                             "aggregate or drop duplicates first")
    return ns


def _listed(option: bool | Sequence[str], dim: str) -> bool:
    """WAX-ML's ``pbar`` / ``verbose``: a bool, or the time dimensions it applies to."""
    return option if isinstance(option, bool) else dim in option


def time_dims(dataset: xr.Dataset) -> list[str]:
    return [str(d) for d in dataset.dims if d in dataset.coords and np.asarray(dataset[d]).dtype.kind == "M"]


@dataclass
class Stream:
    """Options for turning a dataset into a stream of steps.

    The fields and their order are WAX-ML's (``Stream(local_time, freqs, ffills, buffer_maxlen, ...)``).

    Parameters
    ----------
    local_time : str, optional
        Name of the dimension that drives the steps. Defaults to the only ``datetime64``
        dimension, or else the first dimension of the first variable (``""`` means the same).
    freqs : mapping, optional
        ``{secondary_dim: pandas offset alias}``: embed local timestamps by flooring them to that
        offset before comparing (a slower stream, e.g. daily data in an intraday local time).
    ffills : mapping, optional
        ``{secondary_dim: bool}``: forward fill the secondary values between arrivals.
    buffer_maxlen : mapping, optional
        ``{secondary_dim: int >= 1}``: show the last that many values (a faster stream).
    buffer_dtype_init_values : mapping, optional
        ``{numpy scalar type: value}``: what a secondary variable of that (encoded) dtype shows when it
        has no observation (default :data:`DTYPE_INIT_VALUES`; other dtypes: :func:`fill_value`).
    verbose : bool or list of str, default False
        WAX-ML's option: print what :meth:`merge` reads (for the listed time dimensions only).
    pbar : bool or list of str, default False
        Show (tqdm) progress bars while synchronising secondary streams (for the listed time dimensions only).
    tensor_type : "jax"
        WAX-ML's option; JAX is the only one.
    trace : bool, default True
        :meth:`start_dataset_stream` yields each variable's position instead of its value.
    format_outputs, return_state : bool, default True
        WAX-ML's options, read by the accessors' ``apply`` (see :mod:`waxegg.wax.accessors`).
    """

    local_time: str | None = None
    freqs: Mapping[str, Any] = field(default_factory=dict)
    ffills: Mapping[str, bool] = field(default_factory=dict)
    buffer_maxlen: Mapping[str, int] = field(default_factory=dict)
    buffer_dtype_init_values: Mapping[Any, Any] = field(default_factory=lambda: dict(DTYPE_INIT_VALUES))
    verbose: bool | Sequence[str] = False
    pbar: bool | Sequence[str] = False
    tensor_type: str = "jax"
    trace: bool = True
    format_outputs: bool = True
    return_state: bool = True
    encoders: dict[str, Encoder] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.local_time == "":
            self.local_time = None  # WAX-ML's "not given"
        for name in ("freqs", "ffills", "buffer_maxlen", "buffer_dtype_init_values"):
            value = getattr(self, name)
            if value is None:
                setattr(self, name, {})
            elif not isinstance(value, Mapping):
                raise TypeError(f"{name} must be a mapping {{time_dim: value}}, got {type(value).__name__}")
        for name in ("pbar", "verbose"):
            value = getattr(self, name)
            if not isinstance(value, (bool, list, tuple)):
                raise TypeError(f"{name} must be a bool or a list of time dimensions, got {value!r}")
        for name in ("trace", "format_outputs", "return_state"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.tensor_type != "jax":
            raise ValueError(f"tensor_type={self.tensor_type!r}: only 'jax' is supported")
        self._offsets()  # validate the aliases now
        for dim, flag in self.ffills.items():
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"ffills[{dim!r}] must be a bool, got {flag!r}")
        for dim, n in self.buffer_maxlen.items():
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
                raise TypeError(f"buffer_maxlen[{dim!r}] must be an integer, got {n!r}")
            if n < 1:
                raise ValueError(f"buffer_maxlen[{dim!r}] must be >= 1, got {n}")

    def init_value(self, dtype: Any, encoder: Encoder | None = None) -> Any:
        """What a secondary variable of (encoded) ``dtype`` shows with no observation: ``buffer_dtype_init_values``
        for its scalar type, else :func:`fill_value` (datetimes: always NaT)."""
        dtype = np.dtype(dtype)
        if isinstance(encoder, DatetimeEncoder) or dtype.type not in self.buffer_dtype_init_values:
            return fill_value(dtype, encoder)
        return self.buffer_dtype_init_values[dtype.type]

    def _offsets(self) -> dict[str, pd.DateOffset]:
        return {dim: to_offset(alias, what=f"freqs[{dim!r}]") for dim, alias in self.freqs.items()}

    def _check_option_dims(self, local: str, secondary: list[str]) -> None:
        for name in ("freqs", "ffills", "buffer_maxlen"):
            for dim in getattr(self, name):
                if dim == local:
                    raise ValueError(f"{name}[{dim!r}]: {dim!r} is the local time; options apply to secondary "
                                     f"time dimensions {secondary}")
                if dim not in secondary:
                    raise ValueError(f"{name}[{dim!r}]: {dim!r} is not a secondary time dimension of the dataset "
                                     f"(secondary: {secondary})")

    # --- WAX-ML's Stream methods ---------------------------------------------------------------------------------

    @staticmethod
    def get_dataset_schema(xdata: xr.Dataset, types_encoders: EncoderMapping | None = None,
                           check: bool = False) -> DatasetSchema:
        """WAX-ML's ``Stream.get_dataset_schema``: the dataset's coordinates and an encoder for every data variable
        and coordinate whose numpy scalar type ``types_encoders`` names (default :data:`DEFAULT_TYPES_ENCODERS`:
        strings and datetimes).

        An entry of ``types_encoders`` is an encoder (``.encode`` / ``.decode``) or a factory called with the values.
        ``check=True`` round-trips each encoded array and raises ValueError naming the variable that does not
        come back equal (WAX-ML asserted).
        """
        types_encoders = DEFAULT_TYPES_ENCODERS if types_encoders is None else types_encoders
        arrays = {name: var.values for name, var in xdata.data_vars.items()}
        arrays.update({name: coord.values for name, coord in xdata.coords.items()})
        encoders: dict[Any, Encoder] = {}
        for name, values in arrays.items():
            encoder = types_encoders.get(values.dtype.type)
            if encoder is None:
                continue
            if not hasattr(encoder, "encode"):
                encoder = encoder(values)
            encoders[name] = encoder
            if check and not np.array_equal(encoder.decode(encoder.encode(values)), values):
                raise ValueError(f"get_dataset_schema: the encoder of {name!r} does not round-trip its values")
        return DatasetSchema(coords=xdata.coords, encoders=encoders)

    def get_encoders(self, dataset: xr.Dataset) -> dict[Any, Encoder]:
        """WAX-ML's ``Stream.get_encoders``: the encoders of :meth:`get_dataset_schema`."""
        return self.get_dataset_schema(dataset).encoders

    def get_local_time(self, time_datasets: Mapping[str, Any]) -> str:
        """WAX-ML's ``Stream.get_local_time``: ``local_time``, or the only key of ``time_datasets`` (ValueError if
        there are several)."""
        if self.local_time is not None:
            return self.local_time
        if len(time_datasets) != 1:
            raise ValueError(f"local_time must be given: several time dimensions {list(time_datasets)}")
        return next(iter(time_datasets))

    def prepare(self, dataset: xr.Dataset, module: Callable, encoders: Mapping[Any, Encoder] | None = None,
                skip_first: bool = False) -> tuple[Any, Any]:
        """WAX-ML's ``Stream.prepare`` (step 1 of the three-step workflow): ``(transform_dataset, xs)``.

        ``transform_dataset`` is an :class:`~waxegg.wax.unroll.UnrollTransformedWithState` that calls
        ``module({variable: value at the step})`` at every step of ``xs`` (the local time's steps, on the JAX
        device): ``unroll(transform_dataset)(xs)`` runs it. Variables with an encoder in ``encoders`` (default
        :meth:`get_encoders`, WAX-ML's: strings to codes, datetimes to ``uint32`` words) reach ``module`` encoded
        by it. ``init`` and ``apply`` run with 64-bit JAX types, so float64 data stays float64 (WAX-ML cast it to
        float32 when ``jax_enable_x64`` was off).
        """
        from waxegg.wax._x64 import with_x64
        from waxegg.wax.unroll import UnrollTransformedWithState, unroll_transform_with_state

        encoders = self.get_encoders(dataset) if encoders is None else encoders
        np_data, np_index, xs = self.trace_dataset(dataset)
        np_data = self._encode_with(dataset, np_data, encoders)
        jnp_data, jnp_index, jxs = device_put((np_data, np_index, xs))

        def transform_dataset(step: Any) -> Any:
            return module(tree_access_data(jnp_data, jnp_index, step))

        t = unroll_transform_with_state(transform_dataset, skip_first=skip_first)
        return UnrollTransformedWithState(with_x64(t.init), with_x64(t.apply)), jxs

    def _encode_with(self, dataset: xr.Dataset, np_data: dict, encoders: Mapping[Any, Encoder]) -> dict:
        """``np_data`` (from :meth:`trace_dataset`) with the variables named in ``encoders`` encoded by them instead."""
        out = {dim: dict(variables) for dim, variables in np_data.items()}
        for dim, variables in out.items():
            for name in variables:
                if name not in encoders:
                    continue
                var = dataset[name]
                codes = np.asarray(encoders[name].encode(var.values if dim == STATIC else var.transpose(dim, ...).values))
                if len(codes) < len(variables[name]):  # a secondary variable: its fill row again
                    fill = np.full((1,) + codes.shape[1:], self.init_value(codes.dtype), dtype=codes.dtype)
                    codes = np.concatenate([codes, fill], axis=0)
                variables[name] = codes
        return out

    def start_dataset_stream(self, dataset: xr.Dataset, time_dim: str | None = None) -> Iterator[StreamObservation]:
        """WAX-ML's ``Stream.start_dataset_stream``: a generator of :class:`StreamObservation` ``(time, values)``
        along ``time_dim`` (default: the dataset's only time coordinate), variables with ``time_dim`` first.

        As WAX-ML, the first observation is yielded twice: once to initialise (what :meth:`merge` reads first),
        then as the first step. With ``trace=True`` each variable's value is its position ``i``.
        """
        if time_dim is None:
            found = sorted(get_dataset_time_coords(dataset))
            if len(found) != 1:
                raise ValueError(f"start_dataset_stream: give time_dim, the dataset has time coordinates {found}")
            time_dim = found[0]
        times = dataset.coords[time_dim].values.astype("M8[ns]")
        np_dataset = dataset_to_numpy(dataset)
        if not len(times):
            return
        yield StreamObservation(times[0], np_select_item(np_dataset, 0, self.trace))
        steps = tqdm(times, desc=time_dim) if _listed(self.pbar, time_dim) else times
        for i, time in enumerate(steps):
            yield StreamObservation(time, np_select_item(np_dataset, i, self.trace))

    def start_dataset_streams(self, datasets: Mapping[str, xr.Dataset]) -> dict[str, Iterator[StreamObservation]]:
        """WAX-ML's ``Stream.start_dataset_streams``: :meth:`start_dataset_stream` of each ``{time_dim: dataset}``."""
        return {dim: self.start_dataset_stream(ds, time_dim=dim) for dim, ds in datasets.items()}

    def merge(self, streams: Mapping[str, Iterator[StreamObservation]]) -> Iterator[dict[str, StreamObservation]]:
        """WAX-ML's ``Stream.merge``: one ``{time_dim: StreamObservation}`` per local observation.

        Each secondary stream shows, at a local step stamped ``t``, the observations stamped before ``t``
        (floored to ``freqs[dim]`` when given) that arrived since the previous step: the last one, or with
        ``buffer_maxlen`` the last that many ones pushed through a buffer (times padded with NaT, values with the
        fill value); on steps where none arrived it shows the fill observation, or with ``ffills`` what it showed
        last. These are the rules of :meth:`trace_dataset`. Unlike WAX-ML, a secondary stream's first
        observation enters the buffer once (WAX-ML pushed its initialisation read too).
        """
        streams = dict(streams)
        local = self.get_local_time(streams)
        if local not in streams:
            raise ValueError(f"merge: local_time {local!r} is not one of the streams {list(streams)}")
        offsets = self._offsets()
        pending: dict[str, StreamObservation | None] = {}
        shown: dict[str, Any] = {}
        push: dict[str, Callable[[StreamObservation], Any]] = {}
        for dim, stream in streams.items():
            first = next(stream)  # the initialisation read
            if dim == local:
                continue
            fill = StreamObservation(np.datetime64("NaT", "ns"), _tree_map(
                lambda x: np.full_like(x, self.init_value(np.asarray(x).dtype)), first.value))
            maxlen = self.buffer_maxlen.get(dim)
            if maxlen is None:
                push[dim], shown[dim] = (lambda obs: obs), fill
            else:
                push[dim] = tree_buffer_transform(maxlen, fill, fill)
                shown[dim] = tree_buffer_transform(maxlen, fill, fill)(fill)
            pending[dim] = next(stream, None)
        for local_obs in streams[local]:
            if _listed(self.verbose, local):
                print(f"[MultiStream] {local!r} proceed data : {local_obs.time}")
            out = {}
            for dim in streams:
                if dim == local:
                    out[dim] = local_obs
                    continue
                offset = offsets.get(dim)
                embed = (lambda t: t) if offset is None else partial(_floor_one, offset=offset)
                arrived = None
                while pending[dim] is not None and timestamp_is_before_local(embed, local_obs.time, pending[dim].time):
                    if _listed(self.verbose, dim):
                        print(f"{dim!r} proceed data : {pending[dim].time}")
                    arrived = push[dim](pending[dim])
                    pending[dim] = next(streams[dim], None)
                if arrived is not None and self.ffills.get(dim, False):
                    shown[dim] = arrived
                out[dim] = shown[dim] if arrived is None else arrived
            yield out

    def resolve_local_time(self, dataset: xr.Dataset) -> str:
        """The local time dimension of ``dataset`` under these options (with clear errors)."""
        if not isinstance(dataset, xr.Dataset):
            raise TypeError(f"trace_dataset expects an xarray.Dataset, got {type(dataset).__name__}")
        if not dataset.data_vars:
            raise ValueError("cannot stream a Dataset with no data variables")
        if self.local_time is not None:
            if self.local_time not in dataset.dims:
                raise ValueError(f"local_time={self.local_time!r} is not a dimension of the dataset "
                                 f"(dimensions: {list(dataset.dims)})")
            return self.local_time
        times = time_dims(dataset)
        if len(times) == 1:
            return times[0]
        if len(times) > 1:
            raise ValueError(f"the dataset has several time dimensions {times}: choose one with local_time=")
        first = next(iter(dataset.data_vars.values()))
        if not first.dims:
            raise ValueError(f"variable {first.name!r} has no dimension to stream over")
        return str(first.dims[0])

    def trace_dataset(self, dataset: xr.Dataset) -> tuple[dict, dict, np.ndarray]:
        """Encode ``dataset`` and prepare the per-step index.

        Returns
        -------
        np_data, np_index, xs
            See the module docstring. Arrays are views of the dataset's data where possible.
        """
        local = self.resolve_local_time(dataset)
        T = dataset.sizes[local]
        if T == 0:
            raise ValueError(f"cannot stream over an empty time dimension {local!r}")
        other_times = [d for d in time_dims(dataset) if d != local]
        self._check_option_dims(local, other_times)
        np_data: dict[str, dict[str, np.ndarray]] = {local: {}}
        by_dim: dict[str, list[str]] = {}
        self.encoders = {}
        for name, var in dataset.data_vars.items():
            sec = [d for d in var.dims if d in other_times]
            if local in var.dims:
                if sec:
                    raise ValueError(f"variable {name!r} has two time dimensions ({local!r} and {sec[0]!r}); "
                                     "a variable must run on one time axis")
                dim = local
            elif sec:
                if len(sec) > 1:
                    raise ValueError(f"variable {name!r} has several time dimensions {sec}; "
                                     "a variable must run on one time axis")
                dim = sec[0]
            else:
                dim = STATIC
            values = var.transpose(dim, ...).values if dim != STATIC else var.values
            encoded, enc = encode_array(values, name=str(name))
            if enc is not None:
                self.encoders[str(name)] = enc
            if dim not in (local, STATIC):
                # One extra row holding the fill value: steps with nothing to see point at it.
                fill = np.full((1,) + encoded.shape[1:], self.init_value(encoded.dtype, enc), dtype=encoded.dtype)
                encoded = np.concatenate([encoded, fill], axis=0)
            np_data.setdefault(dim, {})[str(name)] = encoded
            by_dim.setdefault(dim, []).append(str(name))
        np_index = {local: np.arange(T)}
        secondary = [d for d in other_times if d in by_dim]
        if secondary:
            if np.asarray(dataset[local]).dtype.kind != "M":
                raise ValueError(f"local_time {local!r} is not a datetime dimension, so secondary time dimensions "
                                 f"{secondary} cannot be synchronised with it")
            local_ns = _check_times(dataset[local].values, local, by_dim.get(local, []), strict=False)
            offsets = self._offsets()
            for dim in secondary:
                sec_ns = _check_times(dataset[dim].values, dim, by_dim[dim], strict=True)
                np_index[dim] = sync_index(local_ns, sec_ns, offset=offsets.get(dim),
                                           ffill=bool(self.ffills.get(dim, False)),
                                           maxlen=self.buffer_maxlen.get(dim), pbar=_listed(self.pbar, dim),
                                           desc=dim)
        xs = np.arange(T)
        return np_data, np_index, xs

    def step_values(self, dataset: xr.Dataset) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """What every step sees, materialised: ``({variable: values with the local time first}, statics)``.

        Local variables are returned as they are (views); secondary ones are gathered through the
        synchronisation index, shape ``(T, ...)`` or ``(T, buffer_maxlen, ...)``.
        """
        np_data, np_index, _ = self.trace_dataset(dataset)
        local = self.resolve_local_time(dataset)
        steps: dict[str, np.ndarray] = {}
        for dim, variables in np_data.items():
            if dim == STATIC:
                continue
            for name, values in variables.items():
                steps[name] = values if dim == local else np.take(values, np_index[dim], axis=0)
        # keep the dataset's variable order
        order = [str(n) for n in dataset.data_vars if str(n) in steps]
        return {n: steps[n] for n in order}, dict(np_data.get(STATIC, {}))


def tree_access_data(data: Mapping[str, Any], index: Mapping[str, Any], step: Any) -> dict[str, Any]:
    """The values every variable takes at ``step``, as a flat ``{variable: value}`` dict.

    ``data`` is :meth:`Stream.trace_dataset`'s ``{time_dim: {variable: array}}`` with ``index`` its
    ``{time_dim: index}``; works on numpy and JAX arrays alike, with a concrete or traced ``step``.
    WAX-ML's flat form, ``data`` ``{variable: array}`` with ``index`` ``{variable: index}`` (from
    :func:`dataset_to_numpy` and :func:`get_dataset_index`), reads each leaf with :func:`access_data`.
    """
    if not all(isinstance(v, Mapping) for v in data.values()):
        import jax  # noqa: PLC0415

        return jax.tree_util.tree_map(partial(access_data, step), dict(data), dict(index))
    out: dict[str, Any] = {}
    for dim, variables in data.items():
        if dim == STATIC:
            out.update(variables)
            continue
        i = index[dim][step]
        out.update({name: v[i] for name, v in variables.items()})
    return out


def device_put(tree: Any) -> Any:
    """Put every array of ``tree`` on the default JAX device, keeping 64-bit dtypes.

    NumPy arrays go through :func:`waxegg.wax._layout.to_jax`: one row-major aligned copy of our own that
    JAX adopts (``jax.device_put`` copies at 2.7-3x a plain copy, more for pandas' column-major blocks).
    """
    import jax  # the JAX path starts here; importing waxegg.wax does not load JAX

    from waxegg.wax._layout import to_jax

    with x64_context():
        return jax.tree_util.tree_map(to_jax, tree)


def convert_to_tensors(tree: Any, backend: str = "jax") -> Any:
    """Drop-in for eagerpy's ``convert_to_tensors(tree, "jax")`` as used by WAX-ML's tutorial."""
    if backend != "jax":
        raise ValueError(f"convert_to_tensors only supports backend='jax', got {backend!r}")
    return device_put(tree)


def index_values(dataset: xr.Dataset, dim: str) -> pd.Index:
    """The coordinate of ``dim`` as a pandas Index (a RangeIndex when there is none)."""
    if dim in dataset.coords:
        return dataset.indexes[dim]
    return pd.RangeIndex(dataset.sizes[dim], name=dim)


# --- WAX-ML's dataset helpers -------------------------------------------------------------------------------------


def dataset_to_numpy(dataset: xr.Dataset) -> dict[str, np.ndarray]:
    """WAX-ML's ``dataset_to_numpy``: ``{variable: values}`` of ``dataset``'s data variables."""
    return {name: var.values for name, var in dataset.data_vars.items()}


def get_dataset_time_coords(dataset: xr.Dataset) -> set[str]:
    """The names of ``dataset``'s datetime64 coordinates (its time dimensions); ValueError when there is none."""
    found = {name for name, c in dataset.coords.items() if np.issubdtype(c.dtype, np.datetime64)}
    if not found:
        raise ValueError("No time coordinate found: the dataset has no datetime64 coordinate")
    return found


def get_time_dataset(dataset: xr.Dataset) -> xr.Dataset:
    """WAX-ML's ``get_time_dataset``: for each time dimension ``t``, a variable ``t + "_index"`` holding the
    positions ``0 .. len(t) - 1`` along ``t`` (coordinates: ``t``'s times)."""
    out = xr.Dataset()
    for dim in sorted(get_dataset_time_coords(dataset)):
        times = dataset[dim].values
        out[f"{dim}_index"] = xr.DataArray(np.arange(len(times)), dims=(dim,), coords={dim: times})
    return out


def split_dataset_from_time_dims(dataset: xr.Dataset) -> dict[str, xr.Dataset]:
    """WAX-ML's ``split_dataset_from_time_dims``: one Dataset per time dimension with the variables along it.

    Variables without a time dimension are left out (as WAX-ML); a variable along two time dimensions raises
    ValueError naming it.
    """
    dims = get_dataset_time_coords(dataset)
    out = {dim: xr.Dataset(coords={dim: dataset[dim]}) for dim in dims}
    for name, var in dataset.data_vars.items():
        along = dims.intersection(var.dims)
        if len(along) > 1:
            raise ValueError(f"variable {name!r} has several time dimensions {sorted(along)}; it may have only one")
        if along:
            out[along.pop()][name] = var
    return out


def _tree_map(fn: Callable, tree: Any) -> Any:
    import jax  # noqa: PLC0415

    return jax.tree_util.tree_map(fn, tree)


def _floor_one(time: Any, offset: pd.DateOffset) -> np.datetime64:
    return np.datetime64(int(embed_times(pd.DatetimeIndex([time]), offset)[0]), "ns")


def timestamp_is_before_local(embed: Callable[[Any], Any], local_timestamp: Any, secondary_timestamp: Any) -> bool:
    """WAX-ML's ``timestamp_is_before_local``: ``secondary_timestamp < embed(local_timestamp)``."""
    return bool(secondary_timestamp < embed(local_timestamp))


def get_dataset_index_from_stream_index(stream_index: Mapping[str, StreamObservation]) -> xr.Dataset:
    """WAX-ML's ``get_dataset_index_from_stream_index``: the positions ``value[time_dim + "_index"]`` of each
    ``{time_dim: StreamObservation}`` (as :func:`unroll_stream` of :meth:`Stream.merge` on
    :func:`get_time_dataset` gives) as a Dataset variable ``time_dim`` along ``step`` (and
    ``time_dim + "_buffer_index"`` for a buffered stream)."""
    out = xr.Dataset()
    for dim, obs in stream_index.items():
        if not isinstance(obs, StreamObservation):
            raise TypeError(f"stream_index[{dim!r}] must be a StreamObservation, got {type(obs).__name__}")
        idx = np.asarray(obs.value[f"{dim}_index"])
        if idx.ndim not in (1, 2):
            raise ValueError(f"stream_index[{dim!r}]: positions must be 1-D or 2-D (buffered), got shape {idx.shape}")
        out[dim] = xr.DataArray(idx, dims=("step",) if idx.ndim == 1 else ("step", f"{dim}_buffer_index"))
    return out


def get_dataset_index(dataset: xr.Dataset, time_dataset_index: xr.Dataset) -> xr.Dataset:
    """WAX-ML's ``get_dataset_index``: for each data variable of ``dataset``, what :func:`access_data` reads at
    every step.

    A variable along a time dimension takes that dimension's positions from ``time_dataset_index`` (the time
    dimension must come first, ValueError otherwise). A variable without one is seen whole at every step: a
    scalar reads position 0, an array the positions ``0 .. len - 1`` of its first axis (dims ``step``,
    ``name + "_flat_idx"``). WAX-ML's index for those read the wrong elements: ``arange(steps)`` for a scalar
    (past the end after step 0) and ``outer(arange(steps), arange(size))`` for an array (all zeros at step 0,
    multiples of each position later).
    """
    if not time_dataset_index.data_vars:
        raise ValueError("get_dataset_index: time_dataset_index has no time dimension")
    n_steps = len(next(iter(time_dataset_index.data_vars.values())))
    out = xr.Dataset()
    for name, var in dataset.data_vars.items():
        if set(var.dims) & set(time_dataset_index.data_vars):
            if var.dims[0] not in time_dataset_index:
                raise ValueError(f"get_dataset_index: variable {name!r} has dims {var.dims}; its time dimension "
                                 "must come first")
            out[name] = time_dataset_index[var.dims[0]]
        elif var.ndim == 0:
            out[name] = xr.DataArray(np.zeros(n_steps, dtype=np.int64), dims=("step",))
        else:
            rows = np.broadcast_to(np.arange(var.shape[0]), (n_steps, var.shape[0])).copy()
            out[name] = xr.DataArray(rows, dims=("step", f"{name}_flat_idx"))
    return out


def deque_to_list(buffer: deque, fill_value: Any) -> np.ndarray:
    """WAX-ML's ``deque_to_list``: the buffer's contents as one array of ``buffer.maxlen`` rows, oldest first,
    the front padded with ``fill_value`` (with NaT for datetimes: a ``datetime64[ns]`` array, where WAX-ML
    returned a deque)."""
    items = list(buffer)
    if not items:
        raise ValueError("deque_to_list: the buffer is empty")
    missing = buffer.maxlen - len(items)
    first = np.asarray(items[0])
    if first.dtype.kind == "M" or items[0] is pd.NaT:
        times = np.array([np.datetime64("NaT", "ns") if t is pd.NaT else t for t in items], dtype="M8[ns]")
        return np.concatenate([np.full(missing, np.datetime64("NaT", "ns")), times])
    return np.stack([np.full_like(first, fill_value)] * missing + [np.asarray(x) for x in items])


def tree_buffer_transform(maxlen: int, fill_value: Any, init_value: Any) -> Callable[[Any], Any]:
    """WAX-ML's ``tree_buffer_transform``: a function that pushes a pytree (shaped as ``init_value``) into
    buffers of ``maxlen`` and returns each leaf's :func:`deque_to_list` padded with ``fill_value``'s leaf."""
    import jax  # noqa: PLC0415

    leaves, treedef = jax.tree_util.tree_flatten(init_value)
    fills = jax.tree_util.tree_leaves(fill_value)
    if len(fills) != len(leaves):
        raise ValueError(f"tree_buffer_transform: fill_value has {len(fills)} leaves, init_value {len(leaves)}")
    buffers = [deque(maxlen=maxlen) for _ in leaves]

    def transform(data: Any) -> Any:
        values = jax.tree_util.tree_leaves(data)
        if len(values) != len(buffers):
            raise ValueError(f"tree_buffer_transform: got {len(values)} leaves, expected {len(buffers)}")
        out = []
        for buffer, x, fill in zip(buffers, values, fills):
            buffer.append(x)
            out.append(deque_to_list(buffer, fill))
        return jax.tree_util.tree_unflatten(treedef, out)

    return transform


def unroll_stream(stream: Iterator[Any], skip_first: bool = False, pbar: bool | Sequence[Any] = True) -> Any:
    """WAX-ML's ``unroll_stream``: the pytrees a generator yields, each leaf stacked along a new leading axis
    (``skip_first``: without the first one; ``pbar``: a tqdm bar)."""
    import jax  # noqa: PLC0415

    first = next(stream)
    leaves, treedef = jax.tree_util.tree_flatten(first)
    columns: list[list[Any]] = [[] if skip_first else [x] for x in leaves]
    if pbar:
        stream = tqdm(stream, desc="stream_unroll")
    for obs in stream:
        leaves = jax.tree_util.tree_leaves(obs)
        if len(leaves) != len(columns):
            raise ValueError(f"unroll_stream: an observation has {len(leaves)} leaves, the first had {len(columns)}")
        for column, x in zip(columns, leaves):
            column.append(x)
    if any(not column for column in columns):
        raise ValueError("unroll_stream: nothing to stack (skip_first=True on a one-observation stream)")
    return jax.tree_util.tree_unflatten(treedef, [np.stack(column) for column in columns])


def np_select_item(np_dataset: Mapping[str, Any], i: int, trace: bool = False) -> dict[str, Any]:
    """WAX-ML's ``np_select_item``: row ``i`` of every array, or with ``trace=True`` the position ``i`` itself."""
    if trace:
        return {name: np.array(i) for name in np_dataset}
    return {name: values[i] for name, values in np_dataset.items()}


def access_data(step: Any, x: Any, idx: Any) -> Any:
    """WAX-ML's ``access_data``: ``x`` (at least 1-D) at the positions ``idx[step]``; negative positions read the
    fill value of ``x``'s dtype (:data:`DTYPE_INIT_VALUES`, else :func:`fill_value`)."""
    import jax.numpy as jnp  # noqa: PLC0415

    x = jnp.atleast_1d(x)
    i = jnp.asarray(idx)[step]
    values = x[i]
    dtype = np.dtype(x.dtype)
    fill = DTYPE_INIT_VALUES[dtype.type] if dtype.type in DTYPE_INIT_VALUES else fill_value(dtype)
    missing = jnp.reshape(i < 0, jnp.shape(i) + (1,) * (values.ndim - jnp.ndim(i)))
    return jnp.where(missing, jnp.full_like(values, fill), values)
