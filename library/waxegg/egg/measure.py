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
from time import perf_counter
from typing import Any

import numpy as np

from waxegg.egg.pipeline import accelerate, max_abs_error
from waxegg.egg.workloads import lda_fit_transform, make_lda_data

__all__ = ["best_of", "measure_lda"]


def best_of(calls: dict[str, Callable[[], Any]], *, repeat: int = 5) -> dict[str, float]:
    """Best wall time (seconds) of each zero-argument call over ``repeat`` rounds, after the caller's warm-up.

    The calls are interleaved round by round, so a burst of load from other users of a shared machine hits
    all of them rather than one.
    """
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            start = perf_counter()
            call()
            times[name].append(perf_counter() - start)
    return {name: min(ts) for name, ts in times.items()}


def measure_lda(n_samples: int = 1_000_000, n_classes: int = 2, *, repeat: int = 5) -> dict[str, Any]:
    """Accelerate the seed LDA on ``make_lda_data(n_samples, n_classes)`` and time all three versions.

    Returns
    -------
    dict
        Stage seconds (``trace_s`` ... ``compile_s``), e-graph sizes, errors, versions, and steady-state
        best-of-``repeat`` seconds ``original_s``, ``extracted_s``, ``numba_s``, ``copy_s`` plus ratios.
    """
    X, y = make_lda_data(n_samples, n_classes)
    acc = accelerate(lda_fit_transform, X, y)
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


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: print one JSON line per class count."""
    args = list(sys.argv[1:] if argv is None else argv)
    n_samples = int(float(args.pop(0))) if args else 1_000_000
    class_counts = [int(a) for a in args] or [2, 3]
    for n_classes in class_counts:
        print(json.dumps(measure_lda(n_samples, n_classes)), flush=True)


if __name__ == "__main__":
    main()
