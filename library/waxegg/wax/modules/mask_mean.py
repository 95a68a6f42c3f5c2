"""Mean over the masked-in values as a (stateless) Haiku module."""

from __future__ import annotations

from typing import Any, Sequence

import haiku as hk
import jax
import jax.numpy as jnp

from waxegg.wax.modules._util import as_floating
from waxegg.wax.modules.apply_mask import expand_mask


def masked_moments(mask, x, reduce_axis, mask_axis, owner):
    """``(count, mean, centred values)`` of ``x`` over the entries where ``mask`` is true and ``x`` present."""
    x = as_floating(x)
    keep = expand_mask(mask, x.shape, mask_axis, owner) & ~jnp.isnan(x)
    xz = jnp.where(keep, x, jnp.zeros_like(x))
    count = keep.sum(axis=reduce_axis, keepdims=True).astype(x.dtype)
    mean = xz.sum(axis=reduce_axis, keepdims=True) / count
    return keep, count, mean, xz


class MaskMean(hk.Module):
    """Mean of ``x`` over the entries where ``mask`` is true, missing values skipped.

    ``MaskMean(axis=None)(mask, x)`` equals ``numpy.nanmean(numpy.where(mask, x, nan), axis)`` on
    every leaf (NaN where nothing is selected). ``axis`` is the reduction axis (None: all).
    ``mask_axis`` tells which data axes the mask spans (see :class:`ApplyMask`).
    """

    def __init__(self, axis: int | Sequence[int] | None = None, name: str | None = None, *,
                 mask_axis: int | Sequence[int] | None = None):
        super().__init__(name=name)
        self.axis = axis
        self.mask_axis = mask_axis

    def __call__(self, mask: Any, x: Any) -> Any:
        def mean(leaf):
            _, count, m, _ = masked_moments(mask, leaf, self.axis, self.mask_axis, "MaskMean")
            m = jnp.where(count > 0, m, jnp.nan)
            return jnp.squeeze(m, axis=self.axis) if self.axis is not None else m.reshape(())

        return jax.tree_util.tree_map(mean, x)
