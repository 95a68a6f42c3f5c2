"""The asv suite in benchmarks/ imports and passes ``asv check`` (asv's own validation)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("asv")


@pytest.mark.slow
def test_asv_check_is_clean():
    asv = shutil.which("asv", path=str(Path(sys.executable).parent)) or shutil.which("asv")
    assert asv, "asv is installed but its command is not on PATH"
    env = dict(os.environ)
    # asv drops PYTHONPATH; ASV_PYTHONPATH is its way in (needed when the package is not installed).
    env["ASV_PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "library"), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([asv, "check", "--python=same"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "No problems found" in out


def test_asv_suite_and_the_sweep_share_one_set_of_backends():
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import bench_wax, common
    finally:
        sys.path.remove(str(ROOT))
    from waxegg.bench.workloads import wax_kernels, wax_runners

    assert common.BACKENDS == list(wax_runners())
    assert bench_wax.KERNELS == list(wax_kernels())
    assert common.SIZES == ["10000x100", "100000x100"] or os.environ.get("WAXEGG_ASV_BIG")
    runner = common.wax_runner("ewm_mean", "10000x100", "float64", "waxegg-numba", stages=True)
    assert runner.frame.shape == (10_000, 100)
    with pytest.raises(NotImplementedError, match="pandas has no separate stages"):
        common.wax_runner("ewm_mean", "10000x100", "float64", "pandas", stages=True)


def test_estimator_pipeline_tracks_the_stages_and_the_error_against_sklearn(monkeypatch):
    # What asv runs, on one estimator at a small size (the suite's own sizes take minutes of compiling)
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import bench_egg
    finally:
        sys.path.remove(str(ROOT))
    monkeypatch.setattr(bench_egg, "ESTIMATOR_NAMES", ("MaxAbsScaler()",))
    monkeypatch.setattr(bench_egg, "asv_estimator_samples", lambda: [300])
    bench = bench_egg.EstimatorPipeline()
    cache = bench.setup_cache()
    args = (cache, 300, "MaxAbsScaler()")
    for stage in ("trace", "optimize", "lower", "codegen", "compile"):
        assert getattr(bench, f"track_{stage}")(*args) > 0, stage
    assert bench.track_egraph_nodes(*args) >= bench.track_egraph_classes(*args) > 0
    assert bench.track_max_abs_err_numba_vs_sklearn(*args) <= 1e-12  # X / max|X| per column: exact but rounding
