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
