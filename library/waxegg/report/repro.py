"""``waxegg repro``: measure the sweep, store the results, render every figure and the page.

Layout of ``<out>`` (``reports/`` by default)::

    index.html              the page: tables, figures, profiles, generated source, e-graph
    results.csv, .json      the table the figures are drawn from, and its environment metadata
    figures/*.png           drawn by waxegg.report.figures (deterministic)
    artifacts/              line profiles, generated program, e-graph SVG (written while measuring)

A measuring run also stores the table under ``<results>/v<schema>/<time>-<commit>.csv``.
``--from-results`` redraws figures and page from ``<out>/results.csv`` without measuring.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from waxegg.bench.grid import EggGrid, Grid, get_grid
from waxegg.bench.sweep import read_results, run_sweep, write_results, write_table
from waxegg.report.figures import render_figures
from waxegg.report.page import render_page

RESULTS_CSV = "results.csv"
FIGURES = "figures"


def measure(out: Path, grid: Grid, *, results_dir: str | Path | None = "results", progress: bool = True) -> Path:
    """Run the sweep of ``grid``, write the artefacts and ``<out>/results.csv``; returns that path."""
    from waxegg.bench.egg_workloads import lda_data
    from waxegg.report.profiles import write_artifacts

    start = time.perf_counter()
    result = run_sweep(grid, progress=progress)
    accelerated = next(iter(result.accelerated.values()), None)
    egg_n = next(iter(result.accelerated), None)
    egg_data = lda_data(egg_n, grid.egg.n_features) if accelerated is not None and grid.egg is not None else None
    artifacts = out / "artifacts"
    if artifacts.exists():
        shutil.rmtree(artifacts)  # no stale artefact from an earlier run may survive
    with tqdm(total=1, desc="profiles and artefacts", disable=not progress) as bar:
        result.env["artifacts"] = write_artifacts(
            out, wax_size=grid.focus_size if grid.wax is not None else None, accelerated=accelerated,
            egg_data=egg_data, progress=lambda what: bar.set_postfix_str(what, refresh=True))
        bar.update(1)
    if grid.egg is not None and (grid.egg.ablation_classes or grid.egg.cached_start):
        with tqdm(total=1, desc="egglog ablation and cached start", disable=not progress) as bar:
            result.env["egg_extras"] = egg_extras(grid.egg)
            bar.update(1)
    result.env["measure_seconds"] = round(time.perf_counter() - start, 1)
    if results_dir is not None:
        write_results(result, results_dir)
    csv, _ = write_table(result.table, result.env, out / RESULTS_CSV)
    return csv


def egg_extras(grid: EggGrid) -> dict[str, Any]:
    """The rewrite ablation and the cold / cached first result at the grid's largest ``n_samples``.

    Each part that fails is recorded with its error instead (the page shows it), like an artefact.
    """
    from waxegg.egg.measure import ablation_lda, cached_start

    n = int(max(grid.n_samples))
    extras: dict[str, Any] = {"n_samples": n}
    try:
        extras["ablation"] = [row for k in grid.ablation_classes for row in ablation_lda(n, k)]
    except Exception as exc:
        extras["ablation_error"] = f"{type(exc).__name__}: {exc}"[:300]
    if grid.cached_start:
        try:
            extras["cached_start"] = cached_start(n, 2)
        except Exception as exc:
            extras["cached_start_error"] = f"{type(exc).__name__}: {exc}"[:300]
    return extras


def render(out: Path) -> Path:
    """Redraw every figure and the page from ``<out>/results.csv``; returns ``index.html``."""
    table, env = read_results(out / RESULTS_CSV)
    figures_dir = out / FIGURES
    if figures_dir.exists():
        shutil.rmtree(figures_dir)  # figures the table no longer supports must not linger
    figures = render_figures(table, env, figures_dir)
    return render_page(table, env, out, figures)


def run_repro(out: str | Path = "reports", *, quick: bool = False, from_results: bool = False,
              grid: str | Grid | None = None, results_dir: str | Path | None = "results",
              progress: bool = True) -> Path:
    """Regenerate the report into ``out``; returns the folder.

    Parameters
    ----------
    out
        Report folder (created).
    quick
        Tiny sizes (grid ``quick``) for a smoke run.
    from_results
        Do not measure: redraw from ``<out>/results.csv``.
    grid
        A :class:`~waxegg.bench.grid.Grid` or a name in :data:`~waxegg.bench.grid.GRIDS`
        (default ``default``, or ``quick`` with ``quick=True``).
    results_dir
        Where the versioned copy of the table goes (None: none).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not from_results:
        if grid is None:
            grid = "quick" if quick else "default"
        if isinstance(grid, str):
            grid = get_grid(grid)
        measure(out, grid, results_dir=results_dir, progress=progress)
    render(out)
    return out
