"""Multi-stream synchronisation: exactly which secondary value each local step sees (hand-made example)."""

import haiku as hk
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from waxegg.wax import Stream, convert_to_tensors, dynamic_unroll, tree_access_data
from waxegg.wax.stream import INT_FILL, embed_times, sync_index, to_offset

nan = np.nan
LOCAL = pd.to_datetime(["2020-01-01 00:00", "2020-01-01 06:00", "2020-01-01 12:00",
                        "2020-01-02 00:00", "2020-01-02 06:00", "2020-01-03 12:00"])
DAYS = pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"])
TICKS = pd.to_datetime(["2020-01-01 01:00", "2020-01-01 03:00", "2020-01-01 05:00",
                        "2020-01-01 07:00", "2020-01-01 13:00"])


def dataset():
    return xr.Dataset(
        {
            "price": ("time", np.arange(6.0)),                                   # local
            "d": ("day", np.array([10.0, 20.0, 30.0])),                          # slower, daily
            "n": ("day", np.array([1, 2, 3], dtype=np.int64)),                   # an integer on the same axis
            "when": ("day", DAYS.values),                                        # a datetime on the same axis
            "v": (("tick", "k"), np.array([[i, 10.0 * i] for i in range(5)])),   # faster, 2 columns
            "w": ("k", np.array([0.5, 2.0])),                                    # static
        },
        coords={"time": LOCAL, "day": DAYS, "tick": TICKS},
    )


def seen(stream, var):
    np_data, np_index, xs = stream.trace_dataset(dataset())
    return np.stack([np.asarray(tree_access_data(np_data, np_index, int(i))[var]) for i in xs])


def test_slower_stream_without_freq_strictly_before():
    # A day stamped s is visible at local t when s < t: 2020-01-01 00:00 is not < itself.
    np.testing.assert_array_equal(seen(Stream("time"), "d"), [nan, 10, nan, nan, 20, 30])
    np.testing.assert_array_equal(seen(Stream("time", ffills={"day": True}), "d"), [nan, 10, 10, 10, 20, 30])


def test_slower_stream_with_daily_freq_sees_previous_days_only():
    # freqs={"day": "D"}: t is floored to its day first, so day d is seen from day d + 1 on.
    np.testing.assert_array_equal(seen(Stream("time", freqs={"day": "D"}), "d"), [nan, nan, nan, 10, nan, 20])
    got = seen(Stream("time", freqs={"day": "D"}, ffills={"day": True}), "d")
    np.testing.assert_array_equal(got, [nan, nan, nan, 10, 10, 20])


def test_fill_values_by_dtype():
    s = Stream("time", freqs={"day": "D"}, ffills={"day": True})
    np.testing.assert_array_equal(seen(s, "n"), [INT_FILL, INT_FILL, INT_FILL, 1, 1, 2])
    when = s.encoders["when"].decode(seen(s, "when"))  # the int64 ticks decode back, the fill to NaT
    assert np.isnat(when[:3]).all()
    np.testing.assert_array_equal(when[3:], DAYS.values[[0, 0, 1]])


def test_faster_stream_buffer_nd():
    # ticks at 01, 03, 05, 07, 13h on Jan 1; steps at 00, 06, 12h, Jan 2 00, 06h, Jan 3 12h
    got = seen(Stream("time", buffer_maxlen={"tick": 3}), "v")
    assert got.shape == (6, 3, 2)
    tick = lambda i: [i, 10.0 * i]
    fill = [nan, nan]
    np.testing.assert_array_equal(got[0], [fill, fill, fill])                  # nothing yet
    np.testing.assert_array_equal(got[1], [tick(0), tick(1), tick(2)])         # 01, 03, 05h arrived
    np.testing.assert_array_equal(got[2], [tick(1), tick(2), tick(3)])         # 07h arrived
    np.testing.assert_array_equal(got[3], [tick(2), tick(3), tick(4)])         # 13h arrived
    np.testing.assert_array_equal(got[4], [fill, fill, fill])                  # nothing new: fill
    ffilled = seen(Stream("time", buffer_maxlen={"tick": 3}, ffills={"tick": True}), "v")
    np.testing.assert_array_equal(ffilled[4], got[3])
    np.testing.assert_array_equal(ffilled[5], got[3])
    np.testing.assert_array_equal(ffilled[:4], got[:4])
    short = seen(Stream("time", buffer_maxlen={"tick": 5}), "v")
    np.testing.assert_array_equal(short[1], [fill, fill, tick(0), tick(1), tick(2)])  # front padded


def test_apply_on_dataset_feeds_synchronised_steps():
    ds = dataset()

    def fn(x):
        # step values: price (), d (), v (3, 2) buffer, w (2,) static
        return {"price": x["price"], "d": x["d"], "v_last": x["v"][-1] @ x["w"]}

    out = ds.wax.stream(local_time="time", freqs={"day": "D"}, ffills={"day": True, "tick": True},
                        buffer_maxlen={"tick": 3}, return_state=False).apply(fn)
    assert isinstance(out, xr.Dataset)
    np.testing.assert_array_equal(out["d"].values, [nan, nan, nan, 10, 10, 20])
    # last tick seen: none, 2, 3, 4, 4, 4 -> [i, 10 i] @ [0.5, 2] = 20.5 i
    np.testing.assert_array_equal(out["v_last"].values, [nan, 41.0, 61.5, 82.0, 82.0, 82.0])
    np.testing.assert_array_equal(out["price"].values, np.arange(6.0))
    pd.testing.assert_index_equal(out.indexes["time"], ds.indexes["time"])


def test_compiled_access_inside_scan_matches_numpy():
    s = Stream("time", freqs={"day": "D"}, ffills={"day": True}, buffer_maxlen={"tick": 2})
    np_data, np_index, xs = s.trace_dataset(dataset())
    jnp_data, jnp_index, jxs = convert_to_tensors((np_data, np_index, xs), "jax")
    t = hk.transform_with_state(lambda step: tree_access_data(jnp_data, jnp_index, step)["v"])
    outputs, _ = dynamic_unroll(t, jxs)
    expected = np.stack([tree_access_data(np_data, np_index, int(i))["v"] for i in xs])
    np.testing.assert_array_equal(np.asarray(outputs), expected)


@pytest.mark.parametrize("alias, t, expected", [
    ("MS", "2020-03-15 10:00", "2020-03-01"),
    ("MS", "2020-03-01 00:00", "2020-03-01"),
    ("W", "2020-01-08 09:00", "2020-01-05"),      # weeks ending on Sunday
    ("B", "2020-01-05 09:00", "2020-01-03"),      # a Sunday rolls back to Friday
    ("15min", "2020-01-01 10:44:59", "2020-01-01 10:30"),
    ("h", "2020-01-01 10:44", "2020-01-01 10:00"),
])
def test_embed_any_offset_alias(alias, t, expected):
    got = embed_times(pd.DatetimeIndex([t]), to_offset(alias, what="freqs['x']"))
    assert got[0] == pd.Timestamp(expected).value


def test_monthly_secondary_stream():
    local = pd.date_range("2020-01-30", periods=5, freq="D")   # Jan 30 .. Feb 3
    ds = xr.Dataset({"x": ("time", np.arange(5.0)), "m": ("month", [1.0, 2.0])},
                    coords={"time": local, "month": pd.to_datetime(["2019-12-01", "2020-01-01"])})
    np_data, np_index, xs = Stream("time", freqs={"month": "MS"}, ffills={"month": True}).trace_dataset(ds)
    got = np.array([tree_access_data(np_data, np_index, i)["m"] for i in xs])
    # January steps see December's value; from Feb 1 on, January's.
    np.testing.assert_array_equal(got, [1.0, 1.0, 2.0, 2.0, 2.0])


def test_pbar_shows_progress_and_changes_nothing(capsys):
    plain = seen(Stream("time", buffer_maxlen={"tick": 3}), "v")
    capsys.readouterr()
    shown = seen(Stream("time", buffer_maxlen={"tick": 3}, pbar=True), "v")
    assert "sync tick" in capsys.readouterr().err
    np.testing.assert_array_equal(shown, plain)
    seen(Stream("time"), "v")
    assert "sync" not in capsys.readouterr().err  # off by default


def _with(**changes):
    ds = dataset()
    for name, value in changes.items():
        ds = ds.assign_coords({name: value})
    return ds


@pytest.mark.parametrize("make, options, error, message", [
    (lambda: _with(day=DAYS[[0, 2, 1]]), {}, ValueError,
     r"secondary time dimension 'day' \(variables \['d', 'n', 'when'\]\) is not sorted: 2020-01-02 00:00:00 "
     r"\(position 2\) comes after 2020-01-03"),
    (lambda: _with(tick=TICKS[[0, 1, 1, 3, 4]]), {}, ValueError,
     r"secondary time dimension 'tick' \(variables \['v'\]\) has duplicated timestamp 2020-01-01 03:00:00 "
     r"at positions 1 and 2"),
    (lambda: _with(time=LOCAL[[1, 0, 2, 3, 4, 5]]), {}, ValueError, "local time 'time' is not sorted"),
    (dataset, dict(freqs={"day": "fortnight"}), ValueError, r"freqs\['day'\]='fortnight' is not a pandas offset alias"),
    (dataset, dict(freqs={"time": "D"}), ValueError, r"freqs\['time'\]: 'time' is the local time"),
    (dataset, dict(ffills={"days": True}), ValueError, r"ffills\['days'\]: 'days' is not a secondary time dimension"),
    (dataset, dict(buffer_maxlen={"tick": 0}), ValueError, r"buffer_maxlen\['tick'\] must be >= 1, got 0"),
    (dataset, dict(buffer_maxlen={"tick": 2.0}), TypeError, r"buffer_maxlen\['tick'\] must be an integer"),
    (dataset, dict(ffills={"day": "yes"}), TypeError, r"ffills\['day'\] must be a bool"),
])
def test_bad_input_named(make, options, error, message):
    with pytest.raises(error, match=message):
        Stream("time", **options).trace_dataset(make())


def test_variable_on_two_time_axes_named():
    ds = dataset()
    ds["bad"] = (("time", "day"), np.zeros((6, 3)))
    with pytest.raises(ValueError, match="variable 'bad' has two time dimensions"):
        Stream("time").trace_dataset(ds)


def test_several_time_axes_need_local_time():
    with pytest.raises(ValueError, match="several time dimensions"):
        dataset().wax.stream().apply(lambda x: x["price"])


def test_buffered_axis_with_mixed_dtypes_pads_each_with_its_own_fill():
    s = Stream("time", buffer_maxlen={"day": 2}, ffills={"day": True})
    np.testing.assert_array_equal(seen(s, "n")[1:3], [[INT_FILL, 1], [INT_FILL, 1]])
    np.testing.assert_array_equal(seen(s, "d")[4], [10.0, 20.0])


@settings(max_examples=40, deadline=None)
@given(T=st.integers(1, 25), M=st.integers(1, 15), maxlen=st.sampled_from([None, 1, 3]), ffill=st.booleans(),
       freq=st.sampled_from([None, "D", "6h", "W", "MS"]), seed=st.integers(0, 2**16))
def test_property_sync_index_equals_naive_merge(T, M, maxlen, ffill, freq, seed):
    # The vectorised merge against the definition, written as WAX-ML's step-by-step loop.
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2020-01-01").value
    hour = 3600 * 10**9
    local = np.sort(start + rng.integers(0, 24 * 90, T) * hour)
    sec = np.unique(start + rng.integers(0, 24 * 90, M) * hour)
    offset = None if freq is None else to_offset(freq, what="freq")
    got = sync_index(local, sec, offset=offset, ffill=ffill, maxlen=maxlen)
    fill = len(sec)
    visible_before, last_shown = 0, None
    for i, t in enumerate(local):
        e = t if offset is None else embed_times(pd.DatetimeIndex([t]), offset)[0]
        visible = [j for j, s in enumerate(sec) if s < e]
        arrived = len(visible) > visible_before
        visible_before = len(visible)
        if maxlen is None:
            expected = visible[-1] if visible and (arrived or ffill) else fill
        else:
            window = ([fill] * maxlen + visible)[-maxlen:]
            expected = window if (arrived or ffill) else [fill] * maxlen
        np.testing.assert_array_equal(got[i], expected)
