"""scikit-learn estimators through waxegg.egg, written as a user writes them, against scikit-learn on NumPy.

Each workload of :data:`waxegg.egg.workloads.ESTIMATORS` is ``Estimator(**params).fit(X[, y]).<method>(X)`` under
``array_api_dispatch=True``; the reference is the same call on NumPy arrays without dispatch. The tolerances are the
workload's own (``rtol`` 1e-7, ``atol`` 1e-10 unless it says otherwise: PCA's covariance_eigh solver squares the
condition number, so 1e-6 / 1e-9). Numba compiles cost seconds per program, so each program is built once per
module; the variants beyond one per estimator class, and the extra shapes, are marked slow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import waxegg  # noqa: F401 -- sets SCIPY_ARRAY_API before SciPy loads
import waxegg.egg as we
from waxegg.egg import workloads

N_SAMPLES = 60

# One configuration per estimator class runs by default; the others (parameter variants) are slow.
FAST = set(workloads.ONE_PER_ESTIMATOR)
NAMES = [w.name for w in workloads.ESTIMATORS]


def _param(name: str) -> object:
    return pytest.param(name, id=name, marks=() if name in FAST else pytest.mark.slow)


@pytest.fixture(scope="module")
def egg_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("waxegg-egg-estimators")


_BUILT: dict[tuple[str, int, int], tuple[we.Accelerated, tuple[np.ndarray, ...]]] = {}


def _accelerated(
    name: str, egg_cache: Path, n_samples: int = N_SAMPLES, n_features: int = 4
) -> tuple[we.Accelerated, tuple[np.ndarray, ...]]:
    key = (name, n_samples, n_features)
    if key not in _BUILT:
        w = workloads.estimator(name)
        arrays = w.make_data(n_samples, n_features=n_features)
        _BUILT[key] = (we.accelerate(w.fn, *arrays, rtol=w.rtol, atol=w.atol, cache_dir=egg_cache), arrays)
    return _BUILT[key]


def test_at_least_eight_estimators_work() -> None:
    # the list counts PCA's two solvers apart (different code paths: SVD of X vs eigh of its covariance)
    kinds = {(w.estimator.__name__, w.params.get("svd_solver")) for w in workloads.ESTIMATORS}
    assert len(kinds) >= 8, kinds
    assert {w.name for w in workloads.ESTIMATORS} >= FAST


@pytest.mark.parametrize("name", [_param(n) for n in NAMES])
def test_estimator_matches_sklearn(name: str, egg_cache: Path) -> None:
    # mirrors Estimator(**params).fit(X[, y]).<method>(X) on NumPy
    w = workloads.estimator(name)
    acc, arrays = _accelerated(name, egg_cache)
    expected = w.reference(*arrays)
    assert expected.shape[0] == arrays[0].shape[0]
    np.testing.assert_allclose(acc.extracted(*arrays), expected, rtol=w.rtol, atol=w.atol)
    np.testing.assert_allclose(acc.numba(*arrays), expected, rtol=w.rtol, atol=w.atol)
    assert acc.max_abs_error <= w.atol + w.rtol * np.max(np.abs(expected))
    # the program is scikit-learn's computation, not a call back into scikit-learn
    assert "sklearn" not in acc.source.split('"""', 2)[2]
    # ... and it generalises to new data of the same shape (fit and transform both run on the new data)
    fresh = w.make_data(N_SAMPLES, random_state=11)
    np.testing.assert_allclose(acc.numba(*fresh), w.reference(*fresh), rtol=w.rtol, atol=w.atol)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "n_samples", "n_features"),
    [
        ("StandardScaler()", 25, 3),
        ("StandardScaler()", 90, 6),
        ("MinMaxScaler()", 33, 5),
        ("Normalizer(norm='max')", 41, 7),
        ("KernelCenterer()", 17, 4),
        ("PCA(n_components=2, svd_solver='full')", 50, 7),
        ("PCA(n_components=2, svd_solver='covariance_eigh')", 45, 3),
        ("Ridge(alpha=0.1, solver='svd')", 70, 6),
        ("LinearDiscriminantAnalysis().predict_proba (4 classes)", 80, 5),
    ],
)
def test_estimator_other_shapes(name: str, n_samples: int, n_features: int, egg_cache: Path) -> None:
    w = workloads.estimator(name)
    acc, arrays = _accelerated(name, egg_cache, n_samples, n_features)
    np.testing.assert_allclose(acc.numba(*arrays), w.reference(*arrays), rtol=w.rtol, atol=w.atol)
    assert acc.specs[0].shape == arrays[0].shape


@pytest.mark.parametrize(
    "name", ["StandardScaler()", "PCA(n_components=2, svd_solver='full')", "Ridge(alpha=1.0, solver='svd')"]
)
def test_broken_assumptions_raise_naming_them(name: str, egg_cache: Path) -> None:
    # The program is specialised to dtype, shape and finiteness; other input stops with the assumption named,
    # never a wrong number (scikit-learn itself would accept NaN in StandardScaler: the trace assumed none).
    acc, arrays = _accelerated(name, egg_cache)
    X, *rest = arrays
    for program in (acc.extracted, acc.numba):
        with pytest.raises(AssertionError, match=r"assumption X\.shape == \(60, 4, \)"):
            program(X[:-1], *(r[:-1] for r in rest))
        with pytest.raises(AssertionError, match=r"assumption X\.dtype == np\.dtype\(np\.float64\)"):
            program(X.astype(np.float32), *rest)
        X_nan = X.copy()
        X_nan[3, 1] = np.nan
        with pytest.raises(AssertionError, match="all_finite"):
            program(X_nan, *rest)
    if rest:
        t_inf = rest[0].copy()
        t_inf[0] = np.inf
        with pytest.raises(AssertionError, match="all_finite"):
            acc.numba(X, t_inf)


def test_specs_record_the_assumptions(egg_cache: Path) -> None:
    acc, arrays = _accelerated("Ridge(alpha=1.0, solver='svd')", egg_cache)
    x_spec, y_spec = acc.specs
    assert (x_spec.dtype, x_spec.shape, x_spec.isfinite, x_spec.values) == ("float64", (N_SAMPLES, 4), True, None)
    assert (y_spec.dtype, y_spec.shape, y_spec.isfinite) == ("float64", (N_SAMPLES,), True)
    assert f"X: float64[{N_SAMPLES}, 4], finite; y: float64[{N_SAMPLES}], finite" in acc.source


def test_numba_lacks_axis_reductions_and_they_are_kernels(egg_cache: Path) -> None:
    # MinMaxScaler's column min / max: Numba's np.min / np.max take no axis; waxegg's lowering writes
    # _k.reduce_max / _k.reduce_min, and fuse_passes computes both in one pass over X
    acc, _ = _accelerated("MinMaxScaler(feature_range=(-1, 2))", egg_cache)
    assert "_k.max_min0(X)" in acc.source and "np.min(" not in acc.source and "np.max(" not in acc.source
    assert "_k.mul_add(X, " in acc.source  # X * scale + offset, one pass
    assert "np.isnan" not in acc.source and "np.where" not in acc.source  # NaN handling folded away (finite X)


@pytest.mark.parametrize("name", [w.name for w in workloads.NOT_TRACEABLE])
def test_untraceable_estimators_name_the_missing_piece(name: str) -> None:
    w = workloads.estimator(name)
    arrays = w.make_data(N_SAMPLES)
    with pytest.raises(we.NotTraceable) as info:
        we.trace(w.fn, *arrays)
    message = str(info.value)
    assert info.value.missing, message  # the missing piece is named
    assert "sklearn/" in message  # with the place scikit-learn needed it
    assert "Panic" not in message


def test_labels_outside_the_assumed_value_set_raise(egg_cache: Path) -> None:
    # LDA is traced for y taking exactly the values 0, 1, 2 (one masked mean per class): another label set stops
    acc, (X, y) = _accelerated("LinearDiscriminantAnalysis().predict_proba (3 classes)", egg_cache)
    y_extra = y.copy()
    y_extra[0] = 3
    y_missing = np.where(y == 2, 1, y)
    for bad in (y_extra, y_missing):
        for program in (acc.extracted, acc.numba):
            with pytest.raises(AssertionError, match=r"assumption _k\.same_value_set\(y, \(0, 1, 2, \)\)"):
                program(X, bad)
    with pytest.raises(AssertionError, match=r"assumption y\.dtype == np\.dtype\(np\.int64\)"):
        acc.numba(X, y.astype(np.int32))


def test_lda_predict_is_the_argmax_of_predict_proba(egg_cache: Path) -> None:
    proba, (X, y) = _accelerated("LinearDiscriminantAnalysis().predict_proba (3 classes)", egg_cache)
    predict, _ = _accelerated("LinearDiscriminantAnalysis().predict (3 classes)", egg_cache)
    np.testing.assert_array_equal(predict.numba(X, y), np.argmax(proba.numba(X, y), axis=1))
    np.testing.assert_allclose(proba.numba(X, y).sum(axis=1), 1.0, rtol=1e-12)
