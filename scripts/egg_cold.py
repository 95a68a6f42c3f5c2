"""Cold and cached first calls of ``waxegg.egg.accelerate(lda_fit_transform, X, y)`` in fresh processes.

Usage: ``python scripts/egg_cold.py [n_samples] [--events]``. Two fresh processes share one pair of fresh, empty
cache folders (``NUMBA_CACHE_DIR`` and ``WAXEGG_CACHE_DIR``): the first is cold (nothing cached, Numba compiles the
generated program and waxegg.egg.kernels' loops), the second runs ``reuse=True`` on what the first left. Each prints
its import time, the stage times of ``Accelerated.times`` and the wall time to the first (verified) result; with
``--events`` the cold process also lists Numba's compile events per function (``numba.core.event``), longest first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
events = {{}}
if {events}:
    from numba.core import event
    class _Timer(event.Listener):
        def __init__(self):
            self.stack = []
        def on_start(self, ev):
            self.stack.append(time.perf_counter())
        def on_end(self, ev):
            start = self.stack.pop()
            d = ev.data.get("dispatcher")
            name = getattr(getattr(d, "py_func", None), "__module__", "?") + "." + getattr(getattr(d, "py_func", None), "__qualname__", str(d))
            # inclusive time: nested compiles of callees are counted in the caller too
            events.setdefault(name, []).append(time.perf_counter() - start)
    event.register("numba:compile", _Timer())
import waxegg.egg as we
from waxegg.egg.workloads import lda_fit_transform, make_lda_data
X, y = make_lda_data({n}, 2)
t1 = time.perf_counter()
acc = we.accelerate(lda_fit_transform, X, y, reuse=True, verify=True)
t2 = time.perf_counter()
print(json.dumps({{"import_and_data_s": t1 - t0, "first_result_s": t2 - t1, "reused": acc.reused,
                  "numba_cache_hit": acc.numba_cache_hit, "max_abs_error": acc.max_abs_error,
                  "times": acc.times.as_dict(),
                  "events": sorted(((k, sum(v), len(v)) for k, v in events.items()), key=lambda e: -e[1])}}))
"""


def run(n_samples: int, *, events: bool) -> list[dict]:
    library = str(Path(__file__).resolve().parents[1] / "library")
    rows = []
    with tempfile.TemporaryDirectory() as numba_cache, tempfile.TemporaryDirectory() as egg_cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=numba_cache, WAXEGG_CACHE_DIR=egg_cache, SCIPY_ARRAY_API="1")
        env["PYTHONPATH"] = library + os.pathsep + env.get("PYTHONPATH", "")
        for label in ("cold", "cached"):
            code = _CHILD.format(n=n_samples, events=events and label == "cold")
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
            if out.returncode != 0:
                raise RuntimeError(out.stderr[-4000:])
            rows.append({"run": label, **json.loads(out.stdout.strip().splitlines()[-1])})
    return rows


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n_samples = int(float(args[0])) if args else 100_000
    for row in run(n_samples, events="--events" in sys.argv):
        times = row.pop("times")
        evs = row.pop("events")
        stages = " ".join(f"{k}={v:.2f}" for k, v in times.items())
        to_source = sum(times[k] for k in ("trace", "optimize", "lower", "codegen"))
        print(f"{row['run']:>6}: import+data {row['import_and_data_s']:.2f} s | {stages} | trace->source "
              f"{to_source:.2f} s | first result {row['first_result_s']:.2f} s | reused={row['reused']} "
              f"cache_hit={row['numba_cache_hit']} err={row['max_abs_error']:.2g}")
        for name, total, count in evs[:25]:
            print(f"        {total:7.2f} s  x{count}  {name}")


if __name__ == "__main__":
    main()
