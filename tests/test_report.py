"""The report: figures exist, open as images, are linked from the page and are byte-identical on re-render."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from waxegg.__main__ import main
from waxegg.bench import SCHEMA_VERSION, Grid, WaxGrid, run_sweep
from waxegg.bench.sweep import write_table
from waxegg.report.profiles import EGG_SOURCE, EGRAPH_SVG, LPROF_EGG, LPROF_EGG_BEFORE, LPROF_WAX
from waxegg.report.repro import RESULTS_CSV, render


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("href", "src") and value and not value.startswith("#"):
                self.links.add(value)


def _links(page: Path) -> set[str]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.links


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _check_figures(out: Path) -> list[Path]:
    figures = sorted((out / "figures").glob("*.png"))
    assert figures, "no figures"
    links = _links(out / "index.html")
    for fig in figures:
        assert fig.stat().st_size > 5_000, fig
        image = matplotlib.image.imread(fig)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300, fig
        assert image[..., :3].std() > 0.01, f"{fig} is blank"
        assert f"figures/{fig.name}" in links, f"page does not link {fig.name}"
    for link in links:
        if not re.match(r"https?://", link):
            assert (out / link).is_file(), f"page links missing {link}"
    return figures


@pytest.fixture(scope="module")
def small_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    grid = Grid("test", wax=WaxGrid(sizes=((150, 4), (600, 8)), dtypes=("float64", "float32"), repeat=3,
                                    backends=("copy", "pandas", "numbagg", "waxegg-numba")))
    result = run_sweep(grid, progress=False)
    write_table(result.table, result.env, out / RESULTS_CSV)
    return out


def test_render_writes_linked_figures_from_results(small_results):
    page = render(small_results)
    assert page == small_results / "index.html"
    names = {p.name for p in _check_figures(small_results)}
    assert names == {f"ewm_mean_{kind}_{dtype}.png" for kind in ("swarm", "stages", "scaling")
                     for dtype in ("float64", "float32")}
    html = page.read_text(encoding="utf-8")
    assert "results.csv" in html and "waxegg-numba" in html and "numbagg" in html
    assert "ewm_mean (EWM mean, alpha=0.1) at T=600 x N=8, float64" in html  # the focus size is the largest
    assert "Not measured in this run" in html  # no egglog part in this grid


def test_rendering_twice_gives_identical_files(small_results, tmp_path):
    render(small_results)
    first = _digest(small_results)
    copy = tmp_path / "again"
    shutil.copytree(small_results, copy)
    shutil.rmtree(copy / "figures")
    render(copy)
    assert _digest(copy) == first


@pytest.mark.slow
def test_repro_quick_end_to_end_then_from_results(tmp_path):
    out = tmp_path / "reports"
    assert main(["repro", "--quick", "--out", str(out), "--results-dir", str(tmp_path / "results"),
                 "--no-progress", "--allow-dirty"]) == 0
    figures = {p.name for p in _check_figures(out)}
    assert {"lda_swarm.png", "lda_stages.png", "ewm_mean_swarm_float64.png", "ewm_mean_scaling_float32.png"} <= figures
    links = _links(out / "index.html")
    for name in (EGRAPH_SVG, EGG_SOURCE, LPROF_EGG, LPROF_EGG_BEFORE, LPROF_WAX):
        assert f"artifacts/{name}" in links, name
        assert (out / "artifacts" / name).stat().st_size > 100, name
    assert "<svg" in (out / "artifacts" / EGRAPH_SVG).read_text()[:2000]
    lprof = (out / "artifacts" / LPROF_EGG).read_text()
    assert "Line #" in lprof and "% Time" in lprof and "<egg cache>/" in lprof
    before = (out / "artifacts" / LPROF_EGG_BEFORE).read_text()
    assert "Line #" in before and "rewrites: none (egglog's rules only)" in before
    wax = (out / "artifacts" / LPROF_WAX).read_text()
    assert "File: waxegg/wax/accessors.py" in wax and "WaxSeedWorkflow.run" in wax
    assert len(list((tmp_path / "results" / f"v{SCHEMA_VERSION}").glob("*.csv"))) == 1
    before = _digest(out)
    assert main(["repro", "--from-results", "--out", str(out), "--no-progress", "--allow-dirty"]) == 0
    assert _digest(out) == before or "+dirty" in (out / "index.html").read_text()  # the same, or stamped dirty
    meta = json.loads((out / "results.json").read_text())
    assert meta["measure_seconds"] > 0 and meta["measure_peak_rss_mb"]["process"] > 0
    # where the run's time went: the repro's phases, and the sweep's parts with what they did untimed
    phases = meta["measure_phases"]
    assert {"sweep", "first calls", "egg ablation", f"artefact {LPROF_WAX}"} <= set(phases)
    assert phases["sweep"] <= meta["measure_seconds"]
    assert {"wax part 0", "egg part", "wax timed calls", "wax reference", "wax check"} <= set(meta["sweep_phases"])
    assert f"took {meta['measure_seconds'] / 60:.1f} minutes (wall time" in (out / "index.html").read_text()
    assert "First calls, as users meet them" in (out / "index.html").read_text()
    assert {r["run"] for r in meta["first_calls"]["rows"]} == {"cold", "warm"}
    coverage = {r["estimator"]: r for r in meta["egg_extras"]["estimators"]}
    assert coverage["MinMaxScaler()"]["verified"] and coverage["MinMaxScaler()"]["max_abs_error"] < 1e-12
    assert not coverage["GaussianNB()"]["traces"] and "NotTraceable" in coverage["GaussianNB()"]["error"]
    # the quick grid sweeps both estimators like the LDA: the coverage rows are the sweep's, not measured twice
    table = pd.read_csv(out / RESULTS_CSV)
    scaler = table[table["workload"] == "MinMaxScaler()"]
    assert set(scaler["backend"]) == {"egglog", "original", "extracted", "numba", "copy"}
    # (equal up to the CSV's 9 significant digits, float_format="%.9g")
    numba = scaler[scaler["backend"] == "numba"]
    assert coverage["MinMaxScaler()"]["max_abs_error"] == pytest.approx(numba["max_abs_err"].max(), rel=1e-8, abs=0)
    assert coverage["MinMaxScaler()"]["numba_best_s"] == pytest.approx(numba["seconds"].min(), rel=1e-8, abs=0)
    nb = table[table["workload"] == "GaussianNB()"]
    assert list(nb["stage"]) == ["trace"] and list(nb["status"]) == ["error"]
    assert "egg_MinMaxScaler.png" in figures and "figures/egg_MinMaxScaler.png" in links
    profile = (out / "artifacts" / "lprof_egg_MinMaxScaler.txt").read_text()
    assert "Function: MinMaxScaler_egg" in profile and "Function: MinMaxScaler.fit" in profile
    assert "Each estimator across sizes" in (out / "index.html").read_text()


# --------------------------------------------------------------------------------------------
# The numbers printed on the page are those of results.csv
# --------------------------------------------------------------------------------------------

class _Tables(HTMLParser):
    """Every <table> of the page as (the <h3> above it, header, rows of cell text)."""

    def __init__(self):
        super().__init__()
        self.tables: list[tuple[str, list[str], list[list[str]]]] = []
        self._heading, self._in_h3, self._cell, self._row, self._rows = "", False, None, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "h3":
            self._in_h3, self._heading = True, ""
        elif tag == "table":
            self._rows = []
        elif tag == "tr" and self._rows is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "h3":
            self._in_h3 = False
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._rows.append(self._row)
            self._row = None
        elif tag == "table" and self._rows is not None:
            self.tables.append((self._heading, self._rows[0], self._rows[1:]))
            self._rows = None

    def handle_data(self, data):
        if self._in_h3:
            self._heading += data
        if self._cell is not None:
            self._cell += data


def _seconds(text: str) -> tuple[float, float]:
    """A printed time and half its last digit (the page rounds): "1.23 s", "4.5 ms", "87 µs"."""
    number, unit = text.split()
    scale = {"s": 1.0, "ms": 1e-3, "µs": 1e-6}[unit]
    decimals = len(number.split(".")[1]) if "." in number else 0
    return float(number) * scale, 0.5 * 10.0 ** -decimals * scale


def test_page_numbers_equal_those_computed_from_results_csv(small_results):
    page = render(small_results)
    parser = _Tables()
    parser.feed(page.read_text(encoding="utf-8"))
    csv = pd.read_csv(small_results / RESULTS_CSV)
    ok = csv[csv["status"] == "ok"]
    checked = 0
    for dtype in ("float64", "float32"):
        heading = f"ewm_mean (EWM mean, alpha=0.1) at T=600 x N=8, {dtype}"
        (header, rows), = [(h, r) for title, h, r in parser.tables if title == heading]
        cells = {row[0]: dict(zip(header, row)) for row in rows}
        cell = ok[(ok["workload"] == "ewm_mean") & (ok["T"] == 600) & (ok["N"] == 8) & (ok["dtype"] == dtype)]
        best = cell.groupby(["backend", "stage"])["seconds"].min()
        assert set(cells) == set(cell["backend"])
        for backend, printed in cells.items():
            e2e = best[(backend, "end_to_end")]
            shown, half_digit = _seconds(printed["end to end"])
            assert abs(shown - e2e) <= half_digit * (1 + 1e-9), (dtype, backend, printed["end to end"], e2e)
            x_copy = e2e / best[("copy", "end_to_end")]
            assert float(printed["x copy"]) == pytest.approx(x_copy, rel=0, abs=0.005 + 1e-12), (dtype, backend)
            pandas_over = best[("pandas", "end_to_end")] / e2e
            assert float(printed["pandas / this"]) == pytest.approx(pandas_over, rel=0, abs=0.005 + 1e-12)
            err = cell[(cell["backend"] == backend) & (cell["stage"] == "end_to_end")]["max_abs_err"].max()
            if np.isfinite(err):  # printed with two significant digits
                assert float(printed["max abs err vs pandas"]) == pytest.approx(err, rel=0.051, abs=0)
            repeats = ((cell["backend"] == backend) & (cell["stage"] == "end_to_end")).sum()
            assert int(printed["repeats"]) == repeats
            checked += 1
    assert checked == 8  # 4 backends x 2 dtypes


def test_page_prints_the_run_time_recorded_in_results_json(small_results, tmp_path):
    out = tmp_path / "timed"
    shutil.copytree(small_results, out)
    meta = json.loads((out / "results.json").read_text())
    assert meta["sweep_seconds"] > 0  # run_sweep records its wall time
    assert f"the sweep that made these results took {meta['sweep_seconds'] / 60:.1f} minutes" in \
        render(out).read_text(encoding="utf-8")
    meta.update(measure_seconds=1897.2, measure_peak_rss_mb={"process": 10240.0, "children": 2048.0})
    (out / "results.json").write_text(json.dumps(meta))
    html = render(out).read_text(encoding="utf-8")
    assert "took 31.6 minutes (wall time, " in html and "peak resident memory 10.0 GB, 2.0 GB in its largest child" in html
    assert "about 10 minutes" not in html


# --------------------------------------------------------------------------------------------
# The stamp names a clean commit
# --------------------------------------------------------------------------------------------

def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout


def test_repro_refuses_a_dirty_tree_unless_allowed(small_results, tmp_path, monkeypatch, capsys):
    repo = tmp_path / "checkout"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "code.py").write_text("x = 1\n")
    _git(repo, "add", "code.py")
    _git(repo, "commit", "-q", "-m", "one")
    head = _git(repo, "rev-parse", "HEAD").strip()
    monkeypatch.chdir(repo)
    monkeypatch.delenv("WAXEGG_COMMIT", raising=False)
    out = tmp_path / "reports"
    out.mkdir()
    for name in (RESULTS_CSV, "results.json"):
        shutil.copy(small_results / name, out / name)
    meta = json.loads((out / "results.json").read_text())
    meta["git"] = {"commit": head, "short": head[:12], "dirty": False}
    (out / "results.json").write_text(json.dumps(meta))

    (repo / "code.py").write_text("x = 2\n")  # an uncommitted change to a tracked file
    assert main(["repro", "--from-results", "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "refused" in err and "uncommitted changes to tracked files (code.py)" in err
    assert "commit them first" in err and f"--allow-dirty" in err and f"{head[:12]}+dirty" in err
    assert sorted(p.name for p in out.iterdir()) == ["results.csv", "results.json"]  # nothing written
    fresh = tmp_path / "fresh"
    assert main(["repro", "--quick", "--out", str(fresh), "--no-progress"]) == 1  # refused before measuring
    assert not fresh.exists()

    assert main(["repro", "--from-results", "--out", str(out), "--no-progress", "--allow-dirty"]) == 0
    assert f"{head[:12]}+dirty" in (out / "index.html").read_text(encoding="utf-8")

    _git(repo, "commit", "-q", "-am", "two")  # clean again: no flag needed, no +dirty
    assert main(["repro", "--from-results", "--out", str(out), "--no-progress"]) == 0
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "+dirty" not in html and f"Commit <code>{head[:12]}</code>" in html


def test_summary_table_takes_column_major_where_both_layouts_were_measured():
    # The default grid measures the seed size in both layouts; the per-workload table shows one row per backend
    # (the column-major cells, pandas' own layout), not a mix of both (which failed to render in the repro run).
    from waxegg.report.page import wax_summary_table

    rows = []
    for layout, seconds in (("F", 1.0), ("C", 3.0)):
        for backend in ("copy", "waxegg-numba"):
            for repeat in range(3):
                rows.append({"workload": "ewm_mean", "backend": backend, "stage": "end_to_end", "T": 100, "N": 10,
                             "dtype": "float64", "layout": layout, "out_dtype": "float64", "repeat": repeat,
                             "seconds": seconds * (2.0 if backend == "waxegg-numba" else 1.0),
                             "peak_mem_bytes": np.nan, "max_abs_err": 0.0, "reference": "pandas",
                             "status": "ok", "error": np.nan, "commit": "x"})
    table = pd.DataFrame(rows)
    summary = wax_summary_table(table, "ewm_mean", 100, 10, "float64")
    assert list(summary["backend"]) == ["copy", "waxegg-numba"]
    assert list(summary["end to end"]) == [wax_summary_table(table, "ewm_mean", 100, 10, "float64", "F")["end to end"][i]
                                           for i in range(2)]
    row_major = wax_summary_table(table, "ewm_mean", 100, 10, "float64", "C")
    assert row_major["end to end"].tolist() != summary["end to end"].tolist()


def test_page_first_call_table_prints_the_recorded_first_calls(small_results, tmp_path):
    out = tmp_path / "first"
    shutil.copytree(small_results, out)
    meta = json.loads((out / "results.json").read_text())
    base = dict(dtype="float64", layout="F", T=10_000, N=100, imports_s=1.0, call_cpu_s=1.0, rounds=1)
    calls = {("waxegg", "cold"): 2.5, ("waxegg", "warm"): 0.35, ("numbagg", "cold"): 1.25, ("numbagg", "warm"): 1.3}
    errors = {"waxegg": 4e-16, "numbagg": 1.2e-8}
    meta["first_calls"] = {"seconds": 12.0, "rows": [
        {**base, "system": system, "kernel": "ewm_var", "run": run, "call_s": s, "max_abs_err": errors[system]}
        for (system, run), s in calls.items()] + [
        {**base, "system": "waxegg", "kernel": "rolling_median", "run": run, "call_s": 3.0, "max_abs_err": None}
        for run in ("cold", "warm")]}
    (out / "results.json").write_text(json.dumps(meta))
    parser = _Tables()
    parser.feed(render(out).read_text(encoding="utf-8"))
    (header, rows), = [(h, r) for title, h, r in parser.tables if title.startswith("First calls")]
    printed = {r[0]: dict(zip(header, r)) for r in rows}
    assert printed["ewm_var"]["waxegg-numba cold"] == "2.50 s" and printed["ewm_var"]["numbagg warm"] == "1.30 s"
    assert printed["ewm_var"]["cold / numbagg cold"] == "2.00"  # 2.5 / 1.25
    # each system's own error (the worst of all systems once printed numbagg's 1.2e-8 as waxegg's)
    assert printed["ewm_var"]["waxegg-numba max abs err vs pandas"] == "4.0e-16"
    assert printed["ewm_var"]["numbagg max abs err vs pandas"] == "1.2e-08"
    assert printed["rolling_median"]["numbagg cold"] == ""  # numbagg has no rolling median
    assert printed["rolling_median"]["waxegg-numba max abs err vs pandas"] == "NaN positions differ"
    assert "wax-3step cold" not in header  # not measured here: no empty column
