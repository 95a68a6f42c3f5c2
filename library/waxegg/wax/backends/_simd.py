"""Register-level steps Numba cannot spell, written as LLVM vector IR: a linear recurrence, a transpose.

``transpose_block`` moves an 8 x 8 block between a column-major array and a row-major buffer in
registers (the column-major drivers of the EWM and rolling kernels use it; see its docstring).

``scan_register(src, dst, i, carry, c, d)`` reads ``L`` consecutive elements ``x`` of ``src`` from
flat index ``i`` (``L`` = 64 bytes of the dtype: 8 float64 or 16 float32, one AVX-512 register),
writes ``y[k] = c * y[k-1] + d * x[k]`` (``y[-1] = carry``) to the same place in ``dst`` and returns
``y[L-1]``. It is a prefix scan inside the register (Hillis-Steele: ``log2 L`` shift + FMA steps with
``c``, ``c**2``, ``c**4``, ...) plus ``c**(k+1) * carry``; only the last FMA depends on the carry,
so a column is scanned along contiguous memory at a few cycles per register instead of one
dependent multiply-add per element.

``c`` is a float64 whatever the data's dtype: its powers are taken in float64 and rounded once, so
a float32 scan decays by ``c**16`` correct to an ulp instead of by a rounded ``c`` raised to the 16th
(at ``c = 1 - 1/201`` a rounded float32 ``c`` is alpha off by 1e-5 relative). ``d`` has the data's
dtype.

Numba cannot spell vector shuffles, hence the intrinsic. Both the stored ``y[L-1]`` and the returned
carry come from the same fused multiply-add, so the carry is bit-identical to the stored value.
Rounding differs from the step-by-step recursion by a few ulps (the sums are reassociated); the
recursion contracts such differences, so results stay within 1e-12 of pandas (tested).
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

#: Bytes per register: the SIMD width the scan is written for (AVX-512). On narrower machines LLVM
#: splits each vector operation into two or four, with the same results.
REGISTER_BYTES = 64

_I32 = ir.IntType(32)


def lanes(dtype_bits: int) -> int:
    return REGISTER_BYTES * 8 // dtype_bits


def _fma(builder, a, b, c):
    ty = a.type
    elem = ty.element if isinstance(ty, ir.VectorType) else ty
    name = "f64" if elem == ir.DoubleType() else "f32"
    if isinstance(ty, ir.VectorType):
        name = f"v{ty.count}{name}"
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ty, [ty, ty, ty]), f"llvm.fma.{name}")
    return builder.call(fn, [a, b, c])


def _splat(builder, vty, scalar):
    v = builder.insert_element(ir.Constant(vty, ir.Undefined), scalar, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, vty.count), [0] * vty.count))


@intrinsic
def scan_register(typingctx, src, dst, i, carry, c, d):
    """See the module docstring. ``src``/``dst``: contiguous arrays of one float dtype; ``i``: flat index;
    ``carry``, ``d``: that dtype; ``c``: float64."""
    if not (isinstance(src, types.Array) and isinstance(dst, types.Array) and src.dtype == dst.dtype
            and src.dtype in (types.float32, types.float64) and carry == d == src.dtype and c == types.float64):
        return None
    n = lanes(src.dtype.bitwidth)
    sig = src.dtype(src, dst, i, carry, c, d)

    def codegen(context, builder, signature, args):
        src_v, dst_v, idx, carry_v, c_v, d_v = args
        fty = context.get_value_type(signature.args[0].dtype)
        vty = ir.VectorType(fty, n)
        align = context.get_abi_sizeof(fty)
        src_a = context.make_array(signature.args[0])(context, builder, src_v)
        dst_a = context.make_array(signature.args[1])(context, builder, dst_v)
        src_p = builder.bitcast(builder.gep(src_a.data, [idx]), vty.as_pointer())
        dst_p = builder.bitcast(builder.gep(dst_a.data, [idx]), vty.as_pointer())
        x = builder.load(src_p, align=align)
        # c**1 .. c**n in float64, rounded once to the dtype; loop-invariant (LLVM hoists them out of
        # the caller's loop).
        wide = ir.DoubleType()
        pows_w = [c_v]
        for _ in range(1, n):
            pows_w.append(builder.fmul(pows_w[-1], c_v))
        pows = pows_w if fty == wide else [builder.fptrunc(p, fty) for p in pows_w]
        zero = ir.Constant(vty, [0.0] * n)
        s = builder.fmul(_splat(builder, vty, d_v), x)
        step = 1
        while step < n:  # s[k] += c**step * s[k - step]
            mask = ir.Constant(ir.VectorType(_I32, n), [k - step if k >= step else n for k in range(n)])
            shifted = builder.shuffle_vector(s, zero, mask)
            s = _fma(builder, _splat(builder, vty, pows[step - 1]), shifted, s)
            step *= 2
        carry_pows = ir.Constant(vty, ir.Undefined)
        for k in range(n):
            carry_pows = builder.insert_element(carry_pows, pows[k], ir.Constant(_I32, k))
        y = _fma(builder, carry_pows, _splat(builder, vty, carry_v), s)
        builder.store(y, dst_p, align=align)
        # the next carry, off the vector path: the same FMA as y[n-1]
        return _fma(builder, pows[n - 1], carry_v, builder.extract_element(s, ir.Constant(_I32, n - 1)))

    return sig, codegen


#: Side of the square blocks :func:`transpose_block` moves (8 x 8: eight vector loads and stores).
BLOCK = 8


@intrinsic
def transpose_block(typingctx, src, i, si, dst, o, so):
    """Transpose one 8 x 8 block: ``dst[o + c * so + r] = src[i + r * si + c]`` for r, c < 8 (flat indices
    into C-contiguous arrays).

    Eight vector loads, three rounds of two-input shuffles (round ``s`` swaps bit ``s`` of the row
    and column index), eight vector stores. LLVM emitted scalar moves for every way of writing
    this as a loop that was tried, which cost more than the statistic itself.
    """
    # indexes the memory flat: C-contiguous arrays of any dimension
    if not (isinstance(src, types.Array) and isinstance(dst, types.Array) and src.dtype == dst.dtype
            and src.dtype in (types.float32, types.float64) and src.layout == dst.layout == "C"):
        return None
    sig = types.none(src, i, si, dst, o, so)

    def codegen(context, builder, signature, args):
        src_v, i_v, si_v, dst_v, o_v, so_v = args
        fty = context.get_value_type(signature.args[0].dtype)
        vty = ir.VectorType(fty, BLOCK)
        mty = ir.VectorType(ir.IntType(32), BLOCK)
        align = context.get_abi_sizeof(fty)
        sp = context.make_array(signature.args[0])(context, builder, src_v).data
        dp = context.make_array(signature.args[3])(context, builder, dst_v).data

        def at(base, start, stride, r):
            off = builder.add(start, builder.mul(stride, ir.Constant(stride.type, r)))
            return builder.bitcast(builder.gep(base, [off]), vty.as_pointer())

        rows = [builder.load(at(sp, i_v, si_v, r), align=align) for r in range(BLOCK)]
        s = 1
        while s < BLOCK:
            new = list(rows)
            for r in range(BLOCK):
                if not r & s:
                    lo = [c if not c & s else BLOCK + c - s for c in range(BLOCK)]
                    hi = [c + s if not c & s else BLOCK + c for c in range(BLOCK)]
                    new[r] = builder.shuffle_vector(rows[r], rows[r + s], ir.Constant(mty, lo))
                    new[r + s] = builder.shuffle_vector(rows[r], rows[r + s], ir.Constant(mty, hi))
            rows = new
            s *= 2
        for c in range(BLOCK):
            builder.store(rows[c], at(dp, o_v, so_v, c), align=align)
        return context.get_dummy_value()

    return sig, codegen
