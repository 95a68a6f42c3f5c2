"""Mask modules and FillNanInf: numpy twins (nanmean/nanstd) and hand-computed values."""

import haiku as hk
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waxegg.wax._x64 import x64_context
from waxegg.wax.modules import ApplyMask, FillNanInf, MaskMean, MaskNormalize, MaskStd

nan, inf = np.nan, np.inf


def call(fn, *args):
    t = hk.transform_with_state(fn)
    with x64_context():
        params, state = t.init(None, *args)
        out, _ = t.apply(params, state, None, *args)
    return out


def test_fill_nan_inf_on_pytree():
    out = call(lambda x: FillNanInf(fill_value=-1.0)(x), {"a": np.array([1.0, nan, inf, -inf]), "b": np.arange(3)})
    np.testing.assert_array_equal(out["a"], [1.0, -1.0, -1.0, -1.0])
    np.testing.assert_array_equal(out["b"], [0, 1, 2])


def test_apply_mask_axes():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(call(lambda m, v: ApplyMask(axis=1)(m, v), np.array([True, False, True]), x),
                                  [[0.0, 0.0, 2.0], [3.0, 0.0, 5.0]])
    np.testing.assert_array_equal(call(lambda m, v: ApplyMask(axis=0, mask_value=nan)(m, v), np.array([False, True]), x),
                                  [[nan, nan, nan], [3.0, 4.0, 5.0]])
    with pytest.raises(ValueError, match=r"ApplyMask: mask of shape \(2,\) does not match axes \(1,\) of data shape \(2, 3\)"):
        call(lambda m, v: ApplyMask(axis=1)(m, v), np.array([True, False]), x)


def test_mask_stats_hand_computed():
    x = np.array([[1.0, 2.0, nan], [3.0, 10.0, 5.0]])
    mask = np.array([[True, False, True], [True, True, True]])
    # selected, present: column 0 -> 1, 3; column 1 -> 10; column 2 -> 5
    mean = call(lambda m, v: MaskMean(axis=0)(m, v), mask, x)
    np.testing.assert_allclose(mean, [2.0, 10.0, 5.0])
    std = call(lambda m, v: MaskStd(axis=0)(m, v), mask, x)
    np.testing.assert_allclose(std, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(call(lambda m, v: MaskStd(axis=0, ddof=1)(m, v), mask, x), [np.sqrt(2.0), nan, nan])
    z = call(lambda m, v: MaskNormalize(axis=0, center=True)(m, v), mask, x)
    # column 0: (x - 2) / 1; columns 1, 2 have zero spread -> 0; the NaN input -> 0
    np.testing.assert_allclose(z, [[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    assert float(call(lambda m, v: MaskMean()(m, v), np.zeros((2, 3), bool), x)) != float(
        call(lambda m, v: MaskMean()(m, v), np.zeros((2, 3), bool), x))  # NaN: nothing selected


@settings(max_examples=25, deadline=None)
@given(shape=st.sampled_from([(5,), (4, 3), (2, 3, 4)]), axis=st.sampled_from([None, 0, -1]),
       ddof=st.integers(0, 1), assume_centered=st.booleans(), seed=st.integers(0, 2**16))
def test_property_mask_stats_equal_numpy(shape, axis, ddof, assume_centered, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3 + 1
    x[rng.random(shape) < 0.2] = nan
    mask = rng.random(shape) < 0.7
    sel = np.where(mask, x, nan)
    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        mean_ref = np.nanmean(sel, axis=axis)
        n = np.sum(~np.isnan(sel), axis=axis)
        if assume_centered:
            std_ref = np.sqrt(np.nansum(sel ** 2, axis=axis) / (n - ddof))
            std_ref = np.where(n - ddof > 0, std_ref, nan)
            z_ref = x / np.expand_dims(std_ref, axis) if axis is not None else x / std_ref
        else:
            std_ref = np.nanstd(sel, axis=axis, ddof=ddof)
            std_ref = np.where(n - ddof > 0, std_ref, nan)
            m = np.expand_dims(mean_ref, axis) if axis is not None else mean_ref
            s = np.expand_dims(std_ref, axis) if axis is not None else std_ref
            z_ref = (x - m) / s
        z_ref = np.where(np.isfinite(z_ref), z_ref, 0.0)
    mean, std, z = call(lambda m, v: (MaskMean(axis)(m, v), MaskStd(axis, ddof=ddof, assume_centered=assume_centered)(m, v),
                                      MaskNormalize(axis, ddof=ddof, assume_centered=assume_centered,
                                                    center=True)(m, v)), mask, x)
    np.testing.assert_allclose(mean, mean_ref, rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(std, std_ref, rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(z, z_ref, rtol=1e-12, atol=1e-12)
