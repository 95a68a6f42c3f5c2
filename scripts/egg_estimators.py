"""Steady-state speed of the generated Numba programs of the estimator workloads against scikit-learn.

Usage: ``python scripts/egg_estimators.py [n_samples] [name ...]`` (default 1e6 rows x 10 features, float64, the
one-per-estimator set; KernelCenterer on a ``min(n_samples, 3000)``-square kernel as ``measure_estimator`` uses).
For each estimator, in one process, best of 5 after a warm-up, interleaved: ``copy`` (``X.copy(order="K")``),
``original`` (the scikit-learn call as traced), and the Numba program generated with waxegg's rewrites without
``fuse_passes`` / ``fuse_shared_svd`` (``before``) and with all of them (``after``). Both programs are checked
against scikit-learn on NumPy (the workload's rtol / atol) before timing.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from waxegg.egg import accelerate, workloads
from waxegg.egg.rewrites import ALL_REWRITES

KERNEL_ROWS = 3000
NEW = ("fuse_passes", "fuse_shared_svd")


def measure(name: str, n_samples: int, repeat: int = 5) -> dict[str, float]:
    w = workloads.estimator(name)
    arrays = w.make_data(min(n_samples, KERNEL_ROWS) if w.kernel else n_samples, n_features=10)
    reference = w.reference(*arrays)
    before = accelerate(w.fn, *arrays, rtol=w.rtol, atol=w.atol, rewrites=[r for r in ALL_REWRITES if r not in NEW])
    after = accelerate(w.fn, *arrays, rtol=w.rtol, atol=w.atol)
    calls = {"copy": lambda: arrays[0].copy(order="K"), "original": lambda: w.fn(*arrays),
             "before": lambda: before.numba(*arrays), "after": lambda: after.numba(*arrays)}
    for label in ("before", "after"):
        out = calls[label]()
        assert np.allclose(out, reference, rtol=w.rtol, atol=w.atol), (name, label)
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(repeat):
        for key, fn in calls.items():
            start = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - start)
    return {**best, "compile_after": after.times.compile, "source": after.source}


def main() -> None:
    args = sys.argv[1:]
    n_samples = int(float(args.pop(0))) if args else 1_000_000
    names = args or list(workloads.ONE_PER_ESTIMATOR)
    print(f"{'estimator':<55} {'orig/before':>11} {'orig/after':>10} {'after/copy':>10} {'orig/copy':>9}")
    for name in names:
        r = measure(name, n_samples)
        print(f"{name:<55} {r['original'] / r['before']:11.2f} {r['original'] / r['after']:10.2f} "
              f"{r['after'] / r['copy']:10.2f} {r['original'] / r['copy']:9.2f}", flush=True)


if __name__ == "__main__":
    main()
