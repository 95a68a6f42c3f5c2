"""Streaming beyond one machine's memory: time chunks chained through the carried module state.

A WAX computation is a stateful step function scanned over time, so a long stream can be cut into
time chunks as long as each chunk starts from the state (and parameters) the previous one ended
with, and the step counter (which seeds per-step random keys) carries on. The results are then
those of the one-shot :func:`~waxegg.wax.unroll.dynamic_unroll`, and memory is bounded by the
chunk size whatever the length of the stream. A backend's window statistic
(:func:`waxegg.wax.backends.window_kernel`, e.g. the numba EWM mean) streams the same way: its
compiled kernel runs on each chunk from the state the previous chunk returned.

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

Layout
------
The names below are the public surface. The modules of the package, one job each, are internal:
their public names are shared between them and may change without notice.

- :mod:`.reading` -- chunk boundaries (:func:`time_chunks`, dask time chunks), opening inputs,
  reading a time slice, giving memory-mapped pages back; how an xarray object streams.
- :mod:`.sinks` -- where output chunks go (memory, ``.npy``, zarr arrays, xarray ``.zarr`` /
  ``.nc``), all behind one protocol, :class:`~waxegg.wax.chunked.sinks.Sink`.
- :mod:`.steps` -- a Haiku transform's ``(params, state)`` at the first chunk and the scan of a
  chunk (:func:`check_like`); what the package takes from :mod:`waxegg.wax.unroll` and ``stream``.
- :mod:`.loop` -- the single-machine chunk loop (:func:`chunked_unroll`, :func:`stream_chunked`).
- :mod:`.graph` -- the dask graph (:func:`dask_unroll`, :func:`stream_dask`, :func:`to_store`).

Layers point one way: ``steps`` <- ``reading`` <- ``sinks`` <- ``loop`` / ``graph``.
"""

from __future__ import annotations

from waxegg.wax.chunked.graph import dask_unroll, stream_dask, to_store
from waxegg.wax.chunked.loop import ChunkError, chunked_unroll, stream_chunked
from waxegg.wax.chunked.reading import DEFAULT_CHUNK_BYTES, is_dask_backed, time_chunks
from waxegg.wax.chunked.steps import check_like

__all__ = [
    "ChunkError",
    "DEFAULT_CHUNK_BYTES",
    "check_like",
    "chunked_unroll",
    "dask_unroll",
    "is_dask_backed",
    "stream_chunked",
    "stream_dask",
    "time_chunks",
    "to_store",
]
