"""Shared by the asv suites: parameters and seeded, cached data, all taken from :mod:`waxegg.bench`.

The workloads, stages and timing helpers live in ``waxegg.bench`` (the sweep runner uses the same
ones); this module only turns them into asv parameters. Sizes: small by default, big ones with
``WAXEGG_ASV_BIG=1`` (see :func:`waxegg.bench.grid.asv_wax_sizes`).
"""

from __future__ import annotations

import os

# scikit-learn's array API mode (the egglog suites) needs this before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

from waxegg.bench.egg_workloads import lda_data  # noqa: E402,F401  (re-exported: cached by (n, features, seed))
from waxegg.bench.grid import asv_egg_samples, asv_wax_sizes  # noqa: E402
from waxegg.bench.workloads import make_frame, wax_kernels, wax_runners  # noqa: E402,F401

#: asv parameter values: "T x N" labels (asv needs reprable scalars), dtypes, backends.
SIZES = [f"{T}x{N}" for T, N in asv_wax_sizes()]
DTYPES = ["float64", "float32"]
BACKENDS = list(wax_runners())
LDA_SAMPLES = asv_egg_samples()


def parse_size(label: str) -> tuple[int, int]:
    """``"100000x1000"`` -> ``(100000, 1000)``."""
    T, N = label.split("x")
    return int(T), int(N)


def wax_runner(kernel_name: str, size: str, dtype: str, backend: str, *, stages: bool = False):
    """The bench runner for one asv parameter set; ``NotImplementedError`` (asv: skipped) if it cannot run.

    With ``stages`` the backend must have separate encode / compute / format stages.
    """
    kernel = wax_kernels()[kernel_name]
    cls = wax_runners()[backend]
    if not cls.applies(kernel):
        raise NotImplementedError(f"{backend} has no {kernel_name}")
    reason = cls.unavailable(kernel)
    if reason:
        raise NotImplementedError(reason)
    if stages and "compute" not in cls.stages:
        raise NotImplementedError(f"{backend} has no separate stages")
    T, N = parse_size(size)
    return cls(kernel, make_frame(T, N, dtype))
