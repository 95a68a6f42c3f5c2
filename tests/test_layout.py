"""waxegg.wax._layout: the row-major aligned copy JAX adopts without copying again (convert_to_tensors)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waxegg.wax._layout import ALIGN, aligned_empty, row_major_copy, to_jax, transpose_to_rows
from waxegg.wax._x64 import x64_context


@settings(max_examples=60, deadline=None)
@given(T=st.integers(1, 70), N=st.integers(1, 70), dtype=st.sampled_from(["float64", "float32"]))
def test_transpose_to_rows_equals_numpy_on_every_path(T, N, dtype):
    """Shapes either side of the 8 x 8 block: element by element below it, whole and shifted blocks above."""
    a = np.asfortranarray(np.random.default_rng(T * 100 + N).standard_normal((T, N)).astype(dtype))
    out = aligned_empty((T, N), dtype)
    cut = min(T, 8 * (T // 16))  # two row ranges, as two threads take them (the first may be empty)
    paths = [transpose_to_rows(a.ravel(order="F"), T, N, out.reshape(-1), t0, t1) for t0, t1 in ((0, cut), (cut, T))]
    np.testing.assert_array_equal(out, a)  # a copy: bit for bit
    blocks, shifted = (sum(p[i] for p in paths) for i in (0, 1))
    if T < 8 or N < 8:
        assert (blocks, shifted) == (0, 0)
    else:
        assert blocks == -(-T // 8) * -(-N // 8)
        assert (shifted > 0) == (T % 8 != 0 or N % 8 != 0)


@pytest.mark.parametrize("make", [
    lambda x: np.asfortranarray(x),          # pandas 3's block: the transposing path
    lambda x: np.ascontiguousarray(x),       # row-major: a plain copy
    lambda x: np.asfortranarray(x)[::2, 1:],  # neither: numpy's copy
    lambda x: x.astype(np.float32, order="F"),
    lambda x: (x * 1000).astype(np.int64),
])
@pytest.mark.parametrize("shape", [(101, 13), (300_001, 3), (20_003, 29)])  # one thread; several; both ragged
def test_row_major_copy_is_an_aligned_row_major_copy(make, shape):
    a = make(np.random.default_rng(1).standard_normal(shape))
    out = row_major_copy(a)
    assert out.flags.c_contiguous and out.ctypes.data % ALIGN == 0 and out.dtype == a.dtype
    np.testing.assert_array_equal(out, a)
    assert not np.shares_memory(out, a)


@pytest.mark.parametrize("order", ["F", "C"])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "bool"])
def test_to_jax_adopts_our_copy_and_is_not_a_view_of_the_input(order, dtype):
    a = np.array(np.random.default_rng(2).standard_normal((57, 19)) > 0 if dtype == "bool"
                 else np.random.default_rng(2).standard_normal((57, 19)) * 100, dtype=dtype, order=order)
    with x64_context():
        x = to_jax(a)
    assert x.dtype == a.dtype and x.shape == a.shape
    before = a.copy()
    np.testing.assert_array_equal(np.asarray(x), before)
    a[...] = 0  # JAX arrays are immutable: changing the input later must not show through
    np.testing.assert_array_equal(np.asarray(x), before)
    assert x.unsafe_buffer_pointer() % ALIGN == 0


def test_to_jax_falls_back_to_device_put_for_what_dlpack_lacks():
    times = np.arange("2000-01-01", "2000-01-05", dtype="datetime64[D]").astype("datetime64[ns]").view("int64")
    with x64_context():
        assert np.asarray(to_jax(times)).tolist() == times.tolist()
        assert float(to_jax(np.float64(2.5))) == 2.5  # 0-d
        assert np.asarray(to_jax(np.arange(6, dtype=">f8"))).tolist() == list(range(6))  # big-endian: swapped in the copy
        assert float(to_jax(1.5)) == 1.5  # not an ndarray
