"""A Haiku function seen as a function of its trainable parameters (WAX-ML's ``UpdateParams``)."""

from __future__ import annotations

from typing import Any, Callable

import haiku as hk
import jax.numpy as jnp

Predicate = Callable[[str, str, jnp.ndarray], bool]


def pass_all_predicate(module_name: str, name: str, value: jnp.ndarray) -> bool:
    """WAX-ML's default ``params_predicate`` (``wax.predicate``): every parameter is trainable."""
    return True


def split_params(predicate: Predicate | None, params: Any) -> tuple[Any, Any]:
    """``(trainable, non_trainable)`` parts of Haiku ``params`` (``None``: all trainable)."""
    return hk.data_structures.partition(predicate or pass_all_predicate, params)


def get_init_params(func: Callable, *args: Any, params_predicate: Predicate | None = pass_all_predicate,
                    **kwargs: Any) -> Any:
    """The trainable initial parameters of ``func(*args, **kwargs)``; call it inside a transform.

    Initialised with the surrounding transform's PRNG key when it has one (WAX-ML requires one).
    """
    params, _ = hk.transform_with_state(func).init(hk.maybe_next_rng_key(), *args, **kwargs)
    return split_params(params_predicate, params)[0]


class UpdateParams(hk.Module):
    """``func`` as a function of its trainable parameters: ``UpdateParams(func)(trainable, *args)``.

    The non-trainable parameters (those ``params_predicate`` rejects) and ``func``'s own state are
    this module's Haiku state ``non_trainable_params_and_state`` (WAX-ML's name), initialised at the
    first call; the trainable ones are an argument, so ``hk.grad`` of the call gives their gradient.
    """

    def __init__(self, func: Callable, params_predicate: Predicate | None = pass_all_predicate,
                 name: str | None = None):
        super().__init__(name=name)
        if not callable(func):
            raise TypeError(f"UpdateParams: func must be callable, got {type(func).__name__} {func!r}")
        self.func = hk.transform_with_state(func)
        self.params_predicate = params_predicate

    def __call__(self, trainable_params: Any, *args: Any, **kwargs: Any) -> Any:
        rng = hk.maybe_next_rng_key()

        def init(*_):
            params, state = self.func.init(rng, *args, **kwargs)
            return split_params(self.params_predicate, params)[1], state

        non_trainable, state = hk.get_state("non_trainable_params_and_state", [], init=init)
        params = hk.data_structures.merge(trainable_params, non_trainable)
        out, state = self.func.apply(params, state, rng, *args, **kwargs)
        hk.set_state("non_trainable_params_and_state", (non_trainable, state))
        return out
