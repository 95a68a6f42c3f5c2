"""Streaming Haiku modules with state: one module per file, re-exported here."""

from waxegg.wax.modules.apply_mask import ApplyMask
from waxegg.wax.modules.arma import ARMA
from waxegg.wax.modules.buffer import Buffer, BufferFun, BufferState, buffer_fn
from waxegg.wax.modules.counter import Counter
from waxegg.wax.modules.diff import Diff
from waxegg.wax.modules.ewma import EWMA
from waxegg.wax.modules.ewmcorr import EWMCorr
from waxegg.wax.modules.ewmcov import EWMCov
from waxegg.wax.modules.ewmsum import EWMSum
from waxegg.wax.modules.ewmvar import EWMVar
from waxegg.wax.modules.ffill import Ffill
from waxegg.wax.modules.fill_nan_inf import FillNanInf
from waxegg.wax.modules.gym_feedback import GymFeedback, GymInfo, GymOutput, GymState
from waxegg.wax.modules.has_changed import HasChanged
from waxegg.wax.modules.func_optimizer import FuncOptimizer
from waxegg.wax.modules.lag import Lag, tree_lag
from waxegg.wax.modules.mask_mean import MaskMean
from waxegg.wax.modules.mask_normalize import MaskNormalize
from waxegg.wax.modules.mask_std import MaskStd
from waxegg.wax.modules.ohlc import OHLC, OHLCData
from waxegg.wax.modules.online_optimizer import OnlineOptimizer, OptInfo
from waxegg.wax.modules.online_supervised_learner import OnlineSupervisedLearner, OnlineSupervisedLearnerInfo
from waxegg.wax.modules.optax_optimizer import OptaxOptimizer
from waxegg.wax.modules.pct_change import PctChange
from waxegg.wax.modules.rolling_corr import RollingCorr
from waxegg.wax.modules.rolling_count import RollingCount
from waxegg.wax.modules.rolling_cov import RollingCov
from waxegg.wax.modules.rolling_max import RollingMax
from waxegg.wax.modules.rolling_mean import RollingMean
from waxegg.wax.modules.rolling_median import RollingMedian
from waxegg.wax.modules.rolling_min import RollingMin
from waxegg.wax.modules.rolling_sum import RollingSum
from waxegg.wax.modules.rolling_var import RollingVar
from waxegg.wax.modules.snarimax import SNARIMAX
from waxegg.wax.modules.update_on_event import UpdateOnEvent
from waxegg.wax.modules.update_params import UpdateParams, get_init_params, pass_all_predicate
from waxegg.wax.modules.vmap import VMap, add_batch

__all__ = [
    "ARMA",
    "GymFeedback",
    "GymInfo",
    "GymOutput",
    "GymState",
    "OnlineSupervisedLearner",
    "OnlineSupervisedLearnerInfo",
    "OptaxOptimizer",
    "SNARIMAX",
    "VMap",
    "EWMA",
    "OHLC",
    "ApplyMask",
    "Buffer",
    "Counter",
    "Diff",
    "EWMCorr",
    "EWMCov",
    "EWMSum",
    "EWMVar",
    "Ffill",
    "FillNanInf",
    "HasChanged",
    "Lag",
    "MaskMean",
    "MaskNormalize",
    "MaskStd",
    "OHLCData",
    "PctChange",
    "RollingCorr",
    "RollingCount",
    "RollingCov",
    "RollingMax",
    "RollingMean",
    "RollingMedian",
    "RollingMin",
    "RollingSum",
    "RollingVar",
    "UpdateOnEvent",
    "BufferFun",
    "BufferState",
    "buffer_fn",
    "tree_lag",
    "FuncOptimizer",
    "OnlineOptimizer",
    "OptInfo",
    "UpdateParams",
    "get_init_params",
    "pass_all_predicate",
    "add_batch",
]
