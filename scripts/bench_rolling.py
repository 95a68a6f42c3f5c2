"""Rolling statistics: waxegg's Numba kernels vs a plain copy, numbagg and (median) pandas, in one process.

Usage: python scripts/bench_rolling.py [--T 100000] [--N 1000] [--window 20] [--reps 5]
       [--stats mean,sum,...] [--dtypes float64,float32] [--layouts F,C] [--pandas-reps 3]

For each dtype, layout and statistic the systems are interleaved in one loop (after a warm-up
call that also checks waxegg's result against the peer's), best of ``--reps``; end to end (each
call allocates its output). Prints ``time / copy`` for every system, ``time / numbagg`` and
``pandas / time`` (median, ``--pandas-reps`` runs). F is column-major (pandas 3's storage of
``pd.DataFrame(2-D array)``), C row-major.
"""

from __future__ import annotations

import argparse
import time

import numba
import numbagg
import numpy as np
import pandas as pd

from waxegg.wax._params import RollingParams
from waxegg.wax.backends import numba_rolling as nr
from waxegg.wax.backends._threads import num_threads

STATS = ("mean", "sum", "var", "std", "count", "min", "max", "median", "cov", "corr")


def _ours(stat, x, y, p):
    if stat in ("cov", "corr"):
        return getattr(nr, f"rolling_{stat}")(x, y, p)[0]
    return getattr(nr, f"rolling_{stat}")(x, p)[0]


def _numbagg(stat, x, y, w):
    if stat in ("cov", "corr"):
        return getattr(numbagg, f"move_{stat}")(x, y, window=w, min_count=w, axis=0)
    f = getattr(numbagg, f"move_{stat}", None)
    return None if f is None else f(x, window=w, min_count=w, axis=0)


def _best(fn, reps):
    best = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=int, default=100_000)
    ap.add_argument("--N", type=int, default=1000)
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--pandas-reps", type=int, default=3)
    ap.add_argument("--stats", default=",".join(STATS))
    ap.add_argument("--dtypes", default="float64,float32")
    ap.add_argument("--layouts", default="F,C")
    a = ap.parse_args()
    w = a.window
    p = RollingParams(w, w)
    print(f"T={a.T} N={a.N} window={w} threads={num_threads()} numba {numba.__version__} "
          f"numbagg {numbagg.__version__} pandas {pd.__version__} numpy {np.__version__}; end to end, best of {a.reps}")
    print(f"{'dtype':8} {'lay':3} {'stat':7} {'copy s':>8} {'ours/copy':>9} {'nbg/copy':>9} {'ours/nbg':>9} "
          f"{'pd/ours':>8}")
    rng = np.random.default_rng(0)
    for dt in a.dtypes.split(","):
        base = rng.standard_normal((a.T, a.N)).astype(dt)
        base[rng.random((a.T, a.N)) < 0.01] = np.nan
        base2 = (rng.standard_normal((a.T, a.N)) + base).astype(dt)
        for lay in a.layouts.split(","):
            x = np.array(base, order=lay)
            y = np.array(base2, order=lay)
            for stat in a.stats.split(","):
                # warm-up and check
                got = _ours(stat, x, y, p)
                ref = _numbagg(stat, x, y, w)
                fns = {"copy": lambda: x.copy(order="K"), "ours": lambda: _ours(stat, x, y, p)}
                if ref is not None:
                    fns["nbg"] = lambda: _numbagg(stat, x, y, w)
                    tol = 1e-9 if dt == "float64" else 2e-3
                    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * 10, equal_nan=True)
                best = {k: np.inf for k in fns}
                for _ in range(a.reps):
                    for k, f in fns.items():
                        best[k] = min(best[k], _best(f, 1))
                pd_ratio = ""
                if stat == "median":
                    df = pd.DataFrame(x)
                    exp = df.rolling(w).median().to_numpy()
                    np.testing.assert_allclose(got[-1000:], exp[-1000:], rtol=1e-6, equal_nan=True)
                    tp = np.inf
                    for _ in range(a.pandas_reps):
                        tp = min(tp, _best(lambda: df.rolling(w).median(), 1))
                        best["ours"] = min(best["ours"], _best(fns["ours"], 1))
                        best["copy"] = min(best["copy"], _best(fns["copy"], 1))
                    pd_ratio = f"{tp / best['ours']:8.2f}"
                c = best["copy"]
                nb = best.get("nbg")
                print(f"{dt:8} {lay:3} {stat:7} {c:8.3f} {best['ours'] / c:9.2f} "
                      f"{(nb / c if nb else float('nan')):9.2f} {(best['ours'] / nb if nb else float('nan')):9.2f} "
                      f"{pd_ratio:>8}", flush=True)


if __name__ == "__main__":
    main()
