"""Two small, scoped repairs to egglog's array API that today's scikit-learn needs, and waxegg's extensions.

All are applied only inside :func:`array_api_fixes` (entered by every stage of :mod:`waxegg.egg`) and undone on
exit, so other egglog users in the same process see egglog unchanged.

1. **Device check (egglog 13.2 only).** scikit-learn >= 1.8 checks in ``transform`` that ``X`` lives on the
   same device as the fitted ``coef_`` (``sklearn.utils._array_api.check_same_namespace``). In egglog 13.2
   ``NDArray.device`` is a symbolic expression, so ``X.device == coef_.device`` compares two different
   expression trees (``X.device`` vs ``(... big LDA expression ...).device``) structurally and is ``False``:
   ``ValueError: ... Devices used during fit (...) and transform (...) differ``. egglog 14 made ``device`` a
   Python property returning the constant ``Device.cpu``; we install the same property on 13.2 (``NDArray``
   is CPU-only there too, and code generation ignores devices).

2. **"False cannot equal True" (egglog 13.2 and 14).** ``array_api_ruleset`` contains
   ``Value.from_float(Float.from_int(i)) -> Value.from_int(i)``. Together with the rules that rewrite both a
   whole-number ``Float(1.0)`` and ``Float.from_int(Int(1))`` to ``Float.rational(1/1)``, it puts the *float*
   value ``1.0`` in the same e-class as the *int* value ``1`` whenever ``Float.from_int(Int(1))`` appears
   anywhere. Their dtype rules then merge ``DType.float64`` with ``DType.int64``, ``float64 == int64`` becomes
   both ``FALSE`` and ``TRUE``, and the ``eq(FALSE).to(TRUE)`` guard panics. Two-class LDA triggers it
   (``1 / (n_classes - 1)`` is ``Float.from_int(Int(1))`` and a fallback scale is ``1.0``); three classes give
   ``1 / 2`` and hide it. The rule is unsound (it changes the dtype), so we drop it; a float that happens to be a
   whole number stays a float. Nothing in the LDA pipeline needs it: the generated code is the same
   except that ``1.0`` is no longer printed as the int ``1``.

3. **Extensions** (:mod:`waxegg.egg._extensions`). ``NDArray.__array_namespace__`` returns waxegg's extended
   namespace (egglog's module plus ``max``, ``argmax``, ``linalg.eigh``, ``__array_namespace_info__``, ...), and
   the eager questions scikit-learn asks during tracing (``egglog.exp.array_api.try_evaling``) are answered with
   egglog's rules plus waxegg's shape and dtype rules.

4. **``np.isscalar``** answers ``False`` for a symbolic array: egglog registers its expressions as
   ``numbers.Integral`` (for scikit-learn's integer parameter checks), which made ``np.isscalar(scale)`` true and
   sent ``_handle_zeros_in_scale`` down its scalar branch (``if scale == 0.0``) on a vector.

5. **Division by a zero rational** panicked egglog (``Float.rational(r) / Float.rational(0)``); see
   :func:`unguarded_rational_division_rule`. The rule is replaced by one guarded with ``r1 != 0``, so ``0 / 0``
   stays an unevaluated division (NaN at run time, as in NumPy).
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from waxegg.egg import _compat

if TYPE_CHECKING:
    from collections.abc import Iterator

_LOCK = threading.RLock()
_DEPTH = 0
_UNDO: list[Any] = []
_CPU_DEVICE: Any = None


def unsound_int_float_rule() -> Any:
    """The declaration of ``Value.from_float(Float.from_int(i)) -> Value.from_int(i)`` in ``array_api_ruleset``."""
    from egglog import rewrite, var  # noqa: PLC0415
    from egglog.exp.array_api import Float, Int, Value  # noqa: PLC0415

    # Decls compare structurally (variable names included), so this equals the rule egglog registered.
    i = var("i", Int)
    return rewrite(Value.from_float(Float.from_int(i))).to(Value.from_int(i)).decl


def unguarded_rational_division_rule() -> Any:
    """``Float.rational(r) / Float.rational(r1) -> Float.rational(r / r1)``: panics on ``r1 == 0``.

    scikit-learn divides zero by zero on purpose (``_incremental_mean_and_var``'s first pass computes
    ``last_sum / last_over_new_count`` with both 0, NaN in NumPy, then overwrites it); folding that constant made
    egglog panic ("call of primitive / failed"). :mod:`waxegg.egg._extensions` has the rule with ``r1 != 0``.
    """
    from egglog import rewrite, var  # noqa: PLC0415
    from egglog import BigRat  # noqa: PLC0415
    from egglog.exp.array_api import Float  # noqa: PLC0415

    r, r1 = var("r", BigRat), var("r1", BigRat)
    return rewrite(Float.rational(r) / Float.rational(r1)).to(Float.rational(r / r1)).decl


def _cpu_device() -> Any:
    global _CPU_DEVICE  # noqa: PLW0603 -- one constant per process, created lazily after egglog loads
    if _CPU_DEVICE is None:
        from egglog import constant  # noqa: PLC0415
        from egglog.exp.array_api import Device  # noqa: PLC0415

        _CPU_DEVICE = constant("waxegg_cpu_device", Device)
    return _CPU_DEVICE


def _install() -> list[Any]:
    """Apply the fixes and extensions; return undo callbacks."""
    from egglog.exp.array_api import array_api_ruleset  # noqa: PLC0415

    undo: list[Any] = []

    # 1. constant device (only where egglog does not already preserve a Python ``device`` property)
    preserved = _compat.ndarray_class_decl().preserved_methods
    if "device" not in preserved:
        preserved["device"] = property(lambda self: _cpu_device(), doc="CPU device (waxegg fix for egglog 13.2)")
        undo.append(lambda: preserved.pop("device", None))

    # 2. drop the rule that equates a whole-number float with an int (and 5. the unguarded rational division)
    rules = _compat.ruleset_rules(array_api_ruleset)
    for bad in (unsound_int_float_rule(), unguarded_rational_division_rule()):
        positions = [k for k, r in enumerate(rules) if r == bad]
        for k in reversed(positions):
            del rules[k]

        def _restore_rule(bad: Any = bad, positions: list[int] = positions) -> None:
            for k in positions:
                rules.insert(k, bad)

        if positions:
            undo.append(_restore_rule)

    # 3. waxegg's namespace and rules
    from egglog.exp import array_api  # noqa: PLC0415

    from waxegg.egg import _extensions  # noqa: PLC0415

    ns = _extensions.namespace()
    original_namespace = preserved["__array_namespace__"]
    preserved["__array_namespace__"] = lambda self, api_version=None: ns
    undo.append(lambda: preserved.__setitem__("__array_namespace__", original_namespace))
    original_schedule = array_api.array_api_schedule
    array_api.array_api_schedule = _extensions.schedule()
    undo.append(lambda: setattr(array_api, "array_api_schedule", original_schedule))

    # 4. np.isscalar: egglog registers its expressions as numbers.Integral (for scikit-learn's integer checks), so
    # np.isscalar(array) is True and scikit-learn takes its scalar branch (``if scale == 0.0``) on a symbolic vector
    import numpy as np  # noqa: PLC0415

    original_isscalar = np.isscalar
    ndarray_type = array_api.NDArray

    def isscalar(element: Any) -> bool:
        return False if isinstance(element, ndarray_type) else original_isscalar(element)

    np.isscalar = isscalar
    undo.append(lambda: setattr(np, "isscalar", original_isscalar))
    return undo


@contextlib.contextmanager
def array_api_fixes() -> Iterator[None]:
    """Apply the repairs and extensions above for the duration of the block (re-entrant, process-wide).

    Only e-graphs *created* inside the block see the repaired ruleset (egglog registers a ruleset's rules
    into an e-graph the first time that e-graph runs it).
    """
    global _DEPTH  # noqa: PLW0603
    with _LOCK:
        if _DEPTH == 0:
            _UNDO[:] = _install()
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                for undo in reversed(_UNDO):
                    undo()
                _UNDO.clear()
