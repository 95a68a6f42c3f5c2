"""Stage 1 -- trace: run a callable on symbolic egglog arrays and return the array expression it builds.

The callable runs under ``sklearn.config_context(array_api_dispatch=True)`` on ``egglog.exp.array_api.NDArray``
variables, one per example array, annotated with what we know about the example (dtype, shape, all finite,
the set of values an integer label array takes). scikit-learn's Python control flow (``if n_samples ==
n_classes``) is answered eagerly by the e-graph from those assumptions; everything else stays symbolic.
"""

from __future__ import annotations

import inspect
import keyword
import os
import re
import sys
import sysconfig
import traceback
from collections.abc import Callable, Mapping, Sequence
from copy import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from waxegg.egg._fixes import array_api_fixes
from waxegg.egg.errors import NotTraceable, ScipyArrayAPIError

__all__ = ["ArgSpec", "Traced", "arg_specs", "check_scipy_array_api", "trace"]

# dtypes egglog.exp.array_api.DType can name (DType.<numpy name>).
SUPPORTED_DTYPES = ("float64", "float32", "int64", "int32", "bool")
# An integer example with at most this many distinct values is assumed to be a label array taking exactly
# those values (the tutorial's ``assume_value_one_of(y, (0, 1))``); more than that is probably data.
MAX_INFERRED_VALUES = 32


@dataclass(frozen=True)
class ArgSpec:
    """What the trace assumes about one input array.

    Attributes
    ----------
    name
        Parameter name in the generated function.
    dtype
        NumPy dtype name, one of ``SUPPORTED_DTYPES``.
    shape
        Exact shape; the generated code is specialised to it (and asserts it).
    isfinite
        Assume no NaN/inf (lets the rules drop ``isfinite`` checks scikit-learn makes).
    values
        The sorted set of values the array takes (label arrays), or ``None``.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    isfinite: bool = False
    values: tuple[int | float, ...] | None = None


@dataclass
class Traced:
    """Output of :func:`trace`.

    Attributes
    ----------
    expr
        The result as an ``egglog.exp.array_api.NDArray`` expression.
    inputs
        The input variables *before* assumptions (``NDArray.var(name)``), in argument order; code generation
        turns these into the function's parameters.
    specs
        The assumptions made, one per input.
    fn_name
        Name of the traced callable.
    """

    expr: Any = field(repr=False)
    inputs: tuple[Any, ...] = field(repr=False)
    specs: tuple[ArgSpec, ...]
    fn_name: str


def check_scipy_array_api() -> None:
    """Make sure SciPy reads ``SCIPY_ARRAY_API=1``, or raise :class:`ScipyArrayAPIError` if it is too late.

    SciPy reads the variable once, when first imported; scikit-learn only checks the environment variable, so
    setting it after SciPy loaded would pass sklearn's check yet leave SciPy calling NumPy on symbolic arrays.
    """
    if "scipy" not in sys.modules:
        os.environ["SCIPY_ARRAY_API"] = "1"
        return
    flag: object = os.environ.get("SCIPY_ARRAY_API") == "1"
    override = sys.modules.get("scipy._lib._array_api_override") or sys.modules.get("scipy._lib._array_api")
    if override is not None and hasattr(override, "SCIPY_ARRAY_API"):
        flag = override.SCIPY_ARRAY_API  # the value SciPy actually read at import
    if not flag or flag == "0":
        msg = (
            "SciPy was imported without SCIPY_ARRAY_API=1, so scikit-learn's array API mode cannot be traced. "
            "Set the environment variable before Python starts (SCIPY_ARRAY_API=1 python ...) or import waxegg "
            "before scipy / scikit-learn (waxegg sets it for you while SciPy is not yet loaded)."
        )
        raise ScipyArrayAPIError(msg)


def _default_names(fn: Callable[..., Any], n: int) -> list[str]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= n:
        return positional[:n]
    return [f"x{k}" for k in range(n)]


def arg_specs(
    fn: Callable[..., Any],
    example_arrays: Sequence[np.ndarray],
    *,
    names: Sequence[str] | None = None,
    isfinite: Mapping[str, bool] | None = None,
    value_sets: Mapping[str, Sequence[int | float] | None] | None = None,
) -> tuple[ArgSpec, ...]:
    """Infer (or take) the assumptions for each example array.

    Parameters
    ----------
    fn
        The callable; its positional parameter names name the inputs unless ``names`` is given.
    example_arrays
        NumPy arrays the callable will be traced for.
    names
        Input names (valid Python identifiers).
    isfinite
        Per-name override; default: ``True`` for a floating array whose example is all finite.
    value_sets
        Per-name override (``None`` to assume nothing); default: for integer arrays with at most
        ``MAX_INFERRED_VALUES`` distinct values, exactly those values.

    Returns
    -------
    tuple of ArgSpec
    """
    if not example_arrays:
        msg = "accelerate/trace needs at least one example array, got none"
        raise ValueError(msg)
    names = list(names) if names is not None else _default_names(fn, len(example_arrays))
    if len(names) != len(example_arrays):
        msg = f"names has {len(names)} entries ({names!r}) but {len(example_arrays)} example arrays were given"
        raise ValueError(msg)
    for name in names:
        if not name.isidentifier() or keyword.iskeyword(name) or name == "np" or name.startswith("_"):
            msg = f"input name {name!r} cannot be a parameter of the generated function (needs an identifier, not 'np' or '_...')"
            raise ValueError(msg)
    if len(set(names)) != len(names):
        msg = f"input names must be distinct, got {names!r}"
        raise ValueError(msg)
    for label, given in (("isfinite", isfinite), ("value_sets", value_sets)):
        unknown = sorted(set(given or ()) - set(names))
        if unknown:
            msg = f"{label} names unknown inputs {unknown!r}; inputs are {names!r}"
            raise ValueError(msg)

    specs = []
    for name, x in zip(names, example_arrays, strict=True):
        if not isinstance(x, np.ndarray):
            msg = f"example array {name!r} must be a numpy.ndarray, got {type(x).__name__}"
            raise TypeError(msg)
        if x.dtype.name not in SUPPORTED_DTYPES:
            msg = f"example array {name!r} has dtype {x.dtype.name!r}; egglog's array API supports {SUPPORTED_DTYPES}"
            raise ValueError(msg)
        floating = x.dtype.kind == "f"
        finite = isfinite[name] if isfinite and name in isfinite else bool(floating and np.isfinite(x).all())
        if value_sets is not None and name in value_sets:
            given_values = value_sets[name]
            values = None if given_values is None else tuple(sorted({v.item() if hasattr(v, "item") else v for v in given_values}))
        elif x.dtype.kind in "iu":  # labels; bool arrays take at most two values anyway
            uniques = np.unique(x)
            values = tuple(v.item() for v in uniques) if len(uniques) <= MAX_INFERRED_VALUES else None
        else:
            values = None
        specs.append(ArgSpec(name, x.dtype.name, tuple(int(s) for s in x.shape), finite, values))
    return tuple(specs)


def _symbolic_inputs(specs: Sequence[ArgSpec]) -> tuple[list[Any], list[Any]]:
    from egglog.exp.array_api import (  # noqa: PLC0415
        NDArray,
        assume_dtype,
        assume_isfinite,
        assume_shape,
        assume_value_one_of,
    )

    annotated, plain = [], []
    for spec in specs:
        x = NDArray.var(spec.name)
        plain.append(copy(x))  # the assume_* calls mutate x in place; codegen needs the bare variable
        assume_dtype(x, np.dtype(spec.dtype))
        assume_shape(x, spec.shape)
        if spec.isfinite:
            assume_isfinite(x)
        if spec.values is not None:
            assume_value_one_of(x, spec.values)
        annotated.append(x)
    return annotated, plain


_MODULE_ATTR = re.compile(r"module '(?P<module>[\w.]+)' has no attribute '(?P<name>\w+)'")
_EXPR_METHOD = re.compile(r"^(?P<cls>[\w.]+) has no method (?P<name>\w+)")


def _call_site(exc: BaseException) -> str:
    """The innermost frame outside egglog, waxegg and the standard library, e.g.
    ``sklearn/utils/extmath.py:975 in svd_flip`` (scikit-learn wraps estimator methods in ``contextlib``
    decorators, whose frame would otherwise be named)."""
    skip = ("/egglog/", f"{os.sep}waxegg{os.sep}egg{os.sep}")
    stdlib = sysconfig.get_paths()["stdlib"]
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        in_stdlib = frame.filename.startswith(stdlib) and "site-packages" not in frame.filename
        if not in_stdlib and not any(s in frame.filename for s in skip):
            parts = Path(frame.filename).parts
            short = "/".join(parts[-3:])
            return f"{short}:{frame.lineno} in {frame.name}"
    return "unknown location"


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _not_traceable(fn_name: str, exc: Exception) -> NotTraceable:
    """Turn whatever tracing raised into a :class:`NotTraceable` that names the missing piece."""
    from egglog.bindings import EggSmolError  # noqa: PLC0415
    from egglog.builtins import ExprValueError  # noqa: PLC0415
    from egglog.conversion import ConvertError  # noqa: PLC0415

    where = _call_site(exc)
    text = str(exc)
    if isinstance(exc, AttributeError) and (m := _MODULE_ATTR.search(text)) and "array_api" in m["module"]:
        missing = m["name"]
        msg = f"{fn_name}: egglog's array API namespace has no `{missing}` (xp.{missing} called at {where})"
    elif isinstance(exc, AttributeError) and (m := _EXPR_METHOD.search(text)):
        missing = f"{m['cls']}.{m['name']}"
        msg = f"{fn_name}: egglog's {m['cls']} has no `{m['name']}` (used at {where})"
    elif isinstance(exc, ExprValueError):
        missing = "a concrete value"
        msg = (
            f"{fn_name}: Python control flow at {where} needs a concrete value that egglog's array-API rules "
            f"cannot derive from the assumptions: {_short(text)}"
        )
    elif isinstance(exc, ConvertError):
        missing = "a conversion"
        msg = f"{fn_name}: egglog's array API cannot convert an argument at {where}: {_short(text)}"
    elif isinstance(exc, EggSmolError):
        missing = None
        msg = f"{fn_name}: egglog failed while answering a question at {where}: {_short(text)}"
    else:
        missing = None
        msg = f"{fn_name}: tracing raised {type(exc).__name__} at {where}: {_short(text)}"
    return NotTraceable(msg, fn_name=fn_name, missing=missing)


def trace(
    fn: Callable[..., Any],
    *example_arrays: np.ndarray,
    names: Sequence[str] | None = None,
    isfinite: Mapping[str, bool] | None = None,
    value_sets: Mapping[str, Sequence[int | float] | None] | None = None,
) -> Traced:
    """Trace ``fn`` on symbolic arrays shaped like ``example_arrays``.

    Parameters
    ----------
    fn
        A callable taking arrays and returning one array, written against scikit-learn (array API
        dispatch is switched on around the call) or directly against ``x.__array_namespace__()``.
    *example_arrays
        NumPy arrays: only dtype, shape, finiteness and (label arrays) the value set are used.
    names, isfinite, value_sets
        See :func:`arg_specs`.

    Returns
    -------
    Traced

    Raises
    ------
    NotTraceable
        When ``fn`` needs something egglog's array API lacks (the message names it) or egglog fails.
    ScipyArrayAPIError
        When SciPy was imported without ``SCIPY_ARRAY_API=1``.
    """
    check_scipy_array_api()
    from egglog import EGraph  # noqa: PLC0415
    from egglog.exp.array_api import NDArray, set_array_api_egraph  # noqa: PLC0415
    from sklearn import config_context  # noqa: PLC0415 -- after the SciPy check: sklearn imports SciPy

    fn_name = getattr(fn, "__qualname__", None) or type(fn).__name__
    specs = arg_specs(fn, example_arrays, names=names, isfinite=isfinite, value_sets=value_sets)
    with array_api_fixes():
        annotated, plain = _symbolic_inputs(specs)
        egraph = EGraph()
        # Eager questions (bool(), int(), hash()) go to this e-graph; ``with egraph`` pops what they added.
        with egraph, set_array_api_egraph(egraph), config_context(array_api_dispatch=True):
            try:
                result = fn(*annotated)
            except Exception as exc:  # noqa: BLE001 -- every failure here is a tracing failure; re-raised typed
                raise _not_traceable(fn_name, exc) from exc
    if not isinstance(result, NDArray):
        msg = (
            f"{fn_name} returned {type(result).__name__}, not a symbolic egglog array: it must return one array "
            "computed through the array API namespace (no NumPy calls, no tuples)"
        )
        raise NotTraceable(msg, fn_name=fn_name)
    return Traced(expr=result, inputs=tuple(plain), specs=specs, fn_name=fn_name)
