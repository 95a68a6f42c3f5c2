"""Stage 2 -- optimize: saturate egglog's array-API rules on the traced expression and extract the cheapest.

This is the tutorial's "Optimizing our result": shapes, dtypes and label sets are resolved to constants,
``unique_counts`` of a label array becomes per-value sums, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from waxegg.egg import _compat
from waxegg.egg._fixes import array_api_fixes
from waxegg.egg.errors import NotTraceable

__all__ = ["EGraphRun", "optimize", "run_and_extract"]


@dataclass
class EGraphRun:
    """Output of :func:`optimize` (and of :func:`waxegg.egg.lower.lower`).

    Attributes
    ----------
    expr
        The extracted (cheapest, shared sub-terms counted once) expression.
    n_nodes, n_classes
        Size of the saturated e-graph: e-nodes and e-classes, primitive values included.
    iterations
        Rule-application iterations until saturation.
    seconds
        Wall time of saturation plus extraction (counting the e-graph size afterwards is not included).
    egraph
        The saturated ``egglog.EGraph`` (kept for :meth:`waxegg.egg.Accelerated.write_egraph_svg`).
    """

    expr: Any = field(repr=False)
    n_nodes: int
    n_classes: int
    iterations: int
    seconds: float
    egraph: Any = field(repr=False)


def run_and_extract(expr: Any, schedule: Any, *, stage: str = "optimize") -> EGraphRun:
    """Register ``expr`` in a fresh e-graph, run ``schedule`` (inside the array-API fixes) and extract.

    Raises
    ------
    NotTraceable
        When egglog panics or cannot extract (the message keeps egglog's text, without the huge expression).
    """
    from egglog import EGraph  # noqa: PLC0415
    from egglog.bindings import EggSmolError  # noqa: PLC0415

    start = perf_counter()
    with array_api_fixes():
        # A fresh e-graph, as in the tutorial: the trace e-graph holds every eager question sklearn asked.
        egraph = EGraph()
        egraph.register(expr)
        try:
            report = egraph.run(schedule)
            extracted = _compat.extract_dag(egraph, expr)
        except EggSmolError as exc:
            first_line = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            msg = f"egglog's array-API rules failed during the {stage} stage: {first_line}"
            raise NotTraceable(msg) from exc
    seconds = perf_counter() - start
    n_nodes, n_classes = _compat.egraph_size(egraph)
    return EGraphRun(extracted, n_nodes, n_classes, len(report.iterations), seconds, egraph)


def optimize(expr: Any) -> EGraphRun:
    """Run ``egglog.exp.array_api.array_api_schedule`` (plus waxegg's rules, :mod:`waxegg.egg._extensions`) to saturation and extract the cheapest expression.

    Parameters
    ----------
    expr
        An ``NDArray`` expression, e.g. ``Traced.expr``.

    Returns
    -------
    EGraphRun
    """
    from waxegg.egg._extensions import schedule  # noqa: PLC0415

    return run_and_extract(expr, schedule())
