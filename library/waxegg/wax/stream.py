"""Step (1) of the WAX workflow: synchronise, trace and encode data for fast per-step access.

A :class:`Stream` turns an :class:`xarray.Dataset` into three things (WAX's names):

- ``np_data``: ``{time_dim: {variable: array with that time dim first}}``, numeric (encoded);
  variables without a time dimension sit under :data:`STATIC`;
- ``np_index``: ``{time_dim: int array}``, for each step of the local time, the row of each time
  dimension's data that this step sees;
- ``xs``: the steps, ``numpy.arange(T)``.

:func:`tree_access_data` reads one step from those inside a JAX function, and :func:`convert_to_tensors`
puts them on the JAX device keeping float64 as float64.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import jax
import numpy as np
import pandas as pd
import xarray as xr

from waxegg.wax._x64 import x64_context
from waxegg.wax.encode import Encoder, encode_array

STATIC = "__static__"


def _time_dims(dataset: xr.Dataset) -> list[str]:
    return [str(d) for d in dataset.dims if d in dataset.coords and np.asarray(dataset[d]).dtype.kind == "M"]


@dataclass
class Stream:
    """Options for turning a dataset into a stream of steps.

    Parameters
    ----------
    local_time : str, optional
        Name of the dimension that drives the steps. Defaults to the only ``datetime64``
        dimension, or else the first dimension of the first variable.
    pbar : bool, default False
        Show a progress bar on long Python-level merges.
    """

    local_time: str | None = None
    pbar: bool = False
    encoders: dict[str, Encoder] = field(default_factory=dict, init=False, repr=False)

    def resolve_local_time(self, dataset: xr.Dataset) -> str:
        """The local time dimension of ``dataset`` under these options (with clear errors)."""
        if not isinstance(dataset, xr.Dataset):
            raise TypeError(f"trace_dataset expects an xarray.Dataset, got {type(dataset).__name__}")
        if not dataset.data_vars:
            raise ValueError("cannot stream a Dataset with no data variables")
        if self.local_time is not None:
            if self.local_time not in dataset.dims:
                raise ValueError(f"local_time={self.local_time!r} is not a dimension of the dataset "
                                 f"(dimensions: {list(dataset.dims)})")
            return self.local_time
        times = _time_dims(dataset)
        if len(times) == 1:
            return times[0]
        if len(times) > 1:
            raise ValueError(f"the dataset has several time dimensions {times}: choose one with local_time=")
        first = next(iter(dataset.data_vars.values()))
        if not first.dims:
            raise ValueError(f"variable {first.name!r} has no dimension to stream over")
        return str(first.dims[0])

    def trace_dataset(self, dataset: xr.Dataset) -> tuple[dict, dict, np.ndarray]:
        """Encode ``dataset`` and prepare the per-step index.

        Returns
        -------
        np_data, np_index, xs
            See the module docstring. Arrays are views of the dataset's data where possible.
        """
        local = self.resolve_local_time(dataset)
        T = dataset.sizes[local]
        if T == 0:
            raise ValueError(f"cannot stream over an empty time dimension {local!r}")
        other_times = [d for d in _time_dims(dataset) if d != local]
        np_data: dict[str, dict[str, np.ndarray]] = {local: {}}
        self.encoders = {}
        for name, var in dataset.data_vars.items():
            if local in var.dims:
                dim = local
            else:
                sec = [d for d in var.dims if d in other_times]
                if sec:
                    raise NotImplementedError(
                        f"variable {name!r} runs on secondary time dimension {sec[0]!r}; multi-stream "
                        "synchronisation is not available yet")
                dim = STATIC
            values = var.transpose(dim, ...).values if dim != STATIC else var.values
            encoded, enc = encode_array(values, name=str(name))
            if enc is not None:
                self.encoders[str(name)] = enc
            np_data.setdefault(dim, {})[str(name)] = encoded
        np_index = {local: np.arange(T)}
        xs = np.arange(T)
        return np_data, np_index, xs


def tree_access_data(data: Mapping[str, Mapping[str, Any]], index: Mapping[str, Any], step: Any) -> dict[str, Any]:
    """The values every variable takes at ``step``, as a flat ``{variable: value}`` dict.

    Works on numpy and JAX arrays alike, with a concrete or traced ``step``.
    """
    out: dict[str, Any] = {}
    for dim, variables in data.items():
        if dim == STATIC:
            out.update(variables)
            continue
        i = index[dim][step]
        out.update({name: v[i] for name, v in variables.items()})
    return out


def device_put(tree: Any) -> Any:
    """Put every array of ``tree`` on the default JAX device, keeping 64-bit dtypes."""
    with x64_context():
        return jax.tree_util.tree_map(jax.device_put, tree)


def convert_to_tensors(tree: Any, backend: str = "jax") -> Any:
    """Drop-in for eagerpy's ``convert_to_tensors(tree, "jax")`` as used by WAX-ML's tutorial."""
    if backend != "jax":
        raise ValueError(f"convert_to_tensors only supports backend='jax', got {backend!r}")
    return device_put(tree)


def index_values(dataset: xr.Dataset, dim: str) -> pd.Index:
    """The coordinate of ``dim`` as a pandas Index (a RangeIndex when there is none)."""
    if dim in dataset.coords:
        return dataset.indexes[dim]
    return pd.RangeIndex(dataset.sizes[dim], name=dim)
