"""First-call times of waxegg's kernels beside numbagg's: cold (empty caches) and warm (filled caches).

Each case runs in a fresh Python process: first with empty ``NUMBA_CACHE_DIR`` and
``WAXEGG_CACHE_DIR`` (cold), then in a second fresh process over the caches the first one filled
(warm). The imports are timed apart from the call. The cases are interleaved over ``--repeat``
rounds and the table shows the best round of each (wall seconds, and the process's CPU seconds
during the call, which a busy shared machine disturbs less).

    python scripts/first_call.py                       # every case
    python scripts/first_call.py -k ewm_mean -r 3      # cases whose name contains "ewm_mean"

Add a statistic by adding entries to ``CASES``: ``setup`` runs before the timer (imports go in
``imports``, timed apart), ``call`` is the timed first call.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

#: Shape of the data, as in BENCHMARKING.md's first-call row.
T, N = 10_000, 100

_DATA = "x = np.asarray(np.random.default_rng(0).standard_normal(({T}, {N})), dtype='{dtype}', order='{order}')"

#: name -> (system, imports, setup, call); setup and call see the names the imports bind.
CASES: dict[str, tuple[str, str, str, str]] = {}
for _dtype in ("float64", "float32"):
    for _order in ("F", "C"):
        _data = _DATA.format(T=T, N=N, dtype=_dtype, order=_order)
        CASES[f"numbagg move_exp_nanmean {_dtype} {_order}"] = (
            "numbagg", "import numpy as np\nimport numbagg", _data,
            "numbagg.move_exp_nanmean(x, alpha=0.1, axis=0)")
        CASES[f"waxegg ewm_mean kernel {_dtype} {_order}"] = (
            "waxegg",
            "import numpy as np\nfrom waxegg.wax._params import ewm_params\n"
            "from waxegg.wax.backends.numba_backend import ewm_mean",
            _data + "\nparams = ewm_params(alpha=0.1)",
            "ewm_mean(x, params)")
    # pandas 3 stores pd.DataFrame(2-D array) column-major: the accessor sees the "F" layout
    CASES[f"waxegg df.wax.ewm(alpha=0.1).mean() {_dtype} frame"] = (
        "waxegg",
        "import numpy as np\nimport pandas as pd\nfrom waxegg.wax import register_wax_accessors",
        "register_wax_accessors()\n" + _DATA.format(T=T, N=N, dtype=_dtype, order="C") + "\ndf = pd.DataFrame(x)",
        "df.wax.ewm(alpha=0.1).mean()")

_RUNNER = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    {imports}
    t1 = time.perf_counter()
    {setup}
    c0, t2 = time.process_time(), time.perf_counter()
    {call}
    t3, c1 = time.perf_counter(), time.process_time()
    print(json.dumps(dict(imports=t1 - t0, call=t3 - t2, call_cpu=c1 - c0)))
""")


def run_case(name: str, cache: str) -> dict[str, float]:
    """One fresh process running case ``name`` with its caches under ``cache``."""
    _, imports, setup, call = CASES[name]
    code = _RUNNER.format(imports=imports, setup=setup, call=call)
    env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(cache, "numba"), WAXEGG_CACHE_DIR=os.path.join(cache, "waxegg"))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"case {name!r} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", "--select", default="", help="run the cases whose name contains this")
    parser.add_argument("-r", "--repeat", type=int, default=1, help="interleaved rounds (best shown)")
    args = parser.parse_args(argv)
    names = [n for n in CASES if args.select in n]
    if not names:
        raise SystemExit(f"no case matches {args.select!r}; cases: {sorted(CASES)}")
    best: dict[tuple[str, str], dict[str, float]] = {}
    for _ in range(args.repeat):
        for name in names:
            with tempfile.TemporaryDirectory(prefix="first_call_") as cache:
                for kind in ("cold", "warm"):
                    got = run_case(name, cache)
                    old = best.get((name, kind))
                    if old is None or got["call"] < old["call"]:
                        best[(name, kind)] = got
    width = max(len(n) for n in names)
    print(f"T={T} N={N}, best of {args.repeat} interleaved round(s); seconds (call: wall / CPU)")
    print(f"{'case':{width}}  {'import':>6}  {'cold call':>13}  {'warm call':>13}")
    for name in names:
        cold, warm = best[(name, "cold")], best[(name, "warm")]
        print(f"{name:{width}}  {cold['imports']:6.2f}  {cold['call']:6.2f} / {cold['call_cpu']:4.2f}"
              f"  {warm['call']:6.2f} / {warm['call_cpu']:4.2f}")


if __name__ == "__main__":
    main()
