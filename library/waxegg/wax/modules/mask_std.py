"""Standard deviation over the masked-in values as a (stateless) Haiku module."""

from __future__ import annotations

from typing import Any, Sequence

import haiku as hk
import jax
import jax.numpy as jnp

from waxegg.wax.modules.mask_mean import masked_moments


def masked_std(mask, x, axis, mask_axis, ddof, assume_centered, owner, eps=0.0):
    """Standard deviation (keepdims) of ``x`` over the masked-in, present entries.

    The square root is guarded: at zero spread the value is exactly 0 and its gradient 0 (a bare
    ``sqrt`` has an infinite derivative there, which makes the gradient NaN). ``eps`` is added
    under the root for positive spreads, as WAX-ML did.
    """
    keep, count, mean, xz = masked_moments(mask, x, axis, mask_axis, owner)
    centred = xz if assume_centered else jnp.where(keep, xz - mean, jnp.zeros_like(xz))
    dof = count - ddof
    var = (centred * centred).sum(axis=axis, keepdims=True) / jnp.where(dof > 0, dof, jnp.ones_like(dof))
    positive = var > 0
    root = jnp.sqrt(jnp.where(positive, var + eps, jnp.ones_like(var)))
    std = jnp.where(positive, root, jnp.zeros_like(var))
    return jnp.where(dof > 0, std, jnp.nan)


class MaskStd(hk.Module):
    """Standard deviation of ``x`` over the entries where ``mask`` is true, missing values skipped.

    ``MaskStd(axis=None, ddof=0)(mask, x)`` equals
    ``numpy.nanstd(numpy.where(mask, x, nan), axis, ddof=ddof)`` on every leaf (NaN when fewer
    than ``ddof + 1`` values are selected). ``assume_centered=True`` takes the mean to be 0 (the
    root mean square). At zero spread the result is 0 with gradient 0 (no NaN gradient).
    WAX-ML added ``eps = finfo(dtype).resolution ** 2`` inside the square root of a positive
    spread (and returned 0, not NaN, when nothing is selected); pass ``eps`` for its values.
    """

    def __init__(self, axis: int | Sequence[int] | None = None, assume_centered: bool = False, name: str | None = None,
                 *, ddof: int = 0, mask_axis: int | Sequence[int] | None = None, eps: float = 0.0):
        super().__init__(name=name)
        if isinstance(ddof, bool) or not isinstance(ddof, int) or ddof < 0:
            raise ValueError(f"MaskStd: ddof must be an integer >= 0, got {ddof!r}")
        self.axis, self.ddof, self.assume_centered, self.mask_axis = axis, ddof, assume_centered, mask_axis
        self.eps = float(eps)

    def __call__(self, mask: Any, x: Any) -> Any:
        def std(leaf):
            s = masked_std(mask, leaf, self.axis, self.mask_axis, self.ddof, self.assume_centered, "MaskStd",
                           self.eps)
            return jnp.squeeze(s, axis=self.axis) if self.axis is not None else s.reshape(())

        return jax.tree_util.tree_map(std, x)
