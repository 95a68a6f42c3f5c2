"""Stage 3 -- lower: rewrite into the forms Numba can compile, using egglog's ``array_api_numba`` rules.

Numba's ``np.mean``/``np.std`` take no ``axis`` and it has no ``np.unique(..., return_counts=True)``, so
``mean(x, axis)`` becomes ``sum(x, axis) / x.shape[axis]``, ``std`` becomes ``sqrt(mean(square(x - mean)))``,
and ``unique_counts``/``unique_inverse`` of a label array become per-value sums and masks (the rules
subsume the originals so extraction cannot pick them back).
"""

from __future__ import annotations

from typing import Any

from waxegg.egg.optimize import EGraphRun, run_and_extract

__all__ = ["lower"]


def lower(expr: Any) -> EGraphRun:
    """Run ``egglog.exp.array_api_numba.array_api_numba_schedule`` and extract the Numba-friendly expression.

    Parameters
    ----------
    expr
        An ``NDArray`` expression, normally the output of :func:`waxegg.egg.optimize.optimize`.

    Returns
    -------
    EGraphRun
    """
    from egglog.exp.array_api_numba import array_api_numba_schedule  # noqa: PLC0415

    return run_and_extract(expr, array_api_numba_schedule, stage="lower")
