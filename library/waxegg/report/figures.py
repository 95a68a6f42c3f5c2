"""The report's figures, drawn from a results table alone (so ``--from-results`` redraws them).

Rendering is deterministic: a fixed style and bundled font (DejaVu Sans), no software / date metadata
in the files, and figures that depend only on the table and its metadata -- the same results give
byte-identical PNGs. Every figure carries the stamp of :func:`waxegg.bench.env.stamp`.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from waxegg.bench.env import stamp
from waxegg.bench.grid import EGG_FUNCTIONS, EGG_STAGES
from waxegg.bench.sweep import egg_workload_names, wax_table

WAX_STAGE_ORDER = ("encode", "compute", "format")
STAGE_COLORS = {"encode": "#4c72b0", "compute": "#55a868", "format": "#c44e52",
                "trace": "#4c72b0", "optimize": "#dd8452", "lower": "#937860", "codegen": "#8172b3",
                "compile": "#c44e52", "run": "#55a868"}
DPI = 100


def backend_order(backends: Any) -> list[str]:
    """Floor, reference, peers, waxegg backends, the 3-step workflow."""
    rank = {"copy": 0, "pandas": 1, "numbagg": 2, "polars": 3, "wax-3step": 9}
    return sorted(set(backends), key=lambda b: (rank.get(b, 5), b))


def _palette(backends: list[str]) -> dict[str, Any]:
    import seaborn as sns

    colors = sns.color_palette("tab10", n_colors=max(10, len(backends)))
    fixed = {"copy": "#333333"}
    return {b: fixed.get(b, colors[i % len(colors)]) for i, b in enumerate(backends)}


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    rc = {
        "font.family": "DejaVu Sans",  # shipped with matplotlib: the same glyphs on every machine
        "svg.hashsalt": "waxegg",
        "svg.fonttype": "path",
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
        "axes.titlesize": 10,
        "axes.labelsize": 9,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "legend.fontsize": 8,
    }
    with matplotlib.rc_context():
        sns.set_theme(style="whitegrid", rc=rc)
        try:
            yield
        finally:
            plt.close("all")


def _save(fig: Any, path: Path, env: dict[str, Any], *, dtype: str | None, extra: str = "") -> Path:
    import textwrap

    width_in, height_in = fig.get_size_inches()
    # ~19 characters per inch at 6.5 pt: wrap so that narrow figures keep the whole stamp.
    lines = [part for line in stamp(env, dtype=dtype, extra=extra).splitlines()
             for part in textwrap.wrap(line, width=max(40, int(width_in * 19)), break_on_hyphens=False)]
    fig.text(0.005, 0.004, "\n".join(lines), fontsize=6.5, color="#555555", ha="left", va="bottom",
             linespacing=1.3)
    bottom = (len(lines) * 6.5 * 1.3 + 6) / (height_in * 72)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    # No "Software" key: matplotlib would write its version; PNG has no date unless asked.
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def _fmt_size(T: int, N: int) -> str:
    return f"T={int(T):,} x N={int(N):,}"


# --------------------------------------------------------------------------------------------
# WAX
# --------------------------------------------------------------------------------------------

def wax_swarm(table: pd.DataFrame, env: dict[str, Any], path: Path, *, workload: str, T: int, N: int,
              dtype: str) -> Path | None:
    """Swarm of every steady-state repeat per backend, one panel per stage (log seconds)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    data = table[(table["workload"] == workload) & (table["T"] == T) & (table["N"] == N) & (table["dtype"] == dtype)
                 & (table["status"] == "ok") & (table["stage"] != "compile")]
    if data.empty:
        return None
    stages = [s for s in ("end_to_end",) + WAX_STAGE_ORDER if s in set(data["stage"])]
    backends = backend_order(data["backend"])
    palette = _palette(backend_order(table["backend"][table["workload"] == workload]))
    with _style():
        fig, axes = plt.subplots(1, len(stages), figsize=(3.3 * len(stages) + 1, 4.6), squeeze=False, sharey=True)
        for ax, stage in zip(axes[0], stages):
            d = data[data["stage"] == stage]
            order = [b for b in backends if b in set(d["backend"])]
            sns.swarmplot(data=d, x="backend", y="seconds", hue="backend", order=order, hue_order=order,
                          palette={b: palette[b] for b in order}, size=3, ax=ax, legend=False, log_scale=True)
            ax.set_title(stage.replace("_", " "))
            ax.set_xlabel("")
            ax.tick_params(axis="x", rotation=40)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right")
        axes[0][0].set_ylabel("seconds per call (log)")
        fig.suptitle(f"{workload}: repeated timings, {_fmt_size(T, N)}, {dtype}", fontsize=11)
        return _save(fig, path, env, dtype=dtype, extra=_fmt_size(T, N))


#: The bars of the WAX stage figure, in order: the stages timed apart, the whole call, the first call.
WAX_STAGE_BARS = {"encode": ("encode", STAGE_COLORS["encode"]), "compute": ("compute", STAGE_COLORS["compute"]),
                  "format": ("format", STAGE_COLORS["format"]), "end_to_end": ("end to end", "#999999"),
                  "compile": ("first call", "#dd8452")}


def _log_floor(values: Any) -> float:
    """A log axis' lower limit a little under the smallest positive value (bars start there)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    return float(10 ** np.floor(np.log10(v.min()) - 0.3)) if v.size else 1e-6


def wax_stages(table: pd.DataFrame, env: dict[str, Any], path: Path, *, workload: str, T: int, N: int,
               dtype: str) -> Path | None:
    """Best-of-k encode / compute / format, end to end and first call per backend, side by side (log seconds).

    Log, like the swarm and scaling figures: the 3-step workflow's first call (tens of seconds) would
    flatten every other bar on a linear axis. Bars side by side, not stacked (a stack on a log axis
    misstates its parts).
    """
    import matplotlib.pyplot as plt

    data = table[(table["workload"] == workload) & (table["T"] == T) & (table["N"] == N) & (table["dtype"] == dtype)
                 & (table["status"] == "ok")]
    if data.empty:
        return None
    best = data.groupby(["backend", "stage"])["seconds"].min().unstack("stage")
    backends = backend_order(best.index)
    stages = [s for s in WAX_STAGE_BARS if s in best.columns]
    with _style():
        fig, ax = plt.subplots(figsize=(1.3 * len(backends) + 3.0, 4.9))
        x = np.arange(len(backends))
        width = 0.84 / max(len(stages), 1)
        bottom = _log_floor(best[stages].to_numpy())
        for j, stage in enumerate(stages):
            name, color = WAX_STAGE_BARS[stage]
            vals = np.array([best.loc[b].get(stage, np.nan) for b in backends], dtype=float)
            ax.bar(x - 0.42 + width * (j + 0.5), np.where(np.isfinite(vals), vals - bottom, 0.0), width,
                   bottom=bottom, color=color, label=name)
        ax.set_yscale("log")
        ax.set_ylim(bottom=bottom)
        ax.set_xticks(x, backends, rotation=20)
        ax.set_ylabel("seconds, best of repeats (log)")
        ax.set_title(f"{workload}: stages, {_fmt_size(T, N)}, {dtype}\n"
                     "encode / compute / format timed apart, end to end, and the first call in the process",
                     fontsize=9)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _save(fig, path, env, dtype=dtype, extra=_fmt_size(T, N))


def wax_scaling(table: pd.DataFrame, env: dict[str, Any], path: Path, *, workload: str, dtype: str) -> Path | None:
    """Best end-to-end seconds vs T x N (log-log) per backend, the copy floor drawn dashed; right: x copy."""
    import matplotlib.pyplot as plt

    data = table[(table["workload"] == workload) & (table["dtype"] == dtype) & (table["status"] == "ok")
                 & (table["stage"] == "end_to_end")]
    if data.empty:
        return None
    best = data.groupby(["backend", "T", "N"])["seconds"].min().reset_index()
    best["elements"] = best["T"] * best["N"]
    floor = best[best["backend"] == "copy"].set_index(["T", "N"])["seconds"]
    best["x_copy"] = best["seconds"].to_numpy() / floor.reindex(pd.MultiIndex.from_frame(best[["T", "N"]])).to_numpy()
    backends = backend_order(best["backend"])
    palette = _palette(backend_order(table["backend"][table["workload"] == workload]))
    with _style():
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.8))
        for b in backends:
            d = best[best["backend"] == b].sort_values("elements")
            if b == "copy":
                ax.plot(d["elements"], d["seconds"], "k--", lw=2.2, label="copy (memcpy floor)")
                continue
            ax.plot(d["elements"], d["seconds"], marker="o", color=palette[b], label=b)
            ax2.plot(d["elements"], d["x_copy"], marker="o", color=palette[b], label=b)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("T x N (elements)")
        ax.set_ylabel("seconds, end to end (best of repeats)")
        ax.set_title(f"{workload} scaling, {dtype}")
        ax.legend()
        ax2.axhline(1.0, color="black", ls="--", lw=2.2, label="copy")
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set_xlabel("T x N (elements)")
        ax2.set_ylabel("time / copy time")
        ax2.set_title("relative to the plain copy (lower is better)")
        sizes = ", ".join(_fmt_size(T, N) for T, N in sorted(set(zip(best["T"], best["N"]))))
        return _save(fig, path, env, dtype=dtype, extra=f"sizes: {sizes}")


# --------------------------------------------------------------------------------------------
# egglog
# --------------------------------------------------------------------------------------------

def egg_swarm(table: pd.DataFrame, env: dict[str, Any], path: Path, *, T: int, workload: str = "lda") -> Path | None:
    """The tutorial's swarm: repeated timings of original / extracted / numba at ``T`` samples.

    For a scikit-learn estimator workload, a plain copy of X is drawn beside them: the floor of one pass.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    data = table[(table["workload"] == workload) & (table["T"] == T) & (table["stage"] == "run")
                 & (table["status"] == "ok")]
    if data.empty:
        return None
    order = [f for f in (*EGG_FUNCTIONS, "copy") if f in set(data["backend"])]
    N = int(data["N"].iloc[0])
    if workload == "lda":
        title = f"LDA fit+transform, n_samples={T:,} x {N} features\n(original sklearn / extracted NumPy / numba)"
    else:
        title = f"{workload}, {T:,} x {N}\n(original sklearn / extracted NumPy / numba / copy of X)"
    with _style():
        fig, ax = plt.subplots(figsize=(6.5, 4.8))
        sns.swarmplot(data=data, x="backend", y="seconds", order=order, hue="backend", hue_order=order,
                      legend=False, size=5, ax=ax, log_scale=True)
        ax.set_xlabel("function")
        ax.set_ylabel("seconds per call (log)")
        ax.set_title(title)
        return _save(fig, path, env, dtype="float64", extra=f"X {T:,} x {N}")


def estimator_figure_key(workload: str) -> str:
    """The figure key (and file stem) of an estimator workload's swarm: ``StandardScaler()`` -> ``egg_StandardScaler``."""
    import re

    return "egg_" + re.sub(r"\W+", "_", workload).strip("_")


def egg_stages(table: pd.DataFrame, env: dict[str, Any], path: Path) -> Path | None:
    """trace / optimize / lower / codegen / compile and the compiled run (numba, best) per n_samples, side by side
    on a log axis (the compile takes seconds, the run milliseconds)."""
    import matplotlib.pyplot as plt

    data = table[(table["workload"] == "lda") & (table["status"] == "ok")]
    pipe = data[data["backend"] == "egglog"].groupby(["T", "stage"])["seconds"].min().unstack("stage")
    run = data[(data["backend"] == "numba") & (data["stage"] == "run")].groupby("T")["seconds"].min()
    if pipe.empty:
        return None
    sizes = sorted(pipe.index)
    N = int(data["N"].iloc[0])
    stages = EGG_STAGES + ("run",)
    values = {stage: np.array([(run.get(n, np.nan) if stage == "run" else pipe.loc[n].get(stage, np.nan))
                               for n in sizes], dtype=float) for stage in stages}
    left = _log_floor(np.concatenate(list(values.values())))
    with _style():
        fig, ax = plt.subplots(figsize=(9, 1.0 + 1.1 * len(sizes) + 1.5))
        y = np.arange(len(sizes))
        height = 0.84 / len(stages)
        for j, stage in enumerate(stages):
            vals = values[stage]
            label = "run (numba, steady state)" if stage == "run" else stage
            ax.barh(y - 0.42 + height * (j + 0.5), np.where(np.isfinite(vals), vals - left, 0.0), height, left=left,
                    color=STAGE_COLORS[stage], label=label)
        ax.set_xscale("log")
        ax.set_xlim(left=left)
        ax.set_yticks(y, [f"n_samples={n:,}" for n in sizes])
        ax.invert_yaxis()
        ax.set_xlabel("seconds (log)")
        ax.set_title(f"egglog pipeline stages for LDA ({N} features): one run each, then the compiled call")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _save(fig, path, env, dtype="float64")


def egg_scaling(table: pd.DataFrame, env: dict[str, Any], path: Path) -> Path | None:
    """Best run seconds vs n_samples (log-log) for original / extracted / numba."""
    import matplotlib.pyplot as plt

    data = table[(table["workload"] == "lda") & (table["stage"] == "run") & (table["status"] == "ok")]
    if data["T"].nunique() < 2:
        return None
    best = data.groupby(["backend", "T"])["seconds"].min().reset_index()
    with _style():
        fig, ax = plt.subplots(figsize=(6.5, 4.6))
        for f in EGG_FUNCTIONS:
            d = best[best["backend"] == f].sort_values("T")
            if len(d):
                ax.plot(d["T"], d["seconds"], marker="o", label=f)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("n_samples")
        ax.set_ylabel("seconds per call (best of repeats)")
        ax.set_title("LDA fit+transform scaling")
        ax.legend()
        return _save(fig, path, env, dtype="float64")


# --------------------------------------------------------------------------------------------
# All of them
# --------------------------------------------------------------------------------------------

def focus_size(table: pd.DataFrame, env: dict[str, Any], workload: str) -> tuple[int, int] | None:
    """The (T, N) of the swarm and stage figures: the grid's focus, else the largest measured."""
    d = table[(table["workload"] == workload) & (table["status"] == "ok")]
    if d.empty:
        return None
    focus = (env.get("grid") or {}).get("focus")
    if focus and ((d["T"] == focus[0]) & (d["N"] == focus[1])).any():
        return int(focus[0]), int(focus[1])
    T, N = max(set(zip(d["T"], d["N"])), key=lambda s: (s[0] * s[1], s))
    return int(T), int(N)


def render_figures(table: pd.DataFrame, env: dict[str, Any], folder: str | Path) -> dict[str, Path]:
    """Draw every figure the table supports into ``folder``; returns ``{key: path}`` in page order."""
    folder = Path(folder)
    made: dict[str, Path | None] = {}
    for workload in sorted(set(wax_table(table)["workload"])):
        size = focus_size(table, env, workload)
        for dtype in sorted(set(table["dtype"][table["workload"] == workload]), reverse=True):  # float64 first
            if size is not None:
                made[f"{workload}_swarm_{dtype}"] = wax_swarm(
                    table, env, folder / f"{workload}_swarm_{dtype}.png", workload=workload, T=size[0], N=size[1],
                    dtype=dtype)
                made[f"{workload}_stages_{dtype}"] = wax_stages(
                    table, env, folder / f"{workload}_stages_{dtype}.png", workload=workload, T=size[0], N=size[1],
                    dtype=dtype)
            made[f"{workload}_scaling_{dtype}"] = wax_scaling(
                table, env, folder / f"{workload}_scaling_{dtype}.png", workload=workload, dtype=dtype)
    if (table["workload"] == "lda").any():
        lda = table[(table["workload"] == "lda") & (table["status"] == "ok") & (table["stage"] == "run")]
        if len(lda):
            made["lda_swarm"] = egg_swarm(table, env, folder / "lda_swarm.png", T=int(lda["T"].max()))
        made["lda_stages"] = egg_stages(table, env, folder / "lda_stages.png")
        made["lda_scaling"] = egg_scaling(table, env, folder / "lda_scaling.png")
    for workload in sorted(egg_workload_names(table) - {"lda"}):
        runs = table[(table["workload"] == workload) & (table["status"] == "ok") & (table["stage"] == "run")]
        if len(runs):
            key = estimator_figure_key(workload)
            made[key] = egg_swarm(table, env, folder / f"{key}.png", T=int(runs["T"].max()), workload=workload)
    return {k: v for k, v in made.items() if v is not None}
