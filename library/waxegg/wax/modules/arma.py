"""ARMA linear filter: a streaming signal generator driven by innovations."""

from __future__ import annotations

import math
from typing import Any

import haiku as hk
import jax.numpy as jnp

from waxegg.wax.modules._coefs import as_coefficients


class ARMA(hk.Module):
    """``y_t = sum_i alpha[i] y_{t-1-i} + eps_t + sum_j beta[j] eps_{t-1-j}``, one step per call.

    Feed innovations ``eps_t`` (any shape; every element is an independent series) and get the
    ARMA(p, q) signal, ``p = len(alpha)``, ``q = len(beta)``. Past values start at 0, so the
    output equals ``scipy.signal.lfilter(np.r_[1, beta], np.r_[1, -alpha], eps)``.

    ``alpha[0]`` multiplies lag 1 (the usual convention; WAX-ML's ``ARMA`` paired ``alpha[-1]`` with
    lag 1). A non-finite innovation gives a NaN output at its step and is taken as 0 in the
    recursion, so one bad value does not silence the generator for ever.

    Parameters
    ----------
    alpha : sequence of float
        Autoregressive coefficients (may be empty).
    beta : sequence of float
        Moving-average coefficients (may be empty).
    name : str, optional
        Haiku module name.

    Raises
    ------
    ValueError
        Coefficients that are not a finite 1-D sequence (the argument is named).
    """

    def __init__(self, alpha: Any, beta: Any = (), name: str | None = None):
        super().__init__(name=name)
        self.alpha = as_coefficients("ARMA", "alpha", alpha)
        self.beta = as_coefficients("ARMA", "beta", beta)

    def __call__(self, eps: Any) -> jnp.ndarray:
        eps = jnp.asarray(eps)
        if not jnp.issubdtype(eps.dtype, jnp.floating):
            eps = eps.astype(jnp.result_type(float))
        p, q = len(self.alpha), len(self.beta)
        # Newest first: y_past[0] is y_{t-1}, eps_past[0] is eps_{t-1}.
        y_past = hk.get_state("y_past", (p,) + eps.shape, eps.dtype, init=jnp.zeros)
        eps_past = hk.get_state("eps_past", (q,) + eps.shape, eps.dtype, init=jnp.zeros)
        ok = jnp.isfinite(eps)
        e = jnp.where(ok, eps, jnp.zeros_like(eps))
        y = e
        if p:
            y = y + jnp.tensordot(jnp.asarray(self.alpha, eps.dtype), y_past, axes=1)
        if q:
            y = y + jnp.tensordot(jnp.asarray(self.beta, eps.dtype), eps_past, axes=1)
            hk.set_state("eps_past", jnp.concatenate([e[None], eps_past[:-1]]))
        if p:
            hk.set_state("y_past", jnp.concatenate([y[None], y_past[:-1]]))
        return jnp.where(ok, y, jnp.full_like(y, math.nan))

