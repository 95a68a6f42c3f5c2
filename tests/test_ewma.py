"""EWMA parity with ``pandas.DataFrame.ewm(...).mean()`` on every backend and through the Haiku module."""

import haiku as hk
import jax
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waxegg.wax import EWMA, available_backends, dynamic_unroll, static_unroll
from waxegg.wax._params import ewm_params

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


# --- the numba kernel: fast paths, blocks, threads, state ------------------------------------
# ewm_mean_kernel returns (out, state, n_fast); n_fast counts the elements the steady-state paths
# took, so each test can check that the path it aims at ran.

DTYPES = [np.float64, np.float32]
#: (rtol, atol per unit of the data's largest magnitude) against pandas' float64 result
TOLERANCES = {np.dtype(np.float64): (1e-12, 1e-12), np.dtype(np.float32): (1e-5, 1e-5)}


def numba_kernel():
    from waxegg.wax.backends import numba_backend

    return numba_backend


def pandas_ewm_mean(x, kw):
    # mirrors: DataFrame.ewm(**kw).mean(), in float64, one column per trailing index
    return pd.DataFrame(x.reshape(len(x), -1).astype(np.float64)).ewm(**kw).mean().to_numpy()


def assert_matches_pandas(got, x, kw):
    rtol, atol = TOLERANCES[x.dtype]
    finite = np.isfinite(x)
    scale = float(np.abs(x[finite]).max()) if finite.any() else 1.0
    ref = pandas_ewm_mean(x, kw)
    assert_same(np.asarray(got).reshape(ref.shape), ref, rtol=rtol, atol=atol * scale)


def steps_to_steady(params, dtype):
    """Observations after which a column without missing values is steady, worked out here in ``dtype``.

    adjust=True: the weight ``ow`` (1 after the first observation, then ``ow * (1 - alpha) + 1``) is at
    its fixed point; adjust=False: any observation; and ``min_periods`` observations in both cases.
    """
    one = dtype.type(1)
    steps = 1
    if params.adjust:
        f, ow = dtype.type(1 - params.alpha), one
        while ow * f + one != ow:
            ow, steps = ow * f + one, steps + 1
    return max(steps, params.min_periods)


def expected_fast_elements(x, params, plan):
    """Elements the fast paths take in the columns of ``x`` (from stream start) that have no missing value."""
    flat = x.reshape(len(x), -1)
    steady = steps_to_steady(params, x.dtype)
    starts = plan.block_starts[plan.block_starts >= steady]
    if not len(starts):
        return 0
    clean = np.isfinite(flat).all(axis=0)
    return int(clean.sum()) * (len(x) - int(starts[0]))


def split_run(kernel, x, params, cuts):
    """``x`` fed in pieces cut at ``cuts``, each piece in the layout of ``x``, the state carried along."""
    outs, state, total = [], None, 0
    for a, b in zip([0, *cuts], [*cuts, len(x)]):
        out, state, n_fast = kernel.ewm_mean_kernel(x[a:b], params, state=state)
        outs.append(out)
        total += n_fast
    return np.concatenate(outs), state, total


@st.composite
def streams(draw):
    """A stream past every block and threshold: T up to 1400 steps (several 512-row blocks; registers of
    8/16 steps; the ~330 steps adjust=True needs at alpha 0.1), N up to 40 columns (past the 16-column
    alignment of row-major ranges), both dtypes and layouts, columns that are clean or hold scattered
    NaNs, NaN runs, +-inf or a late start."""
    T = draw(st.integers(1, 1400))
    N = draw(st.integers(1, 40))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    order = draw(st.sampled_from("FC"))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.standard_normal((T, N)) * 10.0 ** draw(st.integers(-3, 3)) + draw(st.sampled_from([0.0, 5.0]))
    for j in range(N):
        kind = draw(st.sampled_from(["clean", "clean", "scattered", "run", "inf", "late"]))
        if kind == "scattered":
            x[rng.random(T) < draw(st.sampled_from([0.001, 0.05, 0.5])), j] = np.nan
        elif kind in ("run", "inf"):
            a = draw(st.integers(0, T - 1))
            b = min(T, a + draw(st.integers(1, 40)))
            x[a:b, j] = np.nan if kind == "run" else draw(st.sampled_from([np.inf, -np.inf]))
        elif kind == "late":
            x[:draw(st.integers(0, T)), j] = np.nan
    return np.asarray(x.astype(dtype), order=order)


@settings(max_examples=40, deadline=None)
@given(
    x=streams(),
    alpha=st.one_of(st.floats(0.1, 1.0), st.sampled_from([0.5, 1.0])),
    adjust=st.booleans(),
    ignore_na=st.booleans(),
    min_periods=st.integers(0, 600),
    cut=st.floats(0.0, 1.0),
)
def test_property_numba_kernel_matches_pandas_and_continues_bit_for_bit(x, alpha, adjust, ignore_na, min_periods, cut):
    nb = numba_kernel()
    kw = dict(alpha=alpha, adjust=adjust, ignore_na=ignore_na, min_periods=min_periods)
    params = ewm_params(**kw)
    out, state, n_fast = nb.ewm_mean_kernel(x, params)
    assert out.dtype == x.dtype and out.flags.f_contiguous == x.flags.f_contiguous
    assert_matches_pandas(out, x, kw)
    # the fast paths ran where they should: exactly from the first block start at which a clean column
    # is steady (all of the work when every column is clean), and never when fast=False
    plan = nb.ewm_mean_plan(x)
    # time along memory: a column-major input, or a single column
    assert plan.layout == ("columns" if x.shape[1] == 1 or not x.flags.c_contiguous else "rows")
    expected = expected_fast_elements(x, params, plan)
    assert n_fast >= expected
    if np.isfinite(x).all():
        assert n_fast == expected
    exact, _, none = nb.ewm_mean_kernel(x, params, fast=False)
    assert none == 0
    assert_matches_pandas(exact, x, kw)
    # a stream cut anywhere (inside the first register or block, around NaNs) continues bit for bit
    k = int(round(cut * len(x)))
    for cuts in ([k], sorted({k, len(x) // 3, (2 * len(x)) // 3})):
        got, last, total = split_run(nb, x, params, cuts)
        np.testing.assert_array_equal(got, out)
        assert total == n_fast and last.position == len(x)
        np.testing.assert_array_equal(last.weighted, state.weighted)
        np.testing.assert_array_equal(last.nobs, state.nobs)


@pytest.mark.parametrize("order", ["F", "C"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_numba_nan_runs_at_the_kernels_block_starts(order, dtype):
    # NaN runs and infs placed at the block starts the kernel uses for this call (SIMD registers down a
    # column-major input, 512-row blocks across a row-major one): pandas' values, the fast path before
    # and after them, and a stream cut at every one of those starts continues bit for bit.
    nb = numba_kernel()
    T, N = 3700, 35
    rng = np.random.default_rng(3)
    x = np.asarray((rng.standard_normal((T, N)) * 3.0 + 1.0).astype(dtype), order=order)
    starts = nb.ewm_mean_plan(x).block_starts
    late = starts[starts > 1000]
    x[late[0] - 1:late[0] + 1, 1] = np.nan            # across a block start
    x[late[1], 2] = np.nan                            # at a block start
    x[late[2] - 1, 3] = np.inf                        # just before one
    x[late[3] + 1: late[5] + 3, 4] = np.nan           # a run over several
    x[:, 5] = 2.5                                     # constant (pandas' exact-constant branch)
    for kw in (dict(alpha=0.1), dict(alpha=0.3, adjust=False, ignore_na=True, min_periods=4)):
        params = ewm_params(**kw)
        out, _, n_fast = nb.ewm_mean_kernel(x, params)
        assert_matches_pandas(out, x, kw)
        assert n_fast >= expected_fast_elements(x, params, nb.ewm_mean_plan(x)) > T * (N - 5) // 3
        cuts = sorted({int(c) for s in late[:6] for c in (s - 1, s, s + 1)})
        got, _, total = split_run(nb, x, params, cuts)
        np.testing.assert_array_equal(got, out)
        assert total == n_fast


@pytest.mark.parametrize("dtype", DTYPES)
def test_numba_exact_path_is_the_same_in_both_layouts(dtype):
    nb = numba_kernel()
    x = nan_pattern_frame(T=700, N=6, dtype=dtype).to_numpy()
    for kw in (dict(alpha=0.1), dict(alpha=0.3, adjust=False, ignore_na=True, min_periods=4)):
        params = ewm_params(**kw)
        rows, _, _ = nb.ewm_mean_kernel(np.ascontiguousarray(x), params, fast=False)
        cols, _, _ = nb.ewm_mean_kernel(np.asfortranarray(x), params, fast=False)
        assert cols.flags.f_contiguous and rows.flags.c_contiguous
        np.testing.assert_array_equal(cols, rows)


@pytest.mark.parametrize("order", ["F", "C"])
def test_numba_fast_path_falls_back_at_a_nan_and_resumes(order):
    # ignore_na=True: a missing value leaves the weights at their fixed point, so the column is steady
    # again right after the NaN: the fast path resumes at the next block start.
    nb = numba_kernel()
    T = 3000
    x = np.asarray(np.random.default_rng(5).standard_normal((T, 1)), order=order)
    x = np.asarray(np.repeat(x, 2, axis=1), order=order)
    x[1500, 0] = np.nan
    kw = dict(alpha=0.2, ignore_na=True)
    params = ewm_params(**kw)
    out, _, n_fast = nb.ewm_mean_kernel(x, params)
    assert_matches_pandas(out, x, kw)
    plan = nb.ewm_mean_plan(x)
    steady = steps_to_steady(params, x.dtype)
    b = plan.block_starts[plan.block_starts >= steady][0]
    resume = plan.block_starts[plan.block_starts > 1500][0]
    # the clean column all the way, the other up to the NaN and again from the next block start
    assert n_fast == (T - b) + (1500 - b) + (T - resume)


def test_numba_threads_do_not_change_the_bits(monkeypatch):
    # Columns are independent and the paths depend only on the stream: any thread split gives the same
    # bits. Row-major rows of 1030 float64 give 2 threads (one per ~4 KB of a row), not 3.
    nb = numba_kernel()
    rng = np.random.default_rng(7)
    params = ewm_params(alpha=0.1)
    for shape, order, threads in (((1500, 203), "F", 3), ((1100, 1030), "C", 2)):
        values = np.asarray(rng.standard_normal(shape), order=order)
        values[rng.random(shape) < 0.0005] = np.nan
        monkeypatch.setenv("WAXEGG_NUM_THREADS", "1")
        one, _, n1 = nb.ewm_mean_kernel(values, params)
        assert len(nb.ewm_mean_plan(values).column_ranges) == 1
        monkeypatch.setenv("WAXEGG_NUM_THREADS", "3")
        ranges = nb.ewm_mean_plan(values).column_ranges
        assert len(ranges) == threads and ranges[0][0] == 0 and ranges[-1][1] == shape[1]
        if order == "C":
            assert all(a % 16 == 0 for a, _ in ranges)  # whole cache lines of a row per thread
        three, _, n3 = nb.ewm_mean_kernel(values, params)
        np.testing.assert_array_equal(three, one)
        assert n3 == n1 > 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_numba_state_api(dtype):
    nb = numba_kernel()
    x = np.asfortranarray(np.random.default_rng(1).standard_normal((100, 3)).astype(dtype))
    params = ewm_params(alpha=0.3)
    out, state = nb.ewm_mean(x[:37], params)
    assert isinstance(state, nb.EWMMeanState) and state.position == 37 and state.weighted.dtype == dtype
    before = [np.array(a) for a in (state.weighted, state.old_wt, state.nobs, state.fast, state.pending)]
    a, _ = nb.ewm_mean(x[37:], params, state=state)
    b, _ = nb.ewm_mean(x[37:], params, state=state)  # the state passed in is not changed
    np.testing.assert_array_equal(a, b)
    for old, new in zip(before, (state.weighted, state.old_wt, state.nobs, state.fast, state.pending)):
        np.testing.assert_array_equal(old, new)
    with pytest.raises(ValueError, match="dtype"):
        nb.ewm_mean(x[37:].astype(np.float64 if dtype == np.float32 else np.float32), params, state=state)
    with pytest.raises(ValueError, match="shape"):
        nb.ewm_mean(x[37:, :2], params, state=state)
    with pytest.raises(ValueError, match="float32 or float64"):
        nb.ewm_mean(x.astype(np.int64), params)
    empty, same = nb.ewm_mean(x[:0], params, state=state)
    assert empty.shape == (0, 3) and same is state


def test_numba_kernel_shapes_and_strides():
    nb = numba_kernel()
    rng = np.random.default_rng(2)
    params = ewm_params(alpha=0.2)
    kw = dict(alpha=0.2)
    series = rng.standard_normal(1000)
    out, _, n_fast = nb.ewm_mean_kernel(series, params)  # one column: scanned down its memory
    assert out.shape == (1000,) and n_fast > 0 and nb.ewm_mean_plan(series).layout == "columns"
    assert_matches_pandas(out, series[:, None], kw)
    cube = rng.standard_normal((300, 4, 5))
    out, state, _ = nb.ewm_mean_kernel(cube, params)
    assert out.shape == cube.shape and state.weighted.shape == (4, 5)
    assert_matches_pandas(out, cube, kw)
    big = np.asfortranarray(rng.standard_normal((400, 9)))
    for view in (big[::2], big[:, ::2], big[100:], np.ascontiguousarray(big)[:, 1:]):
        got, _, _ = nb.ewm_mean_kernel(view, params)
        assert_matches_pandas(got, np.ascontiguousarray(view), kw)


FAST_OPTIONS = OPTIONS + [dict(com=200.0), dict(alpha=0.5, adjust=False), dict(alpha=0.2, min_periods=2500)]


@pytest.mark.parametrize("order", ["F", "C"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", FAST_OPTIONS, ids=str)
def test_numba_steady_state_paths_match_pandas(order, dtype, kw):
    # mirrors: DataFrame.ewm(**kw).mean() over many blocks, where most of the work goes through the
    # steady-state paths (the vector scan down columns, the affine update across rows) and NaN runs,
    # scattered NaNs, infs, a constant column and a late start fall back to the exact recursion.
    nb = numba_kernel()
    T, N = 6000, 45
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((T, N)) * 3.0 + 1.0).astype(dtype)
    x[2995:3009, 3] = np.nan                          # a run
    x[1000 + np.flatnonzero(rng.random(1000) < 0.01), 8] = np.nan  # scattered
    x[3100, 12] = np.inf
    x[4001, 12] = -np.inf
    x[:, 20] = 2.5                                    # constant (pandas' exact-constant branch)
    x[:3000, 30] = np.nan                             # a column that starts late
    x[-7:, 40] = np.nan                               # trailing NaNs
    values = np.asarray(x, order=order)
    params = ewm_params(**kw)
    got, _, n_fast = nb.ewm_mean_kernel(values, params)
    assert n_fast >= expected_fast_elements(values, params, nb.ewm_mean_plan(values))
    if kw != dict(alpha=0.2, min_periods=2500) and kw != dict(com=200.0):
        assert n_fast > x.size // 2  # the steady-state paths did most of the work
    assert_matches_pandas(got, values, kw)
    if dtype == np.float32:  # no less accurate than the exact recursion in float32
        ref = pandas_ewm_mean(values, kw)
        exact, _, _ = nb.ewm_mean_kernel(values, params, fast=False)
        err = lambda a: np.nanmax(np.abs(a - ref))
        assert err(got) <= 2 * err(exact) + 2 * np.finfo(np.float32).eps * np.nanmax(np.abs(ref))
