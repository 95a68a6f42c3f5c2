"""Timing primitives shared by the sweep runner and the asv suites.

Protocol (see BENCHMARKING.md): one warm-up call (reported separately as the first/compile
time), then best-of-k steady-state repeats, with results checked before any time is quoted.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import jax


def block(x: Any) -> Any:
    """Wait for asynchronous JAX results inside ``x`` (no-op for numpy / pandas)."""
    for leaf in jax.tree_util.tree_leaves(x):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return x


def time_once(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds for one call of ``fn`` (JAX results awaited) and its result."""
    gc.collect()
    t0 = time.perf_counter()
    result = block(fn())
    return time.perf_counter() - t0, result


@dataclass
class Timing:
    """First call and steady-state repeats of one function, in seconds."""

    first: float
    repeats: list[float] = field(default_factory=list)
    result: Any = None

    @property
    def best(self) -> float:
        return min(self.repeats) if self.repeats else self.first


def measure(fn: Callable[[], Any], repeat: int = 3, warmup: bool = True) -> Timing:
    """Time ``fn``: the first call (includes compilation), then ``repeat`` steady-state calls.

    With ``warmup=False`` the first call counts as a repeat too (for expensive one-shot stages).
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    first, result = time_once(fn)
    timing = Timing(first=first, result=result)
    if not warmup:
        timing.repeats.append(first)
    while len(timing.repeats) < repeat:
        dt, result = time_once(fn)
        timing.repeats.append(dt)
        timing.result = result
    return timing
