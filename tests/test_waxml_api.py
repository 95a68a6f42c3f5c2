"""WAX-ML 0.7's public functions under waxegg.wax (encode's scalar encoders first)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from waxegg.wax.encode import (decode_datetime, decode_datetime64, encode_datetime, floor_datetime,
                                decode_int64, decode_timestamp, encode_datetime64, encode_int64,
                               encode_timestamp)


@pytest.mark.parametrize("value", [0, 1, -1, 2**32, 2**32 + 7, -(2**40) - 3, 2**63 - 1, -(2**63)])
def test_encode_int64_round_trip_and_words(value):
    code = encode_int64(value)
    assert code.dtype == np.uint32 and code.shape == (2,)
    # hand-checked words: high * 2**32 + low is the value modulo 2**64
    assert (int(code[0]) << 32) + int(code[1]) == value % 2**64
    assert decode_int64(code) == value


def test_encode_int64_rejects_non_integers():
    with pytest.raises(TypeError, match="seed must be an int"):
        encode_int64(1.5)
    with pytest.raises(TypeError, match="seed must be a scalar"):
        encode_int64(np.arange(2))


def test_timestamp_and_datetime64_round_trip():
    t = pd.Timestamp("2021-03-04 05:06:07.000000123")
    assert decode_timestamp(encode_timestamp(t)) == t
    assert decode_int64(encode_timestamp(t)) == t.value
    d = np.datetime64("1969-12-31T23:59:59.5")
    assert decode_datetime64(encode_datetime64(d)) == d
    assert decode_int64(encode_datetime64(d)) == -500_000_000


def test_datetime_round_trip():
    import datetime

    d = datetime.datetime(2021, 3, 4, 5, 6, 7, 891011)
    assert decode_datetime(encode_datetime(d)) == d


@pytest.mark.parametrize("freq", ["D", "h", "15min"])
def test_floor_datetime_equals_pandas_dt_floor(freq):
    times = pd.Series(pd.date_range("2018-01-01 04:00:00", "2018-01-03 22:00:00", freq="7min")).to_numpy()
    expected = pd.Series(times).dt.floor(freq).to_numpy()
    np.testing.assert_array_equal(floor_datetime(times, freq), expected)
    assert floor_datetime(np.datetime64("2018-01-01T23:59"), "d") == np.datetime64("2018-01-01")
