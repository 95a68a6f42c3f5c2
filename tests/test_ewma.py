"""EWMA parity with ``pandas.DataFrame.ewm(...).mean()`` on every backend and through the Haiku module."""

import haiku as hk
import jax
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waxegg.wax import EWMA, available_backends, dynamic_unroll, static_unroll

from conftest import nan_pattern_frame

OPTIONS = [
    dict(alpha=0.1),
    dict(alpha=0.1, adjust=False),
    dict(com=3.0, ignore_na=True),
    dict(span=5, adjust=False, ignore_na=True),
    dict(halflife=4.0, min_periods=10),
    dict(alpha=0.3, min_periods=3, adjust=False),
    dict(alpha=1.0),
]


def assert_same(got, ref, rtol=0.0, atol=1e-12):
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize("kw", OPTIONS, ids=str)
def test_accessor_matches_pandas_ewm_mean(frame, backend, kw):
    # mirrors: DataFrame.ewm(**kw).mean()
    got = frame.wax.ewm(**kw, backend=backend).mean()
    assert isinstance(got, pd.DataFrame) and got.dtypes.eq(np.float64).all()
    pd.testing.assert_index_equal(got.index, frame.index)
    pd.testing.assert_index_equal(got.columns, frame.columns)
    assert_same(got, frame.ewm(**kw).mean())


@pytest.mark.parametrize("backend", available_backends())
def test_float32_matches_to_its_own_precision(frame, backend):
    got = frame.wax.ewm(alpha=0.1, dtype="float32", backend=backend).mean()
    assert got.dtypes.eq(np.float32).all()
    ref = frame.astype(np.float32).astype(np.float64).ewm(alpha=0.1).mean()
    assert_same(got, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("unroll", [dynamic_unroll, static_unroll])
@pytest.mark.parametrize("kw", OPTIONS[:4], ids=str)
def test_module_under_unroll_matches_pandas(frame, unroll, kw):
    values = frame.to_numpy()

    def fn(x):
        return EWMA(**kw)(x)

    outputs, state = unroll(hk.transform_with_state(fn), values)
    assert outputs.dtype == np.float64
    assert_same(outputs, frame.ewm(**kw).mean())


def test_dynamic_and_static_unroll_agree_and_state_continues(frame):
    values = frame.to_numpy()
    t = hk.transform_with_state(lambda x: EWMA(alpha=0.2)(x))
    full, _ = dynamic_unroll(t, values)
    first, state = dynamic_unroll(t, values[:100])
    second, _ = static_unroll(t, values[100:], state=state, params={})
    assert_same(np.concatenate([first, second]), full)  # compiled scan vs per-step jit: ulps apart


def test_jax_global_config_untouched(frame):
    frame.wax.ewm(alpha=0.1, backend="jax").mean()
    assert not jax.config.jax_enable_x64


@settings(max_examples=25, deadline=None)
@given(
    T=st.integers(1, 60),
    N=st.integers(1, 4),
    nan_rate=st.sampled_from([0.0, 0.3, 0.9]),
    inf_rate=st.sampled_from([0.0, 0.1]),
    alpha=st.floats(0.01, 1.0),
    adjust=st.booleans(),
    ignore_na=st.booleans(),
    min_periods=st.integers(0, 5),
    seed=st.integers(0, 2**16),
)
def test_property_numba_equals_pandas(T, N, nan_rate, inf_rate, alpha, adjust, ignore_na, min_periods, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N)) * 10.0 ** rng.integers(-3, 4)
    x[rng.random((T, N)) < nan_rate] = np.nan
    x[rng.random((T, N)) < inf_rate] = np.inf * rng.choice([-1.0, 1.0])  # pandas: inf is missing
    df = pd.DataFrame(x)
    kw = dict(alpha=alpha, adjust=adjust, ignore_na=ignore_na, min_periods=min_periods)
    ref = df.ewm(**kw).mean()
    got = df.wax.ewm(**kw).mean()
    assert_same(got, ref, rtol=1e-12, atol=1e-12)


def test_series_dataarray_dataset(frame):
    import xarray as xr

    s = frame[2]
    assert_same(s.wax.ewm(alpha=0.2).mean(), s.ewm(alpha=0.2).mean())
    assert s.wax.ewm(alpha=0.2).mean().name == 2

    da = xr.DataArray(frame.to_numpy().T, dims=("asset", "time"), coords={"time": frame.index})
    got = da.wax.ewm(alpha=0.2).mean()
    assert got.dims == ("asset", "time")
    assert_same(got.values.T, frame.ewm(alpha=0.2).mean())

    ds = xr.Dataset({"a": da, "b": da * 2})
    got = ds.wax.ewm(alpha=0.2).mean()
    assert_same(got["b"].values.T, (frame * 2).ewm(alpha=0.2).mean())


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize("alpha", [0.5, 0.3])
def test_adjust_false_after_gaps_follows_pandas_rule_at_alpha_half(backend, alpha):
    # mirrors: Series.ewm(alpha, adjust=False).mean(); pandas 3.1 blends alpha=0.5 differently
    # after missing values (found by the property test; see _params.pandas_half_alpha_blend).
    s = pd.Series([np.nan, 1.0, np.nan, 0.0, np.nan, np.nan, 2.0, 3.0])
    got = s.wax.ewm(alpha=alpha, adjust=False, backend=backend).mean()
    assert_same(got, s.ewm(alpha=alpha, adjust=False).mean())


@pytest.mark.parametrize("backend", available_backends())
def test_inf_is_missing_like_pandas(backend):
    # mirrors: Series.ewm(alpha).mean() -- pandas turns +-inf into NaN before any window operation
    s = pd.Series([1.0, 2.0, np.inf, 3.0, 4.0, -np.inf, 5.0, np.nan, 6.0])
    for kw in (dict(alpha=0.1), dict(alpha=1.0), dict(alpha=0.3, adjust=False, min_periods=3)):
        assert_same(s.wax.ewm(**kw, backend=backend).mean(), s.ewm(**kw).mean())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numba_column_major_tiles_equal_row_major(dtype):
    # Full tiles (transposed in 8 x 8 register blocks) and ragged edge tiles in both directions, with
    # NaN runs crossing tile borders: the column-major exact path must give the row-major exact path's bits.
    from waxegg.wax._params import ewm_params
    from waxegg.wax.backends.numba_backend import _TILES, ewm_mean_kernel

    tile_t, tile_n = _TILES[np.dtype(dtype)]
    T, N = 2 * tile_t + 37, 3 * tile_n + 5
    rng = np.random.default_rng(3)
    x = rng.standard_normal((T, N)).astype(dtype)
    x[rng.random((T, N)) < 0.05] = np.nan
    x[tile_t - 20:tile_t + 30, 1] = np.nan
    x[:, tile_n] = 2.5
    for kw in (dict(alpha=0.1), dict(alpha=0.3, adjust=False, ignore_na=True, min_periods=4)):
        params = ewm_params(**kw)
        row_major, _ = ewm_mean_kernel(np.ascontiguousarray(x), params, fast=False)
        col_major, _ = ewm_mean_kernel(np.asfortranarray(x), params, fast=False)
        assert col_major.flags.f_contiguous
        np.testing.assert_array_equal(col_major, row_major)
        if dtype == np.float64:
            assert_same(col_major, pd.DataFrame(x).ewm(**kw).mean())


FAST_OPTIONS = OPTIONS + [dict(com=200.0), dict(alpha=0.5, adjust=False), dict(alpha=0.2, min_periods=2500)]


@pytest.mark.parametrize("order", ["F", "C"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kw", FAST_OPTIONS, ids=str)
def test_numba_steady_state_paths_match_pandas(order, dtype, kw):
    # mirrors: DataFrame.ewm(**kw).mean() over many tiles, where most of the work goes through the
    # steady-state paths (the vector scan down columns, the affine update across rows) and tiles
    # with NaN runs, scattered NaNs, infs, a constant column and a late start fall back to the exact
    # recursion.
    from waxegg.wax._params import ewm_params
    from waxegg.wax.backends.numba_backend import _TILES, ewm_mean_kernel

    tile_t, _ = _TILES[np.dtype(dtype)]
    T, N = 5 * tile_t + 13, 45
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((T, N)) * 3.0 + 1.0).astype(dtype)
    x[2 * tile_t - 5:2 * tile_t + 9, 3] = np.nan       # a run across a tile border
    x[tile_t + np.flatnonzero(rng.random(tile_t) < 0.01), 8] = np.nan  # scattered, in one tile
    x[3 * tile_t + 100, 12] = np.inf
    x[4 * tile_t + 1, 12] = -np.inf
    x[:, 20] = 2.5                                    # constant (pandas' exact-constant branch)
    x[: 3 * tile_t, 30] = np.nan                      # a column that starts late
    x[-7:, 40] = np.nan                               # trailing NaNs
    values = np.asarray(x, order=order)
    got, fast = ewm_mean_kernel(values, ewm_params(**kw))
    assert fast > x.size // 3  # the steady-state paths did a good part of the work
    ref = pd.DataFrame(x.astype(np.float64)).ewm(**kw).mean()
    if dtype == np.float64:
        assert_same(got, ref, rtol=1e-12, atol=1e-12)
    else:
        # float32 precision, as for the exact recursion, and no less accurate than it
        assert_same(got, ref, rtol=1e-5, atol=1e-6)
        exact, _ = ewm_mean_kernel(values, ewm_params(**kw), fast=False)
        err = lambda a: np.nanmax(np.abs(a - ref.to_numpy()))
        assert err(got) <= 2 * err(exact) + 2 * np.finfo(np.float32).eps * np.nanmax(np.abs(ref.to_numpy()))
