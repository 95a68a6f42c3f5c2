"""The WAX seed workflow's three stages beside pandas ``ewm().mean()``: table and figure."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from waxegg.bench.timers import measure
from waxegg.bench.workloads import WaxSeedWorkflow, make_frame


def run_seed_stages(T: int, N: int, dtype: str = "float64", repeat: int = 3, alpha: float = 0.1) -> pd.DataFrame:
    """Time encode / compute / format of the seed workflow and pandas' ewm on one ``T x N`` frame.

    Returns a tidy table: one row per (stage, repeat) with seconds, plus the first-call time of
    every stage (``repeat = -1``) and the max abs error of the result vs pandas.
    """
    df = make_frame(T, N, dtype)
    wf = WaxSeedWorkflow(df, alpha=alpha)
    rows = []
    steps = [("copy", lambda: df.to_numpy().copy()),
             ("pandas ewm", lambda: df.ewm(alpha=alpha).mean()),
             ("encode", wf.encode), ("compute", wf.compute), ("format", wf.format)]
    results = {}
    for stage, fn in tqdm(steps, desc=f"seed workflow T={T} N={N}", unit="stage"):
        timing = measure(fn, repeat=repeat)
        results[stage] = timing.result
        rows.append(dict(stage=stage, repeat=-1, seconds=timing.first))
        rows += [dict(stage=stage, repeat=i, seconds=s) for i, s in enumerate(timing.repeats)]
    err = float(np.nanmax(np.abs(results["format"].to_numpy() - results["pandas ewm"].to_numpy())))
    table = pd.DataFrame(rows)
    table = table.assign(T=T, N=N, dtype=dtype, max_abs_err_vs_pandas=err, cpu=platform.processor() or platform.machine())
    return table


def render_seed_stages(csv: str | Path, png: str | Path) -> Path:
    """Bar chart of best steady-state seconds per stage, stacked WAX stages beside pandas."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = pd.read_csv(csv)
    best = table[table["repeat"] >= 0].groupby("stage")["seconds"].min()
    first = table[table["repeat"] < 0].set_index("stage")["seconds"]
    T, N, dtype = table["T"].iloc[0], table["N"].iloc[0], table["dtype"].iloc[0]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bottom = 0.0
    for stage, color in zip(["encode", "compute", "format"], ["#4c72b0", "#55a868", "#c44e52"]):
        ax.bar("waxegg seed\n3-step", best[stage], bottom=bottom, color=color, label=stage)
        bottom += best[stage]
    ax.bar("pandas\newm().mean()", best["pandas ewm"], color="#8172b2", label="pandas")
    ax.bar("plain copy", best["copy"], color="#937860", label="copy")
    ax.set_ylabel("seconds (best of repeats)")
    ax.set_title(f"WAX seed workflow, T={T:,} N={N:,} {dtype}\ncompile (first compute call): {first['compute']:.2f} s")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return Path(png)
