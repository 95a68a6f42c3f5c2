"""waxegg's extension of egglog's traced array API: what scikit-learn's estimators call beyond LDA.

egglog 13.2's ``egglog.exp.array_api`` knows the shape and dtype of its inputs (through ``assume_*``) and of little
else, and its namespace lacks functions scikit-learn's array-API code paths call. This module adds, without
touching egglog's files:

- **shape and dtype rules** for elementwise operations (with broadcasting), reductions with ``axis`` /
  ``keepdims``, ``asarray``, ``astype``, ``expand_dims``, ``matmul``, slicing, ``where``, ... so the questions
  scikit-learn asks of intermediate arrays (``X.ndim``, ``self.mean_.shape[0]``, ``X.dtype``) have answers;
- **values the assumptions decide**: ``isnan`` of an array assumed finite is all ``False``, constant arrays
  (``zeros``, ``full``) fold through arithmetic and reductions, so scikit-learn's NaN-handling branches and
  incremental-statistics bookkeeping disappear from the program;
- **functions** (``max``, ``min``, ``all``, ``argmax``, ``exp``, ``isnan``, ``sign``, ``where``, ``maximum``,
  ``flip``, ``linalg.eigh``, ``var``, ``take``, ``arange``, ``full``, ``finfo``, ``result_type``, ...) declared
  as egglog functions (or built from egglog's) with their shape, dtype and program-generation rules; those Numba
  lacks (``max(x, axis)``, ``flip(x, axis)``) are generated as calls of :mod:`waxegg.egg.kernels`;
- **a namespace** (:func:`namespace`): egglog's module plus those functions and ``__array_namespace_info__``,
  returned by ``NDArray.__array_namespace__`` while :func:`waxegg.egg._fixes.array_api_fixes` is active.

The rules live in their own rulesets (:func:`ruleset`, :func:`program_ruleset`) that the stages run with egglog's,
so other egglog users in the process see egglog unchanged. Shape rules that compute a whole shape fire only on
concrete shapes (``TupleInt(vec)``); rules for one dimension or the number of dimensions also answer for arrays
whose other dimensions are data-dependent (LDA's rank).
"""

from __future__ import annotations

import contextlib
import math
import types
from collections.abc import Iterator
from copy import copy
from typing import Any

__all__ = ["lowering_ruleset", "namespace", "program_ruleset", "program_rules_replaced", "ruleset", "schedule"]

_STATE: dict[str, Any] = {}


def _declare() -> dict[str, Any]:  # noqa: C901, PLR0915 -- one place that declares every egglog extension
    """Declare the functions and rulesets once per process (egglog declarations are global)."""
    if _STATE:
        return _STATE
    import egglog.exp.array_api as aa  # noqa: PLC0415
    from egglog import BigRat, Vec, eq, f64, function, i64, ne, rewrite, rule, ruleset, var  # noqa: PLC0415
    from egglog.exp.array_api import (  # noqa: PLC0415
        FALSE,
        TRUE,
        Boolean,
        DType,
        Float,
        Int,
        IndexKey,
        MultiAxisIndexKey,
        MultiAxisIndexKeyItem,
        NDArray,
        OptionalBool,
        OptionalDevice,
        OptionalDType,
        OptionalInt,
        OptionalIntOrTuple,
        RecursiveValue,
        Slice,
        TupleInt,
        TupleNDArray,
        Value,
    )

    rules = ruleset(name="waxegg_array_api")
    lowering = ruleset(name="waxegg_array_api_numba")
    programs = ruleset(name="waxegg_array_api_program")

    # -- new functions ------------------------------------------------------------------------------------------
    @function
    def max_(x: NDArray, axis: OptionalIntOrTuple = OptionalIntOrTuple.none, keepdims: Boolean = FALSE) -> NDArray: ...

    @function
    def min_(x: NDArray, axis: OptionalIntOrTuple = OptionalIntOrTuple.none, keepdims: Boolean = FALSE) -> NDArray: ...

    @function
    def all_(x: NDArray, axis: OptionalIntOrTuple = OptionalIntOrTuple.none, keepdims: Boolean = FALSE) -> NDArray: ...

    @function
    def full_(shape: TupleInt, value: Value) -> NDArray: ...

    @function
    def sum_keepdims(x: NDArray, axis: OptionalIntOrTuple) -> NDArray: ...

    @function
    def argmax_(x: NDArray, axis: OptionalInt = OptionalInt.none) -> NDArray: ...

    @function
    def exp_(x: NDArray) -> NDArray: ...

    @function
    def isnan_(x: NDArray) -> NDArray: ...

    @function
    def sign_(x: NDArray) -> NDArray: ...

    @function
    def where_(c: NDArray, x: NDArray, y: NDArray) -> NDArray: ...

    @function
    def maximum_(x: NDArray, y: NDArray) -> NDArray: ...

    @function
    def eigh_(x: NDArray) -> TupleNDArray: ...

    @function
    def flip_(x: NDArray, axis: Int) -> NDArray: ...

    @function
    def matrix_transpose_(x: NDArray) -> NDArray: ...

    @function
    def reciprocal_(x: NDArray) -> NDArray: ...

    @function(unextractable=True)
    def broadcast_shape(s1: TupleInt, s2: TupleInt) -> TupleInt: ...

    @function(unextractable=True)
    def reduced_shape(s: TupleInt, axis: OptionalIntOrTuple, keepdims: Boolean) -> TupleInt: ...

    @function(unextractable=True)
    def expanded_shape(s: TupleInt, axis: Int) -> TupleInt: ...

    @function(unextractable=True)
    def matmul_shape(s1: TupleInt, s2: TupleInt) -> TupleInt: ...

    @function(unextractable=True)
    def transposed_shape(s: TupleInt) -> TupleInt: ...

    @function(unextractable=True)
    def svd_shape(s: TupleInt, part: Int) -> TupleInt: ...

    @function(unextractable=True)
    def float_result(d: DType) -> DType: ...

    @function(unextractable=True)
    def sum_result(d: DType) -> DType: ...

    @function(unextractable=True)
    def promote(d1: DType, d2: DType) -> DType: ...

    # -- shapes -------------------------------------------------------------------------------------------------
    x, y, c = var("x", NDArray), var("y", NDArray), var("c", NDArray)
    s1, s2, s = var("s1", TupleInt), var("s2", TupleInt), var("s", TupleInt)
    i = var("i", Int)
    k, k2 = var("k", i64), var("k2", i64)
    sl, sl2 = var("sl", Slice), var("sl2", Slice)
    vsa = var("vsa", Vec[NDArray])
    d = var("d", DType)
    keep = var("keep", Boolean)
    ax = var("ax", OptionalIntOrTuple)
    oax = var("oax", OptionalInt)
    od, ob, odev = var("od", OptionalDType), var("ob", OptionalBool), var("odev", OptionalDevice)
    v = var("v", Value)
    vs, vs1, vs2 = var("vs", Vec[Int]), var("vs1", Vec[Int]), var("vs2", Vec[Int])
    key = var("key", IndexKey)
    b = var("b", Boolean)

    binary = [NDArray.__add__, NDArray.__sub__, NDArray.__mul__, NDArray.__truediv__, NDArray.__pow__]
    compare = [NDArray.__lt__, NDArray.__le__, NDArray.__gt__, NDArray.__ge__, NDArray.__eq__]
    logical = [NDArray.__and__, NDArray.__or__]

    @rules.register
    def _shapes():  # noqa: ANN202 -- egglog rule generator
        for op in [*binary, *compare, *logical]:
            yield rewrite(op(x, y).shape).to(broadcast_shape(x.shape, y.shape))
        for op in [maximum_]:
            yield rewrite(op(x, y).shape).to(broadcast_shape(x.shape, y.shape))
        yield rewrite(where_(c, x, y).shape).to(broadcast_shape(c.shape, broadcast_shape(x.shape, y.shape)))
        for fn in [aa.sqrt, aa.square, aa.abs, aa.log, exp_, isnan_, aa.isfinite, sign_, reciprocal_, NDArray.__abs__]:
            yield rewrite(fn(x).shape).to(x.shape)
        yield rewrite(aa.astype(x, d).shape).to(x.shape)
        yield rewrite(aa.asarray(x, od, ob, odev).shape).to(x.shape)
        yield rewrite(aa.asarray(x, od, ob, odev).dtype).to(x.dtype, eq(od).to(OptionalDType.none))
        yield rewrite(aa.asarray(x, OptionalDType.some(d), ob, odev).dtype).to(d)
        yield rewrite(aa.sum(x, ax).shape).to(reduced_shape(x.shape, ax, FALSE))
        yield rewrite(sum_keepdims(x, ax).shape).to(reduced_shape(x.shape, ax, TRUE))
        yield rewrite(aa.mean(x, ax, keep).shape).to(reduced_shape(x.shape, ax, keep))
        yield rewrite(aa.std(x, ax).shape).to(reduced_shape(x.shape, ax, FALSE))
        yield rewrite(max_(x, ax, keep).shape).to(reduced_shape(x.shape, ax, keep))
        yield rewrite(all_(x, ax, keep).shape).to(reduced_shape(x.shape, ax, keep))
        yield rewrite(min_(x, ax, keep).shape).to(reduced_shape(x.shape, ax, keep))
        yield rewrite(argmax_(x, OptionalInt.some(i)).shape).to(
            reduced_shape(x.shape, OptionalIntOrTuple.int(i), FALSE)
        )
        yield rewrite(argmax_(x, OptionalInt.none).shape).to(TupleInt(()))
        yield rewrite(aa.expand_dims(x, i).shape).to(expanded_shape(x.shape, i))
        yield rewrite((x @ y).shape).to(matmul_shape(x.shape, y.shape))
        yield rewrite(flip_(x, i).shape).to(x.shape)
        yield rewrite(matrix_transpose_(x).shape).to(transposed_shape(x.shape))
        yield rewrite(aa.svd_(x, FALSE)[Int(0)].shape).to(svd_shape(x.shape, Int(0)))
        yield rewrite(aa.svd_(x, FALSE)[Int(1)].shape).to(svd_shape(x.shape, Int(1)))
        yield rewrite(aa.svd_(x, FALSE)[Int(2)].shape).to(svd_shape(x.shape, Int(2)))
        yield rewrite(eigh_(x)[Int(0)].shape).to(TupleInt((x.shape[0],)))
        yield rewrite(eigh_(x)[Int(1)].shape).to(x.shape)
        yield rewrite(aa.zeros(s, od, odev).shape).to(s)
        yield rewrite(full_(s, v).shape).to(s)
        yield rewrite(full_(s, v).dtype).to(v.dtype)
        yield rewrite(aa.zeros(s, OptionalDType.some(d), odev).dtype).to(d)
        yield rewrite(aa.zeros(s, OptionalDType.none, odev).dtype).to(DType.float64)

        # Shapes known one dimension at a time: a product or a slice whose other dimension is data-dependent (LDA's
        # rank, `Vt[:rank]`) still has a known number of dimensions and a known first (or second) one.
        two, one = Int(2), Int(1)
        yield rule(eq(s).to((x @ y).shape)).then(x.shape.length(), y.shape.length())
        yield rewrite((x @ y).shape.length()).to(two, eq(x.shape.length()).to(two), eq(y.shape.length()).to(two))
        yield rewrite((x @ y).shape.length()).to(one, eq(x.shape.length()).to(two), eq(y.shape.length()).to(one))
        yield rewrite((x @ y).shape.length()).to(one, eq(x.shape.length()).to(one), eq(y.shape.length()).to(two))
        yield rewrite((x @ y).shape.length()).to(
            Int(0), eq(x.shape.length()).to(one), eq(y.shape.length()).to(one)
        )
        yield rewrite((x @ y).shape[Int(0)]).to(x.shape[Int(0)], eq(x.shape.length()).to(two))
        yield rewrite((x @ y).shape[Int(0)]).to(
            y.shape[Int(1)], eq(x.shape.length()).to(one), eq(y.shape.length()).to(two)
        )
        yield rewrite((x @ y).shape[Int(1)]).to(
            y.shape[Int(1)], eq(x.shape.length()).to(two), eq(y.shape.length()).to(two)
        )
        both_slices = IndexKey.multi_axis(
            MultiAxisIndexKey.from_vec(Vec(MultiAxisIndexKeyItem.slice(sl), MultiAxisIndexKeyItem.slice(sl2)))
        )
        yield rule(eq(s).to(x[both_slices].shape)).then(x.shape.length())
        yield rewrite(x[both_slices].shape.length()).to(two, eq(x.shape.length()).to(two))
        yield rewrite(x[IndexKey.slice(sl)].shape.length()).to(x.shape.length())
        full = Slice(OptionalInt.none, OptionalInt.none, OptionalInt.none)
        full_first = IndexKey.multi_axis(
            MultiAxisIndexKey.from_vec(Vec(MultiAxisIndexKeyItem.slice(full), MultiAxisIndexKeyItem.slice(sl2)))
        )
        full_second = IndexKey.multi_axis(
            MultiAxisIndexKey.from_vec(Vec(MultiAxisIndexKeyItem.slice(sl), MultiAxisIndexKeyItem.slice(full)))
        )
        yield rewrite(x[full_first].shape[Int(0)]).to(x.shape[Int(0)])
        yield rewrite(x[full_second].shape[Int(1)]).to(x.shape[Int(1)])
        yield rewrite(reduced_shape(s, OptionalIntOrTuple.int(i), FALSE).length()).to(s.length() - one)
        yield rewrite(reduced_shape(s, OptionalIntOrTuple.int(i), TRUE).length()).to(s.length())
        yield rewrite(reduced_shape(s, OptionalIntOrTuple.none, FALSE).length()).to(Int(0))
        row_of = IndexKey.multi_axis(
            MultiAxisIndexKey.from_vec(Vec(MultiAxisIndexKeyItem.int(i), MultiAxisIndexKeyItem.slice(sl)))
        )
        yield rewrite(x[row_of].shape.length()).to(x.shape.length() - one)
        yield rewrite(aa.unique_counts_counts(x).shape).to(aa.unique_values(x).shape)
        yield rewrite(aa.unique_counts_elements(x).shape).to(aa.unique_values(x).shape)
        yield rewrite(aa.unique_inverse_inverse_indices(x).shape).to(x.shape)
        yield rewrite(aa.unique_counts_counts(x).dtype).to(DType.int64)
        yield rewrite(aa.unique_counts_elements(x).dtype).to(x.dtype)
        yield rewrite(aa.svd_(x, b)[Int(1)].shape.length()).to(one)
        yield rewrite(aa.svd_(x, b)[Int(0)].shape.length()).to(two)
        yield rewrite(aa.svd_(x, b)[Int(2)].shape.length()).to(two)
        # a boolean mask over the rows keeps the other dimensions; concat keeps its parts' number of dimensions
        yield rewrite(x[IndexKey.ndarray(y)].shape.length()).to(
            x.shape.length(), eq(y.dtype).to(DType.bool), eq(y.shape.length()).to(one)
        )
        yield rule(eq(s).to(x[IndexKey.ndarray(y)].shape)).then(x.shape.length(), y.shape.length(), y.dtype)
        yield rewrite(aa.concat(TupleNDArray(vsa), oax).shape.length()).to(vsa[0].shape.length(), vsa.length() > 0)
        for fn in [aa.sqrt, aa.square, aa.abs, aa.log, exp_, sign_]:
            yield rewrite(fn(x).shape.length()).to(x.shape.length())
        for op in [*binary, *compare, *logical]:
            yield rule(eq(s).to(op(x, y).shape)).then(x.shape.length(), y.shape.length())
            yield rewrite(op(x, y).shape.length()).to(
                x.shape.length(), eq(x.shape.length()).to(Int(k)), eq(y.shape.length()).to(Int(k2)), k >= k2
            )
            yield rewrite(op(x, y).shape.length()).to(
                y.shape.length(), eq(x.shape.length()).to(Int(k)), eq(y.shape.length()).to(Int(k2)), k < k2
            )
            # the last dimension of a 2-D array combined with a row vector: whichever is not 1 (broadcasting
            # allows no other case); with a scalar, the array's
            for first, second in ((x, y), (y, x)):
                # (only dimensions that exist: indexing past a concrete shape panics egglog)
                yield rule(
                    eq(i).to(op(x, y).shape[Int(1)]), eq(first.shape.length()).to(two), eq(second.shape.length()).to(one)
                ).then(first.shape[Int(1)], second.shape[Int(0)])
                for dim in (first.shape[Int(1)], second.shape[Int(0)]):
                    yield rewrite(op(x, y).shape[Int(1)]).to(
                        dim,
                        eq(first.shape.length()).to(two),
                        eq(second.shape.length()).to(one),
                        eq(dim).to(Int(k)),
                        k != 1,
                    )
                yield rewrite(op(x, y).shape[Int(1)]).to(
                    first.shape[Int(1)], eq(first.shape.length()).to(two), eq(second.shape.length()).to(Int(0))
                )
            # the dimension of a 2-D array combined with a 1-D or 0-D one (a row vector broadcast down the rows)
            yield rewrite(op(x, y).shape[Int(0)]).to(
                x.shape[Int(0)], eq(x.shape.length()).to(two), eq(y.shape.length()).to(Int(k2)), k2 < 2
            )
            yield rewrite(op(x, y).shape[Int(0)]).to(
                y.shape[Int(0)], eq(y.shape.length()).to(two), eq(x.shape.length()).to(Int(k2)), k2 < 2
            )

        # The shape helpers only fire on concrete shapes (``TupleInt(vec)``): on a data-dependent shape (a masked
        # selection's) they stay unevaluated and, being unextractable, never reach the generated program.
        t1, t2, t = TupleInt(vs1), TupleInt(vs2), TupleInt(vs)
        n1, n2 = t1.length(), t2.length()
        n = Int.if_(n1 < n2, lambda: n2, lambda: n1)

        def dim(tt: Any, nt: Any, p: Any) -> Any:
            q = p - (n - nt)
            return Int.if_(q < Int(0), lambda: Int(1), lambda: tt[q])

        yield rewrite(broadcast_shape(t1, t2)).to(
            TupleInt.fn(
                n,
                lambda p: Int.if_(dim(t1, n1, p) == Int(1), lambda: dim(t2, n2, p), lambda: dim(t1, n1, p)),
            )
        )
        yield rewrite(broadcast_shape(s, s)).to(s)
        yield rewrite(reduced_shape(t, OptionalIntOrTuple.none, FALSE)).to(TupleInt(()))
        yield rewrite(reduced_shape(t, OptionalIntOrTuple.none, TRUE)).to(TupleInt.fn(t.length(), lambda p: Int(1)))
        ii = Int(k)
        norm_axis = Int.if_(ii < Int(0), lambda: ii + t.length(), lambda: ii)
        yield rewrite(reduced_shape(t, OptionalIntOrTuple.int(ii), FALSE)).to(
            TupleInt.fn(t.length() - 1, lambda p: Int.if_(p < norm_axis, lambda: t[p], lambda: t[p + 1]))
        )
        yield rewrite(reduced_shape(t, OptionalIntOrTuple.int(ii), TRUE)).to(
            TupleInt.fn(t.length(), lambda p: Int.if_(p == norm_axis, lambda: Int(1), lambda: t[p]))
        )
        yield rewrite(expanded_shape(t, ii)).to(
            TupleInt.fn(
                t.length() + 1,
                lambda p: Int.if_(p < ii, lambda: t[p], lambda: Int.if_(p == ii, lambda: Int(1), lambda: t[p - 1])),
            )
        )
        yield rewrite(matmul_shape(t1, t2)).to(
            TupleInt.if_(n2 == Int(1), lambda: t1.drop_last(), lambda: t1.drop_last().append(t2.last()))
        )
        yield rewrite(transposed_shape(t)).to(TupleInt((t[1], t[0])))
        kk = Int.if_(t[0] < t[1], lambda: t[0], lambda: t[1])
        yield rewrite(svd_shape(t, Int(0))).to(TupleInt((t[0], kk)))
        yield rewrite(svd_shape(t, Int(1))).to(TupleInt((kk,)))
        yield rewrite(svd_shape(t, Int(2))).to(TupleInt((kk, t[1])))

    # -- values that the assumptions decide ---------------------------------------------------------------------
    zero = {
        DType.bool: Value.from_bool(FALSE),
        DType.float64: Value.from_float(Float(0.0)),
        DType.int64: Value.from_int(Int(0)),
    }
    idx = var("idx", TupleInt)
    v1 = var("v1", Value)
    f = var("f", Float)
    w = var("w", NDArray)
    r, r1 = var("r", BigRat), var("r1", BigRat)
    ti_col, ti_row = TupleInt((Int(-1), Int(1))), TupleInt((Int(1), Int(-1)))

    @rules.register
    def _values():  # noqa: ANN202
        # asarray without a dtype change is the array itself (a copy only matters to in-place updates, which
        # code generation keeps off the inputs)
        yield rewrite(aa.asarray(x, OptionalDType.none, ob, odev)).to(x)
        yield rewrite(aa.asarray(x, OptionalDType.some(d), ob, odev)).to(x, eq(x.dtype).to(d))
        yield rewrite(aa.astype(x, d)).to(x, eq(x.dtype).to(d))
        # a vector reshaped to a column or a row is expand_dims (no copy, no contiguity requirement in Numba)
        yield rule(eq(c).to(aa.reshape(x, ti_col, ob))).then(x.shape.length())
        yield rule(eq(c).to(aa.reshape(x, ti_row, ob))).then(x.shape.length())
        yield rewrite(aa.reshape(x, ti_col, ob)).to(aa.expand_dims(x, Int(1)), eq(x.shape.length()).to(Int(1)))
        yield rewrite(aa.reshape(x, ti_row, ob)).to(aa.expand_dims(x, Int(0)), eq(x.shape.length()).to(Int(1)))
        # isnan of an array assumed finite is all False
        yield rule(eq(c).to(isnan_(x))).then(x.index(aa.ALL_INDICES).isfinite())
        for fn in (aa.abs, NDArray.__abs__, aa.square, aa.sqrt):
            yield rewrite(isnan_(fn(x))).to(isnan_(x))
        yield rewrite(isnan_(x)).to(
            aa.zeros(x.shape, OptionalDType.some(DType.bool), OptionalDevice.none),
            eq(x.index(aa.ALL_INDICES).isfinite()).to(TRUE),
        )
        for dt, z in zero.items():
            yield rewrite(aa.zeros(s, OptionalDType.some(dt), odev).index(idx)).to(z)
        yield rewrite(aa.zeros(s, OptionalDType.some(d), odev), subsume=False).to(
            aa.zeros(s, OptionalDType.some(d), OptionalDevice.none)
        )
        yield rewrite(aa.astype(aa.zeros(s, od, odev), d)).to(aa.zeros(s, OptionalDType.some(d), odev))
        # constant arrays: zeros(s, d) is full(s, 0 of d); arithmetic with a scalar or another constant array of
        # the same shape stays constant, and reductions of a constant are decided
        for dt, z in zero.items():
            yield rewrite(aa.zeros(s, OptionalDType.some(dt), odev), subsume=False).to(full_(s, z))
        yield rewrite(aa.asarray(full_(s, v), OptionalDType.some(d), ob, odev)).to(full_(s, v.astype(d)))
        yield rewrite(aa.astype(full_(s, v), d)).to(full_(s, v.astype(d)))
        yield rewrite(full_(s, v).index(idx)).to(v)
        for op in (NDArray.__add__, NDArray.__sub__, NDArray.__mul__, NDArray.__truediv__):
            vop = {NDArray.__add__: Value.__add__, NDArray.__sub__: Value.__sub__, NDArray.__mul__: Value.__mul__,
                   NDArray.__truediv__: Value.__truediv__}[op]
            yield rewrite(op(full_(s, v), NDArray(RecursiveValue(v1)))).to(full_(s, vop(v, v1)))
            yield rewrite(op(NDArray(RecursiveValue(v1)), full_(s, v))).to(full_(s, vop(v1, v)))
            yield rewrite(op(full_(s, v), full_(s, v1))).to(full_(s, vop(v, v1)))
        for fn in (max_, min_):
            yield rewrite(fn(full_(s, v), OptionalIntOrTuple.none, FALSE)).to(NDArray(RecursiveValue(v)))
        yield rewrite(full_(s, v)[IndexKey.int(i)]).to(
            full_(TupleInt.fn(s.length() - 1, lambda p: s[p + 1]), v), eq(s.length()).to(Int(1))
        )
        # a value's dtype conversion, and int/float arithmetic upcast to float (NumPy's promotion)
        yield rewrite(Value.from_int(Int(k)).astype(DType.float64)).to(Value.from_float(Float(f64.from_i64(k))))
        yield rewrite(Value.from_int(i).astype(DType.int64)).to(Value.from_int(i))
        yield rewrite(Value.from_float(f).astype(DType.float64)).to(Value.from_float(f))
        yield rewrite(Value.from_bool(b).astype(DType.bool)).to(Value.from_bool(b))
        for vop in (Value.__add__, Value.__sub__, Value.__truediv__):
            yield rewrite(vop(Value.from_int(Int(k)), Value.from_float(f))).to(
                vop(Value.from_float(Float(f64.from_i64(k))), Value.from_float(f))
            )
            yield rewrite(vop(Value.from_float(f), Value.from_int(Int(k)))).to(
                vop(Value.from_float(f), Value.from_float(Float(f64.from_i64(k))))
            )
        yield rewrite(Value.from_float(f) == Value.from_float(f)).to(TRUE)
        # egglog's rational division, guarded against a zero divisor (see waxegg.egg._fixes)
        yield rewrite(Float.rational(r) / Float.rational(r1)).to(Float.rational(r / r1), ne(r1).to(BigRat(0, 1)))
        # conditions below compare shapes and dtypes: make sure those terms exist in the e-graph
        yield rule(eq(c).to(where_(x, y, w))).then(w.shape)
        for op in (NDArray.__sub__, NDArray.__add__):
            yield rule(eq(c).to(op(x, aa.zeros(s, od, odev)))).then(x.shape, x.dtype)
            yield rule(eq(c).to(op(aa.zeros(s, od, odev), x))).then(x.shape, x.dtype)
        yield rule(eq(c).to(aa.asarray(x, od, ob, odev))).then(x.dtype)
        yield rule(eq(c).to(aa.astype(x, d))).then(x.dtype)
        for fn in (all_, max_, min_):
            yield rewrite(fn(aa.zeros(s, od, odev), ax, keep)).to(aa.zeros(reduced_shape(s, ax, keep), od, odev))
        yield rewrite(aa.sum(aa.zeros(s, od, odev), ax)).to(aa.zeros(reduced_shape(s, ax, FALSE), od, odev))
        yield rewrite(where_(aa.zeros(s, OptionalDType.some(DType.bool), odev), x, y)).to(y, eq(y.shape).to(s))
        for op in (NDArray.__sub__, NDArray.__add__):
            yield rewrite(op(x, aa.zeros(s, OptionalDType.some(d), odev))).to(
                x, eq(x.shape).to(s), eq(x.dtype).to(d)
            )
        yield rewrite(aa.zeros(s, OptionalDType.some(d), odev) + x).to(x, eq(x.shape).to(s), eq(x.dtype).to(d))
        # the same for a constant array of float zeros however it was built (scikit-learn's incremental
        # statistics start from `0.0 * zeros`): adding it changes nothing of the same shape and dtype
        zero_float = full_(s, Value.from_float(Float.rational(BigRat(0, 1))))
        for summed in (zero_float + x, x + zero_float, x - zero_float):
            yield rule(eq(c).to(summed)).then(x.shape, x.dtype)
            yield rewrite(summed).to(x, eq(x.shape).to(s), eq(x.dtype).to(DType.float64))

    # -- Numba-friendly forms (lower stage only) ----------------------------------------------------------------
    @lowering.register
    def _lowering():  # noqa: ANN202
        # `x ** 2` is `np.square(x)`: NumPy's power takes that very path for the exponent 2 (same bits); Numba's
        # array power is a generic pow, 1.3x slower than its square on a 1e6 x 10 float64 array
        yield rewrite(x ** NDArray(RecursiveValue(Value.from_int(Int(2)))), subsume=True).to(aa.square(x))

    # -- dtypes -------------------------------------------------------------------------------------------------
    floats = [DType.float64, DType.float32]
    all_dtypes = [DType.float64, DType.float32, DType.int64, DType.int32, DType.bool, DType.object]

    @rules.register
    def _dtypes():  # noqa: ANN202
        for op in binary:
            yield rewrite(op(x, y).dtype).to(promote(x.dtype, y.dtype))
        yield rewrite(maximum_(x, y).dtype).to(promote(x.dtype, y.dtype))
        yield rewrite(where_(c, x, y).dtype).to(promote(x.dtype, y.dtype))
        for op in [*compare, *logical]:
            yield rewrite(op(x, y).dtype).to(DType.bool)
        for fn in [isnan_, aa.isfinite]:
            yield rewrite(fn(x).dtype).to(DType.bool)
        for fn in [aa.square, aa.abs, NDArray.__abs__, sign_, matrix_transpose_]:
            yield rewrite(fn(x).dtype).to(x.dtype)
        yield rewrite(flip_(x, i).dtype).to(x.dtype)
        for fn in [aa.sqrt, aa.log, exp_, reciprocal_]:
            # float in, same float out (integer input is promoted to float64 as in NumPy)
            yield rewrite(fn(x).dtype).to(float_result(x.dtype))
        yield rewrite(aa.sum(x, ax).dtype).to(sum_result(x.dtype))
        for dt in floats:
            yield rewrite(float_result(dt)).to(dt)
            yield rewrite(sum_result(dt)).to(dt)
        for dt in [DType.int64, DType.int32, DType.bool]:
            yield rewrite(float_result(dt)).to(DType.float64)
            yield rewrite(sum_result(dt)).to(DType.int64)
        # an in-place update keeps the array's shape and dtype
        updated = copy(x)
        updated[key] = y
        yield rewrite(updated.shape).to(x.shape)
        yield rewrite(updated.dtype).to(x.dtype)
        yield rewrite(sum_keepdims(x, ax).dtype).to(aa.sum(x, ax).dtype)
        yield rewrite(aa.mean(x, ax, keep).dtype).to(x.dtype)
        yield rewrite(aa.std(x, ax).dtype).to(x.dtype)
        yield rewrite(max_(x, ax, keep).dtype).to(x.dtype)
        yield rewrite(all_(x, ax, keep).dtype).to(DType.bool)
        yield rewrite(min_(x, ax, keep).dtype).to(x.dtype)
        yield rewrite(argmax_(x, oax).dtype).to(DType.int64)
        yield rewrite(aa.expand_dims(x, i).dtype).to(x.dtype)
        yield rewrite((x @ y).dtype).to(promote(x.dtype, y.dtype))
        for p in range(3):
            yield rewrite(aa.svd_(x, b)[Int(p)].dtype).to(x.dtype)
        yield rewrite(eigh_(x)[Int(0)].dtype).to(x.dtype)
        yield rewrite(eigh_(x)[Int(1)].dtype).to(x.dtype)
        yield rewrite(NDArray(RecursiveValue(v)).dtype).to(v.dtype)
        yield rewrite(NDArray(RecursiveValue(v)).shape).to(TupleInt(()))
        for dt in all_dtypes:
            yield rewrite(promote(dt, dt)).to(dt)
        for dt in floats:
            for other in [DType.int64, DType.int32, DType.bool]:
                yield rewrite(promote(dt, other)).to(dt)
                yield rewrite(promote(other, dt)).to(dt)
        yield rewrite(promote(DType.float64, DType.float32)).to(DType.float64)
        yield rewrite(promote(DType.float32, DType.float64)).to(DType.float64)
        yield rewrite(promote(DType.int64, DType.int32)).to(DType.int64)
        yield rewrite(promote(DType.int32, DType.int64)).to(DType.int64)
        yield rewrite(promote(DType.int64, DType.bool)).to(DType.int64)
        yield rewrite(promote(DType.bool, DType.int64)).to(DType.int64)
        # egglog's dtype equalities omit bool
        for dt in all_dtypes:
            if dt is not DType.bool:
                yield rewrite(DType.bool == dt).to(FALSE)
                yield rewrite(dt == DType.bool).to(FALSE)
        yield rewrite(DType.bool == DType.bool).to(TRUE)

    _STATE.update(
        rules=rules,
        lowering=lowering,
        false=FALSE,
        programs=programs,
        max=max_,
        min=min_,
        all=all_,
        full=full_,
        sum_keepdims=sum_keepdims,
        argmax=argmax_,
        exp=exp_,
        isnan=isnan_,
        sign=sign_,
        where=where_,
        maximum=maximum_,
        eigh=eigh_,
        flip=flip_,
        matrix_transpose=matrix_transpose_,
        reciprocal=reciprocal_,
        broadcast_shape=broadcast_shape,
        reduced_shape=reduced_shape,
        promote=promote,
    )
    _declare_programs(_STATE)
    return _STATE


def _declare_programs(st: dict[str, Any]) -> None:
    """Program-generation rules (NumPy source) for the new functions."""
    from egglog import rewrite, var  # noqa: PLC0415
    from egglog.exp.array_api import (  # noqa: PLC0415
        TRUE,
        Boolean,
        Int,
        NDArray,
        OptionalBool,
        OptionalDevice,
        OptionalDType,
        OptionalInt,
        OptionalIntOrTuple,
        TupleInt,
        Value,
        asarray,
    )
    from egglog.exp.array_api import log as aa_log  # noqa: PLC0415
    from egglog.exp.array_api_program_gen import (  # noqa: PLC0415
        Program,
        int_program,
        ndarray_program,
        optional_dtype_program,
        tuple_int_program,
        tuple_ndarray_program,
        value_program,
    )

    x, y, c = var("x", NDArray), var("y", NDArray), var("c", NDArray)
    od, odev, b = var("od", OptionalDType), var("odev", OptionalDevice), var("b", Boolean)
    ax, i = var("ax", OptionalIntOrTuple), var("i", Int)
    ti, v = var("ti", TupleInt), var("v", Value)

    def call(name: str, *args: Any, kwargs: str = "") -> Any:
        prog = Program(f"{name}(")
        for k, a in enumerate(args):
            prog = prog + (", " if k else "") + a
        return (prog + kwargs + ")").assign()

    @st["programs"].register
    def _programs():  # noqa: ANN202
        # copy=True/False: values are immutable in the e-graph; codegen copies before any in-place update
        yield rewrite(ndarray_program(asarray(x, od, OptionalBool.some(b), odev))).to(
            Program("np.asarray(") + ndarray_program(x) + ", " + optional_dtype_program(od) + ")"
        )
        # Numba's np.max / np.min take no axis: waxegg.egg.kernels.reduce_max / reduce_min do
        for name in ("max", "min"):
            fn = st[name]
            yield rewrite(ndarray_program(fn(x, OptionalIntOrTuple.none, st["false"]))).to(
                call(f"np.{name}", ndarray_program(x))
            )
            yield rewrite(ndarray_program(fn(x, OptionalIntOrTuple.int(i), st["false"]))).to(
                call(f"_k.reduce_{name}", ndarray_program(x), int_program(i))
            )
            yield rewrite(ndarray_program(fn(x, OptionalIntOrTuple.int(i), TRUE))).to(
                call("np.expand_dims", call(f"_k.reduce_{name}", ndarray_program(x), int_program(i)), int_program(i))
            )
        yield rewrite(ndarray_program(st["sum_keepdims"](x, OptionalIntOrTuple.int(i)))).to(
            call("np.expand_dims", call("np.sum", ndarray_program(x), Program("axis=") + int_program(i)), int_program(i))
        )
        for name, np_name in (("exp", "np.exp"), ("isnan", "np.isnan"), ("sign", "np.sign"), ("reciprocal", "np.reciprocal")):
            yield rewrite(ndarray_program(st[name](x))).to(call(np_name, ndarray_program(x)))
        yield rewrite(ndarray_program(aa_log(x))).to(call("np.log", ndarray_program(x)))  # egglog has none
        yield rewrite(ndarray_program(st["where"](c, x, y))).to(
            call("np.where", ndarray_program(c), ndarray_program(x), ndarray_program(y))
        )
        yield rewrite(ndarray_program(st["maximum"](x, y))).to(call("np.maximum", ndarray_program(x), ndarray_program(y)))
        yield rewrite(ndarray_program(st["argmax"](x, OptionalInt.none))).to(call("np.argmax", ndarray_program(x)))
        yield rewrite(ndarray_program(st["argmax"](x, OptionalInt.some(i)))).to(
            call("np.argmax", ndarray_program(x), Program("axis=") + int_program(i))
        )
        yield rewrite(tuple_ndarray_program(st["eigh"](x))).to(call("np.linalg.eigh", ndarray_program(x)))
        yield rewrite(ndarray_program(st["flip"](x, i))).to(call("_k.flip", ndarray_program(x), int_program(i)))
        yield rewrite(ndarray_program(st["matrix_transpose"](x))).to(ndarray_program(x) + ".T")
        yield rewrite(ndarray_program(st["full"](ti, v))).to(
            call("np.full", tuple_int_program(ti), value_program(v))
        )


def _egglog_reshape_rule() -> tuple[Any, Any]:
    """egglog's ``x.reshape(shape)`` translation, and waxegg's, which reshapes a contiguous copy only when needed.

    Numba reshapes contiguous arrays only (a transpose ``x.T.reshape(-1)`` fails to compile);
    ``np.ascontiguousarray`` is free on an array that already is, in NumPy and in Numba.
    """
    from egglog import rewrite, var  # noqa: PLC0415
    from egglog.exp.array_api import NDArray, OptionalBool, TupleInt, reshape  # noqa: PLC0415
    from egglog.exp.array_api_program_gen import ndarray_program, tuple_int_program  # noqa: PLC0415

    # variable names as in egglog's ``_ndarray_program`` (rule declarations compare structurally)
    y, ti, ob = var("y", NDArray), var("ti", TupleInt), var("ob", OptionalBool)
    egglog_rule = rewrite(ndarray_program(reshape(y, ti, ob))).to(
        (ndarray_program(y) + ".reshape(" + tuple_int_program(ti) + ")").assign()
    )
    waxegg_rule = rewrite(ndarray_program(reshape(y, ti, ob))).to(
        ("np.ascontiguousarray(" + ndarray_program(y) + ").reshape(" + tuple_int_program(ti) + ")").assign()
    )
    return egglog_rule.decl, waxegg_rule.decl


def _egglog_float_from_int_rule() -> tuple[Any, Any]:
    """egglog prints the float ``Float.from_int(i)`` as the int ``i``; waxegg prints ``float(i)``.

    ``Float.from_int(Int(1))`` and the literal ``1.0`` (``Float.rational(1/1)``) are one e-class, so which one
    extraction picks is a tie broken by e-class numbering (it changed with what else the process had declared: the
    two-class LDA's fallback scale came out as ``np.array(1)`` after other programs were generated first). Printing
    both as a float makes the program the same either way, and of the dtype the e-graph says.
    """
    from egglog import rewrite, var  # noqa: PLC0415
    from egglog.exp.array_api import Float, Int  # noqa: PLC0415
    from egglog.exp.array_api_program_gen import Program, float_program, int_program  # noqa: PLC0415

    i = var("i", Int)  # the variable name of egglog's ``_float_program``
    egglog_rule = rewrite(float_program(Float.from_int(i))).to(int_program(i))
    waxegg_rule = rewrite(float_program(Float.from_int(i))).to(Program("float(") + int_program(i) + ")")
    return egglog_rule.decl, waxegg_rule.decl


@contextlib.contextmanager
def program_rules_replaced() -> Iterator[None]:
    """Within the block, egglog's program generator uses waxegg's ``reshape`` and ``Float.from_int`` translations.

    Swaps two rules of egglog's program-generation rulesets and restores them on exit; only e-graphs created inside
    the block see the change.
    """
    from egglog.exp.array_api_program_gen import array_api_program_gen_ruleset  # noqa: PLC0415

    from waxegg.egg import _compat  # noqa: PLC0415

    reshape_old, reshape_new = _egglog_reshape_rule()
    float_old, float_new = _egglog_float_from_int_rule()
    with (
        _compat.swapped_rules(array_api_program_gen_ruleset, reshape_old, [reshape_new], what="`x.reshape` program"),
        _compat.swapped_rules(array_api_program_gen_ruleset, float_old, [float_new], what="`Float.from_int` program"),
    ):
        yield


def ruleset() -> Any:
    """waxegg's shape, dtype and value rules, to run together with ``array_api_ruleset``."""
    return _declare()["rules"]


def lowering_ruleset() -> Any:
    """waxegg's rewrites into Numba-friendly forms, run by the lower stage with egglog's ``array_api_numba`` rules."""
    return _declare()["lowering"]


def program_ruleset() -> Any:
    """waxegg's program-generation rules, to run together with egglog's ``array_api_program_gen`` rules."""
    return _declare()["programs"]


def schedule() -> Any:
    """egglog's ``array_api_schedule`` with waxegg's rules added: ``(array_api_ruleset + waxegg + run()).saturate()``."""
    from egglog import run  # noqa: PLC0415
    from egglog.exp.array_api import array_api_combined_ruleset  # noqa: PLC0415

    # A sequence, not ``array_api_ruleset | waxegg``: an e-graph registers a combined ruleset's rules once, so rules
    # egglog adds to ``array_api_ruleset`` later (function bodies are declared on first call, e.g. ``reshape``'s)
    # would be missing from the long-lived trace e-graph.
    return (array_api_combined_ruleset + ruleset() + run()).saturate()


class _Info:
    """``xp.__array_namespace_info__()``: what the traced namespace offers (CPU only, float64/float32/int/bool)."""

    def __init__(self, ns: Any) -> None:
        self._ns = ns

    def capabilities(self) -> dict[str, bool]:
        return {"boolean indexing": True, "data-dependent shapes": False}

    def default_device(self) -> Any:
        return None

    def devices(self) -> list[Any]:
        return [None]

    def default_dtypes(self, *, device: Any = None) -> dict[str, Any]:
        from egglog.exp.array_api import DType  # noqa: PLC0415

        return {"real floating": DType.float64, "integral": DType.int64, "indexing": DType.int64}

    def dtypes(self, *, device: Any = None, kind: Any = None) -> dict[str, Any]:
        from egglog.exp.array_api import DType  # noqa: PLC0415

        groups = {
            "bool": {"bool": DType.bool},
            "signed integer": {"int64": DType.int64, "int32": DType.int32},
            "integral": {"int64": DType.int64, "int32": DType.int32},
            "real floating": {"float64": DType.float64, "float32": DType.float32},
            "numeric": {"float64": DType.float64, "float32": DType.float32, "int64": DType.int64, "int32": DType.int32},
        }
        if kind is None:
            return {**groups["bool"], **groups["numeric"]}
        kinds = (kind,) if isinstance(kind, str) else tuple(kind)
        out: dict[str, Any] = {}
        for one in kinds:
            out.update(groups.get(one, {}))
        return out


class _Namespace(types.ModuleType):
    """egglog's ``egglog.exp.array_api`` module with waxegg's functions in front of it."""

    def __init__(self, base: types.ModuleType, extra: dict[str, Any]) -> None:
        super().__init__("waxegg.egg.array_api", "egglog.exp.array_api extended by waxegg.egg._extensions")
        self._base = base
        self.__dict__.update(extra)
        self.linalg = self

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_base"], name)


def namespace() -> _Namespace:
    """The extended namespace ``NDArray.__array_namespace__`` returns while the fixes are active."""
    if "namespace" in _STATE:
        return _STATE["namespace"]
    import egglog.exp.array_api as aa  # noqa: PLC0415

    st = _declare()
    ns = _Namespace(aa, _functions(st, aa))
    _STATE["namespace"] = ns
    return ns


def _functions(st: dict[str, Any], aa: Any) -> dict[str, Any]:
    """The Python-level functions of the namespace (argument conversion as the array API standard spells it)."""
    ns: dict[str, Any] = {}

    def __array_namespace_info__() -> _Info:  # noqa: N807 -- the standard's name
        return _Info(ns)

    def reduction(fn: Any) -> Any:
        def reduce(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
            return fn(x, _axis(axis), _boolean(keepdims))

        return reduce

    def isnan(x: Any, /) -> Any:
        return st["isnan"](x)

    def exp(x: Any, /) -> Any:
        return st["exp"](x)

    def sign(x: Any, /) -> Any:
        return st["sign"](x)

    def reciprocal(x: Any, /) -> Any:
        return st["reciprocal"](x)

    def where(condition: Any, x1: Any, x2: Any, /) -> Any:
        return st["where"](_array(condition), _array(x1), _array(x2))

    def maximum(x1: Any, x2: Any, /) -> Any:
        return st["maximum"](_array(x1), _array(x2))

    def argmax(x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Any:
        if keepdims:
            raise NotImplementedError("waxegg's traced argmax has no keepdims")
        return st["argmax"](x, _optional_int(axis))

    def eigh(x: Any, /) -> Any:
        result = st["eigh"](x)
        return _Pair(result)

    def flip(x: Any, /, *, axis: int | None = None) -> Any:
        if axis is None:
            raise NotImplementedError("waxegg's traced flip needs an axis")
        return st["flip"](x, axis)

    def matrix_transpose(x: Any, /) -> Any:
        return st["matrix_transpose"](x)

    def matmul(x1: Any, x2: Any, /) -> Any:
        return x1 @ x2

    def sum(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
        if dtype is not None:
            x = aa.astype(x, dtype)
        if keepdims:
            return st["sum_keepdims"](x, _axis(axis))
        return aa.sum(x, _axis(axis))

    def zeros(shape: Any, *, dtype: Any = None, device: Any = None) -> Any:
        return aa.zeros(_shape(shape), _optional_dtype(dtype))

    def full(shape: Any, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Any:
        return zeros(shape, dtype=dtype) + _array(fill_value)

    def ones(shape: Any, *, dtype: Any = None, device: Any = None) -> Any:
        return full(shape, 1.0 if dtype is None or _dtype_name(dtype).startswith("float") else 1, dtype=dtype)

    def arange(start: Any, /, stop: Any = None, step: int = 1, *, dtype: Any = None, device: Any = None) -> Any:
        if stop is None:
            start, stop = 0, start
        values = list(range(int(start), int(stop), int(step)))
        if not values:
            raise NotImplementedError("waxegg's traced arange cannot build an empty array")
        return aa.NDArray(tuple(aa.Value.from_int(v) for v in values))

    def take(x: Any, indices: Any, /, *, axis: int | None = None) -> Any:
        if axis not in (None, 0):
            raise NotImplementedError("waxegg's traced take supports axis=0 only")
        return x[aa.IndexKey.ndarray(indices)]

    def result_type(*arrays_and_dtypes: Any) -> Any:
        dtypes = [a.dtype if isinstance(a, aa.NDArray) else _scalar_dtype(a) for a in arrays_and_dtypes]
        dtypes = [d for d in dtypes if d is not None] or [aa.DType.float64]
        result = dtypes[0]
        for d in dtypes[1:]:
            result = st["promote"](result, d)
        return result

    def finfo(dtype: Any, /) -> Any:
        import numpy as np  # noqa: PLC0415

        return np.finfo(_dtype_name(dtype))

    def iinfo(dtype: Any, /) -> Any:
        import numpy as np  # noqa: PLC0415

        return np.iinfo(_dtype_name(dtype))

    def var(x: Any, /, *, axis: Any = None, correction: float = 0.0, keepdims: bool = False) -> Any:
        # NumPy's two-pass algorithm: mean of the squared deviations from the mean
        if correction != 0.0 or keepdims:
            raise NotImplementedError("waxegg's traced var supports correction=0 and keepdims=False only")
        deviations = x - aa.mean(x, _axis(axis), aa.TRUE)
        return aa.mean(aa.square(deviations), _axis(axis))

    def astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
        return aa.astype(_array(x), dtype)

    import operator  # noqa: PLC0415

    def elementwise(op: Any) -> Any:
        def apply(x1: Any, x2: Any, /) -> Any:
            return op(_array(x1), _array(x2))

        return apply

    binary = {
        "add": operator.add,
        "subtract": operator.sub,
        "multiply": operator.mul,
        "divide": operator.truediv,
        "pow": operator.pow,
        "less": operator.lt,
        "less_equal": operator.le,
        "greater": operator.gt,
        "greater_equal": operator.ge,
        "equal": operator.eq,
        "logical_and": operator.and_,
        "logical_or": operator.or_,
    }

    def negative(x: Any, /) -> Any:
        return x * _array(-1.0)

    ns.update({name: elementwise(op) for name, op in binary.items()})
    ns.update(
        __array_namespace_info__=__array_namespace_info__,
        negative=negative,
        astype=astype,
        var=var,
        bool=aa.DType.bool,
        zeros=zeros,
        ones=ones,
        full=full,
        arange=arange,
        take=take,
        result_type=result_type,
        finfo=finfo,
        iinfo=iinfo,
        max=reduction(st["max"]),
        min=reduction(st["min"]),
        all=reduction(st["all"]),
        isnan=isnan,
        exp=exp,
        sign=sign,
        reciprocal=reciprocal,
        where=where,
        maximum=maximum,
        argmax=argmax,
        eigh=eigh,
        flip=flip,
        matrix_transpose=matrix_transpose,
        matmul=matmul,
        sum=sum,
        inf=float("inf"),
        nan=float("nan"),
        e=math.e,
        pi=math.pi,
        newaxis=None,
    )
    return ns


class _Pair(tuple):
    """``eigh``'s result: a tuple ``(eigenvalues, eigenvectors)`` with the standard's field names."""

    __slots__ = ()

    def __new__(cls, result: Any) -> _Pair:
        return super().__new__(cls, (result[0], result[1]))

    @property
    def eigenvalues(self) -> Any:
        return self[0]

    @property
    def eigenvectors(self) -> Any:
        return self[1]


def _scalar_dtype(a: Any) -> Any:
    from egglog.exp.array_api import DType  # noqa: PLC0415

    if isinstance(a, bool):
        return DType.bool
    if isinstance(a, int):
        return DType.int64
    if isinstance(a, float):
        return DType.float64
    return a  # a DType already


def _dtype_name(dtype: Any) -> str:
    """``"float64"`` for ``DType.float64`` (an expression the trace e-graph resolves), a NumPy dtype or a type."""
    import numpy as np  # noqa: PLC0415
    from egglog.exp.array_api import DType, _get_current_egraph  # noqa: PLC0415

    if not isinstance(dtype, DType):
        return np.dtype(dtype).name
    text = str(dtype)
    if not text.startswith("DType."):
        egraph = _get_current_egraph()
        egraph.register(dtype)
        egraph.run(schedule())
        text = str(egraph.extract(dtype))
    if not text.startswith("DType."):
        msg = f"cannot resolve the dtype {text[:200]} to a concrete one"
        raise ValueError(msg)
    return text.removeprefix("DType.")


def _optional_dtype(dtype: Any) -> Any:
    from egglog import convert  # noqa: PLC0415
    from egglog.exp.array_api import DType, OptionalDType  # noqa: PLC0415

    if dtype is None:
        return OptionalDType.none
    return OptionalDType.some(dtype if isinstance(dtype, DType) else convert(dtype, DType))


def _shape(shape: Any) -> Any:
    from egglog.exp.array_api import Int, TupleInt  # noqa: PLC0415

    if isinstance(shape, TupleInt):
        return shape
    if isinstance(shape, tuple | list):
        return TupleInt(tuple(Int(v) if isinstance(v, int) else v for v in shape))
    return TupleInt((Int(shape) if isinstance(shape, int) else shape,))


def _axis(axis: Any) -> Any:
    from egglog.exp.array_api import Int, OptionalIntOrTuple, TupleInt  # noqa: PLC0415

    if axis is None:
        return OptionalIntOrTuple.none
    if isinstance(axis, tuple):
        return OptionalIntOrTuple.tuple(TupleInt(tuple(Int(a) if isinstance(a, int) else a for a in axis)))
    return OptionalIntOrTuple.int(Int(axis) if isinstance(axis, int) else axis)


def _optional_int(axis: Any) -> Any:
    from egglog.exp.array_api import Int, OptionalInt  # noqa: PLC0415

    return OptionalInt.none if axis is None else OptionalInt.some(Int(axis) if isinstance(axis, int) else axis)


def _boolean(flag: Any) -> Any:
    from egglog.exp.array_api import FALSE, TRUE  # noqa: PLC0415

    if isinstance(flag, bool):
        return TRUE if flag else FALSE
    return flag


def _array(x: Any) -> Any:
    from egglog import convert  # noqa: PLC0415
    from egglog.exp.array_api import NDArray  # noqa: PLC0415

    return x if isinstance(x, NDArray) else convert(x, NDArray)

