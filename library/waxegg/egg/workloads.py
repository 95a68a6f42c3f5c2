"""Ready-made workloads for :func:`waxegg.egg.accelerate`, shared by the tests and the benchmark layer.

- the seed tutorial's LDA (:func:`make_lda_data`, :func:`lda_fit_transform`);
- array-API functions that trace end to end and mirror a scikit-learn estimator numerically
  (:func:`standard_scale` ~ ``StandardScaler().fit_transform``, :func:`kernel_center` ~
  ``KernelCenterer().fit_transform``);
- scikit-learn estimators called as a user writes them, ``Estimator(...).fit(X[, y]).transform / predict /
  predict_proba(X)`` (:data:`ESTIMATORS`, :class:`EstimatorWorkload`), with the data they are measured on and the
  assumptions each is traced under; those egglog's array API (with :mod:`waxegg.egg._extensions`) cannot trace yet
  raise :class:`waxegg.egg.NotTraceable` naming the missing piece (:data:`NOT_TRACEABLE`).
  :func:`pca_fit_transform`, :func:`standard_scaler_fit_transform` and :func:`kernel_centerer_fit_transform` are
  the first estimators tried this way (they trace now).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "ESTIMATORS",
    "NOT_TRACEABLE",
    "ONE_PER_ESTIMATOR",
    "EstimatorWorkload",
    "estimator",
    "kernel_center",
    "kernel_centerer_fit_transform",
    "lda_fit_transform",
    "make_lda_data",
    "pca_fit_transform",
    "standard_scale",
    "standard_scaler_fit_transform",
]


def make_lda_data(
    n_samples: int, n_classes: int = 2, *, n_features: int = 20, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's data: ``make_classification(random_state=0, n_samples=...)``.

    Parameters
    ----------
    n_samples
        Rows of ``X``.
    n_classes
        Number of labels. With 2 (the default) this is exactly the tutorial's call; more classes need more
        informative features (``make_classification`` requires ``n_classes * 2 <= 2 ** n_informative``), so
        ``n_informative = ceil(log2(2 * n_classes))``.
    n_features
        Columns of ``X`` (scikit-learn's default, 20).
    random_state
        Seed.

    Returns
    -------
    X : ndarray of float64, shape (n_samples, n_features)
    y : ndarray of int64, shape (n_samples,), values ``0 .. n_classes - 1``
    """
    from sklearn.datasets import make_classification  # noqa: PLC0415

    if n_samples < 2 * n_classes:
        msg = f"n_samples={n_samples} is too small for n_classes={n_classes}"
        raise ValueError(msg)
    if n_classes < 2:
        msg = f"n_classes must be at least 2, got {n_classes}"
        raise ValueError(msg)
    kwargs: dict[str, Any] = {}
    if n_classes > 2:
        kwargs["n_informative"] = max(2, math.ceil(math.log2(2 * n_classes)))
    X, y = make_classification(
        n_samples=n_samples, n_features=n_features, n_classes=n_classes, random_state=random_state, **kwargs
    )
    return X, y.astype(np.int64, copy=False)


def lda_fit_transform(X: Any, y: Any) -> Any:
    """The seed tutorial's ``run_lda``: ``LinearDiscriminantAnalysis().fit(X, y).transform(X)`` with array API dispatch."""
    from sklearn import config_context  # noqa: PLC0415
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis  # noqa: PLC0415

    with config_context(array_api_dispatch=True):
        return LinearDiscriminantAnalysis().fit(X, y).transform(X)


def _namespace(x: Any) -> Any:
    # NumPy >= 2 arrays and egglog arrays both expose the standard's __array_namespace__.
    return x.__array_namespace__() if hasattr(x, "__array_namespace__") else np


def standard_scale(X: Any) -> Any:
    """Centre and scale each column to unit variance, as ``StandardScaler().fit_transform(X)``.

    Written against the array API standard so it traces; constant columns get scale 1 as in scikit-learn.
    """
    xp = _namespace(X)
    mean = xp.mean(X, axis=0)
    scale = xp.std(X, axis=0)
    scale[scale == 0.0] = 1.0
    return (X - mean) / scale


def kernel_center(K: Any) -> Any:
    """Centre a kernel matrix in feature space, as ``KernelCenterer().fit_transform(K)``."""
    xp = _namespace(K)
    column_means = xp.mean(K, axis=0)  # sklearn's K_fit_rows_
    grand_mean = xp.mean(column_means)  # K_fit_all_
    row_means = xp.mean(K, axis=1, keepdims=True)  # K_pred_cols
    return K - column_means - row_means + grand_mean


def pca_fit_transform(X: Any) -> Any:
    """``PCA(n_components=2, svd_solver="full").fit_transform(X)`` with array API dispatch."""
    from sklearn import config_context  # noqa: PLC0415
    from sklearn.decomposition import PCA  # noqa: PLC0415

    with config_context(array_api_dispatch=True):
        return PCA(n_components=2, svd_solver="full").fit_transform(X)


def standard_scaler_fit_transform(X: Any) -> Any:
    """``StandardScaler().fit_transform(X)`` with array API dispatch."""
    from sklearn import config_context  # noqa: PLC0415
    from sklearn.preprocessing import StandardScaler  # noqa: PLC0415

    with config_context(array_api_dispatch=True):
        return StandardScaler().fit_transform(X)


def kernel_centerer_fit_transform(K: Any) -> Any:
    """``KernelCenterer().fit_transform(K)`` with array API dispatch."""
    from sklearn import config_context  # noqa: PLC0415
    from sklearn.preprocessing import KernelCenterer  # noqa: PLC0415

    with config_context(array_api_dispatch=True):
        return KernelCenterer().fit_transform(K)


# -- scikit-learn estimators, as a user writes them ---------------------------------------------------------------


@dataclass(frozen=True)
class EstimatorWorkload:
    """One estimator call ``Estimator(**params).fit(X[, y]).<method>(X)`` under ``array_api_dispatch=True``.

    Attributes
    ----------
    name
        Readable id, e.g. ``"MinMaxScaler(feature_range=(-1, 2))"``; also the generated function's name.
    estimator
        The scikit-learn class.
    params
        Constructor keyword arguments.
    method
        ``"transform"``, ``"predict"`` or ``"predict_proba"``.
    target
        What ``fit`` takes besides ``X``: ``None``, ``"labels"`` (int64 class labels ``0 .. n_classes - 1``) or
        ``"values"`` (a float64 regression target).
    n_classes
        Number of class labels in the data (``target="labels"``).
    kernel
        ``X`` is a square kernel matrix (``KernelCenterer``): the data are ``K = X0 @ X0.T`` of ``n_samples``
        rows of a random ``X0``, so a row count of ``n`` means an ``n x n`` input.
    assumptions
        The assumptions the trace makes, in words (the generated program asserts each).
    rtol, atol
        Tolerances of the comparison with scikit-learn on NumPy.
    """

    name: str
    estimator: type
    params: dict[str, Any] = field(default_factory=dict)
    method: str = "transform"
    target: str | None = None
    kernel: bool = False
    n_classes: int = 3
    assumptions: str = ""
    rtol: float = 1e-7
    atol: float = 1e-10

    @property
    def fn(self) -> Callable[..., Any]:
        """The call as a user writes it, taking ``X`` (and ``y``): what :func:`waxegg.egg.accelerate` traces."""
        from sklearn import config_context  # noqa: PLC0415

        cls, params, method = self.estimator, dict(self.params), self.method
        if self.target is None:

            def call(X: Any) -> Any:
                with config_context(array_api_dispatch=True):
                    return getattr(cls(**params).fit(X), method)(X)

        else:

            def call(X: Any, y: Any) -> Any:
                with config_context(array_api_dispatch=True):
                    return getattr(cls(**params).fit(X, y), method)(X)

        call.__name__ = call.__qualname__ = _identifier(self.name)
        call.__doc__ = f"``{self.name}.fit(X{', y' if self.target else ''}).{method}(X)`` with array API dispatch."
        return call

    def reference(self, *arrays: np.ndarray) -> np.ndarray:
        """scikit-learn itself on NumPy arrays, without array API dispatch (the independent reference)."""
        X, *rest = arrays
        est = self.estimator(**self.params).fit(X, *rest)
        return getattr(est, self.method)(X)

    def make_data(
        self, n_samples: int, *, n_features: int = 4, n_classes: int | None = None, random_state: int = 0
    ) -> tuple[np.ndarray, ...]:
        """Seeded float64 inputs: ``X`` (or a kernel ``K``), and ``y`` when ``fit`` takes one.

        Scalers get a constant column (scikit-learn's zero-scale path) when ``n_features >= 3``; class labels take
        every value ``0 .. n_classes - 1`` (the value set the trace assumes).
        """
        n_classes = self.n_classes if n_classes is None else n_classes
        rng = np.random.default_rng(random_state)
        X = rng.standard_normal((n_samples, n_features)) * np.linspace(1.0, 3.0, n_features) + 0.5
        if self.kernel:
            return (X @ X.T,)
        if self.estimator.__module__.startswith("sklearn.preprocessing") and n_features >= 3:
            X[:, 1] = 2.5
        if self.target == "labels":
            y = np.arange(n_samples, dtype=np.int64) % n_classes
            rng.shuffle(y)
            X += y[:, None] * 0.75  # separable enough that the class means differ
            return X, y
        if self.target == "values":
            t = X @ np.linspace(-1.0, 1.0, n_features) + 0.1 * rng.standard_normal(n_samples)
            return X, t
        return (X,)


def _identifier(name: str) -> str:
    import re  # noqa: PLC0415

    return re.sub(r"\W+", "_", name).strip("_")


def _estimators() -> tuple[EstimatorWorkload, ...]:
    from sklearn.decomposition import PCA  # noqa: PLC0415
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis  # noqa: PLC0415
    from sklearn.linear_model import Ridge  # noqa: PLC0415
    from sklearn.preprocessing import (  # noqa: PLC0415
        KernelCenterer,
        MaxAbsScaler,
        MinMaxScaler,
        Normalizer,
        StandardScaler,
    )

    x_finite = "X: float64, exact shape, all finite (scikit-learn's NaN handling folds away)"
    return (
        EstimatorWorkload("StandardScaler()", StandardScaler, assumptions=x_finite),
        EstimatorWorkload("StandardScaler(with_mean=False)", StandardScaler, {"with_mean": False}, assumptions=x_finite),
        EstimatorWorkload("StandardScaler(with_std=False)", StandardScaler, {"with_std": False}, assumptions=x_finite),
        EstimatorWorkload("MinMaxScaler()", MinMaxScaler, assumptions=x_finite),
        EstimatorWorkload(
            "MinMaxScaler(feature_range=(-1, 2))", MinMaxScaler, {"feature_range": (-1, 2)}, assumptions=x_finite
        ),
        EstimatorWorkload("MaxAbsScaler()", MaxAbsScaler, assumptions=x_finite),
        EstimatorWorkload("Normalizer(norm='l2')", Normalizer, {"norm": "l2"}, assumptions=x_finite),
        EstimatorWorkload("Normalizer(norm='l1')", Normalizer, {"norm": "l1"}, assumptions=x_finite),
        EstimatorWorkload("Normalizer(norm='max')", Normalizer, {"norm": "max"}, assumptions=x_finite),
        EstimatorWorkload(
            "KernelCenterer()", KernelCenterer, kernel=True, assumptions="K: float64, exact square shape, all finite"
        ),
        EstimatorWorkload(
            "PCA(n_components=2, svd_solver='full')",
            PCA,
            {"n_components": 2, "svd_solver": "full"},
            assumptions=x_finite,
        ),
        EstimatorWorkload(
            "PCA(n_components=2, svd_solver='covariance_eigh')",
            PCA,
            {"n_components": 2, "svd_solver": "covariance_eigh"},
            assumptions=x_finite,
            # eigh of the covariance squares the condition number: scikit-learn's own tests allow more
            rtol=1e-6,
            atol=1e-9,
        ),
        *(
            EstimatorWorkload(
                f"Ridge(alpha={alpha}, solver='svd')",
                Ridge,
                {"alpha": alpha, "solver": "svd"},
                method="predict",
                target="values",
                assumptions=x_finite + "; y: float64, exact shape, all finite",
            )
            for alpha in (1.0, 0.1)
        ),
        *(
            EstimatorWorkload(
                f"LinearDiscriminantAnalysis().{method} ({k} classes)",
                LinearDiscriminantAnalysis,
                method=method,
                target="labels",
                n_classes=k,
                assumptions=_LABELS,
            )
            for method, k in (("predict_proba", 3), ("predict_proba", 4), ("predict", 3))
        ),
    )


#: One configuration of each estimator (and PCA solver) of :data:`ESTIMATORS`: the default test run and asv suite.
ONE_PER_ESTIMATOR = (
    "StandardScaler()",
    "MinMaxScaler(feature_range=(-1, 2))",
    "MaxAbsScaler()",
    "Normalizer(norm='l2')",
    "KernelCenterer()",
    "PCA(n_components=2, svd_solver='full')",
    "PCA(n_components=2, svd_solver='covariance_eigh')",
    "Ridge(alpha=1.0, solver='svd')",
    "LinearDiscriminantAnalysis().predict_proba (3 classes)",
)

_LABELS = "X: float64, exact shape, finite; y: int64, exact shape, takes exactly the values 0 .. n_classes - 1"


def _not_traceable() -> tuple[EstimatorWorkload, ...]:
    from sklearn.naive_bayes import GaussianNB  # noqa: PLC0415

    return (
        EstimatorWorkload("GaussianNB()", GaussianNB, method="predict_proba", target="labels", assumptions=_LABELS),
    )


def __getattr__(name: str) -> Any:
    # ESTIMATORS / NOT_TRACEABLE import scikit-learn: built on first access, so importing this module stays cheap
    if name == "ESTIMATORS":
        return _estimators()
    if name == "NOT_TRACEABLE":
        return _not_traceable()
    raise AttributeError(name)


def estimator(name: str) -> EstimatorWorkload:
    """The workload of :data:`ESTIMATORS` or :data:`NOT_TRACEABLE` called ``name``."""
    for workload in (*_estimators(), *_not_traceable()):
        if workload.name == name:
            return workload
    known = [w.name for w in (*_estimators(), *_not_traceable())]
    msg = f"no estimator workload {name!r}; known: {known}"
    raise KeyError(msg)
