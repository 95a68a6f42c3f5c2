import numpy as np
import pytest
import xarray as xr

from waxegg.wax.encode import DatetimeEncoder, StringEncoder, decode_array, encode_array, encode_dataset


@pytest.mark.parametrize("unit", ["ns", "us", "s"])
def test_datetime_round_trip_is_exact_and_zero_copy(unit):
    values = np.array(["1970-01-01", "2024-02-29T12:34:56", "NaT"], dtype=f"datetime64[{unit}]")
    codes, enc = encode_array(values)
    assert isinstance(enc, DatetimeEncoder) and codes.dtype == np.int64
    assert np.shares_memory(codes, values)
    back = decode_array(codes, enc)
    assert back.dtype == values.dtype
    np.testing.assert_array_equal(back.view(np.int64), values.view(np.int64))


def test_timedelta_round_trip():
    values = np.array([1, 2, -3], dtype="timedelta64[ms]")
    codes, enc = encode_array(values)
    np.testing.assert_array_equal(decode_array(codes, enc), values)


@pytest.mark.parametrize("values", [np.array(["b", "a", "c", "a"]), np.array(["x", "yy", "x"], dtype=object),
                                    np.array([["u", "v"], ["v", "u"]])])
def test_string_round_trip(values):
    codes, enc = encode_array(values)
    assert isinstance(enc, StringEncoder) and codes.dtype == np.int32 and codes.shape == values.shape
    np.testing.assert_array_equal(decode_array(codes, enc), values.astype(str))
    # codes index a sorted table of distinct strings
    assert list(enc.categories) == sorted(set(values.astype(str).ravel()))


def test_numeric_passes_through_without_copy():
    x = np.arange(5.0)
    codes, enc = encode_array(x)
    assert enc is None and codes is x


def test_bad_object_values_named():
    with pytest.raises(TypeError, match="col.*cannot encode object values"):
        encode_array(np.array([1, "a", None], dtype=object)[[2, 0]], name="col")


def test_encode_dataset_reports_encoders():
    ds = xr.Dataset({"x": ("t", [1.0, 2.0]), "s": ("t", ["a", "b"]),
                     "d": ("t", np.array(["2000-01-01", "2000-01-02"], dtype="datetime64[ns]"))})
    arrays, encoders = encode_dataset(ds)
    assert set(encoders) == {"s", "d"}
    assert arrays["s"].tolist() == [0, 1]
    np.testing.assert_array_equal(encoders["d"].decode(arrays["d"]), ds["d"].values)
