"""Streaming beyond one machine's memory: time chunks chained through the carried module state.

A WAX computation is a stateful step function scanned over time, so a long stream can be cut into
time chunks as long as each chunk starts from the state (and parameters) the previous one ended
with, and the step counter (which seeds per-step random keys) carries on. The results are then
those of the one-shot :func:`~waxegg.wax.unroll.dynamic_unroll`, and memory is bounded by the
chunk size whatever the length of the stream.

Two ways to run it:

- **single machine** -- :func:`chunked_unroll` (arrays) and :func:`stream_chunked` (xarray
  objects): a loop over time chunks that reads each chunk from memory, a ``numpy.memmap`` / ``.npy``
  file, a zarr or netCDF store opened lazily, and writes each output chunk to memory, a ``.npy``
  file, a ``.zarr`` or a ``.nc`` store. A ``tqdm`` bar advances once per chunk.
- **dask** -- :func:`dask_unroll` (dask arrays) and :func:`stream_dask` (xarray objects): a lazy
  dask graph. Time chunks of one column block are chained through the state; column blocks of the
  dimensions you declare independent (``split_dims``) are separate chains that run in parallel on
  whichever scheduler is active (threads, or a ``dask.distributed`` cluster). Nothing is computed
  until ``.compute()`` / :func:`to_store`. Progress: dask's own diagnostics (the distributed
  dashboard, ``distributed.progress``, or ``dask.diagnostics.ProgressBar`` with ``to_store``).

Outputs written to a path go to ``<path>.partial`` first and are renamed to ``<path>`` only when
every chunk succeeded, so a failed run never leaves an output that looks complete.
"""

from __future__ import annotations

import mmap
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import haiku as hk
import jax
import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from waxegg.wax._x64 import x64_context
from waxegg.wax.stream import Stream, _time_dims
from waxegg.wax.unroll import _as_with_state, _first, _scan

#: Input bytes per chunk when neither ``chunk_size`` nor dask chunks say otherwise (measured:
#: at T=1e6 x N=500 float32, 64 MiB chunks run the EWMA scan as fast as one shot; see
#: benchmarks/bench_chunked.py).
DEFAULT_CHUNK_BYTES = 64 * 2**20

_STORE_SUFFIXES = (".npy", ".zarr", ".nc")


class ChunkError(RuntimeError):
    """A time chunk failed; the message names the chunk and its steps. Nothing was left at ``out``."""


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


def _is_dask(x: Any) -> bool:
    return type(x).__module__.startswith("dask.array") and hasattr(x, "chunks")


def _dask_time_chunks(leaves: list[Any], names: list[str]) -> tuple[int, ...] | None:
    """The shared dask chunks along time of the dask-backed leaves, or None if there are none."""
    found = [(n, _leaf_chunks(x)) for n, x in zip(names, leaves)]
    found = [(n, c) for n, c in found if c is not None]
    if not found:
        return None
    first_name, first = found[0]
    for name, chunks in found[1:]:
        if chunks != first:
            raise ValueError(f"inputs {first_name} and {name} are chunked differently along time "
                             f"({_short(first)} vs {_short(chunks)}): a step would be split inconsistently; "
                             "rechunk them alike (e.g. .chunk({time_dim: n})) or pass chunk_size=")
    return first


def _leaf_chunks(x: Any) -> tuple[int, ...] | None:
    if isinstance(x, xr.DataArray):
        return None if x.chunks is None else tuple(x.chunks[0])
    if _is_dask(x):
        return tuple(x.chunks[0])
    return None


def _short(chunks: Sequence[int]) -> str:
    chunks = tuple(chunks)
    return str(chunks) if len(chunks) <= 6 else f"({', '.join(map(str, chunks[:5]))}, ... {len(chunks)} chunks)"


# --------------------------------------------------------------------------------------------
# Reading time slices, and giving memory-mapped pages back
# --------------------------------------------------------------------------------------------

def _open_leaf(x: Any) -> Any:
    if isinstance(x, (str, os.PathLike)):
        path = Path(x)
        if path.suffix != ".npy":
            raise ValueError(f"input path {str(path)!r}: only .npy files are read by path; open zarr / netCDF "
                             "stores with xarray (xr.open_zarr / xr.open_dataset) and pass the DataArray")
        if not path.exists():
            raise FileNotFoundError(f"input {str(path)!r} does not exist")
        return np.load(path, mmap_mode="r")
    return x


def _length(x: Any, name: str) -> int:
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(f"input {name} ({type(x).__name__}) is not an array: it has no shape")
    if len(shape) == 0:
        raise ValueError(f"input {name} is a scalar: every input needs time on its first axis")
    return int(shape[0])


def _read(x: Any, a: int, b: int) -> np.ndarray:
    if isinstance(x, xr.DataArray):
        values = x.isel({x.dims[0]: slice(a, b)}).values
    elif _is_dask(x):
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


def _release(x: Any, a: int, b: int) -> None:
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
# State checks
# --------------------------------------------------------------------------------------------

def _describe(tree: Any) -> dict[str, tuple[tuple[int, ...], str]]:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(p): (tuple(np.shape(v)), str(np.dtype(getattr(v, "dtype", np.asarray(v).dtype))))
            for p, v in flat}


def check_like(what: str, given: Any, expected: Any) -> None:
    """Raise ``ValueError`` if ``given`` (params or state) does not match ``expected``'s structure,
    shapes and dtypes, naming the first entry that differs."""
    got, want = _describe(given), _describe(expected)
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    if missing or extra:
        raise ValueError(f"{what} does not belong to this module: missing entries {missing[:4]}, unexpected entries "
                         f"{extra[:4]} (was it returned by a different function or module?)")
    for key, (shape, dtype) in want.items():
        if got[key] != (shape, dtype):
            raise ValueError(f"{what}{key} has shape {got[key][0]} and dtype {got[key][1]}, but this input needs "
                             f"shape {shape} and dtype {dtype} (a state from data of another shape or dtype?)")


def _start(t: hk.TransformedWithState, first_chunk: Any, rng: Any, params: Any, state: Any) -> tuple[Any, Any]:
    """``(params, state)`` for the first chunk: ``init``'s, or the given ones once checked against it."""
    with x64_context():
        x0 = _first(first_chunk)
        if params is None or state is None:
            p0, s0 = t.init(rng, x0)
        else:
            p0, s0 = jax.eval_shape(t.init, rng, x0)
        if params is not None:
            check_like("params", params, p0)
        if state is not None:
            check_like("state", state, s0)
        return (p0 if params is None else params), (s0 if state is None else state)


# --------------------------------------------------------------------------------------------
# Output sinks: memory, .npy, .zarr (arrays), and xarray stores (.zarr / .nc)
# --------------------------------------------------------------------------------------------

def _leaf_names(tree: Any, default: str) -> list[str]:
    names = []
    for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]:
        parts = [str(getattr(k, "key", getattr(k, "idx", getattr(k, "name", k)))) for k in path]
        names.append("/".join(parts) or default)
    if len(set(names)) != len(names):
        names = [f"{default}_{i}" for i in range(len(names))]
    return [n.replace("/", "_") for n in names]


class _MemorySink:
    path = None

    def open(self, T: int, first: list[np.ndarray], treedef: Any, chunk_len: int) -> None:
        self.treedef = treedef
        self.arrays = [np.empty((T,) + v.shape[1:], v.dtype) for v in first]

    def write(self, a: int, b: int, values: list[np.ndarray]) -> None:
        for arr, v in zip(self.arrays, values):
            arr[a:b] = v

    def commit(self) -> Any:
        return jax.tree_util.tree_unflatten(self.treedef, self.arrays)

    def abort(self) -> None:
        self.arrays = []


class _PathSink:
    """Writes to ``<path>.partial``; :meth:`commit` renames it to ``path``, :meth:`abort` removes it."""

    def __init__(self, path: Path, overwrite: bool):
        if path.exists() and not overwrite:
            raise FileExistsError(f"output {str(path)!r} exists; pass overwrite=True to replace it")
        self.path = path
        self.tmp = path.with_name(path.name + ".partial")
        _remove(self.tmp)

    def _finish(self) -> None:
        _remove(self.path)
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.close()
        _remove(self.tmp)

    def close(self) -> None:
        pass


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


class _NpySink(_PathSink):
    """One output array in a ``.npy`` file, written with ``os.pwrite`` (no mapping: the written pages
    go to the page cache, not to this process' resident memory)."""

    def open(self, T: int, first: list[np.ndarray], treedef: Any, chunk_len: int) -> None:
        if len(first) != 1:
            raise ValueError(f"out={str(self.path)!r}: a .npy file holds one array but the function returns "
                             f"{len(first)} outputs; write them to a .zarr store instead")
        v = first[0]
        header = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=v.dtype, shape=(T,) + v.shape[1:])
        self.offset = header.offset
        del header
        self.row_bytes = int(np.prod(v.shape[1:], dtype=np.int64)) * v.dtype.itemsize
        self.fd = os.open(self.tmp, os.O_WRONLY)

    def write(self, a: int, b: int, values: list[np.ndarray]) -> None:
        data = memoryview(np.ascontiguousarray(values[0])).cast("B")
        pos, done = self.offset + a * self.row_bytes, 0
        while done < len(data):
            done += os.pwrite(self.fd, data[done:], pos + done)

    def close(self) -> None:
        fd, self.fd = getattr(self, "fd", None), None
        if fd is not None:
            os.close(fd)

    def commit(self) -> Any:
        self.close()
        self._finish()
        return np.load(self.path, mmap_mode="r")


class _ZarrArraysSink(_PathSink):
    """Every output leaf as an array of a zarr group (names from the output's pytree keys)."""

    def open(self, T: int, first: list[np.ndarray], treedef: Any, chunk_len: int) -> None:
        import zarr

        self.treedef = treedef
        self.names = _leaf_names(jax.tree_util.tree_unflatten(treedef, first), "output")
        group = zarr.open_group(self.tmp, mode="w")
        self.arrays = [group.create_array(n, shape=(T,) + v.shape[1:], dtype=v.dtype,
                                          chunks=(chunk_len,) + v.shape[1:])
                       for n, v in zip(self.names, first)]

    def write(self, a: int, b: int, values: list[np.ndarray]) -> None:
        for arr, v in zip(self.arrays, values):
            arr[a:b] = v

    def commit(self) -> Any:
        import zarr

        self._finish()
        group = zarr.open_group(self.path, mode="r")
        return jax.tree_util.tree_unflatten(self.treedef, [group[n] for n in self.names])


def _array_sink(out: Any, overwrite: bool) -> Any:
    if out is None:
        return _MemorySink()
    path = Path(out)
    if path.suffix == ".npy":
        return _NpySink(path, overwrite)
    if path.suffix == ".zarr":
        return _ZarrArraysSink(path, overwrite)
    raise ValueError(f"out={str(out)!r}: chunked_unroll writes .npy or .zarr (stream_chunked also writes .nc)")


# --------------------------------------------------------------------------------------------
# The single-machine loop
# --------------------------------------------------------------------------------------------

def _auto_chunk(leaves: list[Any], T: int) -> int:
    row = sum(int(np.prod(x.shape[1:], dtype=np.int64)) * np.dtype(x.dtype).itemsize for x in leaves)
    return max(1, min(T, DEFAULT_CHUNK_BYTES // max(row, 1)))


def _run_chunks(t: hk.TransformedWithState, xs: Any, rng: Any, params: Any, state: Any,
                bounds: list[tuple[int, int]], sink: Any, pbar: bool, desc: str) -> tuple[Any, Any]:
    leaves, treedef = jax.tree_util.tree_flatten(xs)
    T = bounds[-1][1]
    first = jax.tree_util.tree_unflatten(treedef, [_read(x, *bounds[0]) for x in leaves])
    params, state = _start(t, first, rng, params, state)  # bad params / state raise here, before any output
    opened = False
    bar = tqdm(total=len(bounds), desc=desc, unit="chunk", disable=not pbar)
    i, a, b = 0, *bounds[0]
    try:
        with bar:
            for i, (a, b) in enumerate(bounds):
                chunk = first if i == 0 else jax.tree_util.tree_unflatten(treedef, [_read(x, a, b) for x in leaves])
                first = None
                with x64_context():
                    outputs, state = _scan(t.apply, params, state, rng, chunk, a)
                values, out_def = jax.tree_util.tree_flatten(outputs)
                values = [np.asarray(v) for v in values]
                if not opened:
                    sink.open(T, values, out_def, b - a)
                    opened = True
                sink.write(a, b, values)
                del chunk, outputs, values
                for x in leaves:
                    _release(x, a, b)
                bar.update(1)
        result = sink.commit()
    except BaseException as err:
        sink.abort()
        if isinstance(err, (KeyboardInterrupt, SystemExit)):
            raise
        where = f"; nothing was left at {str(sink.path)!r}" if sink.path is not None else ""
        raise ChunkError(f"chunk {i} of {len(bounds)} (steps {a}:{b}) failed: {type(err).__name__}: {err}{where}") from err
    return result, state


def chunked_unroll(
    transformed: Any,
    xs: Any,
    rng: Any = None,
    *,
    chunk_size: int | Sequence[int] | None = None,
    params: Any = None,
    state: Any = None,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    pbar: bool = False,
) -> tuple[Any, Any]:
    """:func:`~waxegg.wax.unroll.dynamic_unroll` over time chunks, with memory bounded by the chunk size.

    Equal to ``dynamic_unroll(transformed, xs, rng, params=params, state=state)`` (same dtypes;
    float64 within 1e-12): chunk ``k`` starts from the parameters and state chunk ``k - 1`` ended
    with, and the step count (folded into ``rng``) carries on.

    Parameters
    ----------
    transformed : hk.TransformedWithState
    xs : pytree of time-first arrays
        numpy arrays, ``numpy.memmap``, paths of ``.npy`` files, zarr / h5py arrays, dask arrays or
        time-first xarray DataArrays (read lazily, one chunk at a time). Numeric or datetime.
    rng : jax PRNG key, optional
    chunk_size : int or sequence of int, optional
        Steps per chunk, or the length of every chunk. Default: the inputs' dask chunks along time,
        else about :data:`DEFAULT_CHUNK_BYTES` of input per chunk.
    params, state : optional
        Start from these (e.g. the ``state`` a previous call returned); checked against the module.
    out : path, optional
        ``None`` returns numpy arrays; ``*.npy`` (one output array) returns a read-only memmap;
        ``*.zarr`` returns zarr arrays, one per output leaf. Written to ``<out>.partial`` and renamed
        when every chunk succeeded.
    overwrite : bool, default False
        Replace an existing ``out``.
    pbar : bool, default False
        A tqdm bar advancing once per chunk.

    Returns
    -------
    outputs, state
        Outputs with the leading time axis (in memory, or opened from ``out``), and the state after
        the last step (to continue with the next part of the stream).

    Raises
    ------
    ValueError
        Inputs of different lengths or chunking, bad chunk lengths, or ``params`` / ``state`` that do
        not match the module (structure, shape or dtype).
    ChunkError
        A chunk failed (reading, computing or writing); its index and steps are named.
    """
    t = _as_with_state(transformed)
    xs = jax.tree_util.tree_map(_open_leaf, xs, is_leaf=lambda x: isinstance(x, (str, os.PathLike)))
    paths_leaves = jax.tree_util.tree_flatten_with_path(xs, is_leaf=lambda x: isinstance(x, xr.DataArray))[0]
    if not paths_leaves:
        raise ValueError("xs is empty: nothing to unroll over")
    names = [jax.tree_util.keystr(p) or "xs" for p, _ in paths_leaves]
    leaves = [x for _, x in paths_leaves]
    lengths = {n: _length(x, n) for n, x in zip(names, leaves)}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"every input needs the same number of steps, got {lengths}")
    T = next(iter(lengths.values()))
    if T == 0:
        raise ValueError("xs has zero steps: nothing to unroll over")
    if chunk_size is None:
        chunk_size = _dask_time_chunks(leaves, names) or _auto_chunk(leaves, T)
    bounds = time_chunks(T, chunk_size)
    return _run_chunks(t, xs, rng, params, state, bounds, _array_sink(out, overwrite), pbar, "wax chunks")


# --------------------------------------------------------------------------------------------
# xarray objects, single machine
# --------------------------------------------------------------------------------------------

@dataclass
class _XarraySpec:
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


def _xarray_spec(obj: Any, local_time: str | None, stream: Stream | None = None) -> _XarraySpec:
    stream = stream or Stream(local_time=local_time)
    if isinstance(obj, xr.DataArray):
        ds = obj.to_dataset(name="__x__" if obj.name is None else obj.name)
        dim = stream.resolve_local_time(ds)
        return _XarraySpec(obj, dim, obj.transpose(dim, ...), None)
    if not isinstance(obj, xr.Dataset):
        raise TypeError(f"expected an xarray DataArray or Dataset, got {type(obj).__name__}")
    dim = stream.resolve_local_time(obj)
    if any((stream.freqs, stream.ffills, stream.buffer_maxlen)):
        raise NotImplementedError("freqs / ffills / buffer_maxlen (secondary streams) are not supported on chunked or "
                                  "dask-backed data yet; load the data and use .wax.stream().apply")
    secondary = [d for d in _time_dims(obj) if d != dim and any(d in v.dims for v in obj.data_vars.values())]
    if secondary:
        raise NotImplementedError(f"secondary time dimensions {secondary} cannot be synchronised chunk by chunk yet; "
                                  "load the data and use .wax.stream().apply, or drop them")
    xs = {str(n): v.transpose(dim, ...) for n, v in obj.data_vars.items() if dim in v.dims}
    statics = {str(n): np.asarray(v.values) for n, v in obj.data_vars.items() if dim not in v.dims}
    if not xs:
        raise ValueError(f"no variable of the dataset runs along {dim!r}")
    return _XarraySpec(obj, dim, xs, statics or None)


def _coords_for(spec: _XarraySpec, dims: set[str]) -> dict[str, Any]:
    return {d: spec.obj[d].values for d in dims if d in spec.obj.coords and spec.obj[d].dims == (d,)}


class _XarrayStoreSink(_PathSink):
    """Outputs as variables of a ``.zarr`` or ``.nc`` store (dims and coordinates from the input)."""

    def __init__(self, path: Path, overwrite: bool, spec: _XarraySpec):
        super().__init__(path, overwrite)
        self.spec = spec
        self.engine = "zarr" if path.suffix == ".zarr" else "h5netcdf"

    def open(self, T: int, first: list[np.ndarray], treedef: Any, chunk_len: int) -> None:
        import dask.array as da

        self.treedef = treedef
        tree = jax.tree_util.tree_unflatten(treedef, first)
        default = "output" if not isinstance(self.spec.obj, xr.DataArray) or self.spec.obj.name is None \
            else str(self.spec.obj.name)
        self.names = _leaf_names(tree, default)
        self.dims = [self.spec.dims_for(n, v.shape) for n, v in zip(self.names, first)]
        sizes = {}
        for dims, v in zip(self.dims, first):
            for d, n in zip(dims[1:], v.shape[1:]):
                if sizes.setdefault(d, n) != n:
                    raise ValueError(f"outputs disagree on the size of dimension {d!r} ({sizes[d]} vs {n})")
        coords = _coords_for(self.spec, {d for dims in self.dims for d in dims})
        if self.engine == "zarr":
            import zarr

            template = xr.Dataset({n: (dims, da.empty((T,) + v.shape[1:], dtype=v.dtype,
                                                      chunks=(chunk_len,) + v.shape[1:]))
                                   for n, dims, v in zip(self.names, self.dims, first)}, coords=coords)
            encoding = {n: {"chunks": (chunk_len,) + v.shape[1:]} for n, v in zip(self.names, first)}
            template.to_zarr(self.tmp, mode="w", compute=False, encoding=encoding)
            group = zarr.open_group(self.tmp, mode="r+")
            self.targets = [group[n] for n in self.names]
        else:
            import h5netcdf

            xr.Dataset(coords=coords).to_netcdf(self.tmp, engine="h5netcdf")
            self.file = h5netcdf.File(self.tmp, "a")
            for d, n in [(self.spec.dim, T), *sizes.items()]:
                if d not in self.file.dimensions:
                    self.file.dimensions[d] = n
            self.targets = [self.file.create_variable(n, dims, v.dtype, chunks=(chunk_len,) + v.shape[1:])
                            for n, dims, v in zip(self.names, self.dims, first)]

    def write(self, a: int, b: int, values: list[np.ndarray]) -> None:
        for target, v in zip(self.targets, values):
            target[a:b] = v

    def close(self) -> None:
        f, self.file = getattr(self, "file", None), None
        if f is not None:
            f.close()

    def commit(self) -> Any:
        self.close()
        self._finish()
        if self.engine == "zarr":
            ds = xr.open_zarr(self.path)
        else:
            ds = xr.open_dataset(self.path, engine="h5netcdf", chunks={})
        return _restore_layout(self.spec, ds, self.treedef, self.names, self.dims)


def _restore_layout(spec: _XarraySpec, ds: xr.Dataset, treedef: Any, names: list[str], dims: list[tuple]) -> Any:
    """The stored variables, each transposed back like the input variable it mirrors."""
    out = []
    for n, d in zip(names, dims):
        var = ds[n]
        ref = spec.obj if isinstance(spec.obj, xr.DataArray) else spec.obj.data_vars.get(n)
        if ref is not None and set(ref.dims) == set(d):
            var = var.transpose(*ref.dims)
        out.append(var)
    tree = jax.tree_util.tree_unflatten(treedef, out)
    if isinstance(tree, dict) and all(isinstance(v, xr.DataArray) for v in tree.values()):
        return xr.Dataset(tree)
    if isinstance(spec.obj, xr.DataArray) and isinstance(tree, xr.DataArray) and spec.obj.name is None:
        return tree.rename(None)
    return tree


def stream_chunked(
    fn: Callable,
    obj: xr.DataArray | xr.Dataset,
    *,
    chunk_size: int | Sequence[int] | None = None,
    out: str | os.PathLike | None = None,
    local_time: str | None = None,
    params: Any = None,
    state: Any = None,
    rng: Any = None,
    return_state: bool = False,
    format_outputs: bool = True,
    overwrite: bool = False,
    pbar: bool = False,
) -> Any:
    """``obj.wax.stream(local_time=...).apply(fn)`` one time chunk at a time, reading ``obj`` lazily.

    ``obj`` may be opened lazily (``xr.open_zarr``, ``xr.open_dataset(..., chunks={})``): only one
    chunk is in memory at a time. ``fn`` sees what ``apply`` would show it (the slice of a DataArray
    at one step, or ``{variable: value}`` for a Dataset, statics included).

    Parameters
    ----------
    fn : callable
        Haiku-style step function.
    obj : xarray.DataArray or xarray.Dataset
    chunk_size : int or sequence of int, optional
        As in :func:`chunked_unroll` (default: ``obj``'s dask chunks along time, else ~64 MiB).
    out : path, optional
        ``None``: results in memory, formatted like ``obj`` (as ``apply`` does). ``*.zarr`` or
        ``*.nc``: written chunk by chunk (dims and index coordinates from ``obj``) and returned
        opened lazily from the store. Written to ``<out>.partial`` and renamed on success.
    local_time, params, state, rng, return_state, format_outputs
        As in :meth:`waxegg.wax.accessors.ObjectStream.apply`.
    overwrite, pbar
        Replace an existing ``out``; show a bar that advances once per chunk.
    """
    from waxegg.wax.accessors import _format_like_dataarray, _format_like_dataset, _transform

    if not callable(fn):
        raise TypeError(f"stream_chunked expects a callable, got {type(fn).__name__}")
    spec = _xarray_spec(obj, local_time)
    leaves = [spec.xs] if isinstance(spec.xs, xr.DataArray) else list(spec.xs.values())
    names = [str(obj.name)] if isinstance(spec.xs, xr.DataArray) else list(spec.xs)
    T = obj.sizes[spec.dim]
    if T == 0:
        raise ValueError(f"cannot stream over an empty time dimension {spec.dim!r}")
    if chunk_size is None:
        chunk_size = _dask_time_chunks(leaves, names) or _auto_chunk(leaves, T)
    bounds = time_chunks(T, chunk_size)
    if out is None:
        sink: Any = _MemorySink()
    else:
        path = Path(out)
        if path.suffix not in (".zarr", ".nc"):
            raise ValueError(f"out={str(out)!r}: stream_chunked writes .zarr or .nc stores")
        sink = _XarrayStoreSink(path, overwrite, spec)
    t = _transform(fn, spec.statics)
    result, state = _run_chunks(t, spec.xs, rng, params, state, bounds, sink, pbar, f"wax chunks ({spec.dim})")
    if out is None and format_outputs:
        if isinstance(obj, xr.DataArray):
            result = _format_like_dataarray(obj, spec.dim, result)
        else:
            result = _format_like_dataset(obj, spec.dim, result)
    return (result, state) if return_state else result


# --------------------------------------------------------------------------------------------
# dask: time chunks chained through the state, column blocks in parallel
# --------------------------------------------------------------------------------------------

class _ChainSpec:
    """What every task of a chain needs, held by one graph node so that a worker unpickles it once
    (and JAX's compile cache, keyed on the apply function, is hit by all of that worker's tasks)."""

    def __init__(self, t: hk.TransformedWithState, rng: Any, treedef: Any, params: Any, state: Any):
        self.t, self.rng, self.treedef, self.params, self.state = t, rng, treedef, params, state


def _to_numpy_tree(tree: Any) -> Any:
    return jax.tree_util.tree_map(np.asarray, tree)


def _chain_step(spec: _ChainSpec, prev: Any, blocks: list[np.ndarray], first_step: int) -> tuple[list, Any, Any]:
    xs = jax.tree_util.tree_unflatten(spec.treedef, [np.asarray(b) for b in blocks])
    if prev is None:
        params, state = _start(spec.t, xs, spec.rng, spec.params, spec.state)
    else:
        _, params, state = prev
    with x64_context():
        outputs, state = _scan(spec.t.apply, params, state, spec.rng, xs, first_step)
    return [np.asarray(v) for v in jax.tree_util.tree_leaves(outputs)], params, _to_numpy_tree(state)


def _pick_output(result: tuple, k: int) -> np.ndarray:
    return result[0][k]


def _pick_states(*results: tuple) -> Any:
    states = [r[2] for r in results]
    return states[0] if len(states) == 1 else states


def dask_unroll(
    transformed: Any,
    xs: Any,
    rng: Any = None,
    *,
    params: Any = None,
    state: Any = None,
    split_axes: Sequence[int] = (),
) -> tuple[Any, Any]:
    """Lazy :func:`~waxegg.wax.unroll.dynamic_unroll` on dask arrays: a chain of tasks per column block.

    Time chunks are chained through the carried state (task ``(i, j)`` waits for ``(i - 1, j)``);
    blocks along ``split_axes`` are independent chains, run in parallel by the active dask scheduler
    (threads, processes or a ``dask.distributed`` cluster). Axes neither time nor split are put in
    one chunk, since every step needs them whole.

    Parameters
    ----------
    transformed : hk.TransformedWithState
    xs : pytree of dask (or numpy) arrays, time first
        All with the same time chunks, and the same sizes and chunks along ``split_axes``.
    rng : jax PRNG key, optional
        Every column block sees the key of each step, as the one-shot run does.
    params, state : optional
        Start from these; only without ``split_axes`` (a state cannot be cut into column blocks in
        general).
    split_axes : sequence of int
        Axes (>= 1) along which the computation is independent, e.g. the columns of an elementwise
        module. Every output must keep those axes at the same positions, or a ``ValueError`` says so.

    Returns
    -------
    outputs, state
        A pytree of dask arrays (chunked like the inputs along time and ``split_axes``) and a
        ``dask.delayed`` of the final state (a list, one per column block, with ``split_axes``).
        Compute them together (``dask.compute(outputs, state)``) to run the chain once.
    """
    import dask.array as da
    from dask.delayed import Delayed
    from dask.highlevelgraph import HighLevelGraph

    t = _as_with_state(transformed)
    leaves, treedef = jax.tree_util.tree_flatten(xs)
    if not leaves:
        raise ValueError("xs is empty: nothing to unroll over")
    leaves = [x if _is_dask(x) else da.from_array(np.asarray(x), chunks=-1) for x in leaves]
    split_axes = tuple(split_axes)
    for ax in split_axes:
        if isinstance(ax, bool) or not isinstance(ax, (int, np.integer)) or ax < 1:
            raise ValueError(f"split_axes must be axes >= 1 (axis 0 is time), got {ax!r}")
    if len(set(split_axes)) != len(split_axes):
        raise ValueError(f"split_axes has repeated axes: {split_axes}")
    if split_axes and (params is not None or state is not None):
        raise ValueError("params / state cannot be cut into column blocks: pass split_axes=() to warm-start")
    names = [f"xs{jax.tree_util.keystr(p)}" for p, _ in jax.tree_util.tree_flatten_with_path(xs)[0]]
    for n, x in zip(names, leaves):
        if x.ndim == 0:
            raise ValueError(f"input {n} is a scalar: every input needs time on its first axis")
        if x.ndim <= max(split_axes, default=0):
            raise ValueError(f"input {n} has {x.ndim} axes, so it cannot be split along axis {max(split_axes)}")
        if x.shape[0] != leaves[0].shape[0]:
            raise ValueError(f"inputs {names[0]} and {n} have {leaves[0].shape[0]} and {x.shape[0]} steps")
        if x.shape[0] == 0:
            raise ValueError("xs has zero steps: nothing to unroll over")
    _dask_time_chunks(leaves, names)
    for ax in split_axes:
        for n, x in zip(names[1:], leaves[1:]):
            if x.chunks[ax] != leaves[0].chunks[ax]:
                raise ValueError(f"inputs {names[0]} and {n} differ along split axis {ax} (sizes "
                                 f"{leaves[0].shape[ax]} / {x.shape[ax]}, chunks {_short(leaves[0].chunks[ax])} / "
                                 f"{_short(x.chunks[ax])}); chunk them alike")
    # Axes that are not split must be whole in every block.
    leaves = [x.rechunk({ax: -1 for ax in range(1, x.ndim) if ax not in split_axes}) for x in leaves]
    time_chunks_ = leaves[0].chunks[0]
    split_chunks = [leaves[0].chunks[ax] for ax in split_axes]
    grid = list(np.ndindex(*[len(c) for c in split_chunks])) if split_axes else [()]

    def block_key(x: Any, i: int, j: tuple) -> tuple:
        idx = [0] * x.ndim
        idx[0] = i
        for ax, jj in zip(split_axes, j):
            idx[ax] = jj
        return (x.name, *idx)

    # Output shapes and dtypes, traced (nothing runs): for the first block and for the whole input.
    def out_struct(shapes: list[tuple]) -> Any:
        structs = jax.tree_util.tree_unflatten(treedef, [jax.ShapeDtypeStruct(s, x.dtype)
                                                         for s, x in zip(shapes, leaves)])
        with x64_context():
            def run(xs_):
                p, s = (params, state) if params is not None and state is not None else t.init(rng, _first(xs_))
                p = params if params is not None else p
                s = state if state is not None else s
                return _scan(t.apply, p, s, rng, xs_, 0)[0]
            return jax.eval_shape(run, structs)

    block_shapes = [tuple(time_chunks_[0] if ax == 0 else x.chunks[ax][0] for ax in range(x.ndim)) for x in leaves]
    block_out = out_struct(block_shapes)
    out_leaves, out_def = jax.tree_util.tree_flatten(block_out)
    out_names = _leaf_names(block_out, "output")
    if split_axes:
        full_out = jax.tree_util.tree_leaves(out_struct([tuple(x.shape) for x in leaves]))
        for name, b, f in zip(out_names, out_leaves, full_out):
            ok = b.ndim == f.ndim and b.ndim > max(split_axes)
            ok = ok and all(b.shape[ax] == (leaves[0].chunks[ax][0] if ax in split_axes else f.shape[ax])
                            for ax in range(1, b.ndim))
            ok = ok and all(f.shape[ax] == leaves[0].shape[ax] for ax in split_axes)
            if not ok:
                raise ValueError(f"output {name!r} has per-step shape {f.shape[1:]} for the whole input but "
                                 f"{b.shape[1:]} for a block; it does not keep the split axes {split_axes} "
                                 "(the function mixes them): pass no split axes")

    token = uuid.uuid4().hex[:16]
    spec_key = f"wax-spec-{token}"
    chain = f"wax-chain-{token}"
    state_key = f"wax-state-{token}"
    layer: dict[Any, Any] = {spec_key: _ChainSpec(t, rng, treedef,
                                                  None if params is None else _to_numpy_tree(params),
                                                  None if state is None else _to_numpy_tree(state))}
    starts = np.concatenate([[0], np.cumsum(time_chunks_)]).astype(int)
    for j in grid:
        for i in range(len(time_chunks_)):
            prev = None if i == 0 else (chain, i - 1, *j)
            layer[(chain, i, *j)] = (_chain_step, spec_key, prev, [block_key(x, i, j) for x in leaves],
                                     int(starts[i]))
    layer[state_key] = (_pick_states, *[(chain, len(time_chunks_) - 1, *j) for j in grid])
    chain_graph = HighLevelGraph.from_collections(chain, layer, dependencies=leaves)
    final_state = Delayed(state_key, chain_graph, layer=chain)

    outputs = []
    for k, (name, o) in enumerate(zip(out_names, out_leaves)):
        out_name = f"wax-{name}-{token}"
        chunks = [tuple(time_chunks_)]
        for ax in range(1, o.ndim):
            chunks.append(tuple(split_chunks[split_axes.index(ax)]) if ax in split_axes else (o.shape[ax],))
        getters = {}
        for j in grid:
            for i in range(len(time_chunks_)):
                idx = [0] * o.ndim
                idx[0] = i
                for ax, jj in zip(split_axes, j):
                    idx[ax] = jj
                getters[(out_name, *idx)] = (_pick_output, (chain, i, *j), k)
        graph = HighLevelGraph.from_collections(out_name, getters, dependencies=[final_state])
        outputs.append(da.Array(graph, out_name, chunks=tuple(chunks), dtype=o.dtype,
                                meta=np.empty((0,) * o.ndim, dtype=o.dtype)))
    return jax.tree_util.tree_unflatten(out_def, outputs), final_state


def is_dask_backed(obj: Any) -> bool:
    """True for an xarray DataArray / Dataset holding at least one dask array."""
    if isinstance(obj, xr.DataArray):
        return obj.chunks is not None
    if isinstance(obj, xr.Dataset):
        return any(v.chunks is not None for v in obj.data_vars.values())
    return False


def _split_axes_for(spec: _XarraySpec, split_dims: Sequence[str]) -> tuple[Any, tuple[int, ...]]:
    """The dask inputs, transposed to ``(time, *split_dims, rest)``, and the split axes ``1..k``."""
    if isinstance(split_dims, str):
        split_dims = (split_dims,)
    split_dims = tuple(split_dims)
    if spec.dim in split_dims:
        raise ValueError(f"split_dims cannot contain the time dimension {spec.dim!r}: time chunks are chained")
    variables = {"": spec.xs} if isinstance(spec.xs, xr.DataArray) else spec.xs
    for name, v in variables.items():
        missing = [d for d in split_dims if d not in v.dims]
        if missing:
            label = f"variable {name!r}" if name else "the DataArray"
            raise ValueError(f"split_dims {missing} are not dimensions of {label} (dims {v.dims})")
    for name, values in (spec.statics or {}).items():
        var = spec.obj[name]
        if any(d in var.dims for d in split_dims):
            raise ValueError(f"static variable {name!r} spans split dims {split_dims}: each column block would see "
                             "all of it; drop it from split_dims")

    def data(v: xr.DataArray) -> Any:
        import dask.array as da

        v = v.transpose(spec.dim, *split_dims, ...)
        return v.data if _is_dask(v.data) else da.from_array(np.asarray(v.values), chunks=-1)

    xs = data(spec.xs) if isinstance(spec.xs, xr.DataArray) else {n: data(v) for n, v in spec.xs.items()}
    return xs, tuple(range(1, len(split_dims) + 1))


def _lazy_format(spec: _XarraySpec, outputs: Any, split_dims: tuple[str, ...]) -> Any:
    """Wrap lazy outputs in xarray objects, each laid out like the input variable it mirrors."""
    obj = spec.obj

    def one(name: str | None, v: Any) -> xr.DataArray:
        ref = obj if isinstance(obj, xr.DataArray) else obj.data_vars.get(name) if name is not None else None
        if ref is not None and spec.dim in ref.dims:
            tfirst = ref.transpose(spec.dim, *split_dims, ...)
            if v.shape == tfirst.shape:
                out = xr.DataArray(v, dims=tfirst.dims, coords=ref.coords, name=ref.name, attrs=ref.attrs)
                return out.transpose(*ref.dims)
        dims = spec.dims_for(None, v.shape, extra=split_dims)
        coords = {d: obj[d] for d in dims if d in obj.coords and obj[d].dims == (d,)}
        return xr.DataArray(v, dims=dims, coords=coords, name=name if name is not None else getattr(obj, "name", None))

    if isinstance(outputs, dict):
        return xr.Dataset({n: one(str(n), v) for n, v in outputs.items()})
    if _is_dask(outputs):
        return one(None, outputs)
    return jax.tree_util.tree_map(lambda v: one(None, v), outputs)


def stream_dask(
    fn: Callable,
    obj: xr.DataArray | xr.Dataset,
    *,
    split_dims: str | Sequence[str] = (),
    local_time: str | None = None,
    params: Any = None,
    state: Any = None,
    rng: Any = None,
    return_state: bool = False,
    format_outputs: bool = True,
    stream: Stream | None = None,
) -> Any:
    """``obj.wax.stream().apply(fn)`` as a lazy dask computation; nothing runs until ``.compute()``.

    ``obj``'s dask chunks along time become a chain of tasks carrying the state; chunks along
    ``split_dims`` (dimensions you know ``fn`` treats independently, such as the columns of an
    elementwise module) become parallel chains. Other dimensions are put in one chunk. Run it with
    any scheduler: the threaded default, or a ``dask.distributed.Client`` (``LocalCluster`` or
    ``Client("tcp://scheduler:8786")``) made current before computing.

    Returns the output formatted lazily like ``obj`` (dask-backed), or the raw dask arrays with
    ``format_outputs=False``; with ``return_state`` also a ``dask.delayed`` of the final state.
    """
    from waxegg.wax.accessors import _transform

    if not callable(fn):
        raise TypeError(f"stream_dask expects a callable, got {type(fn).__name__}")
    spec = _xarray_spec(obj, local_time, stream)
    split_dims = (split_dims,) if isinstance(split_dims, str) else tuple(split_dims)
    xs, split_axes = _split_axes_for(spec, split_dims)
    outputs, final_state = dask_unroll(_transform(fn, spec.statics), xs, rng, params=params, state=state,
                                       split_axes=split_axes)
    result = _lazy_format(spec, outputs, split_dims) if format_outputs else outputs
    return (result, final_state) if return_state else result


def lazy_time_map(obj: xr.DataArray | xr.Dataset, transformed: hk.TransformedWithState, *, dtype: Any = None,
                  local_time: str | None = None, format_outputs: bool = True, other: Any = None,
                  post: Callable[[np.ndarray], np.ndarray] | None = None,
                  kernel: Callable[[np.ndarray], np.ndarray] | None = None) -> Any:
    """A per-element streaming statistic of a dask-backed ``obj``, lazily, every non-time dim split.

    Used by the accessors (``ewm().mean/var/std/cov``, ``rolling().mean``): ``transformed`` maps the
    step value (or ``(x, y)`` with ``other``) elementwise, so every non-time chunk is its own chain.
    ``post`` is applied blockwise afterwards; ``kernel`` (a whole-time-axis function) replaces the
    chain when time is in a single chunk (no state to carry, e.g. the compiled numba EWM mean).
    """
    import dask.array as da

    def cast(v: xr.DataArray, name: str) -> Any:
        data = v.data if _is_dask(v.data) else da.from_array(np.asarray(v.values), chunks=-1)
        if data.dtype.kind not in "biuf":
            raise TypeError(f"{name} has non-numeric dtype {data.dtype}")
        target = np.dtype(dtype) if dtype is not None else (data.dtype if data.dtype.kind == "f" else np.dtype(np.float64))
        if target.kind != "f":
            raise TypeError(f"dtype must be a floating dtype, got {target}")
        return data if data.dtype == target else data.astype(target)

    def one(da_: xr.DataArray, db: xr.DataArray | None, name: Any, dim: str) -> Any:
        tfirst = da_.transpose(dim, ...)
        x = cast(tfirst, f"DataArray {name!r}")
        split = tuple(range(1, x.ndim))
        if db is not None:
            try:
                da_, db = xr.align(da_, db, join="exact")
            except ValueError as err:
                raise ValueError(f"cov: {name!r} and its other do not share coordinates ({err})") from None
            y = cast(db.transpose(*tfirst.dims), f"other {name!r}")
            out, _ = dask_unroll(transformed, (x, y), split_axes=split)
        elif kernel is not None and len(x.chunks[0]) == 1:
            out = x.map_blocks(kernel, dtype=x.dtype)
        else:
            out, _ = dask_unroll(transformed, x, split_axes=split)
        if post is not None:
            out = out.map_blocks(post, dtype=out.dtype)
        if not format_outputs:
            return out
        return xr.DataArray(out, dims=tfirst.dims, coords=da_.coords, name=da_.name,
                            attrs=da_.attrs).transpose(*da_.dims)

    spec = _xarray_spec(obj, local_time)
    if isinstance(obj, xr.DataArray):
        if other is not None and not isinstance(other, xr.DataArray):
            raise TypeError(f"cov: other must be a DataArray like self, got {type(other).__name__}")
        return one(obj, other, obj.name, spec.dim)
    if other is not None:
        if not isinstance(other, xr.Dataset):
            raise TypeError(f"cov: other must be a Dataset like self, got {type(other).__name__}")
        missing = [n for n in obj.data_vars if n not in other.data_vars]
        if missing:
            raise ValueError(f"cov: variables {missing} of self are missing from other")
    results = {}
    for name, v in obj.data_vars.items():
        if spec.dim not in v.dims:
            raise ValueError(f"variable {name!r} has no {spec.dim!r} dimension to run along")
        results[name] = one(v, None if other is None else other[name], name, spec.dim)
    return xr.Dataset(results, attrs=obj.attrs) if format_outputs else results


def to_store(obj: xr.DataArray | xr.Dataset, path: str | os.PathLike, *, overwrite: bool = False,
             progress: bool = False) -> Path:
    """Compute a lazy result into a ``.zarr`` or ``.nc`` store, chunk by chunk, atomically.

    Written to ``<path>.partial`` and renamed to ``path`` only once every chunk is written, so a
    failed chunk never leaves a store that looks complete. Runs on the current dask scheduler (a
    distributed ``Client`` if one is active); ``progress`` shows ``dask.diagnostics.ProgressBar``
    (local schedulers; the distributed dashboard shows the rest).
    """
    path = Path(path)
    if path.suffix not in (".zarr", ".nc"):
        raise ValueError(f"to_store writes .zarr or .nc stores, got {str(path)!r}")
    sink = _PathSink(path, overwrite)
    ds = obj.to_dataset(name="output" if obj.name is None else obj.name) if isinstance(obj, xr.DataArray) else obj
    try:
        if progress:
            from dask.diagnostics import ProgressBar

            ctx: Any = ProgressBar()
        else:
            from contextlib import nullcontext

            ctx = nullcontext()
        with ctx:
            if path.suffix == ".zarr":
                ds.to_zarr(sink.tmp, mode="w")
            else:
                ds.to_netcdf(sink.tmp, engine="h5netcdf")
        sink._finish()
    except BaseException:
        sink.abort()
        raise
    return path


__all__ = [
    "ChunkError",
    "DEFAULT_CHUNK_BYTES",
    "check_like",
    "chunked_unroll",
    "dask_unroll",
    "is_dask_backed",
    "lazy_time_map",
    "stream_chunked",
    "stream_dask",
    "time_chunks",
    "to_store",
]
