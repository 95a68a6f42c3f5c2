import math

import pandas as pd
import pytest

from waxegg.wax._params import center_of_mass, ewm_params


@pytest.mark.parametrize("kw", [dict(com=3.0), dict(span=7), dict(halflife=2.5), dict(alpha=0.1), dict(alpha=1.0)])
def test_center_of_mass_matches_pandas(kw):
    # pandas.core.window.ewm.get_center_of_mass
    from pandas.core.window.ewm import get_center_of_mass

    assert center_of_mass(**kw) == get_center_of_mass(kw.get("com"), kw.get("span"), kw.get("halflife"), kw.get("alpha"))


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(), "Must pass one of"),
        (dict(com=1, alpha=0.5), "mutually exclusive"),
        (dict(com=-1), "com >= 0"),
        (dict(span=0.5), "span >= 1"),
        (dict(halflife=0), "halflife > 0"),
        (dict(alpha=0), "0 < alpha <= 1"),
        (dict(alpha=1.5), "0 < alpha <= 1"),
        (dict(alpha=math.nan), "alpha must be finite"),
        (dict(com=math.inf), "com must be finite"),
        (dict(alpha="a"), "alpha must be a real number"),
    ],
)
def test_bad_parameters_raise_with_name(kw, message):
    with pytest.raises((ValueError, TypeError), match=message):
        center_of_mass(**kw)


def test_min_periods_follows_pandas():
    assert ewm_params(alpha=0.5, min_periods=0).min_periods == 1
    assert ewm_params(alpha=0.5, min_periods=5).min_periods == 5
    with pytest.raises(ValueError, match="min_periods"):
        ewm_params(alpha=0.5, min_periods=-1)
    with pytest.raises(ValueError, match="min_periods"):
        ewm_params(alpha=0.5, min_periods=1.5)


def test_pandas_accepts_nan_alpha_but_we_do_not():
    # The reason for our stricter check: pandas silently returns wrong numbers (NaN holes here).
    s = pd.Series([1.0, 2.0, 3.0])
    assert s.ewm(alpha=math.nan).mean().isna().any()
    with pytest.raises(ValueError, match="finite"):
        s.wax.ewm(alpha=math.nan)
