"""Validation of exponentially-weighted window parameters, mirroring pandas.

pandas (``pandas.core.window.ewm.get_center_of_mass``) turns exactly one of ``com``, ``span``,
``halflife`` or ``alpha`` into a centre of mass and derives ``alpha = 1 / (1 + com)`` from it. We do
the same arithmetic so that our results match pandas to the last bits, and additionally reject
non-finite values, which pandas lets through to produce silent NaNs.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EWMParams:
    """Validated parameters of an exponentially weighted window.

    Attributes
    ----------
    com : float
        Centre of mass, ``com >= 0``.
    alpha : float
        Smoothing factor ``1 / (1 + com)``, in ``(0, 1]``.
    adjust : bool
        pandas' ``adjust``: divide by the decaying sum of weights (True) or use the recursive form.
    ignore_na : bool
        pandas' ``ignore_na``: whether missing values still decay the weights.
    min_periods : int
        Number of observations needed before a value is emitted (pandas uses ``max(min_periods, 1)``).
    """

    com: float
    alpha: float
    adjust: bool
    ignore_na: bool
    min_periods: int
    #: pandas' own blend rule for ``adjust=False, alpha=0.5`` (see :func:`pandas_half_alpha_blend`).
    half_alpha_blend: bool = False


@functools.lru_cache(maxsize=1)
def pandas_half_alpha_blend() -> bool:
    """Whether this pandas blends ``adjust=False, alpha=0.5`` as ``ow * mean + (1 - ow) * x``.

    Measured on pandas 3.1.1: for ``com == 1`` exactly (``alpha == 0.5``), ``adjust=False``,
    ``ignore_na=False``, a value after a gap of k missing values is blended with the decayed old
    weight ``ow = 0.5 ** (k + 1)`` and new weight ``1 - ow``, whereas every other alpha uses the
    documented ``(ow * mean + alpha * x) / (ow + alpha)``. ``Series([1, nan, 0]).ewm(alpha=0.5,
    adjust=False).mean()`` ends in 0.25 instead of 1/3. We probe pandas once and follow it, so
    that parity holds whichever rule the installed pandas uses.
    """
    import numpy as np
    import pandas as pd

    last = pd.Series([1.0, np.nan, 0.0]).ewm(alpha=0.5, adjust=False).mean().iloc[-1]
    return bool(last == 0.25)


def _check_finite(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def center_of_mass(
    com: float | None = None,
    span: float | None = None,
    halflife: float | None = None,
    alpha: float | None = None,
) -> float:
    """Centre of mass from exactly one of ``com``, ``span``, ``halflife``, ``alpha`` (pandas rules)."""
    given = {k: v for k, v in dict(com=com, span=span, halflife=halflife, alpha=alpha).items() if v is not None}
    if len(given) > 1:
        raise ValueError(f"com, span, halflife, and alpha are mutually exclusive; got {sorted(given)}")
    if not given:
        raise ValueError("Must pass one of com, span, halflife, or alpha")
    (name, value), = given.items()
    value = _check_finite(name, value)
    if name == "com":
        if value < 0:
            raise ValueError(f"com must satisfy: com >= 0, got {value}")
        return value
    if name == "span":
        if value < 1:
            raise ValueError(f"span must satisfy: span >= 1, got {value}")
        return (value - 1) / 2
    if name == "halflife":
        if value <= 0:
            raise ValueError(f"halflife must satisfy: halflife > 0, got {value}")
        decay = 1 - math.exp(math.log(0.5) / value)
        return 1 / decay - 1
    if value <= 0 or value > 1:
        raise ValueError(f"alpha must satisfy: 0 < alpha <= 1, got {value}")
    return (1 - value) / value


def ewm_params(
    com: float | None = None,
    span: float | None = None,
    halflife: float | None = None,
    alpha: float | None = None,
    *,
    min_periods: int | None = 0,
    adjust: bool = True,
    ignore_na: bool = False,
) -> EWMParams:
    """Validate window options the way ``pandas.DataFrame.ewm`` does and return :class:`EWMParams`."""
    c = center_of_mass(com, span, halflife, alpha)
    if min_periods is None:
        min_periods = 0
    if isinstance(min_periods, bool) or int(min_periods) != min_periods:
        raise ValueError(f"min_periods must be an integer, got {min_periods!r}")
    if min_periods < 0:
        raise ValueError(f"min_periods must be >= 0, got {min_periods}")
    if not isinstance(adjust, (bool,)):
        raise TypeError(f"adjust must be a bool, got {adjust!r}")
    if not isinstance(ignore_na, bool):
        raise TypeError(f"ignore_na must be a bool, got {ignore_na!r}")
    return EWMParams(
        com=c,
        alpha=1.0 / (1.0 + c),
        adjust=adjust,
        ignore_na=ignore_na,
        # pandas: "min_periods=max(int(min_periods), 1)"; the first value needs one observation anyway.
        min_periods=max(int(min_periods), 1),
        half_alpha_blend=(not adjust) and c == 1.0 and pandas_half_alpha_blend(),
    )


@dataclass(frozen=True, eq=False)
class RollingParams:
    """A validated rolling window, as the kernels see it.

    Either a trailing window of ``window`` steps (``start``/``end`` None: window ``t`` covers rows
    ``max(0, t - window + 1) .. t``; kernels can carry state across calls), or explicit bounds
    (offset windows, ``center``, ``closed``, ``step``): output row ``k`` covers input rows
    ``start[k] .. end[k] - 1``, exactly pandas' window bounds (``len(start)`` output rows).

    Attributes
    ----------
    window : int
        Steps in a trailing window (for explicit bounds: the largest window, informative only).
    min_periods : int
        Observations (finite values) a window needs for a value, ``>= 0``.
    start, end : numpy int64 arrays or None
        pandas' window bounds.
    """

    window: int
    min_periods: int
    start: Any = None
    end: Any = None

    @property
    def fixed(self) -> bool:
        """A trailing window of ``window`` steps (state can be carried across calls)."""
        return self.start is None
