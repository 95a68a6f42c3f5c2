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

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from waxegg.wax._x64 import x64_context
from waxegg.wax.encode import DatetimeEncoder, Encoder, encode_array

STATIC = "__static__"

#: Local steps per chunk of the (vectorised) merge; the progress bar advances once per chunk.
MERGE_CHUNK = 1 << 16

#: WAX-ML's fill value for integer data with no observation yet.
INT_FILL = -99999


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


def time_dims(dataset: xr.Dataset) -> list[str]:
    return [str(d) for d in dataset.dims if d in dataset.coords and np.asarray(dataset[d]).dtype.kind == "M"]


@dataclass
class Stream:
    """Options for turning a dataset into a stream of steps.

    Parameters
    ----------
    local_time : str, optional
        Name of the dimension that drives the steps. Defaults to the only ``datetime64``
        dimension, or else the first dimension of the first variable.
    pbar : bool, default False
        Show a (tqdm) progress bar while merging secondary streams into the local time.
    freqs : mapping, optional
        ``{secondary_dim: pandas offset alias}``: embed local timestamps by flooring them to that
        offset before comparing (a slower stream, e.g. daily data in an intraday local time).
    ffills : mapping, optional
        ``{secondary_dim: bool}``: forward fill the secondary values between arrivals.
    buffer_maxlen : mapping, optional
        ``{secondary_dim: int >= 1}``: show the last that many values (a faster stream).
    """

    local_time: str | None = None
    pbar: bool = False
    freqs: Mapping[str, Any] = field(default_factory=dict)
    ffills: Mapping[str, bool] = field(default_factory=dict)
    buffer_maxlen: Mapping[str, int] = field(default_factory=dict)
    encoders: dict[str, Encoder] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("freqs", "ffills", "buffer_maxlen"):
            value = getattr(self, name)
            if value is None:
                setattr(self, name, {})
            elif not isinstance(value, Mapping):
                raise TypeError(f"{name} must be a mapping {{time_dim: value}}, got {type(value).__name__}")
        if not isinstance(self.pbar, bool):
            raise TypeError(f"pbar must be a bool, got {self.pbar!r}")
        self._offsets()  # validate the aliases now
        for dim, flag in self.ffills.items():
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"ffills[{dim!r}] must be a bool, got {flag!r}")
        for dim, n in self.buffer_maxlen.items():
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
                raise TypeError(f"buffer_maxlen[{dim!r}] must be an integer, got {n!r}")
            if n < 1:
                raise ValueError(f"buffer_maxlen[{dim!r}] must be >= 1, got {n}")

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
                fill = np.full((1,) + encoded.shape[1:], fill_value(encoded.dtype, enc), dtype=encoded.dtype)
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
                                           maxlen=self.buffer_maxlen.get(dim), pbar=self.pbar, desc=dim)
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


def tree_access_data(data: Mapping[str, Mapping[str, Any]], index: Mapping[str, Any], step: Any) -> dict[str, Any]:
    """The values every variable takes at ``step``, as a flat ``{variable: value}`` dict.

    Works on numpy and JAX arrays alike, with a concrete or traced ``step``.
    """
    out: dict[str, Any] = {}
    for dim, variables in data.items():
        if dim == STATIC:
            out.update(variables)
            continue
        i = index[dim][step]
        out.update({name: v[i] for name, v in variables.items()})
    return out


def device_put(tree: Any) -> Any:
    """Put every array of ``tree`` on the default JAX device, keeping 64-bit dtypes."""
    import jax  # the JAX path starts here; importing waxegg.wax does not load JAX

    with x64_context():
        return jax.tree_util.tree_map(jax.device_put, tree)


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
