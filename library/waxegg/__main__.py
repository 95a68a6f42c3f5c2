"""Command line: ``waxegg repro`` regenerates the report (``python -m waxegg repro --help``)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="waxegg", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    repro = sub.add_parser("repro", help="re-measure the default sweep and write the report")
    repro.add_argument("--out", default="reports", help="output folder (default: reports)")
    repro.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    repro.add_argument("--from-results", action="store_true",
                       help="re-render every figure from the stored results without measuring")
    args = parser.parse_args(argv)
    if args.command == "repro":
        from waxegg.report.repro import run_repro

        run_repro(out=args.out, quick=args.quick, from_results=args.from_results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
