"""A Haiku step function run over time chunks: starting, checking and scanning its state.

What the single-machine loop (:mod:`.loop`) and the dask chain (:mod:`.graph`) share for a Haiku
transform: the ``(params, state)`` the first chunk starts from, the check of a given ``params`` /
``state`` against the module, and the scan of one chunk continuing the step count.

The rest of the package takes the unroll / stream helpers it needs from here (public names of
:mod:`waxegg.wax.unroll` and :mod:`waxegg.wax.stream`).
"""

from __future__ import annotations

from typing import Any

import haiku as hk
import jax
import numpy as np

from waxegg.wax._x64 import x64_context
from waxegg.wax.stream import time_dims
from waxegg.wax.unroll import as_with_state, first_values
from waxegg.wax.unroll import scan_steps as scan
from waxegg.wax.unroll import transform_stream_fn as transform

__all__ = ["as_with_state", "check_like", "first_values", "scan", "start", "time_dims", "transform"]


def _describe(tree: Any) -> dict[str, tuple[tuple[int, ...], str]]:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(p): (tuple(np.shape(v)), str(np.dtype(getattr(v, "dtype", np.asarray(v).dtype))))
            for p, v in flat}


def check_like(what: str, given: Any, expected: Any) -> None:
    """Raise ``ValueError`` if ``given`` (params or state) does not match ``expected``'s structure,
    shapes and dtypes, naming the first entry that differs."""
    got, want = _describe(given), _describe(expected)
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    if missing or extra:
        raise ValueError(f"{what} does not belong to this module: missing entries {missing[:4]}, unexpected entries "
                         f"{extra[:4]} (was it returned by a different function or module?)")
    for key, (shape, dtype) in want.items():
        if got[key] != (shape, dtype):
            raise ValueError(f"{what}{key} has shape {got[key][0]} and dtype {got[key][1]}, but this input needs "
                             f"shape {shape} and dtype {dtype} (a state from data of another shape or dtype?)")


def start(t: hk.TransformedWithState, first_chunk: Any, rng: Any, params: Any, state: Any) -> tuple[Any, Any]:
    """``(params, state)`` for the first chunk: ``init``'s, or the given ones once checked against it."""
    with x64_context():
        x0 = first_values(first_chunk)
        if params is None or state is None:
            p0, s0 = t.init(rng, x0)
        else:
            p0, s0 = jax.eval_shape(t.init, rng, x0)
        if params is not None:
            check_like("params", params, p0)
        if state is not None:
            check_like("state", state, s0)
        return (p0 if params is None else params), (s0 if state is None else state)
