"""The fresh-process first-call measurement (waxegg.bench.first_call): its cases compute what pandas
computes, a cold process really starts from empty caches and fills them, a warm one reuses them."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from waxegg.bench.first_call import (NUMBAGG, FirstCallCase, cases, cold_and_warm, first_call_summary,
                                     measure_first_calls, run_case)
from waxegg.bench.grid import FirstCallGrid, get_grid
from waxegg.wax.accessors import register_wax_accessors
from waxegg.wax.backends._base import KERNELS


def _names(T=300, N=5, dtype="float64", layout="F"):
    rng = np.random.default_rng(3)
    values = rng.standard_normal((T, N)).astype(dtype)
    if layout == "F":
        values = np.asfortranarray(values)
    df = pd.DataFrame(values, index=pd.date_range("1970", periods=T, freq="s"), copy=False)
    other = pd.DataFrame(np.array(values[:, ::-1], order=layout), index=df.index, columns=df.columns)
    import numbagg

    return dict(df=df, other=other, x=df.to_numpy(), y=other.to_numpy(), np=np, numbagg=numbagg)


@pytest.mark.parametrize("layout", ["F", "C"])
def test_every_case_expression_equals_pandas(layout):
    """Each timed expression (waxegg's accessor, numbagg's counterpart) computes pandas' reference call."""
    register_wax_accessors()
    names = _names(layout=layout)
    for case in cases(KERNELS, layouts=[layout], shape=(300, 5), three_step=False):
        got = np.asarray(eval(case.call, names), dtype=np.float64)  # noqa: S307 (our own expression)
        ref = eval(case.reference, names).to_numpy(dtype=np.float64)  # noqa: S307
        assert got.shape == ref.shape, case
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=str(case))
        # float64 on both sides: pandas-exact kernels within 1e-12 relative (numbagg's too, on NaN-free data)
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12, err_msg=str(case))


def test_cases_pair_each_statistic_with_numbagg_and_the_three_step():
    todo = cases(KERNELS, dtypes=["float64", "float32"], layouts=["F", "C"])
    assert len([c for c in todo if c.system == "waxegg"]) == len(KERNELS) * 4
    assert {c.kernel for c in todo if c.system == "numbagg"} == set(NUMBAGG)
    assert [c.kernel for c in todo if c.system == "wax-3step"] == ["ewm_mean"] * 4
    assert get_grid("default").first_calls == FirstCallGrid()  # every statistic, float64, column-major


@pytest.mark.parametrize("kwargs, match", [
    (dict(system="polars", kernel="ewm_mean"), "system must be one of"),
    (dict(system="numbagg", kernel="rolling_median"), "numbagg has no counterpart"),
    (dict(system="wax-3step", kernel="ewm_var"), "3-step workflow computes ewm_mean only"),
    (dict(system="waxegg", kernel="ewm_mean", layout="A"), "layout must be"),
])
def test_bad_cases_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FirstCallCase(**kwargs)


def _files(folder) -> list[str]:
    return [os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs]


@pytest.mark.slow
def test_cold_process_fills_empty_caches_and_warm_one_reuses_them(tmp_path):
    case = FirstCallCase("waxegg", "ewm_mean", T=200, N=8)
    assert _files(tmp_path) == []
    cold = run_case(case, tmp_path)
    index_files = [f for f in _files(tmp_path / "numba") if f.endswith(".nbi")]
    assert index_files, "the cold process compiled nothing into NUMBA_CACHE_DIR"
    data_files = {f: os.stat(f).st_mtime_ns for f in _files(tmp_path / "numba") if f.endswith(".nbc")}
    warm = run_case(case, tmp_path)
    # the warm process loaded what the cold one wrote and compiled nothing new
    assert {f: os.stat(f).st_mtime_ns for f in _files(tmp_path / "numba") if f.endswith(".nbc")} == data_files
    for got in (cold, warm):
        assert got["call_s"] > 0 and got["imports_s"] > 0 and got["call_cpu_s"] > 0
        assert got["max_abs_err"] <= 1e-12  # standard normals: EWM means are O(1), float64


@pytest.mark.slow
def test_measure_and_summary_rows():
    rows = measure_first_calls(["ewm_mean"], shape=(200, 8), three_step=False)
    assert [(r["system"], r["run"]) for r in rows] == [("waxegg", "cold"), ("waxegg", "warm"),
                                                        ("numbagg", "cold"), ("numbagg", "warm")]
    assert all(r["max_abs_err"] <= 1e-12 and r["T"] == 200 and r["N"] == 8 for r in rows)
    (summary,) = first_call_summary(rows)
    assert summary["kernel"] == "ewm_mean" and summary["layout"] == "F"
    assert summary["cold_over_numbagg"] == pytest.approx(summary["waxegg_cold_s"] / summary["numbagg_cold_s"],
                                                         rel=1e-12, abs=0)


@pytest.mark.slow
def test_three_step_case_runs_the_seed_workflow():
    got = cold_and_warm(FirstCallCase("wax-3step", "ewm_mean", T=200, N=8))
    assert set(got) == {"cold", "warm"}
    assert all(r["max_abs_err"] <= 1e-12 for r in got.values())  # x64 on: the 3-step matches pandas in float64
