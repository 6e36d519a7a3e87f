"""The backtest (issue 11): a plan valued on the history that came, against a hand-worked example and
an independent scalar evaluation of SPEC section 7's NPV (tests/reference_model.py)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

import optimizer
from optimizer.risk import backtest as B
from tests import reference_model as ref
from tests import scenario_builder as sb
from tests.test_engine import hand_scenario

ROOT = Path(__file__).resolve().parents[1]
D = 365.25 / 12


def _write_rows(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _hand(tmp_path: Path) -> tuple[Path, Path, Path]:
    sc = hand_scenario()
    sc["horizon"]["months"] = 3
    folder = sb.write(sc, tmp_path / "scn")
    history = tmp_path / "history"
    history.mkdir()
    _write_rows(history / "market.csv", ["month", "hashprice_usd_th_day", "source"],
                [[0, 0.1, "a"], [1, 0.2, "b"], [2, 0.05, "c"]])
    _write_rows(history / "bans.csv", ["jurisdiction", "ban_month"], [["J2", 1]])
    plan = tmp_path / "allocation.csv"
    _write_rows(plan, ["action", "origin", "model", "site", "jurisdiction", "rigs"],
                [["relocate", "O1", "A", "S1", "J1", 100], ["relocate", "O1", "A", "S2", "J2", 50],
                 ["sell", "O1", "B", "", "", 200]])
    return folder, history, plan


def test_backtest_by_hand(tmp_path):
    # A: 100 TH/s, 3 kW, resale $1,000; freight $100, no lead, no discounting, 3 months, salvage 25%.
    # Realised hashprice 0.1, 0.2, 0.05: revenue 304.375, 608.75, 152.1875 a month.
    # S1 ($0.05/kWh, power 109.575): 194.8 + 499.175 + 42.6125 = 736.5875, V = 736.5875 + 250 - 100.
    # S2 ($0.10/kWh, power 219.15), J2 banned from month 1: 85.225, V = 85.225 + 150.
    # Expected (scenario's flat 0.1, no risk): V(S1) = 3 x 194.8 + 150, V(S2) = 3 x 85.225 + 150.
    folder, history, plan = _hand(tmp_path)
    scn = optimizer.load_scenario(folder)
    bt = B.run(scn, history, plan)
    s = bt.summary
    realised = 100 * (736.5875 + 150) + 50 * (85.225 + 150) + 200 * 50
    expected = 100 * (3 * 194.8 + 150) + 50 * (3 * 85.225 + 150) + 200 * 50
    assert s["realised_npv_usd"] == pytest.approx(realised, rel=1e-12)
    assert s["expected_npv_usd"] == pytest.approx(expected, rel=1e-12)
    assert s["sell_all_usd"] == pytest.approx(150 * 1000 + 200 * 50)
    j = bt.jurisdictions.set_index("jurisdiction")
    assert j.loc["J2", "ban_month"] == 1 and j.loc["J2", "realised_usd"] == pytest.approx(50 * 235.225, rel=1e-12)
    assert j.loc["J1", "realised_usd"] == pytest.approx(100 * 886.5875, rel=1e-12)
    assert j["realised_usd"].sum() + s["other_usd"] == pytest.approx(s["realised_npv_usd"], rel=1e-12)


def test_backtest_cli_writes_backtest_json(tmp_path):
    folder, history, plan = _hand(tmp_path)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "optimizer", "backtest", str(folder), "--history", str(history),
                          "--out", str(out), "--plan", str(plan)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    data = json.loads((out / "backtest.json").read_text())
    assert data["realised_npv_usd"] == pytest.approx(100 * 886.5875 + 50 * 235.225 + 10_000, rel=1e-12)
    assert (out / "backtest_jurisdictions.csv").exists()


def test_backtest_bad_history_names_file_row_column(tmp_path):
    folder, history, plan = _hand(tmp_path)
    _write_rows(history / "bans.csv", ["jurisdiction", "ban_month"], [["J9", 1], ["J1", 7]])
    run = subprocess.run([sys.executable, "-m", "optimizer", "backtest", str(folder), "--history", str(history),
                          "--out", str(tmp_path / "o")], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2
    assert "bans.csv, row 2, column 'jurisdiction'" in run.stderr and "J9" in run.stderr
    assert "bans.csv, row 3, column 'ban_month'" in run.stderr and "beyond the horizon" in run.stderr
    _write_rows(history / "bans.csv", ["jurisdiction", "ban_month"], [["J2", 1.5]])
    run = subprocess.run([sys.executable, "-m", "optimizer", "backtest", str(folder), "--history", str(history),
                          "--out", str(tmp_path / "o")], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "bans.csv, row 2, column 'ban_month': '1.5' is not a whole number" in run.stderr
    # both files broken: both reported in one go, not one file per attempt
    (history / "market.csv").write_text((history / "market.csv").read_text().replace("month", "mnth", 1))
    run = subprocess.run([sys.executable, "-m", "optimizer", "backtest", str(folder), "--history", str(history),
                          "--out", str(tmp_path / "o")], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "market.csv" in run.stderr and "mnth" in run.stderr, run.stderr
    assert "bans.csv, row 2, column 'ban_month'" in run.stderr, run.stderr


def test_china_2021_backtest_equals_an_independent_evaluation():
    folder = ROOT / "datasets" / "china-2021"
    history = folder / "history"
    scn = optimizer.load_scenario(folder)
    res = optimizer.solve(scn)
    bt = B.backtest(scn, B.load_history(history, scn), None)
    with (history / "bans.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    bans = {r["jurisdiction"]: int(r["ban_month"]) for r in rows}
    ends = {r["jurisdiction"]: int(r["end_month"]) for r in rows if (r.get("end_month") or "").strip()}
    sc = ref.load_folder(folder, history)
    plan = res.allocation.to_dict("records")
    assert bt.summary["realised_npv_usd"] == pytest.approx(ref.realised_value(sc, plan, bans, ends), rel=1e-9)
    # What the plan expected is its section-2 value without the risk charge: summary.json's expected_value_usd.
    assert bt.summary["expected_npv_usd"] == pytest.approx(res.summary["expected_value_usd"], rel=1e-9)
    assert bt.summary["sell_all_usd"] == pytest.approx(res.summary["sell_all_usd"])


def test_history_saved_by_excel_with_its_sep_line_reads_the_same(tmp_path):
    # Excel's "sep=," first line is understood in history files as in scenario files (one reader for both).
    folder, history, plan = _hand(tmp_path)
    scn = optimizer.load_scenario(folder)
    plain = B.run(scn, history, plan).summary["realised_npv_usd"]
    for name in ("market.csv", "bans.csv"):
        path = history / name
        path.write_text("sep=,\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert B.run(scn, history, plan).summary["realised_npv_usd"] == pytest.approx(plain, rel=1e-15)
