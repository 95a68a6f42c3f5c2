"""Run a module only on events, holding its output and state in between."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import haiku as hk
import jax
import jax.numpy as jnp


def set_params_or_state_dict(module_name: str, submodules: set[str], which: str,
                             state_dict: Mapping[str, Any]) -> None:
    """WAX-ML's ``set_params_or_state_dict``: the inverse of Haiku's ``Module.params_dict()`` /
    ``state_dict()``. Inside a transform, set the ``which`` (``"params"`` or ``"state"``) of module
    ``module_name``, the modules under it and ``submodules`` from ``state_dict`` (keyed
    ``"module/name"`` as those methods return them; a missing key raises KeyError naming it).

    Haiku has no public call for this; as WAX-ML, it writes into the current transform's frame.
    """
    from haiku._src import base  # the frame is not public Haiku API

    if which not in ("params", "state"):
        raise ValueError(f"set_params_or_state_dict: which must be 'params' or 'state', got {which!r}")
    if not base.frame_stack:
        raise ValueError("set_params_or_state_dict must be used inside an hk.transform")
    frame = base.current_frame()
    for their_name, bundle in getattr(frame, which).items():
        if not (their_name == module_name or their_name.startswith(module_name + "/") or their_name in submodules):
            continue
        for name, value in bundle.items():
            key = f"{their_name}/{name}"
            if key not in state_dict:
                raise KeyError(f"set_params_or_state_dict: no value for {key!r} in the given {which}")
            bundle[name] = value._replace(current=state_dict[key]) if which == "state" else state_dict[key]


def set_state_from_dict(module: hk.Module, next_state_dict: Mapping[str, Any]) -> None:
    """WAX-ML's ``set_state_from_dict``: set the state of ``module`` and its submodules from a dict shaped as
    ``module.state_dict()`` returns. WAX-ML added it to ``hk.Module`` as a method when imported; here it is a
    function (importing waxegg patches nothing): ``set_state_from_dict(module, d)`` for ``module.set_state_from_dict(d)``.
    """
    from haiku._src import base  # noqa: PLC0415

    if not base.frame_stack:
        raise ValueError("set_state_from_dict must be used inside an hk.transform")
    set_params_or_state_dict(module.module_name, module._submodules, "state", next_state_dict)


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
