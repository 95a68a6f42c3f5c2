"""The single-machine chunk loop: :func:`chunked_unroll` (arrays) and :func:`stream_chunked` (xarray).

One loop (:func:`_run_chunks`) reads a time chunk of every input (:mod:`.reading`), runs it --
a Haiku transform scanned from the carried ``(params, state)`` and step count (:mod:`.steps`), or
a backend's :class:`~waxegg.wax.backends.WindowKernel` continuing from the state its previous
call returned -- and hands the outputs to a :class:`~waxegg.wax.chunked.sinks.Sink`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import haiku as hk
import jax
import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from waxegg.wax._x64 import x64_context
from waxegg.wax.backends import WindowKernel
from waxegg.wax.chunked.reading import (auto_chunk, dask_time_chunks, length, open_leaf, read_rows, release_rows,
                                        time_chunks, xarray_spec)
from waxegg.wax.chunked.sinks import MemorySink, Sink, XarrayStoreSink, array_sink
from waxegg.wax.chunked.steps import as_with_state, scan, start, transform
from waxegg.wax.format import format_like_dataarray, format_like_dataset


class ChunkError(RuntimeError):
    """A time chunk failed; the message names the chunk and its steps. Nothing was left at ``out``."""


def _kernel_states(kernel: WindowKernel, treedef: Any, state: Any) -> list[Any]:
    """One state per input leaf (``None``: start fresh) from ``state`` laid out like the inputs."""
    if state is None:
        return [None] * treedef.num_leaves
    try:
        return treedef.flatten_up_to(state)
    except (TypeError, ValueError) as err:
        raise ValueError(f"state for {kernel.name} must hold one state per input variable, laid out like the "
                         f"inputs ({treedef}), as a previous run returned it: {err}") from None


def _run_chunks(t: hk.TransformedWithState | WindowKernel, xs: Any, rng: Any, params: Any, state: Any,
                bounds: list[tuple[int, int]], sink: Sink, pbar: bool, desc: str,
                each_leaf: bool = False) -> tuple[Any, Any]:
    """Run ``t`` over the ``bounds`` time chunks of ``xs`` into ``sink``; ``(sink.commit(), state)``.

    A :class:`WindowKernel` takes every input leaf at once (``n_inputs`` of them), or with
    ``each_leaf`` (a one-input kernel) is called once per leaf and chunk, with a state per leaf
    laid out like ``xs``.
    """
    leaves, treedef = jax.tree_util.tree_flatten(xs)
    T = bounds[-1][1]
    first = jax.tree_util.tree_unflatten(treedef, [read_rows(x, *bounds[0]) for x in leaves])
    window = isinstance(t, WindowKernel)  # a backend's statistic: its own kernel, state carried
    if window:
        if params is not None:
            raise ValueError(f"params= is for Haiku transforms; {t.name}'s parameters are bound in the kernel "
                             "(window_kernel(name, params))")
        if each_leaf:
            if t.n_inputs != 1:
                raise ValueError(f"{t.name} takes {t.n_inputs} input arrays; a variable at a time gives it one")
            states = _kernel_states(t, treedef, state)  # a bad state raises here, before any output
        elif len(leaves) != t.n_inputs:
            raise ValueError(f"{t.name} takes {t.n_inputs} input array(s), got {len(leaves)}")
    else:
        params, state = start(t, first, rng, params, state)  # bad params / state raise here, before any output
    opened = False
    bar = tqdm(total=len(bounds), desc=desc, unit="chunk", disable=not pbar)
    i, a, b = 0, *bounds[0]
    try:
        with bar:
            for i, (a, b) in enumerate(bounds):
                chunk = first if i == 0 else jax.tree_util.tree_unflatten(treedef, [read_rows(x, a, b) for x in leaves])
                first = None
                if window and each_leaf:
                    done = [t(v, state=s) for v, s in zip(jax.tree_util.tree_leaves(chunk), states)]
                    states = [s for _, s in done]
                    outputs = jax.tree_util.tree_unflatten(treedef, [o for o, _ in done])
                    state = jax.tree_util.tree_unflatten(treedef, states)
                    del done
                elif window:
                    outputs, state = t(*jax.tree_util.tree_leaves(chunk), state=state)
                else:
                    with x64_context():
                        outputs, state = scan(t.apply, params, state, rng, chunk, a)
                values, out_def = jax.tree_util.tree_flatten(outputs)
                values = [np.asarray(v) for v in values]
                if not opened:
                    sink.open(T, values, out_def, b - a)
                    opened = True
                sink.write(a, b, values)
                del chunk, outputs, values
                for x in leaves:
                    release_rows(x, a, b)
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
    with, and the step count (folded into ``rng``) carries on. With a :class:`WindowKernel`, equal
    bit for bit to the kernel run once on the whole input.

    Parameters
    ----------
    transformed : hk.TransformedWithState or WindowKernel
        A Haiku transform, or a backend's window statistic
        (:func:`waxegg.wax.backends.window_kernel`, e.g. the numba EWM mean): its own compiled
        kernel runs on each chunk, continuing from the state the previous chunk returned. A kernel
        takes ``kernel.n_inputs`` input leaves (``x``, or ``(x, y)`` for a pairwise statistic).
    xs : pytree of time-first arrays
        numpy arrays, ``numpy.memmap``, paths of ``.npy`` files, zarr / h5py arrays, dask arrays or
        time-first xarray DataArrays (read lazily, one chunk at a time). Numeric or datetime.
    rng : jax PRNG key, optional
    chunk_size : int or sequence of int, optional
        Steps per chunk, or the length of every chunk. Default: the inputs' dask chunks along time,
        else about :data:`DEFAULT_CHUNK_BYTES` of input per chunk.
    params, state : optional
        Start from these (e.g. the ``state`` a previous call returned); checked against the module.
        A kernel takes only ``state`` (its own, as it returned it).
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
    t = transformed if isinstance(transformed, WindowKernel) else as_with_state(transformed)
    xs = jax.tree_util.tree_map(open_leaf, xs, is_leaf=lambda x: isinstance(x, (str, os.PathLike)))
    paths_leaves = jax.tree_util.tree_flatten_with_path(xs, is_leaf=lambda x: isinstance(x, xr.DataArray))[0]
    if not paths_leaves:
        raise ValueError("xs is empty: nothing to unroll over")
    names = [jax.tree_util.keystr(p) or "xs" for p, _ in paths_leaves]
    leaves = [x for _, x in paths_leaves]
    lengths = {n: length(x, n) for n, x in zip(names, leaves)}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"every input needs the same number of steps, got {lengths}")
    T = next(iter(lengths.values()))
    if T == 0:
        raise ValueError("xs has zero steps: nothing to unroll over")
    if chunk_size is None:
        chunk_size = dask_time_chunks(leaves, names) or auto_chunk(leaves, T)
    bounds = time_chunks(T, chunk_size)
    return _run_chunks(t, xs, rng, params, state, bounds, array_sink(out, overwrite), pbar, "wax chunks")


def stream_chunked(
    fn: Callable | WindowKernel,
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
    fn : callable or WindowKernel
        Haiku-style step function, or a one-input backend statistic
        (:func:`waxegg.wax.backends.window_kernel`): called once per time chunk of each variable
        that runs along time (statics are left out), continuing that variable's state; the state
        is then ``{variable: state}`` for a Dataset (one state for a DataArray).
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
    window = isinstance(fn, WindowKernel)
    if not window and not callable(fn):
        raise TypeError(f"stream_chunked expects a callable, got {type(fn).__name__}")
    spec = xarray_spec(obj, local_time)
    leaves = [spec.xs] if isinstance(spec.xs, xr.DataArray) else list(spec.xs.values())
    names = [str(obj.name)] if isinstance(spec.xs, xr.DataArray) else list(spec.xs)
    T = obj.sizes[spec.dim]
    if T == 0:
        raise ValueError(f"cannot stream over an empty time dimension {spec.dim!r}")
    if chunk_size is None:
        chunk_size = dask_time_chunks(leaves, names) or auto_chunk(leaves, T)
    bounds = time_chunks(T, chunk_size)
    if out is None:
        sink: Sink = MemorySink()
    else:
        path = Path(out)
        if path.suffix not in (".zarr", ".nc"):
            raise ValueError(f"out={str(out)!r}: stream_chunked writes .zarr or .nc stores")
        sink = XarrayStoreSink(path, overwrite, spec)
    t = fn if window else transform(fn, spec.statics)
    result, state = _run_chunks(t, spec.xs, rng, params, state, bounds, sink, pbar, f"wax chunks ({spec.dim})",
                                each_leaf=window)
    if out is None and format_outputs:
        if isinstance(obj, xr.DataArray):
            result = format_like_dataarray(obj, spec.dim, result)
        else:
            result = format_like_dataset(obj, spec.dim, result)
    return (result, state) if return_state else result
