"""format_dataarray / format_dataset (waxegg.wax.format): raw outputs back into xarray, checked against
xarray objects built directly with ``xr.DataArray`` / ``xr.Dataset``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from waxegg.wax.format import format_dataarray, format_dataset

TIME = pd.date_range("2021-01-04", periods=3, freq="D", name="time")
ASSET = pd.Index(["a", "b"], name="asset")
COORDS = {"time": TIME, "asset": ASSET}


def test_format_dataarray_equals_xarray_built_directly():
    values = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    got = format_dataarray(COORDS, values, ("time", "asset"), name="px")
    expected = xr.DataArray(values, dims=("time", "asset"), coords={"time": TIME, "asset": ASSET}, name="px")
    xr.testing.assert_identical(got, expected)
    # hand-checked labels: the value at (second day, "b") is row 1, column 1
    assert float(got.sel(time="2021-01-05", asset="b")) == 4.0
    assert list(got.asset.values) == ["a", "b"] and got.time.values[-1] == np.datetime64("2021-01-06")
    assert np.shares_memory(got.values, values)  # wrapped, not copied


def test_format_dataarray_takes_the_coords_of_an_xarray_object():
    # README step (3) passes ``dataset.coords``: xarray coordinates, not pandas indexes
    source = xr.Dataset({"v": (("time", "asset"), np.zeros((3, 2)))}, coords=COORDS)
    values = np.arange(6.0).reshape(3, 2)
    got = format_dataarray(source.coords, values, ("time", "asset"))
    xr.testing.assert_identical(got, xr.DataArray(values, dims=("time", "asset"), coords=source.coords))


def test_format_dataarray_dim_without_coordinate_stays_bare():
    values = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    got = format_dataarray({"time": TIME}, values, ("time", "feature"))
    expected = xr.DataArray(values, dims=("time", "feature"), coords={"time": TIME})
    xr.testing.assert_identical(got, expected)
    assert "feature" not in got.coords and got.sizes == {"time": 3, "feature": 3}


def test_format_dataarray_of_a_pytree_gives_the_same_pytree():
    mean = np.array([[1.0, 2.0], [1.5, 2.5], [2.0, 3.0]])
    count = np.array([1.0, 2.0, 3.0])
    got = format_dataarray({"time": TIME, "asset": ASSET}, {"mean": mean, "count": count[:, None] * [1.0, 1.0]},
                           ("time", "asset"))
    assert set(got) == {"mean", "count"}
    xr.testing.assert_identical(got["mean"], xr.DataArray(mean, dims=("time", "asset"), coords=COORDS))
    np.testing.assert_array_equal(got["count"].sel(asset="a").values, [1.0, 2.0, 3.0])


def test_format_dataarray_errors_name_the_mismatch():
    with pytest.raises(ValueError, match=r"format_dataarray: output of shape \(3,\) does not match "
                                         r"format_dims=\('time', 'asset'\)"):
        format_dataarray(COORDS, np.zeros(3), ("time", "asset"))
    with pytest.raises(ValueError, match="coordinate 'time' has length 3 but the output has 4 along it"):
        format_dataarray(COORDS, np.zeros((4, 2)), ("time", "asset"))


def test_format_dataset_one_dims_for_every_variable():
    px = np.array([[10.0, 20.0], [11.0, 21.0], [12.0, 22.0]])
    vol = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    got = format_dataset(COORDS, {"px": px, "vol": vol}, ("time", "asset"))
    expected = xr.Dataset({"px": (("time", "asset"), px), "vol": (("time", "asset"), vol)}, coords=COORDS)
    xr.testing.assert_identical(got, expected)
    assert float(got["px"].sel(time="2021-01-06", asset="a")) == 12.0


def test_format_dataset_dims_per_variable():
    px = np.array([[10.0, 20.0], [11.0, 21.0], [12.0, 22.0]])
    total = px.sum(axis=1)  # hand-checked: 30, 32, 34
    got = format_dataset(COORDS, {"px": px, "total": total}, {"px": ("time", "asset"), "total": ("time",)})
    expected = xr.Dataset({"px": (("time", "asset"), px), "total": (("time",), np.array([30.0, 32.0, 34.0]))},
                          coords=COORDS)
    xr.testing.assert_identical(got, expected)
    assert got["total"].dims == ("time",)


def test_format_dataset_needs_a_mapping():
    with pytest.raises(TypeError, match="format_dataset expects a mapping of variable -> array, got ndarray"):
        format_dataset(COORDS, np.zeros((3, 2)), ("time", "asset"))


def test_format_functions_take_waxml_nested_format_dims():
    # WAX-ML's formatters take format_dims as a tree shaped like the outputs, each leaf's dims a
    # name, a tuple or a numpy array of names (WAX-ML's own test passes np.array(dataset.dims)).
    from waxegg.wax.format import format_dataframe, format_series

    values = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    outputs = {"level": values, "total": values.sum(1)}
    got = format_dataframe(COORDS, outputs, {"level": np.array(["time", "asset"]), "total": "time"})
    pd.testing.assert_frame_equal(got["level"], pd.DataFrame(values, index=TIME, columns=ASSET))
    # a one-dim output of format_dataframe is a Series, as WAX-ML's (xarray's to_series)
    pd.testing.assert_series_equal(got["total"], pd.Series([3.0, 7.0, 11.0], index=TIME))
    got = format_series(COORDS, {"total": values.sum(1)}, {"total": np.array(["time", "asset"])[0]})
    pd.testing.assert_series_equal(got["total"], pd.Series([3.0, 7.0, 11.0], index=TIME))
    per_leaf = format_dataarray(COORDS, [values, values[:, 0]], [("time", "asset"), ("time",)])
    xr.testing.assert_identical(per_leaf[1], xr.DataArray([1.0, 3.0, 5.0], dims=("time",), coords={"time": TIME}))
    # one string is one dim (not its letters), and a tree that does not fit the outputs is named
    assert format_series(COORDS, values[:, 1], "time").tolist() == [2.0, 4.0, 6.0]
    with pytest.raises(ValueError, match="neither dims nor a tree of dims"):
        format_dataframe(COORDS, {"level": values}, {"other": ("time", "asset")})
