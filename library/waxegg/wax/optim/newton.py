"""Optax transformations that optax does not ship: the online Newton step (WAX-ML's ``newton``).

The online Newton step (ONS, Hazan, Agarwal & Kale 2007, "Logarithmic regret algorithms for online
convex optimization") preconditions each gradient ``g_t`` by the inverse of
``A_t = eps * I + sum_{s<=t} g_s g_s^T``. ``A_t^{-1}`` is kept directly and updated with the
Sherman-Morrison formula, so one step costs ``O(n^2)`` for a parameter leaf of ``n`` elements and
``A^{-1}`` holds ``n^2`` numbers per leaf: meant for linear models (tens to a few hundred weights
per leaf), not for deep networks.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["ScaleByNewtonState", "newton", "scale_by_newton", "sherman_morrison", "sherman_morrison_update"]


class ScaleByNewtonState(NamedTuple):
    """State of :func:`scale_by_newton`: one ``(n, n)`` inverse matrix per parameter leaf of ``n`` elements."""

    hessian_inv: Any


def sherman_morrison_update(a_inv: jnp.ndarray, g: jnp.ndarray) -> jnp.ndarray:
    """``(A + g g^T)^{-1}`` from ``A^{-1}`` (symmetric) and a vector ``g``, in ``O(n^2)``."""
    a_inv_g = a_inv @ g
    return a_inv - jnp.outer(a_inv_g, a_inv_g) / (1.0 + g @ a_inv_g)


def sherman_morrison(A_inv: jnp.ndarray, u: jnp.ndarray, v: jnp.ndarray) -> jnp.ndarray:
    """``(A + u v^T)^{-1}`` from ``A^{-1}`` and vectors ``u``, ``v`` (WAX-ML's name and argument order).

    The general Sherman-Morrison formula ``A^{-1} - A^{-1} u v^T A^{-1} / (1 + v^T A^{-1} u)``.
    WAX-ML's denominator was ``1 + u^T A^{-1} v``, the same only for a symmetric ``A`` or ``u = v``
    (its only use); here it is right for any ``A``.
    """
    a_inv_u = A_inv @ u
    v_a_inv = v @ A_inv
    return A_inv - jnp.outer(a_inv_u, v_a_inv) / (1.0 + v @ a_inv_u)


def _check_eps(eps: Any) -> Any:
    if isinstance(eps, jax.core.Tracer):  # e.g. vmapped over eps (WAX-ML's hyper-parameter scans)
        if jnp.ndim(eps) != 0:
            raise ValueError(f"newton: eps must be a scalar, got shape {jnp.shape(eps)}")
        return eps
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps <= 0:
        raise ValueError(f"newton: eps must be a finite number > 0, got {eps!r}")
    return float(eps)


def scale_by_newton(eps: float = 1e-7) -> optax.GradientTransformation:
    """Precondition updates by the inverse of the accumulated gradient outer products.

    Parameters
    ----------
    eps : float, default 1e-7 (WAX-ML's; its newton() passes 1e-5)
        ``A_0 = eps * I``: a small ``eps`` makes the first steps large (``A_1^{-1} g_1`` is about
        ``g_1 / |g_1|^2``), a large one makes them gradient-descent steps of size ``1 / eps``.

    Returns
    -------
    optax.GradientTransformation
        State :class:`ScaleByNewtonState`, in each leaf's dtype.
    """
    eps = _check_eps(eps)

    def init_fn(params: Any) -> ScaleByNewtonState:
        def eye(leaf: Any) -> jnp.ndarray:
            leaf = jnp.asarray(leaf)
            return jnp.eye(leaf.size, dtype=leaf.dtype) / jnp.asarray(eps, leaf.dtype)

        return ScaleByNewtonState(hessian_inv=jax.tree_util.tree_map(eye, params))

    def update_fn(updates: Any, state: ScaleByNewtonState, params: Any = None) -> tuple[Any, ScaleByNewtonState]:
        del params

        def one(g: jnp.ndarray, a_inv: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
            flat = jnp.ravel(g)
            a_inv = sherman_morrison_update(a_inv, flat)
            return jnp.reshape(a_inv @ flat, jnp.shape(g)), a_inv

        leaves, treedef = jax.tree_util.tree_flatten(updates)
        pairs = [one(g, a_inv) for g, a_inv in zip(leaves, treedef.flatten_up_to(state.hessian_inv))]
        new_updates = jax.tree_util.tree_unflatten(treedef, [u for u, _ in pairs])
        hessian_inv = jax.tree_util.tree_unflatten(treedef, [a for _, a in pairs])
        return new_updates, ScaleByNewtonState(hessian_inv=hessian_inv)

    return optax.GradientTransformation(init_fn, update_fn)


def newton(learning_rate: optax.ScalarOrSchedule, eps: float = 1e-5) -> optax.GradientTransformation:
    """The online Newton step: ``params -= learning_rate * A_t^{-1} g_t``, ``A_t = eps I + sum g g^T``.

    Parameters
    ----------
    learning_rate : float or optax schedule
        Global step size (ONS's ``1 / gamma``). For a squared loss ``(w.x - y)^2`` with noise
        variance ``s2``, ``learning_rate`` near ``2 * s2`` makes the step close to recursive least
        squares.
    eps : float, default 1e-5
        Initial ``A_0 = eps * I`` (see :func:`scale_by_newton`).

    Returns
    -------
    optax.GradientTransformation
        ``optax.chain(scale_by_newton(eps), optax.scale_by_learning_rate(learning_rate))``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> opt = newton(1.0, eps=1.0)
    >>> state = opt.init(jnp.zeros(2))
    >>> updates, state = opt.update(jnp.array([1.0, 0.0]), state)
    >>> updates.tolist()  # (I + g g^T)^{-1} g = g / 2, negated
    [-0.5, -0.0]
    """
    traced = isinstance(learning_rate, jax.core.Tracer)  # e.g. vmapped over learning rates (WAX-ML's scans)
    if traced and jnp.ndim(learning_rate) != 0:
        raise ValueError(f"newton: learning_rate must be a scalar, got shape {jnp.shape(learning_rate)}")
    if not callable(learning_rate) and not traced:
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) \
                or not math.isfinite(learning_rate) or learning_rate <= 0:
            raise ValueError(f"newton: learning_rate must be a finite number > 0 or an optax schedule, "
                             f"got {learning_rate!r}")
    return optax.chain(scale_by_newton(eps=eps), optax.scale_by_learning_rate(learning_rate))
