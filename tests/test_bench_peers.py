"""The peers' semantics against pandas ``ewm(alpha).mean()``, which the sweep's error column assumes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from waxegg.bench.workloads import peer_parity, wax_kernels

numbagg = pytest.importorskip("numbagg")


def _nan_frame(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((1500, 6))
    values[rng.random(values.shape) < 0.25] = np.nan
    values[:7, 1] = np.nan  # leading gap
    values[100:400, 2] = np.nan  # long gap
    return values


def test_numbagg_move_exp_nanmean_is_pandas_adjust_true_ignore_na_false():
    values = _nan_frame()
    # pandas: df.ewm(alpha=0.1, adjust=True, ignore_na=False).mean()
    expected = pd.DataFrame(values).ewm(alpha=0.1, adjust=True, ignore_na=False).mean().to_numpy()
    got = wax_kernels()["ewm_mean"].numbagg(values)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert np.nanmax(np.abs(got - expected)) < 1e-14
    # ... and not ignore_na=True, whose weights skip the gaps
    other = pd.DataFrame(values).ewm(alpha=0.1, ignore_na=True).mean().to_numpy()
    assert np.nanmax(np.abs(got - other)) > 1e-3


def test_polars_ewm_mean_agrees_on_numbers_but_propagates_nan():
    pl = pytest.importorskip("polars")
    kernel = wax_kernels()["ewm_mean"]
    clean = np.random.default_rng(1).standard_normal((800, 4))
    expected = pd.DataFrame(clean).ewm(alpha=0.1).mean().to_numpy()
    got = pl.from_numpy(clean).select(kernel.polars()).to_numpy()
    assert np.max(np.abs(got - expected)) < 1e-14
    values = _nan_frame()
    got = pl.from_numpy(values).select(kernel.polars()).to_numpy()
    first_nan = np.argmax(np.isnan(values[:, 0]))
    assert np.isnan(got[first_nan:, 0]).all()  # polars treats NaN as a number: it propagates


def test_peer_parity_report_matches_the_tests_above():
    report = peer_parity(T=600, N=5)
    numbagg_false = report["peers"]["numbagg"]["ignore_na=False"]
    assert numbagg_false["max_abs_err"] < 1e-14 and numbagg_false["nan_mismatches"] == 0
    assert report["peers"]["numbagg"]["ignore_na=True"]["max_abs_err"] > 1e-3
    assert report["peers"]["waxegg-numba"]["ignore_na=False"]["max_abs_err"] < 1e-12
    if "polars" in report["peers"]:
        assert report["peers"]["polars"]["ignore_na=False"]["nan_mismatches"] > 0
