"""First calls as users meet them: each statistic's first call in a fresh process, cold and warm, beside numbagg.

A *cold* first call runs in a fresh Python process whose cache folders (``NUMBA_CACHE_DIR`` and
``WAXEGG_CACHE_DIR``) are empty, as in a new virtualenv, after an upgrade, in CI or in a new asv
environment: it pays Numba's compilation of what the call needs. A *warm* first call runs in a second
fresh process over the caches the cold one filled: it pays only the cache load. Imports and data
construction are timed apart from the call (they are the same for every statistic).

Each waxegg case is the accessor as a pandas user writes it, end to end on a seeded frame
(``df.wax.ewm(alpha=0.1, backend="numba").var()``); each numbagg case is its counterpart on the frame's
values (``numbagg.move_exp_nanvar(x, alpha=0.1, axis=0)``), the same parameters as the sweep's kernels
(:mod:`waxegg.bench.workloads`). Pairwise statistics pair the frame with its columns reversed.

Used by the repro (a table on the page), asv (``bench_wax.FirstCallCold``) and ``scripts/first_call.py``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

# the sweep's parameters and numbagg names, written into the child processes' code (which import none of this)
from waxegg.bench.workloads import ALPHA, NUMBAGG, WINDOW

#: The issue's first-call shape: time steps by columns.
FIRST_CALL_SHAPE = (10_000, 100)
#: ``wax-3step`` is the seed tutorial's three steps (:class:`waxegg.bench.workloads.WaxSeedWorkflow`), EWM mean only.
SYSTEMS = ("waxegg", "numbagg", "wax-3step")
RUNS = ("cold", "warm")

_RUNNER = textwrap.dedent("""
    import json, time
    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd
    {imports}
    t1 = time.perf_counter()
    values = np.random.default_rng(0).standard_normal(({T}, {N})).astype("{dtype}")
    if "{layout}" == "F":
        values = np.asfortranarray(values)
    df = pd.DataFrame(values, index=pd.date_range("1970", periods={T}, freq="s"), copy=False)
    other = pd.DataFrame(np.array(values[:, ::-1], order="{layout}"), index=df.index, columns=df.columns, copy=False)
    x, y = df.to_numpy(), other.to_numpy()
    c0, t2 = time.process_time(), time.perf_counter()
    out = {call}
    t3, c1 = time.perf_counter(), time.process_time()
    got, ref = np.asarray(out, dtype=np.float64), {reference}.to_numpy(dtype=np.float64)
    same_nan = bool((np.isnan(got) == np.isnan(ref)).all())
    err = float(np.nanmax(np.abs(got - ref))) if same_nan else float("inf")
    print(json.dumps(dict(imports_s=t1 - t0, call_s=t3 - t2, call_cpu_s=c1 - c0, max_abs_err=err)))
""")


@dataclass(frozen=True)
class FirstCallCase:
    """One timed first call: ``system`` computing ``kernel`` on a ``dtype`` frame of memory ``layout``."""

    system: str
    kernel: str
    dtype: str = "float64"
    layout: str = "F"
    T: int = FIRST_CALL_SHAPE[0]
    N: int = FIRST_CALL_SHAPE[1]

    def __post_init__(self):
        if self.system not in SYSTEMS:
            raise ValueError(f"system must be one of {SYSTEMS}, got {self.system!r}")
        if self.system == "numbagg" and self.kernel not in NUMBAGG:
            raise ValueError(f"numbagg has no counterpart of {self.kernel!r}")
        if self.system == "wax-3step" and self.kernel != "ewm_mean":
            raise ValueError(f"the 3-step workflow computes ewm_mean only, not {self.kernel!r}")
        if self.layout not in ("F", "C"):
            raise ValueError(f"layout must be 'F' or 'C', got {self.layout!r}")

    def _window(self, obj: str, **extra: str) -> str:
        family, stat = self.kernel.split("_", 1)
        options = ", ".join([f"alpha={ALPHA}" if family == "ewm" else str(WINDOW)]
                            + [f"{k}={v}" for k, v in extra.items()])
        args = "other, pairwise=False" if stat in ("cov", "corr") else ""
        return f"{obj}.{family}({options}).{stat}({args})"

    @property
    def reference(self) -> str:
        """pandas' result of the same call, checked after the timer (it sees the same names)."""
        return self._window("df")

    @property
    def call(self) -> str:
        """The timed expression (it sees ``df``, ``other``, ``x``, ``y``)."""
        if self.system == "wax-3step":
            return f"WaxSeedWorkflow(df, alpha={ALPHA!r}).run()"
        if self.system == "numbagg":
            family, stat = self.kernel.split("_", 1)
            args = "x, y" if stat in ("cov", "corr") else "x"
            window = f"alpha={ALPHA}" if family == "ewm" else f"window={WINDOW}, min_count={WINDOW}"
            return f"numbagg.{NUMBAGG[self.kernel]}({args}, {window}, axis=0)"
        return self._window("df.wax", backend="'numba'")

    @property
    def imports(self) -> str:
        if self.system == "numbagg":
            return "import numbagg"
        if self.system == "wax-3step":
            return "from waxegg.bench.workloads import WaxSeedWorkflow"
        return "from waxegg.wax import register_wax_accessors\nregister_wax_accessors()"

    def code(self) -> str:
        return _RUNNER.format(imports=self.imports, call=self.call, reference=self.reference, T=self.T, N=self.N,
                              dtype=self.dtype, layout=self.layout)


def _library_path() -> str:
    return str(Path(__file__).resolve().parents[2])


def run_case(case: FirstCallCase, cache: str | Path) -> dict[str, float]:
    """Run ``case`` once in a fresh process whose cache folders live under ``cache``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(cache, "numba"),
               WAXEGG_CACHE_DIR=os.path.join(cache, "waxegg"),
               PYTHONPATH=os.pathsep.join(p for p in (_library_path(), os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.run([sys.executable, "-c", case.code()], env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"first call {case} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cold_and_warm(case: FirstCallCase) -> dict[str, dict[str, float]]:
    """``{"cold": ..., "warm": ...}``: two fresh processes, the second over the caches the first filled."""
    with tempfile.TemporaryDirectory(prefix="waxegg_first_call_") as cache:
        return {run: run_case(case, cache) for run in RUNS}


def cases(kernels: Iterable[str], dtypes: Iterable[str] = ("float64",), layouts: Iterable[str] = ("F",),
          shape: tuple[int, int] = FIRST_CALL_SHAPE, *, three_step: bool = True) -> list[FirstCallCase]:
    """waxegg's case of every kernel, each followed by numbagg's counterpart where it has one (and, for
    ``ewm_mean`` with ``three_step``, by the seed's 3-step workflow)."""
    T, N = shape
    out = []
    for dtype in dtypes:
        for layout in layouts:
            for kernel in kernels:
                out.append(FirstCallCase("waxegg", kernel, dtype, layout, T, N))
                if kernel in NUMBAGG:
                    out.append(FirstCallCase("numbagg", kernel, dtype, layout, T, N))
                if three_step and kernel == "ewm_mean":
                    out.append(FirstCallCase("wax-3step", kernel, dtype, layout, T, N))
    return out


def measure_first_calls(kernels: Iterable[str] | None = None, *, dtypes: Iterable[str] = ("float64",),
                        layouts: Iterable[str] = ("F",), shape: tuple[int, int] = FIRST_CALL_SHAPE,
                        three_step: bool = True, repeat: int = 1, progress: bool = False) -> list[dict[str, Any]]:
    """Cold and warm first calls of ``kernels`` (default: every accessor statistic) and numbagg's.

    The cases are interleaved over ``repeat`` rounds (a busy machine then slows all of them alike) and
    each (case, run) keeps its fastest round. One tidy row per case and run: ``system, kernel, dtype,
    layout, T, N, run, imports_s, call_s, call_cpu_s, max_abs_err, rounds`` (``max_abs_err`` against pandas'
    result of the same call, computed in the same process after the timer; ``inf`` if the NaN positions differ).
    """
    from waxegg.wax.backends._base import KERNELS

    todo = cases(KERNELS if kernels is None else kernels, dtypes, layouts, shape, three_step=three_step)
    best: dict[tuple[FirstCallCase, str], dict[str, float]] = {}
    for _ in range(repeat):
        for case in todo:
            got = cold_and_warm(case)
            if progress:
                print(f"first call {case.system} {case.kernel} {case.dtype} {case.layout}: "
                      f"cold {got['cold']['call_s']:.2f} s, warm {got['warm']['call_s']:.2f} s", flush=True)
            for run, row in got.items():
                old = best.get((case, run))
                if old is None or row["call_s"] < old["call_s"]:
                    best[(case, run)] = row
    return [{"system": c.system, "kernel": c.kernel, "dtype": c.dtype, "layout": c.layout, "T": c.T, "N": c.N,
             "run": run, **best[(c, run)], "rounds": repeat} for c in todo for run in RUNS]


def first_call_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (kernel, dtype, layout): each system's cold and warm call (wall and CPU seconds), and the
    cold ratio waxegg / numbagg (wall; ``cold_cpu_over_numbagg`` in CPU seconds, which a busy machine
    disturbs less)."""
    by_key: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        key = (r["kernel"], r["dtype"], r["layout"], r["T"], r["N"])
        entry = by_key.setdefault(key, dict(zip(("kernel", "dtype", "layout", "T", "N"), key)))
        entry[f"{r['system']}_{r['run']}_s"] = r["call_s"]
        entry[f"{r['system']}_{r['run']}_cpu_s"] = r["call_cpu_s"]
        # None: read back from JSON, which has no inf (the NaN positions differed from pandas')
        err = math.inf if r["max_abs_err"] is None else r["max_abs_err"]
        entry[f"{r['system']}_max_abs_err"] = max(err, entry.get(f"{r['system']}_max_abs_err", 0.0))
    for entry in by_key.values():
        for clock in ("", "_cpu"):
            cold, peer = entry.get(f"waxegg_cold{clock}_s"), entry.get(f"numbagg_cold{clock}_s")
            entry[f"cold{clock}_over_numbagg"] = cold / peer if cold is not None and peer else None
    return list(by_key.values())
