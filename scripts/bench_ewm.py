"""EWM statistics: waxegg's Numba kernels vs a plain copy and numbagg, in one process.

Usage: python scripts/bench_ewm.py [--T 100000] [--N 1000] [--alpha 0.1] [--reps 5]
       [--stats mean,sum,var,std,cov,corr] [--dtypes float64,float32] [--layouts F,C]

For each dtype, layout and statistic the systems are interleaved in one loop (after a warm-up
call that also checks waxegg's result against numbagg's), best of ``--reps``; end to end (each
call allocates its output). Prints ``time / copy`` for both systems and ``time / numbagg``.
F is column-major (pandas 3's storage of ``pd.DataFrame(2-D array)``), C row-major. The data are
standard normal with 1% NaN (``y``: ``x`` plus noise).
"""

from __future__ import annotations

import argparse
import time

import numba
import numbagg
import numpy as np
import pandas as pd

from waxegg.wax._params import ewm_params
from waxegg.wax.backends import numba_backend, numba_ewm
from waxegg.wax.backends._threads import num_threads

STATS = ("mean", "sum", "var", "std", "cov", "corr")


def _ours(stat, x, y, p):
    if stat == "mean":
        return numba_backend.ewm_mean(x, p)[0]
    if stat in ("cov", "corr"):
        return getattr(numba_ewm, f"ewm_{stat}")(x, y, p)[0]
    return getattr(numba_ewm, f"ewm_{stat}")(x, p)[0]


def _numbagg(stat, x, y, alpha):
    if stat in ("cov", "corr"):
        return getattr(numbagg, f"move_exp_nan{stat}")(x, y, alpha=alpha, axis=0)
    return getattr(numbagg, f"move_exp_nan{stat}")(x, alpha=alpha, axis=0)


def _once(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=int, default=100_000)
    ap.add_argument("--N", type=int, default=1000)
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--stats", default=",".join(STATS))
    ap.add_argument("--dtypes", default="float64")
    ap.add_argument("--layouts", default="F,C")
    a = ap.parse_args()
    p = ewm_params(alpha=a.alpha)
    print(f"T={a.T} N={a.N} alpha={a.alpha} threads={num_threads()} numba {numba.__version__} "
          f"numbagg {numbagg.__version__} pandas {pd.__version__} numpy {np.__version__}; end to end, best of {a.reps}")
    print(f"{'dtype':8} {'lay':3} {'stat':5} {'copy s':>8} {'ours/copy':>9} {'nbg/copy':>9} {'ours/nbg':>9}")
    rng = np.random.default_rng(0)
    for dt in a.dtypes.split(","):
        base = rng.standard_normal((a.T, a.N)).astype(dt)
        base[rng.random((a.T, a.N)) < 0.01] = np.nan
        base2 = (rng.standard_normal((a.T, a.N)) + base).astype(dt)
        for lay in a.layouts.split(","):
            x = np.array(base, order=lay)
            y = np.array(base2, order=lay)
            for stat in a.stats.split(","):
                got = _ours(stat, x, y, p)  # warm-up and check
                ref = _numbagg(stat, x, y, a.alpha)
                tol = 1e-8 if dt == "float64" else 2e-3  # numbagg rounds differently (corr near +-1 at t=1)
                np.testing.assert_allclose(got, ref, rtol=tol, atol=tol, equal_nan=True)
                fns = {"copy": lambda: x.copy(order="K"), "ours": lambda: _ours(stat, x, y, p),
                       "nbg": lambda: _numbagg(stat, x, y, a.alpha)}
                best = {k: np.inf for k in fns}
                for _ in range(a.reps):
                    for k, f in fns.items():
                        best[k] = min(best[k], _once(f))
                c = best["copy"]
                print(f"{dt:8} {lay:3} {stat:5} {c:8.3f} {best['ours'] / c:9.2f} {best['nbg'] / c:9.2f} "
                      f"{best['ours'] / best['nbg']:9.2f}", flush=True)


if __name__ == "__main__":
    main()
