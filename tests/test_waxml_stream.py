"""WAX-ML 0.7's stream internals under waxegg.wax.stream (issue 18): schema, merge, unroll_stream, index, prepare."""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from waxegg.wax.modules import EWMA
from waxegg.wax.stream import (
    DTYPE_INIT_VALUES, DatasetSchema, Stream, StreamObservation, access_data, dataset_to_numpy, deque_to_list,
    get_dataset_index, get_dataset_index_from_stream_index, get_time_dataset, np_select_item,
    split_dataset_from_time_dims, timestamp_is_before_local, tree_access_data, tree_buffer_transform, unroll_stream,
)
from waxegg.wax.unroll import unroll

nan = np.nan


def _multi_stream_dataset() -> xr.Dataset:
    """A 6-hourly local stream, a daily stream and an irregular tick stream, a scalar and a static vector."""
    time = pd.date_range("2020-01-01", periods=12, freq="6h")
    day = pd.date_range("2019-12-31", periods=4, freq="D")
    tick = time[0] + pd.to_timedelta([1, 2, 3, 400, 401, 1500, 3000], unit="min")
    return xr.Dataset(
        {"x": ("time", np.arange(12.0)), "d": ("day", np.arange(4.0) * 10),
         "v": (("tick", "k"), np.arange(14.0).reshape(7, 2)), "param": 1.5, "w": ("k", [5.0, 6.0])},
        coords={"time": time, "day": day, "tick": tick})


def _stream() -> Stream:
    # WAX-ML's positional order: local_time, freqs, ffills, buffer_maxlen
    return Stream("time", {"day": "D"}, {"day": True}, {"tick": 3})


def test_stream_fields_follow_waxml_order():
    import dataclasses

    names = [f.name for f in dataclasses.fields(Stream) if f.init]
    assert names == ["local_time", "freqs", "ffills", "buffer_maxlen", "buffer_dtype_init_values", "verbose", "pbar",
                     "tensor_type", "trace", "format_outputs", "return_state"]
    s = _stream()
    assert s.freqs == {"day": "D"} and s.ffills == {"day": True} and s.buffer_maxlen == {"tick": 3}
    assert Stream("").local_time is None  # WAX-ML's "not given"
    with pytest.raises(ValueError, match="tensor_type"):
        Stream(tensor_type="torch")
    with pytest.raises(TypeError, match="pbar"):
        Stream(pbar="time")


def test_get_dataset_schema_encoders_round_trip():
    ds = _multi_stream_dataset()
    ds["name"] = ("time", np.array(["b", "a"] * 6))
    schema = Stream.get_dataset_schema(ds, check=True)
    assert isinstance(schema, DatasetSchema)
    xr.testing.assert_identical(xr.Dataset(coords=schema.coords), xr.Dataset(coords=ds.coords))
    # strings and datetimes (data variables and coordinates), nothing else
    assert sorted(schema.encoders) == ["day", "name", "tick", "time"]
    codes = schema.encoders["name"].encode(ds["name"].values)
    np.testing.assert_array_equal(codes, [1, 0] * 6)  # codes into the sorted strings ["a", "b"]
    words = schema.encoders["time"].encode(ds["time"].values)
    assert words.dtype == np.uint32 and words.shape == (12, 2)
    np.testing.assert_array_equal(schema.encoders["time"].decode(words), ds["time"].values)
    assert _stream().get_encoders(ds).keys() == schema.encoders.keys()

    class Lossy:  # an encoder that does not round-trip
        def encode(self, v):
            return np.zeros(np.shape(v), dtype=np.int32)

        def decode(self, c):
            return np.full(np.shape(c), "a")

    with pytest.raises(ValueError, match="'name' does not round-trip"):
        Stream.get_dataset_schema(ds, types_encoders={np.str_: Lossy()}, check=True)


def test_start_dataset_stream_yields_the_first_observation_twice():
    ds = _multi_stream_dataset()
    tds = split_dataset_from_time_dims(get_time_dataset(ds))
    obs = list(Stream().start_dataset_stream(tds["day"], time_dim="day"))
    assert [int(o.value["day_index"]) for o in obs] == [0, 0, 1, 2, 3]
    assert all(isinstance(o, StreamObservation) for o in obs)
    assert obs[1].time == np.datetime64("2019-12-31", "ns")
    values = list(Stream(trace=False).start_dataset_stream(split_dataset_from_time_dims(ds)["day"]))
    assert [float(o.value["d"]) for o in values] == [0.0, 0.0, 10.0, 20.0, 30.0]


def test_merge_and_unroll_stream_by_hand():
    ds = _multi_stream_dataset()
    s = _stream()
    tds = split_dataset_from_time_dims(get_time_dataset(ds))
    index = unroll_stream(s.merge(s.start_dataset_streams(tds)), pbar=False)
    assert set(index) == {"time", "day", "tick"}
    np.testing.assert_array_equal(index["time"].value["time_index"], np.arange(12))
    # day d is seen from the first local step of day d + 1 on (freqs="D": strictly before the floored time),
    # forward filled: 2019-12-31 from step 0, 2020-01-01 from step 4 (2020-01-02 00:00), ...
    np.testing.assert_array_equal(index["day"].value["day_index"], [0] * 4 + [1] * 4 + [2] * 4)
    # ticks at +1, +2, +3 min arrive at step 1 (06:00); +400, +401 min at step 2 (12:00); +1500 min (01:00 on
    # day 2) at step 5; +3000 at step 9. Buffer of 3, not forward filled: -99999 where nothing arrived.
    f = DTYPE_INIT_VALUES[np.int64]
    expected = np.full((12, 3), f)
    expected[1] = [0, 1, 2]
    expected[2] = [2, 3, 4]
    expected[5] = [3, 4, 5]
    expected[9] = [4, 5, 6]
    np.testing.assert_array_equal(index["tick"].value["tick_index"], expected)
    times = index["tick"].time
    assert times.dtype == np.dtype("M8[ns]") and times.shape == (12, 3)
    assert np.isnat(times[0]).all() and times[1, 2] == ds["tick"].values[2]
    # the same steps as waxegg's vectorised trace_dataset
    np_data, np_index, _ = s.trace_dataset(ds)
    fill_row = len(ds["tick"])
    np.testing.assert_array_equal(np.where(expected < 0, fill_row, expected), np_index["tick"])
    np.testing.assert_array_equal(index["day"].value["day_index"], np_index["day"])


def test_get_dataset_index_and_flat_tree_access_data_equal_trace_dataset():
    ds = _multi_stream_dataset()
    s = _stream()
    tds = split_dataset_from_time_dims(get_time_dataset(ds))
    time_index = unroll_stream(s.merge(s.start_dataset_streams(tds)), pbar=False)
    time_dataset_index = get_dataset_index_from_stream_index(time_index)
    assert time_dataset_index["tick"].dims == ("step", "tick_buffer_index")
    dataset_index = get_dataset_index(ds, time_dataset_index)
    assert dataset_index.keys() == ds.keys()
    # variables without a time dimension are seen whole at every step (WAX-ML's index read wrong elements)
    np.testing.assert_array_equal(dataset_index["param"], np.zeros(12))
    np.testing.assert_array_equal(dataset_index["w"], np.tile([0, 1], (12, 1)))
    np_data, np_index = dataset_to_numpy(ds), dataset_to_numpy(dataset_index)
    traced = s.trace_dataset(ds)
    with jax.enable_x64(True):
        for step in range(12):
            flat = tree_access_data(np_data, np_index, step)
            ours = tree_access_data(traced[0], traced[1], step)
            assert flat.keys() == ours.keys()
            for name in flat:
                np.testing.assert_array_equal(np.asarray(flat[name]), np.asarray(ours[name]))
    np.testing.assert_array_equal(np.asarray(tree_access_data(np_data, np_index, 2)["v"]),
                                  [[4.0, 5.0], [6.0, 7.0], [8.0, 9.0]])
    np.testing.assert_array_equal(np.asarray(tree_access_data(np_data, np_index, 3)["v"]), np.full((3, 2), nan))
    bad = xr.Dataset({"y": (("k", "time"), np.zeros((2, 12)))}, coords={"time": ds["time"]})
    with pytest.raises(ValueError, match="must come first"):
        get_dataset_index(bad, time_dataset_index)


def test_small_helpers_by_hand():
    assert timestamp_is_before_local(lambda t: t, np.datetime64("2020-01-02"), np.datetime64("2020-01-01"))
    assert not timestamp_is_before_local(lambda t: t, np.datetime64("2020-01-01"), np.datetime64("2020-01-01"))
    data = {"a": np.arange(3.0), "b": np.arange(6).reshape(3, 2)}
    item = np_select_item(data, 1)
    assert item["a"] == 1.0 and np.array_equal(item["b"], [2, 3])
    assert {k: int(v) for k, v in np_select_item(data, 2, trace=True).items()} == {"a": 2, "b": 2}
    with jax.enable_x64(True):
        np.testing.assert_array_equal(access_data(0, np.array([1.0, 2.0, 3.0]), np.array([[2, -99999]])), [3.0, nan])
        np.testing.assert_array_equal(access_data(0, np.array([1, 2], np.int32), np.array([[-1, 0]])), [-99999, 1])
    from collections import deque

    buffer = deque([np.array([1.0, 2.0])], maxlen=3)
    np.testing.assert_array_equal(deque_to_list(buffer, nan), [[nan, nan], [nan, nan], [1.0, 2.0]])
    push = tree_buffer_transform(2, {"x": -1}, {"x": np.array(0)})
    np.testing.assert_array_equal(push({"x": np.array(5)})["x"], [-1, 5])
    np.testing.assert_array_equal(push({"x": np.array(6)})["x"], [5, 6])
    np.testing.assert_array_equal(push({"x": np.array(7)})["x"], [6, 7])
    stacked = unroll_stream(iter([{"a": np.array(1)}, {"a": np.array(2)}, {"a": np.array(3)}]), skip_first=True,
                            pbar=False)
    np.testing.assert_array_equal(stacked["a"], [2, 3])


def test_prepare_then_unroll_equals_pandas_ewm():
    # WAX-ML's three-step notebook: stream.prepare(dataset, fn), then unroll(transform_dataset)(xs).
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 4)), index=pd.date_range("2021", periods=200, freq="min"))
    frame.iloc[::17, 1] = nan
    dataset = xr.DataArray(frame).to_dataset(name="dataarray")
    stream = frame.wax.stream()
    transform_dataset, jxs = stream.prepare(dataset, lambda data: EWMA(alpha=0.1, adjust=True)(data["dataarray"]))
    outputs = unroll(transform_dataset)(jxs)
    assert np.asarray(outputs).dtype == np.float64
    # mirrors: frame.ewm(alpha=0.1).mean()
    np.testing.assert_allclose(np.asarray(outputs), frame.ewm(alpha=0.1).mean().to_numpy(), rtol=1e-12, atol=1e-12)
    skipped = unroll(Stream().prepare(dataset, lambda d: EWMA(alpha=0.1)(d["dataarray"]), skip_first=True)[0])(jxs)
    assert np.asarray(skipped).shape == (199, 4)


def test_prepare_encodes_datetimes_as_waxml_words():
    times = pd.date_range("2021-01-01", periods=5, freq="D")
    ds = xr.Dataset({"stamp": ("time", times.values), "x": ("time", np.arange(5.0))}, coords={"time": times})
    t, xs = Stream().prepare(ds, lambda data: data["stamp"])
    words = np.asarray(unroll(t)(xs))
    assert words.dtype == np.uint32 and words.shape == (5, 2)
    np.testing.assert_array_equal(Stream.get_dataset_schema(ds).encoders["stamp"].decode(words), times.values)


def test_accessor_apply_skip_first_and_waxml_positional_order():
    rng = np.random.default_rng(3)
    df = pd.DataFrame(rng.normal(size=(30, 2)), index=pd.date_range("2022", periods=30, freq="h"), columns=["a", "b"])
    ref = df.ewm(com=3.0).mean()

    def f(x):
        return EWMA(com=3.0)(x)

    # init on the first row, apply from the second: the EWMA never sees row 0, so its outputs are
    # pandas' ewm of df without its first row, indexed like it (mirrors: df.iloc[1:].ewm(com=3).mean())
    out = df.wax.stream(return_state=False).apply(f, skip_first=True)
    pd.testing.assert_frame_equal(out, df.iloc[1:].ewm(com=3.0).mean(), check_exact=False, rtol=1e-12, atol=1e-12,
                                  check_freq=False)
    # WAX-ML's positional order apply(module, skip_first, format_dims, params, state, rng)
    positional = df.wax.stream(return_state=False).apply(f, False, ("time", "asset"))
    np.testing.assert_allclose(positional.to_numpy(), ref.to_numpy(), rtol=1e-12, atol=1e-12)
    da = xr.DataArray(df.to_numpy(), dims=("time", "asset"), coords={"time": df.index, "asset": ["a", "b"]})
    da_out = da.wax.stream(return_state=False).apply(f, skip_first=True)
    assert da_out.sizes["time"] == 29
    np.testing.assert_allclose(da_out.values, df.iloc[1:].ewm(com=3.0).mean().to_numpy(), rtol=1e-12, atol=1e-12)
    raw, state = df.wax.stream(format_outputs=False, return_state=True).apply(f, True)
    assert np.asarray(raw).shape == (29, 2)


def test_accessor_stream_classes_and_stream_methods():
    from waxegg.wax.accessors import (StreamDataArray, StreamDataFrame, StreamDataset, StreamSeries,
                                      WaxDataFrameAccessor)

    df = pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=pd.date_range("2020", periods=3, freq="D"))
    assert isinstance(df.wax, WaxDataFrameAccessor)
    assert isinstance(df.wax.stream(), StreamDataFrame)
    assert isinstance(df["a"].wax.stream(), StreamSeries)
    assert isinstance(xr.DataArray(df).wax.stream(), StreamDataArray)
    assert isinstance(xr.DataArray(df).to_dataset(name="v").wax.stream(), StreamDataset)
    # the Stream's methods and options, as WAX-ML's StreamDataFrame is a Stream
    s = df.wax.stream(local_time="index")
    assert s.local_time == "index" and callable(s.prepare) and callable(s.get_dataset_schema)
    # WAX-ML's constructor form: Stream options, then accessor=; return_state defaults to True as WAX-ML's
    out, state = StreamDataFrame(accessor=df.wax).apply(lambda x: EWMA(com=1.0)(x))
    pd.testing.assert_frame_equal(out, df.ewm(com=1.0).mean(), check_exact=False, rtol=1e-12, atol=1e-12,
                                  check_freq=False)
    assert "ewma" in state


@pytest.mark.parametrize("backend", ["numba", "jax"])
@pytest.mark.parametrize("kw", [dict(com=2.0), dict(alpha=0.3, adjust=False, min_periods=3),
                                dict(com=1.5, ignore_na=True, min_periods=1)], ids=str)
def test_accessor_ewm_initial_value_equals_ewma_module_and_pandas(kw, backend):
    from waxegg.wax import dynamic_unroll
    import haiku as hk

    rng = np.random.default_rng(8)
    x = rng.normal(size=(40, 3))
    x[rng.random((40, 3)) < 0.2] = nan
    x[:3, 1] = nan
    df = pd.DataFrame(x, index=pd.date_range("2020", periods=40, freq="min"))
    got = df.wax.ewm(**kw, initial_value=10.0, backend=backend).mean()
    module, _ = dynamic_unroll(hk.transform_with_state(lambda v: EWMA(**kw, initial_value=10.0)(v)), x)
    np.testing.assert_allclose(got.to_numpy(), np.asarray(module), rtol=1e-12, atol=1e-12)
    # mirrors: pd.concat([row of 10, df]).ewm(**kw).mean()[1:] (min_periods counting the real rows only)
    ahead = pd.DataFrame(np.r_[np.full((1, 3), 10.0), x])
    mp = kw.get("min_periods", 0)
    ref = ahead.ewm(**{**kw, "min_periods": mp + 1 if mp else 0}).mean().to_numpy()[1:]
    np.testing.assert_allclose(got.to_numpy(), ref, rtol=1e-12, atol=1e-12)
    # cut in two with return_state / state=, the same values
    first, state = df.iloc[:15].wax.ewm(**kw, initial_value=10.0, backend=backend, return_state=True).mean()
    second = df.iloc[15:].wax.ewm(**kw, initial_value=10.0, backend=backend, state=state).mean()
    np.testing.assert_allclose(pd.concat([first, second]).to_numpy(), got.to_numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(NotImplementedError, match="mean"):
        df.wax.ewm(**kw, initial_value=10.0, backend=backend).var()


def test_accessor_apply_format_dims_falls_back_to_the_time_dim_as_waxml():
    # WAX-ML's apply retries with (format_dims[0],) when outputs do not have all the dims: a per-step sum.
    rng = np.random.default_rng(10)
    times = pd.date_range("2021", periods=12, freq="h", name="time")
    da = xr.DataArray(rng.normal(size=(12, 3, 2)), dims=("time", "lat", "lon"), coords={"time": times})
    out = da.to_dataset(name="air").wax.stream(return_state=False).apply(lambda d: d["air"].sum(), format_dims=da.dims)
    # mirrors: da.to_series().groupby(level=0).sum()
    assert isinstance(out, xr.DataArray) and out.dims == ("time",)
    pd.testing.assert_series_equal(out.to_series(), da.to_series().groupby(level=0).sum(), check_names=False,
                                   check_freq=False, rtol=1e-12, atol=1e-12)
    df = pd.DataFrame(rng.normal(size=(12, 3)), index=times)
    s = df.wax.stream(return_state=False).apply(lambda x: x.sum(), format_dims=("time", "asset"))
    pd.testing.assert_series_equal(s, df.sum(axis=1), check_names=False, check_freq=False, rtol=1e-12, atol=1e-12)
