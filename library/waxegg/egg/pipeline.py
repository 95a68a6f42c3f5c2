"""All five stages in one call: :func:`accelerate` returns an :class:`Accelerated` holding every intermediate."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np

from waxegg.egg import _compat
from waxegg.egg.codegen import codegen, load_source
from waxegg.egg.compile import compile_numba
from waxegg.egg.errors import VerificationError
from waxegg.egg.lower import lower
from waxegg.egg.optimize import optimize
from waxegg.egg.render import egraph_dot, write_egraph_svg
from waxegg.egg.reuse import lookup_program, program_key, record_program
from waxegg.egg.rewrites import resolve_rewrites
from waxegg.egg.trace import ArgSpec, arg_specs, trace

__all__ = ["Accelerated", "StageTimes", "accelerate", "max_abs_error"]


@dataclass(frozen=True)
class StageTimes:
    """Wall-clock seconds per stage, each measured on its own.

    ``compile`` is the first call of the Numba function (compilation, or a load from Numba's disk cache,
    plus one run on the example arrays); steady-state timing is left to the caller.
    """

    trace: float
    optimize: float
    lower: float
    codegen: float
    compile: float

    def as_dict(self) -> dict[str, float]:
        """``{stage: seconds}`` in pipeline order."""
        return asdict(self)


@dataclass
class Accelerated:
    """Everything :func:`accelerate` produced.

    Attributes
    ----------
    original
        The callable as given.
    extracted
        The generated plain-NumPy function (``inspect.getsource`` works on it).
    numba
        ``numba.njit(extracted)``, already compiled for the example arrays' types, behind a check of the input
        dtypes (:class:`DtypeGuard`; its ``dispatcher`` is the Numba dispatcher itself).
    traced, optimized, lowered
        The ``NDArray`` expression after each egglog stage.
    source
        The generated module's source; ``source_path`` is the file it was imported from.
    specs
        The assumptions made about each input (dtype, shape, finite, value set).
    times
        Seconds per stage (:class:`StageTimes`).
    egraph_nodes, egraph_classes, iterations
        Size of the saturated optimisation e-graph and the rule iterations it took.
    lowered_nodes, lowered_classes, lowered_iterations
        The same for the Numba-lowering e-graph.
    max_abs_error, max_abs_error_extracted
        ``max |numba - original|`` and ``max |extracted - original|`` on the example arrays (NaN when
        ``verify=False``).
    numba_cache_hit
        Whether the compile stage loaded machine code from Numba's disk cache.
    rewrites
        The waxegg rewrites applied (:data:`waxegg.egg.rewrites.ALL_REWRITES` order); ``()`` is egglog alone.
    reused
        Whether the generated program came from an earlier run (``accelerate(..., reuse=True)``): then the egglog
        stages did not run, their times are 0, ``traced``/``optimized``/``lowered`` are ``None``, the e-graph
        sizes are the recorded ones and :meth:`egraph_dot` is unavailable.
    """

    original: Callable[..., Any] = field(repr=False)
    extracted: Callable[..., Any] = field(repr=False)
    numba: Callable[..., Any] = field(repr=False)
    traced: Any = field(repr=False)
    optimized: Any = field(repr=False)
    lowered: Any = field(repr=False)
    source: str = field(repr=False)
    source_path: Path
    specs: tuple[ArgSpec, ...]
    times: StageTimes
    egraph_nodes: int
    egraph_classes: int
    iterations: int
    lowered_nodes: int
    lowered_classes: int
    lowered_iterations: int
    max_abs_error: float
    max_abs_error_extracted: float
    numba_cache_hit: bool
    rewrites: tuple[str, ...] = ()
    reused: bool = False
    _egraphs: dict[str, Any] = field(repr=False, default_factory=dict)

    def egraph_dot(self, *, stage: str = "optimize", **dot_options: Any) -> str:
        """DOT text of the ``"optimize"`` or ``"lower"`` e-graph (options as :func:`waxegg.egg.render.egraph_dot`)."""
        return egraph_dot(self._egraph(stage), **dot_options)

    def write_egraph_svg(self, path: str | Path, *, stage: str = "optimize", **dot_options: Any) -> Path:
        """Render the ``"optimize"`` (default) or ``"lower"`` e-graph to an SVG file and return its path.

        Raises ``RuntimeError`` when no Graphviz renderer works (never silently writes nothing).
        """
        return write_egraph_svg(self._egraph(stage), path, **dot_options)

    def _egraph(self, stage: str) -> Any:
        if stage not in self._egraphs:
            msg = f"stage must be one of {sorted(self._egraphs)}, got {stage!r}"
            raise ValueError(msg)
        return self._egraphs[stage]

    def summary(self) -> dict[str, Any]:
        """Flat numbers for a results table: per-stage seconds, e-graph sizes, errors, versions."""
        import numba  # noqa: PLC0415
        import sklearn  # noqa: PLC0415

        return {
            **{f"{k}_s": v for k, v in self.times.as_dict().items()},
            "egraph_nodes": self.egraph_nodes,
            "egraph_classes": self.egraph_classes,
            "iterations": self.iterations,
            "lowered_nodes": self.lowered_nodes,
            "lowered_classes": self.lowered_classes,
            "lowered_iterations": self.lowered_iterations,
            "max_abs_error": self.max_abs_error,
            "max_abs_error_extracted": self.max_abs_error_extracted,
            "numba_cache_hit": self.numba_cache_hit,
            "rewrites": ",".join(self.rewrites) or "none",
            "reused": self.reused,
            "egglog": _compat.EGGLOG_VERSION,
            "sklearn": sklearn.__version__,
            "numba": numba.__version__,
            "numpy": np.__version__,
        }


class DtypeGuard:
    """The Numba dispatcher, behind a check that each input has the dtype the program was generated for.

    Numba types the whole program before running its first line, so a float32 ``X`` given to a float64 program
    fails deep in type inference (``'@' arguments must all have the same dtype``) or compiles a float32 version
    that the program's own ``assert X.dtype == ...`` then stops: neither names the assumption. This check does,
    with the message the generated assertions use. Every other attribute is the dispatcher's.
    """

    def __init__(self, dispatcher: Any, specs: Sequence[ArgSpec]) -> None:
        self.dispatcher = dispatcher
        self._dtypes = tuple((s.name, np.dtype(s.dtype)) for s in specs)
        self.__name__ = getattr(dispatcher, "__name__", "numba_program")
        self.__doc__ = getattr(dispatcher, "__doc__", None)

    def __call__(self, *arrays: Any) -> Any:
        for (name, dtype), x in zip(self._dtypes, arrays, strict=False):
            got = getattr(x, "dtype", None)
            if got != dtype:
                msg = (
                    f"waxegg.egg: the input breaks the assumption {name}.dtype == np.dtype(np.{dtype.name}) "
                    f"this program was generated for (got {got})"
                )
                raise AssertionError(msg)
        return self.dispatcher(*arrays)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["dispatcher"], name)


def max_abs_error(result: Any, reference: Any) -> float:
    """``max |result - reference|`` (inf when the shapes differ)."""
    result, reference = np.asarray(result), np.asarray(reference)
    if result.shape != reference.shape:
        return float("inf")
    if result.size == 0:
        return 0.0
    return float(np.max(np.abs(result.astype(np.float64) - reference.astype(np.float64))))


def _import_stage_modules() -> None:
    """Import what the stages import lazily, so first-import time (~2 s for sklearn) is not billed to a stage."""
    import egglog.exp.array_api_numba  # noqa: F401, PLC0415
    import egglog.exp.array_api_program_gen  # noqa: F401, PLC0415
    import numba  # noqa: F401, PLC0415

    from waxegg.egg.trace import check_scipy_array_api  # noqa: PLC0415

    check_scipy_array_api()  # before sklearn imports SciPy
    import sklearn.discriminant_analysis  # noqa: F401, PLC0415


def _describe(specs: Sequence[ArgSpec]) -> str:
    parts = []
    for s in specs:
        extra = (", finite" if s.isfinite else "") + (f", values {s.values}" if s.values is not None else "")
        parts.append(f"{s.name}: {s.dtype}{list(s.shape)}{extra}")
    return "; ".join(parts)


def _check(label: str, fn_name: str, result: Any, reference: Any, rtol: float, atol: float) -> float:
    err = max_abs_error(result, reference)
    shapes_match = np.shape(result) == np.shape(reference)
    if not shapes_match or not np.allclose(result, reference, rtol=rtol, atol=atol):
        msg = (
            f"{label} version of {fn_name} does not match the original on the example arrays: "
            f"shape {np.shape(result)} vs {np.shape(reference)}, max abs error {err:.3g} (rtol={rtol}, atol={atol})"
        )
        raise VerificationError(msg)
    return err


def accelerate(
    fn: Callable[..., Any],
    *example_arrays: np.ndarray,
    names: Sequence[str] | None = None,
    isfinite: Mapping[str, bool] | None = None,
    value_sets: Mapping[str, Sequence[int | float] | None] | None = None,
    verify: bool = True,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    cache: bool = True,
    cache_dir: Path | None = None,
    rewrites: str | Iterable[str] | None = "all",
    reuse: bool = False,
) -> Accelerated:
    """Trace, optimise, lower, generate and Numba-compile ``fn`` for arrays like ``example_arrays``.

    Parameters
    ----------
    fn
        Callable taking the arrays and returning one array: scikit-learn code (array API dispatch is
        enabled during tracing) or code written against ``x.__array_namespace__()``.
    *example_arrays
        NumPy inputs. The generated code is specialised to (and asserts) their dtypes, shapes, finiteness and,
        for integer arrays with few distinct values, the value set.
    names, isfinite, value_sets
        Override the inferred input names and assumptions (see :func:`waxegg.egg.trace.arg_specs`).
    verify
        Run ``fn`` on the example arrays and raise :class:`VerificationError` unless both generated
        functions are ``allclose`` to it.
    rtol, atol
        Tolerances for that check.
    cache
        Let Numba cache machine code on disk next to the generated module.
    cache_dir
        Where generated modules go (default ``$WAXEGG_CACHE_DIR`` or ``~/.cache/waxegg/egg``).
    rewrites
        waxegg's rewrites to apply on top of egglog's rules, by name (see :mod:`waxegg.egg.rewrites`):
        ``"all"`` (default), ``"none"`` (egglog's own rules and code generator only), or a subset such as
        ``("svd_without_u", "share_masked")`` for an ablation. The ``fuse_*`` rewrites (:mod:`waxegg.egg.fuse`)
        replace chains of NumPy statements by fused kernels that run as parallel loop nests under Numba.
    reuse
        Look the program up by (``fn``'s module, name and source, the assumptions, the rewrites, the library
        versions) in ``cache_dir`` and, when an earlier run generated it, skip tracing and the egglog stages: only
        the module import and Numba's disk-cache load remain (``Accelerated.reused``). Off by default so that
        stage timings always measure the stages.

    Returns
    -------
    Accelerated

    Raises
    ------
    NotTraceable
        ``fn`` needs an array-API piece egglog lacks (named in the message).
    VerificationError
        The generated code disagrees with ``fn``.
    """
    enabled = resolve_rewrites(rewrites)
    if reuse:
        start = perf_counter()
        specs = arg_specs(fn, example_arrays, names=names, isfinite=isfinite, value_sets=value_sets)
        key = program_key(fn, specs, enabled)
        record = lookup_program(key, directory=cache_dir)
        if record is not None:
            lookup_s = perf_counter() - start
            return _from_record(record, fn, example_arrays, specs, enabled, lookup_s, verify, rtol, atol, cache)
    _import_stage_modules()
    times: dict[str, float] = {}

    start = perf_counter()
    traced = trace(fn, *example_arrays, names=names, isfinite=isfinite, value_sets=value_sets)
    times["trace"] = perf_counter() - start

    optimized = optimize(traced.expr)
    times["optimize"] = optimized.seconds  # saturate + extract; counting the e-graph's size is not included

    lowered = lower(optimized.expr, rewrites=enabled)
    times["lower"] = lowered.seconds

    start = perf_counter()
    generated = codegen(
        lowered.expr,
        traced.inputs,
        fn_name=traced.fn_name,
        assumptions=_describe(traced.specs),
        directory=cache_dir,
        rewrites=enabled,
    )
    times["codegen"] = perf_counter() - start

    compiled = compile_numba(generated.fn, *example_arrays, cache=cache)
    times["compile"] = compiled.first_call_seconds

    err = err_extracted = float("nan")
    if verify:
        reference = fn(*example_arrays)
        err_extracted = _check("extracted NumPy", traced.fn_name, generated.fn(*example_arrays), reference, rtol, atol)
        err = _check("Numba", traced.fn_name, compiled.result, reference, rtol, atol)

    if reuse:
        record_program(
            key,
            {
                "source_path": str(generated.path),
                "name": generated.name,
                "egraph": [optimized.n_nodes, optimized.n_classes, optimized.iterations],
                "lowered": [lowered.n_nodes, lowered.n_classes, lowered.iterations],
            },
            directory=cache_dir,
        )
    return Accelerated(
        original=fn,
        extracted=generated.fn,
        numba=DtypeGuard(compiled.fn, traced.specs),
        traced=traced.expr,
        optimized=optimized.expr,
        lowered=lowered.expr,
        source=generated.source,
        source_path=generated.path,
        specs=traced.specs,
        times=StageTimes(**times),
        egraph_nodes=optimized.n_nodes,
        egraph_classes=optimized.n_classes,
        iterations=optimized.iterations,
        lowered_nodes=lowered.n_nodes,
        lowered_classes=lowered.n_classes,
        lowered_iterations=lowered.iterations,
        max_abs_error=err,
        max_abs_error_extracted=err_extracted,
        numba_cache_hit=compiled.cache_hit,
        rewrites=enabled,
        _egraphs={"optimize": optimized.egraph, "lower": lowered.egraph},
    )


def _from_record(
    record: dict[str, Any],
    fn: Callable[..., Any],
    example_arrays: Sequence[np.ndarray],
    specs: tuple[ArgSpec, ...],
    enabled: tuple[str, ...],
    lookup_s: float,
    verify: bool,
    rtol: float,
    atol: float,
    cache: bool,
) -> Accelerated:
    """The reuse path of :func:`accelerate`: import the recorded program and load Numba's cached machine code."""
    start = perf_counter()
    path = Path(record["source_path"])
    extracted, _ = load_source(path.read_text(), record["name"], directory=path.parent)
    codegen_s = perf_counter() - start
    compiled = compile_numba(extracted, *example_arrays, cache=cache)
    fn_name = getattr(fn, "__qualname__", None) or type(fn).__name__
    err = err_extracted = float("nan")
    if verify:
        reference = fn(*example_arrays)
        err_extracted = _check("extracted NumPy", fn_name, extracted(*example_arrays), reference, rtol, atol)
        err = _check("Numba", fn_name, compiled.result, reference, rtol, atol)
    nodes, classes, iterations = record["egraph"]
    lowered_nodes, lowered_classes, lowered_iterations = record["lowered"]
    return Accelerated(
        original=fn,
        extracted=extracted,
        numba=DtypeGuard(compiled.fn, specs),
        traced=None,
        optimized=None,
        lowered=None,
        source=path.read_text(),
        source_path=path,
        specs=specs,
        times=StageTimes(trace=lookup_s, optimize=0.0, lower=0.0, codegen=codegen_s, compile=compiled.first_call_seconds),
        egraph_nodes=nodes,
        egraph_classes=classes,
        iterations=iterations,
        lowered_nodes=lowered_nodes,
        lowered_classes=lowered_classes,
        lowered_iterations=lowered_iterations,
        max_abs_error=err,
        max_abs_error_extracted=err_extracted,
        numba_cache_hit=compiled.cache_hit,
        rewrites=enabled,
        reused=True,
    )
