"""A backend's window statistic (waxegg.wax.backends.window_kernel) streamed chunk by chunk.

``chunked_unroll(kernel, xs)`` and ``stream_chunked(kernel, obj)`` call the kernel once per time
chunk, carrying its state: the result equals the kernel run once on the whole input bit for bit,
for every backend that declares state (``backends_for(name, state=True)``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from waxegg.wax._params import RollingParams, ewm_params
from waxegg.wax.backends import available_backends, backends_for, window_kernel
from waxegg.wax.chunked import ChunkError, chunked_unroll, stream_chunked

#: name -> the kernel's bound arguments and options.
KERNELS = {
    "ewm_mean": ((ewm_params(alpha=0.1),), {}),
    "ewm_var": ((ewm_params(com=3.0),), {}),
    "rolling_mean": ((RollingParams(window=20, min_periods=5),), {}),
    "rolling_var": ((RollingParams(window=15, min_periods=3),), {"ddof": 1}),
    "ewm_cov": ((ewm_params(span=10.0, adjust=False),), {}),
}
CHUNKS = [97, (300, 1, 500, 200), 5000]


def _kernel(name: str, backend: str):
    if backend not in backends_for(name, state=True):
        pytest.skip(f"backend {backend!r} does not declare {name} with state")
    args, options = KERNELS[name]
    return window_kernel(name, *args, backend=backend, **options)


def _data(T=1001, N=7, dtype=np.float64, seed=0):
    x = np.random.default_rng(seed).standard_normal((T, N)).astype(dtype)
    x[:4, 0] = np.nan
    x[100:140, 1] = np.nan
    x[::13, 2] = np.nan
    return x


def _inputs(name: str, dtype) -> tuple[np.ndarray, ...]:
    x = _data(dtype=dtype)
    return (x, _data(dtype=dtype, seed=1)) if name.endswith("cov") else (x,)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # zarr 3's "consolidated metadata is not in the v3 spec" notes
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("chunk_size", CHUNKS, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("backend", available_backends())
def test_in_memory_equals_one_shot_kernel(backend, name, dtype, chunk_size):
    kernel = _kernel(name, backend)
    xs = _inputs(name, dtype)
    ref, _ = kernel(*xs)
    got, state = chunked_unroll(kernel, xs if len(xs) > 1 else xs[0], chunk_size=chunk_size)
    assert isinstance(got, np.ndarray) and got.dtype == np.dtype(dtype) and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)
    assert state is not None


@pytest.mark.parametrize("name", ["ewm_mean", "ewm_var", "rolling_mean"])
@pytest.mark.parametrize("backend", available_backends())
def test_npy_in_npy_out_equals_one_shot_kernel(tmp_path, backend, name):
    kernel = _kernel(name, backend)
    x = _data(dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    ref, _ = kernel(x)
    got, _ = chunked_unroll(kernel, tmp_path / "x.npy", chunk_size=128, out=tmp_path / "y.npy")
    assert isinstance(got, np.memmap) and got.dtype == np.float32
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), ref)
    assert not (tmp_path / "y.npy.partial").exists()


@pytest.mark.parametrize("backend", available_backends())
def test_zarr_out_equals_one_shot_kernel(tmp_path, backend):
    pytest.importorskip("zarr")
    kernel = _kernel("ewm_mean", backend)
    x = _data()
    ref, _ = kernel(x)
    got, _ = chunked_unroll(kernel, x, chunk_size=200, out=tmp_path / "y.zarr")
    np.testing.assert_array_equal(np.asarray(got[:]), ref)


@pytest.mark.parametrize("name", ["ewm_mean", "ewm_var", "rolling_mean"])
@pytest.mark.parametrize("backend", available_backends())
def test_returned_state_continues_the_stream(tmp_path, backend, name):
    kernel = _kernel(name, backend)
    x = _data()
    ref, _ = kernel(x)
    np.save(tmp_path / "tail.npy", x[450:])
    head, state = chunked_unroll(kernel, x[:450], chunk_size=100)
    tail, _ = chunked_unroll(kernel, tmp_path / "tail.npy", chunk_size=77, state=state, out=tmp_path / "y.npy")
    np.testing.assert_array_equal(np.concatenate([head, tail]), ref)


def _dataset(T=600):
    x, y = _data(T=T, N=4), _data(T=T, N=3, seed=3)[:, 1]
    time = pd.date_range("2001", periods=T, freq="min")
    return xr.Dataset({"px": (("asset", "time"), x.T.copy()), "vol": ("time", y), "w": ("asset", np.arange(4.0))},
                      coords={"time": time, "asset": np.arange(4) * 10})


@pytest.mark.parametrize("name", ["ewm_mean", "ewm_var", "rolling_mean"])
@pytest.mark.parametrize("backend", available_backends())
def test_stream_chunked_runs_each_variable_with_its_own_state(backend, name):
    kernel = _kernel(name, backend)
    ds = _dataset()
    ref = {v: kernel(ds[v].transpose("time", ...).values)[0] for v in ("px", "vol")}
    got, state = stream_chunked(kernel, ds, chunk_size=128, return_state=True)
    assert isinstance(got, xr.Dataset) and set(got.data_vars) == {"px", "vol"}  # the static w is not streamed
    assert got["px"].dims == ("asset", "time") and set(state) == {"px", "vol"}
    for v in ("px", "vol"):
        np.testing.assert_array_equal(got[v].transpose("time", ...).values, ref[v])
    # The per-variable state continues each variable.
    head, state = stream_chunked(kernel, ds.isel(time=slice(0, 250)), chunk_size=100, return_state=True)
    tail = stream_chunked(kernel, ds.isel(time=slice(250, None)), chunk_size=90, state=state)
    for v in ("px", "vol"):
        np.testing.assert_array_equal(xr.concat([head[v], tail[v]], "time").transpose("time", ...).values, ref[v])


@pytest.mark.parametrize("store", ["zarr", "nc"])
@pytest.mark.parametrize("backend", available_backends())
def test_stream_chunked_lazy_store_in_store_out(tmp_path, backend, store):
    pytest.importorskip("zarr" if store == "zarr" else "h5netcdf")
    kernel = _kernel("ewm_mean", backend)
    da = _dataset()["px"]
    if store == "zarr":
        da.to_dataset().to_zarr(tmp_path / "in.zarr")
        lazy = xr.open_zarr(tmp_path / "in.zarr")["px"]
    else:
        da.to_dataset().to_netcdf(tmp_path / "in.nc", engine="h5netcdf")
        lazy = xr.open_dataset(tmp_path / "in.nc", engine="h5netcdf", chunks={})["px"]
    # The one-shot run on the same time-first array the chunks come from: the store's chunks arrive
    # row-major while the in-memory transposed view is column-major, and the numba EWM mean's
    # column-major path differs from its row-major one in the last bit (measured: 6.7e-16).
    ref, _ = kernel(lazy.transpose("time", ...).values)
    got = stream_chunked(kernel, lazy, chunk_size=100, out=tmp_path / f"out.{store}")
    assert got.dims == da.dims
    np.testing.assert_array_equal(got.transpose("time", ...).values, ref)
    ref, _ = kernel(da.transpose("time", ...).values)
    mem = stream_chunked(kernel, da, chunk_size=64)
    assert isinstance(mem, xr.DataArray) and mem.dims == da.dims and mem.name == "px"
    np.testing.assert_array_equal(mem.transpose("time", ...).values, ref)


def test_stream_chunked_rejects_a_pairwise_kernel():
    kernel = window_kernel("ewm_cov", ewm_params(alpha=0.2), backend=available_backends()[0])
    with pytest.raises(ValueError, match="ewm_cov takes 2 input arrays"):
        stream_chunked(kernel, _dataset(), chunk_size=100)


def test_params_are_bound_in_the_kernel():
    kernel = window_kernel("ewm_mean", ewm_params(alpha=0.2), backend=available_backends()[0])
    with pytest.raises(ValueError, match="bound in the kernel"):
        chunked_unroll(kernel, _data(), params={"alpha": 0.3})


def test_wrong_number_of_inputs_raises_before_any_output():
    kernel = window_kernel("ewm_cov", ewm_params(alpha=0.2), backend=available_backends()[0])
    with pytest.raises(ValueError, match=r"ewm_cov takes 2 input array\(s\), got 1"):
        chunked_unroll(kernel, _data())


class _DtypeSwitch:
    """A time-first float32 array whose rows from ``at`` on are read as float64, as from a store
    whose later part was written in another dtype: the kernel's float32 state no longer fits."""

    def __init__(self, values: np.ndarray, at: int):
        self.values, self.at = values, at
        self.shape, self.dtype = values.shape, values.dtype

    def __getitem__(self, key: slice) -> np.ndarray:
        rows = self.values[key]
        return rows.astype(np.float64) if key.stop > self.at else rows


@pytest.mark.parametrize("backend", available_backends())
def test_a_failing_kernel_names_its_chunk_and_leaves_nothing(tmp_path, backend):
    kernel = _kernel("ewm_mean", backend)
    x = _DtypeSwitch(_data(T=300, dtype=np.float32), at=120)
    with pytest.raises(ChunkError, match=r"(?s)chunk 2 of 6 \(steps 100:150\) failed: .*nothing was left at") as info:
        chunked_unroll(kernel, x, chunk_size=50, out=tmp_path / "y.npy")
    assert isinstance(info.value.__cause__, (TypeError, ValueError))
    assert not (tmp_path / "y.npy").exists() and not (tmp_path / "y.npy.partial").exists()
