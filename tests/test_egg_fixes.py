"""Regression tests for the two egglog array-API breakages repaired in :mod:`waxegg.egg._fixes`."""

from __future__ import annotations

import numpy as np
import pytest

import waxegg  # noqa: F401 -- sets SCIPY_ARRAY_API before anything imports SciPy
from waxegg.egg import _compat, workloads
from waxegg.egg._fixes import array_api_fixes, unsound_int_float_rule

from egglog import EGraph
from egglog.bindings import EggSmolError
from egglog.exp.array_api import (
    DType,
    Float,
    Int,
    NDArray,
    Value,
    array_api_ruleset,
    array_api_schedule,
)


def _float_one_dtype_after_saturation() -> object:
    """Saturate an e-graph holding the float 1.0 and ``Float.from_int(Int(1))``; return 1.0's dtype."""
    one = Value.from_float(Float(1.0))
    egraph = EGraph()
    # Float.from_int(Int(1)) is what two-class LDA builds for 1 / (n_classes - 1).
    egraph.register(one.dtype == DType.float64, Float.from_int(Int(1)))
    egraph.run(array_api_schedule)
    return egraph.extract(one.dtype)


def test_stock_rules_merge_float_and_int_dtypes() -> None:
    # The breakage itself, on the installed egglog: a whole-number float merges with an int, dtypes collide.
    with pytest.raises(EggSmolError, match="False cannot equal True"):
        _float_one_dtype_after_saturation()


def test_fixed_rules_keep_float_dtype() -> None:
    with array_api_fixes():
        dtype = _float_one_dtype_after_saturation()
    assert str(dtype) == "DType.float64"


def test_fixes_are_scoped_and_reentrant() -> None:
    rules = _compat.ruleset_rules(array_api_ruleset)
    bad = unsound_int_float_rule()
    assert bad in rules
    had_device = "device" in _compat.ndarray_class_decl().preserved_methods
    with array_api_fixes():
        with array_api_fixes():
            assert bad not in rules
        assert bad not in rules  # still inside the outer block
        assert "device" in _compat.ndarray_class_decl().preserved_methods
    assert bad in rules
    assert ("device" in _compat.ndarray_class_decl().preserved_methods) == had_device


def test_devices_of_different_arrays_compare_equal() -> None:
    # scikit-learn's check_same_namespace compares X.device with coef_.device via ==, then bool().
    x = NDArray.var("X")
    derived = (x + NDArray.var("Y")).T
    with array_api_fixes():
        assert bool(x.device == derived.device)
    if _compat.EGGLOG_MAJOR < 14:
        # egglog 13.2 without the fix: two different symbolic expressions, structurally unequal.
        assert not bool(x.device == derived.device)


def test_egglog_own_jit_traces_two_class_lda_with_fixes() -> None:
    # egglog's array_api_jit traces and optimises in ONE e-graph: exactly the tutorial's two-class data panics
    # there with stock rules (and fails sklearn's device check on 13.2). With the fixes it reproduces sklearn.
    from egglog.exp.array_api import assume_dtype, assume_isfinite, assume_shape, assume_value_one_of
    from egglog.exp.array_api_jit import jit

    X, y = workloads.make_lda_data(300, n_classes=2)

    def lda(X_sym, y_sym):
        assume_dtype(X_sym, X.dtype)
        assume_shape(X_sym, X.shape)
        assume_isfinite(X_sym)
        assume_dtype(y_sym, y.dtype)
        assume_shape(y_sym, y.shape)
        assume_value_one_of(y_sym, (0, 1))
        return workloads.lda_fit_transform(X_sym, y_sym)

    with array_api_fixes():
        fn = jit(lda)
    np.testing.assert_allclose(fn(X, y), workloads.lda_fit_transform(X, y), rtol=1e-7, atol=1e-9)
