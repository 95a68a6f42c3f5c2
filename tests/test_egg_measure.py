"""The closing-number helpers of waxegg.egg.measure: rewrite ablation and the cached second-process start."""

import numpy as np
import pytest

from waxegg.egg.measure import ablation_lda, cached_start
from waxegg.egg.rewrites import ALL_REWRITES
from waxegg.report.page import ablation_table, cached_start_table


@pytest.mark.slow
def test_ablation_rows_time_each_rewrite_set_against_one_original():
    rows = ablation_lda(3_000, 2, repeat=1, variants={"egglog only": (), "+all": ALL_REWRITES})
    assert [r["variant"] for r in rows] == ["egglog only", "+all"]
    assert rows[0]["rewrites"] == "none" and rows[1]["rewrites"] == ",".join(ALL_REWRITES)
    assert rows[0]["original_s"] == rows[1]["original_s"]  # one interleaved measurement of the original
    for r in rows:
        assert r["numba_s"] > 0 and r["extracted_s"] > 0 and r["compile_s"] > 0
        assert r["original_over_numba"] == pytest.approx(r["original_s"] / r["numba_s"], rel=1e-12, abs=0)
        assert r["max_abs_error"] < 1e-8
    table = ablation_table({"egg_extras": {"ablation": rows}})
    assert list(table["rewrites"]) == ["egglog only", "+all"] and (table["original / numba"] != "").all()


@pytest.mark.slow
def test_second_process_reuses_program_and_machine_code(tmp_path):
    cold, cached = cached_start(2_000, 2, cache_dir=str(tmp_path))
    assert (cold["run"], cached["run"]) == ("cold", "cached")
    assert not cold["reused"] and not cold["numba_cache_hit"]
    assert cached["reused"] and cached["numba_cache_hit"]
    # What makes the second start cheap (its speed is the report's number, not a test's): the program index and
    # Numba's machine code live in the cache folder asked for, where the second process found both.
    assert len(list((tmp_path / "egg" / "index").glob("*.json"))) == 1
    assert any(tmp_path.rglob("*.nbi")) and any(tmp_path.rglob("*.nbc"))
    assert cold["first_result_s"] > 0 and cached["first_result_s"] > 0
    table = cached_start_table({"egg_extras": {"cached_start": [cold, cached]}})
    assert list(table["process"]) == ["cold", "cached"] and list(table["program reused"]) == [False, True]
    assert np.isfinite([cold["import_and_data_s"], cached["import_and_data_s"]]).all()
