"""Vectorise a stateful Haiku function over a batch axis, one independent state per member."""

from __future__ import annotations

from typing import Any, Callable

import haiku as hk
import jax
import numpy as np


class VMap(hk.Module):
    """Run ``fun`` on every member of a batch with its own parameters and state (WAX-ML's ``VMap``).

    ``fun`` is transformed on its own (``hk.transform_with_state``) and ``jax.vmap``-ed over the
    leading axis of every argument: member ``i`` gets ``args[..][i]``, is initialised on its own
    (with its own PRNG key when the surrounding transform has one) and keeps its own state, e.g.
    one learner per series or per hyper-parameter. The members' parameters and states, stacked on
    a leading axis, are this module's Haiku *state* ``params_state`` (they may change every step).

    Parameters
    ----------
    fun : callable or Haiku transform
        ``fun(*args, **kwargs)`` for one member, using Haiku modules and state.
    name : str, optional
        Haiku module name.

    Raises
    ------
    ValueError
        Arguments without a common leading (batch) size, or with no arrays at all.
    """

    def __init__(self, fun: Callable[..., Any] | hk.Transformed | hk.TransformedWithState, name: str | None = None):
        super().__init__(name=name)
        if isinstance(fun, hk.TransformedWithState):
            self.fun = fun
        elif isinstance(fun, hk.Transformed):
            self.fun = hk.with_empty_state(fun)
        elif callable(fun):
            self.fun = hk.transform_with_state(fun)
        else:
            raise TypeError(f"VMap: fun must be a callable or a Haiku transform, got {type(fun).__name__} {fun!r}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        leaves = jax.tree_util.tree_leaves((args, kwargs))
        if not leaves:
            raise ValueError("VMap: no array arguments to map over")
        sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
        if None in sizes or len(sizes) != 1:
            raise ValueError(f"VMap: every argument needs the same leading (batch) size, got "
                             f"{sorted(map(str, sizes))}")
        (n,) = sizes
        rng = hk.maybe_next_rng_key()
        rngs = None if rng is None else jax.random.split(rng, n)
        params, state = hk.get_state("params_state", [],
                                     init=lambda *_: jax.vmap(self.fun.init)(rngs, *args, **kwargs))
        out, state = jax.vmap(self.fun.apply)(params, state, rngs, *args, **kwargs)
        hk.set_state("params_state", (params, state))
        return out


def add_batch(fun: Callable[..., Any] | hk.TransformedWithState, take_mean: bool = True) -> Callable[..., Any]:
    """WAX-ML's ``add_batch``: run ``fun`` on every member of a batch (leading axis), inside a transform.

    Unlike :class:`VMap`, the members' parameters are lifted into the surrounding transform as
    Haiku *parameters* (stacked on a leading axis, under ``vmap_lift``), so an outer ``grad`` can
    train them; their states are Haiku state. Each member is initialised with its own PRNG key when
    the transform has one. ``take_mean=True`` averages every output leaf over the batch axis.
    """
    tfun = fun if isinstance(fun, hk.TransformedWithState) else hk.transform_with_state(fun)

    def fun_batch(*args: Any, **kwargs: Any) -> Any:
        leaves = jax.tree_util.tree_leaves((args, kwargs))
        if not leaves or not np.ndim(leaves[0]):
            raise ValueError("add_batch: the arguments need a leading (batch) axis")
        n = np.shape(leaves[0])[0]
        rng = hk.maybe_next_rng_key()
        rngs = None if rng is None else jax.random.split(rng, n)
        init = jax.vmap(lambda r, a, k: tfun.init(r, *a, **k), in_axes=(None if rngs is None else 0, 0, 0))
        params_and_state, updater = hk.lift_with_state(lambda r, a, k: init(r, a, k), name="vmap_lift")
        params, state = params_and_state(rngs, args, kwargs)
        apply = jax.vmap(lambda p, s, r, a, k: tfun.apply(p, s, r, *a, **k),
                         in_axes=(0, 0, None if rngs is None else 0, 0, 0))
        out, state = apply(params, state, rngs, args, kwargs)
        updater.update(state)
        if take_mean:
            out = jax.tree_util.tree_map(lambda leaf: leaf.mean(axis=0), out)
        return out

    return fun_batch
