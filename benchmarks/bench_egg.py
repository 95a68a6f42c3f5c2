"""egglog: the seed's LDA (and scikit-learn estimators beyond it) through trace / optimize / lower / codegen / compile.

The pipeline runs once per n_samples in ``setup_cache`` (its stage times come from
``waxegg.egg.StageTimes``, as in the sweep); the ``track_`` benchmarks report them with the e-graph
sizes and errors. ``LDARun`` times original / extracted / numba in steady state.
"""

from __future__ import annotations

from waxegg.bench.egg_workloads import (
    accelerate_estimator,
    accelerate_lda,
    egg_available,
    estimator_data,
    estimator_functions_from_source,
    lda_functions_from_source,
)
from waxegg.bench.grid import EGG_FUNCTIONS, EGG_STAGES, asv_estimator_samples
from waxegg.egg.workloads import ONE_PER_ESTIMATOR

from .common import LDA_SAMPLES, lda_data


# One configuration per estimator class (waxegg.egg.workloads.ESTIMATORS has the parameter variants too).
ESTIMATOR_NAMES = ONE_PER_ESTIMATOR


def _skip_without_egg():
    reason = egg_available()
    if reason:
        raise NotImplementedError(reason)


class LDAPipeline:
    """Seconds per pipeline stage (one real run each, Numba's disk cache off), e-graph sizes, errors."""

    params = (LDA_SAMPLES,)
    param_names = ["n_samples"]
    timeout = 1200

    def setup_cache(self):
        _skip_without_egg()
        out = {}
        for n in LDA_SAMPLES:
            acc = accelerate_lda(n, cache=False)
            out[n] = {**acc.times.as_dict(), "egraph_nodes": acc.egraph_nodes, "egraph_classes": acc.egraph_classes,
                      "max_abs_error": acc.max_abs_error, "max_abs_error_extracted": acc.max_abs_error_extracted}
        return out

    def track_egraph_nodes(self, cache, n_samples):
        return cache[n_samples]["egraph_nodes"]

    def track_egraph_classes(self, cache, n_samples):
        return cache[n_samples]["egraph_classes"]

    def track_max_abs_err_numba_vs_original(self, cache, n_samples):
        return cache[n_samples]["max_abs_error"]

    def track_max_abs_err_extracted_vs_original(self, cache, n_samples):
        return cache[n_samples]["max_abs_error_extracted"]

    track_egraph_nodes.unit = "nodes"
    track_egraph_classes.unit = "classes"
    track_max_abs_err_numba_vs_original.unit = "abs error"
    track_max_abs_err_extracted_vs_original.unit = "abs error"


def _stage_tracker(stage):
    # the cache is keyed by the benchmark's parameters: n_samples alone, or (n_samples, estimator)
    def track(self, cache, *params):
        return cache[params[0] if len(params) == 1 else params][stage]

    track.unit = "seconds"
    track.__name__ = f"track_{stage}"
    return track


for _stage in EGG_STAGES:
    setattr(LDAPipeline, f"track_{_stage}", _stage_tracker(_stage))


class LDARun:
    """Steady-state original (scikit-learn) / extracted (generated NumPy) / numba, as in the tutorial.

    ``setup_cache`` runs the pipeline once per size (filling Numba's disk cache) and hands the
    generated source to the benchmark processes, which rebuild the functions without re-tracing.
    """

    params = (LDA_SAMPLES, list(EGG_FUNCTIONS))
    param_names = ["n_samples", "function"]
    timeout = 1200
    repeat = (3, 10, 10.0)
    rounds = 1

    def setup_cache(self):
        _skip_without_egg()
        out = {}
        for n in LDA_SAMPLES:
            acc = accelerate_lda(n, cache=True)
            out[n] = (acc.source, acc.extracted.__name__)
        return out

    def setup(self, cache, n_samples, function):
        source, name = cache[n_samples]
        self.X, self.y = lda_data(n_samples)
        self.fn = lda_functions_from_source(source, name, n_samples)[function]
        self.fn(self.X, self.y)

    def time_run(self, cache, n_samples, function):
        self.fn(self.X, self.y)

    def peakmem_run(self, cache, n_samples, function):
        self.fn(self.X, self.y)


class EstimatorRun:
    """scikit-learn estimators beyond LDA (``waxegg.egg.workloads.ESTIMATORS``): original / extracted / numba.

    One configuration per estimator class; ``setup_cache`` accelerates each once per size (filling Numba's disk
    cache) and hands the generated sources to the benchmark processes.
    """

    params = (asv_estimator_samples(), list(ESTIMATOR_NAMES), list(EGG_FUNCTIONS))
    param_names = ["n_samples", "estimator", "function"]
    timeout = 1800
    repeat = (3, 10, 10.0)
    rounds = 1

    def setup_cache(self):
        _skip_without_egg()
        out = {}
        for n in asv_estimator_samples():
            for name in ESTIMATOR_NAMES:
                acc = accelerate_estimator(name, n, cache=True)
                out[(n, name)] = (acc.source, acc.extracted.__name__)
        return out

    def setup(self, cache, n_samples, estimator, function):
        source, name = cache[(n_samples, estimator)]
        self.arrays = estimator_data(estimator, n_samples)
        self.fn = estimator_functions_from_source(source, name, estimator, n_samples)[function]
        self.fn(*self.arrays)

    def time_run(self, cache, n_samples, estimator, function):
        self.fn(*self.arrays)


class EstimatorPipeline:
    """Per scikit-learn estimator: seconds per pipeline stage (one real run each, Numba's disk cache off), e-graph
    sizes and the error against scikit-learn on NumPy, as ``LDAPipeline`` for the LDA."""

    params = (asv_estimator_samples(), list(ESTIMATOR_NAMES))
    param_names = ["n_samples", "estimator"]
    timeout = 1800

    def setup_cache(self):
        import numpy as np

        from waxegg.egg import workloads

        _skip_without_egg()
        out = {}
        for n in asv_estimator_samples():
            for name in ESTIMATOR_NAMES:
                acc = accelerate_estimator(name, n, cache=False)
                arrays = estimator_data(name, n)
                reference = workloads.estimator(name).reference(*arrays)
                out[(n, name)] = {**acc.times.as_dict(), "egraph_nodes": acc.egraph_nodes,
                                  "egraph_classes": acc.egraph_classes,
                                  "max_abs_error": float(np.max(np.abs(np.asarray(acc.numba(*arrays)) - reference)))}
        return out

    def track_egraph_nodes(self, cache, n_samples, estimator):
        return cache[(n_samples, estimator)]["egraph_nodes"]

    def track_egraph_classes(self, cache, n_samples, estimator):
        return cache[(n_samples, estimator)]["egraph_classes"]

    def track_max_abs_err_numba_vs_sklearn(self, cache, n_samples, estimator):
        return cache[(n_samples, estimator)]["max_abs_error"]

    track_egraph_nodes.unit = "nodes"
    track_egraph_classes.unit = "classes"
    track_max_abs_err_numba_vs_sklearn.unit = "abs error"


for _stage in EGG_STAGES:
    setattr(EstimatorPipeline, f"track_{_stage}", _stage_tracker(_stage))
