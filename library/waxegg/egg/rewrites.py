"""waxegg's own rewrites on top of egglog's array-API rules, selectable by name for the ablation.

=================  =========  ==================================================================================
name               stage      what
=================  =========  ==================================================================================
``svd_without_u``  lower      e-graph rule: ``svd(A, full_matrices=False)[1]`` / ``[2]`` (``S`` / ``Vt``) become
                              ``svd_s_vt(A)[0]`` / ``[1]``, generated as ``_k.svd_s_vt(A)``: the SVD of the
                              ``R`` of a Householder QR, the very LAPACK calls ``dgesdd`` makes for a tall ``A``,
                              minus forming ``Q`` and ``U`` (see :func:`waxegg.egg.kernels.svd_s_vt`). ``U``
                              (``[0]``) is left alone, so a program that uses it keeps ``np.linalg.svd``.
``share_masked``   codegen    program-generation rule: an array indexed by an array (``X[y == k]``, a boolean
                              mask or integer array, which NumPy always copies) is assigned to a variable once
                              and reused, instead of being re-selected wherever it is used (egglog's generator
                              inlines every ``x[key]``).
``fuse_*``         codegen    fusion passes over the generated statements (:mod:`waxegg.egg.fuse`): chains of
                              whole-array NumPy statements become one call of a fused kernel whose Python body is
                              the removed NumPy and whose Numba version is one parallel loop nest
                              (``fuse_masked``, ``fuse_moments``, ``fuse_scale_svd``, ``fuse_sub_matmul``,
                              ``fuse_shared_svd``, ``fuse_passes``, ``fuse_checks``, ``fuse_setitem``).
=================  =========  ==================================================================================

``compile_numba(..., parallel=True)`` (Numba's ParallelAccelerator on the whole program) is not used: on the LDA
program its array analysis rejects the ``(n, d) - (1, d)`` broadcast egglog's ``mean(keepdims)`` lowering emits, and
with that line changed by hand it was slower than the serial build on the 2-core machine (2.95 s vs 2.42 s at 1e6).
The ``fuse_*`` kernels run their own ``prange`` loops instead (:mod:`waxegg.egg._loops`), with per-block partial
sums added in block order, so results do not depend on the thread count.

Each is correct for any program, not only LDA; ``tests/test_egg_rewrites.py`` checks each on its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from waxegg.egg import _compat

__all__ = ["ALL_REWRITES", "program_rules", "resolve_rewrites", "shared_masked_selections", "svd_rules"]

ALL_REWRITES: tuple[str, ...] = (
    "svd_without_u",
    "share_masked",
    "fuse_masked",
    "fuse_moments",
    "fuse_scale_svd",
    "fuse_sub_matmul",
    "fuse_shared_svd",
    "fuse_passes",
    "fuse_checks",
    "fuse_setitem",
)


def resolve_rewrites(rewrites: str | Iterable[str] | None) -> tuple[str, ...]:
    """Normalise the ``rewrites=`` option: ``"all"``/``None`` -> all, ``"none"`` -> (), else the names given.

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones).
    """
    if rewrites is None or rewrites == "all":
        return ALL_REWRITES
    if rewrites == "none":
        return ()
    names = (rewrites,) if isinstance(rewrites, str) else tuple(rewrites)
    unknown = [n for n in names if n not in ALL_REWRITES]
    if unknown:
        msg = f"unknown rewrites {unknown!r}; known: {list(ALL_REWRITES)} (or 'all' / 'none')"
        raise ValueError(msg)
    return tuple(n for n in ALL_REWRITES if n in names)  # canonical order, no duplicates


_DECLS: dict[str, Any] = {}


def _svd_decls() -> dict[str, Any]:
    """Declare ``svd_s_vt`` and its rules once per process (egglog declarations are global)."""
    if _DECLS:
        return _DECLS
    from egglog import function, rewrite, ruleset  # noqa: PLC0415
    from egglog.exp.array_api import FALSE, Int, NDArray, TupleNDArray, svd_  # noqa: PLC0415
    from egglog.exp.array_api_program_gen import Program, ndarray_program, tuple_ndarray_program  # noqa: PLC0415

    @function
    def svd_s_vt(x: NDArray) -> TupleNDArray:  # type: ignore[empty-body]
        """``(S, Vt)`` of ``svd(x, full_matrices=False)``: ``waxegg.egg.kernels.svd_s_vt``."""

    @ruleset
    def svd_without_u(x: NDArray):  # noqa: ANN202 -- egglog rule generator
        # subsume: the original S / Vt may not be extracted again (both are cheap single nodes otherwise).
        yield rewrite(svd_(x, FALSE)[Int(1)], subsume=True).to(svd_s_vt(x)[Int(0)])
        yield rewrite(svd_(x, FALSE)[Int(2)], subsume=True).to(svd_s_vt(x)[Int(1)])

    @ruleset
    def svd_program(x: NDArray):  # noqa: ANN202
        yield rewrite(tuple_ndarray_program(svd_s_vt(x))).to(
            (Program("_k.svd_s_vt(") + ndarray_program(x) + ")").assign()
        )

    _DECLS.update(svd_s_vt=svd_s_vt, svd_without_u=svd_without_u, svd_program=svd_program)
    return _DECLS


def svd_rules() -> Any:
    """The e-graph ruleset of ``svd_without_u`` (run with egglog's Numba lowering)."""
    return _svd_decls()["svd_without_u"]


def _getitem_decls() -> tuple[Any, list[Any]]:
    """egglog's inlining ``getitem`` translation rule, and the rules that replace it under ``share_masked``."""
    from egglog import rewrite, var  # noqa: PLC0415
    from egglog.exp.array_api import IndexKey, MultiAxisIndexKey, NDArray, Slice  # noqa: PLC0415
    from egglog.exp.array_api_program_gen import index_key_program, ndarray_program  # noqa: PLC0415

    # Variable names as in egglog's ``_ndarray_program`` (decls compare structurally, names included).
    x, idx = var("x", NDArray), var("idx", IndexKey)
    inlined = rewrite(ndarray_program(x[idx])).to(ndarray_program(x) + "[" + index_key_program(idx) + "]")

    def plain(key: Any) -> Any:
        return rewrite(ndarray_program(x[key])).to(ndarray_program(x) + "[" + index_key_program(key) + "]")

    a = var("a", NDArray)
    replacement = [
        plain(IndexKey.ELLIPSIS),
        plain(IndexKey.int(var("i", _int_type()))),
        plain(IndexKey.slice(var("s", Slice))),
        plain(IndexKey.multi_axis(var("key", MultiAxisIndexKey))),
        # Array keys select a copy in NumPy: name it once (``.assign()``) so every use shares it.
        rewrite(ndarray_program(x[IndexKey.ndarray(a)])).to(
            (ndarray_program(x) + "[" + index_key_program(IndexKey.ndarray(a)) + "]").assign()
        ),
    ]
    return inlined.decl, [r.decl for r in replacement]


def _int_type() -> Any:
    from egglog.exp.array_api import Int  # noqa: PLC0415

    return Int


@contextlib.contextmanager
def shared_masked_selections() -> Iterator[None]:
    """Within the block, egglog's program generator names array-indexed selections once (``share_masked``).

    Swaps one rule of ``array_api_program_gen_ruleset`` and restores it on exit. Only e-graphs created inside the
    block see the change. Holds a lock: the ruleset is process-wide.
    """
    from egglog.exp.array_api_program_gen import array_api_program_gen_ruleset  # noqa: PLC0415

    inlined, replacement = _getitem_decls()
    with _compat.swapped_rules(array_api_program_gen_ruleset, inlined, replacement, what="`x[idx]` program"):
        yield


def program_rules(rewrites: Iterable[str]) -> Any:
    """Extra program-generation rules for the enabled rewrites (``None`` when there are none)."""
    if "svd_without_u" in rewrites:
        return _svd_decls()["svd_program"]
    return None
