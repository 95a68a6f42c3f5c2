"""The interface every compute backend implements: one method per window statistic.

Every kernel takes time-first NumPy arrays (``(T, ...)``, floating, any memory layout) and returns
``(out, state)``: a fresh array of the same dtype and the state after the last step. Passing that
state back as ``state=`` continues the stream: the second half of a series run from the first
half's state equals the one-shot run bit for bit. A state belongs to the backend that made it.

A backend declares what it supports as data (:class:`Capabilities`), so the accessors, the sweep
and asv ask the registry (:func:`waxegg.wax.backends.backends_for`) rather than inspecting
methods. A statistic a backend does not declare raises :class:`NotImplementedError` naming it;
nothing silently takes another path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from waxegg.wax._params import EWMParams, RollingParams

#: Statistics of ``obj.wax.ewm(...)``, as pandas names them.
EWM_STATISTICS = ("mean", "sum", "var", "std", "cov", "corr")
#: Statistics of ``obj.wax.rolling(...)``, as pandas names them.
ROLLING_STATISTICS = ("mean", "sum", "var", "std", "min", "max", "median", "count", "cov", "corr")
#: Every kernel name a backend may declare: ``ewm_<stat>`` and ``rolling_<stat>``.
KERNELS = tuple(f"ewm_{s}" for s in EWM_STATISTICS) + tuple(f"rolling_{s}" for s in ROLLING_STATISTICS)
#: Statistics taking two series (``other``).
PAIRWISE = frozenset({"ewm_cov", "ewm_corr", "rolling_cov", "rolling_corr"})


@dataclass(frozen=True)
class Capabilities:
    """What a backend can compute, declared as data.

    Attributes
    ----------
    kernels : frozenset of str
        Kernel names (see :data:`KERNELS`) the backend implements.
    dtypes : tuple of numpy dtypes
        Floating dtypes computed natively (others are converted by the accessor first).
    state : bool
        Whether every kernel takes ``state=`` and returns its final state.
    times : bool
        Whether ``ewm_mean`` takes ``deltas=`` (pandas' ``times=`` with a time-based halflife).
    variable_windows : bool
        Whether rolling kernels take explicit window bounds (offset windows, ``center``,
        ``closed``, ``step``).
    """

    kernels: frozenset[str]
    dtypes: tuple[np.dtype, ...] = (np.dtype(np.float32), np.dtype(np.float64))
    state: bool = True
    times: bool = True
    variable_windows: bool = True
    notes: dict[str, str] = field(default_factory=dict)

    def supports(self, kernel: str) -> bool:
        return kernel in self.kernels


class Backend:
    """A compute backend. Kernels take and return NumPy arrays with time on axis 0.

    Subclasses set :attr:`capabilities` and implement the kernels they declare. ``var``/``std``
    and ``corr`` have default implementations in terms of ``cov``/``var`` only where the result
    stays pandas-exact; a backend overrides any of them with a native kernel.
    """

    name: str = "?"
    capabilities: ClassVar[Capabilities] = Capabilities(frozenset())

    def _missing(self, kernel: str) -> NotImplementedError:
        return NotImplementedError(f"backend {self.name!r} has no {kernel} kernel; "
                                   f"it offers {sorted(self.capabilities.kernels)}")

    # --- exponentially weighted --------------------------------------------------------------
    def ewm_mean(self, values: np.ndarray, params: EWMParams, *, state: Any = None,
                 deltas: np.ndarray | None = None) -> tuple[np.ndarray, Any]:
        """pandas' ``ewm(...).mean()`` along axis 0. ``deltas``: ``(T-1,)`` time steps in halflife units
        (pandas' ``times=``), or None for equally spaced steps."""
        raise self._missing("ewm_mean")

    def ewm_sum(self, values: np.ndarray, params: EWMParams, *, state: Any = None) -> tuple[np.ndarray, Any]:
        """pandas' ``ewm(...).sum()`` along axis 0."""
        raise self._missing("ewm_sum")

    def ewm_var(self, values: np.ndarray, params: EWMParams, *, bias: bool = False,
                state: Any = None) -> tuple[np.ndarray, Any]:
        """pandas' ``ewm(...).var(bias=bias)`` along axis 0."""
        raise self._missing("ewm_var")

    def ewm_std(self, values: np.ndarray, params: EWMParams, *, bias: bool = False,
                state: Any = None) -> tuple[np.ndarray, Any]:
        """pandas' ``ewm(...).std(bias=bias)``: the square root of :meth:`ewm_var` (negatives -> 0)."""
        out, state = self.ewm_var(values, params, bias=bias, state=state)
        return zsqrt(out), state

    def ewm_cov(self, x: np.ndarray, y: np.ndarray, params: EWMParams, *, bias: bool = False,
                state: Any = None) -> tuple[np.ndarray, Any]:
        """pandas' ``ewm(...).cov(other, bias=bias)`` of same-shaped ``x`` and ``y`` along axis 0."""
        raise self._missing("ewm_cov")

    def ewm_corr(self, x: np.ndarray, y: np.ndarray, params: EWMParams, *,
                 state: Any = None) -> tuple[np.ndarray, Any]:
        """pandas' ``ewm(...).corr(other)`` of same-shaped ``x`` and ``y`` along axis 0."""
        raise self._missing("ewm_corr")

    # --- rolling -----------------------------------------------------------------------------
    def rolling_mean(self, values: np.ndarray, window: RollingParams, *, state: Any = None) -> tuple[np.ndarray, Any]:
        """pandas' ``rolling(...).mean()`` along axis 0."""
        raise self._missing("rolling_mean")

    def rolling_sum(self, values: np.ndarray, window: RollingParams, *, state: Any = None) -> tuple[np.ndarray, Any]:
        """pandas' ``rolling(...).sum()``."""
        raise self._missing("rolling_sum")

    def rolling_var(self, values: np.ndarray, window: RollingParams, *, ddof: int = 1,
                    state: Any = None) -> tuple[np.ndarray, Any]:
        """pandas' ``rolling(...).var(ddof=ddof)``."""
        raise self._missing("rolling_var")

    def rolling_std(self, values: np.ndarray, window: RollingParams, *, ddof: int = 1,
                    state: Any = None) -> tuple[np.ndarray, Any]:
        """pandas' ``rolling(...).std(ddof=ddof)``: the square root of :meth:`rolling_var` (negatives -> 0)."""
        out, state = self.rolling_var(values, window, ddof=ddof, state=state)
        return zsqrt(out), state

    def rolling_min(self, values: np.ndarray, window: RollingParams, *, state: Any = None) -> tuple[np.ndarray, Any]:
        """pandas' ``rolling(...).min()``."""
        raise self._missing("rolling_min")

    def rolling_max(self, values: np.ndarray, window: RollingParams, *, state: Any = None) -> tuple[np.ndarray, Any]:
        """pandas' ``rolling(...).max()``."""
        raise self._missing("rolling_max")

    def rolling_median(self, values: np.ndarray, window: RollingParams, *,
                       state: Any = None) -> tuple[np.ndarray, Any]:
        """pandas' ``rolling(...).median()``."""
        raise self._missing("rolling_median")

    def rolling_count(self, values: np.ndarray, window: RollingParams, *,
                      state: Any = None) -> tuple[np.ndarray, Any]:
        """pandas' ``rolling(...).count()``: observations (finite values) in each window."""
        raise self._missing("rolling_count")

    def rolling_cov(self, x: np.ndarray, y: np.ndarray, window: RollingParams, *, ddof: int = 1,
                    state: Any = None) -> tuple[np.ndarray, Any]:
        """pandas' ``rolling(...).cov(other, ddof=ddof)`` of same-shaped ``x`` and ``y``."""
        raise self._missing("rolling_cov")

    def rolling_corr(self, x: np.ndarray, y: np.ndarray, window: RollingParams, *, ddof: int = 1,
                     state: Any = None) -> tuple[np.ndarray, Any]:
        """pandas' ``rolling(...).corr(other, ddof=ddof)``."""
        raise self._missing("rolling_corr")


def zsqrt(values: np.ndarray) -> np.ndarray:
    """pandas' ``zsqrt``: the square root, with negative values (rounding of a variance) set to 0."""
    with np.errstate(invalid="ignore"):
        return np.where(values < 0, 0, np.sqrt(values)).astype(values.dtype, copy=False)


@dataclass(frozen=True, eq=False)
class WindowKernel:
    """One statistic of one backend with its parameters bound: ``kernel(*arrays, state=None) -> (out, state)``.

    What :func:`waxegg.wax.chunked.chunked_unroll` and the dask paths run chunk after chunk,
    carrying the state; made by :func:`waxegg.wax.backends.window_kernel`.
    """

    name: str
    backend: Backend
    args: tuple = ()
    options: dict = field(default_factory=dict)

    @property
    def n_inputs(self) -> int:
        return 2 if self.name in PAIRWISE else 1

    def __call__(self, *arrays: np.ndarray, state: Any = None) -> tuple[np.ndarray, Any]:
        if len(arrays) != self.n_inputs:
            raise TypeError(f"{self.name} takes {self.n_inputs} array(s), got {len(arrays)}")
        return getattr(self.backend, self.name)(*arrays, *self.args, state=state, **self.options)
