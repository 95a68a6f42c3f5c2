"""Masking as a (stateless) Haiku module."""

from __future__ import annotations

from typing import Any, Sequence

import haiku as hk
import jax
import jax.numpy as jnp


def expand_mask(mask: Any, shape: tuple, axis: int | Sequence[int] | None, owner: str) -> jnp.ndarray:
    """``mask`` broadcast to ``shape``; with ``axis`` the mask's dimensions are those axes of the data.

    Raises a ``ValueError`` naming ``owner`` and both shapes when they do not fit.
    """
    mask = jnp.asarray(mask, bool)
    if axis is not None:
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        axes = tuple(a % len(shape) for a in axes)
        if mask.ndim != len(axes) or any(mask.shape[i] != shape[a] for i, a in enumerate(axes)):
            raise ValueError(f"{owner}: mask of shape {mask.shape} does not match axes {axes} of data shape {shape}")
        full = [1] * len(shape)
        for i, a in enumerate(axes):
            full[a] = mask.shape[i]
        mask = mask.reshape(full)
    try:
        return jnp.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError(f"{owner}: mask of shape {mask.shape} cannot broadcast to data shape {shape}") from None


class ApplyMask(hk.Module):
    """Keep the values where ``mask`` is true and put ``mask_value`` elsewhere, on every leaf.

    ``ApplyMask(axis=None, mask_value=0.0)(mask, x)``. With ``axis=None`` the mask has the data's
    shape (WAX-ML's rule: a mask spanning some axes only must say which, so a ``(3,)`` mask is not
    silently laid along the last axis of ``(2, 3)`` data); with an int or a tuple of ints the mask's
    dimensions are those axes of the data (WAX-ML supported only ``axis`` 0 or 1 of 2-d data).
    """

    def __init__(self, axis: int | Sequence[int] | None = None, mask_value: Any = 0.0, name: str | None = None):
        super().__init__(name=name)
        self.axis = axis
        self.mask_value = mask_value

    def __call__(self, mask: Any, x: Any) -> Any:
        def apply(leaf):
            leaf = jnp.asarray(leaf)
            if self.axis is None and jnp.shape(mask) != leaf.shape:
                raise ValueError(f"ApplyMask: mask of shape {jnp.shape(mask)} differs from data shape "
                                 f"{leaf.shape}; pass axis= to name the data axes the mask spans")
            m = expand_mask(mask, leaf.shape, self.axis, "ApplyMask")
            return jnp.where(m, leaf, jnp.asarray(self.mask_value).astype(leaf.dtype))

        return jax.tree_util.tree_map(apply, x)
