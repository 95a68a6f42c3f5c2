"""``waxegg repro``: measure the sweep, store the results, render every figure and the page.

Layout of ``<out>`` (``reports/`` by default)::

    index.html              the page: tables, figures, profiles, generated source, e-graph
    results.csv, .json      the table the figures are drawn from, and its environment metadata
    figures/*.png           drawn by waxegg.report.figures (deterministic)
    artifacts/              line profiles, generated program, e-graph SVG (written while measuring)

A measuring run also stores the table under ``<results>/v<schema>/<time>-<commit>.csv`` and records
its own wall time and peak memory in the metadata (``measure_seconds``, ``measure_peak_rss_mb``), which
the page prints. ``--from-results`` redraws figures and page from ``<out>/results.csv`` without measuring.

The page's stamp must name a commit that holds the code that made it: ``run_repro`` refuses to
write a report from a git tree whose tracked files differ from ``HEAD`` unless ``allow_dirty=True``
(``--allow-dirty``, for development), and such a report is stamped ``<commit>+dirty``.
"""

from __future__ import annotations

import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from waxegg.bench.env import git_commit, git_dirty_paths
from waxegg.bench.grid import EggGrid, FirstCallGrid, Grid, get_grid
from waxegg.bench.sweep import read_results, run_sweep, write_results, write_table
from waxegg.bench.timers import PhaseClock
from waxegg.report.figures import render_figures
from waxegg.report.page import render_page

RESULTS_CSV = "results.csv"
FIGURES = "figures"


def measure(out: Path, grid: Grid, *, results_dir: str | Path | None = "results", progress: bool = True) -> Path:
    """Run the sweep of ``grid``, write the artefacts and ``<out>/results.csv``; returns that path."""
    from waxegg.bench.egg_workloads import lda_data
    from waxegg.report.profiles import write_artifacts

    start = time.perf_counter()
    clock = PhaseClock()
    with clock("sweep"):
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
            egg_data=egg_data, estimators=result.accelerated_estimators,
            progress=lambda what: bar.set_postfix_str(what, refresh=True), clock=clock)
        bar.update(1)
    if grid.egg is not None and (grid.egg.ablation_classes or grid.egg.cached_start or grid.egg.estimators):
        with tqdm(total=1, desc="egglog ablation, cached start, estimators", disable=not progress) as bar:
            result.env["egg_extras"] = egg_extras(grid.egg, result.table, result.env, clock=clock)
            bar.update(1)
    if grid.first_calls is not None:
        with tqdm(total=1, desc="first calls in fresh processes", disable=not progress) as bar:
            with clock("first calls"):
                result.env["first_calls"] = first_calls(grid.first_calls)
            bar.update(1)
    result.env["measure_seconds"] = round(time.perf_counter() - start, 1)  # the page prints this run's wall time
    result.env["measure_peak_rss_mb"] = _peak_rss_mb()
    result.env["measure_phases"] = clock.seconds  # where this run's time went (the sweep's own in sweep_phases)
    if results_dir is not None:
        write_results(result, results_dir)
    csv, _ = write_table(result.table, result.env, out / RESULTS_CSV)
    return csv


def _peak_rss_mb() -> dict[str, float]:
    """Peak resident memory of this process and of the largest child process it waited for, in MB."""
    scale = 1 / 2**20 if sys.platform == "darwin" else 1 / 2**10  # ru_maxrss: bytes on macOS, KiB on Linux
    return {"process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale, 1),
            "children": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale, 1)}


class DirtyTreeError(RuntimeError):
    """The git tree has uncommitted changes to tracked files, so a report could not name its commit."""


def require_clean_tree(*, allow_dirty: bool = False) -> dict[str, object]:
    """The checkout's :func:`~waxegg.bench.env.git_commit`; raises :class:`DirtyTreeError` when it is dirty
    and ``allow_dirty`` is False."""
    git = git_commit()
    if git["dirty"] and not allow_dirty:
        paths = git_dirty_paths()
        shown = ", ".join(paths[:8]) + (f" and {len(paths) - 8} more" if len(paths) > 8 else "")
        raise DirtyTreeError(
            f"the git tree has uncommitted changes to tracked files ({shown}), so the report could not name the "
            f"commit that made it; commit them first (then rerun), or pass --allow-dirty (allow_dirty=True) for a "
            f"development run, stamped {git['short']}+dirty")
    return git


def egg_extras(grid: EggGrid, table: Any = None, env: dict[str, Any] | None = None, *,
               clock: PhaseClock | None = None) -> dict[str, Any]:
    """The rewrite ablation and the cold / cached first result at the grid's largest ``n_samples``, and the
    scikit-learn estimator coverage.

    An estimator the sweep already measured at ``estimator_samples`` (``table`` and ``env`` are the sweep's) takes
    its coverage row from there (:func:`waxegg.bench.egg_workloads.coverage_row_from_sweep`) instead of being
    measured twice. Each part that fails is recorded with its error instead (the page shows it), like an artefact.
    """
    from waxegg.egg.measure import ablation_lda, cached_start

    clock = clock or PhaseClock()
    n = int(max(grid.n_samples))
    extras: dict[str, Any] = {"n_samples": n}
    try:
        with clock("egg ablation"):
            extras["ablation"] = [row for k in grid.ablation_classes for row in ablation_lda(n, k)]
    except Exception as exc:
        extras["ablation_error"] = f"{type(exc).__name__}: {exc}"[:300]
    if grid.cached_start:
        try:
            with clock("egg cached start"):
                extras["cached_start"] = cached_start(n, 2)
        except Exception as exc:
            extras["cached_start_error"] = f"{type(exc).__name__}: {exc}"[:300]
    if grid.estimators:
        try:
            with clock("egg estimator coverage"):
                extras["estimators"] = estimator_coverage(grid, table, (env or {}).get("egg_estimators", {}))
        except Exception as exc:
            extras["estimators_error"] = f"{type(exc).__name__}: {exc}"[:300]
    return extras


def estimator_coverage(grid: EggGrid, table: Any, swept: dict[str, dict]) -> list[dict[str, Any]]:
    """One coverage row per estimator of ``grid.estimators``, in that order: from the sweep where it measured the
    estimator at ``grid.estimator_samples`` (``swept``: ``env["egg_estimators"]``), measured here otherwise."""
    from waxegg.bench.egg_workloads import coverage_row_from_sweep, estimator_names, measure_estimators

    names = estimator_names() if grid.estimators is True else list(grid.estimators)
    rows: dict[str, dict[str, Any]] = {}
    if table is not None and int(grid.estimator_samples) in {int(n) for n in grid.n_samples}:
        for name in names:
            row = coverage_row_from_sweep(table, swept[name], name, grid.estimator_samples) if name in swept else None
            if row is not None:
                rows[name] = row
    missing = [name for name in names if name not in rows]
    if missing:
        rows.update({r["estimator"]: r for r in measure_estimators(grid.estimator_samples, missing)["estimators"]})
    return [rows[name] for name in names]


def first_calls(grid: FirstCallGrid) -> dict[str, Any]:
    """Cold and warm first calls in fresh processes (:func:`waxegg.bench.first_call.measure_first_calls`).

    ``{"rows": [...], "seconds": ...}``, or ``{"error": ...}`` when a case fails (the page shows it).
    """
    from waxegg.bench.first_call import measure_first_calls

    start = time.perf_counter()
    try:
        rows = measure_first_calls(grid.kernels, dtypes=grid.dtypes, layouts=grid.layouts, shape=grid.shape,
                                   three_step=grid.three_step, repeat=grid.repeat)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:600]}
    return {"rows": rows, "seconds": round(time.perf_counter() - start, 1)}


def render(out: Path, *, dirty: bool = False) -> Path:
    """Redraw every figure and the page from ``<out>/results.csv``; returns ``index.html``.

    ``dirty``: the rendering code has uncommitted changes; the stamps then say ``+dirty``.
    """
    table, env = read_results(out / RESULTS_CSV)
    if dirty:
        env = {**env, "git": {**env.get("git", {}), "dirty": True}}
    figures_dir = out / FIGURES
    if figures_dir.exists():
        shutil.rmtree(figures_dir)  # figures the table no longer supports must not linger
    figures = render_figures(table, env, figures_dir)
    return render_page(table, env, out, figures)


def run_repro(out: str | Path = "reports", *, quick: bool = False, from_results: bool = False,
              grid: str | Grid | None = None, results_dir: str | Path | None = "results",
              progress: bool = True, allow_dirty: bool = False) -> Path:
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
    allow_dirty
        Write the report even when the git tree has uncommitted changes (stamped ``+dirty``); otherwise
        :class:`DirtyTreeError` is raised before anything is measured or written.
    """
    git = require_clean_tree(allow_dirty=allow_dirty)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not from_results:
        if grid is None:
            grid = "quick" if quick else "default"
        if isinstance(grid, str):
            grid = get_grid(grid)
        measure(out, grid, results_dir=results_dir, progress=progress)
    render(out, dirty=bool(git["dirty"]))
    return out
