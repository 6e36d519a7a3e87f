"""optimizer.inputs.values: the one "is it missing" and the one setting-value text (the report's, the app's),
and the one haversine (economics and the country-distance check read optimizer.inputs.geo's)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from optimizer import economics
from optimizer.inputs import geo
from optimizer.inputs.values import is_missing, setting_text


@pytest.mark.parametrize("v", [None, float("nan"), np.float64("nan"), pd.NA, pd.NaT, np.nan])
def test_missing(v):
    assert is_missing(v)


@pytest.mark.parametrize("v", [0, 0.0, "", "n/a", "abc", False, True, np.int64(3), (), [], "nan"])
def test_not_missing(v):
    assert not is_missing(v)


def test_setting_text_by_hand():
    assert setting_text(0.25, percent=True) == "25%"
    assert setting_text(("Iran", "China")) == "Iran, China" and setting_text(()) == "(none)"
    assert setting_text(None) == "(not set)"
    assert setting_text(5e6) == "5,000,000" and setting_text(999.0) == "999.0" and setting_text(True) == "True"
    assert setting_text(True, percent=True) == "True"  # a flag is not a share


def test_one_haversine_by_hand():
    # a quarter of the equator, and one degree of latitude: 2 pi R / 4 and 2 pi R / 360
    assert economics.haversine_km is geo.haversine_km
    assert geo.haversine_km(0.0, 0.0, 0.0, 90.0) == pytest.approx(math.pi * 6371.0 / 2, rel=1e-12)
    assert geo.haversine_km(10.0, 20.0, 11.0, 20.0) == pytest.approx(2 * math.pi * 6371.0 / 360, rel=1e-12)
