"""scikit-learn traced into egglog, optimised, and compiled with Numba (the second seed tutorial).

Stages, each a function with one input and one output::

    trace(fn, *arrays)   -> Traced     (symbolic NDArray expression + assumptions)
    optimize(expr)       -> EGraphRun  (array-API rules saturated, cheapest expression, e-graph size)
    lower(expr)          -> EGraphRun  (Numba-friendly forms: no ``axis`` on mean/std, no unique counts; S/Vt of a
                                        tall SVD from the R of a QR -- rewrite ``svd_without_u``)
    codegen(expr, ins)   -> Generated  (plain NumPy source, cached on disk, importable, inspectable; each masked
                                        selection named once -- rewrite ``share_masked``)
    compile_numba(f, *a) -> Compiled   (numba.njit + first call, timed)

:func:`accelerate` runs them all and returns an :class:`Accelerated`. Two breakages of egglog's array API with
today's scikit-learn are repaired while the stages run; see :mod:`waxegg.egg._fixes`. waxegg's own rewrites are in
:mod:`waxegg.egg.rewrites` (``accelerate(..., rewrites=...)`` selects them) with their run-time helpers in
:mod:`waxegg.egg.kernels`; ``accelerate(..., reuse=True)`` skips every stage for a program generated before
(:mod:`waxegg.egg.reuse`).
"""

from __future__ import annotations

from waxegg.egg import workloads
from waxegg.egg._compat import EGGLOG_VERSION
from waxegg.egg.codegen import Generated, cache_dir, codegen
from waxegg.egg.compile import Compiled, compile_numba
from waxegg.egg.errors import CodegenError, NotTraceable, ScipyArrayAPIError, VerificationError
from waxegg.egg.lower import lower
from waxegg.egg.optimize import EGraphRun, optimize
from waxegg.egg.pipeline import Accelerated, StageTimes, accelerate, max_abs_error
from waxegg.egg.render import egraph_dot, render_svg, write_egraph_svg
from waxegg.egg.rewrites import ALL_REWRITES
from waxegg.egg.trace import ArgSpec, Traced, check_scipy_array_api, trace

__all__ = [
    "ALL_REWRITES",
    "EGGLOG_VERSION",
    "Accelerated",
    "ArgSpec",
    "CodegenError",
    "Compiled",
    "EGraphRun",
    "Generated",
    "NotTraceable",
    "ScipyArrayAPIError",
    "StageTimes",
    "Traced",
    "VerificationError",
    "accelerate",
    "cache_dir",
    "check_scipy_array_api",
    "codegen",
    "compile_numba",
    "egraph_dot",
    "lower",
    "max_abs_error",
    "optimize",
    "render_svg",
    "trace",
    "workloads",
    "write_egraph_svg",
]
