"""``waxegg repro``: measure, store the results table, render figures and the page."""

from __future__ import annotations

from pathlib import Path

from waxegg.report.seed import render_seed_stages, run_seed_stages

SEED_SIZE = dict(T=100_000, N=1000)
QUICK_SIZE = dict(T=2_000, N=50)


def run_repro(out: str | Path = "reports", *, quick: bool = False, from_results: bool = False) -> Path:
    """Regenerate the report into ``out``; returns the folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "wax_seed_stages.csv"
    if not from_results:
        size = QUICK_SIZE if quick else SEED_SIZE
        run_seed_stages(**size, dtype="float64").to_csv(csv, index=False)
    render_seed_stages(csv, out / "wax_seed_stages.png")
    return out
