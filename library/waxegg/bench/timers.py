"""Timing and peak-memory primitives shared by the sweep runner and the asv suites.

Protocol (see BENCHMARKING.md): one warm-up call (reported separately as the first call, which
includes compilation), then best-of-k steady-state repeats, with results checked before any time
is quoted. Every timed call also records its peak resident memory above the level before the call.
"""

from __future__ import annotations

import contextlib
import gc
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import jax
import psutil


def block(x: Any) -> Any:
    """Wait for asynchronous JAX results inside ``x`` (no-op for numpy / pandas)."""
    for leaf in jax.tree_util.tree_leaves(x):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return x


# --------------------------------------------------------------------------------------------
# Peak resident memory of one call
# --------------------------------------------------------------------------------------------

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(key: str) -> int:
    match = re.search(rf"^{key}:\s+(\d+)\s+kB", _STATUS.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"{key} not found in {_STATUS}")
    return int(match.group(1))


def _kernel_peak_available() -> bool:
    # Linux keeps the process' resident high-water mark (VmHWM) and resets it when "5" is written
    # to clear_refs, so the peak of one call is exact and free; elsewhere we sample RSS in a thread.
    if not sys.platform.startswith("linux"):
        return False
    try:
        _CLEAR_REFS.write_text("5")
        _status_kib("VmHWM")
    except (OSError, RuntimeError):
        return False
    return True


_KERNEL_PEAK = _kernel_peak_available()


class PeakMemory:
    """Context manager: ``peak_bytes`` is the peak RSS during the block minus the RSS before it.

    Uses the kernel's resettable high-water mark on Linux, else a 1 ms psutil sampling thread
    (which can miss peaks shorter than a millisecond).
    """

    peak_bytes: int

    def __enter__(self) -> "PeakMemory":
        self._process = psutil.Process()
        self._start = self._process.memory_info().rss
        self.peak_bytes = 0
        if _KERNEL_PEAK:
            _CLEAR_REFS.write_text("5")
        else:
            self._max = self._start
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self._max = max(self._max, self._process.memory_info().rss)

    def __exit__(self, *exc: Any) -> None:
        if _KERNEL_PEAK:
            peak = _status_kib("VmHWM") * 1024
        else:
            self._stop.set()
            self._thread.join()
            peak = max(self._max, self._process.memory_info().rss)
        self.peak_bytes = max(0, peak - self._start)


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------

@dataclass
class Sample:
    """One timed call: wall seconds, peak resident bytes above the start, and its result."""

    seconds: float
    peak_bytes: int
    result: Any = None


@contextlib.contextmanager
def frozen_heap():
    """Run the body with what is alive now moved out of the cyclic collector's sight (:func:`gc.freeze`).

    With JAX, Haiku, egglog and scikit-learn loaded a full collection scans ~250k objects: 0.1 s of CPU,
    0.3 s on a busy machine, paid before every big timed call (a sweep makes hundreds). Frozen objects
    are still freed by reference counting; only cycles among them wait for the end of the block, and the
    calls' own garbage (created inside the block) is collected as before. :func:`refreeze` adds what
    has been loaded since (a lazily imported JAX, compiled programs kept alive).
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def refreeze() -> None:
    """Collect, then freeze what survives (inside :func:`frozen_heap`)."""
    gc.collect()
    gc.freeze()


def time_once(fn: Callable[[], Any], *, memory: bool = True, collect: bool = True) -> Sample:
    """Time one call of ``fn`` (JAX results awaited); with ``memory`` also its peak RSS.

    ``collect`` runs a full garbage collection first (0.1-0.3 s with JAX and egglog loaded, so
    :func:`measure` skips it between short calls). As in :mod:`timeit`, the collector is off
    during the call so that a collection triggered by someone else's garbage is not billed to it.
    """
    if collect:
        gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        if not memory:
            t0 = time.perf_counter()
            result = block(fn())
            return Sample(time.perf_counter() - t0, 0, result)
        with PeakMemory() as peak:
            t0 = time.perf_counter()
            result = block(fn())
            seconds = time.perf_counter() - t0
        return Sample(seconds, peak.peak_bytes, result)
    finally:
        if enabled:
            gc.enable()


#: Calls shorter than this are repeated without a full garbage collection in between.
_COLLECT_ABOVE_S = 0.5


@dataclass
class Timing:
    """First call and steady-state repeats of one function, in seconds (peak bytes beside)."""

    first: float
    repeats: list[float] = field(default_factory=list)
    result: Any = None
    first_peak: int = 0
    peaks: list[int] = field(default_factory=list)

    @property
    def best(self) -> float:
        """Best steady-state seconds (the first call when there are no repeats)."""
        return min(self.repeats) if self.repeats else self.first


def measure(
    fn: Callable[[], Any],
    repeat: int = 3,
    warmup: bool = True,
    *,
    memory: bool = True,
    min_repeat: int | None = None,
    budget_s: float | None = None,
    collect: bool = True,
    before: Callable[[], Any] | None = None,
) -> Timing:
    """Time ``fn``: the first call (includes compilation), then ``repeat`` steady-state calls.

    Parameters
    ----------
    fn
        Zero-argument callable; JAX results are awaited.
    repeat
        Steady-state calls.
    warmup
        With ``False`` the first call counts as a repeat too (for expensive one-shot stages).
    memory
        Record each call's peak resident memory above its start.
    min_repeat, budget_s
        Stop early, after at least ``min_repeat`` repeats, once the calls so far took ``budget_s``
        seconds in total (keeps slow backends at big sizes from dominating a sweep).
    collect
        Full garbage collection before the first call (later calls collect only after a long call).
    before
        Called, untimed, before every call (e.g. to free what the previous call left cached).

    ``Timing.result`` is the last call's result; earlier results are dropped before the next call
    so that two large outputs are never alive at once (which would distort the peak memory).
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    min_repeat = repeat if min_repeat is None else min_repeat
    if not 1 <= min_repeat <= repeat:
        raise ValueError(f"min_repeat must be in [1, repeat={repeat}], got {min_repeat}")
    if before is not None:
        before()
    sample = time_once(fn, memory=memory, collect=collect)
    spent = sample.seconds
    timing = Timing(first=sample.seconds, first_peak=sample.peak_bytes)
    if not warmup:
        timing.repeats.append(sample.seconds)
        timing.peaks.append(sample.peak_bytes)
    while len(timing.repeats) < repeat:
        if budget_s is not None and len(timing.repeats) >= min_repeat and spent >= budget_s:
            break
        collect = sample.seconds > _COLLECT_ABOVE_S
        sample = None  # drop the previous result before the next call
        if before is not None:
            before()
        sample = time_once(fn, memory=memory, collect=collect)
        spent += sample.seconds
        timing.repeats.append(sample.seconds)
        timing.peaks.append(sample.peak_bytes)
    timing.result = sample.result
    return timing


def interleaved(calls: dict[str, Callable[[], Any]], repeat: int = 5) -> dict[str, list[float]]:
    """Wall seconds of each zero-argument call over ``repeat`` rounds, the calls interleaved round by round.

    For side-by-side ratios on a shared machine: a burst of someone else's load hits every call of
    that round rather than one of them. Each call is a :func:`time_once` (results awaited, garbage
    collector off during the call); the caller makes the warm-up calls (and checks their results).
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            times[name].append(time_once(call, memory=False, collect=False).seconds)
    return times


class PhaseClock:
    """Wall seconds spent in named phases of a run, accumulated (``with clock("reference"): ...``).

    Says where a sweep or a repro spends the time it does not report as a measurement (references, data,
    checks, artefacts); :attr:`seconds` is JSON-ready, rounded to 0.1 s.
    """

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._calls: dict[str, int] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        self._seconds[name] = self._seconds.get(name, 0.0) + seconds
        self._calls[name] = self._calls.get(name, 0) + 1

    @property
    def seconds(self) -> dict[str, float]:
        return {name: round(s, 1) for name, s in self._seconds.items()}

    @property
    def calls(self) -> dict[str, int]:
        return dict(self._calls)
