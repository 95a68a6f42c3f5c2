"""The benchmark layer: timers, peak memory, grids, the sweep runner and its versioned results."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pandas as pd
import pytest

from waxegg.bench import (COLUMNS, SCHEMA_VERSION, Grid, PeakMemory, WaxGrid, get_grid, make_frame, max_abs_error,
                          measure, read_results, run_sweep, summarize, time_once, write_results)
from waxegg.bench.egg_workloads import LDA
from waxegg.bench.grid import EggGrid, asv_wax_sizes
from waxegg.bench.workloads import WAX_STAGES, Runner, wax_kernels, wax_runners


# --------------------------------------------------------------------------------------------
# timers
# --------------------------------------------------------------------------------------------

def test_measure_counts_first_call_apart_from_repeats():
    calls = []
    timing = measure(lambda: calls.append(1) or len(calls), repeat=4)
    assert len(calls) == 5  # one warm-up + 4 repeats
    assert len(timing.repeats) == 4 and len(timing.peaks) == 4
    assert timing.result == 5  # the last call's result
    assert timing.best == min(timing.repeats) >= 0


def test_measure_without_warmup_counts_the_first_call():
    calls = []
    timing = measure(lambda: calls.append(1), repeat=2, warmup=False)
    assert len(calls) == 2
    assert timing.repeats[0] == timing.first


def test_measure_stops_at_the_budget_after_min_repeat():
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.02)

    timing = measure(slow, repeat=50, min_repeat=2, budget_s=0.05)
    assert len(timing.repeats) == 2  # the warm-up already spent 0.02 s, two repeats pass the budget
    assert len(calls) == 3


def test_measure_calls_before_ahead_of_every_call_untimed():
    events, marks = [], []

    def before():
        events.append("before")
        marks.append(time.perf_counter())
        time.sleep(0.05)  # not billed to the call
        marks.append(time.perf_counter())

    timing = measure(lambda: events.append("call"), repeat=2, before=before)
    done = time.perf_counter()
    assert events == ["before", "call"] * 3
    # No absolute bound (a loaded machine may stall any call): each timed call lies between the end of its
    # before() and the start of the next one, so its time fits in that gap; billed, it would hold the 0.05 s sleep.
    ends, next_starts = marks[1::2], [*marks[2::2], done]
    measured = [timing.first, *timing.repeats]
    assert len(measured) == len(ends) == 3
    for seconds, end, next_start in zip(measured, ends, next_starts):
        assert 0 <= seconds <= next_start - end


def test_measure_rejects_bad_repeats():
    with pytest.raises(ValueError, match="repeat must be >= 1, got 0"):
        measure(lambda: None, repeat=0)
    with pytest.raises(ValueError, match=r"min_repeat must be in \[1, repeat=3\], got 5"):
        measure(lambda: None, repeat=3, min_repeat=5)


def test_peak_memory_sees_a_temporary_allocation():
    n = 40 * 2**20 // 8  # 40 MiB of float64, freed before the block ends

    def work():
        a = np.ones(n)
        return float(a.sum())

    with PeakMemory() as peak:
        assert work() == n
    assert 35 * 2**20 <= peak.peak_bytes <= 200 * 2**20
    sample = time_once(work)
    assert sample.result == n and sample.peak_bytes >= 35 * 2**20 and sample.seconds > 0


# --------------------------------------------------------------------------------------------
# workloads
# --------------------------------------------------------------------------------------------

def test_make_frame_is_seeded_cached_and_typed():
    a = make_frame(50, 3, "float32", seed=1)
    assert a is make_frame(50, 3, "float32", seed=1)
    assert a.dtypes.unique().tolist() == [np.dtype("float32")]
    assert a.index[1] - a.index[0] == pd.Timedelta("1s")
    values = a.to_numpy().copy()
    make_frame.cache_clear()
    np.testing.assert_array_equal(make_frame(50, 3, "float32", seed=1).to_numpy(), values)  # seeded
    assert not np.array_equal(make_frame(50, 3, "float32", seed=2).to_numpy(), values)
    with pytest.raises(ValueError, match="dtype must be a floating dtype, got 'int64'"):
        make_frame(5, 2, "int64")
    with pytest.raises(ValueError, match="T=0, N=2"):
        make_frame(0, 2)


def test_make_frame_layouts_are_the_seeds_column_major_or_row_major():
    f = make_frame(40, 5, seed=3)
    c = make_frame(40, 5, seed=3, layout="C")
    assert f.to_numpy().flags.f_contiguous and not f.to_numpy().flags.c_contiguous
    assert c.to_numpy().flags.c_contiguous and not c.to_numpy().flags.f_contiguous
    pd.testing.assert_frame_equal(f, c, check_exact=True)  # the same values, another memory order
    # the seed builds its frame with pd.DataFrame(values, index=...): the default layout is that one's
    seed_like = pd.DataFrame(c.to_numpy().copy(), index=c.index)
    assert seed_like.to_numpy().flags.f_contiguous == f.to_numpy().flags.f_contiguous
    with pytest.raises(ValueError, match="layout must be one of"):
        make_frame(5, 2, layout="K")


def test_copy_floor_keeps_the_frames_memory_order():
    runner = wax_runners()["copy"](wax_kernels()["ewm_mean"], make_frame(30, 4))
    out = runner.end_to_end()
    assert out.flags.f_contiguous and not out.flags.c_contiguous


def test_max_abs_error_handles_nans_shapes_and_chunks():
    ref = np.arange(20_000, dtype=np.float64).reshape(10_000, 2)
    res = ref.copy()
    res[9_999, 1] += 0.5  # in the last chunk
    assert max_abs_error(res, ref, chunk=4096) == 0.5
    assert max_abs_error(pd.DataFrame(res), ref) == 0.5
    res[0, 0] = np.nan
    assert max_abs_error(res, ref) == float("inf")
    ref2 = ref.copy()
    ref2[0, 0] = np.nan
    assert max_abs_error(res, ref2) == 0.5  # NaN in both: agrees
    assert max_abs_error(res[:, :1], ref) == float("inf")


@pytest.mark.parametrize("res_order, ref_order", [("C", "C"), ("F", "F"), ("F", "C"), ("C", "F")])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_max_abs_error_in_every_memory_order_and_dtype(res_order, ref_order, dtype):
    rng = np.random.default_rng(5)
    ref = np.array(rng.standard_normal((3_000, 7)), order=ref_order)
    res = np.array(ref + rng.uniform(-1e-3, 1e-3, ref.shape), dtype=dtype, order=res_order)
    ref[[5, 2_999], [0, 6]] = np.nan
    res[[5, 2_999], [0, 6]] = np.nan  # NaN in both: agrees
    ref[10, 3], res[10, 3] = np.inf, np.inf  # inf - inf is not an error (pandas-equal infinities)
    both = ~np.isnan(ref) & np.isfinite(ref)
    with np.errstate(invalid="ignore"):  # inf - inf
        expected = float(np.abs(res.astype(np.float64) - ref)[both].max())  # hand computation, full temporaries
    assert max_abs_error(res, ref) == expected
    res[100, 1] = np.nan
    assert max_abs_error(res, ref) == float("inf")


def test_every_wax_runner_stage_matches_pandas():
    kernel = wax_kernels()["ewm_mean"]
    frame = make_frame(300, 5, "float64", seed=3)
    expected = frame.ewm(alpha=0.1).mean().to_numpy()
    runners = wax_runners()
    assert {"copy", "pandas", "numbagg", "polars", "waxegg-numba", "waxegg-jax", "wax-3step"} <= set(runners)
    for name, cls in runners.items():
        if name == "copy" or cls.unavailable(kernel):
            continue
        runner = cls(kernel, frame)
        assert max_abs_error(runner.end_to_end(), expected) < 1e-12, name
        if "compute" in cls.stages:
            runner.encode()
            runner.compute()
            out = runner.format()
            assert isinstance(out, pd.DataFrame) and out.index.equals(frame.index), name
            assert max_abs_error(out, expected) < 1e-12, name


@pytest.mark.parametrize("name", ["ewm_var", "rolling_mean"])
def test_later_kernels_run_on_every_backend_that_spells_them(name):
    kernels = wax_kernels()
    if name not in kernels:
        pytest.skip(f"{name} has no accessor or module in this checkout")
    kernel = kernels[name]
    frame = make_frame(300, 4, "float64", seed=4)
    expected = kernel.pandas(frame).to_numpy()
    ran = set()
    for backend, cls in wax_runners().items():
        if backend == "copy" or not cls.applies(kernel) or cls.unavailable(kernel):
            continue
        assert max_abs_error(cls(kernel, frame).end_to_end(), expected) < 1e-10, backend
        ran.add(backend)
    # every registered backend declares these kernels, so each gets its own row (no accessor fallback)
    assert {"pandas", "waxegg-numba", "waxegg-jax", "wax-3step"} <= ran
    assert "waxegg" not in ran


def test_waxegg_runner_computes_float32_in_float32():
    kernel = wax_kernels()["ewm_mean"]
    frame = make_frame(200, 4, "float32", seed=2)
    runner = wax_runners()["waxegg-numba"](kernel, frame)
    out = runner.end_to_end()
    assert out.dtypes.unique().tolist() == [np.dtype("float32")]
    assert max_abs_error(out, frame.astype("float64").ewm(alpha=0.1).mean().to_numpy()) < 1e-5


def test_stage_rejects_unknown_stage():
    runner = wax_runners()["pandas"](wax_kernels()["ewm_mean"], make_frame(10, 2))
    with pytest.raises(ValueError, match="backend 'pandas' has no stage 'encode'"):
        runner.stage("encode")


# --------------------------------------------------------------------------------------------
# grids
# --------------------------------------------------------------------------------------------

def test_grids_validate_early():
    with pytest.raises(ValueError, match=r"\(0, 5\)"):
        WaxGrid(sizes=((0, 5),))
    with pytest.raises(ValueError, match="unknown WAX stages \\['warp'\\]"):
        WaxGrid(sizes=((5, 5),), stages=("warp",))
    with pytest.raises(ValueError, match="unknown grid 'nope'"):
        get_grid("nope")
    with pytest.raises(ValueError, match="n_samples must all be >= 4"):
        EggGrid(n_samples=(2,))


def test_default_grid_holds_the_seed_sizes():
    grid = get_grid("default")
    assert (100_000, 1000) in grid.wax.sizes and set(grid.wax.dtypes) == {"float64", "float32"}
    assert 1_000_000 in grid.egg.n_samples and grid.egg.n_features == 20
    assert grid.focus_size == (100_000, 1000)
    assert set(grid.wax.stages) == set(WAX_STAGES)


def test_asv_big_sizes_need_the_environment_variable(monkeypatch):
    monkeypatch.delenv("WAXEGG_ASV_BIG", raising=False)
    small = asv_wax_sizes()
    assert max(T * N for T, N in small) <= 10**7
    monkeypatch.setenv("WAXEGG_ASV_BIG", "1")
    assert len(asv_wax_sizes()) > len(small)


# --------------------------------------------------------------------------------------------
# the sweep
# --------------------------------------------------------------------------------------------

class _FailingRunner(Runner):
    """A backend of our own that fails at its first call, as a broken backend would."""

    backend = "broken"

    def end_to_end(self):
        raise RuntimeError("kernel exploded at T=120")


class _MissingRunner(Runner):
    backend = "missing"

    @classmethod
    def unavailable(cls, kernel):
        return "missingpkg is not installed"


@pytest.fixture(scope="module")
def tiny_sweep():
    grid = Grid("tiny", wax=WaxGrid(sizes=((120, 3), (400, 6)), dtypes=("float64", "float32"), repeat=3,
                                    backends=("copy", "pandas", "numbagg", "waxegg-numba", "broken", "missing")))
    return run_sweep(grid, progress=False, runners={"broken": _FailingRunner, "missing": _MissingRunner})


def test_sweep_has_one_row_per_repeat_with_all_columns(tiny_sweep):
    table = tiny_sweep.table
    assert list(table.columns[: len(COLUMNS)]) == list(COLUMNS)
    ok = table[table["status"] == "ok"]
    counts = ok.groupby(["backend", "stage", "T", "N", "dtype"]).size()
    assert counts.xs("compile", level="stage").eq(1).all()
    assert counts.xs("end_to_end", level="stage").eq(3).all()
    assert set(ok[ok["backend"] == "waxegg-numba"]["stage"]) == {"compile", "end_to_end", "encode", "compute", "format"}
    assert set(ok[ok["backend"] == "pandas"]["stage"]) == {"compile", "end_to_end"}
    assert (ok["seconds"] > 0).all() and (ok["peak_mem_bytes"] >= 0).all()
    assert set(ok["dtype"]) == {"float64", "float32"}


def test_sweep_errors_are_vs_pandas(tiny_sweep):
    table = tiny_sweep.table
    e2e = table[(table["stage"] == "end_to_end") & (table["status"] == "ok")]
    f64 = e2e[(e2e["dtype"] == "float64") & (e2e["backend"] != "copy")]
    assert (f64["max_abs_err"] < 1e-12).all()
    assert (f64["reference"] == "pandas ewm_mean (float64)").all()
    f32 = e2e[(e2e["dtype"] == "float32") & (e2e["backend"] == "waxegg-numba")]
    assert (f32["max_abs_err"] < 1e-5).all() and (f32["out_dtype"] == "float32").all()
    assert e2e[e2e["backend"] == "copy"]["max_abs_err"].isna().all()


def test_a_failing_backend_marks_its_rows_and_the_sweep_goes_on(tiny_sweep):
    table = tiny_sweep.table
    broken = table[table["backend"] == "broken"]
    assert len(broken) == 4  # one per size and dtype
    assert (broken["status"] == "error").all()
    assert broken["error"].str.contains("RuntimeError: kernel exploded at T=120").all()
    missing = table[table["backend"] == "missing"]
    assert (missing["status"] == "skipped").all() and (missing["error"] == "missingpkg is not installed").all()
    # the backends after the broken one still ran at every size
    assert (table[(table["backend"] == "waxegg-numba") & (table["status"] == "ok")]
            .groupby(["T", "dtype"]).size().size == 4)


def test_summary_ratios_are_relative_to_copy_and_pandas(tiny_sweep):
    s = summarize(tiny_sweep.table)
    e2e = s[(s["stage"] == "end_to_end") & s["best_s"].notna()]
    copy = e2e[e2e["backend"] == "copy"]
    assert np.allclose(copy["x_copy"], 1.0)
    pandas_rows = e2e[e2e["backend"] == "pandas"]
    assert np.allclose(pandas_rows["pandas_over"], 1.0)
    row = e2e[(e2e["backend"] == "numbagg") & (e2e["T"] == 400) & (e2e["dtype"] == "float64")].iloc[0]
    best = tiny_sweep.table.query("backend == 'copy' and stage == 'end_to_end' and T == 400 and dtype == 'float64'")
    assert row["x_copy"] == pytest.approx(row["best_s"] / best["seconds"].min(), rel=1e-12, abs=0)
    assert set(s[s["status"] == "error"]["backend"]) == {"broken"}


def test_sweep_over_both_layouts_keeps_them_apart():
    grid = Grid("layouts", wax=WaxGrid(sizes=((200, 4),), dtypes=("float64",), layouts=("F", "C"), repeat=2,
                                       min_repeat=1, backends=("copy", "waxegg-numba")))
    table = run_sweep(grid, progress=False).table
    assert set(table["layout"]) == {"F", "C"}
    assert (table[table["stage"] == "compute"]["max_abs_err"] < 1e-12).all()
    s = summarize(table)
    copy = s[(s["backend"] == "copy") & (s["stage"] == "end_to_end")]
    assert sorted(copy["layout"]) == ["C", "F"] and np.allclose(copy["x_copy"], 1.0)
    with pytest.raises(ValueError, match="unknown layouts"):
        WaxGrid(sizes=((10, 2),), layouts=("A",))


def test_results_are_versioned_with_environment_metadata(tiny_sweep, tmp_path):
    csv, meta = write_results(tiny_sweep, tmp_path / "results")
    assert csv.parent == tmp_path / "results" / f"v{SCHEMA_VERSION}"
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{12}(-dirty)?\.csv|\d{8}T\d{6}Z-unknown\.csv", csv.name)
    env = json.loads(meta.read_text())
    assert env["schema_version"] == SCHEMA_VERSION
    assert env["cores_logical"] >= 1 and env["cpu_model"]
    assert env["versions"]["numpy"] == np.__version__ and env["versions"]["pandas"] == pd.__version__
    assert env["grid"]["wax"]["sizes"] == [[120, 3], [400, 6]]
    assert env["parity"]["peers"]["numbagg"]["ignore_na=False"]["nan_mismatches"] == 0
    table, env2 = read_results(csv)
    assert len(table) == len(tiny_sweep.table) and env2["git"] == env["git"]
    pd.testing.assert_series_equal(table["seconds"], tiny_sweep.table["seconds"], rtol=1e-8, atol=0, check_names=False)
    env["schema_version"] = SCHEMA_VERSION + 1
    meta.write_text(json.dumps(env))
    with pytest.raises(ValueError, match=f"schema_version={SCHEMA_VERSION + 1}"):
        read_results(csv)


@pytest.mark.slow
def test_sweep_runs_the_egglog_lda_pipeline():
    result = run_sweep(Grid("egg", egg=EggGrid(n_samples=(300,), repeat=2, min_repeat=2)), progress=False)
    table = result.table
    assert (table["status"] == "ok").all(), table[table["status"] != "ok"]["error"].tolist()
    assert (table["workload"] == LDA).all()
    pipe = table[table["backend"] == "egglog"]
    assert set(pipe["stage"]) == {"trace", "optimize", "lower", "codegen", "compile", "end_to_end"}
    assert (pipe["seconds"] > 0).all()
    run = table[table["stage"] == "run"]
    assert set(run["backend"]) == {"original", "extracted", "numba"}
    assert (run.groupby("backend").size() == 2).all()
    assert (run["max_abs_err"] < 1e-8).all()
    assert result.egg[300]["egraph_nodes"] > 0
    assert 300 in result.accelerated


def test_interleaved_runs_round_by_round():
    from waxegg.bench.timers import interleaved

    order: list[str] = []
    times = interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, repeat=3)
    assert order == ["a", "b"] * 3
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}
    assert all(t >= 0 for ts in times.values() for t in ts)
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        interleaved({"a": lambda: None}, repeat=0)


@pytest.mark.parametrize("shape", [(130, 70), (64, 64), (1, 200), (200, 1)])
def test_max_abs_error_across_memory_orders_sees_the_last_tile(shape):
    # a row-major result against a column-major reference goes through the tiled compiled pass
    rng = np.random.default_rng(3)
    ref = np.asfortranarray(rng.standard_normal(shape))
    res = np.array(ref, order="C")  # a copy, also where one row or column makes ref row-major already
    assert max_abs_error(res, ref) == 0.0
    res[-1, -1] += 0.25
    assert max_abs_error(res, ref) == pytest.approx(0.25)
    res[-1, -1] = np.nan
    assert max_abs_error(res, ref) == np.inf
    ref[-1, -1] = np.nan
    assert max_abs_error(res, ref) == 0.0
    assert max_abs_error(res[:, ::2], ref[:, ::2]) == 0.0  # strided views too


def test_phase_clock_accumulates_named_phases():
    from waxegg.bench.timers import PhaseClock

    clock = PhaseClock()
    for _ in range(2):
        with clock("a"):
            time.sleep(0.06)
    clock.add("b", 1.04)
    assert clock.calls == {"a": 2, "b": 1}
    assert clock.seconds["b"] == 1.0 and 0.1 <= clock.seconds["a"] <= 0.5


def test_sweep_measures_each_cell_once_and_takes_float64_references_from_pandas(monkeypatch):
    import waxegg.bench.sweep as sweep_module
    from waxegg.bench.sweep import _wax_plan, _wax_units

    made = []
    original = sweep_module.wax_reference
    monkeypatch.setattr(sweep_module, "wax_reference",
                        lambda kernel, frame: made.append((kernel.name, str(frame.dtypes.iloc[0]))) or original(kernel, frame))
    first = WaxGrid(sizes=((300, 6),), dtypes=("float64", "float32"), layouts=("F", "C"),
                    kernels=("ewm_mean", "rolling_median"), backends=("copy", "pandas", "numbagg", "waxegg-numba"),
                    repeat=3, budget_s=0.5)
    # the default grid's pattern: a later part that repeats some cells of an earlier one (and adds others)
    second = WaxGrid(sizes=((300, 6),), dtypes=("float64",), kernels=("rolling_median", "rolling_max"),
                     backends=("copy", "pandas", "waxegg-numba"), repeat=3, budget_s=0.5)
    grid = Grid("overlap", wax=first, extra_wax=(second,))
    table = run_sweep(grid, progress=False).table
    runners = wax_runners()
    wanted = {u for part in grid.wax_parts for u in _wax_units(part, runners)}
    plan = [u for units in _wax_plan(grid.wax_parts, runners) for u in units]
    assert len(plan) == len(set(plan)) and set(plan) == wanted  # every cell, once
    got = {(r.workload, (r.T, r.N), r.dtype, r.layout, r.backend) for r in table.itertuples()}
    assert got == wanted
    keys = ["workload", "backend", "stage", "T", "N", "dtype", "layout", "repeat"]
    assert not table.duplicated(keys).any()
    assert set(table["stage"]) == set(WAX_STAGES)
    # pandas measured each float64 cell, so only the float32 cells (pandas on the values in float64) made one
    assert sorted(made) == [("ewm_mean", "float32"), ("rolling_median", "float32")]
    ok = table[(table["status"] == "ok") & (table["backend"] != "copy") & table["stage"].isin(["end_to_end", "compute"])]
    bound = np.where(ok["out_dtype"] == "float32", 1e-4, 1e-9)  # float32 results against the float64 reference
    assert ok["max_abs_err"].notna().all() and (ok["max_abs_err"].to_numpy() < bound).all()
    assert (ok.loc[(ok["backend"] == "pandas") & (ok["dtype"] == "float64"), "max_abs_err"] == 0).all()


def test_default_grid_plan_covers_every_part_once():
    from waxegg.bench.sweep import _wax_plan, _wax_units

    grid = get_grid("default")
    runners = wax_runners()
    per_part = [list(_wax_units(part, runners)) for part in grid.wax_parts]
    plan = _wax_plan(grid.wax_parts, runners)
    flat = [u for units in plan for u in units]
    assert set(flat) == {u for units in per_part for u in units} and len(flat) == len(set(flat))
    # the rolling median at the seed size beside pandas: its copy and numba cells are the earlier part's
    assert len(flat) < sum(map(len, per_part))
