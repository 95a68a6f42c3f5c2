"""Standardisation with masked statistics as a (stateless) Haiku module."""

from __future__ import annotations

from typing import Any, Sequence

import haiku as hk
import jax
import jax.numpy as jnp

from waxegg.wax.modules.mask_mean import masked_moments
from waxegg.wax.modules.mask_std import masked_std


class MaskNormalize(hk.Module):
    """``(x - mean) / std`` with mean and std taken over the masked-in values (see :class:`MaskStd`).

    Every entry is normalised (the mask selects the statistics, not the output); results that are
    not finite (no selected value, zero spread, missing input) become 0, as WAX-ML's
    ``FillNanInf`` did. ``assume_centered=True`` gives ``x / rms``. (WAX-ML divided by the std
    without centring, whatever ``assume_centered`` said.)
    """

    def __init__(self, axis: int | Sequence[int] | None = None, *, ddof: int = 0, assume_centered: bool = False,
                 mask_axis: int | Sequence[int] | None = None, name: str | None = None):
        super().__init__(name=name)
        self.axis, self.ddof, self.assume_centered, self.mask_axis = axis, ddof, assume_centered, mask_axis

    def __call__(self, mask: Any, x: Any) -> Any:
        def normalize(leaf):
            _, _, mean, _ = masked_moments(mask, leaf, self.axis, self.mask_axis, "MaskNormalize")
            std = masked_std(mask, leaf, self.axis, self.mask_axis, self.ddof, self.assume_centered, "MaskNormalize")
            leaf = jnp.asarray(leaf, mean.dtype)
            z = (leaf if self.assume_centered else leaf - mean) / std
            return jnp.where(jnp.isfinite(z), z, jnp.zeros_like(z))

        return jax.tree_util.tree_map(normalize, x)
