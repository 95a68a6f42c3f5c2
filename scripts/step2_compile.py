"""Compile time of the seed tutorial's step 2 against the size of the data it closes over.

Step 2 of the WAX three-step workflow (README, ``tests/test_stream.py::test_three_step_workflow_small``)
is a Haiku transform that reads each step from the *whole* dataset it closes over, run by
:func:`waxegg.wax.dynamic_unroll`. Each size runs in a fresh process (imports timed apart, not
included). Per size it prints:

- ``first``: the first ``dynamic_unroll`` call (trace + compile + one run);
- ``second``: the second call (same transform, same ``xs``: no compile);
- ``compile``: ``first - second``;
- ``steady``: best of 3 further calls;
- ``copy``: best of 3 ``x.copy(order="K")`` of the data, the memory floor of a one-pass kernel.

The output is checked against ``pandas.DataFrame.ewm(alpha=0.1).mean()`` before a time is quoted.

Usage::

    python scripts/step2_compile.py                 # T = 1e3, 1e4, 3e4, 1e5 x N = 1000, float64
    python scripts/step2_compile.py --sizes 1000 10000 --n 100
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SIZES = (1_000, 10_000, 30_000, 100_000)


def one(T: int, N: int) -> dict:
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

    def call() -> float:
        start = time.perf_counter()
        outputs, state = dynamic_unroll(transform_dataset, xs, rng)
        jax.block_until_ready((outputs, state))
        call.outputs = outputs
        return time.perf_counter() - start

    first = call()
    second = call()
    steady = min(call() for _ in range(3))
    values = dataframe.to_numpy()
    copy = min(_timed(lambda: values.copy(order="K")) for _ in range(3))

    ref = dataframe.ewm(alpha=0.1).mean().to_numpy()
    got = np.asarray(call.outputs)
    if got.dtype != np.float64 or not np.allclose(got, ref, atol=1e-10, rtol=0, equal_nan=True):
        raise AssertionError(f"T={T} N={N}: step 2 disagrees with pandas (max |diff| "
                             f"{np.nanmax(np.abs(got - ref)):.3g}, dtype {got.dtype})")
    return {"T": T, "N": N, "dtype": "float64", "imports": imports, "first": first, "second": second,
            "compile": first - second, "steady": steady, "copy": copy, "jax": jax.__version__}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="values of T")
    parser.add_argument("--n", type=int, default=1000, help="columns N")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.n)))
        return
    # A fresh process per size, with JAX's persistent cache off so every first call compiles.
    env = dict(os.environ, WAXEGG_JAX_CACHE="0", JAX_ENABLE_COMPILATION_CACHE="false")
    print(f"{'T':>7} {'N':>5}  {'first s':>8} {'second s':>8} {'compile s':>9} {'steady s':>8} "
          f"{'copy s':>7} {'steady/copy':>11}")
    for T in args.sizes:
        proc = subprocess.run([sys.executable, __file__, "--one", str(T), "--n", str(args.n)],
                              env=env, capture_output=True, text=True)
        if proc.returncode:
            print(f"{T:>7} {args.n:>5}  failed:\n{proc.stderr[-2000:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{r['T']:>7} {r['N']:>5}  {r['first']:8.2f} {r['second']:8.3f} {r['compile']:9.2f} "
              f"{r['steady']:8.3f} {r['copy']:7.3f} {r['steady'] / r['copy']:11.1f}", flush=True)
    print(f"float64, jax {r['jax'] if args.sizes else ''}, one process per size, imports excluded")


if __name__ == "__main__":
    main()
