"""Optimise a Haiku function's parameters by one solver step per call (WAX-ML's ``FuncOptimizer``)."""

from __future__ import annotations

from typing import Any, Callable

import haiku as hk
import optax

from waxegg.wax.modules.online_supervised_learner import fill_nonfinite
from waxegg.wax.modules.optax_optimizer import OptaxOptimizer
from waxegg.wax.modules.update_params import Predicate, UpdateParams, get_init_params, pass_all_predicate


class FuncOptimizer(hk.Module):
    """Evaluate ``func`` and take one step of ``opt`` on its trainable parameters, per call.

    ``FuncOptimizer(func, opt)(*args)`` returns ``(func(*args), updated trainable params)``: the
    value is computed with the parameters *before* the step. The trainable parameters are Haiku
    state ``trainable_params`` (WAX-ML's name), so they are carried through a stream.

    Parameters
    ----------
    func : callable
        Uses Haiku modules; returns a scalar loss, or ``(loss, aux)`` with ``has_aux=True``.
    opt : callable or optax.GradientTransformation
        ``opt(params, grads) -> params`` (e.g. an :class:`OptaxOptimizer`); an optax
        transformation is wrapped in one.
    has_aux : bool, default False
    params_predicate : callable, optional
        ``(module_name, name, value) -> bool``: which parameters are trained (default all).
    grads_fill_nan_inf : bool, default False
        Replace NaN and +-inf in the gradients by 0 before the step.
    """

    def __init__(self, func: Callable, opt: Any, has_aux: bool = False,
                 params_predicate: Predicate | None = pass_all_predicate, grads_fill_nan_inf: bool = False,
                 name: str | None = None):
        super().__init__(name=name)
        self.func = func
        self.opt = OptaxOptimizer(opt) if isinstance(opt, optax.GradientTransformation) else opt
        if not callable(self.opt):
            raise TypeError(f"FuncOptimizer: opt must be an optax transformation or a callable "
                            f"opt(params, grads), got {type(opt).__name__} {opt!r}")
        self.has_aux = bool(has_aux)
        self.params_predicate = params_predicate
        self.grads_fill_nan_inf = bool(grads_fill_nan_inf)

    def __call__(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        trainable = hk.get_state("trainable_params", [], init=lambda *_: get_init_params(
            self.func, *args, params_predicate=self.params_predicate, **kwargs))
        func = UpdateParams(self.func, params_predicate=self.params_predicate)
        results, grads = hk.value_and_grad(func, has_aux=self.has_aux)(trainable, *args, **kwargs)
        if self.grads_fill_nan_inf:
            grads = fill_nonfinite(grads)
        trainable = self.opt(trainable, grads)
        hk.set_state("trainable_params", trainable)
        return results, trainable
