"""WAX-ML's own ``df.wax.ewm(alpha).mean()``, timed against a plain copy in the same process.

WAX-ML 0.6.4 (the last release) needs the stack of its time -- ``jax.tree_map`` went away in later
JAX -- so it cannot share waxegg's environment, and this script is not an asv suite. Run it in a
throwaway environment::

    python3 -m venv /tmp/waxml && /tmp/waxml/bin/pip install wax-ml==0.6.4 "jax==0.4.23" \
        "jaxlib==0.4.23" "dm-haiku==0.0.11" "numpy<2" "pandas<2.2" "xarray<2024" "scipy<1.13"
    /tmp/waxml/bin/python scripts/waxml_reference.py 100000 1000 float64

It prints one JSON line: the copy's best time, WAX-ML's first call and best steady call (seconds) and
their ratios to the copy. Compare those ratios with waxegg's (``waxegg sweep``): the copy of the same
array is the unit both are measured in, since the two cannot run in one process.
"""

from __future__ import annotations

import json
import sys
import time


def main(T: int, N: int, dtype: str, repeats: int = 3) -> dict:
    import jax

    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import numpy as np
    import pandas as pd
    from wax.accessors import register_wax_accessors

    register_wax_accessors()
    x = np.random.default_rng(0).standard_normal((T, N)).astype(dtype)
    df = pd.DataFrame(x, index=pd.date_range("2000", periods=T, freq="min"))

    def best(fn):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    t0 = time.perf_counter()
    out = df.wax.ewm(alpha=0.1).mean()
    first = time.perf_counter() - t0
    err = float(np.nanmax(np.abs(out.to_numpy(dtype=np.float64) - df.ewm(alpha=0.1).mean().to_numpy(np.float64))))
    copy = best(lambda: x.copy(order="K"))
    steady = best(lambda: df.wax.ewm(alpha=0.1).mean())
    return dict(T=T, N=N, dtype=dtype, out_dtype=str(out.dtypes.iloc[0]), jax=jax.__version__, pandas=pd.__version__,
                copy_s=copy, first_call_s=first, steady_s=steady, first_x_copy=first / copy,
                steady_x_copy=steady / copy, max_abs_err_vs_pandas=err)


if __name__ == "__main__":
    print(json.dumps(main(int(float(sys.argv[1])), int(float(sys.argv[2])), sys.argv[3])))
