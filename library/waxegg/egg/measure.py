"""Closing numbers for the seed tutorial: per-stage times and steady-state original / extracted / Numba times.

Run ``python -m waxegg.egg.measure [n_samples] [n_classes ...]`` (default 1_000_000 samples, 2 and 3 classes).
Follows BENCHMARKING.md: one process, results checked before timing, best-of-k after a warm-up call (the first
Numba call is the compile stage, reported apart), a plain ``X.copy()`` as the memory-bandwidth reference.
Outputs are fresh arrays each call (first-touch page faults included), as a user would see them.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from waxegg.egg.pipeline import accelerate, max_abs_error
from waxegg.egg.rewrites import ALL_REWRITES
from waxegg.egg.workloads import lda_fit_transform, make_lda_data

__all__ = ["ABLATION", "ablation_lda", "best_of", "cached_start", "measure_lda"]

# Rewrites that find nothing in the LDA's program once the ones before them ran (the other estimators' fusions:
# no full SVD; no pass over X left): an ablation row of their own would repeat the row above it.
NOT_IN_LDA = ("fuse_shared_svd", "fuse_passes")
# Rewrites for the cold compile only (the same loops run in the steady state): the ablation's steady-state row of
# their own would repeat the row above, so they join the last row (all rewrites).
COMPILE_ONLY = ("fuse_setitem",)
_LDA_STEPS = tuple(name for name in ALL_REWRITES if name not in NOT_IN_LDA + COMPILE_ONLY)

# Rewrite sets compared by :func:`ablation_lda`: egglog alone, then waxegg's rewrites added one at a time in
# ALL_REWRITES order (each row's gain over the row above is that rewrite's contribution), the last row being all.
ABLATION: dict[str, tuple[str, ...]] = {
    "egglog only": (),
    **{
        f"+{name}": ALL_REWRITES if k == len(_LDA_STEPS) - 1 else _LDA_STEPS[: k + 1]
        for k, name in enumerate(_LDA_STEPS)
    },
}


def best_of(calls: dict[str, Callable[[], Any]], *, repeat: int = 5) -> dict[str, float]:
    """Best wall time (seconds) of each zero-argument call over ``repeat`` interleaved rounds, after the
    caller's warm-up (:func:`waxegg.bench.timers.interleaved`)."""
    from waxegg.bench.timers import interleaved  # noqa: PLC0415 -- the bench layer loads JAX; only here

    return {name: min(ts) for name, ts in interleaved(calls, repeat=repeat).items()}


def measure_lda(
    n_samples: int = 1_000_000, n_classes: int = 2, *, repeat: int = 5, rewrites: str | Sequence[str] = "all"
) -> dict[str, Any]:
    """Accelerate the seed LDA on ``make_lda_data(n_samples, n_classes)`` and time all three versions.

    Returns
    -------
    dict
        Stage seconds (``trace_s`` ... ``compile_s``), e-graph sizes, errors, versions, and steady-state
        best-of-``repeat`` seconds ``original_s``, ``extracted_s``, ``numba_s``, ``copy_s`` plus ratios.
    """
    X, y = make_lda_data(n_samples, n_classes)
    acc = accelerate(lda_fit_transform, X, y, rewrites=rewrites)
    reference = lda_fit_transform(X, y)
    for label, fn in (("extracted", acc.extracted), ("numba", acc.numba)):
        out = fn(X, y)  # also the warm-up call
        err = max_abs_error(out, reference)
        if not np.allclose(out, reference):
            msg = f"{label} disagrees with the original (max abs error {err})"
            raise AssertionError(msg)
    steady = best_of(
        {
            "copy_s": X.copy,
            "original_s": lambda: lda_fit_transform(X, y),
            "extracted_s": lambda: acc.extracted(X, y),
            "numba_s": lambda: acc.numba(X, y),
        },
        repeat=repeat,
    )
    import numba  # noqa: PLC0415

    return {
        "n_samples": n_samples,
        "n_features": X.shape[1],
        "n_classes": n_classes,
        "dtype": str(X.dtype),
        "repeat": repeat,
        **acc.summary(),
        **steady,
        "original_over_numba": steady["original_s"] / steady["numba_s"],
        "original_over_extracted": steady["original_s"] / steady["extracted_s"],
        "numba_over_copy": steady["numba_s"] / steady["copy_s"],
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def ablation_lda(
    n_samples: int, n_classes: int, *, repeat: int = 3, variants: dict[str, tuple[str, ...]] | None = None
) -> list[dict[str, Any]]:
    """Time the original and, per rewrite set, the extracted and Numba programs -- all interleaved in one loop.

    Returns one row per variant: ``variant``, ``compile_s`` (first Numba call), ``extracted_s``, ``numba_s``,
    ``original_s`` (the same for every row: one measurement), ``max_abs_error`` and the speed-ups
    ``original / extracted`` and ``original / numba``.
    """
    variants = ABLATION if variants is None else variants
    X, y = make_lda_data(n_samples, n_classes)
    reference = lda_fit_transform(X, y)
    accs = {name: accelerate(lda_fit_transform, X, y, rewrites=rw or "none") for name, rw in variants.items()}
    calls: dict[str, Callable[[], Any]] = {"original": lambda: lda_fit_transform(X, y)}
    for name, acc in accs.items():
        for label, fn in (("extracted", acc.extracted), ("numba", acc.numba)):
            out = fn(X, y)  # check before timing; also the warm-up
            if not np.allclose(out, reference):
                msg = f"{name} {label} disagrees with the original (max abs error {max_abs_error(out, reference)})"
                raise AssertionError(msg)
            calls[f"{name}|{label}"] = (lambda f: lambda: f(X, y))(fn)
    steady = best_of(calls, repeat=repeat)
    rows = []
    for name, acc in accs.items():
        ext, nb = steady[f"{name}|extracted"], steady[f"{name}|numba"]
        rows.append(
            {
                "n_samples": n_samples,
                "n_classes": n_classes,
                "variant": name,
                "rewrites": ",".join(acc.rewrites) or "none",
                "compile_s": acc.times.compile,
                "numba_cache_hit": acc.numba_cache_hit,
                "original_s": steady["original"],
                "extracted_s": ext,
                "numba_s": nb,
                "original_over_extracted": steady["original"] / ext,
                "original_over_numba": steady["original"] / nb,
                "max_abs_error": acc.max_abs_error,
            }
        )
    return rows


_CACHED_START = """
import json, time
t0 = time.perf_counter()
import waxegg.egg as we
from waxegg.egg.workloads import lda_fit_transform, make_lda_data
X, y = make_lda_data({n}, {k})
t1 = time.perf_counter()
acc = we.accelerate(lda_fit_transform, X, y, reuse=True, verify=False)
t2 = time.perf_counter()
print(json.dumps({{"import_and_data_s": t1 - t0, "first_result_s": t2 - t1, "reused": acc.reused,
                  "numba_cache_hit": acc.numba_cache_hit, "compile_s": acc.times.compile}}))
"""


def cached_start(n_samples: int, n_classes: int, *, cache_dir: str | None = None) -> list[dict[str, Any]]:
    """Run ``accelerate(..., reuse=True)`` in two fresh processes sharing a cache directory.

    The first process generates and compiles (cold); the second finds the program and Numba's machine code on
    disk. ``first_result_s`` is the wall time of the ``accelerate`` call (to the first Numba result), after
    imports and data generation.
    """
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    library = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=library + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryDirectory() as tmp:
        env["WAXEGG_CACHE_DIR"] = cache_dir or tmp
        code = _CACHED_START.format(n=n_samples, k=n_classes)
        runs = []
        for label in ("cold", "cached"):
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
            runs.append({"run": label, **json.loads(out.stdout.strip().splitlines()[-1])})
    return runs


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: print one JSON line per class count."""
    args = list(sys.argv[1:] if argv is None else argv)
    n_samples = int(float(args.pop(0))) if args else 1_000_000
    class_counts = [int(a) for a in args] or [2, 3]
    for n_classes in class_counts:
        print(json.dumps(measure_lda(n_samples, n_classes)), flush=True)


if __name__ == "__main__":
    main()
