"""Online-learning workload: a linear model learned one step at a time, jit-compiled vs a Python loop.

The same optax update (``optax.sgd`` or the online Newton step :func:`waxegg.wax.optim.newton`)
on the same data, three ways:

- ``jit``: :class:`~waxegg.wax.modules.OnlineSupervisedLearner` under
  :func:`~waxegg.wax.unroll.dynamic_unroll` (one compiled ``lax.scan`` over all ``T`` steps);
- ``python-jit-step``: a plain Python ``for`` loop calling a ``jax.jit``-compiled step
  (``value_and_grad`` + ``opt.update`` + ``apply_updates``), the usual hand-written loop;
- ``python-eager``: the same loop without ``jax.jit`` (op-by-op dispatch), timed on fewer steps.

Results are checked against each other (final parameters) before any time is quoted.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax

from waxegg.bench.timers import measure
from waxegg.wax._x64 import x64_context
from waxegg.wax.modules import OnlineSupervisedLearner
from waxegg.wax.optim import newton
from waxegg.wax.unroll import dynamic_unroll

OPTIMIZERS: dict[str, Callable[[], optax.GradientTransformation]] = {
    "sgd": lambda: optax.sgd(1e-2),
    "newton": lambda: newton(2.0, eps=10.0),
}


@functools.lru_cache(maxsize=4)
def linear_stream(T: int, n_features: int, dtype: str = "float64", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(X (T, n_features), y (T, 1))`` with ``y = X @ w + 0.1 * noise`` for a fixed random ``w``."""
    rs = np.random.default_rng(seed)
    X = rs.standard_normal((T, n_features))
    w = rs.standard_normal(n_features) / np.sqrt(n_features)
    y = X @ w + 0.1 * rs.standard_normal(T)
    return X.astype(dtype), y[:, None].astype(dtype)


def _mse(y_pred: Any, y: Any) -> Any:
    return jnp.mean(jnp.square(y_pred - y))


def _zeros_linear(x: Any) -> Any:
    # Zero initial weights: the three ways start from identical parameters without sharing a key.
    return hk.Linear(1, w_init=hk.initializers.Constant(0.0))(x)


@dataclass
class OnlineLinearLearning:
    """One workload: ``T`` steps of a ``n_features`` linear model, optimizer ``opt`` (a key of :data:`OPTIMIZERS`)."""

    T: int
    n_features: int
    opt: str = "newton"
    dtype: str = "float64"

    def __post_init__(self) -> None:
        if self.opt not in OPTIMIZERS:
            raise ValueError(f"opt must be one of {sorted(OPTIMIZERS)}, got {self.opt!r}")
        self.X, self.y = linear_stream(self.T, self.n_features, self.dtype)
        opt = OPTIMIZERS[self.opt]
        self._learner = hk.transform_with_state(
            lambda xy: OnlineSupervisedLearner(_zeros_linear, opt(), _mse)(xy[0], xy[1]))
        self._optimizer = opt()
        model = hk.without_apply_rng(hk.transform(_zeros_linear))
        with x64_context():
            self._params0 = model.init(None, jnp.asarray(self.X[0]))

        def step(params: Any, opt_state: Any, x: Any, y: Any) -> tuple[Any, Any, Any]:
            loss, grads = jax.value_and_grad(lambda p: _mse(model.apply(p, x), y))(params)
            updates, opt_state = self._optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss

        self._step = step
        self._step_jit = jax.jit(step)

    def jit(self) -> Any:
        """Final parameters after ``T`` steps of the learner under ``dynamic_unroll`` (compiled scan)."""
        _, state = dynamic_unroll(self._learner, (self.X, self.y))
        return state["online_supervised_learner"]["model_params_state"].params

    def python_loop(self, steps: int | None = None, *, jit_step: bool = True) -> Any:
        """Final parameters after ``steps`` (default ``T``) iterations of a plain Python loop."""
        step = self._step_jit if jit_step else self._step
        with x64_context():
            params = self._params0
            opt_state = self._optimizer.init(params)
            X, y = jnp.asarray(self.X), jnp.asarray(self.y)
            for t in range(self.T if steps is None else steps):
                params, opt_state, _ = step(params, opt_state, X[t], y[t])
            return jax.block_until_ready(params)


def run_online_learning(T: int = 100_000, n_features: int = 10, opt: str = "newton", dtype: str = "float64",
                        *, repeat: int = 3, eager_steps: int = 1_000) -> dict[str, Any]:
    """Steps per second of the three ways (best of ``repeat`` after a warm-up; eager on ``eager_steps``).

    Returns a dict with the sizes, ``steps_per_s`` per way, the first (compiling) call of ``jit``,
    the speed-up of ``jit`` over each loop and the max abs difference of the final parameters
    between ``jit`` and the jitted-step loop (checked before the times mean anything).
    """
    work = OnlineLinearLearning(T, n_features, opt, dtype)
    jit_t = measure(work.jit, repeat, memory=False)
    loop_t = measure(work.python_loop, repeat, memory=False)
    eager_t = measure(lambda: work.python_loop(eager_steps, jit_step=False), 1, memory=False)
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
               for a, b in zip(jax.tree_util.tree_leaves(jit_t.result), jax.tree_util.tree_leaves(loop_t.result)))
    rates = {"jit": T / jit_t.best, "python-jit-step": T / loop_t.best, "python-eager": eager_steps / eager_t.best}
    return {
        "T": T, "n_features": n_features, "opt": opt, "dtype": dtype, "eager_steps": eager_steps,
        "steps_per_s": rates,
        "jit_first_call_s": jit_t.first,
        "speedup_vs_python_jit_step": rates["jit"] / rates["python-jit-step"],
        "speedup_vs_python_eager": rates["jit"] / rates["python-eager"],
        "max_abs_param_diff": diff,
        "versions": {"jax": jax.__version__, "optax": optax.__version__, "haiku": hk.__version__},
    }
