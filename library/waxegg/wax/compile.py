"""Step (2a): compile a Haiku transformed function once, with the data it closes over as arguments.

The seed tutorial's transform reads each step from the whole dataset it closes over. Under a plain
``jax.jit`` those captured arrays become constants of the XLA program: XLA then copies, hashes and
folds them while compiling, so the compile time grows with the data (seconds at T=1e5 x N=1000).
Here the function is traced once to a jaxpr (:func:`jax.make_jaxpr`), whose ``consts`` are exactly
the captured arrays, and the jitted program evaluates that jaxpr with the consts passed as
*arguments*: the program, and so its compile time, depends only on shapes and dtypes.

:func:`trace_hoisted` does the tracing (cached per function and argument shapes, so repeated calls
neither retrace nor recompile); :func:`jit_init_apply` and :func:`waxegg.wax.unroll.dynamic_unroll`
are its users.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass
from typing import Any, Callable

import haiku as hk
import jax
import numpy as np

from waxegg.wax._x64 import x64_context

__all__ = ["HoistedJit", "StepJaxpr", "jit_init_apply", "trace_hoisted", "unjitted"]

#: Attribute naming the plain function behind one of our jitted wrappers (see :func:`unjitted`).
_UNJITTED = "__waxegg_unjitted__"


@dataclass(frozen=True, eq=False)
class StepJaxpr:
    """A traced function without its constants: hashable by identity, a static argument of ``jax.jit``.

    Attributes
    ----------
    jaxpr : jax.extend.core.Jaxpr
        The open jaxpr; its ``constvars`` receive the hoisted constants, its ``invars`` the flat arguments.
    out_tree : jax.tree_util.PyTreeDef
        Structure of the outputs.
    """

    jaxpr: Any
    out_tree: Any

    def __call__(self, consts: Any, *args: Any, **kwargs: Any) -> Any:
        """Evaluate on arguments of the traced signature and the hoisted ``consts``."""
        flat = jax.tree_util.tree_leaves((args, kwargs))
        return jax.tree_util.tree_unflatten(self.out_tree, jax.core.eval_jaxpr(self.jaxpr, consts, *flat))


# fn -> {argument signature: (StepJaxpr, consts)}. Weak on fn: a transform that goes away takes its
# traces and the arrays it captured with it (the entries never point back at fn).
_TRACES: weakref.WeakKeyDictionary[Callable[..., Any], dict[Any, tuple[StepJaxpr, tuple]]] = weakref.WeakKeyDictionary()


def _leaf_signature(x: Any) -> tuple:
    aval = getattr(x, "aval", None)  # jax.Array and tracers
    if aval is not None:
        return (tuple(aval.shape), aval.dtype, bool(getattr(aval, "weak_type", False)))
    if isinstance(x, (bool, int, float, complex)):
        return ((), type(x).__name__, True)
    dtype = getattr(x, "dtype", None)  # numpy arrays, jax.ShapeDtypeStruct
    return (tuple(np.shape(x)), np.result_type(x) if dtype is None else dtype,
            bool(getattr(x, "weak_type", False)))


def _signature(args: Any) -> tuple:
    leaves, treedef = jax.tree_util.tree_flatten(args)
    # float64 or float32 tracing depends on the x64 mode in force.
    return treedef, tuple(map(_leaf_signature, leaves)), jax.dtypes.canonicalize_dtype(np.float64).name


def trace_hoisted(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> tuple[StepJaxpr, tuple]:
    """Trace ``fn(*args, **kwargs)`` to a :class:`StepJaxpr` and the constants it closes over.

    The arguments may hold arrays, tracers or :class:`jax.ShapeDtypeStruct`; only their shapes and
    dtypes matter. The result is cached per ``fn`` and argument signature (and x64 mode), unless a
    constant is itself a tracer of an enclosing transformation (then it belongs to that trace only).
    Captured numpy arrays are put on the device once, here, rather than at every call.

    Returns
    -------
    step, consts
        ``step(consts, *args, **kwargs)`` computes ``fn(*args, **kwargs)``.
    """
    key = _signature((args, kwargs))
    try:
        cached = _TRACES.get(fn, {}).get(key)
    except TypeError:  # fn cannot be weakly referenced: no cache
        cached = None
    if cached is not None:
        return cached
    # A fresh wrapper, so nothing kept in the cache refers back to fn (the cache is weak on it).
    closed, out_shape = jax.make_jaxpr(lambda a, k: fn(*a, **k), return_shape=True)(args, kwargs)
    step = StepJaxpr(closed.jaxpr, jax.tree_util.tree_structure(out_shape))
    consts = tuple(c if isinstance(c, (jax.Array, jax.core.Tracer)) else jax.device_put(c) for c in closed.consts)
    if not any(isinstance(c, jax.core.Tracer) for c in consts):
        try:
            _TRACES.setdefault(fn, {})[key] = (step, consts)
        except TypeError:
            pass
    return step, consts


@functools.partial(jax.jit, static_argnums=0)
def _run(step: StepJaxpr, consts: tuple, args: tuple, kwargs: dict) -> Any:
    return step(consts, *args, **kwargs)


class HoistedJit:
    """``jax.jit(fun)`` with the arrays ``fun`` closes over passed to the program as arguments.

    Called like ``fun``; runs with 64-bit types enabled. Keyword arguments are traced like
    positional ones (no static arguments).
    """

    def __init__(self, fun: Callable[..., Any]) -> None:
        functools.update_wrapper(self, fun)
        setattr(self, _UNJITTED, fun)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with x64_context():
            step, consts = trace_hoisted(getattr(self, _UNJITTED), *args, **kwargs)
            return _run(step, consts, args, kwargs)

    def lower(self, *args: Any, **kwargs: Any) -> Any:
        """The XLA program a call on these arguments runs, lowered (``.as_text()``, ``.compile()``)."""
        with x64_context():
            step, consts = trace_hoisted(getattr(self, _UNJITTED), *args, **kwargs)
            return _run.lower(step, consts, args, kwargs)


def unjitted(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The plain function behind a :class:`HoistedJit` (``fn`` itself otherwise).

    Tracing that function, rather than the jitted wrapper, puts the arrays it captures among the
    consts of the *outer* jaxpr, where :func:`trace_hoisted` can lift them out.
    """
    return getattr(fn, _UNJITTED, fn)


def jit_init_apply(transformed: hk.TransformedWithState | hk.Transformed) -> hk.TransformedWithState:
    """Compile both halves of a Haiku transform, running them with 64-bit types enabled.

    Used as a decorator on top of ``hk.transform_with_state`` (WAX-ML's idiom). Each half is a
    :class:`HoistedJit`: compiled once per input shape and dtype, with the arrays the function closes
    over (the seed's whole dataset) as arguments of the program rather than constants baked into it.
    """
    if isinstance(transformed, hk.TransformedWithState):
        return hk.TransformedWithState(init=HoistedJit(transformed.init), apply=HoistedJit(transformed.apply))
    if isinstance(transformed, hk.Transformed):
        return hk.Transformed(init=HoistedJit(transformed.init), apply=HoistedJit(transformed.apply))
    raise TypeError(f"jit_init_apply expects the result of hk.transform[_with_state], got {type(transformed).__name__}")
