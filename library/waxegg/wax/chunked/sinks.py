"""Where output chunks go: memory, a ``.npy`` file, zarr arrays, or an xarray ``.zarr`` / ``.nc`` store.

Every sink follows one protocol, :class:`Sink`; the chunk loop (:mod:`.loop`) knows nothing else
about it. Sinks writing to a path write to ``<path>.partial`` and rename it to ``<path>`` only on
:meth:`Sink.commit`, so a failed run never leaves an output that looks complete.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Protocol

import jax
import numpy as np
import xarray as xr

from waxegg.wax.chunked.reading import XarraySpec


class Sink(Protocol):
    """Receives the outputs of a chunked run, chunk after chunk, in time order.

    ``open`` is called once, with the first chunk's outputs, before any ``write``; then ``write``
    once per chunk; then ``commit`` once on success (its return value is the run's result), or
    ``abort`` once on failure (after which nothing is left at :attr:`path`).

    Attributes
    ----------
    path : Path or None
        Where the output ends up (``None`` for memory); named in a failed chunk's error.
    """

    path: Path | None

    def open(self, T: int, first: list[np.ndarray], treedef: Any, chunk_len: int) -> None:
        """Prepare for ``T`` steps of outputs shaped like ``first`` (the flattened leaves of the
        first chunk's outputs, pytree structure ``treedef``), stored in ``chunk_len``-step chunks."""

    def write(self, a: int, b: int, values: list[np.ndarray]) -> None:
        """Store the output leaves of steps ``a:b`` (each time-first, ``b - a`` steps)."""

    def commit(self) -> Any:
        """Finish, and return the result: arrays in memory, or the output opened from ``path``."""

    def abort(self) -> None:
        """Discard everything written so far."""


def leaf_names(tree: Any, default: str) -> list[str]:
    """One name per leaf of ``tree``, from its pytree keys (``default`` for a bare leaf), unique."""
    names = []
    for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]:
        parts = [str(getattr(k, "key", getattr(k, "idx", getattr(k, "name", k)))) for k in path]
        names.append("/".join(parts) or default)
    if len(set(names)) != len(names):
        names = [f"{default}_{i}" for i in range(len(names))]
    return [n.replace("/", "_") for n in names]


class MemorySink:
    """Outputs as numpy arrays in memory, in the outputs' pytree structure."""

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


class PathSink:
    """The atomic part of a sink writing to ``path``: everything goes to :attr:`tmp`
    (``<path>.partial``); :meth:`publish` renames it to ``path``, :meth:`abort` removes it."""

    def __init__(self, path: Path, overwrite: bool):
        if path.exists() and not overwrite:
            raise FileExistsError(f"output {str(path)!r} exists; pass overwrite=True to replace it")
        self.path = path
        self.tmp = path.with_name(path.name + ".partial")
        _remove(self.tmp)

    def publish(self) -> None:
        """Replace ``path`` with the complete ``tmp``."""
        _remove(self.path)
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.close()
        _remove(self.tmp)

    def close(self) -> None:
        """Release open files (subclasses that hold some)."""


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


class NpySink(PathSink):
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
        self.publish()
        return np.load(self.path, mmap_mode="r")


class ZarrArraysSink(PathSink):
    """Every output leaf as an array of a zarr group (names from the output's pytree keys)."""

    def open(self, T: int, first: list[np.ndarray], treedef: Any, chunk_len: int) -> None:
        import zarr

        self.treedef = treedef
        self.names = leaf_names(jax.tree_util.tree_unflatten(treedef, first), "output")
        group = zarr.open_group(self.tmp, mode="w")
        self.arrays = [group.create_array(n, shape=(T,) + v.shape[1:], dtype=v.dtype,
                                          chunks=(chunk_len,) + v.shape[1:])
                       for n, v in zip(self.names, first)]

    def write(self, a: int, b: int, values: list[np.ndarray]) -> None:
        for arr, v in zip(self.arrays, values):
            arr[a:b] = v

    def commit(self) -> Any:
        import zarr

        self.publish()
        group = zarr.open_group(self.path, mode="r")
        return jax.tree_util.tree_unflatten(self.treedef, [group[n] for n in self.names])


def array_sink(out: Any, overwrite: bool) -> Sink:
    """The sink of :func:`~waxegg.wax.chunked.chunked_unroll`'s ``out``: memory, ``.npy`` or ``.zarr``."""
    if out is None:
        return MemorySink()
    path = Path(out)
    if path.suffix == ".npy":
        return NpySink(path, overwrite)
    if path.suffix == ".zarr":
        return ZarrArraysSink(path, overwrite)
    raise ValueError(f"out={str(out)!r}: chunked_unroll writes .npy or .zarr (stream_chunked also writes .nc)")


class XarrayStoreSink(PathSink):
    """Outputs as variables of a ``.zarr`` or ``.nc`` store (dims and coordinates from the input)."""

    def __init__(self, path: Path, overwrite: bool, spec: XarraySpec):
        super().__init__(path, overwrite)
        self.spec = spec
        self.engine = "zarr" if path.suffix == ".zarr" else "h5netcdf"

    def open(self, T: int, first: list[np.ndarray], treedef: Any, chunk_len: int) -> None:
        import dask.array as da

        self.treedef = treedef
        tree = jax.tree_util.tree_unflatten(treedef, first)
        default = "output" if not isinstance(self.spec.obj, xr.DataArray) or self.spec.obj.name is None \
            else str(self.spec.obj.name)
        self.names = leaf_names(tree, default)
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
        self.publish()
        if self.engine == "zarr":
            ds = xr.open_zarr(self.path)
        else:
            ds = xr.open_dataset(self.path, engine="h5netcdf", chunks={})
        return _restore_layout(self.spec, ds, self.treedef, self.names, self.dims)


def _coords_for(spec: XarraySpec, dims: set[str]) -> dict[str, Any]:
    return {d: spec.obj[d].values for d in dims if d in spec.obj.coords and spec.obj[d].dims == (d,)}


def _restore_layout(spec: XarraySpec, ds: xr.Dataset, treedef: Any, names: list[str], dims: list[tuple]) -> Any:
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
