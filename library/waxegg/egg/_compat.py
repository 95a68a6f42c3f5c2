"""Everything that differs between the egglog releases we support, in one place.

A fresh ``pip install`` resolves egglog 13.2 on Python 3.11 and egglog 14 on Python >= 3.12 (14 dropped
3.11). Their ``egglog.exp.array_api`` modules are almost identical; the differences we touch are:

=====================  ==============================================  ==========================================
what                   egglog 13.2                                     egglog 14
=====================  ==============================================  ==========================================
greedy DAG extraction  ``extract(x, cost_model=greedy_dag_cost_model())``  ``extract(x, extractor="greedy-dag")``
``NDArray.device``     a symbolic ``x.device`` expression per array    a preserved Python property: ``Device.cpu``
=====================  ==============================================  ==========================================

The e-graph serialisation used for sizes and the SVG (``EGraph._serialize``) and the ruleset storage used by
:mod:`waxegg.egg._fixes` (``Ruleset.__egg_ruleset__.rules``) are private but identical in both; they are
only reached through the helpers below so a future rename is a one-line change here.
"""

from __future__ import annotations

import contextlib
import json
import threading
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import egglog

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from egglog import EGraph

EGGLOG_VERSION: str = version("egglog")
EGGLOG_MAJOR: int = int(EGGLOG_VERSION.split(".")[0])

# Feature tests rather than version compares, so a 13.x backport or 14.x removal is still handled.
_HAS_GREEDY_DAG_COST_MODEL = hasattr(egglog, "greedy_dag_cost_model")


def extract_dag(egraph: EGraph, expr: Any) -> Any:
    """Extract the cheapest expression for ``expr`` counting shared sub-terms once (greedy DAG cost).

    Tree cost would count a sub-expression once per use; the LDA trace shares ``X - mean`` and friends many
    times, so tree extraction may prefer duplicating work. egglog's own ``array_api_jit`` uses greedy DAG.
    """
    if _HAS_GREEDY_DAG_COST_MODEL:  # egglog 13.x
        return egraph.extract(expr, cost_model=egglog.greedy_dag_cost_model())
    return egraph.extract(expr, extractor="greedy-dag")  # egglog >= 14


def serialize(egraph: EGraph, **kwargs: Any) -> Any:
    """Serialise the e-graph (``bindings.SerializedEGraph``); kwargs as egglog's ``GraphvizKwargs``."""
    return egraph._serialize(**kwargs)  # noqa: SLF001 -- private in 13.2 and 14; the only way to get DOT text


def egraph_size(egraph: EGraph) -> tuple[int, int]:
    """Return ``(n_nodes, n_classes)`` of the e-graph, primitives (ints, strings) included as leaves."""
    # split_primitive_outputs=False keeps one e-class per primitive value, so the counts match the e-graph
    # itself rather than the (larger) drawing.
    data = json.loads(serialize(egraph, split_primitive_outputs=False).to_json())
    nodes = data["nodes"]
    return len(nodes), len({node["eclass"] for node in nodes.values()})


def ndarray_class_decl() -> Any:
    """The ``ClassDecl`` egglog keeps for ``NDArray`` (shared by every expression of that type)."""
    from egglog.exp.array_api import NDArray  # noqa: PLC0415 -- keep this module importable without array_api

    return NDArray.__egg_decls__.get_class_decl(NDArray.__egg_tp__.ident)  # type: ignore[attr-defined]


def ruleset_rules(ruleset: Any) -> list[Any]:
    """The mutable list of rule declarations of an egglog ``Ruleset`` (after running deferred generators)."""
    ruleset.__egg_decls__  # noqa: B018 -- materialises the rules registered with @ruleset.register
    return ruleset.__egg_ruleset__.rules


_RULES_LOCK = threading.RLock()


@contextlib.contextmanager
def swapped_rules(ruleset: Any, old: Any, new: Sequence[Any], *, what: str) -> Iterator[None]:
    """Within the block, ``ruleset`` has the rule declarations ``new`` instead of ``old`` (restored on exit).

    Only e-graphs created inside the block see the change (an e-graph registers a ruleset's rules the first time it
    runs it). Holds a lock: rulesets are process-wide. Raises ``RuntimeError`` naming ``what`` when ``ruleset`` has
    no rule equal to ``old`` (an egglog release that changed it).
    """
    with _RULES_LOCK:
        rules = ruleset_rules(ruleset)
        positions = [k for k, r in enumerate(rules) if r == old]
        if not positions:
            msg = f"egglog's {what} rule is not where waxegg expects it; cannot replace it"
            raise RuntimeError(msg)
        for k in reversed(positions):
            del rules[k]
        start = len(rules)
        rules.extend(new)
        try:
            yield
        finally:
            del rules[start : start + len(new)]
            for k in positions:
                rules.insert(k, old)


def numba_geqrf(dtype: Any) -> tuple[Any, int]:
    """Numba's LAPACK ``xgeqrf`` binding for ``dtype`` and its kind code, for use inside an ``@overload``.

    Private in Numba (``numba.np.linalg``) but the binding its ``np.linalg.qr`` has used since 0.2x; reached only
    here. Calling it keeps the caller cacheable, unlike a ctypes pointer to SciPy's ``cython_lapack``.
    """
    from numba.np import linalg  # noqa: PLC0415

    linalg.ensure_lapack()
    return linalg._LAPACK().numba_ez_geqrf(dtype), ord(linalg.get_blas_kind(dtype, "qr"))  # noqa: SLF001
