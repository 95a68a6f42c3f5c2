"""Artefacts measured beside the sweep: line profiles, the generated program, the e-graph picture.

They need live objects (the accelerated LDA, a warm WAX path), so ``waxegg repro`` writes them while
measuring; ``--from-results`` reuses the files. Absolute paths are rewritten to package-relative ones
so that the text does not depend on where the package is installed.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any, Callable

from waxegg.bench.timers import block

#: Files under ``<out>/artifacts/``.
LPROF_WAX = "lprof_wax.txt"
LPROF_EGG = "lprof_egg.txt"
#: The same profile of the program egglog's own rules generate (no waxegg rewrites): the "before".
LPROF_EGG_BEFORE = "lprof_egg_egglog_only.txt"
EGG_SOURCE = "lda_generated.py"
EGRAPH_SVG = "egraph_optimize.svg"


def _relative_paths(text: str, extra: dict[str, str] | None = None) -> str:
    for old, new in (extra or {}).items():
        text = text.replace(old, new)
    # .../site-packages/waxegg/x.py or .../library/waxegg/x.py -> waxegg/x.py
    return re.sub(r"(?<=File: )\S*?/(waxegg/\S+\.py)", r"\1", text)


def line_profile(call: Callable[[], Any], functions: list[Callable[..., Any]], *, title: str,
                 extra_paths: dict[str, str] | None = None) -> str:
    """line_profiler text (milliseconds) of one ``call()`` over ``functions``, as ``%lprun -f`` prints it."""
    from line_profiler import LineProfiler

    profiler = LineProfiler()
    for fn in functions:
        profiler.add_function(fn)
    profiler.enable_by_count()
    try:
        block(call())
    finally:
        profiler.disable_by_count()
    buffer = io.StringIO()
    profiler.print_stats(stream=buffer, output_unit=1e-3, stripzeros=True)
    return f"# {title}\n\n" + _relative_paths(buffer.getvalue(), extra_paths)


def wax_line_profile(T: int, N: int, dtype: str = "float64") -> str:
    """Line profiles of the WAX end-to-end paths at ``T x N``: the accessor (default backend) and the 3-step workflow.

    The accessor is called once unprofiled first so its profile shows steady state, not compilation.
    """
    from waxegg.bench.workloads import WaxSeedWorkflow, make_frame
    from waxegg.wax import accessors, adapters
    from waxegg.wax.backends import DEFAULT_BACKEND, get_backend

    accessors.register_wax_accessors()
    df = make_frame(T, N, dtype)
    ewm = lambda: df.wax.ewm(alpha=0.1, dtype=dtype).mean()  # noqa: E731
    block(ewm())
    backend = type(get_backend(DEFAULT_BACKEND))
    text = line_profile(
        ewm,
        [accessors.ExponentialMovingWindow.mean, accessors._Window._apply, adapters.adapt, adapters.frame_values,
         adapters.TimeFirst.wrap, backend.ewm_mean],
        title=f"df.wax.ewm(alpha=0.1, dtype={dtype!r}).mean()  [backend {DEFAULT_BACKEND!r}, T={T:,} N={N:,} {dtype}]",
    )
    # No warm-up here: the seed's transform is defined in its encode step (capturing the data), so
    # every run compiles again; the profile shows where that time goes.
    workflow = WaxSeedWorkflow(df)
    text += "\n\n" + line_profile(
        workflow.run,
        [WaxSeedWorkflow.run, WaxSeedWorkflow.encode, WaxSeedWorkflow.compute, WaxSeedWorkflow.format],
        title=f"the seed's 3-step workflow (WaxSeedWorkflow.run; compiles on every run)  [T={T:,} N={N:,} {dtype}]",
    )
    make_frame.cache_clear()
    return text


def egg_line_profile(accelerated: Any, *arrays: Any) -> str:
    """The seed's ``%lprun -f fn fn(X, y)`` on a generated plain-NumPy program (the LDA's, an estimator's)."""
    fn = accelerated.extracted
    fn(*arrays)
    folder = str(Path(accelerated.source_path).parent)
    rewrites = ",".join(accelerated.rewrites) or "none (egglog's rules only)"
    X = arrays[0]
    return line_profile(lambda: fn(*arrays), [fn],
                        title=f"generated program {Path(accelerated.source_path).name}  [X {X.shape} {X.dtype}]  "
                              f"rewrites: {rewrites}",
                        extra_paths={folder + "/": "<egg cache>/"})


def estimator_profile_name(workload: str) -> str:
    """The artefact file of an estimator workload's line profile: ``Ridge(alpha=1.0, ...)`` -> ``lprof_egg_Ridge_....txt``."""
    return "lprof_egg_" + re.sub(r"\W+", "_", workload).strip("_") + ".txt"


def estimator_line_profile(workload: str, accelerated: Any, arrays: tuple) -> str:
    """Line profiles of an estimator's generated NumPy program and of the scikit-learn call it was traced from.

    The second says where the original's time goes (LAPACK, passes over X), which is what the generated program
    can or cannot save.
    """
    text = egg_line_profile(accelerated, *arrays)
    original = accelerated.original
    block(original(*arrays))
    return text + "\n\n" + _sklearn_profile(workload, original, arrays)


def _sklearn_profile(workload: str, original: Callable[..., Any], arrays: tuple) -> str:
    """line_profiler over the estimator's own ``fit`` and the method called after it (scikit-learn's source)."""
    from waxegg.egg import workloads

    w = workloads.estimator(workload)
    functions = [getattr(w.estimator, "fit"), getattr(w.estimator, w.method)]
    functions = [getattr(f, "__wrapped__", f) for f in functions]
    X = arrays[0]
    return line_profile(lambda: original(*arrays), functions,
                        title=f"scikit-learn {workload}.fit(...).{w.method}(X), array API dispatch on NumPy  "
                              f"[X {X.shape} {X.dtype}]",
                        extra_paths=_sklearn_paths())


def _sklearn_paths() -> dict[str, str]:
    import sklearn

    return {str(Path(sklearn.__file__).parent.parent) + "/": ""}


def egg_line_profile_before(X: Any, y: Any) -> str:
    """:func:`egg_line_profile` of the program generated without waxegg's rewrites (egglog's rules only)."""
    from waxegg.egg import accelerate
    from waxegg.egg.workloads import lda_fit_transform

    return egg_line_profile(accelerate(lda_fit_transform, X, y, names=("X", "y"), rewrites="none"), X, y)


def write_artifacts(out: str | Path, *, wax_size: tuple[int, int] | None, wax_dtype: str = "float64",
                    accelerated: Any = None, egg_data: tuple[Any, Any] | None = None,
                    estimators: dict[str, tuple[Any, tuple]] | None = None,
                    progress: Callable[[str], None] = print, clock: Any = None) -> dict[str, str]:
    """Write whichever artefacts can be made into ``<out>/artifacts/``; returns ``{name: status}``.

    ``estimators``: per estimator workload, its ``(Accelerated, arrays)``, line-profiled into
    :func:`estimator_profile_name` files. ``clock`` (a :class:`waxegg.bench.timers.PhaseClock`) gets each
    artefact's seconds.
    """
    import contextlib

    folder = Path(out) / "artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    status: dict[str, str] = {}

    def attempt(name: str, make: Callable[[], None]) -> None:
        progress(f"artefact {name}")
        try:
            with clock(f"artefact {name}") if clock is not None else contextlib.nullcontext():
                make()
            status[name] = "ok"
        except Exception as exc:  # an artefact that cannot be made is reported on the page
            status[name] = f"{type(exc).__name__}: {exc}"[:300]

    if wax_size is not None:
        attempt(LPROF_WAX, lambda: (folder / LPROF_WAX).write_text(wax_line_profile(*wax_size, wax_dtype)))
    if accelerated is not None:
        attempt(EGG_SOURCE, lambda: (folder / EGG_SOURCE).write_text(accelerated.source))
        attempt(EGRAPH_SVG, lambda: accelerated.write_egraph_svg(folder / EGRAPH_SVG))
        if egg_data is not None:
            attempt(LPROF_EGG, lambda: (folder / LPROF_EGG).write_text(egg_line_profile(accelerated, *egg_data)))
            attempt(LPROF_EGG_BEFORE,
                    lambda: (folder / LPROF_EGG_BEFORE).write_text(egg_line_profile_before(*egg_data)))
    for workload, (acc, arrays) in (estimators or {}).items():
        name = estimator_profile_name(workload)
        attempt(name, lambda name=name, workload=workload, acc=acc, arrays=arrays:
                (folder / name).write_text(estimator_line_profile(workload, acc, arrays)))
    return status
