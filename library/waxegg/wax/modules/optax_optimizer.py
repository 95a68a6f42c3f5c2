"""An optax optimizer whose state lives in Haiku state, so that it can step inside a stream."""

from __future__ import annotations

from typing import Any

import haiku as hk
import optax


def check_optax(owner: str, opt: Any) -> optax.GradientTransformation:
    """``opt`` if it is an optax transformation, else a ``TypeError`` naming ``owner`` and ``opt``."""
    if isinstance(opt, optax.GradientTransformation):
        return opt
    hint = ""
    if callable(opt) and getattr(opt, "__module__", "").startswith("optax"):
        hint = f" (did you mean {getattr(opt, '__name__', 'it')}(learning_rate)? the factory must be called)"
    raise TypeError(f"{owner}: opt must be an optax.GradientTransformation such as optax.sgd(1e-2), "
                    f"got {type(opt).__name__} {opt!r}{hint}")


class OptaxOptimizer(hk.Module):
    """Apply an optax transformation to ``params`` given ``grads``, one step per call (WAX-ML's name).

    The optimizer state (``opt.init(params)`` at the first step) is Haiku state named
    ``opt_state``, so under :func:`~waxegg.wax.unroll.dynamic_unroll` it is carried from step to
    step like any other streaming state.

    Parameters
    ----------
    opt : optax.GradientTransformation
        E.g. ``optax.sgd(1e-2)``, ``optax.adam(1e-3)`` or :func:`waxegg.wax.optim.newton`.
    name : str, optional
        Haiku module name.

    Raises
    ------
    TypeError
        ``opt`` is not an optax transformation (e.g. the uncalled factory ``optax.sgd``).
    """

    def __init__(self, opt: optax.GradientTransformation, name: str | None = None):
        super().__init__(name=name)
        self.opt = check_optax("OptaxOptimizer", opt)

    def __call__(self, params: Any, grads: Any) -> Any:
        """The updated ``params`` (same structure and dtypes) after one step on ``grads``."""
        opt_state = hk.get_state("opt_state", [], init=lambda *_: self.opt.init(params))
        # `params` goes to update() too: transformations such as weight decay need it.
        updates, opt_state = self.opt.update(grads, opt_state, params)
        hk.set_state("opt_state", opt_state)
        return optax.apply_updates(params, updates)
