"""Step (2b): run a stateful Haiku function over the steps of a stream.

:func:`dynamic_unroll` compiles the whole loop with ``jax.lax.scan`` (one XLA program, compiled
once per function, shape and dtype, that takes the arrays the function closes over as arguments:
see :mod:`waxegg.wax.compile`); :func:`static_unroll` is the plain Python loop, the
reference it must agree with.
"""

from __future__ import annotations

import logging
import weakref
from functools import partial
from typing import Any, Callable, NamedTuple

import haiku as hk
import jax
import numpy as np

from waxegg.wax._x64 import x64_context
from waxegg.wax.compile import StepJaxpr, trace_hoisted, unjitted


def as_with_state(transformed: Any) -> hk.TransformedWithState:
    """``transformed`` as a ``hk.TransformedWithState`` (a stateless ``hk.Transformed`` gets an empty state)."""
    if isinstance(transformed, hk.TransformedWithState):
        return transformed
    if isinstance(transformed, hk.Transformed):
        return hk.with_empty_state(transformed)
    raise TypeError(f"expected a Haiku transformed function (hk.transform_with_state), got {type(transformed).__name__}")


def first_values(xs: Any) -> Any:
    """The first step of every leaf of ``xs`` (what ``init`` sees), with clear errors for empty or ragged ``xs``."""
    leaves = jax.tree_util.tree_leaves(xs)
    if not leaves:
        raise ValueError("xs is empty: nothing to unroll over")
    lengths = {np.shape(x)[0] if np.ndim(x) else None for x in leaves}
    if None in lengths or len(lengths) != 1:
        raise ValueError(f"every leaf of xs needs the same leading (time) length, got {sorted(map(str, lengths))}")
    if lengths == {0}:
        raise ValueError("xs has zero steps: nothing to unroll over")
    return jax.tree_util.tree_map(lambda x: x[0], xs)


# Haiku transforms of user functions, reused across calls so that the compiled scan is reused too.
_TRANSFORMS: "weakref.WeakKeyDictionary[Callable, hk.TransformedWithState]" = weakref.WeakKeyDictionary()


def transform_stream_fn(fn: Callable, statics: dict | None = None) -> hk.TransformedWithState:
    """``hk.transform_with_state(fn)``, made once per ``fn`` (so repeated applies reuse its compiled scan).

    ``statics``: ``{name: value}`` merged into every step's input dict (a Dataset stream's variables
    without the time dimension); such a transform is made anew each call.
    """
    if statics:
        return hk.transform_with_state(lambda x: fn({**x, **statics}))
    try:
        return _TRANSFORMS[fn]
    except (KeyError, TypeError):
        pass
    t = hk.transform_with_state(fn)
    try:
        _TRANSFORMS[fn] = t
    except TypeError:
        pass
    return t


def _step_rng(rng: Any, step: Any) -> Any:
    return None if rng is None else jax.random.fold_in(rng, step)


def stack_steps(outputs: list) -> Any:
    """Per-step output pytrees stacked along a new leading (time) axis."""
    return jax.tree_util.tree_map(lambda *o: jax.numpy.stack(o), *outputs)


def python_scan(step: Callable[[Any, Any], tuple[Any, Any]], carry: Any, xs: Any, *, pbar: bool = False,
                desc: str | None = None) -> tuple[Any, Any]:
    """``jax.lax.scan``'s contract as a Python loop over the leading axis of ``xs`` (``pbar``: a tqdm bar):
    ``step(carry, x) -> (carry, out)``; returns the last carry and the stacked outputs."""
    steps: Any = range(jax.tree_util.tree_leaves(xs)[0].shape[0])
    if pbar:
        from tqdm.auto import tqdm  # noqa: PLC0415

        steps = tqdm(steps, desc=desc)
    outputs = []
    for i in steps:
        carry, out = step(carry, jax.tree_util.tree_map(lambda x: x[i], xs))
        outputs.append(out)
    return carry, stack_steps(outputs)


@partial(jax.jit, static_argnums=0)
def _scan_step(step: StepJaxpr, consts: tuple, params: Any, state: Any, rng: Any, xs: Any,
               first_step: Any) -> tuple[Any, Any]:
    # ``first_step`` is traced (no recompilation per value): a run split into time chunks
    # (waxegg.wax.chunked) continues the step count, so every step folds the same key into rng.
    def body(carry, x):
        state, i = carry
        out, state = step(consts, params, state, _step_rng(rng, i), x)
        return (state, i + 1), out

    (state, _), outputs = jax.lax.scan(body, (state, first_step), xs)
    return outputs, state


def _traced_step(apply: Any, params: Any, state: Any, rng: Any, xs: Any) -> tuple[StepJaxpr, tuple]:
    # One step of ``apply`` as a jaxpr, with the arrays it closes over lifted out as arguments
    # (waxegg.wax.compile): the scan's program, and its compile time, then do not grow with them.
    # ``rng`` stands for the per-step key: fold_in keeps its shape and dtype.
    x = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a)[1:], jax.numpy.result_type(a)), xs)
    return trace_hoisted(unjitted(apply), params, state, rng, x)


def scan_steps(apply: Any, params: Any, state: Any, rng: Any, xs: Any, first_step: Any = 0) -> tuple[Any, Any]:
    """``lax.scan`` of ``apply`` over the leading axis of ``xs``, compiled once per function, shape and dtype.

    Call inside :func:`~waxegg.wax._x64.x64_context`.
    """
    step, consts = _traced_step(apply, params, state, rng, xs)
    return _scan_step(step, consts, params, state, rng, xs, first_step)


scan_steps._cache_size = _scan_step._cache_size  # type: ignore[attr-defined]


def lower_unroll(transformed: Any, xs: Any, rng: Any = None, *, params: Any = None, state: Any = None) -> Any:
    """The XLA program :func:`dynamic_unroll` runs on these arguments, lowered (``jax.stages.Lowered``).

    For inspection: ``.as_text()`` shows it, ``.compile()`` compiles it. The arrays the transform
    closes over are parameters of that program, not constants in it.
    """
    t = as_with_state(transformed)
    params, state = init_params_state(t, xs, rng, params=params, state=state)
    with x64_context():
        step, consts = _traced_step(t.apply, params, state, rng, xs)
        return _scan_step.lower(step, consts, params, state, rng, xs, 0)


def init_params_state(transformed: Any, xs: Any, rng: Any = None, *, params: Any = None,
                      state: Any = None) -> tuple[Any, Any]:
    """``(params, state)`` to start ``transformed`` on ``xs`` from.

    Given ones are kept; missing ones come from ``transformed.init`` on the first step of ``xs``.
    """
    if params is not None and state is not None:
        return params, state
    t = as_with_state(transformed)
    with x64_context():
        p0, s0 = t.init(rng, first_values(xs))
    return (p0 if params is None else params), (s0 if state is None else state)


def dynamic_unroll(
    transformed: Any,
    xs: Any,
    rng: Any = None,
    *waxml_args: Any,
    params: Any = None,
    state: Any = None,
    **waxml_kwargs: Any,
) -> tuple[Any, Any]:
    """Apply ``transformed`` to every step of ``xs`` inside one compiled ``lax.scan``.

    Parameters
    ----------
    transformed : hk.TransformedWithState
        A Haiku transform (typically decorated with :func:`~waxegg.wax.compile.jit_init_apply`).
    xs : pytree of arrays
        Steps to feed, with time on the leading axis of every leaf (e.g. ``np.arange(T)``).
    rng : jax PRNG key, optional
        Folded in with the step number, so every step gets its own key.
    params, state : optional
        Start from these instead of ``transformed.init`` (e.g. the ``state`` a previous call returned).

    Returns
    -------
    outputs, state
        Outputs stacked along a new leading time axis, and the state after the last step.

    Notes
    -----
    WAX-ML's call form ``dynamic_unroll(fun, params, state, rng, skip_first, *args, **kwargs)`` (four or more
    positional arguments) is accepted too and runs as WAX-ML's (its per-step rng split included; see
    :func:`unroll_transform_with_state`).
    """
    if waxml_args or waxml_kwargs:
        return _waxml_unroll(transformed, xs, rng, waxml_args, waxml_kwargs, dynamic=True)
    t = as_with_state(transformed)
    params, state = init_params_state(t, xs, rng, params=params, state=state)
    with x64_context():
        return scan_steps(t.apply, params, state, rng, xs)


def _waxml_unroll(fun: Any, params: Any, state: Any, more: tuple, kwargs: dict, *, dynamic: bool
                  ) -> tuple[Any, Any]:
    """WAX-ML's ``(static|dynamic)_unroll(fun, params, state, rng, skip_first=False, *args, **kwargs)``."""
    rng, *rest = more
    skip_first = bool(rest.pop(0)) if rest and isinstance(rest[0], bool) else False
    return unroll(fun, skip_first=skip_first, dynamic=dynamic, return_final_state=True, rng=rng, params=params,
                  state=state)(*rest, **kwargs)


def static_unroll(
    transformed: Any,
    xs: Any,
    rng: Any = None,
    *waxml_args: Any,
    params: Any = None,
    state: Any = None,
    **waxml_kwargs: Any,
) -> tuple[Any, Any]:
    """Same contract as :func:`dynamic_unroll`, with a Python loop over the steps (reference); WAX-ML's call
    form ``static_unroll(fun, params, state, rng, skip_first, *args)`` too."""
    if waxml_args or waxml_kwargs:
        return _waxml_unroll(transformed, xs, rng, waxml_args, waxml_kwargs, dynamic=False)
    t = as_with_state(transformed)
    params, state = init_params_state(t, xs, rng, params=params, state=state)
    with x64_context():
        n = jax.tree_util.tree_leaves(xs)[0].shape[0]
        outputs = []
        for step in range(n):
            x = jax.tree_util.tree_map(lambda a: a[step], xs)
            out, state = t.apply(params, state, _step_rng(rng, step), x)
            outputs.append(out)
        return stack_steps(outputs), state


# --- WAX-ML 0.7's unroll API ------------------------------------------------------------------------------------


class UnrollTransformedWithState(NamedTuple):
    """WAX-ML's pair of pure functions over whole sequences.

    ``init(rng, *args, **kwargs) -> (params, state)`` initialises on the first step of every leaf;
    ``apply(params, state, rng, *args, **kwargs) -> (outputs, final_state)`` runs every step, with outputs stacked
    along a new leading (time) axis.
    """

    init: Callable[..., tuple[Any, Any]]
    apply: Callable[..., tuple[Any, Any]]


logger = logging.getLogger(__name__)


class ScanState(NamedTuple):
    """WAX-ML's carry of an unroll's scan: the function's state and the rng still to split."""

    fun_state: Any
    rng: Any


def iter_first_axis(xs: Any, pbar: bool = False) -> Any:
    """WAX-ML's ``iter_first_axis``: the pytrees ``xs[t]`` for ``t`` along the leading axis (``pbar``: a tqdm bar)."""
    steps: Any = range(len(jax.tree_util.tree_leaves(xs)[0]))
    if pbar:
        from tqdm.auto import tqdm  # noqa: PLC0415

        steps = tqdm(steps, desc="iter_first_axis (static_unroll)")
    for t in steps:
        yield jax.tree_util.tree_map(lambda x: x[t], xs)


def static_scan(scan_f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any = None, length: int | None = None,
                pbar: bool = False) -> tuple[Any, Any]:
    """WAX-ML's ``static_scan``: :func:`jax.lax.scan`'s contract as a Python loop (``xs=None``: ``length`` steps
    fed ``None``); returns the last carry and the stacked outputs (:func:`python_scan`)."""
    if xs is None:
        if length is None:
            raise ValueError("static_scan: give xs or length")
        carry, outputs = init, []
        for _ in range(length):
            carry, out = scan_f(carry, None)
            outputs.append(out)
        return carry, stack_steps(outputs)
    return python_scan(scan_f, init, xs, pbar=pbar, desc="static_scan")


def _as_transformed(fun: Any) -> hk.TransformedWithState:
    if isinstance(fun, (hk.TransformedWithState, hk.Transformed)):
        return as_with_state(fun)
    if callable(fun):
        return transform_stream_fn(fun)
    raise TypeError(f"expected a callable or a Haiku transformed function, got {type(fun).__name__}")


def unroll_transform_with_state(fun: Any, skip_first: bool = False, dynamic: bool = True,
                                pbar: bool = False) -> UnrollTransformedWithState:
    """WAX-ML's ``unroll_transform_with_state``: ``fun`` (a function using Haiku modules, or a transformed pair)
    as an :class:`UnrollTransformedWithState` unrolled over the leading axis of its arguments.

    Parameters
    ----------
    fun
        Callable (transformed with ``hk.transform_with_state``), ``hk.TransformedWithState`` /
        ``hk.Transformed``, or an :class:`UnrollTransformedWithState` (returned as is).
    skip_first
        ``apply`` skips the first step (``init`` still sees it), as WAX-ML.
    dynamic
        ``True``: one ``jax.lax.scan``; ``False``: a Python loop over the steps (``pbar`` shows a tqdm bar).
    pbar
        Progress bar for ``dynamic=False``.

    Notes
    -----
    As WAX-ML, ``apply`` splits ``rng`` at every step (``rng, sub = split(rng)``) and hands ``sub`` to the step,
    so stochastic modules draw WAX-ML's numbers; :func:`dynamic_unroll` instead folds the step index into ``rng``.
    """
    if isinstance(fun, UnrollTransformedWithState):
        return fun
    t = _as_transformed(fun)

    def init_fn(rng: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        args0, kwargs0 = first_values((args, kwargs))
        return t.init(rng, *args0, **kwargs0)

    def step(carry: tuple[Any, Any], inputs: tuple, params: Any) -> tuple[tuple[Any, Any], Any]:
        state, rng = carry
        sub = None
        if rng is not None:
            rng, sub = jax.random.split(rng)
        step_args, step_kwargs = inputs
        out, state = t.apply(params, state, sub, *step_args, **step_kwargs)
        return (state, rng), out

    def apply_fn(params: Any, state: Any, rng: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        xs = (args, kwargs)
        first_values(xs)  # clear errors for empty or ragged sequences
        if skip_first:
            xs = jax.tree_util.tree_map(lambda x: x[1:], xs)
        scan = jax.lax.scan if dynamic else partial(python_scan, pbar=pbar)
        (state, _), outputs = scan(partial(step, params=params), (state, rng), xs)
        return outputs, state

    return UnrollTransformedWithState(init_fn, apply_fn)


def unroll(fun: Any, skip_first: bool = False, dynamic: bool = True, pbar: bool = False,
           return_final_state: bool = False, rng: Any = None, params: Any = None, state: Any = None
           ) -> Callable[..., Any]:
    """WAX-ML's ``unroll``: a function of whole sequences that initialises ``fun`` on their first step and runs it
    over all of them (WAX-ML 0.7 notebooks write step 2 as ``jax.jit(unroll(f))(xs)``).

    ``params`` / ``state`` replace the initialised ones when given; ``return_final_state=True`` returns
    ``(outputs, final_state)``. See :func:`unroll_transform_with_state` for the other options.

    Called directly, run it inside :func:`waxegg.wax._x64.x64_context` (or with ``jax_enable_x64``) for float64;
    under an outer ``jax.jit`` arrays the function closes over become constants of the program, as with any jitted
    JAX function; :func:`dynamic_unroll` hoists them to arguments.
    """
    t = unroll_transform_with_state(fun, skip_first=skip_first, dynamic=dynamic, pbar=pbar)

    def apply_fn(*args: Any, **kwargs: Any) -> Any:
        init_params, init_state = t.init(rng, *args, **kwargs)
        outputs, final_state = t.apply(init_params if params is None else params,
                                       init_state if state is None else state, rng, *args, **kwargs)
        return (outputs, final_state) if return_final_state else outputs

    return apply_fn


def dynamic_unroll_fori_loop(fun: Any, params: Any, state: Any, rng: Any, skip_first: bool = False,
                             *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """WAX-ML's ``dynamic_unroll_fori_loop``: the unroll as a ``jax.lax.fori_loop`` writing each step's outputs
    into preallocated sequences; returns ``(outputs, final_state)``.

    ``params`` / ``state`` ``None`` take the initialised ones. As WAX-ML, every step receives the same ``rng``.
    """
    t = _as_transformed(fun)
    init_params, init_state = unroll_transform_with_state(t).init(rng, *args, **kwargs)
    params = init_params if params is None else params
    state = init_state if state is None else state
    xs = jax.tree_util.tree_map(jax.numpy.asarray, (args, kwargs))  # indexed by the loop's traced counter
    if skip_first:
        xs = jax.tree_util.tree_map(lambda x: x[1:], xs)
    args0, kwargs0 = first_values(xs)
    template = jax.eval_shape(lambda p, s, a, k: t.apply(p, s, rng, *a, **k)[0], params, state, args0, kwargs0)
    T = jax.tree_util.tree_leaves(xs)[0].shape[0]
    outputs = jax.tree_util.tree_map(lambda o: jax.numpy.zeros((T, *o.shape), o.dtype), template)

    def body(i: Any, carry: tuple[Any, Any]) -> tuple[Any, Any]:
        state, outputs = carry
        step_args, step_kwargs = jax.tree_util.tree_map(lambda x: x[i], xs)
        out, state = t.apply(params, state, rng, *step_args, **step_kwargs)
        return state, jax.tree_util.tree_map(lambda seq, o: seq.at[i].set(o), outputs, out)

    state, outputs = jax.lax.fori_loop(0, T, body, (state, outputs))
    return outputs, state


def data_unroll(data_gen: Any, pbar: bool = True) -> Any:
    """WAX-ML's ``data_unroll``: the observations of a generator of ``(obs, info)`` stacked along a new leading axis."""
    if pbar:
        from tqdm.auto import tqdm  # noqa: PLC0415

        data_gen = tqdm(data_gen, desc="data_unroll")
    observations = [obs for obs, _info in data_gen]
    if not observations:
        raise ValueError("data_unroll: the generator yielded nothing")
    return stack_steps(observations)


def gym_static_unroll(gym_fun: Any, params: Any, state: Any, seq: Any, skip_first: bool, data_generator: Any,
                      pbar: bool = False) -> tuple[Any, Any]:
    """WAX-ML's ``gym_static_unroll``: run ``gym_fun`` (a transformed pair) over a generator of ``(obs, info)``,
    drawing a key from the iterator ``seq`` (e.g. ``hk.PRNGSequence``) for ``init`` and each step.

    The first observation initialises; ``skip_first=False`` also applies on it. Returns the stacked outputs and
    the final state.
    """
    t = _as_transformed(gym_fun)
    obs, _info = next(data_generator)
    init_params, init_state = t.init(next(seq), obs)
    params = init_params if params is None else params
    state = init_state if state is None else state
    outputs = []
    if not skip_first:
        out, state = t.apply(params, state, next(seq), obs)
        outputs.append(out)
    if pbar:
        from tqdm.auto import tqdm  # noqa: PLC0415

        data_generator = tqdm(data_generator, desc="gym_static_unroll")
    for obs, _info in data_generator:
        out, state = t.apply(params, state, next(seq), obs)
        outputs.append(out)
    if not outputs:
        raise ValueError("gym_static_unroll: no step to apply")
    return stack_steps(outputs), state
