"""The interface every compute backend implements."""

from __future__ import annotations

import numpy as np

from waxegg.wax._params import EWMParams


class Backend:
    """A compute backend. Kernels take and return numpy arrays with time on axis 0."""

    name: str = "?"

    def ewm_mean(self, values: np.ndarray, params: EWMParams) -> np.ndarray:
        """pandas-exact EWM mean of ``values`` (shape ``(T, ...)``, floating) along axis 0.

        Returns a new array of the same shape and dtype.
        """
        raise NotImplementedError(f"backend {self.name!r} has no ewm_mean")
