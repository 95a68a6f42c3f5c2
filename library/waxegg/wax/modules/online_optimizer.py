"""One online learning step of a model that returns its own loss (WAX-ML's ``OnlineOptimizer``)."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import haiku as hk
import jax
import optax

from waxegg.wax.modules.online_supervised_learner import _as_transformed, fill_nonfinite
from waxegg.wax.modules.optax_optimizer import OptaxOptimizer, check_optax
from waxegg.wax.modules.update_params import Predicate, pass_all_predicate, split_params


class ParamsState(NamedTuple):
    """The model's trainable and non-trainable parameters and its state (the optimizer's state)."""

    trainable_params: Any
    non_trainable_params: Any
    state: Any


class OptInfo(NamedTuple):
    """What :class:`OnlineOptimizer` returns: the loss and model info of the step (parameters
    *before* the update) and, with ``return_params=True``, the updated parameters (else None)."""

    loss: Any
    model_info: Any
    params: Any = None


class OnlineOptimizer(hk.Module):
    """Each call evaluates ``model(*args) -> (loss, info)`` and takes one step of ``opt`` on it.

    The model's parameters and state are this module's Haiku state ``model_params_and_state``
    (WAX-ML's name), with a step count ``step``; NaN and +-inf in the gradients are replaced by 0.

    Parameters
    ----------
    model : callable or Haiku transform
        Returns ``(loss, info)``.
    opt : optax.GradientTransformation or OptaxOptimizer
    project_params : callable, optional
        ``project_params(params, opt) -> params`` applied after each step (e.g. a clip).
    regularize_loss : callable, optional
        ``regularize_loss(trainable_params) -> scalar`` added to the loss.
    params_predicate : callable, optional
        ``(module_name, name, value) -> bool``: which parameters are trained (default all).
    return_params : bool, default False
        Fill :attr:`OptInfo.params` with the updated parameters.
    """

    def __init__(self, model: Callable | hk.TransformedWithState, opt: Any, project_params: Callable | None = None,
                 regularize_loss: Callable | None = None, params_predicate: Predicate | None = pass_all_predicate,
                 return_params: bool = False, name: str | None = None):
        super().__init__(name=name)
        self.model = _as_transformed("OnlineOptimizer", model)
        self.opt = opt if isinstance(opt, OptaxOptimizer) else OptaxOptimizer(check_optax("OnlineOptimizer", opt))
        self.project_params = project_params
        self.regularize_loss = regularize_loss
        self.params_predicate = params_predicate
        self.return_params = bool(return_params)

    def __call__(self, *args: Any, **kwargs: Any) -> OptInfo:
        rng = hk.maybe_next_rng_key()

        def init(*_):
            params, state = self.model.init(rng, *args, **kwargs)
            trainable, non_trainable = split_params(self.params_predicate, params)
            return ParamsState(trainable, non_trainable, state)

        trainable, non_trainable, state = hk.get_state("model_params_and_state", [], init=init)
        step = hk.get_state("step", [], init=lambda *_: jax.numpy.zeros([], jax.numpy.int32))

        def loss_fn(trainable):
            params = hk.data_structures.merge(trainable, non_trainable)
            (loss, info), new_state = self.model.apply(params, state, rng, *args, **kwargs)
            if self.regularize_loss is not None:
                loss = loss + self.regularize_loss(trainable)
            return loss, (info, new_state)

        (loss, (info, state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable)
        trainable = self.opt(trainable, fill_nonfinite(grads))
        if self.project_params is not None:
            trainable = self.project_params(trainable, self.opt)
        hk.set_state("step", step + 1)
        hk.set_state("model_params_and_state", ParamsState(trainable, non_trainable, state))
        params = hk.data_structures.merge(trainable, non_trainable) if self.return_params else None
        return OptInfo(loss, info, params)
