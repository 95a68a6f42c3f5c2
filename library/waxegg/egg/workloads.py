"""Ready-made workloads for :func:`waxegg.egg.accelerate`, shared by the tests and the benchmark layer.

- the seed tutorial's LDA (:func:`make_lda_data`, :func:`lda_fit_transform`);
- array-API functions that trace end to end and mirror a scikit-learn estimator numerically
  (:func:`standard_scale` ~ ``StandardScaler().fit_transform``, :func:`kernel_center` ~
  ``KernelCenterer().fit_transform``);
- the estimators themselves (:func:`pca_fit_transform`, :func:`standard_scaler_fit_transform`,
  :func:`kernel_centerer_fit_transform`), which today's egglog array API cannot trace: they raise
  :class:`waxegg.egg.NotTraceable` naming the missing piece.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
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
