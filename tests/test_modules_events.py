"""Event modules (no pandas twin): HasChanged, Counter, OHLC, UpdateOnEvent against hand-computed values."""

import haiku as hk
import jax.numpy as jnp
import numpy as np
import pytest

from waxegg.wax import dynamic_unroll, static_unroll
from waxegg.wax.modules import EWMA, OHLC, Counter, HasChanged, UpdateOnEvent

nan = np.nan


def unroll(fn, xs, how=dynamic_unroll):
    out, _ = how(hk.transform_with_state(fn), xs)
    return out


def test_has_changed_scalar_and_elementwise():
    x = np.array([[1.0, nan], [1.0, nan], [2.0, nan], [2.0, 3.0], [2.0, 3.0]])
    any_changed, each = unroll(lambda v: (HasChanged()(v), HasChanged(elementwise=True)(v)), x)
    np.testing.assert_array_equal(any_changed, [True, False, True, True, False])
    np.testing.assert_array_equal(each, [[True, True], [False, False], [True, False], [False, True], [False, False]])


def test_counter_counts_and_resets():
    reset = np.array([False, False, True, False, False, True])
    plain, with_reset = unroll(lambda r: (Counter(name="a")(), Counter(name="b")(reset_on=r)), reset)
    np.testing.assert_array_equal(plain, [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(with_reset, [1, 2, 1, 2, 3, 1])
    assert plain.dtype == np.uint32  # WAX-ML's counter dtype


def test_ohlc_bars_reset_on_event():
    x = np.array([3.0, 5.0, nan, 1.0, 4.0, 2.0, nan, 6.0])
    reset = np.array([False, False, False, False, True, False, True, False])
    bar = unroll(lambda a: OHLC()(a[0], reset_on=a[1]), (x, reset))
    np.testing.assert_array_equal(bar.open, [3, 3, 3, 3, 4, 4, nan, 6])
    np.testing.assert_array_equal(bar.high, [3, 5, 5, 5, 4, 4, nan, 6])
    np.testing.assert_array_equal(bar.low, [3, 3, 3, 1, 4, 2, nan, 6])
    np.testing.assert_array_equal(bar.close, [3, 5, 5, 1, 4, 2, nan, 6])


@pytest.mark.parametrize("how", [dynamic_unroll, static_unroll])
def test_update_on_event_holds_output_and_inner_state(how):
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    event = np.array([True, False, True, False, False, True])

    def fn(a):
        return UpdateOnEvent(EWMA(com=1.0, adjust=False))(a[1], a[0])

    got = np.asarray(unroll(fn, (x, event), how))
    # The inner EWMA (alpha = 1/2, adjust=False) only sees 1, 4, 32: means 1, 2.5, 17.25.
    np.testing.assert_allclose(got, [1.0, 1.0, 2.5, 2.5, 2.5, 17.25], rtol=1e-15)


def test_update_on_event_initial_output_and_pytree():
    x = np.arange(4.0)
    event = np.array([False, True, False, True])

    def fn(a):
        return UpdateOnEvent(lambda v: {"c": Counter(dtype=jnp.int32)(), "v": v * 2}, initial_output_value=-1)(a[1], a[0])

    got = unroll(fn, (x, event))
    np.testing.assert_array_equal(got["c"], [-1, 1, 1, 2])  # the counter's state is not advanced off-event
    np.testing.assert_array_equal(got["v"], [-1.0, 2.0, 2.0, 6.0])


def test_update_on_event_bad_input_named():
    with pytest.raises(ValueError, match="on_event must be a scalar"):
        hk.transform_with_state(lambda v: UpdateOnEvent(EWMA(alpha=0.5))(jnp.ones(2, bool), v)).init(None, np.ones(2))
    with pytest.raises(TypeError, match="module must be callable"):
        hk.transform_with_state(lambda v: UpdateOnEvent(3)(True, v)).init(None, np.ones(2))
