"""WAX-ML's batch transforms: a transformed pair turned into a pair that runs on a whole sequence at once.

``init(key, xs)`` initialises on the first step; ``apply(params, state, key, xs)`` scans every step (or loops
in Python: :func:`transform_batch_with_state_static`) and returns ``(outputs, final_state)``. The inner params,
state and key travel in the outer *state* (:class:`BatchState`); the outer params are empty, as in WAX-ML.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import haiku as hk
import jax

from waxegg.wax.unroll import as_with_state, first_values, python_scan

__all__ = ["BatchParams", "BatchState", "TransformedBatch", "transform_batch_with_state",
           "transform_batch_with_state_static"]


class BatchState(NamedTuple):
    fun_params: Any
    fun_state: Any
    rng_key: Any


class BatchParams(NamedTuple):
    """Empty: the inner params are carried in :class:`BatchState`."""


class TransformedBatch(NamedTuple):
    init: Callable[..., tuple[BatchParams, BatchState]]
    apply: Callable[..., tuple[Any, BatchState]]


def _batch(fun: Any, skip_first: bool, run: Callable) -> TransformedBatch:
    t = as_with_state(fun)

    def step(state: BatchState, x: Any) -> tuple[BatchState, Any]:
        out, fun_state = t.apply(state.fun_params, state.fun_state, state.rng_key, x)
        return BatchState(state.fun_params, fun_state, state.rng_key), out

    def init(key: Any, xs: Any) -> tuple[BatchParams, BatchState]:
        params, state = t.init(key, first_values(xs))
        return BatchParams(), BatchState(params, state, key)

    def apply(params: BatchParams, state: BatchState, key: Any, xs: Any) -> tuple[Any, BatchState]:
        del params  # empty, as WAX-ML
        state = BatchState(state.fun_params, state.fun_state, key)  # the given key replaces the stored one
        if skip_first:
            xs = jax.tree_util.tree_map(lambda x: x[1:], xs)
        final, outputs = run(step, state, xs)
        return outputs, final

    return TransformedBatch(init, apply)


def transform_batch_with_state(fun: hk.TransformedWithState, skip_first: bool = False) -> TransformedBatch:
    """WAX-ML's ``transform_batch_with_state``: ``fun`` (a transformed pair) run over a sequence with ``jax.lax.scan``."""
    return _batch(fun, skip_first, lambda step, state, xs: jax.lax.scan(step, state, xs))


def transform_batch_with_state_static(fun: hk.TransformedWithState, skip_first: bool = False,
                                      pbar: bool = True) -> TransformedBatch:
    """:func:`transform_batch_with_state` with a Python loop over the steps (``pbar``: a tqdm bar)."""
    return _batch(fun, skip_first, lambda step, state, xs: python_scan(step, state, xs, pbar=pbar))
