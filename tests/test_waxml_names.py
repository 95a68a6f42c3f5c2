"""Every public name of WAX-ML 0.7's Haiku-side stack resolves under waxegg.wax, with WAX-ML's positional order.

The lists are WAX-ML 0.7's (github eserie/wax-ml, ``src/wax``: the top-level modules, ``modules/``, ``optim/``;
the Flax port, ``gym/``, ``numba/`` and ``datasets/`` are outside the Haiku streaming stack), extracted from its
source: module-level functions, classes and constants not starting with ``_``. A WAX-ML path ``wax.X`` is
``waxegg.wax.X``.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

WAXML_NAMES = {
    "wax.accessors": ["DTypeLike", "StreamDataset", "StreamDataArray", "StreamDataFrame", "StreamSeries", "WaxAccessor", "ExponentialMovingWindow", "WaxDatasetAccessor", "WaxDataArrayAccessor", "WaxDataFrameAccessor", "WaxSeriesAccessor", "register_wax_accessors"],
    "wax.compile": ["jit_init_apply"],
    "wax.encode": ["DTypeLike", "encode_int64", "decode_int64", "encode_timestamp", "decode_timestamp", "encode_datetime", "decode_datetime", "encode_datetime64", "decode_datetime64", "Encoder", "DecodeDataset", "floor_datetime", "string_encoder", "datetime64_encoder", "less", "floor_jax_datekey", "encode_dataset", "decode_dataset"],
    "wax.format": ["DatasetCoordinates", "format_dataarray", "format_dataset", "format_dataframe", "format_series", "auto_format_with_shape", "tree_auto_format_with_shape"],
    "wax.modules": ["ApplyMask", "ARMA", "Buffer", "Counter", "Diff", "EWMA", "EWMCov", "EWMVar", "Ffill", "FillNanInf", "GymFeedback", "HasChanged", "Lag", "MaskMean", "MaskNormalize", "MaskStd", "OHLC", "OnlineOptimizer", "OnlineSupervisedLearner", "PctChange", "RollingMean", "SNARIMAX", "UpdateOnEvent", "UpdateParams", "VMap"],
    "wax.modules.apply_mask": ["ApplyMask"],
    "wax.modules.arma": ["ARMA"],
    "wax.modules.buffer": ["BufferState", "BufferFun", "buffer_fn", "Buffer"],
    "wax.modules.counter": ["Counter"],
    "wax.modules.diff": ["Diff"],
    "wax.modules.ewma": ["EWMA"],
    "wax.modules.ewmcov": ["EWMCov"],
    "wax.modules.ewmvar": ["EWMVar"],
    "wax.modules.ffill": ["Ffill"],
    "wax.modules.fill_nan_inf": ["FillNanInf"],
    "wax.modules.func_optimizer": ["FuncOptimizer"],
    "wax.modules.gym_feedback": ["GymOutput", "GymInfo", "GymFeedback"],
    "wax.modules.has_changed": ["HasChanged"],
    "wax.modules.lag": ["Lag", "tree_lag"],
    "wax.modules.mask_mean": ["MaskMean"],
    "wax.modules.mask_normalize": ["MaskNormalize"],
    "wax.modules.mask_std": ["MaskStd"],
    "wax.modules.ohlc": ["OHLCData", "OHLC"],
    "wax.modules.online_optimizer": ["ParamsState", "OptInfo", "OnlineOptimizer"],
    "wax.modules.online_supervised_learner": ["ParamsState", "OnlineSupervisedLearnerInfo", "OnlineSupervisedLearner"],
    "wax.modules.optax_optimizer": ["OptaxOptimizer"],
    "wax.modules.pct_change": ["PctChange"],
    "wax.modules.rolling_mean": ["RollingMean"],
    "wax.modules.snarimax": ["SNARIMAX"],
    "wax.modules.update_on_event": ["set_params_or_state_dict", "set_state_from_dict", "UpdateOnEvent"],
    "wax.modules.update_params": ["UpdateParams", "get_init_params"],
    "wax.modules.vmap": ["VMap", "add_batch"],
    "wax.optim": ["newton"],
    "wax.optim.newton": ["newton", "ScaleByNewtonState", "sherman_morrison", "scale_by_newton"],
    "wax.predicate": ["pass_all_predicate"],
    "wax.stateful": ["vmap_lift_with_state", "unroll_lift_with_state"],
    "wax.stream": ["DTypeLike", "EncoderMapping", "DEFAULT_TYPES_ENCODERS", "DTYPE_INIT_VALUES", "timestamp_is_before_local", "StreamObservation", "DatasetSchema", "GeneratorState", "get_time_dataset", "get_dataset_index_from_stream_index", "get_dataset_time_coords", "split_dataset_from_time_dims", "get_dataset_index", "tree_buffer_transform", "deque_to_list", "unroll_stream", "dataset_to_numpy", "np_select_item", "access_data", "tree_access_data", "Stream"],
    "wax.testing": ["int32", "uint32", "assert_tree_all_close"],
    "wax.transform": ["TransformedBatch", "BatchState", "BatchParams", "transform_batch_with_state", "transform_batch_with_state_static"],
    "wax.unroll": ["logger", "UnrollTransformedWithState", "ScanState", "unroll_transform_with_state", "unroll", "init_params_state", "dynamic_unroll", "static_unroll", "iter_first_axis", "static_scan", "dynamic_unroll_fori_loop", "data_unroll", "gym_static_unroll"],
    "wax.utils": ["dict_map", "get_unique_dtype"],
}

#: WAX-ML's Stream methods (WAX-ML's accessor streams are Streams, so they have them too).
STREAM_METHODS = ["get_dataset_schema", "get_encoders", "prepare", "get_local_time", "trace_dataset", "merge",
                  "start_dataset_stream", "start_dataset_streams"]

#: WAX-ML's parameters (``module:function`` or ``module:Class.method``; ``self`` left out): its positional ones in
#: their order, then its keyword-only ones. Functions with WAX-ML's ``*args`` forms (dynamic_unroll, ...) are
#: tested by value elsewhere.
WAXML_SIGNATURES = {
    "wax.accessors:WaxDatasetAccessor.__init__": (["xarray_obj"], []),
    "wax.accessors:WaxDataArrayAccessor.__init__": (["xarray_obj"], []),
    "wax.accessors:WaxDataFrameAccessor.__init__": (["pandas_obj"], []),
    "wax.accessors:WaxSeriesAccessor.__init__": (["pandas_obj"], []),
    "wax.accessors:register_wax_accessors": ([], []),
    "wax.compile:jit_init_apply": (["fun"], []),
    "wax.encode:encode_int64": (["seed"], []),
    "wax.encode:decode_int64": (["code"], []),
    "wax.encode:encode_timestamp": (["date"], []),
    "wax.encode:decode_timestamp": (["code"], []),
    "wax.encode:encode_datetime": (["date"], []),
    "wax.encode:decode_datetime": (["code"], []),
    "wax.encode:encode_datetime64": (["date"], []),
    "wax.encode:decode_datetime64": (["code"], []),
    "wax.encode:floor_datetime": (["time", "freq"], []),
    "wax.encode:string_encoder": (["values"], []),
    "wax.encode:datetime64_encoder": (["values"], []),
    "wax.encode:less": (["t1", "t2"], []),
    "wax.encode:floor_jax_datekey": (["datekey"], []),
    "wax.encode:encode_dataset": (["encoders", "dataset"], []),
    "wax.encode:decode_dataset": (["encoders", "dataset"], []),
    "wax.format:format_dataarray": (["ref_coords", "data", "format_dims"], []),
    "wax.format:format_dataset": (["ref_coords", "data", "format_dims"], []),
    "wax.format:format_dataframe": (["ref_coords", "data", "format_dims", "index_nlevels"], []),
    "wax.format:format_series": (["ref_coords", "data", "format_dims"], []),
    "wax.format:auto_format_with_shape": (["dataset", "data", "output_format"], []),
    "wax.format:tree_auto_format_with_shape": (["dataset", "pytree", "output_format"], []),
    "wax.modules.apply_mask:ApplyMask.__init__": (["axis", "mask_value", "name"], []),
    "wax.modules.apply_mask:ApplyMask.__call__": (["mask", "input"], []),
    "wax.modules.arma:ARMA.__init__": (["alpha", "beta", "name"], []),
    "wax.modules.arma:ARMA.__call__": (["eps"], []),
    "wax.modules.buffer:buffer_fn": (["maxlen", "fill_value"], []),
    "wax.modules.buffer:Buffer.__init__": (["maxlen", "fill_value", "return_state", "name"], []),
    "wax.modules.buffer:Buffer.__call__": (["input"], []),
    "wax.modules.counter:Counter.__call__": ([], []),
    "wax.modules.diff:Diff.__init__": (["periods", "name"], []),
    "wax.modules.diff:Diff.__call__": (["x"], []),
    "wax.modules.ewma:EWMA.__init__": ([], ["com", "alpha", "min_periods", "adjust", "ignore_na", "initial_value", "return_info", "name"]),
    "wax.modules.ewma:EWMA.__call__": (["x"], []),
    "wax.modules.ewmcov:EWMCov.__init__": ([], ["com", "alpha", "min_periods", "adjust", "ignore_na", "initial_value", "assume_centered", "name"]),
    "wax.modules.ewmcov:EWMCov.__call__": (["x", "y"], []),
    "wax.modules.ewmvar:EWMVar.__init__": ([], ["com", "alpha", "adjust", "name"]),
    "wax.modules.ewmvar:EWMVar.__call__": (["x"], []),
    "wax.modules.ffill:Ffill.__init__": (["periods", "name"], []),
    "wax.modules.ffill:Ffill.__call__": (["x"], []),
    "wax.modules.fill_nan_inf:FillNanInf.__init__": (["fill_value", "name"], []),
    "wax.modules.fill_nan_inf:FillNanInf.__call__": (["input"], []),
    "wax.modules.func_optimizer:FuncOptimizer.__init__": (["func", "opt", "has_aux", "params_predicate", "grads_fill_nan_inf", "name"], []),
    "wax.modules.gym_feedback:GymFeedback.__init__": (["agent", "env", "return_obs", "return_action", "init_action", "name"], []),
    "wax.modules.gym_feedback:GymFeedback.__call__": (["raw_obs"], []),
    "wax.modules.has_changed:HasChanged.__call__": (["input"], []),
    "wax.modules.lag:Lag.__init__": (["lag", "fill_value", "return_state", "name"], []),
    "wax.modules.lag:Lag.__call__": (["x"], []),
    "wax.modules.lag:tree_lag": (["shift"], []),
    "wax.modules.mask_mean:MaskMean.__init__": (["axis", "name"], []),
    "wax.modules.mask_mean:MaskMean.__call__": (["mask", "input"], []),
    "wax.modules.mask_normalize:MaskNormalize.__init__": (["axis", "assume_centered", "name"], []),
    "wax.modules.mask_normalize:MaskNormalize.__call__": (["mask", "input"], []),
    "wax.modules.mask_std:MaskStd.__init__": (["axis", "assume_centered", "name"], []),
    "wax.modules.mask_std:MaskStd.__call__": (["mask", "input"], []),
    "wax.modules.ohlc:OHLC.__init__": (["name"], []),
    "wax.modules.ohlc:OHLC.__call__": (["input"], ["reset_on"]),
    "wax.modules.online_optimizer:OptInfo.__call__": (["loss", "model_info", "params"], []),
    "wax.modules.online_optimizer:OnlineOptimizer.__init__": (["model", "opt", "project_params", "regularize_loss", "params_predicate", "return_params", "name"], []),
    "wax.modules.online_supervised_learner:OnlineSupervisedLearner.__init__": (["model", "opt", "loss", "grads_fill_nan_inf", "name"], []),
    "wax.modules.online_supervised_learner:OnlineSupervisedLearner.__call__": (["x", "y"], []),
    "wax.modules.optax_optimizer:OptaxOptimizer.__init__": (["opt", "name"], []),
    "wax.modules.optax_optimizer:OptaxOptimizer.__call__": (["params", "grads"], []),
    "wax.modules.pct_change:PctChange.__init__": (["periods", "fill_method", "limit", "fillna_zero", "name"], []),
    "wax.modules.pct_change:PctChange.__call__": (["x"], []),
    "wax.modules.rolling_mean:RollingMean.__init__": (["horizon", "min_periods", "name"], []),
    "wax.modules.rolling_mean:RollingMean.__call__": (["x"], []),
    "wax.modules.snarimax:SNARIMAX.__init__": (["p", "d", "q", "m", "sp", "sd", "sq", "regressor", "name"], []),
    "wax.modules.snarimax:SNARIMAX.__call__": (["y", "X"], []),
    "wax.modules.update_on_event:set_params_or_state_dict": (["module_name", "submodules", "which", "state_dict"], []),
    "wax.modules.update_on_event:set_state_from_dict": (["self", "next_state_dict"], []),
    "wax.modules.update_on_event:UpdateOnEvent.__init__": (["module", "initial_output_value", "name"], []),
    "wax.modules.update_params:UpdateParams.__init__": (["func", "params_predicate", "name"], []),
    "wax.modules.vmap:VMap.__init__": (["fun", "name"], []),
    "wax.modules.vmap:add_batch": (["fun", "take_mean"], []),
    "wax.optim.newton:newton": (["learning_rate", "eps"], []),
    "wax.optim.newton:sherman_morrison": (["A_inv", "u", "v"], []),
    "wax.optim.newton:scale_by_newton": (["eps"], []),
    "wax.predicate:pass_all_predicate": (["m", "n", "p"], []),
    "wax.stateful:vmap_lift_with_state": (["fun", "split_rng", "init_rng"], []),
    "wax.stateful:unroll_lift_with_state": (["fn", "skip_first", "split_rng", "init_rng"], []),
    "wax.stream:timestamp_is_before_local": (["embed", "local_timestamp", "secondary_timestamp"], []),
    "wax.stream:get_time_dataset": (["dataset"], []),
    "wax.stream:get_dataset_index_from_stream_index": (["stream_index"], []),
    "wax.stream:get_dataset_time_coords": (["dataset"], []),
    "wax.stream:split_dataset_from_time_dims": (["dataset"], []),
    "wax.stream:get_dataset_index": (["dataset", "time_dataset_index"], []),
    "wax.stream:tree_buffer_transform": (["maxlen", "fill_value", "init_value"], []),
    "wax.stream:deque_to_list": (["buffer", "fill_value"], []),
    "wax.stream:unroll_stream": (["stream", "skip_first", "pbar"], []),
    "wax.stream:dataset_to_numpy": (["dataset"], []),
    "wax.stream:np_select_item": (["np_dataset", "i", "trace"], []),
    "wax.stream:access_data": (["step", "x", "idx"], []),
    "wax.stream:tree_access_data": (["data", "index", "step"], []),
    "wax.testing:assert_tree_all_close": (["x", "y", "check_treedef"], []),
    "wax.transform:transform_batch_with_state": (["fun", "skip_first"], []),
    "wax.transform:transform_batch_with_state_static": (["fun", "skip_first", "pbar"], []),
    "wax.unroll:unroll_transform_with_state": (["fun", "skip_first", "dynamic", "pbar"], []),
    "wax.unroll:unroll": (["fun", "skip_first", "dynamic", "pbar", "return_final_state", "rng", "params", "state"], []),
    "wax.unroll:iter_first_axis": (["xs", "pbar"], []),
    "wax.unroll:static_scan": (["scan_f", "init", "xs", "length", "pbar"], []),
    "wax.unroll:data_unroll": (["data_gen", "pbar"], []),
    "wax.unroll:gym_static_unroll": (["gym_fun", "params", "state", "seq", "skip_first", "data_generator", "pbar"], []),
    "wax.utils:dict_map": (["fun", "col"], []),
    "wax.utils:get_unique_dtype": (["current_values_"], []),
}

#: Parameters waxegg names differently, ``(callable, WAX-ML name): waxegg name``; positional calls are unchanged.
RENAMED = {
    **{(f"wax.accessors:Wax{kind}Accessor.__init__", arg): "obj" for kind, arg in (
        ("Dataset", "xarray_obj"), ("DataArray", "xarray_obj"), ("DataFrame", "pandas_obj"),
        ("Series", "pandas_obj"))},
    ("wax.compile:jit_init_apply", "fun"): "transformed",
    ("wax.encode:encode_dataset", "encoders"): "dataset",  # waxegg's one-argument form comes first
    **{(f"wax.format:{f}", "ref_coords"): "coords" for f in ("format_dataarray", "format_dataset",
                                                             "format_dataframe", "format_series")},
    **{(f"wax.format:{f}", "data"): "outputs" for f in ("format_dataarray", "format_dataset",
                                                        "format_dataframe", "format_series")},
    **{(f"wax.modules.{m}:{c}.__call__", "input"): "x" for m, c in (
        ("apply_mask", "ApplyMask"), ("buffer", "Buffer"), ("fill_nan_inf", "FillNanInf"),
        ("has_changed", "HasChanged"), ("mask_mean", "MaskMean"), ("mask_normalize", "MaskNormalize"),
        ("mask_std", "MaskStd"), ("ohlc", "OHLC"))},
    ("wax.modules.lag:Lag.__init__", "lag"): "periods",  # lag= is accepted as a keyword too
    ("wax.modules.rolling_mean:RollingMean.__init__", "horizon"): "window",  # horizon= too, with WAX-ML's defaults
    ("wax.modules.update_on_event:set_state_from_dict", "self"): "module",  # a function, not a patched method
    ("wax.predicate:pass_all_predicate", "m"): "module_name",
    ("wax.predicate:pass_all_predicate", "n"): "name",
    ("wax.predicate:pass_all_predicate", "p"): "value",
}

#: Where waxegg's positional order differs on purpose (README table): init_params_state keeps waxegg's
#: (transformed, xs, rng); WAX-ML's deprecated (fun, rng, *args) cannot be told apart from it.
DIFFERENT_ORDER = {"wax.unroll:init_params_state"}


def _resolve(path: str):
    module, _, attr = path.partition(":")
    obj = importlib.import_module("waxegg." + module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("module", sorted(WAXML_NAMES))
def test_every_waxml_public_name_resolves(module):
    mod = importlib.import_module("waxegg." + module)
    missing = [name for name in WAXML_NAMES[module] if not hasattr(mod, name)]
    assert not missing, f"waxegg.{module} lacks WAX-ML's {missing}"


def test_stream_has_waxml_methods():
    from waxegg.wax.stream import Stream

    assert [m for m in STREAM_METHODS if not callable(getattr(Stream, m, None))] == []


@pytest.mark.parametrize("path", sorted(WAXML_SIGNATURES))
def test_waxml_positional_order_and_keywords(path):
    params = inspect.signature(_resolve(path)).parameters
    ours = {n for n in params if n != "self"}
    positional = [n for n, p in params.items() if n != "self" and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    var_positional = any(p.kind == p.VAR_POSITIONAL for p in params.values())
    var_keyword = any(p.kind == p.VAR_KEYWORD for p in params.values())
    their_positional, their_keywords = ([RENAMED.get((path, n), n) for n in names] for names in WAXML_SIGNATURES[path])
    if path in DIFFERENT_ORDER:  # the function argument comes first, its other arguments are accepted
        assert set(their_positional[1:]) <= ours
        return
    if var_positional:  # waxegg's form first, WAX-ML's extra positional arguments through *args
        assert positional == their_positional[:len(positional)], f"{path}: WAX-ML {their_positional}, ours {positional}"
    else:
        assert positional[:len(their_positional)] == their_positional, \
            f"{path}: WAX-ML's order {their_positional}, waxegg's {positional}"
    if not (var_keyword or var_positional):
        missing = set(their_positional) | set(their_keywords)
        assert missing <= ours, f"{path}: waxegg lacks {sorted(missing - ours)}"
