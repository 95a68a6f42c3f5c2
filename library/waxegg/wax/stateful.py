"""WAX-ML's lifts: a stateful Haiku function run over a time axis or a batch axis *inside* another Haiku function.

:func:`unroll_lift_with_state` scans the inner function over the leading (time) axis of its inputs;
:func:`vmap_lift_with_state` maps it over the leading (batch) axis, each member with its own params and state.
The inner function's params and state live in the outer function's state (``hk.experimental.lift_with_state``),
under ``unroll_lift`` / ``vmap_lift``, as in WAX-ML.
"""

from __future__ import annotations

from typing import Any, Callable

import haiku as hk
import jax

__all__ = ["unroll_lift_with_state", "vmap_lift_with_state"]


def _check_rng_options(split_rng: bool, init_rng: bool) -> None:
    if split_rng and not init_rng:
        raise ValueError("split_rng=True requires init_rng=True")


def unroll_lift_with_state(fn: Callable, skip_first: bool = False, split_rng: bool = False,
                           init_rng: bool = True) -> Callable:
    """``fn`` (using Haiku modules) unrolled with ``hk.scan`` over the leading axis of its arguments, as a function
    callable inside an outer ``hk.transform_with_state``; returns the stacked outputs.

    ``skip_first``: the first step only initialises; ``split_rng``: each step draws a key from the outer function;
    ``init_rng``: the inner ``init`` gets a key (``False``: ``None``).
    """
    _check_rng_options(split_rng, init_rng)

    def apply_fn(*args: Any, **kwargs: Any) -> Any:
        inner = hk.transform_with_state(fn)
        init, updater = hk.experimental.lift_with_state(inner.init, name="unroll_lift")
        xs = (args, kwargs)
        args0, kwargs0 = jax.tree_util.tree_map(lambda x: x[0], xs)
        rng = hk.next_rng_key() if (init_rng and hk.running_init()) else None
        params, state = init(rng, *args0, **kwargs0)
        if skip_first:
            xs = jax.tree_util.tree_map(lambda x: x[1:], xs)

        def step(state: Any, inputs: tuple) -> tuple[Any, Any]:
            step_args, step_kwargs = inputs
            key = hk.maybe_next_rng_key() if split_rng else None
            out, state = inner.apply(params, state, key, *step_args, **step_kwargs)
            return state, out

        final_state, outputs = hk.scan(step, state, xs)
        updater.update(final_state)
        return outputs

    return apply_fn


def vmap_lift_with_state(fun: Callable, split_rng: bool = False, init_rng: bool = True) -> Callable:
    """``fun`` (using Haiku modules) mapped with ``jax.vmap`` over the leading axis of its arguments, each member
    with its own params and state, callable inside an outer ``hk.transform_with_state``.

    ``split_rng``: one key per member at init and at every apply (from the outer function's key);
    otherwise all members initialise from one key (``init_rng``) and apply without a key.
    """
    _check_rng_options(split_rng, init_rng)

    def shared_key_init(inner: hk.TransformedWithState) -> Callable:
        def init(key: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            return jax.vmap(lambda *a, **k: inner.init(key, *a, **k))(*args, **kwargs)

        return init

    def apply_fn(*args: Any, **kwargs: Any) -> Any:
        inner = hk.transform_with_state(fun)
        if split_rng:
            init, updater = hk.experimental.lift_with_state(jax.vmap(inner.init), name="vmap_lift")
            n = len(jax.tree_util.tree_leaves((args, kwargs))[0])
            init_keys = jax.random.split(hk.next_rng_key(), n) if hk.running_init() else None
            params, state = init(init_keys, *args, **kwargs)
            keys = jax.random.split(hk.next_rng_key(), n)
            out, state = jax.vmap(inner.apply)(params, state, keys, *args, **kwargs)
        else:
            init, updater = hk.experimental.lift_with_state(shared_key_init(inner), name="vmap_lift")
            key = hk.next_rng_key() if (init_rng and hk.running_init()) else None
            params, state = init(key, *args, **kwargs)
            out, state = jax.vmap(lambda p, s, *a, **k: inner.apply(p, s, None, *a, **k))(
                params, state, *args, **kwargs)
        updater.update(state)
        return out

    return apply_fn
