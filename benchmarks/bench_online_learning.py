"""Online learning: a 10-feature linear model learned one step at a time (see ``waxegg.bench.learn_workloads``).

``time_*`` are asv timings of the whole ``T``-step run; ``track_steps_per_s`` uses the shared
``waxegg.bench.timers.measure`` (warm-up, best of 3). ``T = 1e4`` by default, ``1e5`` with
``WAXEGG_ASV_BIG=1``; the eager (un-jitted) loop always runs 500 steps. For the numbers alone::

    PYTHONPATH=library python benchmarks/bench_online_learning.py [T]
"""

from __future__ import annotations

import json
import os
import sys

from waxegg.bench.learn_workloads import OPTIMIZERS, OnlineLinearLearning, run_online_learning

T = 100_000 if os.environ.get("WAXEGG_ASV_BIG") else 10_000
N_FEATURES = 10
EAGER_STEPS = 500


class OnlineLinear:
    """Steady state of the three ways to run the same optax update (the first jit call compiles in setup)."""

    params = (list(OPTIMIZERS), ["float64", "float32"])
    param_names = ["opt", "dtype"]
    timeout = 600

    def setup(self, opt, dtype):
        self.work = OnlineLinearLearning(T, N_FEATURES, opt, dtype)
        self.work.jit()
        self.work.python_loop(10)

    def time_jit_dynamic_unroll(self, opt, dtype):
        self.work.jit()

    def time_python_loop_jit_step(self, opt, dtype):
        self.work.python_loop()

    def time_python_loop_eager_500_steps(self, opt, dtype):
        self.work.python_loop(EAGER_STEPS, jit_step=False)


class StepsPerSecond:
    """Steps per second (jit, and its speed-up over the jitted-step Python loop), results cross-checked."""

    params = (list(OPTIMIZERS),)
    param_names = ["opt"]
    timeout = 900

    def setup_cache(self):
        return {opt: run_online_learning(T, N_FEATURES, opt, eager_steps=EAGER_STEPS) for opt in OPTIMIZERS}

    def track_jit_steps_per_s(self, results, opt):
        return results[opt]["steps_per_s"]["jit"]

    track_jit_steps_per_s.unit = "steps/s"

    def track_speedup_vs_python_loop(self, results, opt):
        return results[opt]["speedup_vs_python_jit_step"]

    track_speedup_vs_python_loop.unit = "x"


if __name__ == "__main__":
    steps = int(float(sys.argv[1])) if len(sys.argv) > 1 else T
    for name in OPTIMIZERS:
        print(json.dumps(run_online_learning(steps, N_FEATURES, name, eager_steps=EAGER_STEPS), default=str))
