"""Compile once: repeated calls reuse compiled code, and a second process reuses the disk cache."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd


def test_numba_backend_compiles_once_per_dtype_not_per_shape():
    # frames built from 2-D arrays are column-major: the column kernel
    from waxegg.wax.backends.numba_backend import _ewm_cols

    pd.DataFrame(np.random.default_rng(0).normal(size=(50, 3))).wax.ewm(alpha=0.3).mean()
    before = list(_ewm_cols.signatures)
    for shape in [(70, 5), (11, 2), (1000, 40)]:
        pd.DataFrame(np.random.default_rng(0).normal(size=shape)).wax.ewm(alpha=0.3).mean()
        pd.DataFrame(np.random.default_rng(0).normal(size=shape)).wax.ewm(com=2.0, adjust=False,
                                                                           min_periods=3).mean()
    assert _ewm_cols.signatures == before
    assert any(str(s[0].dtype) == "float64" for s in before)


def test_numba_first_call_compiles_only_its_layout_and_dtype(tmp_path):
    # a fresh process with empty caches: one float64 column-major call compiles the column kernel once, each of its
    # helpers once (no second copy for a literal argument), and nothing of the row kernel
    script = textwrap.dedent("""
        import json
        import numpy as np
        from waxegg.wax._params import ewm_params
        from waxegg.wax.backends import numba_backend as nb
        nb.ewm_mean(np.asfortranarray(np.ones((100, 3))), ewm_params(alpha=0.5))
        names = ["_ewm_cols", "_ewm_rows", "_ewm_step", "_steady", "_exact_rows", "_affine_rows", "_exact_strided"]
        print(json.dumps({n: len(getattr(nb, n).signatures) for n in names}))
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), WAXEGG_CACHE_DIR=str(tmp_path / "waxegg"))
    got = json.loads(subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True,
                                    text=True).stdout.strip().splitlines()[-1])
    assert got == dict(_ewm_cols=1, _ewm_rows=0, _ewm_step=1, _steady=1, _exact_rows=0, _affine_rows=0,
                       _exact_strided=0)


def test_jax_backend_repeated_accessor_calls_do_not_recompile():
    from waxegg.wax.unroll import scan_steps

    df = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 3)))
    df.wax.ewm(alpha=0.3, backend="jax").mean()
    size = scan_steps._cache_size()
    for _ in range(3):
        df.wax.ewm(alpha=0.3, backend="jax").mean()
    assert scan_steps._cache_size() == size


def test_second_process_loads_numba_kernel_from_disk_cache(tmp_path):
    script = textwrap.dedent("""
        import json, time
        import numpy as np, pandas as pd
        from waxegg.wax import register_wax_accessors
        from waxegg.wax.backends.numba_backend import _ewm_cols
        register_wax_accessors()
        df = pd.DataFrame(np.ones((20, 2)))
        t0 = time.perf_counter()
        df.wax.ewm(alpha=0.5).mean()
        print(json.dumps(dict(hits=sum(_ewm_cols.stats.cache_hits.values()),
                              misses=sum(_ewm_cols.stats.cache_misses.values()),
                              first_call=time.perf_counter() - t0)))
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), WAXEGG_CACHE_DIR=str(tmp_path / "waxegg"))
    runs = [json.loads(subprocess.run([sys.executable, "-c", script], env=env, check=True,
                                      capture_output=True, text=True).stdout.strip().splitlines()[-1])
            for _ in range(2)]
    assert runs[0]["misses"] >= 1          # the first process compiled
    assert runs[1]["hits"] >= 1 and runs[1]["misses"] == 0  # the second only loaded
