"""dask: time chunks chained through the carried state, column blocks in parallel, lazily.

:func:`dask_unroll` (dask arrays) and :func:`stream_dask` (xarray objects) build a dask graph in
which the time chunks of one column block form a chain of tasks, each starting from the state the
previous one ended with, and the column blocks of independent dimensions are separate chains;
:func:`to_store` computes a lazy result into a ``.zarr`` / ``.nc`` store atomically. (The accessors'
window statistics chain the backend's own kernels instead: :mod:`waxegg.wax.lazy`.) Nothing runs until ``.compute()``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Callable, Sequence

import haiku as hk
import jax
import numpy as np
import xarray as xr

from waxegg.wax._x64 import x64_context
from waxegg.wax.chunked.reading import XarraySpec, dask_time_chunks, is_dask, short_chunks, xarray_spec
from waxegg.wax.chunked.sinks import PathSink, leaf_names
from waxegg.wax.chunked.steps import as_with_state, first_values, scan, start, transform
from waxegg.wax.stream import Stream


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
        params, state = start(spec.t, xs, spec.rng, spec.params, spec.state)
    else:
        _, params, state = prev
    with x64_context():
        outputs, state = scan(spec.t.apply, params, state, spec.rng, xs, first_step)
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

    t = as_with_state(transformed)
    leaves, treedef = jax.tree_util.tree_flatten(xs)
    if not leaves:
        raise ValueError("xs is empty: nothing to unroll over")
    leaves = [x if is_dask(x) else da.from_array(np.asarray(x), chunks=-1) for x in leaves]
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
    dask_time_chunks(leaves, names)
    for ax in split_axes:
        for n, x in zip(names[1:], leaves[1:]):
            if x.chunks[ax] != leaves[0].chunks[ax]:
                raise ValueError(f"inputs {names[0]} and {n} differ along split axis {ax} (sizes "
                                 f"{leaves[0].shape[ax]} / {x.shape[ax]}, chunks "
                                 f"{short_chunks(leaves[0].chunks[ax])} / {short_chunks(x.chunks[ax])}); "
                                 "chunk them alike")
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
                p, s = (params, state) if params is not None and state is not None else t.init(rng, first_values(xs_))
                p = params if params is not None else p
                s = state if state is not None else s
                return scan(t.apply, p, s, rng, xs_, 0)[0]
            return jax.eval_shape(run, structs)

    block_shapes = [tuple(time_chunks_[0] if ax == 0 else x.chunks[ax][0] for ax in range(x.ndim)) for x in leaves]
    block_out = out_struct(block_shapes)
    out_leaves, out_def = jax.tree_util.tree_flatten(block_out)
    out_names = leaf_names(block_out, "output")
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


def _split_axes_for(spec: XarraySpec, split_dims: Sequence[str]) -> tuple[Any, tuple[int, ...]]:
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
        return v.data if is_dask(v.data) else da.from_array(np.asarray(v.values), chunks=-1)

    xs = data(spec.xs) if isinstance(spec.xs, xr.DataArray) else {n: data(v) for n, v in spec.xs.items()}
    return xs, tuple(range(1, len(split_dims) + 1))


def _lazy_format(spec: XarraySpec, outputs: Any, split_dims: tuple[str, ...]) -> Any:
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
    if is_dask(outputs):
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
    if not callable(fn):
        raise TypeError(f"stream_dask expects a callable, got {type(fn).__name__}")
    spec = xarray_spec(obj, local_time, stream)
    split_dims = (split_dims,) if isinstance(split_dims, str) else tuple(split_dims)
    xs, split_axes = _split_axes_for(spec, split_dims)
    outputs, final_state = dask_unroll(transform(fn, spec.statics), xs, rng, params=params, state=state,
                                       split_axes=split_axes)
    result = _lazy_format(spec, outputs, split_dims) if format_outputs else outputs
    return (result, final_state) if return_state else result


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
    sink = PathSink(path, overwrite)
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
        sink.publish()
    except BaseException:
        sink.abort()
        raise
    return path
