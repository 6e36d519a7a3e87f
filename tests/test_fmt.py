"""The one set of formatters the app, the report and the CLI share (``optimizer.results.fmt``)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.results import fmt
from workspace import report

NO_VALUE = [None, float("nan"), np.nan, np.float64("nan"), pd.NA, pd.NaT]
VALUES = [0, 0.0, -1.5, np.int64(3), "text", "", (), ("a",), False]


@pytest.mark.parametrize("value", NO_VALUE, ids=repr)
def test_no_value_is_missing_everywhere(value):
    assert fmt.is_missing(value)
    assert fmt.number(value) is None
    assert fmt.usd(value) == "n/a" and fmt.usd(value, missing="") == ""
    assert fmt.pct(value) == "n/a" and fmt.months(value) == "never"
    for kind in report.KINDS.values():  # the report prints nothing for no value, whatever the column's kind
        assert kind.html(value) == ""


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_a_value_is_not_missing(value):
    assert not fmt.is_missing(value)
    assert report.KINDS["text"].html(value) == str(value)


def test_numbers_read_as_people_write_them():
    assert fmt.usd(118_221_431) == "$118.22M" and fmt.usd(-12_345) == "-$12.3k" and fmt.usd(950) == "$950"
    assert fmt.usd_exact(-1250.5, digits=2) == "-$1,250.50" and fmt.usd_exact(1234567) == "$1,234,567"
    assert report.KINDS["usd"].html(-1234.4) == "-$1,234" and report.KINDS["usd2"].html(0.5) == "$0.50"
    assert fmt.number("12.5") == 12.5 and fmt.number("twelve") is None and fmt.number("nan") is None
    assert fmt.usd("twelve") == "n/a"  # a stray word in a number column is no number, not an error


def test_settings_read_and_round_trip_as_toml():
    import tomllib

    assert fmt.setting_text("market.pool_fee", 0.02) == "2%"  # labelled in percent, held as a fraction
    assert fmt.setting_text("market.btc_price_usd", 60000.0) == "60,000"
    assert fmt.setting_text("policy.exclude_jurisdictions", ()) == "(none)"
    assert fmt.setting_text("policy.budget_usd", None) == fmt.NOT_SET
    for value in (0.05, 60000.0, 3, True, "highs", ("Inner Mongolia", 'say "x"'), ()):
        text = fmt.toml_value(value)
        assert "\n" not in text
        back = tomllib.loads(f"v = {text}")["v"]
        assert back == (list(value) if isinstance(value, tuple) else value)


def test_entry_prices_in_words():
    assert fmt.entry_power(0.05123) == "power below $0.0512/kWh"
    assert fmt.entry_power(-1.0) == "never, even with free power"
    assert [fmt.entry_power(v) for v in NO_VALUE] == [""] * len(NO_VALUE)
