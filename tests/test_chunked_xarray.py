"""stream_chunked: xarray objects opened lazily from zarr / netCDF, outputs written chunk by chunk."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from waxegg.wax import EWMA
from waxegg.wax.chunked import stream_chunked
from waxegg.wax.modules import EWMVar

pytest.importorskip("zarr")
pytest.importorskip("h5netcdf")


def ewma(x):
    return EWMA(alpha=0.1)(x)


def _dataarray(T=300, N=4, dtype=np.float64):
    x = np.random.default_rng(1).standard_normal((T, N)).astype(dtype)
    x[:5, 0] = np.nan
    return xr.DataArray(x, dims=("time", "asset"), name="px",
                        coords={"time": pd.date_range("2001", periods=T, freq="min"), "asset": np.arange(N) * 10})


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # zarr 3's "consolidated metadata is not in the v3 spec" notes
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("store, chunk_size", [("zarr", None), ("nc", 64)])
def test_lazy_store_in_store_out_equals_in_memory_apply(tmp_path, store, chunk_size):
    da = _dataarray(dtype=np.float32)
    ref = da.wax.stream(return_state=False).apply(ewma)
    src = tmp_path / f"in.{store}"
    if store == "zarr":
        da.to_dataset().to_zarr(src, encoding={"px": {"chunks": (100, 4)}})
        lazy = xr.open_zarr(src)["px"]
    else:
        da.to_dataset().to_netcdf(src, engine="h5netcdf")
        lazy = xr.open_dataset(src, engine="h5netcdf", chunks={})["px"]
    got = stream_chunked(ewma, lazy, chunk_size=chunk_size, out=tmp_path / f"out.{store}")
    assert got.chunks is not None  # opened lazily from the store
    assert got.dtype == np.float32 and got.dims == ("time", "asset")
    np.testing.assert_array_equal(got.values, ref.values)
    xr.testing.assert_identical(got.time, da.time)
    np.testing.assert_array_equal(got.asset.values, da.asset.values)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"in.{store}", f"out.{store}"])


def test_in_memory_result_is_formatted_like_apply(tmp_path):
    da = _dataarray().transpose("asset", "time")  # time last: results come back in the input's layout
    got, state = stream_chunked(ewma, da.chunk({"time": 70}), return_state=True)
    ref, ref_state = da.wax.stream(local_time="time").apply(ewma, return_state=True)
    xr.testing.assert_identical(got, ref)
    np.testing.assert_array_equal(np.asarray(state["ewma"]["mean"]), np.asarray(ref_state["ewma"]["mean"]))


def test_dataset_with_static_and_dict_outputs(tmp_path):
    da = _dataarray(T=200)
    ds = xr.Dataset({"px": da, "vol": da * 2.0, "weight": ("asset", np.linspace(0.5, 2.0, 4))})

    def fn(step):
        return {"px": EWMA(alpha=0.2)(step["px"] * step["weight"]), "vol": EWMVar(com=2.0)(step["vol"])}

    ref = ds.wax.stream(return_state=False).apply(fn)
    ds.to_zarr(tmp_path / "in.zarr", encoding={"px": {"chunks": (50, 4)}, "vol": {"chunks": (50, 4)}})
    got = stream_chunked(fn, xr.open_zarr(tmp_path / "in.zarr"), out=tmp_path / "out.zarr")
    assert isinstance(got, xr.Dataset) and set(got.data_vars) == {"px", "vol"}
    for name in ("px", "vol"):
        np.testing.assert_array_equal(got[name].values, ref[name].values)  # bit for bit


def test_variables_chunked_inconsistently_along_time(tmp_path):
    da = _dataarray(T=100)
    ds = xr.Dataset({"a": da.chunk({"time": 50}), "b": (da * 2).chunk({"time": 30})})
    with pytest.raises(ValueError, match="inputs a and b are chunked differently along time"):
        stream_chunked(lambda s: s["a"] + s["b"], ds)


def test_secondary_time_dimension_is_refused():
    ds = xr.Dataset({"a": _dataarray(T=10),
                     "daily": ("day", np.arange(3.0))}, coords={"day": pd.date_range("2001", periods=3)})
    with pytest.raises(NotImplementedError, match=r"secondary time dimensions \['day'\]"):
        stream_chunked(lambda s: s["a"], ds, local_time="time")


def test_existing_output_and_bad_suffix(tmp_path):
    da = _dataarray(T=20)
    (tmp_path / "out.zarr").mkdir()
    with pytest.raises(FileExistsError, match="out.zarr"):
        stream_chunked(ewma, da, out=tmp_path / "out.zarr")
    with pytest.raises(ValueError, match="writes .zarr or .nc stores"):
        stream_chunked(ewma, da, out=tmp_path / "out.csv")
