"""Run a module only on events, holding its output and state in between."""

from __future__ import annotations

from typing import Any, Callable

import haiku as hk
import jax
import jax.numpy as jnp


class UpdateOnEvent(hk.Module):
    """Call ``module`` when ``on_event`` is true; otherwise return its last output, state untouched.

    ``UpdateOnEvent(module)(on_event, *args, **kwargs)``. Built on Haiku's public API only:
    :func:`haiku.cond` threads the inner module's state through the branch that runs, so on a
    non-event step the inner state is exactly what it was (WAX-ML patched ``hk.Module`` to copy it
    by hand). Before the first event the output is ``initial_output_value`` (NaN by default,
    cast to each output leaf's dtype).

    Parameters
    ----------
    module : callable
        A Haiku module (or any function of Haiku modules); create it inside the transform.
    initial_output_value : scalar, default NaN
    """

    def __init__(self, module: Callable[..., Any], initial_output_value: Any = jnp.nan, name: str | None = None):
        super().__init__(name=name)
        if not callable(module):
            raise TypeError(f"UpdateOnEvent: module must be callable, got {type(module).__name__}")
        self.module = module
        self.initial_output_value = initial_output_value

    def __call__(self, on_event, *args, **kwargs):
        on_event = jnp.asarray(on_event)
        if on_event.ndim != 0:
            raise ValueError(f"UpdateOnEvent: on_event must be a scalar, got shape {on_event.shape}")
        if hk.running_init():
            # init traces the module once to create its state (both branches must exist).
            output = self.module(*args, **kwargs)
            initial = jax.tree_util.tree_map(
                lambda o: jnp.full(jnp.shape(o), self.initial_output_value, jnp.result_type(o)), output)
            hk.get_state("prev_output", [], init=lambda *_: initial)
            return initial
        prev = hk.get_state("prev_output")
        output = hk.cond(on_event.astype(bool),
                         lambda a, k: self.module(*a, **k),
                         lambda a, k: prev,
                         args, kwargs)
        hk.set_state("prev_output", output)
        return output
