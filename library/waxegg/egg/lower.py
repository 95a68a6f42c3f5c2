"""Stage 3 -- lower: rewrite into the forms Numba can compile, using egglog's ``array_api_numba`` rules.

Numba's ``np.mean``/``np.std`` take no ``axis`` and it has no ``np.unique(..., return_counts=True)``, so
``mean(x, axis)`` becomes ``sum(x, axis) / x.shape[axis]``, ``std`` becomes ``sqrt(mean(square(x - mean)))``,
and ``unique_counts``/``unique_inverse`` of a label array become per-value sums and masks (the rules
subsume the originals so extraction cannot pick them back).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from waxegg.egg import _extensions
from waxegg.egg.optimize import EGraphRun, run_and_extract
from waxegg.egg.rewrites import svd_rules

__all__ = ["lower"]


def lower(expr: Any, *, rewrites: Iterable[str] = ()) -> EGraphRun:
    """Run ``egglog.exp.array_api_numba.array_api_numba_schedule`` (with waxegg's rules, :mod:`waxegg.egg._extensions`) and extract the Numba-friendly expression.

    Parameters
    ----------
    expr
        An ``NDArray`` expression, normally the output of :func:`waxegg.egg.optimize.optimize`.
    rewrites
        waxegg rewrites to saturate together with egglog's (see :mod:`waxegg.egg.rewrites`); only
        ``"svd_without_u"`` acts at this stage, other names are ignored here.

    Returns
    -------
    EGraphRun
    """
    from egglog.exp.array_api import array_api_combined_ruleset  # noqa: PLC0415
    from egglog.exp.array_api_numba import array_api_numba_ruleset  # noqa: PLC0415

    rules = array_api_combined_ruleset | array_api_numba_ruleset | _extensions.ruleset() | _extensions.lowering_ruleset()
    if "svd_without_u" in rewrites:
        rules = rules | svd_rules()
    return run_and_extract(expr, rules.saturate(), stage="lower")
