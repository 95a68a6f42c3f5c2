"""Run-time helpers that generated programs call (imported there as ``_k``); each runs in Python and in Numba.

``svd_s_vt`` is a ``numba.extending.register_jitable`` function written in the NumPy subset Numba compiles, so
the extracted NumPy version and the Numba version of a generated program run the same algorithm. ``qr_r`` is a
plain NumPy function with a Numba ``overload`` (Numba's own ``np.linalg.qr`` also forms ``Q``, which we never
need).

The fused kernels (``masked_mean``, ``masked_concat_sub``, ``mean0``, ``mean_sq_dev``, ``svd_s_vt_scaled``,
``sub_matmul``, ``all_finite``, ``same_value_set``, and the pass kernels ``sum0`` ... ``center2`` of
``fuse_passes``; inserted by the ``fuse_*`` rewrites of
:mod:`waxegg.egg.fuse`) are each defined as the NumPy expression they replace -- so the extracted program computes
exactly what it did before fusion -- with a Numba ``overload`` that, for float64 2-D data, runs one parallel loop
nest over the rows instead (:mod:`waxegg.egg._loops`): no boolean-mask copies, no broadcast temporaries, one pass
where NumPy makes two to four. Other dtypes or shapes compile the NumPy expression unchanged.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload, register_jitable

from waxegg._numba import configure_numba
from waxegg.egg import _compat

# The fused kernels call parallel Numba functions (waxegg.egg._loops), and this module is imported by the
# generated programs that call them, right before they run: choose the threading layer and start Numba's thread
# pool now (waxegg._numba explains both; a program loaded from Numba's disk cache does not start the pool itself).
# Their loops hold the GIL (no ``nogil``), so Python threads cannot launch two at once whatever the layer.
configure_numba()

__all__ = [
    "all_finite",
    "center2",
    "col_row_sums",
    "dev_sums",
    "div_cols",
    "div_rows",
    "flip",
    "gram",
    "matmul_sub",
    "max_abs0",
    "max_min0",
    "mul_add",
    "row_abs_sum",
    "row_max_abs",
    "row_sumsq",
    "set_row",
    "set_where",
    "sub_cols",
    "sub_div",
    "sum0",
    "reduce_max",
    "reduce_min",
    "lapack_svd_threshold",
    "masked_concat_sub",
    "masked_mean",
    "mean0",
    "mean_sq_dev",
    "qr_r",
    "same_value_set",
    "sub_matmul",
    "svd_s_vt",
    "svd_s_vt_scaled",
]


def qr_r(a: np.ndarray) -> np.ndarray:
    """``R`` of the Householder QR of ``a`` (LAPACK ``dgeqrf``), shape ``(min(m, n), n)``; ``Q`` is not formed.

    Same as ``np.linalg.qr(a, mode="r")``.
    """
    return np.linalg.qr(a, mode="r")


@overload(qr_r)
def _qr_r_numba(a):
    # Numba's own LAPACK binding (the one behind its np.linalg.qr), minus the dorgqr call that forms Q.
    # A ctypes pointer to SciPy's dgeqrf would work too but makes the caller uncacheable (a "dynamic global").
    if not (isinstance(a, types.Array) and a.ndim == 2 and a.dtype in (types.float32, types.float64)):
        return None
    def impl(a):
        m, n = a.shape
        f = np.empty((n, m), dtype=a.dtype).T  # a Fortran-ordered copy: dgeqrf overwrites its input
        for j in range(n):  # element loops: an array assignment compiles Numba's broadcasting and its error text
            for i in range(m):
                f[i, j] = a[i, j]
        return qr_r_overwrite(f)

    return impl


def qr_r_overwrite(f: np.ndarray) -> np.ndarray:
    """``qr_r(f)`` for a Fortran-ordered ``f`` that may be overwritten (in Numba it is: no copy is made)."""
    return qr_r(f)


@overload(qr_r_overwrite)
def _qr_r_overwrite_numba(f):
    if not (isinstance(f, types.Array) and f.ndim == 2 and f.dtype in (types.float32, types.float64)):
        return None
    if f.layout != "F":
        return lambda f: qr_r(f)
    geqrf, kind = _compat.numba_geqrf(f.dtype)

    def impl(f):
        m, n = f.shape
        k = min(m, n)
        tau = np.empty(max(k, 1), dtype=f.dtype)
        if m * n > 0 and geqrf(kind, m, n, f.ctypes, m, tau.ctypes) < 0:
            raise ValueError("dgeqrf: illegal argument")
        r = np.zeros((k, n), dtype=f.dtype)  # np.triu(f[:k, :]), as a loop (np.triu compiles for ~2 s)
        for i in range(k):
            for j in range(i, n):
                r[i, j] = f[i, j]
        return r

    return impl


@register_jitable
def lapack_svd_threshold(n: int) -> int:
    """Rows from which LAPACK's ``dgesdd`` takes a QR of an (m, n) matrix first: ``MNTHR = int(n * 11 / 6)``."""
    return int(n * 11.0 / 6.0)


@register_jitable
def svd_s_vt(a):
    """``(S, Vt)`` of ``np.linalg.svd(a, full_matrices=False)`` without forming ``U``; bit-for-bit LAPACK's.

    NumPy's and SciPy's SVD is LAPACK ``dgesdd`` (``JOBZ="S"``). For a tall matrix (``m >= int(11 n / 6)``,
    ``dgesdd``'s ``MNTHR``) it first takes the Householder QR ``A = Q R`` (``dgeqrf``), then bidiagonalises and
    diagonalises the square ``R`` exactly as it does for any square matrix (``dgebrd``, ``dbdsdc``, ``dormbr``);
    ``Q`` only enters ``U = Q @ U_R``. So ``svd(qr_r(A))`` runs the same LAPACK calls on the same numbers and
    returns the same ``S`` and ``Vt`` -- signs included -- while skipping ``dorgqr`` (forming the ``m x n`` ``Q``)
    and the ``m x n x n`` product. Other shapes go to ``np.linalg.svd`` unchanged.
    """
    m, n = a.shape
    if n == 0 or m < lapack_svd_threshold(n):
        _, s, vt = np.linalg.svd(a, full_matrices=False)
        return s, vt
    _, s, vt = np.linalg.svd(qr_r(a), full_matrices=False)
    return s, vt


# -- fused kernels -----------------------------------------------------------------------------------------------
# Each Python body below is, character for character, the NumPy the fusion rewrite removed from the program.


def _is_f64(t: object, ndim: int) -> bool:
    return isinstance(t, types.Array) and t.ndim == ndim and t.dtype == types.float64


def _is_bool1(t: object) -> bool:
    return isinstance(t, types.Array) and t.ndim == 1 and t.dtype == types.boolean


def masked_mean(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``np.sum(x[m], axis=0) / np.array(x[m].shape[0])``: column means of the rows a boolean mask selects."""
    selected = x[m]
    return np.sum(selected, axis=0) / np.array(selected.shape[0])


@overload(masked_mean)
def _masked_mean_numba(x, m):
    if _is_f64(x, 2) and _is_bool1(m):
        from waxegg.egg import _loops  # noqa: PLC0415

        def impl(x, m):
            if m.shape[0] != x.shape[0]:
                raise IndexError("masked_mean: mask length differs from the number of rows")
            return _loops.masked_mean(x, m)

        return impl

    def generic(x, m):
        selected = x[m]
        return np.sum(selected, axis=0) / selected.shape[0]

    return generic


def masked_concat_sub(x: np.ndarray, masks: tuple, rows: tuple) -> np.ndarray:
    """``np.concatenate((x[masks[0]] - rows[0], x[masks[1]] - rows[1], ...), axis=0)``.

    Each class's rows minus that class's row vector, stacked class after class in input order.
    """
    return np.concatenate(tuple(x[m] - r for m, r in zip(masks, rows, strict=True)), axis=0)


@overload(masked_concat_sub)
def _masked_concat_sub_numba(x, masks, rows):
    ok = (
        _is_f64(x, 2)
        and isinstance(masks, types.UniTuple)
        and isinstance(rows, types.UniTuple)
        and masks.count == rows.count
        and _is_bool1(masks.dtype)
        and _is_f64(rows.dtype, 1)
    )
    if not ok:
        return None  # no generic version: Numba cannot type a generator over heterogeneous tuples anyway
    from waxegg.egg import _loops  # noqa: PLC0415

    k = masks.count

    def impl(x, masks, rows):
        n, d = x.shape
        mask_arr = np.empty((k, n), dtype=np.bool_)
        row_arr = np.empty((k, d))
        for c in range(k):
            if masks[c].shape[0] != n or rows[c].shape[0] != d:
                raise IndexError("masked_concat_sub: a mask or row does not match x's shape")
            mc, rc = masks[c], rows[c]
            for i in range(n):  # element loops: a row assignment compiles Numba's broadcasting and its error text
                mask_arr[c, i] = mc[i]
            for j in range(d):
                row_arr[c, j] = rc[j]
        return _loops.masked_concat_sub(x, mask_arr, row_arr)

    return impl


def mean0(a: np.ndarray) -> np.ndarray:
    """``np.sum(a, axis=0) / np.array(a.shape[0])``: column means."""
    return np.sum(a, axis=0) / np.array(a.shape[0])


@overload(mean0)
def _mean0_numba(a):
    if _is_f64(a, 2):
        from waxegg.egg import _loops  # noqa: PLC0415

        return lambda a: _loops.mean0(a)
    return lambda a: np.sum(a, axis=0) / a.shape[0]


def mean_sq_dev(a: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Mean over axis 0 of ``(a - m) ** 2`` (the variance about ``m``), as egglog lowers ``std``'s inside."""
    squared = np.square(a - np.expand_dims(m, 0))
    return np.sum(squared, axis=0) / np.array(squared.shape[0])


@overload(mean_sq_dev)
def _mean_sq_dev_numba(a, m):
    if _is_f64(a, 2) and _is_f64(m, 1):
        from waxegg.egg import _loops  # noqa: PLC0415

        def impl(a, m):
            if m.shape[0] != a.shape[1]:
                raise IndexError("mean_sq_dev: m's length differs from a's number of columns")
            return _loops.mean_sq_dev(a, m)

        return impl
    return lambda a, m: np.sum(np.square(a - np.expand_dims(m, 0)), axis=0) / a.shape[0]


@register_jitable
def _float_itself(c):
    return c


@register_jitable
def _float_of_0d(c):
    return c.item()


def svd_s_vt_scaled(a: np.ndarray, s: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``svd_s_vt(c * (a / s))``: ``(S, Vt)`` of a matrix whose columns are divided by ``s`` and scaled by ``c``."""
    return svd_s_vt(c * (a / s))


@overload(svd_s_vt_scaled)
def _svd_s_vt_scaled_numba(a, s, c):
    scalar = isinstance(c, types.Float) or (isinstance(c, types.Array) and c.ndim == 0 and c.dtype == types.float64)
    if not (_is_f64(a, 2) and _is_f64(s, 1) and scalar):
        return lambda a, s, c: svd_s_vt(c * (a / s))
    from waxegg.egg import _loops  # noqa: PLC0415

    as_float = _float_itself if isinstance(c, types.Float) else _float_of_0d

    def impl(a, s, c):
        m, n = a.shape
        if s.shape[0] != n:
            raise IndexError("svd_s_vt_scaled: s's length differs from a's number of columns")
        # The matrix the QR reads, built in its own (Fortran) layout in one pass; same numbers as `c * (a / s)`.
        f = _loops.scaled_fortran(a, s, as_float(c))
        if n == 0 or m < lapack_svd_threshold(n):
            _, sv, vt = np.linalg.svd(f, full_matrices=False)
            return sv, vt
        _, sv, vt = np.linalg.svd(qr_r_overwrite(f), full_matrices=False)
        return sv, vt

    return impl


def sub_matmul(x: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``(x - v) @ w``: centre the rows by ``v`` and project, without the centred copy."""
    return (x - v) @ w


@overload(sub_matmul)
def _sub_matmul_numba(x, v, w):
    if _is_f64(x, 2) and _is_f64(v, 1) and _is_f64(w, 2):
        from waxegg.egg import _loops  # noqa: PLC0415

        def impl(x, v, w):
            if v.shape[0] != x.shape[1] or w.shape[0] != x.shape[1]:
                raise ValueError("sub_matmul: shapes of x, v and w do not align")
            return _loops.sub_matmul(x, v, w)

        return impl
    return lambda x, v, w: (x - v) @ w


def all_finite(x: np.ndarray) -> bool:
    """``np.all(np.isfinite(x))``."""
    return np.all(np.isfinite(x))


@overload(all_finite)
def _all_finite_numba(x):
    if _is_f64(x, 2):
        from waxegg.egg import _loops  # noqa: PLC0415

        return lambda x: _loops.all_finite(x)
    return lambda x: np.all(np.isfinite(x))


# -- in-place updates (``fuse_setitem``) ----------------------------------------------------------------------
# Numba compiles an array assignment (``a[0, :] = v``, ``a[mask] = c``) with its broadcasting machinery and the
# formatted shape-mismatch error, ~1-3 s of a cold compile per form; these loops compile in a fraction of that.


def set_row(a: np.ndarray, i: int, v: np.ndarray) -> None:
    """``a[i, :,] = v``: row ``i`` of a 2-D ``a`` set to the vector ``v``, in place."""
    a[i, :,] = v


@overload(set_row)
def _set_row_numba(a, i, v):
    if not (isinstance(a, types.Array) and a.ndim == 2 and isinstance(v, types.Array) and v.ndim == 1
            and isinstance(i, types.Integer)):
        return None

    def impl(a, i, v):
        n = a.shape[1]
        if v.shape[0] != n:
            raise ValueError("set_row: the vector's length differs from the row's")
        if i < -a.shape[0] or i >= a.shape[0]:
            raise IndexError("set_row: row index out of range")
        r = i if i >= 0 else i + a.shape[0]
        for j in range(n):
            a[r, j] = v[j]

    return impl


def set_where(a: np.ndarray, m: np.ndarray, c) -> None:
    """``a[m] = c``: the elements a boolean mask ``m`` of ``a``'s shape selects set to the scalar ``c`` (or a
    0-d array), in place."""
    a[m] = c


@overload(set_where)
def _set_where_numba(a, m, c):
    scalar = isinstance(c, (types.Number, types.Boolean)) or (isinstance(c, types.Array) and c.ndim == 0)
    if not (isinstance(a, types.Array) and a.ndim in (1, 2) and isinstance(m, types.Array) and m.ndim == a.ndim
            and m.dtype == types.boolean and scalar):
        return None
    value = (lambda c: c[()]) if isinstance(c, types.Array) else (lambda c: c)
    value = register_jitable(value)

    if a.ndim == 1:
        def impl(a, m, c):
            if m.shape[0] != a.shape[0]:
                raise IndexError("set_where: the mask's shape differs from the array's")
            x = value(c)
            for i in range(a.shape[0]):
                if m[i]:
                    a[i] = x

        return impl

    def impl2(a, m, c):
        if m.shape[0] != a.shape[0] or m.shape[1] != a.shape[1]:
            raise IndexError("set_where: the mask's shape differs from the array's")
        x = value(c)
        for i in range(a.shape[0]):
            for j in range(a.shape[1]):
                if m[i, j]:
                    a[i, j] = x

    return impl2


def same_value_set(y: np.ndarray, values: tuple) -> bool:
    """``set(np.unique(y)) == set(values)``."""
    return set(np.unique(y)) == set(values)


@overload(same_value_set)
def _same_value_set_numba(y, values):
    if not (isinstance(y, types.Array) and y.ndim == 1 and isinstance(values, types.UniTuple)):
        return None
    from waxegg.egg import _loops  # noqa: PLC0415

    k = values.count

    def impl(y, values):
        arr = np.empty(k, dtype=y.dtype)
        for c in range(k):
            arr[c] = values[c]
        return _loops.same_value_set(y, arr)

    return impl


# -- pass kernels (fuse_passes): one pass over the data for what NumPy does in two to four --------------------------


def _is_vec(t: object) -> bool:
    return _is_f64(t, 1)


def _is_scalar(t: object) -> bool:
    return isinstance(t, types.Float) or (isinstance(t, types.Array) and t.ndim == 0 and t.dtype == types.float64)


def sum0(a: np.ndarray) -> np.ndarray:
    """``np.sum(a, axis=0)``."""
    return np.sum(a, axis=0)


@overload(sum0)
def _sum0_numba(a):
    if _is_f64(a, 2):
        from waxegg.egg import _loops  # noqa: PLC0415

        return lambda a: _loops.sum0(a)
    return lambda a: np.sum(a, axis=0)


def col_row_sums(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(np.sum(a, axis=0), np.sum(a, axis=1))``: column and row sums in one pass."""
    return np.sum(a, axis=0), np.sum(a, axis=1)


@overload(col_row_sums)
def _col_row_sums_numba(a):
    if _is_f64(a, 2):
        from waxegg.egg import _loops  # noqa: PLC0415

        return lambda a: _loops.col_row_sums(a)
    return lambda a: (np.sum(a, axis=0), np.sum(a, axis=1))


def dev_sums(a: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(np.sum(np.square(a - m), axis=0), np.sum(a - m, axis=0))``: sums of squared and plain deviations."""
    deviations = a - m
    return np.sum(np.square(deviations), axis=0), np.sum(deviations, axis=0)


@overload(dev_sums)
def _dev_sums_numba(a, m):
    if _is_f64(a, 2) and _is_vec(m):
        from waxegg.egg import _loops  # noqa: PLC0415

        def impl(a, m):
            if m.shape[0] != a.shape[1]:
                raise ValueError("dev_sums: m's length differs from a's number of columns")
            return _loops.dev_sums(a, m)

        return impl

    def generic(a, m):
        deviations = a - m
        return np.sum(np.square(deviations), axis=0), np.sum(deviations, axis=0)

    return generic


def max_min0(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(np.max(a, axis=0), np.min(a, axis=0))`` in one pass."""
    return np.max(a, axis=0), np.min(a, axis=0)


@overload(max_min0)
def _max_min0_numba(a):
    if _is_f64(a, 2):
        from waxegg.egg import _loops  # noqa: PLC0415

        return lambda a: _loops.max_min0(a)
    return lambda a: (reduce_max(a, 0), reduce_min(a, 0))


def max_abs0(a: np.ndarray) -> np.ndarray:
    """``np.max(np.abs(a), axis=0)``: column maxima of the absolute values, no ``|a|`` copy."""
    return np.max(np.abs(a), axis=0)


@overload(max_abs0)
def _max_abs0_numba(a):
    if _is_f64(a, 2):
        from waxegg.egg import _loops  # noqa: PLC0415

        return lambda a: _loops.max_abs0(a)
    return lambda a: reduce_max(np.abs(a), 0)


def row_sumsq(a: np.ndarray) -> np.ndarray:
    """``np.sum(a * a, axis=1)``: squared row norms, no ``a * a`` copy."""
    return np.sum(a * a, axis=1)


def row_abs_sum(a: np.ndarray) -> np.ndarray:
    """``np.sum(np.abs(a), axis=1)``: row l1 norms, no ``|a|`` copy."""
    return np.sum(np.abs(a), axis=1)


def row_max_abs(a: np.ndarray) -> np.ndarray:
    """``np.max(np.abs(a), axis=1)``: row max-norms, no ``|a|`` copy."""
    return np.max(np.abs(a), axis=1)


@overload(row_sumsq)
def _row_sumsq_numba(a):
    if _is_f64(a, 2):
        from waxegg.egg import _loops  # noqa: PLC0415

        return lambda a: _loops.row_sumsq(a)
    return lambda a: np.sum(a * a, axis=1)


@overload(row_abs_sum)
def _row_abs_sum_numba(a):
    if _is_f64(a, 2):
        from waxegg.egg import _loops  # noqa: PLC0415

        return lambda a: _loops.row_abs_sum(a)
    return lambda a: np.sum(np.abs(a), axis=1)


@overload(row_max_abs)
def _row_max_abs_numba(a):
    if _is_f64(a, 2):
        from waxegg.egg import _loops  # noqa: PLC0415

        def impl(a):
            if a.shape[1] == 0 and a.shape[0] > 0:
                raise ValueError("zero-size array to reduction operation maximum which has no identity")
            return _loops.row_max_abs(a)

        return impl
    return lambda a: reduce_max(np.abs(a), 1)


def sub_div(a: np.ndarray, m: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``(a - m) / s``: standardise the columns, no centred copy."""
    return (a - m) / s


@overload(sub_div)
def _sub_div_numba(a, m, s):
    if _is_f64(a, 2) and _is_vec(m) and _is_vec(s):
        from waxegg.egg import _loops  # noqa: PLC0415

        def impl(a, m, s):
            d = a.shape[1]
            if m.shape[0] != d or s.shape[0] != d:
                return (a - m) / s  # NumPy's broadcasting (a length-1 vector) or its error
            return _loops.sub_div(a, m, s)

        return impl
    return lambda a, m, s: (a - m) / s


def sub_cols(a: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``a - m``: centre the columns."""
    return a - m


@overload(sub_cols)
def _sub_cols_numba(a, m):
    if _is_f64(a, 2) and _is_vec(m):
        from waxegg.egg import _loops  # noqa: PLC0415

        def impl(a, m):
            if m.shape[0] != a.shape[1]:
                return a - m
            return _loops.sub_cols(a, m)

        return impl
    return lambda a, m: a - m


def div_cols(a: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``a / s``: each column divided by its own ``s``."""
    return a / s


@overload(div_cols)
def _div_cols_numba(a, s):
    if _is_f64(a, 2) and _is_vec(s):
        from waxegg.egg import _loops  # noqa: PLC0415

        def impl(a, s):
            if s.shape[0] != a.shape[1]:
                return a / s
            return _loops.div_cols(a, s)

        return impl
    return lambda a, s: a / s


def div_rows(a: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``a / r[:, None,]``: each row divided by its own ``r``."""
    return a / r[:, None,]


@overload(div_rows)
def _div_rows_numba(a, r):
    if _is_f64(a, 2) and _is_vec(r):
        from waxegg.egg import _loops  # noqa: PLC0415

        def impl(a, r):
            if r.shape[0] != a.shape[0]:
                return a / r.reshape((r.shape[0], 1))
            return _loops.div_rows(a, r)

        return impl
    return lambda a, r: a / r.reshape((r.shape[0], 1))


def mul_add(a: np.ndarray, s: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``a * s + c``: an affine map of the columns, no ``a * s`` copy."""
    return a * s + c


@overload(mul_add)
def _mul_add_numba(a, s, c):
    if _is_f64(a, 2) and _is_vec(s) and _is_vec(c):
        from waxegg.egg import _loops  # noqa: PLC0415

        def impl(a, s, c):
            d = a.shape[1]
            if s.shape[0] != d or c.shape[0] != d:
                return a * s + c
            return _loops.mul_add(a, s, c)

        return impl
    return lambda a, s, c: a * s + c


def center2(a: np.ndarray, c: np.ndarray, r: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``((a - c) - r[:, None,]) + g``: double centring of a kernel matrix, no intermediate copies."""
    return ((a - c) - r[:, None,]) + g


@overload(center2)
def _center2_numba(a, c, r, g):
    if _is_f64(a, 2) and _is_vec(c) and _is_vec(r) and _is_scalar(g):
        from waxegg.egg import _loops  # noqa: PLC0415

        as_float = _float_itself if isinstance(g, types.Float) else _float_of_0d

        def impl(a, c, r, g):
            n, d = a.shape
            if c.shape[0] != d or r.shape[0] != n:
                return ((a - c) - r.reshape((r.shape[0], 1))) + g
            return _loops.center2(a, c, r, as_float(g))

        return impl
    return lambda a, c, r, g: ((a - c) - r.reshape((r.shape[0], 1))) + g


#: Columns up to which ``gram`` runs its own loop (its cost grows with d**2 per row; BLAS's blocking wins above).
GRAM_MAX_COLUMNS = 64


def gram(a: np.ndarray) -> np.ndarray:
    """``a.T @ a``: the Gram matrix of the columns (NumPy takes BLAS's ``syrk`` for it)."""
    return a.T @ a


@overload(gram)
def _gram_numba(a):
    if _is_f64(a, 2):
        from waxegg.egg import _loops  # noqa: PLC0415

        def impl(a):
            if a.shape[1] > GRAM_MAX_COLUMNS:
                return a.T @ a
            return _loops.gram(a)

        return impl
    return lambda a: a.T @ a


def matmul_sub(a: np.ndarray, w: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``a @ w - v @ w``: project the rows and subtract the projected ``v`` (a row), no ``(n, p)`` temporaries."""
    return a @ w - v @ w


@overload(matmul_sub)
def _matmul_sub_numba(a, w, v):
    ok = _is_f64(a, 2) and _is_f64(w, 2) and isinstance(v, types.Array) and v.dtype == types.float64
    if not (ok and v.ndim in (1, 2)):
        return lambda a, w, v: a @ w - v @ w
    from waxegg.egg import _loops  # noqa: PLC0415

    row = (lambda v: v) if v.ndim == 1 else (lambda v: v[0])
    row = register_jitable(row)
    one_row = (lambda v: True) if v.ndim == 1 else (lambda v: v.shape[0] == 1)
    one_row = register_jitable(one_row)

    def impl(a, w, v):
        d = a.shape[1]
        if w.shape[0] != d or v.shape[-1] != d or not one_row(v):
            return a @ w - v @ w  # NumPy's broadcasting or its error
        r = row(v)
        p = w.shape[1]
        c = np.zeros(p)
        for q in range(p):
            for j in range(d):
                c[q] += r[j] * w[j, q]
        return _loops.matmul_sub(a, w, c)

    return impl


# -- array-API functions Numba lacks (waxegg.egg._extensions generates calls to them) -----------------------------


def reduce_max(x: np.ndarray, axis: int) -> np.ndarray:
    """``np.max(x, axis=axis)`` (Numba's ``np.max`` takes no axis)."""
    return np.max(x, axis=axis)


def reduce_min(x: np.ndarray, axis: int) -> np.ndarray:
    """``np.min(x, axis=axis)``."""
    return np.min(x, axis=axis)


def _reduce_2d(pick_max: bool):  # noqa: ANN202
    def overload_impl(x, axis):  # noqa: ANN001, ANN202
        if not (isinstance(x, types.Array) and x.ndim in (1, 2)):
            return None
        if x.ndim == 1:
            return lambda x, axis: np.max(x) if pick_max else np.min(x)

        def impl(x, axis):  # noqa: ANN001, ANN202
            n, d = x.shape
            if axis not in (0, 1, -1, -2):
                raise ValueError("axis out of range for a 2-D array")
            along_rows = axis in (0, -2)
            out = np.empty(d if along_rows else n, dtype=x.dtype)
            if along_rows:
                out[:] = x[0]
                for i in range(1, n):
                    for j in range(d):
                        if (x[i, j] > out[j]) if pick_max else (x[i, j] < out[j]):
                            out[j] = x[i, j]
                        elif x[i, j] != x[i, j]:
                            out[j] = x[i, j]  # NaN propagates, as in NumPy
            else:
                for i in range(n):
                    best = x[i, 0]
                    for j in range(1, d):
                        if (x[i, j] > best) if pick_max else (x[i, j] < best):
                            best = x[i, j]
                        elif x[i, j] != x[i, j]:
                            best = x[i, j]
                    out[i] = best
            return out

        return impl

    return overload_impl


overload(reduce_max)(_reduce_2d(pick_max=True))
overload(reduce_min)(_reduce_2d(pick_max=False))


def flip(x: np.ndarray, axis: int) -> np.ndarray:
    """``np.flip(x, axis=axis)`` (Numba's ``np.flip`` takes no axis)."""
    return np.flip(x, axis=axis)


@overload(flip)
def _flip_numba(x, axis):
    if not (isinstance(x, types.Array) and x.ndim in (1, 2)):
        return None
    if x.ndim == 1:
        return lambda x, axis: x[::-1]

    def impl(x, axis):
        if axis in (0, -2):
            return x[::-1, :]
        return x[:, ::-1]

    return impl
