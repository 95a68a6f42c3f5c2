"""Workloads shared by the sweep runner, asv and the tests: seeded data and the seed workflows."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import haiku as hk
import numpy as np
import pandas as pd
import xarray as xr

from waxegg.wax.accessors import register_wax_accessors
from waxegg.wax.compile import jit_init_apply
from waxegg.wax.format import format_dataframe
from waxegg.wax.modules import EWMA
from waxegg.wax.stream import convert_to_tensors, tree_access_data
from waxegg.wax.unroll import dynamic_unroll


@functools.lru_cache(maxsize=4)
def make_frame(T: int, N: int, dtype: str = "float64", seed: int = 0) -> pd.DataFrame:
    """The seed's data: ``T x N`` standard normals indexed by seconds from 1970 (cached per key).

    Callers must not modify the returned frame.
    """
    if T < 1 or N < 1:
        raise ValueError(f"T and N must be >= 1, got T={T}, N={N}")
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((T, N), dtype=np.dtype(dtype).type) if np.dtype(dtype).kind == "f" else None
    if values is None:
        raise ValueError(f"dtype must be a floating dtype, got {dtype!r}")
    return pd.DataFrame(values, index=pd.date_range("1970", periods=T, freq="s"), copy=False)


@dataclass
class WaxSeedWorkflow:
    """The WAX 3-step workflow of the seed tutorial, one method per step.

    ``encode()`` (synchronise / trace / encode and put on the device), ``compute()`` (EWMA under
    :func:`dynamic_unroll`; the first call compiles), ``format()`` (back to a DataFrame). Each
    step can be called and timed on its own once the previous one has run.
    """

    dataframe: pd.DataFrame
    alpha: float = 0.1
    _state: dict[str, Any] = field(default_factory=dict, repr=False)

    def encode(self) -> Any:
        register_wax_accessors()
        dataset = xr.DataArray(self.dataframe).to_dataset(name="dataarray")
        stream = self.dataframe.wax.stream()
        np_data, np_index, xs = stream.trace_dataset(dataset)
        jnp_data, jnp_index, jxs = convert_to_tensors((np_data, np_index, xs), "jax")
        alpha = self.alpha

        @jit_init_apply
        @hk.transform_with_state
        def transform_dataset(step):
            data = tree_access_data(jnp_data, jnp_index, step)
            return EWMA(alpha=alpha, adjust=True)(data["dataarray"])

        self._state.update(dataset=dataset, xs=xs, transform=transform_dataset, jnp_data=jnp_data)
        return jnp_data

    def compute(self) -> Any:
        if "transform" not in self._state:
            raise RuntimeError("call encode() before compute()")
        rng = next(hk.PRNGSequence(42))
        outputs, state = dynamic_unroll(self._state["transform"], self._state["xs"], rng)
        self._state["outputs"] = outputs
        return outputs

    def format(self) -> pd.DataFrame:
        if "outputs" not in self._state:
            raise RuntimeError("call compute() before format()")
        dataset = self._state["dataset"]
        return format_dataframe(dataset.coords, np.asarray(self._state["outputs"]), format_dims=dataset.dataarray.dims)

    def run(self) -> pd.DataFrame:
        self.encode()
        self.compute()
        return self.format()
