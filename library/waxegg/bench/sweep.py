"""The sweep runner: every (workload, backend, stage, size, dtype) of a grid, as one tidy table.

One row per (workload, backend, stage, T, N, dtype, layout, repeat), columns :data:`COLUMNS`:

- ``layout`` the memory order of the WAX input frame's values (``F``: column-major, what pandas 3
  builds from a 2-D array, the seed's frame; ``C``: row-major); empty for egglog rows;

- ``seconds`` wall time of one call; ``peak_mem_bytes`` its peak resident memory above the start;
- ``max_abs_err`` max ``|result - reference|`` of the stage's output (``reference`` names it; NaN for
  stages whose output is not the final result);
- ``status`` ``ok`` / ``skipped`` (package or kernel missing, ``error`` says why) / ``error`` (the
  backend raised; ``error`` holds the exception and the sweep goes on).

Stage ``compile`` is the first ``end_to_end`` call at that size in the process (compilation where
the backend compiles; a first call otherwise). Every other stage gets one warm-up call, then
best-of-k repeats. egglog rows: ``backend="egglog"`` with the pipeline stages (one run each, from
:class:`waxegg.egg.StageTimes`; ``end_to_end`` is the whole pipeline with its peak memory), then
``original`` / ``extracted`` / ``numba`` with stage ``run``. For egglog, ``T`` is n_samples and
``N`` n_features. The LDA's workload is ``lda``; a scikit-learn estimator's is its workload name
(``"StandardScaler()"``, :data:`waxegg.egg.workloads.ESTIMATORS`), with a ``copy`` of X beside its
functions and errors against scikit-learn on NumPy; one that does not trace has a single ``trace`` row
with status ``error`` (:func:`egg_workload_names` tells the egglog workloads from the WAX ones).

Results are written under ``<results>/v<SCHEMA_VERSION>/<UTC time>-<commit>.csv`` with a ``.json``
of environment metadata beside (:func:`write_results`).
"""

from __future__ import annotations

import gc
import json
import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from waxegg.bench.egg_workloads import (
    LDA,
    accelerate_estimator,
    accelerate_lda,
    egg_available,
    estimator_data,
    estimator_functions,
    estimator_rows,
    lda_data,
    lda_functions,
    swept_estimator_names,
)
from waxegg.bench.env import SCHEMA_VERSION, environment
from waxegg.bench.grid import EggGrid, Grid, WaxGrid
from waxegg.bench.timers import PeakMemory, PhaseClock, frozen_heap, measure, refreeze
from waxegg.bench.workloads import make_frame, max_abs_error, peer_parity, wax_kernels, wax_reference, wax_runners

COLUMNS = (
    "workload", "backend", "stage", "T", "N", "dtype", "layout", "out_dtype", "repeat", "seconds",
    "peak_mem_bytes", "max_abs_err", "reference", "status", "error",
)

_ERROR_CHARS = 300
_BIG_ELEMENTS = 1_000_000


@dataclass
class SweepResult:
    """A sweep's table, its environment metadata, and what the egglog pipeline produced per size."""

    table: pd.DataFrame
    env: dict[str, Any]
    egg: dict[int, dict[str, Any]] = field(default_factory=dict)
    accelerated: dict[int, Any] = field(default_factory=dict, repr=False)
    #: Per swept estimator workload, its largest size's ``(Accelerated, input arrays)`` (for line profiles).
    accelerated_estimators: dict[str, tuple[Any, tuple]] = field(default_factory=dict, repr=False)
    paths: tuple[Path, Path] | None = None


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text[:_ERROR_CHARS]


def _out_dtype(result: Any) -> str:
    if isinstance(result, pd.DataFrame):
        return str(result.dtypes.iloc[0]) if result.shape[1] else ""
    dtype = getattr(result, "dtype", None)
    if dtype is None and isinstance(getattr(result, "dtypes", None), list) and result.dtypes:
        dtype = result.dtypes[0]  # a polars DataFrame
    return str(dtype).lower() if dtype is not None else ""


def _row(**kw: Any) -> dict[str, Any]:
    row = dict.fromkeys(COLUMNS, np.nan)
    row.update(layout="", out_dtype="", reference="", status="ok", error="")
    row.update(kw)
    return row


def _timing_rows(base: dict[str, Any], stage: str, seconds: list[float], peaks: list[int], **kw: Any) -> list[dict]:
    return [_row(**base, stage=stage, repeat=i, seconds=s, peak_mem_bytes=p, **kw)
            for i, (s, p) in enumerate(zip(seconds, peaks))]


# --------------------------------------------------------------------------------------------
# WAX
# --------------------------------------------------------------------------------------------

def _wax_units(grid: WaxGrid, runners: dict[str, type]) -> Iterator[tuple[str, tuple[int, int], str, str, str]]:
    backends = list(runners) if grid.backends is None else list(grid.backends)
    unknown = [b for b in backends + list(grid.exclude_backends) if b not in runners]
    backends = [b for b in backends if b not in grid.exclude_backends]
    if unknown:
        raise ValueError(f"unknown WAX backends {unknown}; known: {list(runners)}")
    kernels = wax_kernels()
    for k in grid.kernels:
        if k not in kernels:
            raise ValueError(f"unknown WAX kernel {k!r}; known: {sorted(kernels)}")
    # layouts inside kernels: both layouts of a kernel share its pandas reference (computed once)
    for T, N in sorted(grid.sizes, key=lambda s: (s[0] * s[1], s)):
        for dtype in grid.dtypes:
            for kernel in grid.kernels:
                for layout in grid.layouts:
                    for backend in backends:
                        if runners[backend].applies(kernels[kernel]):
                            yield kernel, (int(T), int(N)), dtype, layout, backend


def _run_wax_backend(grid: WaxGrid, runner_cls: type, kernel: Any, frame: pd.DataFrame,
                     reference: Callable[[], np.ndarray], base: dict[str, Any],
                     progress: Callable[[str], None], clock: PhaseClock | None = None, *,
                     offer: Callable[[Any], None] | None = None) -> list[dict]:
    """``offer``, where given, receives the backend's end-to-end result before it is checked (the pandas
    backend's result is the reference)."""
    clock = clock or PhaseClock()
    rows: list[dict] = []
    reason = runner_cls.unavailable(kernel)
    if reason:
        return [_row(**base, stage="end_to_end", repeat=0, status="skipped", error=reason)]
    stage = "setup"
    # A full garbage collection costs 0.1-0.3 s here; only worth it before big calls.
    big = frame.size >= _BIG_ELEMENTS
    try:
        runner = runner_cls(kernel, frame)
        ref_name = "" if runner.backend == "copy" else f"pandas {kernel.name} (float64)"
        wanted = [s for s in grid.stages if s == "compile" or s in runner.stages]
        if "compile" in wanted or "end_to_end" in wanted:
            stage = "compile"
            progress(f"{runner.backend} compile/end_to_end")
            with clock("wax timed calls"):
                timing = measure(runner.end_to_end, grid.repeat, min_repeat=grid.min_repeat, budget_s=grid.budget_s,
                                 collect=big, before=lambda: runner.before_call("end_to_end"))
            if offer is not None:
                offer(timing.result)
            err = np.nan if runner.backend == "copy" else _check(timing.result, reference, clock)
            out_dtype = _out_dtype(timing.result)
            timing.result = None
            if "compile" in wanted:
                rows += _timing_rows(base, "compile", [timing.first], [timing.first_peak],
                                     max_abs_err=err, reference=ref_name, out_dtype=out_dtype)
            if "end_to_end" in wanted:
                rows += _timing_rows(base, "end_to_end", timing.repeats, timing.peaks,
                                     max_abs_err=err, reference=ref_name, out_dtype=out_dtype)
        for stage in [s for s in wanted if s not in ("compile", "end_to_end")]:
            if stage != "encode" and "encode" not in wanted:
                runner.encode()  # later stages read the previous stage's output
            if stage == "format" and "compute" not in wanted:
                runner.compute()
            progress(f"{runner.backend} {stage}")
            with clock("wax timed calls"):
                timing = measure(runner.stage(stage), grid.repeat, min_repeat=grid.min_repeat,
                                 budget_s=grid.budget_s, collect=big,
                                 before=lambda stage=stage: runner.before_call(stage))
            err, ref, out_dtype = np.nan, "", _out_dtype(timing.result)
            if stage == "compute":
                err, ref = _check(timing.result, reference, clock), ref_name
            timing.result = None
            rows += _timing_rows(base, stage, timing.repeats, timing.peaks, max_abs_err=err, reference=ref,
                                 out_dtype=out_dtype)
    except Exception as exc:  # a failing backend marks its rows and the sweep goes on
        rows.append(_row(**base, stage=stage, repeat=0, status="error", error=_error_text(exc)))
        traceback.print_exc()
    finally:
        runner = None
        if big:
            import jax

            with clock("wax cleanup"):
                jax.clear_caches()  # compiled programs of this backend (with captured data) go too
                refreeze()  # collects this backend's cycles, then keeps what it loaded out of later collections
    return rows


def _check(result: Any, reference: Callable[[], np.ndarray], clock: PhaseClock) -> float:
    """``max_abs_error(result, reference())``, the reference's computation and the check timed apart."""
    with clock("wax reference"):
        ref = reference()
    with clock("wax check"):
        return max_abs_error(result, ref)


def _wax_plan(parts: tuple[WaxGrid, ...], runners: dict[str, type]) -> list[list[tuple]]:
    """The units of each WAX part, less those an earlier part measures: a (kernel, size, dtype, layout,
    backend) cell is measured once per sweep, and its rows are the first part's."""
    seen: set[tuple] = set()
    plan = []
    for part in parts:
        units = [u for u in _wax_units(part, runners) if u not in seen]
        seen.update(units)
        plan.append(units)
    return plan


def _wax_rows(grid: WaxGrid, pbar: tqdm, runners: dict[str, type], clock: PhaseClock | None = None,
              units: list[tuple] | None = None) -> list[dict]:
    """Rows of ``units`` (default: every unit of ``grid``), measured with ``grid``'s settings.

    The reference of a (kernel, size, float64) cell is pandas' own result where the pandas backend is measured
    there (pandas runs before the other backends): the same call on the same values, not made again.
    """
    clock = clock or PhaseClock()
    rows: list[dict] = []
    kernels = wax_kernels()
    reference_cache: dict[tuple, np.ndarray] = {}
    for kernel_name, (T, N), dtype, layout, backend in (_wax_units(grid, runners) if units is None else units):
        kernel = kernels[kernel_name]
        key = (kernel_name, T, N, dtype)  # the reference does not depend on the layout
        if key not in reference_cache:
            reference_cache.clear()  # one reference alive at a time (800 MB at the seed size)
            gc.collect()
        with clock("wax data"):
            frame = make_frame(T, N, dtype, layout=layout)

        def reference(kernel=kernel, frame=frame, key=key) -> np.ndarray:
            if key not in reference_cache:
                reference_cache[key] = wax_reference(kernel, frame)
            return reference_cache[key]

        def offer(result: Any, key=key, dtype=dtype) -> None:
            # wax_reference is the pandas call on the values in float64: for a float64 frame, this very result
            if np.dtype(dtype) == np.float64 and key not in reference_cache:
                reference_cache[key] = np.asarray(result.to_numpy(dtype=np.float64))

        base = dict(workload=kernel_name, backend=backend, T=T, N=N, dtype=dtype, layout=layout)
        label = f"{kernel_name} T={T:,} N={N:,} {dtype} {layout}"
        pbar.set_description(label)
        rows += _run_wax_backend(grid, runners[backend], kernel, frame, reference, base,
                                 lambda what: pbar.set_postfix_str(what, refresh=True), clock,
                                 offer=offer if backend == "pandas" else None)
        pbar.update(1)
    reference_cache.clear()
    make_frame.cache_clear()
    gc.collect()
    return rows


# --------------------------------------------------------------------------------------------
# egglog
# --------------------------------------------------------------------------------------------

def _egg_units(grid: EggGrid) -> list[tuple[str, int]]:
    """``(workload, n_samples)`` cells: the LDA at every size, then each swept estimator at every size it runs at
    (a kernel matrix is capped at ``KERNEL_ROWS`` rows, so its larger sizes are one cell)."""
    units = [(LDA, int(n)) for n in sorted(grid.n_samples)]
    if not grid.estimator_sweep or egg_available():
        return units
    from waxegg.egg import workloads

    for name in swept_estimator_names(grid.estimator_sweep):
        w = workloads.estimator(name)
        for rows in sorted({estimator_rows(w, n) for n in grid.n_samples}):
            units.append((name, rows))
    return units


def _run_rows(base: dict[str, Any], functions: dict[str, Callable[..., Any]], args: tuple, reference: Any,
              reference_name: str, grid: EggGrid, pbar: tqdm, clock: PhaseClock | None = None) -> list[dict]:
    """Best-of-k ``run`` rows of each of ``functions`` on ``args``; a copy of X has no error to report."""
    clock = clock or PhaseClock()
    rows: list[dict] = []
    for stage, fn in functions.items():
        pbar.set_postfix_str(f"{stage} run", refresh=True)
        with clock("egg timed calls"):
            timing = measure(lambda fn=fn: fn(*args), grid.repeat, min_repeat=grid.min_repeat, budget_s=grid.budget_s)
        with clock("egg check"):
            err = np.nan if stage == "copy" else max_abs_error(timing.result, reference)
        out_dtype = _out_dtype(timing.result)
        timing.result = None
        rows += _timing_rows({**base, "backend": stage}, "run", timing.repeats, timing.peaks, max_abs_err=err,
                             reference="" if stage == "copy" else reference_name, out_dtype=out_dtype)
    return rows


def _pipeline_rows(base: dict[str, Any], acc: Any, peak: PeakMemory) -> list[dict]:
    times = acc.times.as_dict()
    err = acc.max_abs_error
    rows = [_row(**base, backend="egglog", stage=stage, repeat=0, seconds=seconds,
                 max_abs_err=err if stage == "compile" else np.nan, reference="original" if stage == "compile" else "")
            for stage, seconds in times.items()]
    rows.append(_row(**base, backend="egglog", stage="end_to_end", repeat=0, seconds=sum(times.values()),
                     peak_mem_bytes=peak.peak_bytes, max_abs_err=err, reference="original"))
    return rows


def _lda_cell(n: int, grid: EggGrid, pbar: tqdm, keep: dict[int, Any], info: dict[int, dict],
              clock: PhaseClock | None = None) -> list[dict]:
    clock = clock or PhaseClock()
    base = dict(workload=LDA, T=int(n), N=int(grid.n_features), dtype="float64")
    with clock("egg data"):
        X, y = lda_data(n, grid.n_features)
    pbar.set_postfix_str("egglog pipeline", refresh=True)
    gc.collect()
    with clock("egg pipeline (accelerate, verify)"), PeakMemory() as peak:
        acc = accelerate_lda(n, grid.n_features, cache=False)
    rows = _pipeline_rows(base, acc, peak)
    info[int(n)] = {**acc.summary(), "source_file": acc.source_path.name, "specs": [repr(s) for s in acc.specs]}
    with clock("egg reference"):
        reference = np.asarray(acc.original(X, y))
    rows += _run_rows(base, lda_functions(acc), (X, y), reference, "original", grid, pbar, clock)
    keep.clear()  # only the largest size's pipeline is kept (for the report's artefacts)
    keep[int(n)] = acc
    return rows


def _estimator_cell(name: str, n: int, grid: EggGrid, pbar: tqdm, info: dict[str, dict],
                    keep: dict[str, tuple[Any, tuple]], clock: PhaseClock | None = None) -> list[dict]:
    """An estimator workload at ``n`` rows: pipeline stages, then the functions against scikit-learn on NumPy.

    Failing to trace or to verify is a result (the coverage table's), recorded in ``info`` and as an error row.
    """
    from waxegg.egg import NotTraceable, VerificationError, workloads

    clock = clock or PhaseClock()
    w = workloads.estimator(name)
    with clock("egg data"):
        arrays = estimator_data(name, n)
    rows_n, features = arrays[0].shape
    base = dict(workload=name, T=int(rows_n), N=int(features), dtype=str(arrays[0].dtype))
    entry: dict[str, Any] = {"n_features": int(features), "traces": False, "verified": False}
    info.setdefault(name, {})[str(rows_n)] = entry
    pbar.set_postfix_str("egglog pipeline", refresh=True)
    gc.collect()
    try:
        with clock("egg pipeline (accelerate, verify)"), PeakMemory() as peak:
            acc = accelerate_estimator(name, n, cache=False)
    except NotTraceable as exc:
        entry.update(error=f"NotTraceable: {exc}", missing=exc.missing or "")
        return [_row(**base, backend="egglog", stage="trace", repeat=0, status="error", error=_error_text(exc))]
    except VerificationError as exc:
        entry.update(traces=True, error=f"VerificationError: {exc}")
        return [_row(**base, backend="egglog", stage="verify", repeat=0, status="error", error=_error_text(exc))]
    entry.update(traces=True, verified=True, **acc.summary(), source_file=acc.source_path.name)
    rows = _pipeline_rows(base, acc, peak)
    with clock("egg reference"):
        reference = np.asarray(w.reference(*arrays))
    rows += _run_rows(base, estimator_functions(acc), arrays, reference, "scikit-learn", grid, pbar, clock)
    keep[name] = (acc, arrays)  # sizes run in increasing order: the largest stays
    return rows


def _egg_rows(grid: EggGrid, pbar: tqdm, keep: dict[int, Any], info: dict[int, dict],
              estimator_info: dict[str, dict], keep_estimators: dict[str, tuple[Any, tuple]],
              clock: PhaseClock | None = None) -> list[dict]:
    clock = clock or PhaseClock()
    rows: list[dict] = []
    reason = egg_available()
    for workload, n in _egg_units(grid):
        label = "lda" if workload == LDA else workload
        pbar.set_description(f"{label} n_samples={n:,}")
        base = dict(workload=workload, T=int(n), N=int(grid.n_features), dtype="float64")
        if reason:
            rows.append(_row(**base, backend="egglog", stage="end_to_end", repeat=0, status="skipped", error=reason))
            pbar.update(1)
            continue
        try:
            if workload == LDA:
                rows += _lda_cell(n, grid, pbar, keep, info, clock)
            else:
                rows += _estimator_cell(workload, n, grid, pbar, estimator_info, keep_estimators, clock)
        except Exception as exc:
            rows.append(_row(**base, backend="egglog", stage="pipeline", repeat=0, status="error",
                             error=_error_text(exc)))
            traceback.print_exc()
        pbar.update(1)
    return rows


def egg_workload_names(table: pd.DataFrame) -> set[str]:
    """The workloads of ``table`` that are egglog pipelines (the LDA, estimators): those with ``egglog`` rows."""
    return set(table.loc[table["backend"] == "egglog", "workload"])


def wax_table(table: pd.DataFrame) -> pd.DataFrame:
    """The WAX part of a sweep's table (every workload that is not an egglog pipeline)."""
    return table[~table["workload"].isin(egg_workload_names(table))]


# --------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------

def run_sweep(grid: Grid, *, progress: bool = True, runners: dict[str, type] | None = None) -> SweepResult:
    """Measure every cell of ``grid``; a failing backend marks its rows and the sweep goes on.

    Parameters
    ----------
    grid
        What to measure (:data:`waxegg.bench.grid.GRIDS` has the named ones).
    progress
        Show a tqdm bar (cells done, the backend and stage being timed).
    runners
        Extra WAX runner classes by backend name (e.g. an implementation of your own to compare),
        added to :func:`~waxegg.bench.workloads.wax_runners`; ``grid.wax.backends`` may name them.

    Returns
    -------
    SweepResult
        The table (columns :data:`COLUMNS`), the environment, per n_samples the egglog pipeline's
        summary (``egg``) and the largest size's :class:`waxegg.egg.Accelerated` (``accelerated``).
    """
    start = time.perf_counter()
    clock = PhaseClock()
    env = environment()
    env["grid"] = _grid_dict(grid)
    all_runners = {**wax_runners(), **(runners or {})}
    plan = _wax_plan(grid.wax_parts, all_runners)
    total = (sum(len(units) for units in plan)
             + (len(_egg_units(grid.egg)) if grid.egg else 0))
    rows: list[dict] = []
    keep: dict[int, Any] = {}
    egg_info: dict[int, dict] = {}
    estimator_info: dict[str, dict] = {}
    keep_estimators: dict[str, tuple[Any, tuple]] = {}
    with tqdm(total=total, disable=not progress, unit="cell", dynamic_ncols=True) as pbar, frozen_heap():
        if grid.wax_parts:
            pbar.set_description("peer semantics check")
            with clock("peer semantics check"):
                env["parity"] = peer_parity()
            env["kernels"] = {k.name: k.title for k in wax_kernels().values()}
        for i, (part, units) in enumerate(zip(grid.wax_parts, plan)):
            with clock(f"wax part {i}"):
                rows += _wax_rows(part, pbar, all_runners, clock, units)
        if grid.egg is not None:
            with clock("egg part"):
                rows += _egg_rows(grid.egg, pbar, keep, egg_info, estimator_info, keep_estimators, clock)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table["commit"] = env["git"]["short"] + ("+dirty" if env["git"]["dirty"] else "")
    env["egg"] = {str(k): v for k, v in egg_info.items()}
    if estimator_info:
        env["egg_estimators"] = estimator_info
    env["sweep_seconds"] = round(time.perf_counter() - start, 1)  # wall time of this sweep, printed on the page
    # where that time went: each part, and inside them the timed calls (warm-ups included) and the untimed work
    env["sweep_phases"] = clock.seconds
    return SweepResult(table=table, env=env, egg=egg_info, accelerated=keep, accelerated_estimators=keep_estimators)


def _grid_dict(grid: Grid) -> dict[str, Any]:
    from dataclasses import asdict

    d = asdict(grid)
    d["focus"] = list(grid.focus_size) if grid.focus_size else None
    return d


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)


def write_table(table: pd.DataFrame, env: dict[str, Any], csv: str | Path) -> tuple[Path, Path]:
    """Write ``table`` to ``csv`` and ``env`` to the ``.json`` beside it (stable formatting)."""
    csv = Path(csv)
    csv.parent.mkdir(parents=True, exist_ok=True)
    # Fixed float format: the same measurements always give the same bytes.
    table.to_csv(csv, index=False, float_format="%.9g", lineterminator="\n")
    meta = csv.with_suffix(".json")
    meta.write_text(json.dumps(_jsonable(env), indent=2, sort_keys=True) + "\n")
    return csv, meta


def write_results(result: SweepResult, results_dir: str | Path = "results") -> tuple[Path, Path]:
    """Store a sweep under ``<results_dir>/v<schema>/<UTC time>-<commit>.csv`` (+ ``.json``)."""
    stamp = result.env["created_utc"].replace("-", "").replace(":", "")
    commit = result.env["git"]["short"] + ("-dirty" if result.env["git"]["dirty"] else "")
    path = Path(results_dir) / f"v{SCHEMA_VERSION}" / f"{stamp}-{commit}.csv"
    result.paths = write_table(result.table, result.env, path)
    return result.paths


def read_results(csv: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A stored table and its metadata; refuses tables of another schema version."""
    csv = Path(csv)
    if not csv.is_file():
        raise FileNotFoundError(f"no results table at {csv}")
    meta_path = csv.with_suffix(".json")
    env = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    version = env.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"{csv} has schema_version={version!r}; this waxegg reads {SCHEMA_VERSION}")
    table = pd.read_csv(csv, keep_default_na=True, dtype={"error": str, "reference": str, "out_dtype": str})
    for col in ("error", "reference", "out_dtype"):
        table[col] = table[col].fillna("")
    return table, env


# --------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------

def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Best-of-k seconds per (workload, backend, stage, T, N, dtype, layout), with ``x copy`` and ``pandas / time``.

    ``x_copy`` divides by the ``copy`` backend's best end-to-end time at the same size, dtype and layout;
    ``pandas_over`` is pandas' best end-to-end time over this row's (both NaN where there is none).
    """
    table = table.assign(layout=table["layout"].fillna("") if "layout" in table else "")  # "" reads back as NaN
    ok = table[table["status"] == "ok"]
    keys = ["workload", "backend", "stage", "T", "N", "dtype", "layout"]
    summary = (ok.groupby(keys, sort=False)
               .agg(best_s=("seconds", "min"), median_s=("seconds", "median"), repeats=("seconds", "size"),
                    peak_mem_mb=("peak_mem_bytes", lambda s: s.max() / 2**20), max_abs_err=("max_abs_err", "max"),
                    out_dtype=("out_dtype", "first"))
               .reset_index())
    e2e = summary[summary["stage"] == "end_to_end"]
    same = ["workload", "T", "N", "dtype", "layout"]
    floor = e2e[e2e["backend"] == "copy"].set_index(same)["best_s"]
    pandas_t = e2e[e2e["backend"] == "pandas"].set_index(same)["best_s"]
    idx = pd.MultiIndex.from_frame(summary[same])
    summary["x_copy"] = summary["best_s"].to_numpy() / floor.reindex(idx).to_numpy()
    summary["pandas_over"] = pandas_t.reindex(idx).to_numpy() / summary["best_s"].to_numpy()
    problems = table[table["status"] != "ok"][keys + ["status", "error"]]
    if len(problems):
        summary = pd.concat([summary, problems], ignore_index=True)
    return summary
