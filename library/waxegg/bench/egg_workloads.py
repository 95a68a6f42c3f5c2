"""egglog workloads shared by the sweep runner and asv: the seed tutorial's LDA through :mod:`waxegg.egg`."""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

LDA = "lda"


@functools.lru_cache(maxsize=2)
def lda_data(n_samples: int, n_features: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The seed's ``make_classification`` data (cached per key; callers must not modify it)."""
    from waxegg.egg.workloads import make_lda_data

    return make_lda_data(int(n_samples), n_features=int(n_features), random_state=seed)


def accelerate_lda(n_samples: int, n_features: int = 20, *, cache: bool = False) -> Any:
    """:func:`waxegg.egg.accelerate` of the seed's ``run_lda`` on :func:`lda_data` (verified).

    ``cache=False`` (default) makes the ``compile`` stage a real Numba compilation rather than a load
    from the disk cache; the generated module itself is still written under the egg cache folder.
    """
    from waxegg.egg import accelerate
    from waxegg.egg.workloads import lda_fit_transform

    X, y = lda_data(n_samples, n_features)
    return accelerate(lda_fit_transform, X, y, names=("X", "y"), cache=cache)


@functools.lru_cache(maxsize=2)
def accelerated_lda(n_samples: int, n_features: int = 20) -> Any:
    """:func:`accelerate_lda` with Numba's disk cache, memoised per process (for steady-state timing)."""
    return accelerate_lda(n_samples, n_features, cache=True)


def lda_functions(accelerated: Any) -> dict[str, Callable[..., Any]]:
    """``{"original", "extracted", "numba"}``: the three functions the seed tutorial compares."""
    return {"original": accelerated.original, "extracted": accelerated.extracted, "numba": accelerated.numba}


def lda_functions_from_source(source: str, name: str, n_samples: int, n_features: int = 20) -> dict[str, Callable]:
    """:func:`lda_functions` rebuilt from a generated module's source (no tracing or optimising).

    For asv, whose ``setup_cache`` can hand only picklable values (the source) to the benchmark
    processes; the Numba function loads from the disk cache that ``accelerate(cache=True)`` filled.
    """
    from waxegg.egg.codegen import load_source
    from waxegg.egg.compile import compile_numba
    from waxegg.egg.workloads import lda_fit_transform

    extracted, _ = load_source(source, name)
    X, y = lda_data(n_samples, n_features)
    return {"original": lda_fit_transform, "extracted": extracted,
            "numba": compile_numba(extracted, X, y, cache=True).fn}


def egg_available() -> str | None:
    """Why the egglog workload cannot run here, or None."""
    try:
        import waxegg.egg  # noqa: F401
        from waxegg.egg import accelerate  # noqa: F401
    except Exception as exc:  # the egg layer is optional for the WAX sweep
        return f"waxegg.egg unavailable: {type(exc).__name__}: {exc}"
    return None


# -- scikit-learn estimators beyond LDA (waxegg.egg.workloads.ESTIMATORS) ------------------------------------------

# A kernel matrix has n x n entries: KernelCenterer is measured at this many rows instead of the sweep's n_samples.
KERNEL_ROWS = 3000


def estimator_names() -> list[str]:
    """Every estimator workload, those that trace and those that raise ``NotTraceable``."""
    from waxegg.egg import workloads

    return [w.name for w in (*workloads.ESTIMATORS, *workloads.NOT_TRACEABLE)]


def swept_estimator_names(spec: bool | tuple[str, ...]) -> list[str]:
    """The estimator workloads an ``EggGrid.estimator_sweep`` names: ``True`` is one configuration per estimator
    class (``ONE_PER_ESTIMATOR``) and every estimator that does not trace; ``False`` none."""
    from waxegg.egg import workloads

    if spec is True:
        return [*workloads.ONE_PER_ESTIMATOR, *(w.name for w in workloads.NOT_TRACEABLE)]
    return list(spec or ())


def estimator_rows(workload: Any, n_samples: int) -> int:
    """Rows the estimator is run on for a sweep size ``n_samples`` (a kernel is ``KERNEL_ROWS`` square at most)."""
    return min(int(n_samples), KERNEL_ROWS) if workload.kernel else int(n_samples)


@functools.lru_cache(maxsize=4)
def estimator_data(name: str, n_samples: int, n_features: int = 10, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Seeded inputs of the estimator workload ``name`` (cached per key; callers must not modify them)."""
    from waxegg.egg import workloads

    w = workloads.estimator(name)
    return w.make_data(estimator_rows(w, n_samples), n_features=n_features, random_state=seed)


def accelerate_estimator(name: str, n_samples: int, n_features: int = 10, *, cache: bool = False) -> Any:
    """:func:`waxegg.egg.accelerate` of the estimator workload ``name`` (verified with the workload's tolerances)."""
    from waxegg.egg import accelerate, workloads

    w = workloads.estimator(name)
    arrays = estimator_data(name, n_samples, n_features)
    return accelerate(w.fn, *arrays, rtol=w.rtol, atol=w.atol, cache=cache)


def measure_estimator(name: str, n_samples: int, n_features: int = 10, *, repeat: int = 3) -> dict[str, Any]:
    """One coverage-table row: does ``name`` trace, verify, and how fast is it against scikit-learn.

    Times are best of ``repeat`` after a warm-up call, the systems interleaved in one loop: ``original`` (the
    scikit-learn call under array API dispatch, as traced), ``extracted`` (generated NumPy), ``numba``, and
    ``copy`` (``X.copy()``, the memory-bandwidth floor of one pass). ``max_abs_error`` is the numba program's
    against scikit-learn on NumPy without dispatch (the independent reference).
    """
    import time

    from waxegg.egg import NotTraceable, VerificationError, workloads

    w = workloads.estimator(name)
    arrays = estimator_data(name, n_samples, n_features)
    row: dict[str, Any] = {
        "estimator": name, "n_samples": arrays[0].shape[0], "n_features": arrays[0].shape[1],
        "dtype": str(arrays[0].dtype), "traces": False, "verified": False, "error": "",
    }
    try:
        acc = accelerate_estimator(name, n_samples, n_features, cache=False)
    except NotTraceable as exc:
        row["error"] = f"NotTraceable: {exc}"
        row["missing"] = exc.missing or ""
        return row
    except VerificationError as exc:
        row.update(traces=True, error=f"VerificationError: {exc}")
        return row
    row.update(traces=True, verified=True, **{f"{k}_s": v for k, v in acc.times.as_dict().items()},
               egraph_nodes=acc.egraph_nodes, egraph_classes=acc.egraph_classes)
    row["max_abs_error"] = float(np.max(np.abs(np.asarray(acc.numba(*arrays)) - w.reference(*arrays))))
    functions = {"original": acc.original, "extracted": acc.extracted, "numba": acc.numba,
                 "copy": lambda *a: a[0].copy(order="K")}
    best = dict.fromkeys(functions, float("inf"))
    for fn in functions.values():
        fn(*arrays)  # warm-up
    for _ in range(repeat):
        for key, fn in functions.items():
            start = time.perf_counter()
            fn(*arrays)
            best[key] = min(best[key], time.perf_counter() - start)
    row.update({f"{k}_best_s": v for k, v in best.items()})
    row["speedup_numba_vs_original"] = best["original"] / best["numba"]
    return row


def estimator_functions(accelerated: Any) -> dict[str, Callable[..., Any]]:
    """``original`` / ``extracted`` / ``numba`` of an estimator's :class:`waxegg.egg.Accelerated`, and ``copy``: a
    plain copy of X, the memory-bandwidth floor of one pass over it."""
    return {**lda_functions(accelerated), "copy": lambda *a: a[0].copy(order="K")}


def coverage_row_from_sweep(table: Any, info: dict[str, Any], name: str, n_samples: int) -> dict[str, Any] | None:
    """:func:`measure_estimator`'s row for ``name``, read from a sweep that swept it at ``n_samples``.

    ``table`` is the sweep's table, ``info`` its ``env["egg_estimators"][name]`` (the pipeline's summary per
    n_samples, or the error that stopped it). None when the sweep did not reach that size.
    """
    from waxegg.egg import workloads

    w = workloads.estimator(name)
    rows = estimator_rows(w, n_samples)
    entry = info.get(str(rows))
    if entry is None:
        return None
    d = table[(table["workload"] == name) & (table["T"] == rows)]
    row: dict[str, Any] = {"estimator": name, "n_samples": rows, "n_features": int(entry.get("n_features", 10)),
                           "dtype": "float64", "traces": bool(entry.get("traces")),
                           "verified": bool(entry.get("verified")), "error": entry.get("error", ""),
                           "missing": entry.get("missing", "")}
    if not row["verified"]:
        return row
    ok = d[d["status"] == "ok"]
    stages = ok[ok["backend"] == "egglog"].groupby("stage")["seconds"].min()
    row.update({f"{stage}_s": float(seconds) for stage, seconds in stages.items() if stage != "end_to_end"})
    row.update(egraph_nodes=entry.get("egraph_nodes"), egraph_classes=entry.get("egraph_classes"))
    run = ok[ok["stage"] == "run"]
    best = run.groupby("backend")["seconds"].min()
    row.update({f"{k}_best_s": float(v) for k, v in best.items()})
    numba_err = run[run["backend"] == "numba"]["max_abs_err"]
    row["max_abs_error"] = float(numba_err.max()) if len(numba_err) else float("nan")
    row["speedup_numba_vs_original"] = row.get("original_best_s", float("nan")) / row.get("numba_best_s", float("nan"))
    return row


def measure_estimators(n_samples: int, names: list[str] | None = None, *, repeat: int = 3) -> dict[str, Any]:
    """The report's estimator coverage (``env["egg_extras"]`` keys ``estimators`` / ``estimators_error``).

    One :func:`measure_estimator` row per name (default: :func:`estimator_names`); an exception other than the
    expected ``NotTraceable`` / ``VerificationError`` becomes that row's ``error`` rather than ending the run.
    """
    rows = []
    for name in names or estimator_names():
        try:
            rows.append(measure_estimator(name, n_samples, repeat=repeat))
        except Exception as exc:  # noqa: BLE001 -- one estimator's failure is a table cell, not the end of the sweep
            rows.append({"estimator": name, "n_samples": n_samples, "n_features": 10, "traces": False,
                         "verified": False, "error": f"{type(exc).__name__}: {exc}"})
    return {"estimators": rows}


def estimator_functions_from_source(source: str, name: str, estimator: str, n_samples: int) -> dict[str, Callable]:
    """``{"original", "extracted", "numba"}`` of an estimator workload rebuilt from its generated source (for asv)."""
    from waxegg.egg import workloads
    from waxegg.egg.codegen import load_source
    from waxegg.egg.compile import compile_numba

    extracted, _ = load_source(source, name)
    arrays = estimator_data(estimator, n_samples)
    return {"original": workloads.estimator(estimator).fn, "extracted": extracted,
            "numba": compile_numba(extracted, *arrays, cache=True).fn}
