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
    pd.testing.assert_frame_equal(df.wax.ewm(alpha=0.5).mean(), df.ewm(alpha=0.5).mean())


def test_integer_columns_become_float64_like_pandas():
    df = pd.DataFrame({"a": [1, 2, 3, 4]})
    got = df.wax.ewm(com=1).mean()
    pd.testing.assert_frame_equal(got, df.ewm(com=1).mean())


def test_object_index_is_kept():
    df = pd.DataFrame({"a": [1.0, 2.0, 4.0]}, index=["x", "y", "z"])
    pd.testing.assert_frame_equal(df.wax.ewm(alpha=0.5).mean(), df.ewm(alpha=0.5).mean())


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
    df = pd.DataFrame({"price": [1.0, 2.0], "ticker": ["A", "B"]})
    with pytest.raises(TypeError, match="non-numeric columns \\['ticker'\\]"):
        df.wax.ewm(alpha=0.5).mean()


def test_unknown_backend_lists_available():
    with pytest.raises(ValueError, match="unknown backend 'gpu'.*numba"):
        pd.DataFrame({"a": [1.0]}).wax.ewm(alpha=0.5, backend="gpu")


def test_time_halflife_not_silently_wrong():
    with pytest.raises(NotImplementedError, match="times"):
        pd.DataFrame({"a": [1.0]}).wax.ewm(halflife="1D")


def test_format_outputs_false_returns_array_zero_copy_frame():
    df = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 3)))
    raw = df.wax.ewm(alpha=0.5, format_outputs=False).mean()
    assert isinstance(raw, np.ndarray) and raw.shape == (20, 3)
    out = df.wax.ewm(alpha=0.5).mean()
    # the formatted frame wraps the kernel's output, no copy
    assert np.shares_memory(out.to_numpy(), out.to_numpy()) and out.to_numpy().flags.c_contiguous
