"""Every ``.wax.ewm`` / ``.wax.rolling`` statistic against pandas, on every backend and container.

The reference is pandas itself (``df.ewm(...).<stat>()`` / ``df.rolling(...).<stat>()``), computed
in float64. Tolerances:

- float64: ``rtol=1e-12`` plus ``atol=1e-12 * scale**k`` where ``scale`` is the data's largest
  magnitude and ``k`` the statistic's degree (1 for means and extremes, 2 for (co)variances), so that
  values that cancel to ~0 are compared on the scale of the data, not relative to ~0.
- float32 (computed in float32, as the recursion in single precision would be): ``rtol=2e-4`` plus
  ``atol=2e-5 * scale**k``: float32's eps is 6e-8 and a recursion over a window of ~20-100 steps,
  with the cancellation of a variance, loses 2-3 more digits.

NaN patterns must match exactly (``assert_frame_equal`` compares NaN positions). State round
trips and lazy (dask) results must equal the one-shot call bit for bit (``check_exact=True``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from pandas.errors import DataError

from waxegg.wax import available_backends, get_backend

BACKENDS = available_backends()

EWM_PARAMS = [
    dict(alpha=0.1),
    dict(com=3.0, adjust=False),
    dict(span=7, ignore_na=True, min_periods=4),
    dict(halflife=5.0, adjust=False, ignore_na=True),
]
# (statistic, keyword arguments of the statistic, degree)
EWM_STATS = [("mean", {}, 1), ("sum", {}, 1), ("var", {}, 2), ("var", {"bias": True}, 2), ("std", {}, 1),
             ("cov", {}, 2), ("corr", {}, 0)]
ROLLING_STATS = [("mean", {}, 1), ("sum", {}, 1), ("var", {}, 2), ("var", {"ddof": 0}, 2), ("std", {}, 1),
                 ("min", {}, 1), ("max", {}, 1), ("median", {}, 1), ("count", {}, 0), ("cov", {}, 2),
                 ("corr", {}, 0)]
ROLLING_WINDOWS = [dict(window=1), dict(window=5), dict(window=20, min_periods=3), dict(window=7, min_periods=0)]


def _frame(T: int = 240, N: int = 5, seed: int = 0, dtype=np.float64, order: str = "F") -> pd.DataFrame:
    """NaN runs, isolated NaNs, +-inf, a constant column, trailing NaNs; memory order ``order``."""
    rng = np.random.default_rng(seed)
    x = 3.0 * rng.standard_normal((T, N)) + 1.0
    x[:6, 0] = np.nan
    x[40:70, 1] = np.nan
    x[rng.random(T) < 0.15, 2] = np.nan
    x[[10, 11, (3 * T) // 4], 2] = [np.inf, -np.inf, np.inf]
    x[:, 3] = 1.5
    x[T // 2:, 4 % N] = np.nan
    x = np.asarray(x.astype(dtype), order=order)
    # read-only, as pandas 3 (copy-on-write) hands out its data: kernels must not need to write to it
    x.setflags(write=False)
    return pd.DataFrame(x, index=pd.date_range("2001", periods=T, freq="min"), columns=list("abcde")[:N],
                        copy=False)


def _tolerance(df: pd.DataFrame, degree: int) -> dict:
    finite = df.to_numpy(dtype=np.float64)
    scale = float(np.nanmax(np.abs(np.where(np.isfinite(finite), finite, np.nan))))
    if df.dtypes.iloc[0] == np.float32:
        return dict(rtol=2e-4, atol=2e-5 * max(scale, 1.0) ** degree)
    return dict(rtol=1e-12, atol=1e-12 * max(scale, 1.0) ** degree)


def _assert_like_pandas(got, want, df: pd.DataFrame, degree: int) -> None:
    tol = _tolerance(df, degree)
    if isinstance(want, pd.Series):
        pd.testing.assert_series_equal(got, want, check_dtype=False, **tol)
    else:
        pd.testing.assert_frame_equal(got, want, check_dtype=False, **tol)


def _check_against_pandas(wax_call, pandas_call, df: pd.DataFrame, degree: int) -> None:
    """``wax_call()`` equals ``pandas_call()``; where pandas raises NotImplementedError, so must waxegg."""
    try:
        want = pandas_call()
    except NotImplementedError as err:  # e.g. pandas has no ewm sum with adjust=False: neither do we
        with pytest.raises(NotImplementedError, match=str(err)):
            wax_call()
        return
    _assert_like_pandas(wax_call(), want, df, degree)


def _supports(backend: str, kernel: str) -> bool:
    return get_backend(backend).capabilities.supports(kernel)


# --------------------------------------------------------------------------------------------
# Parity on DataFrames: every statistic, every backend, both layouts, float64 and float32
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stat,kw,degree", EWM_STATS, ids=lambda v: str(v))
@pytest.mark.parametrize("params", EWM_PARAMS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_ewm_statistic_equals_pandas(backend, stat, kw, degree, params):
    if not _supports(backend, f"ewm_{stat}"):
        pytest.skip(f"{backend} declares no ewm_{stat}")
    if backend == "jax" and params is not EWM_PARAMS[0]:
        pytest.skip("the JAX reference path compiles per parameter set: one set keeps the suite fast")
    for order in ("F", "C"):
        df = _frame(order=order)
        _check_against_pandas(lambda: getattr(df.wax.ewm(**params, backend=backend), stat)(**kw),
                              lambda: getattr(df.ewm(**params), stat)(**kw), df, degree)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stat,kw,degree", ROLLING_STATS, ids=lambda v: str(v))
@pytest.mark.parametrize("window", ROLLING_WINDOWS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_rolling_statistic_equals_pandas(backend, stat, kw, degree, window):
    if not _supports(backend, f"rolling_{stat}"):
        pytest.skip(f"{backend} declares no rolling_{stat}")
    if backend == "jax" and window is not ROLLING_WINDOWS[2]:
        pytest.skip("the JAX reference path compiles per window: one window keeps the suite fast")
    for order in ("F", "C"):
        df = _frame(order=order)
        got = getattr(df.wax.rolling(**window, backend=backend), stat)(**kw)
        want = getattr(df.rolling(**window), stat)(**kw)
        _assert_like_pandas(got, want, df, degree)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind,stat", [("ewm", "cov"), ("ewm", "corr"), ("rolling", "cov"), ("rolling", "corr")])
def test_pairwise_with_other_equals_pandas(backend, kind, stat):
    """``cov`` / ``corr`` with ``other``: aligned frames (the kernels mask pairs), misaligned ones
    (pandas' outer join), ``pairwise=True`` and Series, each against pandas."""
    if not _supports(backend, f"{kind}_{stat}"):
        pytest.skip(f"{backend} declares no {kind}_{stat}")
    df = _frame(T=150, N=4)
    other = _frame(T=150, N=4, seed=7).iloc[:, ::-1]
    other.columns = df.columns  # same labels, different NaN / inf patterns
    shifted = other.iloc[10:]   # a shorter index: pandas aligns by outer join
    degree = 2 if stat == "cov" else 0

    def both(make):
        wax = df.wax.ewm(alpha=0.2, backend=backend) if kind == "ewm" else \
            df.wax.rolling(8, min_periods=3, backend=backend)
        ref = df.ewm(alpha=0.2) if kind == "ewm" else df.rolling(8, min_periods=3)
        return make(wax), make(ref)

    for make in (lambda w: getattr(w, stat)(other, pairwise=False),
                 lambda w: getattr(w, stat)(shifted, pairwise=False),
                 lambda w: getattr(w, stat)(other.iloc[:, :2], pairwise=True)):
        got, want = both(make)
        _assert_like_pandas(got, want, df, degree)
    ws = df["a"].wax.ewm(alpha=0.2, backend=backend) if kind == "ewm" else \
        df["a"].wax.rolling(8, min_periods=3, backend=backend)
    rs = df["a"].ewm(alpha=0.2) if kind == "ewm" else df["a"].rolling(8, min_periods=3)
    _assert_like_pandas(getattr(ws, stat)(other["c"]), getattr(rs, stat)(other["c"]), df, degree)
    _assert_like_pandas(getattr(ws, stat)(shifted["c"]), getattr(rs, stat)(shifted["c"]), df, degree)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind,stat", [("ewm", "mean"), ("ewm", "var"), ("ewm", "corr"), ("rolling", "mean"),
                                       ("rolling", "std"), ("rolling", "median"), ("rolling", "cov")])
def test_float32_stays_float32_and_matches_pandas(backend, kind, stat):
    if not _supports(backend, f"{kind}_{stat}"):
        pytest.skip(f"{backend} declares no {kind}_{stat}")
    df = _frame(dtype=np.float32)
    window = df.wax.ewm(alpha=0.1, backend=backend) if kind == "ewm" else \
        df.wax.rolling(20, min_periods=3, backend=backend)
    ref = df.ewm(alpha=0.1) if kind == "ewm" else df.rolling(20, min_periods=3)
    got = getattr(window, stat)()
    assert (got.dtypes == np.float32).all()
    _assert_like_pandas(got, getattr(ref, stat)(), df, 2 if stat in ("var", "cov") else 1)


# --------------------------------------------------------------------------------------------
# pandas' options: center, closed, step, offset windows, times
# --------------------------------------------------------------------------------------------

def _numba_or_skip(kernel: str) -> str:
    if "numba" not in BACKENDS or not _supports("numba", kernel):
        pytest.skip(f"numba declares no {kernel}")
    if not get_backend("numba").capabilities.variable_windows:
        pytest.skip("numba declares no variable windows")
    return "numba"


@pytest.mark.parametrize("stat,kw,degree", ROLLING_STATS, ids=lambda v: str(v))
@pytest.mark.parametrize("options", [dict(window=6, center=True), dict(window=5, closed="both"),
                                     dict(window=5, closed="left", min_periods=1), dict(window=4, closed="neither"),
                                     dict(window=5, step=3), dict(window=6, center=True, step=2, min_periods=2)],
                         ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_rolling_center_closed_step_equal_pandas(stat, kw, degree, options):
    backend = _numba_or_skip(f"rolling_{stat}")
    df = _frame(T=100)
    _check_against_pandas(lambda: getattr(df.wax.rolling(**options, backend=backend), stat)(**kw),
                          lambda: getattr(df.rolling(**options), stat)(**kw), df, degree)


@pytest.mark.parametrize("stat,kw,degree", ROLLING_STATS, ids=lambda v: str(v))
@pytest.mark.parametrize("options", [dict(window="5min"), dict(window="7min", min_periods=2, closed="both"),
                                     dict(window="3min", closed="left")],
                         ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_rolling_offset_windows_equal_pandas(stat, kw, degree, options):
    backend = _numba_or_skip(f"rolling_{stat}")
    df = _frame(T=150)
    rng = np.random.default_rng(3)
    # irregular, strictly increasing timestamps with repeats of the same gap
    df.index = pd.DatetimeIndex(np.datetime64("2001-01-01") + np.cumsum(rng.integers(1, 180, len(df))).astype(
        "timedelta64[s]"))
    got = getattr(df.wax.rolling(**options, backend=backend), stat)(**kw)
    _assert_like_pandas(got, getattr(df.rolling(**options), stat)(**kw), df, degree)


def test_ewm_times_equals_pandas():
    backend = "numba" if "numba" in BACKENDS and get_backend("numba").capabilities.times else None
    if backend is None:
        pytest.skip("numba declares no ewm times")
    df = _frame(T=200)
    rng = np.random.default_rng(5)
    times = pd.DatetimeIndex(np.datetime64("2001-01-01") + np.cumsum(rng.integers(1, 7200, len(df))).astype(
        "timedelta64[s]"))
    for kw in (dict(halflife="2h"), dict(halflife=pd.Timedelta("30min"), min_periods=3),
               dict(halflife="1h", ignore_na=True)):
        got = df.wax.ewm(times=times, backend=backend, **kw).mean()
        _assert_like_pandas(got, df.ewm(times=times, **kw).mean(), df, 1)


# --------------------------------------------------------------------------------------------
# Containers: Series, DataArray, Dataset, dask-backed (lazy, bit for bit)
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,stat", [("ewm", "mean"), ("ewm", "std"), ("rolling", "max"), ("rolling", "var")])
def test_series_dataarray_dataset_agree_with_the_frame(kind, stat):
    if not _supports("numba", f"{kind}_{stat}"):
        pytest.skip(f"numba declares no {kind}_{stat}")
    df = _frame(T=120)

    def run(obj):
        w = obj.wax.ewm(alpha=0.2) if kind == "ewm" else obj.wax.rolling(9, min_periods=2)
        return getattr(w, stat)()

    frame = run(df)
    series = run(df["b"])
    pd.testing.assert_series_equal(series, frame["b"], check_exact=True)
    da = xr.DataArray(df.to_numpy(), dims=("time", "asset"), coords={"time": df.index, "asset": df.columns})
    got = run(da.transpose("asset", "time"))  # runs along the datetime dim whatever the order
    assert got.dims == ("asset", "time")
    np.testing.assert_array_equal(got.transpose("time", "asset").values, frame.to_numpy())
    ds = xr.Dataset({"x": da, "y": 2 * da})
    out = run(ds)
    np.testing.assert_array_equal(out["x"].values, frame.to_numpy())
    np.testing.assert_array_equal(out["y"].values, run(2 * df).to_numpy())


@pytest.mark.parametrize("kind,stat", [("ewm", "mean"), ("ewm", "var"), ("rolling", "mean"), ("rolling", "median"),
                                       ("rolling", "sum")])
def test_dask_chunked_along_time_equals_one_shot_bit_for_bit(kind, stat):
    pytest.importorskip("dask.array")
    if not _supports("numba", f"{kind}_{stat}"):
        pytest.skip(f"numba declares no {kind}_{stat}")
    df = _frame(T=300)
    da = xr.DataArray(df.to_numpy(), dims=("time", "asset"), coords={"time": df.index})
    lazy = da.chunk({"time": 70, "asset": 2})

    def run(obj):
        w = obj.wax.ewm(alpha=0.1) if kind == "ewm" else obj.wax.rolling(25, min_periods=3)
        return getattr(w, stat)()

    result = run(lazy)
    assert result.chunks is not None  # still lazy
    np.testing.assert_array_equal(result.compute().values, run(da).values)


# --------------------------------------------------------------------------------------------
# State out, state in: the second half from the first half's state equals the one-shot call
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind,stat,kw", [("ewm", s, kw) for s, kw, _ in EWM_STATS]
                         + [("rolling", s, kw) for s, kw, _ in ROLLING_STATS])
def test_state_round_trip_is_bit_for_bit(backend, kind, stat, kw):
    if not _supports(backend, f"{kind}_{stat}") or not get_backend(backend).capabilities.state:
        pytest.skip(f"{backend} declares no stateful {kind}_{stat}")
    df = _frame(T=200)
    make = (lambda obj, **o: obj.wax.ewm(alpha=0.15, backend=backend, **o)) if kind == "ewm" else \
        (lambda obj, **o: obj.wax.rolling(12, min_periods=2, backend=backend, **o))
    one_shot = getattr(make(df), stat)(**kw)
    for k in (5, 57, 130):  # inside the first window, and past it; the NaN runs cross k=57
        first, state = getattr(make(df.iloc[:k], return_state=True), stat)(**kw)
        second = getattr(make(df.iloc[k:], state=state), stat)(**kw)
        joined = pd.concat([first, second])
        if stat in ("cov", "corr"):  # pairwise frames: rows (time, column)
            joined = joined.loc[one_shot.index]
        pd.testing.assert_frame_equal(joined, one_shot, check_exact=True)


# --------------------------------------------------------------------------------------------
# pandas' keywords at their defaults, bad input, dtypes
# --------------------------------------------------------------------------------------------

def test_pandas_default_keywords_are_accepted():
    df = _frame(T=50)
    pd.testing.assert_frame_equal(
        df.wax.ewm(alpha=0.1, times=None, method="single").mean(numeric_only=False, engine=None, engine_kwargs=None),
        df.ewm(alpha=0.1).mean(), rtol=1e-12, atol=1e-12)
    pd.testing.assert_frame_equal(
        df.wax.rolling(5, min_periods=None, center=False, win_type=None, on=None, closed=None, step=None,
                       method="single").mean(numeric_only=False, engine=None, engine_kwargs=None),
        df.rolling(5).mean(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call,error,match", [
    (lambda df: df.wax.rolling(-1), ValueError, "window must be an integer 0 or greater"),
    (lambda df: df.wax.rolling(3, min_periods=4), ValueError, "min_periods 4 must be <= window 3"),
    (lambda df: df.wax.rolling(3, closed="sideways"), ValueError, "closed must be"),
    (lambda df: df.wax.rolling(3, win_type="hamming"), NotImplementedError, "win_type"),
    (lambda df: df.wax.rolling(3, on="a"), NotImplementedError, "on="),
    (lambda df: df.wax.rolling(3, method="table"), NotImplementedError, "method"),
    (lambda df: df.wax.ewm(alpha=0.1, method="table"), NotImplementedError, "method"),
    (lambda df: df.wax.ewm(alpha=1.5), ValueError, "alpha"),
    (lambda df: df.wax.ewm(halflife="1h"), ValueError, "times is not None"),
    (lambda df: df.wax.ewm(halflife="1h", times=df.index).var(), NotImplementedError, "var is not implemented"),
    (lambda df: df.wax.ewm(halflife=2.0, times=df.index), ValueError, "timedelta convertible"),
    (lambda df: df.wax.ewm(halflife="1h", times=df.index[:3]), ValueError, "same length"),
    (lambda df: df.wax.ewm(alpha=0.1).mean(engine="numba"), NotImplementedError, "backend="),
    (lambda df: df.assign(s="x").wax.ewm(alpha=0.1).mean(), DataError, "non-numeric"),
    (lambda df: df.assign(s="x").wax.rolling(3).sum(), DataError, "non-numeric"),
    (lambda df: df.wax.rolling(3, backend="gpu"), ValueError, "unknown backend 'gpu'"),
])
def test_bad_input_raises_what_pandas_raises(call, error, match):
    df = _frame(T=30)
    with pytest.raises(error, match=match):
        call(df)


def test_bad_input_exception_types_are_pandas_own():
    df = _frame(T=30)
    for wax_call, pandas_call in [(lambda: df.wax.rolling(-1), lambda: df.rolling(-1)),
                                  (lambda: df.wax.rolling(3, min_periods=4), lambda: df.rolling(3, min_periods=4)),
                                  (lambda: df.assign(s="x").wax.rolling(3).mean(),
                                   lambda: df.assign(s="x").rolling(3).mean())]:
        with pytest.raises(Exception) as theirs:
            pandas_call()
        with pytest.raises(type(theirs.value)):
            wax_call()


def test_numeric_only_object_int_and_float16_columns_compute_as_pandas():
    df = _frame(T=60)
    mixed = df.assign(s="x", obj=np.arange(60, dtype=float).astype(object), i=np.arange(60),
                      h=np.linspace(0, 1, 60).astype(np.float16))
    got = mixed.wax.rolling(5).mean(numeric_only=True)
    want = mixed.rolling(5).mean(numeric_only=True)
    pd.testing.assert_frame_equal(got, want, rtol=1e-12, atol=1e-12)
    assert (got.dtypes == np.float64).all()
    numeric = mixed.drop(columns="s")
    pd.testing.assert_frame_equal(numeric.wax.ewm(alpha=0.3).mean(), numeric.ewm(alpha=0.3).mean(),
                                  rtol=1e-12, atol=1e-12)


def test_backend_capabilities_are_declared_as_data():
    for name in BACKENDS:
        caps = get_backend(name).capabilities
        assert caps.kernels, name
        for kernel in caps.kernels:
            assert callable(getattr(get_backend(name), kernel))
    assert "numba" in BACKENDS and "jax" in BACKENDS


def test_an_undeclared_kernel_raises_not_implemented():
    from waxegg.wax.backends import Backend

    class Empty(Backend):
        name = "empty"

    with pytest.raises(NotImplementedError, match="has no ewm_var"):
        Empty().ewm_var(np.zeros((3, 1)), None)
