"""End-to-end tests of waxegg.egg: the seed LDA workload (2 and 3 classes) and array-API functions.

Every result is compared with scikit-learn itself (the call each workload mirrors is named in the test).
Numba compilation costs seconds per workload, so each workload is accelerated once per module.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import waxegg  # noqa: F401 -- sets SCIPY_ARRAY_API before SciPy loads
import waxegg.egg as we
from waxegg.egg import workloads

N_SMALL = 500


@pytest.fixture(scope="module")
def egg_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Keep generated modules (and Numba's cache next to them) out of the user's ~/.cache during tests.
    return tmp_path_factory.mktemp("waxegg-egg-cache")


@pytest.fixture(scope="module", params=[2, 3], ids=["2-classes", "3-classes"])
def lda_case(request: pytest.FixtureRequest, egg_cache: Path) -> tuple[we.Accelerated, np.ndarray, np.ndarray]:
    X, y = workloads.make_lda_data(N_SMALL, n_classes=request.param)
    return we.accelerate(workloads.lda_fit_transform, X, y, cache_dir=egg_cache), X, y


def _sklearn_lda(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return LinearDiscriminantAnalysis().fit(X, y).transform(X)  # plain NumPy, no array API dispatch


def test_lda_matches_sklearn(lda_case: tuple[we.Accelerated, np.ndarray, np.ndarray]) -> None:
    # mirrors LinearDiscriminantAnalysis().fit(X, y).transform(X)
    acc, X, y = lda_case
    expected = _sklearn_lda(X, y)
    assert expected.shape == (N_SMALL, len(np.unique(y)) - 1)
    np.testing.assert_allclose(acc.extracted(X, y), expected, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(acc.numba(X, y), expected, rtol=1e-7, atol=1e-10)
    assert acc.max_abs_error < 1e-10
    assert acc.max_abs_error_extracted < 1e-10


def test_lda_generalises_to_new_data_of_same_shape(lda_case: tuple[we.Accelerated, np.ndarray, np.ndarray]) -> None:
    acc, X, y = lda_case
    n_classes = len(np.unique(y))
    X2, y2 = workloads.make_lda_data(N_SMALL, n_classes=n_classes, random_state=7)
    np.testing.assert_allclose(acc.numba(X2, y2), _sklearn_lda(X2, y2), rtol=1e-7, atol=1e-10)


def test_lda_rejects_other_shapes(lda_case: tuple[we.Accelerated, np.ndarray, np.ndarray]) -> None:
    # The generated code is specialised to the example's shape and asserts it rather than computing garbage.
    acc, X, y = lda_case
    with pytest.raises(AssertionError):
        acc.extracted(X[:-1], y[:-1])


def test_lda_stages_and_source(lda_case: tuple[we.Accelerated, np.ndarray, np.ndarray]) -> None:
    acc, X, y = lda_case
    n_classes = len(np.unique(y))
    times = acc.times.as_dict()
    assert list(times) == ["trace", "optimize", "lower", "codegen", "compile"]
    assert all(t > 0 for t in times.values())
    assert acc.egraph_nodes >= acc.egraph_classes > 100
    assert acc.iterations > 1 and acc.lowered_iterations > 1
    # the expression at each stage: sklearn's calls traced, axis-reductions lowered for Numba
    assert "LinearDiscriminantAnalysis" not in str(acc.traced)
    assert "unique_counts" in str(acc.traced) or "unique_inverse" in str(acc.traced)
    assert "std(" in str(acc.optimized)
    assert "std(" not in str(acc.lowered) and "mean(" not in str(acc.lowered)
    # readable source, obtainable with inspect, one assignment per shared subexpression, in-place update kept
    source = inspect.getsource(acc.extracted)
    assert source in acc.source
    assert source.startswith("def lda_fit_transform_egg(X, y):")
    assert f"assert _k.same_value_set(y, ({', '.join(map(str, range(n_classes)))}, ))" in source
    # waxegg's rewrites (default "all"): S and Vt from the R of a QR of the scaled matrix built in LAPACK's layout,
    # class means and the centred stack straight from X (no X[y == k] copies)
    assert "np.linalg.svd(" not in source and source.count("_k.svd_s_vt(") == source.count("_k.svd_s_vt_scaled(") == 1
    assert source.count("X[_") == 0 and source.count("_k.masked_mean(X, ") == n_classes
    assert acc.rewrites == we.ALL_REWRITES
    assert acc.rewrites[:2] == ("svd_without_u", "share_masked") and "fuse_masked" in acc.rewrites
    assignments = [line.split(" = ")[0].strip() for line in source.splitlines() if " = " in line]
    assert len(assignments) == len(set(assignments)), "a temporary was assigned twice"
    # the in-place updates (the class means' rows, the zero scales set to 1), as fuse_setitem's loop calls
    assert source.count("_k.set_row(") == n_classes, "an in-place row update was lost"
    assert source.count("_k.set_where(") == 1, "the in-place update of the zero scales was lost"
    assert not any("[" in target for target in assignments)  # no array assignment left for Numba to compile
    assert acc.source_path.read_text() == acc.source


def test_two_class_lda_keeps_float_literals(lda_case: tuple[we.Accelerated, np.ndarray, np.ndarray]) -> None:
    # Symptom of the unsound int/float rule (see waxegg.egg._fixes): the fallback scale 1.0 printed as int 1.
    acc, _, _ = lda_case
    # (fuse_setitem writes the update ``_26[_27] = <value>`` as ``_k.set_where(_26, _27, <value>)``)
    update = re.search(r"_k\.set_where\(\w+, \w+, (.+)\)$", acc.source, re.M)
    assert update is not None and update[1] == "np.array(float(1))"


def test_summary_and_specs(lda_case: tuple[we.Accelerated, np.ndarray, np.ndarray]) -> None:
    acc, X, y = lda_case
    summary = acc.summary()
    assert summary["egglog"] == we.EGGLOG_VERSION
    assert summary["compile_s"] == acc.times.compile
    x_spec, y_spec = acc.specs
    assert (x_spec.name, x_spec.dtype, x_spec.shape, x_spec.isfinite) == ("X", "float64", X.shape, True)
    assert y_spec.values == tuple(range(len(np.unique(y))))


@pytest.fixture(scope="module")
def scale_case(egg_cache: Path) -> tuple[we.Accelerated, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    X[:, 1] = 3.0  # a constant column: StandardScaler keeps scale 1 there
    return we.accelerate(workloads.standard_scale, X, cache_dir=egg_cache), X


def test_standard_scale_matches_standard_scaler(scale_case: tuple[we.Accelerated, np.ndarray]) -> None:
    # mirrors StandardScaler().fit_transform(X)
    from sklearn.preprocessing import StandardScaler

    acc, X = scale_case
    expected = StandardScaler().fit_transform(X)
    np.testing.assert_allclose(acc.numba(X), expected, rtol=1e-10, atol=1e-12)
    assert np.all(acc.numba(X)[:, 1] == 0.0)
    # Numba has no axis= for mean/std: the lowered code uses sums, which fuse_passes computes in single passes
    # over X (the column sums; the squared deviations' sums without the deviation matrix; the scaling)
    assert "_k.sum0(X)" in acc.source and "_k.dev_sums(X, _1)" in acc.source and "_k.sub_div(X, _1, " in acc.source
    assert "np.std" not in acc.source and "np.mean" not in acc.source and "np.square" not in acc.source


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=arrays(np.float64, (60, 4), elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)))
def test_standard_scale_property(scale_case: tuple[we.Accelerated, np.ndarray], data: np.ndarray) -> None:
    # mirrors StandardScaler().fit_transform(X) on arbitrary finite data of the compiled shape
    from sklearn.preprocessing import StandardScaler

    acc, _ = scale_case
    expected = StandardScaler().fit_transform(data)
    # StandardScaler treats a column as constant when its variance is below float eps relative to its mean;
    # standard_scale only when the std is exactly 0. Compare where the column clearly varies.
    spread = data.max(axis=0) - data.min(axis=0)
    varied = spread > 1e-6 * (1.0 + np.abs(data).max(axis=0))
    got_np, got_nb = acc.extracted(data), acc.numba(data)
    np.testing.assert_allclose(got_np[:, varied], expected[:, varied], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(got_nb[:, varied], got_np[:, varied], rtol=1e-12, atol=1e-12)


def test_kernel_center_matches_kernel_centerer(egg_cache: Path, tmp_path: Path) -> None:
    # mirrors KernelCenterer().fit_transform(K)
    from sklearn.preprocessing import KernelCenterer

    rng = np.random.default_rng(1)
    Z = rng.standard_normal((40, 3))
    K = Z @ Z.T
    acc = we.accelerate(workloads.kernel_center, K, cache_dir=egg_cache)
    np.testing.assert_allclose(acc.numba(K), KernelCenterer().fit_transform(K), rtol=1e-9, atol=1e-11)
    assert "keepdims" not in acc.source and "np.expand_dims(" in acc.source  # mean(..., keepdims) lowered
    # the e-graph figure, rendered without a system `dot`
    svg = acc.write_egraph_svg(tmp_path / "egraph.svg")
    text = svg.read_text()
    assert "<svg" in text and "</svg>" in text
    assert text.count("<g id=\"node") >= 10
    lowered_svg = acc.write_egraph_svg(tmp_path / "lowered.svg", stage="lower")
    assert lowered_svg.stat().st_size > 1000
    with pytest.raises(ValueError, match="stage must be one of"):
        acc.write_egraph_svg(tmp_path / "x.svg", stage="trace")


@pytest.mark.parametrize(
    ("fn", "piece"),
    [
        (workloads.pca_fit_transform, "svd_"),
        (workloads.standard_scaler_fit_transform, "sum("),
        (workloads.kernel_centerer_fit_transform, "sum("),
    ],
    ids=["PCA", "StandardScaler", "KernelCenterer"],
)
def test_estimators_egglog_alone_could_not_trace_now_trace(fn, piece: str) -> None:
    # egglog alone stopped on `argmax` (PCA's svd_flip) and `__array_namespace_info__` (the scalers); with
    # waxegg.egg._extensions they trace into array expressions (tests/test_egg_estimators.py runs them end to end)
    X = np.random.default_rng(2).standard_normal((30, 30))
    traced = we.trace(fn, X)
    assert piece in str(traced.expr)
    assert traced.fn_name == fn.__qualname__


def test_numpy_only_function_is_not_traceable() -> None:
    def uses_numpy(X):
        return np.asarray(X) + 1.0

    with pytest.raises(we.NotTraceable, match="uses_numpy"):
        we.trace(uses_numpy, np.ones((3, 2)))


def test_codegen_is_cached_by_source(egg_cache: Path) -> None:
    X = np.arange(12.0).reshape(4, 3)

    def double(X):
        return X + X

    traced = we.trace(double, X)
    lowered = we.lower(we.optimize(traced.expr).expr)
    first = we.codegen(lowered.expr, traced.inputs, fn_name="double", directory=egg_cache)
    second = we.codegen(lowered.expr, traced.inputs, fn_name="double", directory=egg_cache)
    assert first.path == second.path and first.path.exists()
    np.testing.assert_array_equal(second.fn(X), 2 * X)
    compiled = we.compile_numba(second.fn, X, cache=False)
    np.testing.assert_array_equal(compiled.result, 2 * X)
    assert compiled.first_call_seconds > 0 and not compiled.cache_hit
