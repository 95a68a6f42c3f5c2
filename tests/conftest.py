import numpy as np
import pandas as pd
import pytest

from waxegg.wax import register_wax_accessors

register_wax_accessors()


def nan_pattern_frame(T: int = 300, N: int = 6, seed: int = 0, dtype=np.float64) -> pd.DataFrame:
    """Random frame with leading NaNs, NaN runs and isolated NaNs in different columns."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N)).astype(dtype)
    x[:7, 0] = np.nan                      # leading NaNs
    x[50:90, 1] = np.nan                   # a long run
    x[rng.random(T) < 0.2, 2] = np.nan     # scattered
    x[:, 3] = 1.5                          # constant column (pandas' exact-constant branch)
    x[T // 2:, 4] = np.nan                 # trailing NaNs
    return pd.DataFrame(x, index=pd.date_range("2000", periods=T, freq="min"))


@pytest.fixture
def frame() -> pd.DataFrame:
    return nan_pattern_frame()
