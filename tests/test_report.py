"""The report: figures exist, open as images, are linked from the page and are byte-identical on re-render."""

from __future__ import annotations

import hashlib
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
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
                 "--no-progress"]) == 0
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
    assert main(["repro", "--from-results", "--out", str(out), "--no-progress"]) == 0
    assert _digest(out) == before
