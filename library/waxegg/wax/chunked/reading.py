"""Reading inputs chunk by chunk: chunk boundaries, opening leaves, time slices, memory-map release.

Inputs are numpy arrays, ``numpy.memmap`` / ``.npy`` paths, zarr / h5py arrays, dask arrays and
time-first xarray DataArrays; :class:`XarraySpec` says how a DataArray / Dataset streams (its time
dimension, the time-first variables and the statics). Nothing here computes.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import xarray as xr

from waxegg.wax.chunked.steps import time_dims
from waxegg.wax.stream import Stream

#: Input bytes per chunk when neither ``chunk_size`` nor dask chunks say otherwise (measured:
#: at T=1e6 x N=500 float32, 64 MiB chunks run the EWMA scan as fast as one shot; see
#: benchmarks/bench_chunked.py).
DEFAULT_CHUNK_BYTES = 64 * 2**20


# --------------------------------------------------------------------------------------------
# Chunk boundaries
# --------------------------------------------------------------------------------------------

def time_chunks(T: int, chunk_size: int | Sequence[int]) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(T)``: every ``chunk_size`` steps, or the given lengths.

    Raises
    ------
    ValueError
        A non-positive length, or lengths that do not add up to ``T`` (a step split inconsistently).
    """
    if isinstance(chunk_size, (bool, np.bool_)):
        raise TypeError(f"chunk_size must be an int or a sequence of ints, got {chunk_size!r}")
    if isinstance(chunk_size, (int, np.integer)):
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        return [(a, min(a + int(chunk_size), T)) for a in range(0, T, int(chunk_size))]
    lengths = [int(n) for n in chunk_size]
    bad = [n for n in lengths if n < 1]
    if bad:
        raise ValueError(f"chunk lengths must be >= 1, got {bad[0]} in {tuple(lengths)[:8]}")
    if sum(lengths) != T:
        raise ValueError(f"chunk lengths {tuple(lengths)[:8]}{'...' if len(lengths) > 8 else ''} cover "
                         f"{sum(lengths)} steps but the data has {T}: every step must be in exactly one chunk")
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def auto_chunk(leaves: list[Any], T: int) -> int:
    """Steps per chunk for about :data:`DEFAULT_CHUNK_BYTES` of input (all ``leaves`` together)."""
    row = sum(int(np.prod(x.shape[1:], dtype=np.int64)) * np.dtype(x.dtype).itemsize for x in leaves)
    return max(1, min(T, DEFAULT_CHUNK_BYTES // max(row, 1)))


def is_dask(x: Any) -> bool:
    """True for a dask array."""
    return type(x).__module__.startswith("dask.array") and hasattr(x, "chunks")


def is_dask_backed(obj: Any) -> bool:
    """True for an xarray DataArray / Dataset holding at least one dask array."""
    if isinstance(obj, xr.DataArray):
        return obj.chunks is not None
    if isinstance(obj, xr.Dataset):
        return any(v.chunks is not None for v in obj.data_vars.values())
    return False


def dask_time_chunks(leaves: list[Any], names: list[str]) -> tuple[int, ...] | None:
    """The shared dask chunks along time of the dask-backed leaves, or None if there are none."""
    found = [(n, _leaf_chunks(x)) for n, x in zip(names, leaves)]
    found = [(n, c) for n, c in found if c is not None]
    if not found:
        return None
    first_name, first = found[0]
    for name, chunks in found[1:]:
        if chunks != first:
            raise ValueError(f"inputs {first_name} and {name} are chunked differently along time "
                             f"({short_chunks(first)} vs {short_chunks(chunks)}): a step would be split "
                             "inconsistently; rechunk them alike (e.g. .chunk({time_dim: n})) or pass chunk_size=")
    return first


def _leaf_chunks(x: Any) -> tuple[int, ...] | None:
    if isinstance(x, xr.DataArray):
        return None if x.chunks is None else tuple(x.chunks[0])
    if is_dask(x):
        return tuple(x.chunks[0])
    return None


def short_chunks(chunks: Sequence[int]) -> str:
    """``chunks`` for an error message: in full up to 6, else the first 5 and the count."""
    chunks = tuple(chunks)
    return str(chunks) if len(chunks) <= 6 else f"({', '.join(map(str, chunks[:5]))}, ... {len(chunks)} chunks)"


# --------------------------------------------------------------------------------------------
# Reading time slices, and giving memory-mapped pages back
# --------------------------------------------------------------------------------------------

def open_leaf(x: Any) -> Any:
    """A ``.npy`` path opened as a read-only memory map; anything else as it is."""
    if isinstance(x, (str, os.PathLike)):
        path = Path(x)
        if path.suffix != ".npy":
            raise ValueError(f"input path {str(path)!r}: only .npy files are read by path; open zarr / netCDF "
                             "stores with xarray (xr.open_zarr / xr.open_dataset) and pass the DataArray")
        if not path.exists():
            raise FileNotFoundError(f"input {str(path)!r} does not exist")
        return np.load(path, mmap_mode="r")
    return x


def length(x: Any, name: str) -> int:
    """The number of steps (first axis) of input ``name``."""
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(f"input {name} ({type(x).__name__}) is not an array: it has no shape")
    if len(shape) == 0:
        raise ValueError(f"input {name} is a scalar: every input needs time on its first axis")
    return int(shape[0])


def read_rows(x: Any, a: int, b: int) -> np.ndarray:
    """Steps ``a:b`` of ``x`` as a numeric numpy array (datetimes as their int64 ticks)."""
    if isinstance(x, xr.DataArray):
        values = x.isel({x.dims[0]: slice(a, b)}).values
    elif is_dask(x):
        values = np.asarray(x[a:b].compute())
    else:
        values = np.asarray(x[a:b])
    if values.dtype.kind in "mM":  # datetimes stream as their int64 ticks (waxegg.wax.encode)
        return values.view(np.int64)
    if values.dtype.kind not in "biufc":
        raise TypeError(f"chunked streaming needs numeric inputs, got dtype {values.dtype}; strings are encoded "
                        "against the whole column, which a chunk cannot see: encode them first")
    return values


def _root_mmap(x: np.ndarray) -> tuple[np.ndarray, mmap.mmap] | None:
    base = x
    while isinstance(base, np.ndarray):
        if isinstance(base.base, mmap.mmap):
            return base, base.base
        base = base.base
    return None


def release_rows(x: Any, a: int, b: int) -> None:
    """Drop the pages of rows ``a:b`` of a read-only memory map from this process.

    Pages of a file mapping that were read stay mapped, and count in the process' resident memory,
    until the mapping goes; reading a 20 GB ``.npy`` through ``numpy.memmap`` would otherwise make
    the process look 20 GB large. ``MADV_DONTNEED`` unmaps them (the page cache keeps them, so a
    second read is still cheap).
    """
    if not isinstance(x, np.memmap) or b <= a or not hasattr(mmap, "MADV_DONTNEED"):
        return
    found = _root_mmap(x)
    if found is None or x.strides[0] <= 0:
        return
    root, mm = found
    map_start = root.ctypes.data - (getattr(root, "offset", 0) % mmap.ALLOCATIONGRANULARITY)
    lo = x[a:b].ctypes.data - map_start
    hi = lo + (b - a) * x.strides[0]
    page = mmap.PAGESIZE
    lo, hi = max(0, (lo // page) * page), min(len(mm), -(-hi // page) * page)
    if hi > lo:
        mm.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


# --------------------------------------------------------------------------------------------
# xarray objects: the time dimension, the time-first variables and the statics
# --------------------------------------------------------------------------------------------

@dataclass
class XarraySpec:
    """How a DataArray / Dataset streams: time-first inputs, statics, and how outputs are laid out."""

    obj: Any
    dim: str
    xs: Any            # DataArray (time first) or {name: DataArray (time first)}
    statics: dict | None

    def dims_for(self, name: str | None, shape: tuple[int, ...], extra: Sequence[str] = ()) -> tuple[str, ...]:
        """Dimension names of an output leaf of ``shape`` (time first)."""
        ref = self.xs if isinstance(self.xs, xr.DataArray) else self.xs.get(name) if name is not None else None
        if ref is not None and tuple(shape[1:]) == tuple(ref.shape[1:]):
            return tuple(ref.dims)
        if len(shape) == 1:
            return (self.dim,)
        lead = tuple(extra)[: len(shape) - 1]
        return (self.dim,) + lead + tuple(f"{name or 'output'}_dim_{k}" for k in range(len(shape) - 1 - len(lead)))


def xarray_spec(obj: Any, local_time: str | None, stream: Stream | None = None) -> XarraySpec:
    """``obj``'s :class:`XarraySpec`, its time dimension resolved as ``Stream(local_time=...)`` does."""
    stream = stream or Stream(local_time=local_time)
    if isinstance(obj, xr.DataArray):
        ds = obj.to_dataset(name="__x__" if obj.name is None else obj.name)
        dim = stream.resolve_local_time(ds)
        return XarraySpec(obj, dim, obj.transpose(dim, ...), None)
    if not isinstance(obj, xr.Dataset):
        raise TypeError(f"expected an xarray DataArray or Dataset, got {type(obj).__name__}")
    dim = stream.resolve_local_time(obj)
    if any((stream.freqs, stream.ffills, stream.buffer_maxlen)):
        raise NotImplementedError("freqs / ffills / buffer_maxlen (secondary streams) are not supported on chunked or "
                                  "dask-backed data yet; load the data and use .wax.stream().apply")
    secondary = [d for d in time_dims(obj) if d != dim and any(d in v.dims for v in obj.data_vars.values())]
    if secondary:
        raise NotImplementedError(f"secondary time dimensions {secondary} cannot be synchronised chunk by chunk yet; "
                                  "load the data and use .wax.stream().apply, or drop them")
    xs = {str(n): v.transpose(dim, ...) for n, v in obj.data_vars.items() if dim in v.dims}
    statics = {str(n): np.asarray(v.values) for n, v in obj.data_vars.items() if dim not in v.dims}
    if not xs:
        raise ValueError(f"no variable of the dataset runs along {dim!r}")
    return XarraySpec(obj, dim, xs, statics or None)
