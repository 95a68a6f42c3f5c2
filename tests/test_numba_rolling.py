"""Parity of the Numba rolling kernels with pandas 3's ``DataFrame.rolling(...)``.

Tolerances: float64 results are ports of pandas' own algorithms, so they agree to rounding
(``rtol=1e-12``, ``atol=1e-12 * scale`` where scale is the data's magnitude). float32 input is
computed in float32 while pandas upcasts to float64: a Kahan/Welford window of float32 values
carries a relative error of a few float32 ulps (eps32 ~ 1.2e-7) of the window's magnitude, and a
variance loses more where it cancels, so float32 is compared with ``rtol=atol=2e-4 * scale``
(about 1700 ulps: loose enough for a variance of values ~3 standard deviations from their mean,
tight enough to catch any wrong window or missed NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from waxegg.wax._params import RollingParams
from waxegg.wax.backends import numba_rolling as nr

SINGLE = ("sum", "mean", "var", "std", "count", "min", "max", "median")
PAIRS = ("cov", "corr")


def _ours(stat, x, y, params, state=None):
    f = getattr(nr, f"rolling_{stat}")
    return f(x, y, params, state=state) if stat in PAIRS else f(x, params, state=state)


def _pandas(stat, r, y, index=None):
    if stat in PAIRS:
        return getattr(r, stat)(pd.DataFrame(y, index=index)).to_numpy()
    return getattr(r, stat)().to_numpy()


def _check(got, exp, dtype, scale=1.0):
    assert got.shape == exp.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(exp))
    if np.dtype(dtype) == np.float64:
        np.testing.assert_allclose(got, exp, rtol=1e-12, atol=1e-12 * scale, equal_nan=True)
    else:
        np.testing.assert_allclose(got, exp, rtol=2e-4, atol=2e-4 * scale, equal_nan=True)


def _data(rng, T, N, dtype, order, nan=0.1):
    x = rng.standard_normal((T, N)) * 3 + 1
    x[rng.random((T, N)) < nan] = np.nan
    if T > 12 and N > 2:
        x[3:7, 1] = np.inf  # pandas treats +-inf as missing (count counts them)
        x[8, 2] = -np.inf
        x[2:12, 0] = 1.25  # a run of one value: pandas' same-value rule
    return np.array(x, dtype=dtype, order=order)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("stat", SINGLE + PAIRS)
def test_trailing_matches_pandas_rolling(stat, dtype, order):
    """``pd.DataFrame(x).rolling(w, min_periods=m).<stat>()`` for windows 1, 2, 7, 40."""
    rng = np.random.default_rng(0)
    x = _data(rng, 150, 11, dtype, order)
    y = _data(rng, 150, 11, dtype, order)
    for w, m in [(1, 1), (1, 0), (2, 1), (7, 3), (7, 0), (40, 40)]:
        r = pd.DataFrame(x.astype(np.float64)).rolling(w, min_periods=m)
        got, state = _ours(stat, x, y, RollingParams(w, m))
        assert got.dtype == dtype and got.flags.f_contiguous == (order == "F")
        assert isinstance(state, nr.RollingState)
        _check(got, _pandas(stat, r, y.astype(np.float64)), dtype, scale=10)


@pytest.mark.parametrize("stat", SINGLE + PAIRS)
def test_explicit_bounds_match_pandas(stat):
    """center, closed, step and an offset window ("5min", irregular timestamps), bounds from pandas."""
    rng = np.random.default_rng(1)
    T = 97
    x = _data(rng, T, 5, np.float64, "F")
    y = _data(rng, T, 5, np.float64, "F")
    idx = pd.DatetimeIndex(np.sort(rng.integers(0, 3 * 3600, T)) * 10**9)
    cases = [dict(window=5, center=True), dict(window=6, center=True), dict(window=5, closed="both"),
             dict(window=5, closed="left"), dict(window=5, closed="neither"), dict(window=4, step=3),
             dict(window="5min"), dict(window="5min", closed="left")]
    for kw in cases:
        if stat in PAIRS and "step" in kw:
            continue  # pandas: step not implemented for cov/corr
        index = idx if kw["window"] == "5min" else None
        for m in (0, 1, 3):
            r = pd.DataFrame(x, index=index).rolling(min_periods=m, **kw)
            s = pd.Series(index=index if index is not None else range(T), dtype=float).rolling(min_periods=m, **kw)
            start, end = s._get_window_indexer().get_window_bounds(
                num_values=T, min_periods=s.min_periods, center=s.center, closed=s.closed, step=s.step)
            got, state = _ours(stat, x, y, RollingParams(5, m, start, end))
            assert state is None
            _check(got, _pandas(stat, r, y, index), np.float64, scale=10)


def test_explicit_bounds_refuse_state():
    x = np.arange(10.0)
    _, state = nr.rolling_mean(x, RollingParams(3, 1))
    with pytest.raises(ValueError, match="state"):
        nr.rolling_mean(x, RollingParams(3, 1, np.arange(10), np.arange(1, 11)), state=state)


def test_zero_min_periods_and_all_missing():
    """pandas: an all-NaN window sums to 0 at min_periods=0; mean/var/min stay NaN; count is 0."""
    x = np.full((6, 2), np.nan)
    x[0, 0] = 2.0
    df = pd.DataFrame(x).rolling(3, min_periods=0)
    for stat in SINGLE:
        got, _ = _ours(stat, x, None, RollingParams(3, 0))
        exp = getattr(df, stat)().to_numpy()
        np.testing.assert_array_equal(got, exp)


def test_shapes_and_layouts():
    """(T,), (T, N) strided and (T, a, b) inputs: a fresh output of the same shape, dtype and order."""
    rng = np.random.default_rng(2)
    base = rng.standard_normal((60, 12))
    exp = pd.DataFrame(base).rolling(5).mean().to_numpy()
    got1, _ = nr.rolling_mean(base[:, 3], RollingParams(5, 5))
    np.testing.assert_allclose(got1, exp[:, 3], rtol=1e-12)
    got2, _ = nr.rolling_mean(base[:, ::2], RollingParams(5, 5))
    np.testing.assert_allclose(got2, exp[:, ::2], rtol=1e-12)
    cube = np.asfortranarray(base.reshape(60, 3, 4))
    got3, _ = nr.rolling_mean(cube, RollingParams(5, 5))
    assert got3.shape == (60, 3, 4) and got3.flags.f_contiguous
    np.testing.assert_allclose(got3.reshape(60, 12, order="F"), pd.DataFrame(cube.reshape(60, 12, order="F"))
                               .rolling(5).mean().to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("stat", SINGLE + PAIRS)
def test_split_stream_is_bit_for_bit(stat):
    """``f(x[:k])`` then ``f(x[k:], state=s)`` equals ``f(x)`` bit for bit, every k and layout."""
    rng = np.random.default_rng(3)
    T = 70
    for dtype in (np.float64, np.float32):
        for order in "CF":
            x = _data(rng, T, 9, dtype, order, nan=0.2)
            y = _data(rng, T, 9, dtype, order, nan=0.1)
            for w in (1, 2, 9):
                p = RollingParams(w, 1)
                full, _ = _ours(stat, x, y, p)
                for k in sorted({0, 1, w - 1, w, w + 1, 33, T}):
                    a, s = _ours(stat, x[:k], y[:k], p)
                    b, s2 = _ours(stat, x[k:], y[k:], p, state=s)
                    both = np.concatenate([a, b])
                    np.testing.assert_array_equal(both, full)
                    np.testing.assert_array_equal(np.signbit(both), np.signbit(full))
                    assert s2.seen == T


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_property_matches_pandas(data):
    """Random sizes past the 64-column tiles and 1024-step tiles' edges, NaN runs, +-inf, any window."""
    T = data.draw(st.integers(1, 300), label="T")
    # both sides of the column groups (32 float64 / 64 float32 columns) and the 64-column tiles
    N = data.draw(st.sampled_from([1, 3, 8, 17, 31, 32, 33, 63, 64, 65, 70]), label="N")
    dtype = data.draw(st.sampled_from([np.float64, np.float32]), label="dtype")
    order = data.draw(st.sampled_from("CF"), label="order")
    w = data.draw(st.integers(1, T + 2), label="window")
    m = data.draw(st.integers(0, w), label="min_periods")
    stat = data.draw(st.sampled_from(SINGLE + PAIRS), label="stat")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N)) * 2
    y = rng.standard_normal((T, N)) + x
    for arr in (x, y):
        for _ in range(3):  # NaN runs and infinities
            a = rng.integers(0, T)
            arr[a:a + rng.integers(1, 10), rng.integers(0, N)] = rng.choice([np.nan, np.inf, -np.inf])
    x = np.array(x, dtype=dtype, order=order)
    y = np.array(y, dtype=dtype, order=order)
    r = pd.DataFrame(x.astype(np.float64)).rolling(w, min_periods=m)
    got, _ = _ours(stat, x, y, RollingParams(w, m))
    _assert_paths(nr.last_paths(), stat, T, N, dtype, order == "F" or N == 1 or T == 1, w)
    _check(got, _pandas(stat, r, y.astype(np.float64)), dtype, scale=10)


def _assert_paths(p, stat, T, N, dtype, col, w):
    """The driver and geometry a trailing call on a ``(T, N)`` input must report."""
    assert p["stat"] == stat and p["T"] == T and p["N"] == N and p["trailing"]
    assert p["layout"] == ("col" if col else "row")
    rs = p["ranges"]  # contiguous ranges covering every column
    assert rs[0][0] == 0 and rs[-1][1] == N and all(a[1] == b[0] for a, b in zip(rs, rs[1:]))
    assert p["recomputed_windows"] == (T if w <= 1 else 0)
    if stat == "median":
        assert p["driver"] == "median" and p["ragged_blocks"] == sum((b - a) % 8 != 0 for a, b in rs)
    elif col and stat in ("min", "max"):
        assert p["driver"] == "tiles" and p["tiles"] == p["full_tiles"] + p["ragged_tiles"] >= 1
        assert p["time_tiles"] == -(-T // p["TT"])
    elif col:
        K = 256 // np.dtype(dtype).itemsize
        assert p["driver"] == "col_groups" and p["K"] == K
        assert p["full_groups"] == N // K and p["ragged_groups"] == int(N % K != 0)
        assert p["time_blocks"] == -(-T // p["TB"]) and p["ragged_time_block"] == (T % p["TB"] != 0)
        # every (TB, K) tile gathered one of three ways; old values never by blocks for a window of one
        assert p["block_tiles"] + p["half_block_tiles"] + p["element_tiles"] == p["groups"] * p["time_blocks"]
        assert w > 1 or p["block_tiles"] == 0
    else:
        assert p["driver"] == "rows"


def test_every_path_is_reached():
    """Each statistic in both layouts, on shapes that reach every driver and counter."""
    rng = np.random.default_rng(5)
    T, N = 45, 70  # 70 = 2 full float64 groups + a ragged one; one full 64-column tile + a ragged one
    for stat in SINGLE + PAIRS:
        for order in "CF":
            x = _data(rng, T, N, np.float64, order)
            y = _data(rng, T, N, np.float64, order)
            col = order == "F"
            seen = {}
            for w in (1, 5):  # w=1: every window recomputed from scratch
                full, _ = _ours(stat, x, y, RollingParams(w, 1))
                p = nr.last_paths()
                _assert_paths(p, stat, T, N, np.float64, col, w)
                assert (p["recomputed_windows"] > 0) == (w == 1)
                seen[p["driver"]] = p
                a, s = _ours(stat, x[:20], y[:20], RollingParams(w, 1))
                b, _ = _ours(stat, x[20:], y[20:], RollingParams(w, 1), state=s)
                q = nr.last_paths()
                assert q["continued"] and q["tail_rows"] == (w - 1 if stat in ("min", "max", "median") else w)
                np.testing.assert_array_equal(np.concatenate([a, b]), full)
            p = seen.popitem()[1]
            if p["driver"] == "col_groups":
                assert p["full_groups"] == 2 and p["ragged_groups"] == 1 and p["ragged_time_block"]
            elif p["driver"] == "tiles":
                assert p["full_tiles"] >= 1 and p["ragged_tiles"] >= 1
            elif p["driver"] == "median":
                assert p["blocks"] >= 9 and p["ragged_blocks"] >= 1
            else:
                assert p["driver"] == "rows"
            expected = "median" if stat == "median" else ("tiles" if col and stat in ("min", "max")
                                                          else "col_groups" if col else "rows")
            assert p["driver"] == expected
            # explicit bounds: windows that jump past the previous one are recomputed
            start = np.arange(0, T, 5)
            end = np.minimum(start + 3, T)
            _ours(stat, x, y, RollingParams(5, 1, start, end))
            p = nr.last_paths()
            assert not p["trailing"] and p["monotonic"] and p["windows"] == len(start)
            assert p["driver"] == ("prefix" if stat == "count" else "bounds")
            if stat not in ("count", "min", "max"):
                assert p["recomputed_windows"] == len(start)
            _ours(stat, x, y, RollingParams(5, 1, np.arange(T), np.minimum(np.arange(T) + 4, T)))
            if stat not in ("count", "min", "max"):
                assert nr.last_paths()["recomputed_windows"] == 1  # overlapping: only the first


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("stat", ("sum", "mean", "var", "std", "count") + PAIRS)
def test_column_groups_gather_by_register_blocks(stat, dtype):
    """Column-major input reaches the group kernels through 8 x 8 register transposes where a tile is whole.

    T=100, window 5, two full column groups: per group the first 32-step tile takes its new values by
    blocks and its old ones (reaching before the call) element by element, the next two take both by
    blocks, the last (4 steps) goes element by element. The results equal pandas' and the row-major
    path's bit for bit (the same operations in the same order).
    """
    rng = np.random.default_rng(6)
    K = 256 // np.dtype(dtype).itemsize
    x = _data(rng, 100, 2 * K, dtype, "F", nan=0.02)
    y = _data(rng, 100, 2 * K, dtype, "F", nan=0.02)
    got, _ = _ours(stat, x, y, RollingParams(5, 2))
    p = nr.last_paths()
    assert p["driver"] == "col_groups" and p["groups"] == 2 and p["time_blocks"] == 4
    assert (p["block_tiles"], p["half_block_tiles"], p["element_tiles"]) == (4, 2, 2)
    rows, _ = _ours(stat, np.ascontiguousarray(x), np.ascontiguousarray(y), RollingParams(5, 2))
    assert nr.last_paths()["driver"] == "rows"
    np.testing.assert_array_equal(got, rows)
    r = pd.DataFrame(x.astype(np.float64)).rolling(5, min_periods=2)
    _check(got, _pandas(stat, r, y.astype(np.float64)), dtype, scale=10)


@pytest.mark.parametrize("stat", SINGLE + PAIRS)
def test_long_series_cross_tiles(stat):
    """T past the 1024-step tiles of column-major input, N past the row-major min/max column blocks."""
    rng = np.random.default_rng(4)
    for order in "FC":
        x = _data(rng, 2500, 30, np.float64, order, nan=0.05)
        y = _data(rng, 2500, 30, np.float64, order, nan=0.05)
        for w in (5, 1500):
            r = pd.DataFrame(x).rolling(w, min_periods=1)
            got, _ = _ours(stat, x, y, RollingParams(w, 1))
            _check(got, _pandas(stat, r, y), np.float64, scale=10)
