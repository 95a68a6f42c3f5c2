"""Online supervised learning: one gradient step per time step, inside the stream."""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax

from waxegg.wax.modules.optax_optimizer import OptaxOptimizer, check_optax


class ParamsState(NamedTuple):
    """The inner model's Haiku ``params`` and ``state``, kept together as the learner's state."""

    params: Any
    state: Any


class OnlineSupervisedLearnerInfo(NamedTuple):
    """What a learning step reports besides the prediction.

    Attributes
    ----------
    loss : scalar array
        ``loss(y, y_pred)`` of this step, computed with the parameters *before* the update
        (the honest online, "prequential" loss).
    params : pytree
        The model parameters *after* the update.
    """

    loss: Any
    params: Any


def fill_nonfinite(tree: Any, value: float = 0.0) -> Any:
    """Replace NaN and +-inf by ``value`` in every floating leaf of ``tree`` (others pass through)."""
    def fill(leaf: Any) -> Any:
        leaf = jnp.asarray(leaf)
        if not jnp.issubdtype(leaf.dtype, jnp.inexact):
            return leaf
        return jnp.where(jnp.isfinite(leaf), leaf, jnp.asarray(value, leaf.dtype))

    return jax.tree_util.tree_map(fill, tree)


def _as_transformed(owner: str, model: Any) -> hk.TransformedWithState:
    if isinstance(model, hk.TransformedWithState):
        return model
    if isinstance(model, hk.Transformed):
        return hk.with_empty_state(model)
    if callable(model):
        return hk.transform_with_state(model)
    raise TypeError(f"{owner}: model must be a callable (using Haiku modules) or a Haiku transform, "
                    f"got {type(model).__name__} {model!r}")


def _broadcast_or_none(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None


def _pairs_elementwise(prediction: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an elementwise loss of the two shapes pairs each prediction with its own target.

    Equal shapes do, and so do shapes that broadcast without growing the larger one: WAX-ML's own examples
    learn a scalar target with ``hk.Linear(1)`` (output ``(1,)``), and ``(n,)`` against a scalar target
    compares every output with it. ``(n, 1)`` against ``(n,)`` broadcasts to ``(n, n)``: each prediction
    against every target, a silent wrong loss, so it is refused.
    """
    shape = _broadcast_or_none(prediction, target)
    return shape is not None and math.prod(shape) == max(math.prod(prediction), math.prod(target))


def _describe(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


class OnlineSupervisedLearner(hk.Module):
    """Learn ``model`` online: each call predicts ``y`` from ``x``, scores it and takes one step.

    The model's parameters change at every step, so they are Haiku *state* of this module (as in
    WAX-ML), not Haiku parameters: under :func:`~waxegg.wax.unroll.dynamic_unroll` or
    ``obj.wax.stream().apply`` they are carried from step to step and the final ``state`` holds the
    learned model. The optimizer state is state too (:class:`OptaxOptimizer`).

    Parameters
    ----------
    model : callable or Haiku transform
        ``model(x) -> y_pred`` using Haiku modules (e.g. ``lambda x: hk.Linear(1)(x)``), or an
        ``hk.transform[_with_state]`` of it. Its parameters take their dtype from ``x`` for the
        usual Haiku layers.
    opt : optax.GradientTransformation or OptaxOptimizer
        E.g. ``optax.sgd(1e-2)`` or :func:`waxegg.wax.optim.newton`.
    loss : callable
        Called ``loss(y, y_pred) -> scalar``: target first, WAX-ML's order (its users write their losses
        for it; optax's losses take ``(predictions, targets)``, so wrap them: ``lambda y, p: optax.l2_loss(p, y)``).
    grads_fill_nan_inf : bool, default True
        Replace NaN and +-inf in the gradients by 0 before the update, so that one bad
        observation (a NaN feature or target, an overflow) leaves the parameters unchanged
        instead of poisoning them for ever.
    name : str, optional
        Haiku module name.

    Notes
    -----
    The model is initialised at the first step with the surrounding transform's PRNG key
    (``rng=`` of ``dynamic_unroll`` / ``apply``); models whose initialisers need no key (e.g.
    ``hk.Linear(1, w_init=hk.initializers.Constant(0.0))``) also run without one.

    Raises
    ------
    TypeError
        ``opt`` is not an optax transformation, ``model`` is not callable or ``loss`` is not callable.
    ValueError
        At the first step: the model's output and ``y`` differ in structure, or in shape beyond a
        broadcast that pairs each prediction with its own target (``(1,)`` against a scalar ``y`` is fine, as
        in WAX-ML's examples; ``(n, 1)`` against ``(n,)`` is refused), or ``loss`` does not return a scalar.
    """

    def __init__(
        self,
        model: Callable[..., Any] | hk.Transformed | hk.TransformedWithState,
        opt: optax.GradientTransformation | OptaxOptimizer,
        loss: Callable[[Any, Any], Any],
        grads_fill_nan_inf: bool = True,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.model = _as_transformed("OnlineSupervisedLearner", model)
        self.opt = opt if isinstance(opt, OptaxOptimizer) else OptaxOptimizer(
            check_optax("OnlineSupervisedLearner", opt))
        if not callable(loss):
            raise TypeError(f"OnlineSupervisedLearner: loss must be a callable loss(y, y_pred) -> scalar, "
                            f"got {type(loss).__name__} {loss!r}")
        self.loss = loss
        self.grads_fill_nan_inf = bool(grads_fill_nan_inf)

    def _init_model(self, x: Any) -> ParamsState:
        rng = hk.maybe_next_rng_key()
        try:
            return ParamsState(*self.model.init(rng, x))
        except ValueError as err:
            if rng is None and "PRNG" in str(err):
                raise ValueError("OnlineSupervisedLearner: the model needs a PRNG key to initialise its "
                                 "parameters; pass rng= to dynamic_unroll / stream().apply / init, or give "
                                 "the model key-free initialisers") from err
            raise

    def _check(self, params: Any, state: Any, x: Any, y: Any, rng: Any) -> None:
        """Shape checks on abstract values only (free at run time: they happen while tracing)."""
        y_pred, _ = jax.eval_shape(self.model.apply, params, state, rng, x)
        y_shape = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)), y)
        if jax.tree_util.tree_structure(y_pred) != jax.tree_util.tree_structure(y_shape):
            raise ValueError(f"OnlineSupervisedLearner: the model returns {jax.tree_util.tree_structure(y_pred)} "
                             f"but the target y is {jax.tree_util.tree_structure(y_shape)}")
        for path_leaf, t in zip(jax.tree_util.tree_leaves_with_path(y_pred), jax.tree_util.tree_leaves(y_shape)):
            path, p = path_leaf
            if not _pairs_elementwise(p.shape, t.shape):
                where = jax.tree_util.keystr(path)
                raise ValueError(f"OnlineSupervisedLearner: model output{where} has shape {p.shape} but the target "
                                 f"y{where} has shape {t.shape}: a loss of the two would broadcast them to "
                                 f"{_broadcast_or_none(p.shape, t.shape)}, pairing each prediction with targets "
                                 "it does not predict; give them the same number of elements")
        loss = jax.eval_shape(self.loss, y_shape, y_pred)
        if not (hasattr(loss, "shape") and loss.shape == ()):
            got = getattr(loss, "shape", type(loss).__name__)
            raise ValueError(f"OnlineSupervisedLearner: loss {_describe(self.loss)} must return a scalar, got {got}")
        if not jnp.issubdtype(loss.dtype, jnp.floating):
            raise ValueError(f"OnlineSupervisedLearner: loss {_describe(self.loss)} must return a floating "
                             f"scalar to be differentiated, got dtype {loss.dtype}")

    def _model_params_state(self, x: Any) -> ParamsState:
        return hk.get_state("model_params_state", [], init=lambda *_: self._init_model(x))

    def __call__(self, x: Any, y: Any) -> tuple[Any, OnlineSupervisedLearnerInfo]:
        """One online step on the observation ``(x, y)``.

        Returns
        -------
        y_pred, info
            The prediction of ``y`` made *before* learning from it, and
            :class:`OnlineSupervisedLearnerInfo` (this step's loss, the updated parameters).
        """
        params, state = self._model_params_state(x)
        rng = hk.maybe_next_rng_key()
        self._check(params, state, x, y, rng)

        def loss_fn(p: Any) -> tuple[Any, tuple[Any, Any]]:
            y_pred, new_state = self.model.apply(p, state, rng, x)
            return self.loss(y, y_pred), (y_pred, new_state)

        (loss, (y_pred, state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        if self.grads_fill_nan_inf:
            grads = fill_nonfinite(grads)
        params = self.opt(params, grads)
        hk.set_state("model_params_state", ParamsState(params, state))
        return y_pred, OnlineSupervisedLearnerInfo(loss=loss, params=params)

    def predict(self, x: Any) -> Any:
        """Predict from ``x`` with the current parameters, without learning.

        Called after :meth:`__call__` in the same step it uses the parameters just updated, which
        is how a forecaster produces its next forecast (see :class:`~waxegg.wax.modules.SNARIMAX`).
        The inner model's state is not advanced.
        """
        params, state = self._model_params_state(x)
        y_pred, _ = self.model.apply(params, state, hk.maybe_next_rng_key(), x)
        return y_pred
