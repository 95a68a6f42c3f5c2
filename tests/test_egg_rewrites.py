"""waxegg's rewrites (:mod:`waxegg.egg.rewrites`) and run-time kernels (:mod:`waxegg.egg.kernels`).

Each rewrite is checked on its own: the program text it changes, and the result against scikit-learn's
``LinearDiscriminantAnalysis().fit(X, y).transform(X)`` for 2 and 3 classes (extracted NumPy version: no Numba
compile, so these stay fast; the Numba build of all rewrites together is covered by ``test_egg_pipeline.py``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numba
import numpy as np
import pytest

import waxegg  # noqa: F401 -- sets SCIPY_ARRAY_API before SciPy loads
import waxegg.egg as we
from waxegg.egg import kernels, workloads
from waxegg.egg.rewrites import ALL_REWRITES, resolve_rewrites
from waxegg.egg.reuse import lookup_program, program_key, record_program

N_SMALL = 400


def _sklearn_lda(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return LinearDiscriminantAnalysis().fit(X, y).transform(X)


@pytest.fixture(scope="module", params=[2, 3], ids=["2-classes", "3-classes"])
def lda_lowered(request: pytest.FixtureRequest) -> tuple[we.Traced, object, object, np.ndarray, np.ndarray]:
    """Trace + optimize once per class count; lowered both without and with ``svd_without_u``."""
    X, y = workloads.make_lda_data(N_SMALL, n_classes=request.param)
    traced = we.trace(workloads.lda_fit_transform, X, y)
    optimized = we.optimize(traced.expr).expr
    return traced, we.lower(optimized).expr, we.lower(optimized, rewrites=["svd_without_u"]).expr, X, y


_GENERATED: dict[tuple[int, tuple[str, ...]], we.Generated] = {}


def _generate(lda_lowered, rewrites: tuple[str, ...], directory: Path) -> we.Generated:
    # memoised per (class count, rewrites): program generation is an e-graph run of ~1 s
    traced, plain, with_svd, _, y = lda_lowered
    key = (int(y.max()) + 1, tuple(rewrites))
    if key not in _GENERATED:
        expr = with_svd if "svd_without_u" in rewrites else plain
        _GENERATED[key] = we.codegen(expr, traced.inputs, fn_name="lda", directory=directory, rewrites=rewrites)
    return _GENERATED[key]


@pytest.mark.parametrize("rewrites", [(), ("share_masked",), ("svd_without_u",), ALL_REWRITES], ids=str)
def test_each_rewrite_keeps_lda_equal_to_sklearn(lda_lowered, rewrites, tmp_path: Path) -> None:
    # mirrors LinearDiscriminantAnalysis().fit(X, y).transform(X)
    _, _, _, X, y = lda_lowered
    generated = _generate(lda_lowered, rewrites, tmp_path)
    np.testing.assert_allclose(generated.fn(X, y), _sklearn_lda(X, y), rtol=1e-9, atol=1e-12)
    X2, y2 = workloads.make_lda_data(N_SMALL, n_classes=len(np.unique(y)), random_state=11)
    np.testing.assert_allclose(generated.fn(X2, y2), _sklearn_lda(X2, y2), rtol=1e-9, atol=1e-12)


BASE = ("svd_without_u", "share_masked")
FUSIONS = tuple(r for r in ALL_REWRITES if r.startswith("fuse_"))
# The fusions that change the LDA's program (the others find nothing there: it has one SVD, no full one).
LDA_FUSIONS = tuple(f for f in FUSIONS if f != "fuse_shared_svd")
# Each fusion that the LDA does not exercise fully, on the estimators whose programs it changes.
ESTIMATOR_FUSIONS = {
    "fuse_passes": (
        "StandardScaler()",
        "StandardScaler(with_mean=False)",
        "MinMaxScaler(feature_range=(-1, 2))",
        "MaxAbsScaler()",
        "Normalizer(norm='l1')",
        "Normalizer(norm='l2')",
        "Normalizer(norm='max')",
        "KernelCenterer()",
        "Ridge(alpha=1.0, solver='svd')",
    ),
    "fuse_shared_svd": ("Ridge(alpha=1.0, solver='svd')",),
}


def test_every_fusion_is_tested_on_a_program_it_changes() -> None:
    assert set(LDA_FUSIONS) | set(ESTIMATOR_FUSIONS) == set(FUSIONS)
    known = {w.name for w in workloads.ESTIMATORS}
    assert all(name in known for names in ESTIMATOR_FUSIONS.values() for name in names)


@pytest.mark.parametrize("fusion", LDA_FUSIONS)
def test_each_fusion_keeps_lda_equal_to_sklearn_and_to_the_unfused_program(lda_lowered, fusion, tmp_path: Path) -> None:
    # mirrors LinearDiscriminantAnalysis().fit(X, y).transform(X); fused alone, on top of egglog alone, and with
    # the other rewrites (the kernels' Python bodies are the removed NumPy: the unfused program's very numbers)
    _, _, _, X, y = lda_lowered
    unfused = _generate(lda_lowered, BASE, tmp_path)
    # alone too where that is a different program: fuse_masked on egglog's inline X[mask] selections
    # (fuse_scale_svd needs svd_without_u's helper call; the others match the same statements either way)
    for rewrites in ((fusion,), (*BASE, fusion)) if fusion == "fuse_masked" else ((*BASE, fusion),):
        fused = _generate(lda_lowered, rewrites, tmp_path)
        assert fused.source != _generate(lda_lowered, tuple(r for r in rewrites if r != fusion), tmp_path).source
        np.testing.assert_allclose(fused.fn(X, y), _sklearn_lda(X, y), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(fused.fn(X, y), unfused.fn(X, y), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    ("fusion", "name"), [(f, name) for f, names in ESTIMATOR_FUSIONS.items() for name in names], ids=str
)
def test_each_estimator_fusion_changes_its_program_and_keeps_sklearn_s_numbers(fusion, name, tmp_path: Path) -> None:
    # mirrors Estimator(...).fit(X[, y]).<method>(X), extracted NumPy with every rewrite, with and without the fusion
    w = workloads.estimator(name)
    arrays = w.make_data(N_SMALL, n_features=6)
    traced = we.trace(w.fn, *arrays)
    lowered = we.lower(we.optimize(traced.expr).expr, rewrites=["svd_without_u"]).expr
    without = tuple(r for r in ALL_REWRITES if r != fusion)
    fused, unfused = (
        we.codegen(lowered, traced.inputs, fn_name=f"est_{len(r)}", directory=tmp_path, rewrites=r)
        for r in (ALL_REWRITES, without)
    )
    assert fused.source != unfused.source
    expected = w.reference(*arrays)
    with np.errstate(invalid="ignore", divide="ignore"):  # StandardScaler's generated 0 / 0 (unused NaN)
        got, before = fused.fn(*arrays), unfused.fn(*arrays)
    np.testing.assert_allclose(got, expected, rtol=w.rtol, atol=w.atol)
    np.testing.assert_allclose(got, before, rtol=1e-12, atol=1e-12 * np.abs(before).max())


def test_estimator_only_fusions_leave_the_lda_program_alone(lda_lowered, tmp_path: Path) -> None:
    # what lets the LDA ablation (waxegg.egg.measure.ABLATION) skip their rows
    from waxegg.egg.measure import ABLATION, NOT_IN_LDA

    without = tuple(r for r in ALL_REWRITES if r not in NOT_IN_LDA)
    assert _generate(lda_lowered, ALL_REWRITES, tmp_path).source == _generate(lda_lowered, without, tmp_path).source
    assert list(ABLATION.values())[-1] == ALL_REWRITES


def test_all_fusions_program_text(lda_lowered, tmp_path: Path) -> None:
    _, _, _, _, y = lda_lowered
    n_classes = len(np.unique(y))
    source = _generate(lda_lowered, ALL_REWRITES, tmp_path).source
    assert "X[" not in source  # no masked copies: one pass over X per class mean, one for the centred stack
    assert source.count("_k.masked_mean(X, _") == n_classes
    masks = ", ".join(["_\\d+"] * n_classes)
    assert re.search(rf"_k\.masked_concat_sub\(X, \({masks}, \), \(", source)
    assert source.count("_k.mean0(") == 1 and source.count("_k.mean_sq_dev(") == 1
    assert source.count("_k.svd_s_vt_scaled(") == 1 and source.count("_k.svd_s_vt(") == 1
    assert re.search(r"= _k\.sub_matmul\(X, _\d+, _\d+\)$", source, re.MULTILINE)
    assert "assert _k.all_finite(X)" in source and "np.unique" not in source
    assert "np.concatenate" not in source and "np.square" not in source


def test_share_masked_selects_each_class_once(lda_lowered, tmp_path: Path) -> None:
    _, _, _, _, y = lda_lowered
    n_classes = len(np.unique(y))
    before = _generate(lda_lowered, (), tmp_path).source
    after = _generate(lda_lowered, ("share_masked",), tmp_path).source
    selections_before = re.findall(r"X\[_\d+\]", before)
    selections_after = re.findall(r"X\[_\d+\]", after)
    # egglog re-selects X[y == k] for the sum, the row count and the centring: three copies per class
    assert len(selections_before) == 3 * n_classes
    assert len(selections_after) == n_classes
    assert all(re.search(rf"^    _\d+ = {re.escape(s)}$", after, re.MULTILINE) for s in set(selections_after))
    # everything else unchanged: same number of lines but for the named selections
    assert len(after.splitlines()) == len(before.splitlines()) + n_classes


def test_svd_without_u_program_text(lda_lowered, tmp_path: Path) -> None:
    before = _generate(lda_lowered, (), tmp_path).source
    after = _generate(lda_lowered, ("svd_without_u",), tmp_path).source
    assert before.count("np.linalg.svd(") == 2 and "_k." not in before and "kernels" not in before
    assert "np.linalg.svd(" not in after and after.count("_k.svd_s_vt(") == 2
    # the kernels' version is part of the source (so of the module's file name): Numba's cache of a program
    # compiled against older kernels is never loaded
    assert re.search(r"^from waxegg\.egg import kernels as _k  # kernels [0-9a-f]{12}$", after, re.MULTILINE)
    # the helper's tuple is named once and S, Vt read as its [0] and [1] (np.linalg.svd's [1] and [2])
    names = re.findall(r"^    (_\d+) = _k\.svd_s_vt\(_\d+\)$", after, re.MULTILINE)
    assert len(names) == 2
    for name in names:
        assert f"{name}[0]" in after and f"{name}[1]" in after and f"{name}[2]" not in after


def test_svd_without_u_leaves_u_alone() -> None:
    # A program that uses U keeps LAPACK's full SVD for U; S and Vt may come from the helper.
    def uses_u(A):
        xp = A.__array_namespace__()
        u, s, vt = xp.linalg.svd(A, full_matrices=False)
        return u * s

    A = np.random.default_rng(3).standard_normal((50, 4))
    traced = we.trace(uses_u, A)
    lowered = we.lower(we.optimize(traced.expr).expr, rewrites=["svd_without_u"])
    assert "svd_(" in str(lowered.expr)  # U still needs the full decomposition


@pytest.mark.parametrize("seed", range(3))
def test_svd_s_vt_is_lapacks_svd_bit_for_bit(seed: int) -> None:
    # mirrors np.linalg.svd(a, full_matrices=False)[1:], signs included, tall and not-so-tall shapes
    rng = np.random.default_rng(seed)
    jitted = numba.njit(kernels.svd_s_vt)
    for _ in range(40):
        m, n = int(rng.integers(2, 600)), int(rng.integers(1, 21))
        a = rng.standard_normal((m, n)) * rng.uniform(0.1, 10, n) + rng.standard_normal(n) * rng.uniform(0, 3)
        _, s, vt = np.linalg.svd(a, full_matrices=False)
        for fn in (kernels.svd_s_vt, jitted):
            s1, vt1 = fn(a)
            assert np.array_equal(s1, s) and np.array_equal(vt1, vt), (m, n, fn)


def test_svd_s_vt_rank_deficient_and_constant_columns() -> None:
    rng = np.random.default_rng(4)
    a = rng.standard_normal((300, 6))
    a[:, 2] = 0.0  # LDA sets std to 1 for a constant feature: a zero column
    a[:, 4] = a[:, 0] - a[:, 1]
    _, s, vt = np.linalg.svd(a, full_matrices=False)
    s1, vt1 = kernels.svd_s_vt(a)
    np.testing.assert_allclose(s1, s, rtol=0, atol=1e-12)
    np.testing.assert_allclose(vt1[:4], vt[:4], rtol=0, atol=1e-12)  # the non-null singular vectors


def test_qr_r_matches_numpy_in_python_and_numba() -> None:
    rng = np.random.default_rng(5)
    a = rng.standard_normal((200, 7))
    expected = np.linalg.qr(a, mode="r")
    jitted = numba.njit(lambda x: kernels.qr_r(x))  # the overload applies to calls from jitted code
    np.testing.assert_array_equal(kernels.qr_r(a), expected)
    np.testing.assert_allclose(jitted(a), expected, rtol=0, atol=1e-13)
    np.testing.assert_allclose(jitted(np.asfortranarray(a)), expected, rtol=0, atol=1e-13)
    wide = rng.standard_normal((3, 5))
    np.testing.assert_allclose(jitted(wide), np.linalg.qr(wide, mode="r"), rtol=0, atol=1e-13)


def test_resolve_rewrites() -> None:
    assert resolve_rewrites("all") == ALL_REWRITES == resolve_rewrites(None)
    assert resolve_rewrites("none") == ()
    assert resolve_rewrites(["share_masked", "svd_without_u", "share_masked"]) == ("svd_without_u", "share_masked")
    with pytest.raises(ValueError, match=r"unknown rewrites \['fuse_everything'\]"):
        resolve_rewrites(["fuse_everything"])


def test_share_masked_is_scoped() -> None:
    from egglog.exp.array_api_program_gen import array_api_program_gen_ruleset

    from waxegg.egg import _compat
    from waxegg.egg.rewrites import shared_masked_selections

    rules = _compat.ruleset_rules(array_api_program_gen_ruleset)
    before = list(rules)
    with shared_masked_selections():
        assert rules != before and len(rules) == len(before) + 4
    assert rules == before


def test_program_key_and_index(tmp_path: Path) -> None:
    X, y = workloads.make_lda_data(60, n_classes=2)
    specs = we.trace.__globals__["arg_specs"](workloads.lda_fit_transform, (X, y))
    key = program_key(workloads.lda_fit_transform, specs, ALL_REWRITES)
    assert key == program_key(workloads.lda_fit_transform, specs, ALL_REWRITES)
    assert key != program_key(workloads.lda_fit_transform, specs, ())
    other = we.trace.__globals__["arg_specs"](workloads.lda_fit_transform, workloads.make_lda_data(61, n_classes=2))
    assert key != program_key(workloads.lda_fit_transform, other, ALL_REWRITES)
    assert lookup_program(key, directory=tmp_path) is None
    module = tmp_path / "m.py"
    module.write_text("x = 1\n")
    record_program(key, {"source_path": str(module), "name": "m"}, directory=tmp_path)
    assert lookup_program(key, directory=tmp_path) == {"source_path": str(module), "name": "m"}
    module.unlink()
    assert lookup_program(key, directory=tmp_path) is None  # a record whose module is gone is a miss
    assert json.loads((tmp_path / "index" / f"{key}.json").read_text())["name"] == "m"


def test_compile_only_rewrites_join_the_ablation_s_last_row() -> None:
    from waxegg.egg.measure import ABLATION, COMPILE_ONLY, NOT_IN_LDA

    rows = list(ABLATION.values())
    assert rows[0] == () and rows[-1] == ALL_REWRITES
    assert [f"+{r}" for r in ALL_REWRITES if r not in NOT_IN_LDA + COMPILE_ONLY] == list(ABLATION)[1:]
    assert all(r not in rewrites for rewrites in rows[:-1] for r in COMPILE_ONLY)
