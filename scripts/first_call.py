"""First-call times of waxegg's statistics beside numbagg's: cold (empty caches) and warm (filled caches).

A thin command line over :mod:`waxegg.bench.first_call` (which the repro and asv use): each case runs in
fresh Python processes, cold with empty ``NUMBA_CACHE_DIR`` / ``WAXEGG_CACHE_DIR``, then warm over the
caches the cold one filled; imports are timed apart from the call, and the result is checked against
pandas in the same process.

    python scripts/first_call.py                                # every statistic, float64, column-major
    python scripts/first_call.py -k ewm_mean -k rolling_cov -r 3
    python scripts/first_call.py --dtype float32 --layout C
"""

from __future__ import annotations

import argparse

from waxegg.bench.first_call import FIRST_CALL_SHAPE, first_call_summary, measure_first_calls


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", "--kernel", action="append", help="a statistic (ewm_mean, rolling_cov, ...); repeatable")
    parser.add_argument("-r", "--repeat", type=int, default=1, help="interleaved rounds (fastest kept)")
    parser.add_argument("--dtype", action="append", help="float64 (default) and/or float32")
    parser.add_argument("--layout", action="append", help="F (default, pandas 3's frame) and/or C")
    parser.add_argument("-T", type=int, default=FIRST_CALL_SHAPE[0])
    parser.add_argument("-N", type=int, default=FIRST_CALL_SHAPE[1])
    args = parser.parse_args(argv)
    rows = measure_first_calls(args.kernel, dtypes=args.dtype or ["float64"], layouts=args.layout or ["F"],
                               shape=(args.T, args.N), repeat=args.repeat, progress=True)
    print(f"\nT={args.T} N={args.N}, best of {args.repeat} round(s); seconds of the first call (imports apart)")
    header = ["kernel", "dtype", "layout", "waxegg cold", "numbagg cold", "cold / numbagg", "(CPU s)",
              "waxegg warm", "numbagg warm", "3-step cold", "3-step warm"]
    print(" | ".join(header))
    for s in first_call_summary(rows):
        print(" | ".join([s["kernel"], s["dtype"], s["layout"], _fmt(s.get("waxegg_cold_s")),
                          _fmt(s.get("numbagg_cold_s")), _fmt(s.get("cold_over_numbagg")),
                          _fmt(s.get("cold_cpu_over_numbagg")),
                          _fmt(s.get("waxegg_warm_s")), _fmt(s.get("numbagg_warm_s")),
                          _fmt(s.get("wax-3step_cold_s")), _fmt(s.get("wax-3step_warm_s"))]))


if __name__ == "__main__":
    main()
