"""Standardisation with masked statistics as a (stateless) Haiku module."""

from __future__ import annotations

from typing import Any, Sequence

import haiku as hk
import jax
import jax.numpy as jnp

from waxegg.wax.modules.mask_mean import masked_moments
from waxegg.wax.modules.mask_std import masked_std


class MaskNormalize(hk.Module):
    """``x / std`` (WAX-ML's documented behaviour), or ``(x - mean) / std`` with ``center=True``.

    The std (and mean) are taken over the masked-in values (see :class:`MaskStd`); it is centred
    unless ``assume_centered=True`` (then the root mean square). Every entry is normalised (the
    mask selects the statistics, not the output); results that are not finite (no selected value,
    zero spread, missing input) become 0, as WAX-ML's ``FillNanInf`` did.

    ``center`` defaults to False because WAX-ML's ``MaskNormalize`` ("normalize data by its
    standard deviation") scales without subtracting the mean, and its users' features rely on it;
    ``center=True`` gives the z-score. With ``assume_centered=True`` both are ``x / rms``.
    """

    def __init__(self, axis: int | Sequence[int] | None = None, assume_centered: bool = False, name: str | None = None,
                 *, ddof: int = 0, center: bool = False, mask_axis: int | Sequence[int] | None = None):
        super().__init__(name=name)
        self.axis, self.ddof, self.assume_centered, self.mask_axis = axis, ddof, assume_centered, mask_axis
        self.center = bool(center)

    def __call__(self, mask: Any, x: Any) -> Any:
        def normalize(leaf):
            _, _, mean, _ = masked_moments(mask, leaf, self.axis, self.mask_axis, "MaskNormalize")
            std = masked_std(mask, leaf, self.axis, self.mask_axis, self.ddof, self.assume_centered, "MaskNormalize")
            leaf = jnp.asarray(leaf, mean.dtype)
            z = (leaf - mean if self.center and not self.assume_centered else leaf) / std
            return jnp.where(jnp.isfinite(z), z, jnp.zeros_like(z))

        return jax.tree_util.tree_map(normalize, x)
