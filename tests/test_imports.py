"""Importing waxegg and registering the accessors loads neither JAX, Haiku nor optax (fresh processes)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HEAVY = ("jax", "haiku", "optax")


def _run(code: str) -> dict:
    script = textwrap.dedent("""
        import json, sys
        def loaded():
            return sorted(m for m in sys.modules if m.split(".")[0] in {heavy})
    """).format(heavy=set(HEAVY)) + textwrap.dedent(code)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_and_register_accessors_load_no_jax():
    out = _run("""
        import waxegg
        import waxegg.wax
        after_import = loaded()
        from waxegg.wax import register_wax_accessors
        register_wax_accessors()
        import waxegg.wax.backends
        names = sorted(waxegg.wax.backends.available_backends())
        print(json.dumps(dict(after_import=after_import, after_register=loaded(), backends=names,
                              all=sorted(waxegg.wax.__all__), dir=sorted(dir(waxegg.wax)))))
    """)
    assert out["after_import"] == []
    assert out["after_register"] == []
    assert out["backends"] == ["jax", "numba"]  # the JAX backend is registered without importing JAX
    assert set(out["all"]) <= set(out["dir"])
    assert {"EWMA", "dynamic_unroll", "jit_init_apply", "register_wax_accessors", "Stream"} <= set(out["all"])


def test_numba_accessor_call_loads_no_jax():
    # pandas.DataFrame.ewm(alpha=0.1).mean() through the (default) Numba backend.
    out = _run("""
        import numpy as np, pandas as pd
        from waxegg.wax import register_wax_accessors
        register_wax_accessors()
        df = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 3)))
        got = df.wax.ewm(alpha=0.1).mean()
        ok = bool(np.allclose(got.to_numpy(), df.ewm(alpha=0.1).mean().to_numpy(), atol=1e-12, rtol=0))
        print(json.dumps(dict(loaded=loaded(), ok=ok)))
    """)
    assert out["ok"]
    assert out["loaded"] == []


def test_lazy_names_resolve_to_their_modules():
    out = _run("""
        import waxegg.wax as wax
        from waxegg.wax.unroll import dynamic_unroll
        from waxegg.wax.modules import EWMA
        print(json.dumps(dict(same=[wax.dynamic_unroll is dynamic_unroll, wax.EWMA is EWMA],
                              jax_now=loaded())))
    """)
    assert out["same"] == [True, True]
    assert "jax" in out["jax_now"]  # the JAX path, once used, does load JAX


def test_unknown_name_raises_attribute_error():
    import pytest

    import waxegg.wax

    with pytest.raises(AttributeError, match="no_such_name"):
        waxegg.wax.no_such_name  # noqa: B018
