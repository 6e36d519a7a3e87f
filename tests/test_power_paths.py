"""Power price paths (issue 21): a scenario's power.csv (a multiplier on power_usd_kwh by site and month),
and a history's power.csv, which reprices power in realised values only (backtest and replay), worked by
hand on one rig.

tests/test_paths.py's ``one_rig`` at hashprice $0.5/TH/day: 100 TH/s earn 100 x 0.5 x D = 1,521.875 a
month; 3 kW at $0.05/kWh cost 109.575 a month; no discounting, no risk, terminal 250, freight 100.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import optimizer
from optimizer import economics
from optimizer.cli import main as cli_main
from optimizer.risk import backtest, replay
from tests import scenario_builder as sb
from tests.test_paths import D, POWER, one_rig

REVENUE = 100 * 0.5 * D


def scenario_folder(tmp_path: Path, power_rows=None, months: int = 3) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    folder = sb.write(one_rig(months=months, market={"hashprice_usd_th_day": 0.5}), tmp_path / "scn")
    if power_rows is not None:
        pd.DataFrame(power_rows, columns=["site", "month", "multiplier"]).to_csv(folder / "power.csv", index=False)
    return folder


def history_folder(tmp_path: Path, power: pd.DataFrame | None, months: int = 3) -> Path:
    hist = tmp_path / "history"
    hist.mkdir(exist_ok=True)
    pd.DataFrame({"month": range(months), "hashprice_usd_th_day": [0.5] * months}).to_csv(hist / "market.csv", index=False)
    (hist / "bans.csv").write_text("jurisdiction,ban_month\n", encoding="utf-8")
    if power is not None:
        power.to_csv(hist / "power.csv", index=False)
    return hist


def test_scenario_power_path_by_hand(tmp_path):
    scn = optimizer.load_scenario(scenario_folder(tmp_path, [("S", 1, 2.0), ("S", 2, 1.5)]))
    by_hand = (REVENUE - POWER) + (REVENUE - 2 * POWER) + (REVENUE - 1.5 * POWER) + 150
    assert float(economics.compute(scn).value_usd[0, 0]) == pytest.approx(by_hand, rel=1e-12)
    res = optimizer.solve(scn)
    assert res.summary["objective_usd"] == pytest.approx(10 * by_hand, rel=1e-12)


def test_history_power_reprices_realised_values_only(tmp_path):
    scn = optimizer.load_scenario(scenario_folder(tmp_path))
    # month 1: the whole jurisdiction J at 2x; month 2: J at 2x but site S itself at 20x (the site row wins):
    # power 20 x 109.575 = 2,191.5 > revenue 1,521.875, so the rig is switched off that month (margin 0).
    power = pd.DataFrame({"site": ["", "", "S"], "jurisdiction": ["J", "J", ""], "month": [1, 2, 2],
                          "multiplier": [2.0, 2.0, 20.0]})
    bt = backtest.run(scn, history_folder(tmp_path, power))
    planned = 3 * (REVENUE - POWER) + 150
    realised = (REVENUE - POWER) + (REVENUE - 2 * POWER) + 0.0 + 150
    assert bt.summary["expected_npv_usd"] == pytest.approx(10 * planned, rel=1e-12)  # the plan never saw it
    assert bt.summary["realised_npv_usd"] == pytest.approx(10 * realised, rel=1e-12)
    # without power.csv the history's realised value is the planned one (same hashprice, no stop)
    (tmp_path / "p").mkdir()
    plain = backtest.run(scn, history_folder(tmp_path / "p", None))
    assert plain.summary["realised_npv_usd"] == pytest.approx(10 * planned, rel=1e-12)
    # replay values section 3's plan the same way, and perfect foresight knows the repricing too
    (future,) = replay.futures_from_history(scn, tmp_path / "history")
    row = replay.replay(scn, [future]).per_future.iloc[0]
    assert row["static_usd"] == pytest.approx(10 * realised, rel=1e-9)
    # foresight sells at the start of month 2 (resale path 0.25^(2/3) x 1,000 = 396.85) instead of running
    # a switched-off month and keeping the rig (terminal 250): 2 months' margin + 396.85 - freight 100
    sell_at_2 = 1000 * 0.25 ** (2 / 3)
    assert row["foresight_usd"] == pytest.approx(10 * ((REVENUE - POWER) + (REVENUE - 2 * POWER) + sell_at_2 - 100),
                                                 rel=1e-9)
    assert row["policy_usd"] <= row["foresight_usd"] + 1e-6


def test_scenario_and_history_multipliers_multiply(tmp_path):
    scn = optimizer.load_scenario(scenario_folder(tmp_path, [("S", 1, 1.5)]))
    power = pd.DataFrame({"site": ["S"], "jurisdiction": [""], "month": [1], "multiplier": [2.0]})
    bt = backtest.run(scn, history_folder(tmp_path, power))
    assert bt.summary["expected_npv_usd"] == pytest.approx(10 * (3 * REVENUE - 3.5 * POWER + 150), rel=1e-12)
    assert bt.summary["realised_npv_usd"] == pytest.approx(10 * (3 * REVENUE - 5 * POWER + 150), rel=1e-12)


@pytest.mark.parametrize("rows, where, words", [
    ({"site": ["S"], "jurisdiction": ["J"], "month": [0], "multiplier": [1.2]}, "row 2, column 'site'", "both"),
    ({"site": [""], "jurisdiction": [""], "month": [0], "multiplier": [1.2]}, "row 2, column 'site'", "neither"),
    ({"site": ["S"], "jurisdiction": [""], "month": [0], "multiplier": [130]}, "row 2, column 'multiplier'",
     "write 1.3 for 130%"),
    ({"site": [""], "jurisdiction": ["Atlantis"], "month": [0], "multiplier": [1.2]}, "row 2, column 'jurisdiction'",
     "unknown jurisdiction"),
    ({"site": ["S", "S"], "jurisdiction": ["", ""], "month": [1, 1], "multiplier": [1.2, 1.3]}, "row 3, column 'site'",
     "twice"),
    ({"site": ["S"], "jurisdiction": [""], "month": [3], "multiplier": [1.2]}, "row 2, column 'month'",
     "beyond the horizon"),
])
def test_bad_history_power_is_exit_2_with_file_row_and_column(rows, where, words, tmp_path, capsys):
    folder = scenario_folder(tmp_path)
    hist = history_folder(tmp_path, pd.DataFrame(rows))
    assert cli_main(["backtest", str(folder), "--history", str(hist), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"history/power.csv, {where}" in err and words in err, err


@pytest.mark.parametrize("rows, where, words", [
    ([("S", 0, 130.0)], "row 2, column 'multiplier'", "write 1.3 for 130%"),
    ([("S", 0, 0.0)], "row 2, column 'multiplier'", "out of range"),
    ([("Nowhere", 0, 1.2)], "row 2, column 'site'", "not in sites.csv"),
    ([("S", 5, 1.2)], "row 2, column 'month'", "beyond the horizon"),
    ([("S", 1, 1.2), ("S", 1, 1.3)], "row 3, column 'month'", "duplicate"),
])
def test_bad_scenario_power_is_exit_2(rows, where, words, tmp_path, capsys):
    folder = scenario_folder(tmp_path, rows)
    assert cli_main(["solve", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"power.csv, {where}" in err and words in err, err


def test_a_path_of_ones_changes_nothing(tmp_path):
    plain = optimizer.load_scenario(scenario_folder(tmp_path / "a", None))
    ones = optimizer.load_scenario(scenario_folder(tmp_path / "b", [("S", t, 1.0) for t in range(3)]))
    assert np.array_equal(economics.compute(plain).value_usd, economics.compute(ones).value_usd)
