"""The JAX backend (Haiku modules under dynamic_unroll) against pandas 3.1.1, kernel by kernel.

Every kernel is compared with the pandas call it mirrors on one frame shape (JAX compiles per
shape, so the shape is shared), and every kernel continues a stream from its state bit for bit.
"""

import numpy as np
import pandas as pd
import pytest

from waxegg.wax._params import RollingParams, ewm_params
from waxegg.wax.backends import get_backend
from waxegg.wax.backends._base import KERNELS

T, N = 96, 6


def make_frame(dtype=np.float64, seed=0) -> pd.DataFrame:
    """NaN runs, +-inf, a constant column, scale ~10 (the atol below is stated relative to it)."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((T, N)) * 4.0 + 2.0)
    x[:5, 0] = np.nan                       # leading NaNs
    x[20:45, 1] = np.nan                    # a long run
    x[rng.random(T) < 0.2, 2] = np.nan      # scattered
    x[[10, 30, 31], 2] = [np.inf, -np.inf, np.inf]
    x[:, 3] = 1.5                           # constant column
    x[40:50, 3] = np.nan
    x[T // 2:, 4] = np.nan                  # trailing NaNs
    x[[3, 60], 5] = [-np.inf, np.inf]
    return pd.DataFrame(x.astype(dtype))


SCALE = 10.0  # |values| of make_frame are below ~SCALE; sums of w steps below w * SCALE
X64, Y64 = make_frame(), make_frame(seed=1)
X32, Y32 = X64.astype(np.float32), Y64.astype(np.float32)
ROLLING = [(1, None), (6, 0)]  # shapes and parameter sets are shared across tests: each is one compile
EWM = [dict(com=3.0, min_periods=5, ignore_na=True), dict(span=7, adjust=False)]
#: Scale of each statistic in units of SCALE ** power (sums: of window * SCALE).
POWER = dict(mean=1, sum=1, std=1, min=1, max=1, median=1, count=0, var=2, cov=2, corr=0)


@pytest.fixture(scope="module")
def jax_backend():
    return get_backend("jax")


def assert_parity(got, ref, *, dtype, rtol, atol):
    ref = np.asarray(ref, dtype=np.float64)
    assert got.dtype == dtype and got.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg="NaN pattern differs from pandas")
    np.testing.assert_allclose(got.astype(np.float64), ref, rtol=rtol, atol=atol, equal_nan=True)


def tolerance(stat, window, dtype):
    """float64: rtol 1e-12 and atol 1e-12 of the statistic's scale (a cancelling variance is
    small against scale**2, not against itself). float32 (eps 1.2e-7, pandas computes in float64
    from the same float32 values): each running update rounds at ~eps * scale, a window of w steps
    accumulates up to ~w of them, so rtol 1e-5 and atol 2e-6 * w of the scale."""
    scale = (SCALE * (window if stat == "sum" else 1)) ** POWER[stat]
    if dtype == np.float64:
        return dict(rtol=1e-12, atol=1e-12 * scale)
    return dict(rtol=1e-5, atol=2e-6 * max(window, 1) * scale)


def rolling_kernel(backend, stat, window, min_periods, x, y, **kw):
    params = RollingParams(window, window if min_periods is None else min_periods)
    fn = getattr(backend, f"rolling_{stat}")
    return fn(x, y, params, **kw) if stat in ("cov", "corr") else fn(x, params, **kw)


def test_capabilities_are_declared(jax_backend):
    caps = jax_backend.capabilities
    assert caps.kernels == frozenset(KERNELS)
    assert caps.state and not caps.times and not caps.variable_windows


@pytest.mark.parametrize("window, min_periods", ROLLING)
@pytest.mark.parametrize("stat", ["mean", "sum", "var", "std", "min", "max", "median", "count", "cov", "corr"])
def test_rolling_matches_pandas_float64(jax_backend, stat, window, min_periods):
    # mirrors: DataFrame.rolling(window, min_periods).<stat>() (cov/corr: (other), pairwise=False)
    got, _ = rolling_kernel(jax_backend, stat, window, min_periods, X64.to_numpy(), Y64.to_numpy())
    roll = X64.rolling(window, min_periods=min_periods)
    ref = getattr(roll, stat)(Y64) if stat in ("cov", "corr") else getattr(roll, stat)()
    tol = tolerance(stat, window, np.float64)
    if stat == "corr":
        # Not bit-exact: pandas 3's roll_corr/roll_cov are single-pass Welford co-moments whose
        # exact add/remove form we could not recover; on 3- to 5-step windows after removals
        # the correlation differs by up to ~4e-10 (measured), far inside a correlation's scale of 1.
        tol = dict(rtol=1e-12, atol=1e-9)
    assert_parity(got, ref, dtype=np.float64, **tol)


@pytest.mark.parametrize("ddof", [0])
def test_rolling_var_cov_ddof_match_pandas(jax_backend, ddof):
    # mirrors: DataFrame.rolling(4, min_periods=1).var(ddof=0) / .cov(other, ddof=ddof)
    got, _ = rolling_kernel(jax_backend, "var", 4, 1, X64.to_numpy(), None, ddof=ddof)
    assert_parity(got, X64.rolling(4, min_periods=1).var(ddof=ddof), dtype=np.float64,
                  **tolerance("var", 4, np.float64))
    got, _ = rolling_kernel(jax_backend, "cov", 4, 1, X64.to_numpy(), Y64.to_numpy(), ddof=ddof)
    assert_parity(got, X64.rolling(4, min_periods=1).cov(Y64, ddof=ddof), dtype=np.float64,
                  **tolerance("cov", 4, np.float64))


@pytest.mark.parametrize("kw", EWM, ids=str)
@pytest.mark.parametrize("stat", ["mean", "sum", "var", "std", "cov", "corr"])
def test_ewm_matches_pandas_float64(jax_backend, stat, kw):
    # mirrors: DataFrame.ewm(**kw).<stat>() (cov/corr: (other))
    ewm = X64.ewm(**kw)
    if stat == "sum" and not kw.get("adjust", True):
        with pytest.raises(NotImplementedError, match="adjust=False"):
            ewm.sum()
        with pytest.raises(NotImplementedError, match="adjust=False"):
            jax_backend.ewm_sum(X64.to_numpy(), ewm_params(**kw))
        return
    params = ewm_params(**kw)
    fn = getattr(jax_backend, f"ewm_{stat}")
    if stat in ("cov", "corr"):
        got, _ = fn(X64.to_numpy(), Y64.to_numpy(), params)
        ref = getattr(ewm, stat)(Y64)
    else:
        got, _ = fn(X64.to_numpy(), params)
        ref = getattr(ewm, stat)()
    # An EWM sum is bounded by SCALE / alpha: state it as the sum of ~1 / alpha steps.
    window = int(np.ceil(1 / params.alpha)) if stat == "sum" else 1
    assert_parity(got, ref, dtype=np.float64, **tolerance(stat, window, np.float64))


F32_CASES = ([("rolling", s, (15, 3)) for s in ["mean", "sum", "var", "min", "max", "median", "count", "cov", "corr"]]
             + [("ewm", s, dict(com=3.0)) for s in ["mean", "sum", "var", "cov", "corr"]])


@pytest.mark.parametrize("family, stat, params", F32_CASES, ids=lambda c: str(c))
def test_float32_stays_float32_and_matches_pandas(jax_backend, family, stat, params):
    # mirrors the float64 cases on float32 data; pandas computes them in float64
    x, y = X32.to_numpy(), Y32.to_numpy()
    pair = stat in ("cov", "corr")
    if family == "rolling":
        got, _ = rolling_kernel(jax_backend, stat, *params, x, y)
        win = X32.rolling(params[0], min_periods=params[1])
        window = params[0]
    else:
        fn = getattr(jax_backend, f"ewm_{stat}")
        got, _ = fn(x, y, ewm_params(**params)) if pair else fn(x, ewm_params(**params))
        win = X32.ewm(**params)
        window = 4  # 1 / alpha = 4 steps carry most of the weight
    ref = getattr(win, stat)(Y32) if pair else getattr(win, stat)()
    tol = tolerance(stat, window, np.float32)
    if stat == "corr":
        # A ratio of two cancelling float32 co-moments: 1e-4 holds on 15-step windows; on 6-step
        # windows one correlation of this frame is off by 0.05 (float32 removals cancel m2x to a
        # few digits, where pandas, in float64, keeps them).
        tol = dict(rtol=1e-4, atol=1e-4)
    assert_parity(got, ref, dtype=np.float32, **tol)


SPLIT_CASES = ([("rolling", s, ROLLING[1]) for s in ["mean", "sum", "var", "min", "max", "median", "count", "cov", "corr"]]
               + [("ewm", s, EWM[0]) for s in ["mean", "sum", "var", "cov", "corr"]])


@pytest.mark.parametrize("family, stat, params", SPLIT_CASES, ids=lambda c: str(c))
def test_second_half_from_first_half_state_is_bit_identical(jax_backend, family, stat, params):
    x, y = X64.to_numpy(), Y64.to_numpy()
    pair = stat in ("cov", "corr")
    if family == "rolling":
        def run(a, b, state=None):
            return rolling_kernel(jax_backend, stat, *params, a, b, state=state)
    else:
        fn = getattr(jax_backend, f"ewm_{stat}")

        def run(a, b, state=None):
            p = ewm_params(**params)
            return fn(a, b, p, state=state) if pair else fn(a, p, state=state)
    whole, _ = run(x, y)
    h = T // 2
    first, state = run(x[:h], y[:h])
    second, _ = run(x[h:], y[h:], state=state)
    np.testing.assert_array_equal(np.concatenate([first, second]), whole)
    assert np.isfinite(whole).any()


def test_empty_inputs_return_nan_without_compiling(jax_backend):
    for shape in [(0, 3), (5, 0)]:
        out, state = jax_backend.rolling_median(np.zeros(shape), RollingParams(3, 1))
        assert out.shape == shape and out.dtype == np.float64 and state is None
        out, state = jax_backend.ewm_corr(np.zeros(shape, np.float32), np.zeros(shape, np.float32), ewm_params(alpha=0.5))
        assert out.shape == shape and out.dtype == np.float32 and state is None
    out, _ = jax_backend.rolling_sum(np.ones((5, 0)), RollingParams(3, 1))
    assert np.isnan(out).all()


def test_unsupported_options_raise_naming_them(jax_backend):
    bounds = RollingParams(3, 1, start=np.array([0, 0]), end=np.array([1, 2]))
    with pytest.raises(NotImplementedError, match="rolling_max.*explicit window bounds"):
        jax_backend.rolling_max(np.zeros((2, 1)), bounds)
    with pytest.raises(NotImplementedError, match="deltas"):
        jax_backend.ewm_mean(np.zeros((2, 1)), ewm_params(alpha=0.5), deltas=np.ones(1))
    with pytest.raises(TypeError, match="float16"):
        jax_backend.rolling_mean(np.zeros((2, 1), np.float16), RollingParams(2, 1))
    with pytest.raises(ValueError, match="same shape"):
        jax_backend.rolling_cov(np.zeros((2, 1)), np.zeros((2, 2)), RollingParams(2, 1))


def test_repeated_calls_reuse_the_compiled_transform(jax_backend):
    from waxegg.wax.backends.jax_backend import _module_transform

    x = X64.to_numpy()
    jax_backend.rolling_max(x, RollingParams(4, 2))
    hits = _module_transform.cache_info().hits
    out, _ = jax_backend.rolling_max(x, RollingParams(4, 2))  # a new, equal RollingParams
    assert _module_transform.cache_info().hits == hits + 1
    np.testing.assert_array_equal(out, X64.rolling(4, min_periods=2).max().to_numpy())
