"""Benchmark layer: workloads, grids, timers and the sweep runner (asv's ``benchmarks/`` call into it).

- :mod:`~waxegg.bench.workloads` -- seeded cached data (:func:`make_frame`), WAX kernels and one
  runner per backend with its stages (encode / compute / format / end to end);
- :mod:`~waxegg.bench.egg_workloads` -- the seed's LDA through :func:`waxegg.egg.accelerate`;
- :mod:`~waxegg.bench.grid` -- the named grids (``default``, ``seed``, ``quick``) and the asv sizes;
- :mod:`~waxegg.bench.timers` -- first call, best-of-k, peak memory;
- :mod:`~waxegg.bench.first_call` -- each statistic's first call in fresh processes, cold and warm, beside numbagg;
- :mod:`~waxegg.bench.sweep` -- :func:`run_sweep` -> tidy table + environment, :func:`write_results`.
"""

from __future__ import annotations

from waxegg.bench.env import SCHEMA_VERSION, environment
from waxegg.bench.grid import GRIDS, EggGrid, FirstCallGrid, Grid, WaxGrid, get_grid
from waxegg.bench.sweep import COLUMNS, SweepResult, read_results, run_sweep, summarize, write_results
from waxegg.bench.timers import PeakMemory, Timing, interleaved, measure, time_once
from waxegg.bench.workloads import WaxSeedWorkflow, make_frame, max_abs_error, wax_kernels, wax_runners

__all__ = [
    "COLUMNS",
    "GRIDS",
    "SCHEMA_VERSION",
    "EggGrid",
    "FirstCallGrid",
    "Grid",
    "PeakMemory",
    "SweepResult",
    "Timing",
    "WaxGrid",
    "WaxSeedWorkflow",
    "environment",
    "interleaved",
    "get_grid",
    "make_frame",
    "max_abs_error",
    "measure",
    "read_results",
    "run_sweep",
    "summarize",
    "time_once",
    "wax_kernels",
    "wax_runners",
    "write_results",
]
