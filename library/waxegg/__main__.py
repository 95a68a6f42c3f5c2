"""Command line: ``waxegg repro`` regenerates the report, ``waxegg sweep`` measures a grid and prints it.

``python -m waxegg repro --help`` and ``python -m waxegg sweep --help`` list the options.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace


def _sweep(args: argparse.Namespace) -> int:
    import pandas as pd

    from waxegg.bench.grid import Grid, WaxGrid, get_grid
    from waxegg.bench.sweep import run_sweep, summarize, write_results

    grid = get_grid(args.grid)
    if args.T or args.N or args.dtype or args.layout or args.kernels:
        if args.T is None or args.N is None:
            raise SystemExit("--T and --N go together")
        base = grid.wax or WaxGrid(sizes=())
        wax = WaxGrid(sizes=((args.T, args.N),), dtypes=tuple(args.dtype or ("float64",)),
                      layouts=tuple(args.layout or ("F",)), kernels=tuple(args.kernels or base.kernels),
                      repeat=args.repeat or base.repeat, min_repeat=min(base.min_repeat, args.repeat or base.repeat),
                      budget_s=base.budget_s)
        grid = Grid(f"{grid.name}-custom", wax=wax, egg=grid.egg if args.egg else None)
    elif not args.egg:
        grid = replace(grid, egg=None)
    if args.backends:
        grid = grid.with_backends(tuple(args.backends))
    result = run_sweep(grid, progress=not args.no_progress)
    paths = write_results(result, args.results_dir)
    summary = summarize(result.table)
    cols = ["workload", "backend", "stage", "T", "N", "dtype", "layout", "out_dtype", "best_s", "x_copy", "pandas_over",
            "max_abs_err", "peak_mem_mb", "repeats"]
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_columns", 30,
                           "display.float_format", "{:.4g}".format):
        print(summary[[c for c in cols if c in summary.columns] + [c for c in ("status", "error") if c in summary]]
              .to_string(index=False))
    print(f"\nresults: {paths[0]}\nmetadata: {paths[1]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="waxegg", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    repro = sub.add_parser("repro", help="re-measure the default sweep and write the report")
    repro.add_argument("--out", default="reports", help="output folder (default: reports)")
    repro.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test (about 2 minutes)")
    repro.add_argument("--from-results", action="store_true",
                       help="re-render every figure from <out>/results.csv without measuring")
    repro.add_argument("--grid", default=None, help="named grid (default, seed, quick); default: default")
    repro.add_argument("--results-dir", default="results",
                       help="where the versioned copy of the results goes (default: results)")
    repro.add_argument("--no-progress", action="store_true", help="no progress bars")
    repro.add_argument("--allow-dirty", action="store_true",
                       help="write the report although the git tree has uncommitted changes (development; "
                            "stamped <commit>+dirty); without it a dirty tree is refused")

    sweep = sub.add_parser("sweep", help="measure a grid, store the versioned results and print the summary")
    sweep.add_argument("--grid", default="seed", help="named grid (default, seed, quick); default: seed")
    sweep.add_argument("--T", type=int, help="one WAX size instead of the grid's: time steps")
    sweep.add_argument("--N", type=int, help="... and columns")
    sweep.add_argument("--dtype", action="append", help="float64 / float32 (repeatable; with --T/--N)")
    sweep.add_argument("--layout", action="append", choices=["F", "C"],
                       help="input frame memory order: F (column-major, pandas' default) / C (repeatable; with --T/--N)")
    sweep.add_argument("--repeat", type=int, help="steady-state repeats (with --T/--N)")
    sweep.add_argument("--kernels", nargs="+", help="statistics to measure, e.g. ewm_var rolling_median "
                                                     "(with --T/--N; default: the grid's)")
    sweep.add_argument("--backends", nargs="+", help="WAX backends to run (default: all)")
    sweep.add_argument("--egg", action="store_true", help="also run the grid's egglog LDA part")
    sweep.add_argument("--results-dir", default="results", help="results folder (default: results)")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")

    args = parser.parse_args(argv)
    if args.command == "repro":
        from waxegg.report.repro import DirtyTreeError, run_repro

        try:
            out = run_repro(out=args.out, quick=args.quick, from_results=args.from_results, grid=args.grid,
                            results_dir=args.results_dir, progress=not args.no_progress,
                            allow_dirty=args.allow_dirty)
        except DirtyTreeError as exc:
            print(f"waxegg repro: refused: {exc}", file=sys.stderr)
            return 1
        print(f"report: {out / 'index.html'}")
        return 0
    if args.command == "sweep":
        return _sweep(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
