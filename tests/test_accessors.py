"""Accessor edge cases and bad input (pandas' behaviour where pandas accepts the input)."""

import numpy as np
import pandas as pd
import pytest

from waxegg.wax import register_wax_accessors


def test_registration_is_idempotent():
    register_wax_accessors()
    register_wax_accessors()
    assert hasattr(pd.DataFrame({"a": [1.0]}), "wax")


def test_empty_frame_like_pandas():
    df = pd.DataFrame({"a": [], "b": []}, dtype=float)
    got = df.wax.ewm(alpha=0.5).mean()
    ref = df.ewm(alpha=0.5).mean()
    assert got.shape == ref.shape == (0, 2)


def test_single_row_like_pandas():
    df = pd.DataFrame({"a": [3.0], "b": [np.nan]})
    pd.testing.assert_frame_equal(df.wax.ewm(alpha=0.5).mean(), df.ewm(alpha=0.5).mean(), rtol=0, atol=1e-12)


def test_integer_columns_become_float64_like_pandas():
    df = pd.DataFrame({"a": [1, 2, 3, 4]})
    got = df.wax.ewm(com=1).mean()
    pd.testing.assert_frame_equal(got, df.ewm(com=1).mean(), rtol=0, atol=1e-12)


def test_object_index_is_kept():
    df = pd.DataFrame({"a": [1.0, 2.0, 4.0]}, index=["x", "y", "z"])
    pd.testing.assert_frame_equal(df.wax.ewm(alpha=0.5).mean(), df.ewm(alpha=0.5).mean(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kw, message", [
    (dict(alpha=0.1, com=1), "mutually exclusive"),
    (dict(), "Must pass one of"),
    (dict(alpha=float("inf")), "alpha must be finite"),
    (dict(com=float("nan")), "com must be finite"),
])
def test_bad_window_parameters(kw, message):
    with pytest.raises(ValueError, match=message):
        pd.DataFrame({"a": [1.0]}).wax.ewm(**kw)


def test_non_numeric_columns_named():
    # pandas raises DataError for non-numeric columns in a window operation: so do we, naming them
    from pandas.errors import DataError

    df = pd.DataFrame({"price": [1.0, 2.0], "ticker": ["A", "B"]})
    with pytest.raises(DataError, match="non-numeric columns \\['ticker'\\]"):
        df.wax.ewm(alpha=0.5).mean()
    pd.testing.assert_frame_equal(df.wax.ewm(alpha=0.5).mean(numeric_only=True),
                                  df.ewm(alpha=0.5).mean(numeric_only=True), rtol=1e-12, atol=1e-12)


def test_unknown_backend_lists_available():
    with pytest.raises(ValueError, match="unknown backend 'gpu'.*numba"):
        pd.DataFrame({"a": [1.0]}).wax.ewm(alpha=0.5, backend="gpu")


def test_time_halflife_needs_times_as_pandas():
    with pytest.raises(ValueError, match="times is not None"):
        pd.DataFrame({"a": [1.0]}).wax.ewm(halflife="1D")
    df = pd.DataFrame({"a": [1.0, 2.0, 4.0]})
    times = pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-05"])
    # hand computation: weights 0.5 ** (days / 1 day) from each time to the last
    w = 0.5 ** np.array([4.0, 3.0, 0.0])
    expected = (w * [1.0, 2.0, 4.0]).sum() / w.sum()
    got = df.wax.ewm(halflife="1D", times=times).mean()
    np.testing.assert_allclose(got["a"].iloc[-1], expected, rtol=1e-14, atol=0)
    pd.testing.assert_frame_equal(got, df.ewm(halflife="1D", times=times).mean(), rtol=1e-12, atol=1e-12)


def test_format_outputs_false_returns_raw_array():
    df = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 3)))
    raw = df.wax.ewm(alpha=0.5, format_outputs=False).mean()
    assert isinstance(raw, np.ndarray) and raw.shape == (20, 3)
    np.testing.assert_allclose(raw, df.ewm(alpha=0.5).mean(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("backend", ["numba"])
def test_end_to_end_allocates_only_the_output(order, backend):
    # No needless copies: input is read in place, the result frame wraps the kernel's output.
    # numpy reports its allocations to tracemalloc, so the traced peak is what the call allocated.
    import tracemalloc

    values = np.asarray(np.random.default_rng(0).normal(size=(20_000, 50)), order=order)
    df = pd.DataFrame(values, copy=False)
    df.wax.ewm(alpha=0.1, backend=backend).mean()  # warm-up (compilation allocates too)
    tracemalloc.start()
    out = df.wax.ewm(alpha=0.1, backend=backend).mean()
    held, peak = tracemalloc.get_traced_memory()
    values_out = out.to_numpy()
    held_after_to_numpy, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak <= 1.1 * values.nbytes, f"peak {peak} bytes for a {values.nbytes}-byte output"
    # What the call left allocated is the one output array, and the frame holds it: reading it back
    # as an array allocates nothing (a frame that had copied or split the output would allocate here).
    assert 0.95 * values.nbytes <= held <= 1.1 * values.nbytes, f"{held} bytes held for a {values.nbytes}-byte output"
    assert held_after_to_numpy - held < 0.01 * values.nbytes
    assert values_out.flags.f_contiguous == (order == "F") and values_out.flags.c_contiguous == (order == "C")
    np.testing.assert_allclose(values_out, pd.DataFrame(values).ewm(alpha=0.1).mean().to_numpy(), rtol=0, atol=1e-12)


def test_format_dataframe_wraps_without_copy():
    from waxegg.wax.format import format_dataframe

    a = np.random.default_rng(0).normal(size=(30, 4))
    df = format_dataframe({"t": pd.RangeIndex(30)}, a, ("t", "c"))
    assert np.shares_memory(df.to_numpy(), a)


def test_column_major_frame_matches_pandas_and_keeps_layout():
    # A frame built from a dict of columns is stored column-major; the result keeps that order.
    df = pd.DataFrame({i: np.random.default_rng(i).normal(size=300) for i in range(5)})
    df.iloc[:4, 1] = np.nan
    got = df.wax.ewm(alpha=0.2).mean()
    np.testing.assert_allclose(got, df.ewm(alpha=0.2).mean(), atol=1e-12, rtol=0)
    assert got.to_numpy().flags.f_contiguous


def test_float32_frame_stays_float32_and_ints_become_float64():
    df32 = pd.DataFrame(np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32))
    assert df32.wax.ewm(alpha=0.3).mean().dtypes.eq(np.float32).all()
    from waxegg.wax import EWMA

    out = df32.wax.stream(return_state=False).apply(lambda x: EWMA(alpha=0.3)(x))
    assert out.dtypes.eq(np.float32).all()
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        df32.wax.ewm(alpha=0.3, dtype="int64").mean()
