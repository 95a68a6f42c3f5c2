"""``index.html``: the tables, every figure, the line profiles, the generated program and the e-graph.

The page depends only on the results table, its metadata and the artefact files, so re-rendering
from stored results gives the same bytes.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from waxegg.bench.env import stamp
from waxegg.bench.grid import EGG_FUNCTIONS, EGG_STAGES
from waxegg.bench.sweep import summarize, wax_table
from waxegg.report.figures import backend_order, estimator_figure_key, focus_size
from waxegg.report.profiles import (
    EGG_SOURCE,
    EGRAPH_SVG,
    LPROF_EGG,
    LPROF_EGG_BEFORE,
    LPROF_WAX,
    estimator_profile_name,
)

CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: .6em 0 1.2em; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: .4em 0 1.2em; }
pre { background: #f7f7f7; border: 1px solid #e3e3e3; padding: .7em; overflow-x: auto; font-size: 0.78em; }
.note { color: #555; font-size: 0.9em; } .stamp { color: #666; font-size: 0.8em; white-space: pre-line; }
nav a { margin-right: 1em; }
"""


def _fmt_seconds(x: float) -> str:
    if not np.isfinite(x):
        return ""
    if x >= 1:
        return f"{x:.2f} s"
    if x >= 1e-3:
        return f"{x * 1e3:.1f} ms"
    return f"{x * 1e6:.0f} µs"


def _fmt_ratio(x: float) -> str:
    return f"{x:.2f}" if np.isfinite(x) else ""


def _fmt_err(x: float) -> str:
    return f"{x:.1e}" if np.isfinite(x) else ""


def _table_html(df: pd.DataFrame) -> str:
    return df.to_html(index=False, escape=True, na_rep="", border=0)


def _table_or_note(df: pd.DataFrame, why: str) -> str:
    """The table, or a note saying why there is none."""
    return _table_html(df) if len(df) else f"<p class=\"note\">Not measured: {html.escape(why)}</p>\n"


def wax_summary_table(table: pd.DataFrame, workload: str, T: int, N: int, dtype: str,
                      layout: str | None = None) -> pd.DataFrame:
    """One row per backend at one size, dtype and memory layout: stage times, ratios, error, peak memory.

    ``layout=None`` takes column-major (``F``, pandas' own layout) where the size was measured in both
    layouts; the row-major cells have their own rows in the statistics table.
    """
    cells = table[(table["workload"] == workload) & (table["T"] == T) & (table["N"] == N)
                  & (table["dtype"] == dtype)]
    if "layout" in cells.columns:
        layouts = set(cells["layout"].dropna())
        if layout is None and len(layouts) > 1:
            layout = "F" if "F" in layouts else sorted(layouts)[0]
        if layout is not None:
            cells = cells[cells["layout"] == layout]
    s = summarize(cells)
    if "status" in s.columns:  # summarize() appends skipped / failed cells; they have their own table
        s = s[s["status"].isna()]
    rows = []
    for b in backend_order(s["backend"]):
        d = s[s["backend"] == b].set_index("stage")

        def get(stage: str, col: str) -> float:
            return float(d.loc[stage, col]) if stage in d.index else float("nan")

        rows.append({
            "backend": b,
            "end to end": _fmt_seconds(get("end_to_end", "best_s")),
            "x copy": _fmt_ratio(get("end_to_end", "x_copy")),
            "pandas / this": _fmt_ratio(get("end_to_end", "pandas_over")),
            "encode": _fmt_seconds(get("encode", "best_s")),
            "compute": _fmt_seconds(get("compute", "best_s")),
            "compute x copy": _fmt_ratio(get("compute", "x_copy")),
            "format": _fmt_seconds(get("format", "best_s")),
            "first call": _fmt_seconds(get("compile", "best_s")),
            "max abs err vs pandas": _fmt_err(get("end_to_end", "max_abs_err")),
            "peak MB (e2e)": f"{get('end_to_end', 'peak_mem_mb'):.0f}" if np.isfinite(get("end_to_end", "peak_mem_mb")) else "",
            "out dtype": d["out_dtype"].iloc[0] if len(d) else "",
            "repeats": int(get("end_to_end", "repeats")) if np.isfinite(get("end_to_end", "repeats")) else "",
        })
    return pd.DataFrame(rows)


def statistics_table(table: pd.DataFrame, backend: str = "waxegg-numba") -> pd.DataFrame:
    """Every window statistic at its largest measured size: ``backend``'s end to end beside its peers.

    One row per (statistic, T x N, dtype, layout): ``backend``'s best end-to-end seconds, that as a
    multiple of the copy, over numbagg's and over polars' (where they have the statistic), and pandas'
    over it, all from this run.
    """
    s = summarize(wax_table(table))
    if "status" in s.columns:
        s = s[s["status"].isna()]
    e2e = s[s["stage"] == "end_to_end"]
    rows = []
    for workload in sorted(set(e2e["workload"])):
        w = e2e[e2e["workload"] == workload]
        if not len(w[w["backend"] == backend]):
            continue
        T, N = max({(int(t), int(n)) for t, n in zip(w["T"], w["N"])}, key=lambda x: x[0] * x[1])
        w = w[(w["T"] == T) & (w["N"] == N)]
        for (dtype, layout), d in w.groupby(["dtype", "layout"], sort=True):
            best = d.set_index("backend")["best_s"]
            if backend not in best:
                continue
            this = float(best[backend])
            rows.append({
                "statistic": workload, "T x N": f"{T:,} x {N:,}", "dtype": dtype, "layout": layout,
                f"{backend} (s)": _fmt_seconds(this),
                "x copy": _fmt_ratio(this / float(best.get("copy", np.nan))),
                "x numbagg": _fmt_ratio(this / float(best.get("numbagg", np.nan))),
                "x polars": _fmt_ratio(this / float(best.get("polars", np.nan))),
                "pandas / this": _fmt_ratio(float(best.get("pandas", np.nan)) / this),
            })
    return pd.DataFrame(rows)


def egg_summary_table(table: pd.DataFrame, env: dict[str, Any]) -> pd.DataFrame:
    """One row per n_samples: pipeline stage seconds, e-graph size, best run of each function, errors."""
    data = table[(table["workload"] == "lda") & (table["status"] == "ok")]
    rows = []
    egg_info = env.get("egg", {})
    for n in sorted(set(data["T"])):
        d = data[data["T"] == n]
        pipe = d[d["backend"] == "egglog"].groupby("stage")["seconds"].min()
        run = d[d["stage"] == "run"].groupby("backend")["seconds"].min()
        err = d[d["stage"] == "run"].groupby("backend")["max_abs_err"].max()
        info = egg_info.get(str(n), {})
        row: dict[str, Any] = {"n_samples x features": f"{int(n):,} x {int(d['N'].iloc[0])}"}
        row.update({s: _fmt_seconds(float(pipe.get(s, np.nan))) for s in EGG_STAGES})
        row["e-graph nodes / classes"] = (f"{info['egraph_nodes']:,} / {info['egraph_classes']:,}"
                                          if "egraph_nodes" in info else "")
        row.update({f"run {f}": _fmt_seconds(float(run.get(f, np.nan))) for f in EGG_FUNCTIONS})
        orig = float(run.get("original", np.nan))
        row["original / numba"] = _fmt_ratio(orig / float(run.get("numba", np.nan)))
        row["max err numba"] = _fmt_err(float(err.get("numba", np.nan)))
        row["max err extracted"] = _fmt_err(float(err.get("extracted", np.nan)))
        rows.append(row)
    return pd.DataFrame(rows)


def estimator_coverage_table(env: dict[str, Any]) -> pd.DataFrame:
    """One row per scikit-learn estimator workload (:func:`waxegg.bench.egg_workloads.measure_estimator`)."""
    rows = []
    for r in (env.get("egg_extras") or {}).get("estimators", []):
        size = f"{int(r['n_samples']):,} x {int(r['n_features'])}"
        traced_ok, verified = bool(r.get("traces")), bool(r.get("verified"))
        error = str(r.get("error", ""))
        rows.append({
            "estimator": r["estimator"], "rows x features": size,
            "traces": "yes" if traced_ok else f"no: missing {r.get('missing') or 'see error'}",
            "verified": "yes" if verified else ("no" if traced_ok else ""),
            "max err vs scikit-learn": _fmt_err(float(r.get("max_abs_error", np.nan))),
            "original": _fmt_seconds(float(r.get("original_best_s", np.nan))),
            "numba": _fmt_seconds(float(r.get("numba_best_s", np.nan))),
            "original / numba": _fmt_ratio(float(r.get("speedup_numba_vs_original", np.nan))),
            "numba / copy": _fmt_ratio(float(r.get("numba_best_s", np.nan)) / float(r.get("copy_best_s", np.nan))),
            "compile": _fmt_seconds(float(r.get("compile_s", np.nan))),
            "error": error[:160] if not verified else "",  # to_html escapes it
        })
    return pd.DataFrame(rows)


def estimator_sweep_table(table: pd.DataFrame, env: dict[str, Any]) -> pd.DataFrame:
    """One row per (scikit-learn estimator, rows) the sweep measured: pipeline stages, e-graph size, best run of
    original / extracted / numba and of a copy of X, errors against scikit-learn on NumPy."""
    swept = env.get("egg_estimators") or {}
    rows = []
    for name in swept:
        d = table[table["workload"] == name]
        for n in sorted(set(d["T"])):
            dn = d[d["T"] == n]
            ok = dn[dn["status"] == "ok"]
            info = swept[name].get(str(int(n)), {})
            pipe = ok[ok["backend"] == "egglog"].groupby("stage")["seconds"].min()
            run = ok[ok["stage"] == "run"].groupby("backend")["seconds"].min()
            err = ok[ok["stage"] == "run"].groupby("backend")["max_abs_err"].max()
            row: dict[str, Any] = {"estimator": name, "rows x features": f"{int(n):,} x {int(dn['N'].iloc[0])}"}
            row.update({s: _fmt_seconds(float(pipe.get(s, np.nan))) for s in EGG_STAGES})
            row["e-graph nodes / classes"] = (f"{info['egraph_nodes']:,} / {info['egraph_classes']:,}"
                                              if info.get("egraph_nodes") is not None else "")
            row.update({f"run {f}": _fmt_seconds(float(run.get(f, np.nan))) for f in (*EGG_FUNCTIONS, "copy")})
            numba_s = float(run.get("numba", np.nan))
            row["original / numba"] = _fmt_ratio(float(run.get("original", np.nan)) / numba_s)
            row["numba / copy"] = _fmt_ratio(numba_s / float(run.get("copy", np.nan)))
            row["max err numba"] = _fmt_err(float(err.get("numba", np.nan)))
            row["error"] = str(info.get("error", ""))[:160]  # to_html escapes it
            rows.append(row)
    return pd.DataFrame(rows)


def ablation_table(env: dict[str, Any]) -> pd.DataFrame:
    """The rewrite ablation: one row per rewrite set, egglog's rules alone first, then one rewrite added per row."""
    rows = []
    for r in (env.get("egg_extras") or {}).get("ablation", []):
        rows.append({"classes": r["n_classes"], "rewrites": r["variant"],
                     "compile": _fmt_seconds(r["compile_s"]),
                     "Numba cache hit": r.get("numba_cache_hit", ""), "original": _fmt_seconds(r["original_s"]),
                     "extracted": _fmt_seconds(r["extracted_s"]), "numba": _fmt_seconds(r["numba_s"]),
                     "original / extracted": _fmt_ratio(r["original_over_extracted"]),
                     "original / numba": _fmt_ratio(r["original_over_numba"]),
                     "max err numba": _fmt_err(r["max_abs_error"])})
    return pd.DataFrame(rows)


def cached_start_table(env: dict[str, Any]) -> pd.DataFrame:
    """Cold and cached first result of ``accelerate(..., reuse=True)``, each in a fresh process."""
    rows = []
    for r in (env.get("egg_extras") or {}).get("cached_start", []):
        rows.append({"process": r["run"], "imports + data": _fmt_seconds(r["import_and_data_s"]),
                     "accelerate() to first result": _fmt_seconds(r["first_result_s"]),
                     "of which Numba compile or cache load + first run": _fmt_seconds(r["compile_s"]),
                     "program reused": r["reused"], "Numba cache hit": r["numba_cache_hit"]})
    return pd.DataFrame(rows)


def first_call_table(env: dict[str, Any]) -> pd.DataFrame:
    """Each statistic's first call in fresh processes, cold and warm, beside numbagg (``env["first_calls"]``)."""
    from waxegg.bench.first_call import RUNS, SYSTEMS, first_call_summary

    rows = []
    for s in first_call_summary((env.get("first_calls") or {}).get("rows", [])):
        row = {"statistic": s["kernel"], "dtype": s["dtype"], "layout": s["layout"]}
        for system in SYSTEMS:
            label = "waxegg-numba" if system == "waxegg" else system  # the waxegg case runs backend="numba"
            for run in RUNS:
                row[f"{label} {run}"] = _fmt_seconds(s.get(f"{system}_{run}_s", float("nan")))
        ratio = s.get("cold_over_numbagg")
        row["cold / numbagg cold"] = _fmt_ratio(float("nan") if ratio is None else ratio)
        for system in SYSTEMS:  # each system's own error: numbagg's looser corr must not read as waxegg's
            label = "waxegg-numba" if system == "waxegg" else system
            err = s.get(f"{system}_max_abs_err", np.nan)
            row[f"{label} max abs err vs pandas"] = "NaN positions differ" if err == np.inf else _fmt_err(err)
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.loc[:, [c for c in table.columns if (table[c] != "").any()]] if len(table) else table


def problems_table(table: pd.DataFrame) -> pd.DataFrame:
    """Skipped and failed cells with their reason."""
    bad = table[table["status"] != "ok"]
    return bad[["workload", "backend", "stage", "T", "N", "dtype", "status", "error"]].drop_duplicates()


def parity_table(env: dict[str, Any]) -> pd.DataFrame:
    parity = (env.get("parity") or {}).get("peers", {})
    rows = []
    for peer, cases in sorted(parity.items()):
        for case, vals in sorted(cases.items()):
            rows.append({"system": peer, "pandas reference": f"ewm(alpha=0.1, {case}).mean()",
                         "max abs err (both numbers)": _fmt_err(float("nan") if vals.get("max_abs_err") is None
                                                               else vals["max_abs_err"]),
                         "positions NaN in one only": vals.get("nan_mismatches")})
    return pd.DataFrame(rows)


def _figure(name: str, figures: dict[str, Path], out: Path, caption: str) -> str:
    path = figures.get(name)
    if path is None:
        return ""
    rel = path.relative_to(out).as_posix()
    return (f'<figure id="{name}"><a href="{rel}"><img src="{rel}" alt="{html.escape(caption)}"></a>'
            f'<figcaption class="note">{html.escape(caption)} (<a href="{rel}">{rel}</a>)</figcaption></figure>\n')


def _artifact(out: Path, name: str, status: dict[str, str]) -> tuple[str | None, str]:
    path = out / "artifacts" / name
    if path.is_file() and path.stat().st_size:
        return f"artifacts/{name}", ""
    return None, status.get(name, "not produced in this run")


def run_time_text(env: dict[str, Any]) -> str:
    """How long the measuring run took and its peak memory, from the metadata it recorded (HTML)."""
    seconds = env.get("measure_seconds")
    if seconds is None:
        sweep = env.get("sweep_seconds")
        if sweep is None:
            return "the run that made these results did not record its wall time"
        return f"the sweep that made these results took {float(sweep) / 60:.1f} minutes (wall time)"
    text = f"the measuring run that made these results took {float(seconds) / 60:.1f} minutes (wall time"
    cores = env.get("cores_logical")
    text += f", {cores} cores" if cores else ""
    peak = env.get("measure_peak_rss_mb") or {}
    if peak.get("process"):
        text += f"; peak resident memory {float(peak['process']) / 1024:.1f} GB"
        if peak.get("children"):
            text += f", {float(peak['children']) / 1024:.1f} GB in its largest child process"
    return text + ")"


def render_page(table: pd.DataFrame, env: dict[str, Any], out: str | Path, figures: dict[str, Path]) -> Path:
    """Write ``<out>/index.html`` linking every figure and artefact."""
    out = Path(out)
    status = env.get("artifacts", {})
    git = env.get("git", {})
    commit = git.get("short", "unknown") + ("+dirty" if git.get("dirty") else "")
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>waxegg report</title>"
             f"<style>{CSS}</style></head><body>\n",
             "<h1>waxegg: WAX streaming and egglog &rarr; Numba, measured</h1>\n",
             f"<p class=\"stamp\">{html.escape(stamp(env))}</p>\n",
             f"<p>Commit <code>{html.escape(commit)}</code>, grid <code>{html.escape(str((env.get('grid') or {}).get('name', '?')))}</code>. "
             f"Regenerate with <code>tox -e repro</code> (measures: {html.escape(run_time_text(env))}) or "
             "<code>tox -e repro -- --from-results</code> (redraws from <a href=\"results.csv\">results.csv</a> "
             "and <a href=\"results.json\">results.json</a> in seconds). Times are best of k repeats after a "
             "warm-up; ratios are taken within this one run on a shared machine.</p>\n"]
    nav = ['<nav><a href="#wax">WAX</a><a href="#egg">egglog</a><a href="#profiles">line profiles</a>'
           '<a href="#problems">skipped / failed</a><a href="#files">files</a></nav>\n']
    parts += nav

    # ---- WAX
    parts.append('<h2 id="wax">WAX kernels on a T x N frame</h2>\n')
    layouts = sorted(set(table["layout"].dropna()) - {""}) if "layout" in table else []
    layout_text = {"F": "column-major (<code>pd.DataFrame(values, index=...)</code> as in the seed: pandas 3 "
                        "copies a 2-D array into one column-major block)", "C": "row-major (the array wrapped "
                        "without a copy)"}
    if layouts:
        parts.append("<p class=\"note\">Input frames: standard normals, " + "; ".join(
            f"layout {x}: {layout_text.get(x, x)}" for x in layouts) + ".</p>\n")
    parts.append("<p class=\"note\">Backends: <b>copy</b> is <code>values.copy(order=\"K\")</code> (the frame's "
                 "memory order), the memory-bandwidth floor of a one-pass kernel; <b>pandas</b> is the pandas call "
                 "(<code>df.ewm(alpha=0.1).mean()</code>, <code>df.rolling(20).median()</code>, ...), the reference; "
                 "<b>numbagg</b> (<code>move_exp_nanmean</code>, <code>move_mean</code>, ...) and <b>polars</b> "
                 "(<code>ewm_mean</code>, <code>rolling_mean</code>, ...) are peers where they have the statistic; "
                 "<b>waxegg-&lt;name&gt;</b> is the same call on <code>df.wax</code> with <code>backend=name, dtype=...</code>, "
                 "<b>waxegg</b> the accessor for kernels no backend implements (their Haiku module under "
                 "<code>dynamic_unroll</code>); "
                 "<b>wax-3step</b> is the seed tutorial's encode / Haiku EWMA under <code>dynamic_unroll</code> / "
                 "format (its transform is defined in the encode step as in the tutorial, so its end to end "
                 "recompiles every call). Stage <i>first call</i> is the first end-to-end call at that size in "
                 "the process (compilation where the backend compiles). Peak MB is resident memory above the "
                 "level before the call.</p>\n")
    overview = statistics_table(table)
    if len(overview):
        parts.append("<h3>Every statistic at a glance</h3>\n<p class=\"note\">The default backend's end-to-end "
                     "call (frame in, fresh frame out) at each statistic's largest measured size, as a multiple of "
                     "the copy and of the peers measured in the same run (numbagg: <code>move_exp_nan*</code> / "
                     "<code>move_*</code>; pairwise statistics pair each column with one other column, "
                     "elementwise); below 1 is faster. Empty cells: the peer has no such statistic.</p>\n")
        parts.append(_table_html(overview))
    first_calls = env.get("first_calls")
    if first_calls is not None:
        rows = first_calls.get("rows") or [{}]
        parts.append("<h3>First calls, as users meet them</h3>\n<p class=\"note\">Each call in fresh Python "
                     "processes on a T={T:,} x N={N:,} frame (imports and data timed apart): <b>cold</b> with empty "
                     "cache folders (<code>NUMBA_CACHE_DIR</code>, <code>WAXEGG_CACHE_DIR</code>), what a new "
                     "environment, an upgrade or a CI run pays; <b>warm</b> in a second fresh process over the caches "
                     "the cold one filled. waxegg-numba is <code>df.wax.&lt;window&gt;(..., backend=\"numba\")</code> "
                     "end to end, numbagg its counterpart on the values (numbagg keeps no disk cache: its warm call "
                     "compiles again), wax-3step the seed's three steps. Best of {k} round(s); each result checked "
                     "against pandas in its process. Measuring took {sec} s.</p>\n".format(
                         T=rows[0].get("T", 0), N=rows[0].get("N", 0), k=rows[0].get("rounds", 1),
                         sec=first_calls.get("seconds", "?")))
        parts.append(_table_or_note(first_call_table(env), first_calls.get("error", "no first calls in this grid")))
    for workload in sorted(set(wax_table(table)["workload"])):
        size = focus_size(table, env, workload)
        dtypes = sorted(set(table["dtype"][table["workload"] == workload]), reverse=True)
        for dtype in dtypes:
            if size is None:
                continue
            title = (env.get("kernels") or {}).get(workload, workload)
            parts.append(f"<h3>{html.escape(workload)} ({html.escape(title)}) at T={size[0]:,} x N={size[1]:,}, "
                         f"{dtype}</h3>\n")
            parts.append(_table_html(wax_summary_table(table, workload, size[0], size[1], dtype)))
            parts.append(_figure(f"{workload}_swarm_{dtype}", figures, out,
                                 f"Every repeat per backend and stage, T={size[0]:,} x N={size[1]:,} {dtype}"))
            parts.append(_figure(f"{workload}_stages_{dtype}", figures, out,
                                 f"Stage breakdown encode / compute / format and first call, {dtype}"))
            d = table[(table["workload"] == workload) & (table["dtype"] == dtype) & (table["status"] == "ok")]
            same_elements = sorted({(int(T), int(N)) for T, N in zip(d["T"], d["N"])
                                    if T * N == size[0] * size[1] and (T, N) != size})
            for T, N in same_elements:  # the same number of elements in another shape (a long, narrow frame)
                parts.append(f"<h3>{html.escape(workload)} ({html.escape(title)}) at T={T:,} x N={N:,}, {dtype}</h3>\n")
                parts.append(_table_html(wax_summary_table(table, workload, T, N, dtype)))
        for dtype in dtypes:
            parts.append(_figure(f"{workload}_scaling_{dtype}", figures, out,
                                 f"Scaling with T x N, log-log, copy floor dashed, {dtype}"))
    parity = parity_table(env)
    if len(parity):
        parts.append("<h3>Peer semantics on data with NaNs</h3>\n<p class=\"note\">"
                     f"{html.escape((env.get('parity') or {}).get('data', ''))}. numbagg's "
                     "<code>move_exp_nanmean</code> is pandas' <code>adjust=True, ignore_na=False</code>; polars treats "
                     "NaN as a number (it propagates) and nulls give null outputs, so its NaN handling differs from "
                     "pandas while values agree where both are numbers. The sweep's data has no NaNs.</p>\n")
        parts.append(_table_html(parity))

    # ---- egglog
    parts.append('<h2 id="egg">egglog: scikit-learn LDA traced, optimised, lowered, generated, compiled</h2>\n')
    egg_table = egg_summary_table(table, env)
    if len(egg_table):
        parts.append("<p class=\"note\">The seed tutorial's <code>LinearDiscriminantAnalysis().fit(X, y).transform(X)</code> "
                     "on <code>make_classification(random_state=0)</code> data. Pipeline stages run once per size "
                     "(compile is Numba's first call without its disk cache); <i>original</i> is scikit-learn with "
                     "array-API dispatch on NumPy, <i>extracted</i> the generated NumPy program, <i>numba</i> the same "
                     "program under <code>numba.njit</code>. Errors are max abs differences to the original.</p>\n")
        parts.append(_table_html(egg_table))
    else:
        parts.append("<p>Not measured in this run.</p>\n")
    for name, caption in (("lda_swarm", "Repeated timings, original / extracted / numba (as in the tutorial)"),
                          ("lda_stages", "Pipeline stage breakdown per n_samples"),
                          ("lda_scaling", "Steady-state time vs n_samples")):
        parts.append(_figure(name, figures, out, caption))
    extras = env.get("egg_extras") or {}
    coverage = estimator_coverage_table(env)
    parts.append("<h3>scikit-learn beyond LDA: estimator coverage</h3>\n<p class=\"note\">Each estimator written "
                 "as a user writes it, <code>Estimator(...).fit(X[, y]).transform / predict / predict_proba(X)</code>, "
                 "traced through waxegg's extension of egglog's array API (<code>waxegg.egg._extensions</code>), "
                 "verified against scikit-learn on NumPy, float64. <i>original</i> is scikit-learn with array-API "
                 "dispatch on NumPy; times are best of 3 after a warm-up, interleaved with a plain copy of X; "
                 "compile is Numba's first call without its disk cache. KernelCenterer's input is an n x n kernel, "
                 "so it runs at fewer rows.</p>\n")
    parts.append(_table_or_note(coverage, extras.get("estimators_error", "not measured in this run")))
    swept = estimator_sweep_table(table, env)
    if len(swept):
        parts.append("<h3>Each estimator across sizes</h3>\n<p class=\"note\">One configuration per estimator "
                     "class, swept like the LDA above: the pipeline once per size (compile without Numba's disk "
                     "cache), then original / extracted / numba and a plain copy of X (the floor of one pass over "
                     "it), each best of repeats; errors are max abs differences to scikit-learn on NumPy without "
                     "array-API dispatch. An estimator that does not trace has its error in the last column.</p>\n")
        parts.append(_table_html(swept))
        for name in env.get("egg_estimators") or {}:
            key = estimator_figure_key(name)
            parts.append(_figure(key, figures, out, f"{name}: repeated timings at the largest size, "
                                                    "original / extracted / numba / copy of X"))
    if extras:
        n_extra = f"{int(extras.get('n_samples', 0)):,}"
        parts.append(f"<h3>Which rewrites contribute (n_samples={n_extra})</h3>\n<p class=\"note\">"
                     "Each row adds one waxegg rewrite to the row above (the first row is egglog's own rules); "
                     "all rows and the original are timed interleaved in one loop (best of 3), so each row's gain "
                     "over the row above is that rewrite's contribution. Compile is the first Numba call "
                     "(from Numba's disk cache where an earlier run compiled the same program).</p>\n")
        parts.append(_table_or_note(ablation_table(env), extras.get("ablation_error", "not asked for")))
        parts.append(f"<h3>Compile once: a second process reuses the program (n_samples={n_extra}, 2 classes)</h3>\n"
                     "<p class=\"note\">Two fresh Python processes share an empty cache folder and call "
                     "<code>accelerate(lda_fit_transform, X, y, reuse=True, verify=False)</code>: the first traces, "
                     "optimises, generates and compiles; the second finds the program and Numba's machine code on "
                     "disk. Imports (waxegg.egg, scikit-learn, egglog) and data generation are counted apart.</p>\n")
        parts.append(_table_or_note(cached_start_table(env), extras.get("cached_start_error", "not asked for")))
    svg, why = _artifact(out, EGRAPH_SVG, status)
    parts.append("<h3>The optimisation e-graph</h3>\n")
    parts.append(f'<p><a href="{svg}"><img src="{svg}" alt="e-graph" style="max-height:600px"></a></p>\n' if svg
                 else f"<p class=\"note\">No e-graph picture: {html.escape(why)}</p>\n")
    src, why = _artifact(out, EGG_SOURCE, status)
    parts.append("<h3>The generated program</h3>\n")
    parts.append(f'<p><a href="{src}">{src}</a></p><pre>{html.escape((out / src).read_text())}</pre>\n' if src
                 else f"<p class=\"note\">No generated source: {html.escape(why)}</p>\n")

    # ---- profiles
    parts.append('<h2 id="profiles">Line profiles</h2>\n<p class="note">line_profiler output (times in ms) of one '
                 "call, as the tutorial's <code>%lprun</code>: the generated program and the accessor after a "
                 "warm-up call; the 3-step workflow as it runs (it compiles on every run).</p>\n")
    for name, title in ((LPROF_EGG, "Generated egglog program (plain NumPy), with waxegg's rewrites"),
                        (LPROF_EGG_BEFORE, "Before: the program egglog's own rules generate"),
                        (LPROF_WAX, "WAX end-to-end paths")):
        path, why = _artifact(out, name, status)
        parts.append(f"<h3>{title}</h3>\n")
        parts.append(f'<p><a href="{path}">{path}</a></p><pre>{html.escape((out / path).read_text())}</pre>\n' if path
                     else f"<p class=\"note\">Not produced: {html.escape(why)}</p>\n")
    estimators = [name for name, info in (env.get("egg_estimators") or {}).items()
                  if any(entry.get("verified") for entry in info.values())]
    if estimators:
        parts.append("<h3>scikit-learn estimators: where the time goes</h3>\n<p class=\"note\">For each estimator at "
                     "its largest swept size, the generated NumPy program and then scikit-learn's own "
                     "<code>fit</code> and method (array-API dispatch on NumPy): where LAPACK (an SVD, an "
                     "eigendecomposition) dominates the original, the generated program cannot save much; where "
                     "passes over X do, fusing them is the gain.</p>\n")
    for name in estimators:
        path, why = _artifact(out, estimator_profile_name(name), status)
        parts.append(f"<h4>{html.escape(name)}</h4>\n")
        parts.append(f'<p><a href="{path}">{path}</a></p><pre>{html.escape((out / path).read_text())}</pre>\n' if path
                     else f"<p class=\"note\">Not produced: {html.escape(why)}</p>\n")

    # ---- problems and files
    parts.append('<h2 id="problems">Skipped or failed</h2>\n')
    bad = problems_table(table)
    parts.append(_table_html(bad) if len(bad) else "<p>None: every cell of the grid ran.</p>\n")
    parts.append('<h2 id="files">Files</h2>\n<ul>\n<li><a href="results.csv">results.csv</a> (one row per workload, '
                 'backend, stage, T, N, dtype, repeat)</li>\n<li><a href="results.json">results.json</a> (environment, '
                 'grid, egglog details)</li>\n')
    for key, path in figures.items():
        rel = path.relative_to(out).as_posix()
        parts.append(f'<li><a href="{rel}">{rel}</a></li>\n')
    for name in (EGRAPH_SVG, EGG_SOURCE, LPROF_EGG, LPROF_EGG_BEFORE, LPROF_WAX):
        if (out / "artifacts" / name).is_file():
            parts.append(f'<li><a href="artifacts/{name}">artifacts/{name}</a></li>\n')
    parts.append("</ul>\n")
    versions = json.dumps(env.get("versions", {}), sort_keys=True)
    parts.append(f'<p class="stamp">versions: {html.escape(versions)}</p>\n</body></html>\n')
    page = out / "index.html"
    page.write_text("".join(parts), encoding="utf-8")
    return page
