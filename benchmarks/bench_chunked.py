"""Chunked and dask streaming (waxegg.wax.chunked): throughput, peak memory, dask scaling.

The Haiku EWMA module (alpha=0.1) under ``lax.scan``, float32, as asv suites (small sizes by
default) and as a script that prints the issue's numbers as JSON:

    PYTHONPATH=library python benchmarks/bench_chunked.py            # small sizes, seconds
    WAXEGG_BENCH_CHUNKED_BIG=1 PYTHONPATH=library python benchmarks/bench_chunked.py
        # T = 1e6 and 1e7 x N = 500 float32 (up to 20 GB in + 20 GB out on disk), dask at 1e6 x 1000

Peak RSS is the whole process' high-water mark (``VmHWM``) of a fresh subprocess that streams a
``.npy`` file into another chunk by chunk; the files are written in chunks too (never whole in
memory), free disk is checked first, and every file is removed afterwards.

A backend's own EWM mean kernel (``window_kernel("ewm_mean", ...)``, the numba backend when it
declares state) streamed ``.npy`` -> ``.npy`` by ``chunked_unroll``, against the same kernel on the
whole array in memory, in the same process: T = 2e5 x N = 100 float32 by default, the issue's
4e6 x 100 (1.6 GB in + 1.6 GB out on disk) with ``WAXEGG_ASV_BIG=1``; its numbers alone:

    PYTHONPATH=library python benchmarks/bench_chunked.py kernel
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

BIG = os.environ.get("WAXEGG_BENCH_CHUNKED_BIG", "0") == "1"
N_COLS = 500
RSS_SIZES = [1_000_000, 10_000_000] if BIG else [100_000, 300_000]
THROUGHPUT_T = 1_000_000 if BIG else 100_000
DASK_SIZE = (1_000_000, 1000) if BIG else (100_000, 200)
CHUNK_ROWS = 32_768  # 64 MiB of float32 input per chunk at N=500 (DEFAULT_CHUNK_BYTES)
SCRATCH = Path(os.environ.get("WAXEGG_BENCH_SCRATCH", tempfile.gettempdir()))
KERNEL_SIZE = (4_000_000, 100) if os.environ.get("WAXEGG_ASV_BIG", "0") not in ("", "0") else (200_000, 100)


def _ewma_transform():
    import haiku as hk

    from waxegg.wax import EWMA

    return hk.transform_with_state(lambda x: EWMA(alpha=0.1)(x))


def _data(T: int, N: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((T, N), dtype=np.float32)


def write_npy(path: Path, T: int, N: int, rows: int = 262_144) -> None:
    """A seeded float32 ``(T, N)`` ``.npy`` written block by block (bounded memory)."""
    header = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(T, N))
    offset = header.offset
    del header
    rng = np.random.default_rng(0)
    with open(path, "r+b") as f:
        for a in range(0, T, rows):
            block = rng.standard_normal((min(rows, T - a), N), dtype=np.float32)
            f.seek(offset + a * N * 4)
            f.write(block.tobytes())


def _free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


# --------------------------------------------------------------------------------------------
# asv: chunked vs in-memory throughput
# --------------------------------------------------------------------------------------------

class ChunkedThroughput:
    """``dynamic_unroll`` in one shot vs ``chunked_unroll`` (in memory, and ``.npy`` -> ``.npy``)."""

    params = [THROUGHPUT_T]
    param_names = ["T"]
    timeout = 900

    def setup(self, T):
        from waxegg.wax import dynamic_unroll
        from waxegg.wax.chunked import chunked_unroll

        self.t = _ewma_transform()
        self.x = _data(T, N_COLS)
        SCRATCH.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(dir=SCRATCH, prefix="wax-chunked-"))
        np.save(self.dir / "x.npy", self.x)
        self.one_shot = lambda: np.asarray(dynamic_unroll(self.t, self.x)[0])
        self.chunked = lambda: chunked_unroll(self.t, self.x, chunk_size=CHUNK_ROWS)[0]
        self.chunked_npy = lambda: chunked_unroll(self.t, self.dir / "x.npy", chunk_size=CHUNK_ROWS,
                                                  out=self.dir / "y.npy", overwrite=True)[0]
        for fn in (self.one_shot, self.chunked, self.chunked_npy):  # compile every chunk length
            fn()

    def teardown(self, T):
        shutil.rmtree(self.dir, ignore_errors=True)

    def time_copy(self, T):
        self.x.copy()

    def time_one_shot(self, T):
        self.one_shot()

    def time_chunked_in_memory(self, T):
        self.chunked()

    def time_chunked_npy_to_npy(self, T):
        self.chunked_npy()


# --------------------------------------------------------------------------------------------
# A backend's EWM mean kernel: .npy -> .npy chunk by chunk vs the whole array in memory
# --------------------------------------------------------------------------------------------

def kernel_backend() -> str:
    """The backend streamed: the default one if it declares state for ``ewm_mean``, else the first that does."""
    from waxegg.wax.backends import DEFAULT_BACKEND, backends_for

    found = backends_for("ewm_mean", state=True)
    if not found:
        raise NotImplementedError("no backend declares ewm_mean with state")
    return DEFAULT_BACKEND if DEFAULT_BACKEND in found else found[0]


class KernelChunkedThroughput:
    """``chunked_unroll(window_kernel("ewm_mean", ...), x.npy, out=y.npy)`` vs the kernel on ``x`` in memory."""

    params = [[f"{KERNEL_SIZE[0]}x{KERNEL_SIZE[1]}"]]
    param_names = ["size"]
    timeout = 1800

    def setup(self, size):
        from waxegg.wax._params import ewm_params
        from waxegg.wax.backends import window_kernel
        from waxegg.wax.chunked import chunked_unroll

        T, N = (int(v) for v in size.split("x"))
        need = 2 * T * N * 4 + 2**30
        SCRATCH.mkdir(parents=True, exist_ok=True)
        if _free_bytes(SCRATCH) < need:
            raise NotImplementedError(f"needs {need / 2**30:.1f} GiB free under {SCRATCH}")
        self.dir = Path(tempfile.mkdtemp(dir=SCRATCH, prefix="wax-kernel-"))
        write_npy(self.dir / "x.npy", T, N)
        self.kernel = window_kernel("ewm_mean", ewm_params(alpha=0.1), backend=kernel_backend())
        self.kernel(np.zeros((64, N), np.float32))  # compile (a cached numba kernel only loads)
        self.x = np.load(self.dir / "x.npy")
        self.in_memory = lambda: self.kernel(self.x)[0]
        self.chunked_npy = lambda: chunked_unroll(self.kernel, self.dir / "x.npy", out=self.dir / "y.npy",
                                                  overwrite=True)[0]
        self.chunk_bytes = _chunk_rows(T, N) * N * 4
        self.chunked_npy()  # the output file's pages exist: every timed run overwrites the same file

    def teardown(self, size):
        shutil.rmtree(self.dir, ignore_errors=True)

    def time_kernel_in_memory(self, size):
        self.in_memory()

    def time_kernel_chunked_npy_to_npy(self, size):
        self.chunked_npy()

    def track_chunked_rss_growth_in_chunks(self, size):
        from waxegg.bench.timers import time_once

        return time_once(self.chunked_npy).peak_bytes / self.chunk_bytes

    track_chunked_rss_growth_in_chunks.unit = "chunks"


def _chunk_rows(T: int, N: int) -> int:
    from waxegg.wax.chunked import DEFAULT_CHUNK_BYTES

    return max(1, min(T, DEFAULT_CHUNK_BYTES // (N * 4)))


def kernel_report(size: tuple[int, int] = KERNEL_SIZE, repeats: int = 3) -> dict:
    """Throughput of the streamed and the in-memory kernel (best of ``repeats``, interleaved), their
    ratio, and the peak RSS growth of the streamed run (bytes above the process' RSS before it)."""
    from waxegg.bench.timers import time_once

    T, N = size
    bench = KernelChunkedThroughput()
    bench.setup(f"{T}x{N}")
    try:
        ref = bench.in_memory()
        assert np.array_equal(np.asarray(bench.chunked_npy()), ref, equal_nan=True)
        del ref
        seconds: dict[str, list[float]] = {"in_memory": [], "chunked_npy_to_npy": []}
        growth = []
        for _ in range(repeats):  # interleaved: both sides see the same load on a shared machine
            seconds["in_memory"].append(time_once(bench.in_memory, memory=False).seconds)
            sample = time_once(bench.chunked_npy)
            seconds["chunked_npy_to_npy"].append(sample.seconds)
            growth.append(sample.peak_bytes)
    finally:
        bench.teardown(f"{T}x{N}")
    best = {k: min(v) for k, v in seconds.items()}
    bytes_in = T * N * 4
    return dict(T=T, N=N, dtype="float32", backend=bench.kernel.backend.name, bytes_in=bytes_in,
                chunk_bytes=bench.chunk_bytes, seconds=seconds,
                in_memory_gb_s=bytes_in / best["in_memory"] / 1e9,
                chunked_gb_s=bytes_in / best["chunked_npy_to_npy"] / 1e9,
                chunked_over_in_memory=best["chunked_npy_to_npy"] / best["in_memory"],
                chunked_rss_growth_bytes=max(growth), chunked_rss_growth_chunks=max(growth) / bench.chunk_bytes)


# --------------------------------------------------------------------------------------------
# Peak RSS of a fresh process streaming .npy -> .npy
# --------------------------------------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import json, re, sys, time
    from pathlib import Path
    import haiku as hk
    from waxegg.wax import EWMA
    from waxegg.wax.chunked import chunked_unroll
    src, dst, rows = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    t = hk.transform_with_state(lambda x: EWMA(alpha=0.1)(x))
    t0 = time.perf_counter()
    out, _ = chunked_unroll(t, src, chunk_size=rows, out=dst)
    seconds = time.perf_counter() - t0
    hwm = int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) * 1024
    print(json.dumps(dict(seconds=seconds, peak_rss=hwm, last_row_finite=bool((out[-1] == out[-1]).all()))))
""")


def peak_rss_run(T: int, N: int = N_COLS, rows: int = CHUNK_ROWS) -> dict:
    """Write ``(T, N)`` float32 to disk, stream it in a fresh process, return its peak RSS and time."""
    need = 2 * T * N * 4 + 2 * 2**30
    SCRATCH.mkdir(parents=True, exist_ok=True)
    if _free_bytes(SCRATCH) < need:
        raise NotImplementedError(f"needs {need / 2**30:.1f} GiB free under {SCRATCH}, "
                                  f"has {_free_bytes(SCRATCH) / 2**30:.1f}")
    work = Path(tempfile.mkdtemp(dir=SCRATCH, prefix="wax-rss-"))
    try:
        t0 = time.perf_counter()
        write_npy(work / "x.npy", T, N)
        write_s = time.perf_counter() - t0
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1] / "library"),
                                                           os.environ.get("PYTHONPATH", "")]))
        run = subprocess.run([sys.executable, "-c", _CHILD, str(work / "x.npy"), str(work / "y.npy"), str(rows)],
                             env=env, check=True, capture_output=True, text=True)
        result = json.loads(run.stdout.strip().splitlines()[-1])
        result.update(T=T, N=N, dtype="float32", chunk_rows=rows, bytes_in=T * N * 4, write_input_s=write_s)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


class PeakRSS:
    """Peak RSS of the whole streaming process, flat in T (bytes)."""

    params = [RSS_SIZES]
    param_names = ["T"]
    timeout = 3600

    def track_peak_rss(self, T):
        return peak_rss_run(T)["peak_rss"]

    track_peak_rss.unit = "bytes"


# --------------------------------------------------------------------------------------------
# dask: 1 vs 2 local worker processes
# --------------------------------------------------------------------------------------------

def _ewma_step(v):
    from waxegg.wax import EWMA  # imported on the worker (cloudpickle ships this function by value)

    return EWMA(alpha=0.1)(v)


def dask_run(n_workers: int, T: int, N: int) -> float:
    """Seconds to compute the EWMA of a seeded ``(T, N)`` float32 dask array on ``n_workers``."""
    import dask.array as da
    import distributed
    import xarray as xr

    from waxegg.wax.chunked import stream_dask

    x = da.random.default_rng(0).standard_normal((T, N), dtype=np.float32, chunks=(max(T // 8, 1), N // 4))
    lazy = xr.DataArray(x, dims=("time", "asset"), name="px")
    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None, memory_limit="6GiB") as cluster, \
            distributed.Client(cluster):
        out = stream_dask(_ewma_step, lazy, split_dims="asset")
        # Warm-up on a small slice compiles the scan on every worker; the timed run is steady state.
        stream_dask(_ewma_step, lazy.isel(time=slice(0, 64)), split_dims="asset").sum().compute()
        t0 = time.perf_counter()
        total = float(out.sum().compute())  # every block computed, one number comes back
        seconds = time.perf_counter() - t0
    assert np.isfinite(total)
    return seconds


def _dask_run_fresh(n_workers: int, T: int, N: int) -> float:
    """:func:`dask_run` in a fresh interpreter.

    asv runs benchmarks in processes forked from a server that already imported JAX; worker
    processes of a LocalCluster started from there never came up (the run hung for minutes), so
    the cluster gets a clean parent of its own.
    """
    import subprocess
    import sys

    code = f"import runpy; print(runpy.run_path({str(Path(__file__).resolve())!r})['dask_run']({n_workers}, {T}, {N}))"
    # The child sees what this process imports from (asv may add the package through sys.path only).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1500, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"dask_run({n_workers}, {T}, {N}) failed in a fresh interpreter:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


class DaskScaling:
    """Speed-up of 2 local worker processes over 1 (the scan per column block runs in parallel)."""

    params = [[f"{DASK_SIZE[0]}x{DASK_SIZE[1]}"]]
    param_names = ["size"]
    timeout = 1800

    def track_speedup_2_over_1(self, size):
        T, N = (int(v) for v in size.split("x"))
        return _dask_run_fresh(1, T, N) / _dask_run_fresh(2, T, N)

    track_speedup_2_over_1.unit = "x"


def main() -> None:
    from waxegg.bench.timers import time_once
    import jax

    report: dict = {"big": BIG, "jax": jax.__version__, "dtype": "float32", "N": N_COLS, "chunk_rows": CHUNK_ROWS}
    bench = ChunkedThroughput()
    bench.setup(THROUGHPUT_T)
    try:
        ref = bench.one_shot()
        assert np.array_equal(bench.chunked(), ref, equal_nan=True)
        assert np.array_equal(bench.chunked_npy(), ref, equal_nan=True)
        # Interleaved best-of-5 (the machine is shared: a ratio is only fair if both sides see the same load).
        runs = [("copy", bench.x.copy), ("one_shot", bench.one_shot),
                ("chunked_in_memory", bench.chunked), ("chunked_npy_to_npy", bench.chunked_npy)]
        timings = {name: [] for name, _ in runs}
        for _ in range(5):
            for name, fn in runs:
                timings[name].append(time_once(fn, memory=False).seconds)
        timings = {name: min(v) for name, v in timings.items()}
    finally:
        bench.teardown(THROUGHPUT_T)
    report["throughput"] = dict(T=THROUGHPUT_T, seconds=timings,
                                chunked_over_one_shot=timings["chunked_in_memory"] / timings["one_shot"],
                                npy_over_one_shot=timings["chunked_npy_to_npy"] / timings["one_shot"])
    print(json.dumps(report["throughput"]), flush=True)
    report["peak_rss"] = []
    for T in RSS_SIZES:
        r = peak_rss_run(T)
        report["peak_rss"].append(r)
        print(json.dumps(r), flush=True)
    report["kernel"] = kernel_report()
    print(json.dumps(report["kernel"]), flush=True)
    T, N = DASK_SIZE
    one, two = dask_run(1, T, N), dask_run(2, T, N)
    report["dask"] = dict(T=T, N=N, one_worker_s=one, two_workers_s=two, speedup=one / two)
    print(json.dumps(report["dask"]), flush=True)
    out = os.environ.get("WAXEGG_BENCH_OUT")
    if out:
        Path(out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    if sys.argv[1:] == ["kernel"]:
        print(json.dumps(kernel_report(), indent=2))
    else:
        main()
