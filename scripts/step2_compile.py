"""Compile time of the seed tutorial's step 2 against the size of the data it closes over.

Step 2 of the WAX three-step workflow (README, ``tests/test_stream.py::test_three_step_workflow_small``)
is a Haiku transform that reads each step from the *whole* dataset it closes over, run by
:func:`waxegg.wax.dynamic_unroll`. Each size runs in a fresh process (imports timed apart, not
included). Per size it prints:

- ``first``: the first ``dynamic_unroll`` call (trace + compile + one run);
- ``second``: the second call (same transform, same ``xs``: no compile);
- ``compile``: ``first - second``;
- ``jax compile``: what JAX itself reports spending, during the first call, on tracing, lowering and
  XLA compilation (``jax.monitoring`` duration events; less sensitive to a busy machine than the
  difference of two wall times);
- ``steady``: best of 3 further calls;
- ``copy``: best of 3 ``x.copy(order="K")`` of the data, the memory floor of a one-pass kernel.

The output is checked against ``pandas.DataFrame.ewm(alpha=0.1).mean()`` before a time is quoted.

Usage::

    python scripts/step2_compile.py                 # T = 1e3, 1e4, 3e4, 1e5 x N = 1000, float64
    python scripts/step2_compile.py --sizes 1000 10000 --n 100
    python scripts/step2_compile.py --sizes 100000 --compare   # + steady time of the former path

``--compare`` also times, interleaved in the same process, the former program: the jitted apply
inside a jitted ``lax.scan``, the data baked in as constants (its first call compiles for as long
as the ``before`` column says), and checks both give the same bits.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SIZES = (1_000, 10_000, 30_000, 100_000)


def _constants_path(transform, xs, rng):
    # The former dynamic_unroll: the jitted apply traced inside the scan, its captures baked in as constants.
    import jax

    from waxegg.wax._x64 import x64_context
    from waxegg.wax.unroll import init_params_state

    apply = jax.jit(transform.apply.__wrapped__)
    params, state0 = init_params_state(transform, xs, rng)

    @jax.jit
    def scan(params, state):
        def body(carry, x):
            state, step = carry
            out, state = apply(params, state, jax.random.fold_in(rng, step), x)
            return (state, step + 1), out

        (state, _), outputs = jax.lax.scan(body, (state, 0), xs)
        return outputs, state

    def run():
        with x64_context():
            return jax.block_until_ready(scan(params, state0))

    return run


def one(T: int, N: int, compare: bool = False) -> dict:
    t0 = time.perf_counter()
    import haiku as hk
    import jax
    import numpy as np
    import pandas as pd
    import xarray as xr

    from waxegg.wax import (EWMA, convert_to_tensors, dynamic_unroll, jit_init_apply, register_wax_accessors,
                            tree_access_data)

    imports = time.perf_counter() - t0
    register_wax_accessors()
    dataframe = pd.DataFrame(np.random.default_rng(0).normal(size=(T, N)),
                             index=pd.date_range("1970", periods=T, freq="s"))
    dataset = xr.DataArray(dataframe).to_dataset(name="dataarray")

    # Step 1 (not timed here).
    stream = dataframe.wax.stream()
    np_data, np_index, xs = stream.trace_dataset(dataset)
    jnp_data, jnp_index, jxs = convert_to_tensors((np_data, np_index, xs), "jax")

    # Step 2, the seed's code unchanged.
    @jit_init_apply
    @hk.transform_with_state
    def transform_dataset(step):
        data = tree_access_data(jnp_data, jnp_index, step)
        return EWMA(alpha=1.0 / 10.0, adjust=True)(data["dataarray"])

    rng = next(hk.PRNGSequence(42))
    compile_events = {}

    def listen(event: str, duration: float, **_: object) -> None:
        if event.startswith("/jax/core/compile/"):
            compile_events[event] = compile_events.get(event, 0.0) + duration

    jax.monitoring.register_event_duration_secs_listener(listen)

    def call() -> float:
        start = time.perf_counter()
        outputs, state = dynamic_unroll(transform_dataset, xs, rng)
        jax.block_until_ready((outputs, state))
        call.outputs = outputs
        return time.perf_counter() - start

    first = call()
    jax_compile = sum(compile_events.values())
    second = call()
    steady = min(call() for _ in range(3))
    extra = {}
    if compare:
        old = _constants_path(transform_dataset, xs, rng)
        start = time.perf_counter()
        old_out, _ = old()
        extra["constants_first"] = time.perf_counter() - start
        np.testing.assert_array_equal(np.asarray(old_out), np.asarray(call.outputs))
        del old_out
        new_times, old_times = [], []
        for _ in range(5):  # interleaved, best of 5
            new_times.append(call())
            old_times.append(_timed(old))
        extra.update(steady_new=min(new_times), steady_constants=min(old_times))
    values = dataframe.to_numpy()
    copy = min(_timed(lambda: values.copy(order="K")) for _ in range(3))

    ref = dataframe.ewm(alpha=0.1).mean().to_numpy()
    got = np.asarray(call.outputs)
    if got.dtype != np.float64 or not np.allclose(got, ref, atol=1e-10, rtol=0, equal_nan=True):
        raise AssertionError(f"T={T} N={N}: step 2 disagrees with pandas (max |diff| "
                             f"{np.nanmax(np.abs(got - ref)):.3g}, dtype {got.dtype})")
    return {"T": T, "N": N, "dtype": "float64", "imports": imports, "first": first, "second": second,
            "compile": first - second, "jax_compile": jax_compile, "steady": steady, "copy": copy, "jax": jax.__version__, **extra}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="values of T")
    parser.add_argument("--n", type=int, default=1000, help="columns N")
    parser.add_argument("--compare", action="store_true", help="also time the former constants-baked program")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.n, args.compare)))
        return
    # A fresh process per size, with JAX's persistent cache off so every first call compiles.
    env = dict(os.environ, WAXEGG_JAX_CACHE="0", JAX_ENABLE_COMPILATION_CACHE="false")
    print(f"{'T':>7} {'N':>5}  {'first s':>8} {'second s':>8} {'compile s':>9} {'jax compile s':>13} {'steady s':>8} "
          f"{'copy s':>7} {'steady/copy':>11}")
    for T in args.sizes:
        proc = subprocess.run([sys.executable, __file__, "--one", str(T), "--n", str(args.n)]
                              + (["--compare"] if args.compare else []),
                              env=env, capture_output=True, text=True)
        if proc.returncode:
            print(f"{T:>7} {args.n:>5}  failed:\n{proc.stderr[-2000:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{r['T']:>7} {r['N']:>5}  {r['first']:8.2f} {r['second']:8.3f} {r['compile']:9.2f} "
              f"{r['jax_compile']:13.2f} {r['steady']:8.3f} {r['copy']:7.3f} {r['steady'] / r['copy']:11.1f}", flush=True)
        if args.compare:
            print(f"{'':14}former program (constants): first call {r['constants_first']:.2f} s; steady, interleaved "
                  f"best of 5: now {r['steady_new']:.3f} s, former {r['steady_constants']:.3f} s (same bits)")
    print(f"float64, jax {r['jax'] if args.sizes else ''}, one process per size, imports excluded")


if __name__ == "__main__":
    main()
