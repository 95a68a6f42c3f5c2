"""Step (2b): run a stateful Haiku function over the steps of a stream.

:func:`dynamic_unroll` compiles the whole loop with ``jax.lax.scan`` (one XLA program, compiled
once per function, shape and dtype, that takes the arrays the function closes over as arguments:
see :mod:`waxegg.wax.compile`); :func:`static_unroll` is the plain Python loop, the
reference it must agree with.
"""

from __future__ import annotations

import weakref
from functools import partial
from typing import Any, Callable

import haiku as hk
import jax
import numpy as np

from waxegg.wax._x64 import x64_context
from waxegg.wax.compile import StepJaxpr, trace_hoisted, unjitted


def as_with_state(transformed: Any) -> hk.TransformedWithState:
    """``transformed`` as a ``hk.TransformedWithState`` (a stateless ``hk.Transformed`` gets an empty state)."""
    if isinstance(transformed, hk.TransformedWithState):
        return transformed
    if isinstance(transformed, hk.Transformed):
        return hk.with_empty_state(transformed)
    raise TypeError(f"expected a Haiku transformed function (hk.transform_with_state), got {type(transformed).__name__}")


def first_values(xs: Any) -> Any:
    """The first step of every leaf of ``xs`` (what ``init`` sees), with clear errors for empty or ragged ``xs``."""
    leaves = jax.tree_util.tree_leaves(xs)
    if not leaves:
        raise ValueError("xs is empty: nothing to unroll over")
    lengths = {np.shape(x)[0] if np.ndim(x) else None for x in leaves}
    if None in lengths or len(lengths) != 1:
        raise ValueError(f"every leaf of xs needs the same leading (time) length, got {sorted(map(str, lengths))}")
    if lengths == {0}:
        raise ValueError("xs has zero steps: nothing to unroll over")
    return jax.tree_util.tree_map(lambda x: x[0], xs)


# Haiku transforms of user functions, reused across calls so that the compiled scan is reused too.
_TRANSFORMS: "weakref.WeakKeyDictionary[Callable, hk.TransformedWithState]" = weakref.WeakKeyDictionary()


def transform_stream_fn(fn: Callable, statics: dict | None = None) -> hk.TransformedWithState:
    """``hk.transform_with_state(fn)``, made once per ``fn`` (so repeated applies reuse its compiled scan).

    ``statics``: ``{name: value}`` merged into every step's input dict (a Dataset stream's variables
    without the time dimension); such a transform is made anew each call.
    """
    if statics:
        return hk.transform_with_state(lambda x: fn({**x, **statics}))
    try:
        return _TRANSFORMS[fn]
    except (KeyError, TypeError):
        pass
    t = hk.transform_with_state(fn)
    try:
        _TRANSFORMS[fn] = t
    except TypeError:
        pass
    return t


def _step_rng(rng: Any, step: Any) -> Any:
    return None if rng is None else jax.random.fold_in(rng, step)


@partial(jax.jit, static_argnums=0)
def _scan_step(step: StepJaxpr, consts: tuple, params: Any, state: Any, rng: Any, xs: Any,
               first_step: Any) -> tuple[Any, Any]:
    # ``first_step`` is traced (no recompilation per value): a run split into time chunks
    # (waxegg.wax.chunked) continues the step count, so every step folds the same key into rng.
    def body(carry, x):
        state, i = carry
        out, state = step(consts, params, state, _step_rng(rng, i), x)
        return (state, i + 1), out

    (state, _), outputs = jax.lax.scan(body, (state, first_step), xs)
    return outputs, state


def _traced_step(apply: Any, params: Any, state: Any, rng: Any, xs: Any) -> tuple[StepJaxpr, tuple]:
    # One step of ``apply`` as a jaxpr, with the arrays it closes over lifted out as arguments
    # (waxegg.wax.compile): the scan's program, and its compile time, then do not grow with them.
    # ``rng`` stands for the per-step key: fold_in keeps its shape and dtype.
    x = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a)[1:], jax.numpy.result_type(a)), xs)
    return trace_hoisted(unjitted(apply), params, state, rng, x)


def scan_steps(apply: Any, params: Any, state: Any, rng: Any, xs: Any, first_step: Any = 0) -> tuple[Any, Any]:
    """``lax.scan`` of ``apply`` over the leading axis of ``xs``, compiled once per function, shape and dtype.

    Call inside :func:`~waxegg.wax._x64.x64_context`.
    """
    step, consts = _traced_step(apply, params, state, rng, xs)
    return _scan_step(step, consts, params, state, rng, xs, first_step)


scan_steps._cache_size = _scan_step._cache_size  # type: ignore[attr-defined]


def lower_unroll(transformed: Any, xs: Any, rng: Any = None, *, params: Any = None, state: Any = None) -> Any:
    """The XLA program :func:`dynamic_unroll` runs on these arguments, lowered (``jax.stages.Lowered``).

    For inspection: ``.as_text()`` shows it, ``.compile()`` compiles it. The arrays the transform
    closes over are parameters of that program, not constants in it.
    """
    t = as_with_state(transformed)
    params, state = init_params_state(t, xs, rng, params=params, state=state)
    with x64_context():
        step, consts = _traced_step(t.apply, params, state, rng, xs)
        return _scan_step.lower(step, consts, params, state, rng, xs, 0)


def init_params_state(transformed: Any, xs: Any, rng: Any = None, *, params: Any = None,
                      state: Any = None) -> tuple[Any, Any]:
    """``(params, state)`` to start ``transformed`` on ``xs`` from.

    Given ones are kept; missing ones come from ``transformed.init`` on the first step of ``xs``.
    """
    if params is not None and state is not None:
        return params, state
    t = as_with_state(transformed)
    with x64_context():
        p0, s0 = t.init(rng, first_values(xs))
    return (p0 if params is None else params), (s0 if state is None else state)


def dynamic_unroll(
    transformed: Any,
    xs: Any,
    rng: Any = None,
    *,
    params: Any = None,
    state: Any = None,
) -> tuple[Any, Any]:
    """Apply ``transformed`` to every step of ``xs`` inside one compiled ``lax.scan``.

    Parameters
    ----------
    transformed : hk.TransformedWithState
        A Haiku transform (typically decorated with :func:`~waxegg.wax.compile.jit_init_apply`).
    xs : pytree of arrays
        Steps to feed, with time on the leading axis of every leaf (e.g. ``np.arange(T)``).
    rng : jax PRNG key, optional
        Folded in with the step number, so every step gets its own key.
    params, state : optional
        Start from these instead of ``transformed.init`` (e.g. the ``state`` a previous call returned).

    Returns
    -------
    outputs, state
        Outputs stacked along a new leading time axis, and the state after the last step.
    """
    t = as_with_state(transformed)
    params, state = init_params_state(t, xs, rng, params=params, state=state)
    with x64_context():
        return scan_steps(t.apply, params, state, rng, xs)


def static_unroll(
    transformed: Any,
    xs: Any,
    rng: Any = None,
    *,
    params: Any = None,
    state: Any = None,
) -> tuple[Any, Any]:
    """Same contract as :func:`dynamic_unroll`, with a Python loop over the steps (reference)."""
    t = as_with_state(transformed)
    params, state = init_params_state(t, xs, rng, params=params, state=state)
    with x64_context():
        n = jax.tree_util.tree_leaves(xs)[0].shape[0]
        outputs = []
        for step in range(n):
            x = jax.tree_util.tree_map(lambda a: a[step], xs)
            out, state = t.apply(params, state, _step_rng(rng, step), x)
            outputs.append(out)
        stacked = jax.tree_util.tree_map(lambda *o: jax.numpy.stack(o), *outputs)
        return stacked, state
