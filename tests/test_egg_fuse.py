"""The fusion rewrites of :mod:`waxegg.egg.fuse` on program text, and the fused kernels of :mod:`waxegg.egg.kernels`.

Program-level checks on the seed LDA (result unchanged against scikit-learn and against the unfused program) are in
``test_egg_rewrites.py``; these tests need no egglog run. Each fused kernel is checked against the NumPy expression
it stands for, in Python and in Numba (the parallel loop path and the fallback path), including empty and
overlapping masks, and for bitwise determinism across thread counts.
"""

from __future__ import annotations

import re

import numba
import numpy as np
import pytest

from waxegg.egg import kernels
from waxegg.egg.fuse import FUSIONS, fuse_program
from waxegg.egg.rewrites import ALL_REWRITES

# The statements egglog + share_masked generate for 2-class LDA (abridged to the fused parts; names as generated).
LDA_BODY = """\
assert np.all(np.isfinite(X))
assert set(np.unique(y)) == set((0, 1, ))
_0 = y == np.array(0)
_2 = y == np.array(1)
_6 = np.zeros((2, 20, ), dtype=np.dtype(np.float64))
_7 = X[_0]
_8 = np.sum(_7, axis=0)
_9 = _8 / np.array(_7.shape[0])
_6[0, :,] = _9
_10 = X[_2]
_11 = np.sum(_10, axis=0)
_12 = _11 / np.array(_10.shape[0])
_6[1, :,] = _12
_13 = _5 @ _6
_14 = X - _13
_16 = _7 - _6[0, :,]
_17 = _10 - _6[1, :,]
_18 = np.concatenate((_16, _17, ), axis=0)
_19 = np.sum(_18, axis=0)
_20 = _19 / np.array(_18.shape[0])
_21 = np.expand_dims(_20, 0)
_22 = _18 - _21
_23 = np.square(_22)
_24 = np.sum(_23, axis=0)
_25 = _24 / np.array(_23.shape[0])
_26 = np.sqrt(_25)
_27 = _26 == np.array(0)
_26[_27] = np.array(float(1))
_28 = _18 / _26
_29 = _15 * _28
_30 = _k.svd_s_vt(_29)
_48 = _14 @ _47
"""


def _fused(rewrites: tuple[str, ...], body: str = LDA_BODY, result: str = "_48[:, :1,]") -> list[str]:
    statements, out = fuse_program(body, result, rewrites)
    assert out == result
    return statements.splitlines()


def test_every_fusion_is_a_selectable_rewrite() -> None:
    assert set(FUSIONS) <= set(ALL_REWRITES)
    assert _fused(()) == LDA_BODY.splitlines()


def test_fuse_masked_program_text() -> None:
    lines = _fused(("fuse_masked",))
    assert "_9 = _k.masked_mean(X, _0)" in lines and "_12 = _k.masked_mean(X, _2)" in lines
    assert "_18 = _k.masked_concat_sub(X, (_0, _2, ), (_6[0, :,], _6[1, :,], ))" in lines
    # the sums, the per-class differences and, now unused, the masked copies are gone; the rest is untouched
    removed = {"_7", "_8", "_10", "_11", "_16", "_17"}
    assert not [line for line in lines if line.split(" = ")[0] in removed]
    assert len(lines) == len(LDA_BODY.splitlines()) - len(removed)
    assert "_6[0, :,] = _9" in lines and "_19 = np.sum(_18, axis=0)" in lines


def test_fuse_masked_with_inline_selections() -> None:
    # without share_masked egglog writes X[_0] at every use
    body = "_8 = np.sum(X[_0], axis=0)\n_9 = _8 / np.array(X[_0].shape[0])\n_16 = X[_0] - _6[0, :,]\n_18 = np.concatenate((_16, ), axis=0)\n"
    assert _fused(("fuse_masked",), body, "_18") == [
        "_9 = _k.masked_mean(X, _0)",
        "_18 = _k.masked_concat_sub(X, (_0, ), (_6[0, :,], ))",
    ]


def test_fuse_masked_keeps_a_selection_used_elsewhere_and_respects_updates() -> None:
    body = "_7 = X[_0]\n_8 = np.sum(_7, axis=0)\n_9 = _8 / np.array(_7.shape[0])\n"
    assert _fused(("fuse_masked",), body, "_9 + _7") == ["_7 = X[_0]", "_9 = _k.masked_mean(X, _0)"]
    # the sum is used twice: not a chain
    assert _fused(("fuse_masked",), body, "_9 + _8") == body.splitlines()
    # X changes in place between the selection and the mean: the kernel would read the new X
    updated = "_7 = X[_0]\nX[_1] = np.array(0.0)\n_8 = np.sum(_7, axis=0)\n_9 = _8 / np.array(_7.shape[0])\n"
    assert _fused(("fuse_masked",), updated, "_9") == updated.splitlines()


def test_fuse_moments_program_text() -> None:
    lines = _fused(("fuse_moments",))
    assert "_20 = _k.mean0(_18)" in lines and "_25 = _k.mean_sq_dev(_18, _20)" in lines
    for gone in ("_19", "_21", "_22", "_23", "_24"):
        assert not any(line.startswith(f"{gone} = ") for line in lines)
    # masked sums are means of selections, also rewritten when fuse_masked is off
    assert "_9 = _k.mean0(_7)" in lines


def test_fuse_moments_leaves_shared_deviations() -> None:
    body = "_21 = np.expand_dims(_20, 0)\n_22 = _18 - _21\n_23 = np.square(_22)\n_24 = np.sum(_23, axis=0)\n_25 = _24 / np.array(_23.shape[0])\n"
    lines = _fused(("fuse_moments",), body, "_25 + _22")  # the deviations are returned too
    assert "_22 = _18 - _21" in lines and not any("mean_sq_dev" in line for line in lines)
    assert "_25 = _k.mean0(_23)" in lines


def test_fuse_scale_svd_program_text() -> None:
    lines = _fused(("fuse_scale_svd",))
    assert "_30 = _k.svd_s_vt_scaled(_18, _26, _15)" in lines
    assert not any(line.startswith(("_28 = ", "_29 = ")) for line in lines)
    # the in-place update of the scale happens before the division, so the fusion may read it at the call
    assert lines.index("_26[_27] = np.array(float(1))") < lines.index("_30 = _k.svd_s_vt_scaled(_18, _26, _15)")
    updated = "_28 = _18 / _26\n_26[_27] = np.array(float(1))\n_29 = _15 * _28\n_30 = _k.svd_s_vt(_29)\n"
    assert _fused(("fuse_scale_svd",), updated, "_30") == updated.splitlines()


def test_fuse_sub_matmul_and_checks_program_text() -> None:
    lines = _fused(("fuse_sub_matmul", "fuse_checks"))
    assert "_48 = _k.sub_matmul(X, _13, _47)" in lines and not any(line.startswith("_14 = ") for line in lines)
    assert lines[:2] == ["assert _k.all_finite(X)", "assert _k.same_value_set(y, (0, 1, ))"]
    assert _fused(("fuse_sub_matmul",), LDA_BODY, "_48 + _14") == LDA_BODY.splitlines()


def test_all_fusions_together() -> None:
    lines = _fused(ALL_REWRITES)
    assert not any("X[" in line for line in lines)  # no masked copies left
    # 2 checks, 2 masked means, concat, 2 moments, svd, matmul, and fuse_setitem's 2 row and 1 masked updates
    assert sum("_k." in line for line in lines) == 12
    assert not any(re.match(r"^\w+\[.*\] = ", line) for line in lines)  # no array assignment left


def test_fuse_setitem_program_text() -> None:
    lines = _fused(("fuse_setitem",))
    assert "_k.set_row(_6, 0, _9)" in lines and "_k.set_row(_6, 1, _12)" in lines
    assert "_k.set_where(_26, _27, np.array(float(1)))" in lines
    assert len(lines) == len(LDA_BODY.splitlines())  # one call per update, in its place
    # a scalar constant too; a value that is not a constant, a slice of columns, an integer index are left alone
    body = "_3[_2] = 0.5\n_3[_2] = _4\n_5[:, 0,] = _6\n_5[1] = _6\n"
    assert _fused(("fuse_setitem",), body, "_3") == ["_k.set_where(_3, _2, 0.5)", "_3[_2] = _4", "_5[:, 0,] = _6",
                                                      "_5[1] = _6"]
    # applied last: the updates the other fusions look for are still there when they run
    assert list(FUSIONS)[-1] == "fuse_setitem" and ALL_REWRITES[-1] == "fuse_setitem"



# What egglog generates for StandardScaler().fit(X).transform(X) (300 x 6), MinMaxScaler, Normalizer and
# KernelCenterer: the statements over the data, as generated.
SCALER_BODY = """\
_0 = np.sum(X, axis=0)
_1 = np.full((6, ), float(300))
_2 = _0 / _1
_3 = X - _2
_4 = np.square(_3)
_5 = np.sum(_4, axis=0)
_6 = np.sum(_3, axis=0)
_7 = np.square(_6)
_19 = np.sqrt(_5 - _7)
_25 = _19 <= np.array(1e-300)
_19[_25] = np.array(float(1))
_26 = _3 / _19
"""


def test_fuse_passes_standard_scaler_program_text() -> None:
    assert _fused(("fuse_passes",), SCALER_BODY, "_26") == [
        "_0 = _k.sum0(X)",
        "_1 = np.full((6, ), float(300))",
        "_2 = _0 / _1",  # 1-D by 1-D: not the data's size, left alone
        "_t0 = _k.dev_sums(X, _2)",
        "_5 = _t0[0]",
        "_6 = _t0[1]",
        "_7 = np.square(_6)",
        "_19 = np.sqrt(_5 - _7)",
        "_25 = _19 <= np.array(1e-300)",
        "_19[_25] = np.array(float(1))",
        # the scale is updated in place before the division: the kernel reads it where the division was
        "_26 = _k.sub_div(X, _2, _19)",
    ]
    # the deviations are also returned: they are computed, and the sums still come from one pass
    lines = _fused(("fuse_passes",), SCALER_BODY, "_26 + _3")
    assert "_3 = _k.sub_cols(X, _2)" in lines and "_26 = _3 / _19" in lines and "_t0 = _k.dev_sums(X, _2)" in lines
    # X changes in place after the centring: the kernels would read the new X, nothing over X is fused
    updated = SCALER_BODY.replace("_4 = np.square(_3)\n", "_4 = np.square(_3)\nX[_1] = np.array(0.0)\n")
    lines = _fused(("fuse_passes",), updated, "_26")
    assert not any("dev_sums" in line or "sub_div" in line for line in lines)
    assert _fused(("fuse_passes",), SCALER_BODY.replace("_3 / _19", "X / _19"), "_26")[-1] == "_26 = _k.div_cols(X, _19)"


def test_fuse_passes_reads_a_row_vector_through_expand_dims() -> None:
    body = "_3 = np.expand_dims(_1, 0)\n_4 = X - _3\n_5 = np.square(_4)\n_6 = np.sum(_5, axis=0)\n"
    assert _fused(("fuse_passes",), body, "_6 + _3") == ["_3 = np.expand_dims(_1, 0)", "_6 = _k.dev_sums(X, _1)[0]"]
    # the vector changes in place before the deviations (its expansion is a view: they see the change too)
    updated = body.replace("_4 =", "_1[0] = np.array(0.0)\n_4 =")
    assert _fused(("fuse_passes",), updated, "_6")[-1] == "_6 = _k.dev_sums(X, _1)[0]"
    # ... or after them, before the sum: the kernel would read the new values, nothing is fused
    late = body.replace("_5 =", "_1[0] = np.array(0.0)\n_5 =")
    lines = _fused(("fuse_passes",), late, "_6")
    assert "_4 = _k.sub_cols(X, _3)" in lines and "_5 = np.square(_4)" in lines and not any("dev_sums" in line for line in lines)


def test_fuse_passes_scaler_normalizer_centerer_program_text() -> None:
    minmax = "_1 = _k.reduce_max(X, 0)\n_2 = _k.reduce_min(X, 0)\n_5 = _0 / (_1 - _2)\n_6 = X * _5\n_7 = _2 * _5\n_8 = _10 - _7\n_9 = _6 + _8\n"
    assert _fused(("fuse_passes",), minmax, "_9") == [
        "_t0 = _k.max_min0(X)", "_1 = _t0[0]", "_2 = _t0[1]", "_5 = _0 / (_1 - _2)", "_7 = _2 * _5", "_8 = _10 - _7",
        "_9 = _k.mul_add(X, _5, _8)",
    ]
    for inner, kernel in (("np.abs(X)", "row_abs_sum"), ("X * X", "row_sumsq")):
        body = f"_0 = {inner}\n_1 = np.sum(_0, axis=1)\n_1[_1 < np.array(1e-15)] = np.array(1.0)\n_3 = X / _1[:, None,]\n"
        assert _fused(("fuse_passes",), body, "_3") == [
            f"_1 = _k.{kernel}(X)", "_1[_1 < np.array(1e-15)] = np.array(1.0)", "_3 = _k.div_rows(X, _1)"]
    for axis, kernel in ((1, "row_max_abs"), (0, "max_abs0")):
        body = f"_0 = np.abs(X)\n_1 = _k.reduce_max(_0, {axis})\n"
        assert _fused(("fuse_passes",), body, "_1") == [f"_1 = _k.{kernel}(X)"]
        assert _fused(("fuse_passes",), body, "_1 + _0") == body.splitlines()  # |X| is used again
    centerer = ("_0 = np.sum(X, axis=0)\n_1 = _0 / np.array(300)\n_2 = X - _1\n_3 = np.sum(X, axis=1)\n"
                "_4 = _3 / np.array(300)\n_5 = _2 - _4[:, None,]\n_8 = np.sum(_0) / np.array(90000)\n_9 = _5 + _8\n")
    assert _fused(("fuse_passes",), centerer, "_9") == [
        "_t0 = _k.col_row_sums(X)", "_0 = _t0[0]", "_1 = _0 / np.array(300)", "_3 = _t0[1]", "_4 = _3 / np.array(300)",
        "_8 = np.sum(_0) / np.array(90000)", "_9 = _k.center2(X, _1, _4, _8)",
    ]
    # the row means are updated in place after the first centring: the chain reads them where it ended, but
    # X changing there is refused
    assert "_9 = _k.center2(X, _1, _4, _8)" in _fused(("fuse_passes",), centerer.replace("_5 =", "_4[_0] = _1\n_5 ="), "_9")
    changed = _fused(("fuse_passes",), centerer.replace("_5 =", "X[_0] = _1\n_5 ="), "_9")
    assert not any("center2" in line for line in changed)


def test_fuse_passes_pca_program_text() -> None:
    # PCA(svd_solver="covariance_eigh"): the Gram matrix, and the centred projection X @ W - mean @ W
    body = ("_0 = X.T @ X\n_2 = _1 / np.array(300)\n_5 = np.expand_dims(_2, 0)\n_19 = X @ _18[:2, :,].T\n"
            "_20 = _5 @ _18[:2, :,].T\n_21 = _19 - _20\n")
    assert _fused(("fuse_passes",), body, "_21") == [
        "_0 = _k.gram(X)", "_2 = _1 / np.array(300)", "_5 = np.expand_dims(_2, 0)",
        "_21 = _k.matmul_sub(X, _18[:2, :,].T, _5)",
    ]
    # two different projections, or a projection used again: left alone
    other = body.replace("_5 @ _18[:2, :,].T", "_5 @ _17")
    assert _fused(("fuse_passes",), other, "_21")[1:] == other.splitlines()[1:]
    assert "_21 = _19 - _20" in _fused(("fuse_passes",), body, "_21 + _19")
    # an input minus a vector, on its own (Ridge centres X before its SVD); inside a chain the chain wins
    assert _fused(("fuse_passes",), "_2 = X - _1\n_3 = np.linalg.svd(_2, full_matrices=False)\n", "_3") == [
        "_2 = _k.sub_cols(X, _1)", "_3 = np.linalg.svd(_2, full_matrices=False)"]


def test_fuse_shared_svd_program_text() -> None:
    body = "_2 = X - _1\n_3 = _k.svd_s_vt(_2)\n_5 = _3[0] > np.array(1e-15)\n_10 = np.linalg.svd(_2, full_matrices=False)\n_15 = _10[0].T @ y\n"
    assert _fused(("fuse_shared_svd",), body, "_3[1] @ _15") == [
        "_2 = X - _1", "_10 = np.linalg.svd(_2, full_matrices=False)", "_3 = (_10[1], _10[2], )",
        "_5 = _3[0] > np.array(1e-15)", "_15 = _10[0].T @ y",
    ]
    # the matrix changes between the two decompositions: they are of different matrices
    updated = body.replace("_5 =", "_2[_0] = np.array(0.0)\n_5 =")
    assert _fused(("fuse_shared_svd",), updated, "_3[1] @ _15") == updated.splitlines()
    # of different matrices in the first place
    other = body.replace("np.linalg.svd(_2,", "np.linalg.svd(X,")
    assert _fused(("fuse_shared_svd",), other, "_3[1] @ _15") == other.splitlines()

# -- kernels ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 3 * (1 << 14) + 123  # several parallel blocks and a partial one
    return rng.standard_normal((n, 5)) * 3 + 1, rng.integers(0, 3, n)


def _jit(fn):  # noqa: ANN001, ANN202
    return numba.njit(fn)


_masked_mean = _jit(lambda x, m: kernels.masked_mean(x, m))
_concat = _jit(lambda x, a, b, r, s: kernels.masked_concat_sub(x, (a, b), (r, s)))
_mean0 = _jit(lambda a: kernels.mean0(a))
_msd = _jit(lambda a, m: kernels.mean_sq_dev(a, m))
_svd_scaled = _jit(lambda a, s, c: kernels.svd_s_vt_scaled(a, s, c))
_sub_matmul = _jit(lambda x, v, w: kernels.sub_matmul(x, v, w))
_finite = _jit(lambda x: kernels.all_finite(x))
_value_set = _jit(lambda y: kernels.same_value_set(y, (0, 1, 2)))

# the pass kernels of fuse_passes, as a generated program calls them
PASS_KERNELS = {
    "sum0": (lambda a, v, r: kernels.sum0(a), lambda a, v, r: np.sum(a, axis=0)),
    "col_row_sums": (lambda a, v, r: kernels.col_row_sums(a), lambda a, v, r: (np.sum(a, axis=0), np.sum(a, axis=1))),
    "dev_sums": (lambda a, v, r: kernels.dev_sums(a, v),
                 lambda a, v, r: (np.sum(np.square(a - v), axis=0), np.sum(a - v, axis=0))),
    "max_min0": (lambda a, v, r: kernels.max_min0(a), lambda a, v, r: (np.max(a, axis=0), np.min(a, axis=0))),
    "max_abs0": (lambda a, v, r: kernels.max_abs0(a), lambda a, v, r: np.max(np.abs(a), axis=0)),
    "row_sumsq": (lambda a, v, r: kernels.row_sumsq(a), lambda a, v, r: np.sum(a * a, axis=1)),
    "row_abs_sum": (lambda a, v, r: kernels.row_abs_sum(a), lambda a, v, r: np.sum(np.abs(a), axis=1)),
    "row_max_abs": (lambda a, v, r: kernels.row_max_abs(a), lambda a, v, r: np.max(np.abs(a), axis=1)),
    "sub_div": (lambda a, v, r: kernels.sub_div(a, v, v + 2.0), lambda a, v, r: (a - v) / (v + 2.0)),
    "div_cols": (lambda a, v, r: kernels.div_cols(a, v), lambda a, v, r: a / v),
    "div_rows": (lambda a, v, r: kernels.div_rows(a, r), lambda a, v, r: a / r[:, None]),
    "mul_add": (lambda a, v, r: kernels.mul_add(a, v, v * 3.0), lambda a, v, r: a * v + v * 3.0),
    "center2": (lambda a, v, r: kernels.center2(a, v, r, np.array(0.25)), lambda a, v, r: ((a - v) - r[:, None]) + 0.25),
    "sub_cols": (lambda a, v, r: kernels.sub_cols(a, v), lambda a, v, r: a - v),
    "gram": (lambda a, v, r: kernels.gram(a), lambda a, v, r: a.T @ a),
    # PCA's projection: a transposed slice of the components, the mean as a (1, d) row
    "matmul_sub": (lambda a, v, r: kernels.matmul_sub(a, np.outer(v, v[:2]).T[:2].T, np.expand_dims(v, 0)),
                   lambda a, v, r: a @ np.outer(v, v[:2]).T[:2].T - np.expand_dims(v, 0) @ np.outer(v, v[:2]).T[:2].T),
}
# element-wise kernels: each output element rounds as NumPy's expression does, so Numba's are bit-exact
ELEMENT_WISE = {"sub_div", "div_cols", "div_rows", "mul_add", "center2", "max_min0", "max_abs0", "row_max_abs", "sub_cols"}
_PASS_JITTED = {name: _jit(fn) for name, (fn, _) in PASS_KERNELS.items()}


def _same(got, want, exact: bool) -> None:  # noqa: ANN001
    for g, w in zip(got, want, strict=True) if isinstance(want, tuple) else ((got, want),):
        assert g.dtype == w.dtype and g.shape == w.shape
        if exact:
            np.testing.assert_array_equal(g, w)
        else:  # sums in blocks of rows, added in order: not NumPy's pairwise order
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12 * np.abs(w).max(initial=1.0))


def test_masked_kernels_match_numpy(data) -> None:
    X, y = data
    for c in range(3):
        expected = np.sum(X[y == c], axis=0) / np.array(X[y == c].shape[0])
        np.testing.assert_array_equal(kernels.masked_mean(X, y == c), expected)
        np.testing.assert_allclose(_masked_mean(X, y == c), expected, rtol=1e-13)
    r0, r1 = X[:2]
    # overlapping masks: a row in both classes appears in both blocks, as np.concatenate has it
    a, b = y == 0, y <= 1
    expected = np.concatenate((X[a] - r0, X[b] - r1), axis=0)
    np.testing.assert_array_equal(kernels.masked_concat_sub(X, (a, b), (r0, r1)), expected)
    np.testing.assert_array_equal(_concat(X, a, b, r0, r1), expected)  # no arithmetic beyond the subtraction


def test_masked_kernels_empty_class_and_no_rows() -> None:
    X = np.arange(12.0).reshape(6, 2)
    none = np.zeros(6, dtype=bool)
    with np.errstate(invalid="ignore"):
        assert np.isnan(kernels.masked_mean(X, none)).all()
    assert np.isnan(_masked_mean(X, none)).all()  # 0 / 0 as in NumPy, not ZeroDivisionError
    assert _concat(X, none, none, X[0], X[1]).shape == (0, 2)
    assert _mean0(np.empty((0, 3))).shape == (3,)
    with pytest.raises(IndexError, match="mask length"):
        _masked_mean(X, np.ones(5, dtype=bool))


def test_moment_kernels_match_numpy(data) -> None:
    X, _ = data
    mean = np.sum(X, axis=0) / np.array(X.shape[0])
    var = np.sum(np.square(X - np.expand_dims(mean, 0)), axis=0) / np.array(X.shape[0])
    np.testing.assert_array_equal(kernels.mean0(X), mean)
    np.testing.assert_array_equal(kernels.mean_sq_dev(X, mean), var)
    np.testing.assert_allclose(_mean0(X), mean, rtol=1e-13)
    np.testing.assert_allclose(_msd(X, mean), var, rtol=1e-12)


def test_svd_s_vt_scaled_is_bitwise_the_unfused_chain(data) -> None:
    X, _ = data
    s, c = X.std(axis=0), np.sqrt(np.asarray(np.array(1 / len(X))))
    s_ref, vt_ref = kernels.svd_s_vt(c * (X / s))
    for fn in (kernels.svd_s_vt_scaled, _svd_scaled):
        s1, vt1 = fn(X, s, c)
        assert np.array_equal(s1, s_ref) and np.array_equal(vt1, vt_ref), fn  # signs included
    s2, vt2 = _svd_scaled(X[:7], s, c)  # not tall: LAPACK's own SVD of the scaled matrix
    _, s_small, vt_small = np.linalg.svd(c * (X[:7] / s), full_matrices=False)
    np.testing.assert_allclose(s2, s_small, rtol=1e-13)
    np.testing.assert_allclose(np.abs(vt2), np.abs(vt_small), atol=1e-12)


def test_sub_matmul_and_checks_match_numpy(data) -> None:
    X, y = data
    v, w = X[3], np.random.default_rng(0).standard_normal((5, 2))
    np.testing.assert_array_equal(kernels.sub_matmul(X, v, w), (X - v) @ w)
    np.testing.assert_allclose(_sub_matmul(X, v, w), (X - v) @ w, rtol=1e-12, atol=1e-12)
    assert _finite(X) and kernels.all_finite(X)
    bad = X.copy()
    bad[-1, 4] = np.inf
    assert not _finite(bad) and not kernels.all_finite(bad)
    assert _value_set(y) and kernels.same_value_set(y, (0, 1, 2))
    assert not _value_set(np.where(y == 2, 1, y))  # a value never seen
    assert not _value_set(np.where(y == 2, 5, y))  # a value outside the set
    assert kernels.same_value_set(y, (2, 1, 0, 0))


_set_row = _jit(lambda a, i, v: kernels.set_row(a, i, v))
_set_where = _jit(lambda a, m, c: kernels.set_where(a, m, c))


def _assigned(a, key, value):  # noqa: ANN001, ANN202
    out = a.copy()
    out[key] = value
    return out


def test_setitem_kernels_match_numpy_assignment() -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 7))
    v = rng.standard_normal(7)
    for i in (0, 3, -1, -4):
        for fn in (kernels.set_row, _set_row):
            got = a.copy()
            assert fn(got, i, v) is None
            np.testing.assert_array_equal(got, _assigned(a, (i, slice(None)), v))
    for shape in ((9,), (4, 7)):
        x = rng.standard_normal(shape)
        m = x > 0.3
        for c in (np.array(float(1)), 2.5, np.array(-3.0)):
            for fn in (kernels.set_where, _set_where):
                got = x.copy()
                fn(got, m, c)
                np.testing.assert_array_equal(got, _assigned(x, m, c))
    none = np.zeros(9, dtype=np.bool_)
    got = np.arange(9.0)
    _set_where(got, none, 1.0)
    np.testing.assert_array_equal(got, np.arange(9.0))


def test_setitem_kernels_refuse_mismatched_shapes_as_numpy() -> None:
    a = np.zeros((3, 4))
    for fn in (kernels.set_row, _set_row):
        with pytest.raises(ValueError):
            fn(a, 0, np.ones(5))
        with pytest.raises(IndexError):
            fn(a, 3, np.ones(4))
    for fn in (kernels.set_where, _set_where):
        with pytest.raises(IndexError):
            fn(np.zeros(4), np.ones(5, dtype=np.bool_), 1.0)


def test_fallback_paths_compile_the_numpy_expression() -> None:
    X32 = np.arange(12, dtype=np.float32).reshape(6, 2)
    m = np.array([True, False, True, True, False, False])
    np.testing.assert_allclose(_masked_mean(X32, m), np.sum(X32[m], axis=0) / 3, rtol=1e-6)
    np.testing.assert_allclose(_mean0(X32), X32.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(_sub_matmul(X32, X32[0], X32[:2].T), (X32 - X32[0]) @ X32[:2].T, rtol=1e-6)
    assert _finite(X32[0])  # 1-D


def test_parallel_reductions_do_not_depend_on_the_thread_count(data) -> None:
    X, y = data
    previous = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            results.append((_masked_mean(X, y == 1), _mean0(X), _msd(X, X[0])))
    finally:
        numba.set_num_threads(previous)
    for got in results[1:]:
        for a, b in zip(got, results[0], strict=True):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("shape", [(3 * (1 << 14) + 123, 5), (701, 3000), (1, 4), (130, 1)], ids=str)
def test_pass_kernels_match_numpy(shape) -> None:
    # several reduction blocks and a partial one (rows_per_block(5) = 26214; 64 rows at 3000 columns), one row,
    # one column
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal(shape) * 3 + 1
    v, r = rng.uniform(0.5, 2.0, shape[1]), rng.uniform(0.5, 2.0, shape[0])
    for name, (fn, numpy_fn) in PASS_KERNELS.items():
        want = numpy_fn(a, v, r)
        _same(fn(a, v, r), want, exact=True)  # the Python body is that NumPy
        _same(_PASS_JITTED[name](a, v, r), want, exact=name in ELEMENT_WISE)


def test_pass_kernels_nan_and_inf_as_numpy() -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal((40_000, 4))
    a[7, 0] = a[30_000, 1] = np.nan  # in the first and in a later block
    a[25_000, 2], a[3, 3] = np.inf, -np.inf
    v, r = np.ones(4), np.ones(40_000)
    for name in ("max_min0", "max_abs0", "row_max_abs", "row_abs_sum", "sum0", "div_rows"):
        want = PASS_KERNELS[name][1](a, v, r)
        _same(_PASS_JITTED[name](a, v, r), want, exact=True)


def test_pass_kernels_empty_and_mismatched_input() -> None:
    empty = np.empty((0, 3))
    assert _PASS_JITTED["sum0"](empty, None, None).shape == (3,)
    for name in ("max_min0", "max_abs0"):
        with pytest.raises(ValueError, match="zero-size array"):
            _PASS_JITTED[name](empty, np.ones(3), np.ones(0))
    with pytest.raises(ValueError, match="zero-size array"):
        _PASS_JITTED["row_max_abs"](np.empty((2, 0)), np.ones(0), np.ones(2))
    assert _PASS_JITTED["row_max_abs"](np.empty((0, 0)), np.ones(0), np.ones(0)).shape == (0,)
    # a length-1 vector broadcasts as in NumPy; any other length raises NumPy's broadcast error
    a = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(_jit(lambda a, s: kernels.div_cols(a, s))(a, np.array([2.0])), a / 2.0)
    np.testing.assert_array_equal(_jit(lambda a, s: kernels.div_rows(a, s))(a, np.array([2.0])), a / 2.0)
    with pytest.raises(ValueError):
        _jit(lambda a, s: kernels.div_rows(a, s))(a, np.ones(2))
    with pytest.raises(ValueError, match="m's length"):
        _jit(lambda a, m: kernels.dev_sums(a, m))(a, np.ones(3))


def test_pass_kernels_fallback_for_other_dtypes() -> None:
    a = np.arange(12, dtype=np.float32).reshape(4, 3) + 1
    v = np.float32([1, 2, 3])
    r = np.float32([1, 2, 4, 8])
    for name, (_, numpy_fn) in PASS_KERNELS.items():
        want = numpy_fn(a.astype(np.float64), v.astype(np.float64), r.astype(np.float64))
        got = _PASS_JITTED[name](a, v, r)
        for g, w in zip(got, want, strict=True) if isinstance(want, tuple) else ((got, want),):
            np.testing.assert_allclose(g, w, rtol=1e-6)


def test_outputs_on_huge_pages_keep_their_contents() -> None:
    from waxegg.egg import _loops

    big = np.random.default_rng(0).standard_normal((1 << 20, 3))  # 24 MB: advised
    before = big.copy()
    out = _loops.advise_huge(big)
    assert out is big and np.array_equal(big, before)
    small = np.arange(10.0)
    assert _loops.advise_huge(small) is small
    fresh = _loops.empty_rows(1 << 20, 3)
    assert fresh.shape == (1 << 20, 3) and fresh.dtype == np.float64 and fresh.flags.c_contiguous


def test_pass_reductions_do_not_depend_on_the_thread_count() -> None:
    a = np.random.default_rng(9).standard_normal((3 * (1 << 14) + 123, 5))
    v, r = a[0], np.ones(len(a))
    previous = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            results.append([_PASS_JITTED[name](a, v, r) for name in ("sum0", "col_row_sums", "dev_sums", "row_sumsq")])
    finally:
        numba.set_num_threads(previous)
    for got in results[1:]:
        for x, y in zip(got, results[0], strict=True):
            for g, w in zip(x, y, strict=True) if isinstance(y, tuple) else ((x, y),):
                assert np.array_equal(g, w)
