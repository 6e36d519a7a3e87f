"""Seasonal availability (availability.csv, issue 21): a site's uptime month by month, worked by hand on
one rig, then against the plain model on random scenarios and across the solver paths.

One rig of 100 TH/s and 3,000 W at $0.05/kWh, no discounting, no risk, arriving at once
(tests/test_paths.py's ``one_rig``): D = 365.25/12 days a month; at hashprice $0.5/TH/day a month
running all month earns 100 x 0.5 x D = 1,521.875 and its power costs 3 x 24 x D x 0.05 = 109.575.
"""
from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optimizer
from optimizer import analysis, economics
from optimizer.cli import main as cli_main
from optimizer.risk import npv_by_sample, pair_terms, plan_terms, relocation_values
from optimizer.risk.samples import one_future
from tests import scenario_builder as sb
from tests.test_paths import D, POWER, one_rig
from tests.test_property import scenarios

REVENUE = 100 * 0.5 * D  # 1,521.875 a month at hashprice 0.5


def write_availability(folder: Path, rows: list[tuple[str, int, float]]) -> Path:
    with (folder / "availability.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["site", "month", "uptime"])
        w.writerows(rows)
    return folder


def folder_for(sc: dict, tmp_path: Path, rows: list[tuple[str, int, float]] | None) -> Path:
    folder = sb.write(sc, tmp_path / f"s{len(list(tmp_path.iterdir()))}")
    return write_availability(folder, rows) if rows is not None else folder


def test_uptime_one_zero_half_by_hand(tmp_path):
    # 3 months at uptime 1, 0, 0.5; hosting 2 USD/kW/month = 6 a month, owed in all three months (contracted
    # capacity); management fee 0.004 USD/kWh on the kWh drawn: 3 x 24 x D x 0.004 = 8.766 a full month.
    sc = one_rig(months=3, site={"hosting_usd_kw_month": 2.0, "mgmt_fee_usd_kwh": 0.004},
                 market={"hashprice_usd_th_day": 0.5})
    scn = optimizer.load_scenario(folder_for(sc, tmp_path, [("S", 0, 1.0), ("S", 1, 0.0), ("S", 2, 0.5)]))
    fee = 3 * 24 * D * 0.004
    month = REVENUE - POWER - fee  # 1,403.534 when running all month
    ops = 1.0 * month + 0.0 * month + 0.5 * month - 3 * 6.0
    v = ops + 250 - 100  # terminal 0.25 x 1,000, freight 100
    assert v == pytest.approx(2237.30, abs=0.01)
    assert float(economics.compute(scn).value_usd[0, 0]) == pytest.approx(v, rel=1e-12)
    res = optimizer.solve(scn)
    assert res.summary["rigs_relocated"] == pytest.approx(10)  # 2,237.30 a rig beats selling for 1,000
    assert res.summary["objective_usd"] == pytest.approx(10 * v, rel=1e-12)
    b = analysis.breakdown(scn, "O", "A", "S")
    assert list(b["monthly"]["revenue_usd"]) == pytest.approx([REVENUE, 0.0, REVENUE / 2], rel=1e-12)
    assert list(b["monthly"]["power_usd"]) == pytest.approx([POWER, 0.0, POWER / 2], rel=1e-12)
    assert list(b["monthly"]["mgmt_fee_usd"]) == pytest.approx([fee, 0.0, fee / 2], rel=1e-12)
    assert list(b["monthly"]["margin_usd"]) == pytest.approx([month - 6, -6.0, month / 2 - 6], rel=1e-12)
    assert b["hosting_pv_usd"] == pytest.approx(18.0, rel=1e-12)
    # without the file: three full months
    plain = optimizer.load_scenario(folder_for(sc, tmp_path, None))
    assert float(economics.compute(plain).value_usd[0, 0]) == pytest.approx(3 * month - 18 + 150, rel=1e-12)


def test_missing_months_take_the_sites_uptime(tmp_path):
    # sites.csv uptime 0.8; the file stops month 1 only: months 0 and 2 run at 0.8
    sc = one_rig(months=3, site={"uptime": 0.8}, market={"hashprice_usd_th_day": 0.5})
    scn = optimizer.load_scenario(folder_for(sc, tmp_path, [("S", 1, 0.0)]))
    by_hand = 2 * 0.8 * (REVENUE - POWER) + 150
    assert float(economics.compute(scn).value_usd[0, 0]) == pytest.approx(by_hand, rel=1e-12)


def test_risk_stage_and_monthly_plan_use_the_monthly_uptime(tmp_path):
    sc = one_rig(months=4, market={"hashprice_usd_th_day": 0.5})
    rows = [("S", 0, 1.0), ("S", 1, 0.0), ("S", 2, 0.5), ("S", 3, 0.25)]
    scn = optimizer.load_scenario(folder_for(sc, tmp_path, rows))
    u = [1.0, 0.0, 0.5, 0.25]
    # section 7: one future with hashprice factors; margin per month max(0, u (f REVENUE - POWER))
    f = np.array([1.0, 2.0, 0.05, 1.5])  # month 2: 0.05 x 1,521.875 = 76.1 < 109.575, switched off
    econ = economics.compute(scn)
    samples = one_future(scn, hashprice_usd_th_day=economics.hashprice(scn) * f)
    terms = pair_terms(scn, econ, samples, np.array([0]), np.array([0]))
    by_hand = sum(ut * max(0.0, ft * REVENUE - POWER) for ut, ft in zip(u, f)) + 150
    assert relocation_values(terms, samples)[0, 0] == pytest.approx(by_hand, rel=1e-12)
    assert npv_by_sample(plan_terms(terms, np.array([10.0]), 0.0), samples)[0] == pytest.approx(10 * by_hand, rel=1e-12)
    # section 8: with dispatch and sale in month 0 only it is section 3's plan, availability included
    static = optimizer.solve(scn)
    monthly = optimizer.solve(scn.with_overrides({"monthly.enabled": True, "monthly.dispatch_months": [0],
                                                  "monthly.sell_months": [0]}))
    assert monthly.summary["objective_usd"] == pytest.approx(static.summary["objective_usd"], rel=1e-9)
    assert static.summary["objective_usd"] == pytest.approx(10 * (sum(u) * (REVENUE - POWER) + 150), rel=1e-12)


def test_monthly_plan_sells_before_a_stop_by_hand(tmp_path):
    # The monthly plan may sell at the site at the start of any month; the resale path (no file) is
    # salvage^(t/H) = 0.25^(t/4). Months 2 and 3 are stopped (uptime 0): running them earns nothing, so
    # the best decision sells at the start of month 2 for 1,000 x 0.25^0.5 = 500 rather than keeping the
    # rig to the horizon (terminal 250). Value per rig: 2 months of margin + 500 - freight 100.
    sc = one_rig(months=4, market={"hashprice_usd_th_day": 0.5})
    scn = optimizer.load_scenario(folder_for(sc, tmp_path, [("S", 2, 0.0), ("S", 3, 0.0)]))
    res = optimizer.solve(scn.with_overrides({"monthly.enabled": True}))
    assert res.summary["objective_usd"] == pytest.approx(10 * (2 * (REVENUE - POWER) + 500 - 100), rel=1e-9)


def test_hashrate_online_follows_the_monthly_uptime(tmp_path):
    from optimizer.analysis.timeline import monthly as plan_timeline

    sc = one_rig(months=3, market={"hashprice_usd_th_day": 0.5})
    scn = optimizer.load_scenario(folder_for(sc, tmp_path, [("S", 1, 0.0), ("S", 2, 0.5)]))
    res = optimizer.solve(scn)
    online = plan_timeline(scn, res)["hashrate_online_ehs"].to_numpy()
    assert online == pytest.approx(np.array([1.0, 0.0, 0.5]) * 10 * 100 / 1e6, rel=1e-12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(mip=False), st.data())
def test_a_file_that_repeats_the_uptime_changes_nothing(sc, data):
    """All-ones availability on sites at uptime 1, and the sites' own uptime elsewhere: the same objective
    and the same allocation, to the last bit, as no file at all."""
    for i, s in enumerate(sc["sites"]):
        if i % 2 == 0:
            s["uptime"] = 1.0
    H = sc["horizon"]["months"]
    rows = [(s["site"], t, float(s["uptime"])) for s in sc["sites"] for t in range(H)
            if data.draw(st.booleans(), label=f"{s['site']}-{t}")]
    with tempfile.TemporaryDirectory() as tmp:
        plain = optimizer.load_scenario(folder_for(sc, Path(tmp), None))
        seasonal = optimizer.load_scenario(folder_for(sc, Path(tmp), rows))
    assert np.array_equal(economics.compute(plain).value_usd, economics.compute(seasonal).value_usd)
    try:
        a = optimizer.solve(plain)
    except optimizer.InfeasibleError:
        with pytest.raises(optimizer.InfeasibleError):
            optimizer.solve(seasonal)
        return
    b = optimizer.solve(seasonal)
    assert a.summary["objective_usd"] == b.summary["objective_usd"]
    assert a.allocation.equals(b.allocation)


PATHS = [{"solver.backend": "direct", "solver.lp_algorithm": "simplex"},
         {"solver.backend": "direct", "solver.lp_algorithm": "ipm"},
         {"solver.backend": "columns", "solver.lp_algorithm": "auto"},
         {"solver.name": "cbc"}]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(mip=False), st.data())
def test_pulp_and_the_fast_paths_agree_with_seasonal_uptime(sc, data):
    sc["policy"]["allow_sell"] = True  # the columns path's eligibility
    H = sc["horizon"]["months"]
    rows = [(s["site"], t, data.draw(st.sampled_from([0.0, 0.3, 1.0]), label=f"{s['site']}-{t}"))
            for s in sc["sites"] for t in range(H) if t % 3 == 0]
    with tempfile.TemporaryDirectory() as tmp:
        scn = optimizer.load_scenario(folder_for(sc, Path(tmp), rows),
                                      {"solver.backend": "pulp", "solver.prune_dominated": False})
    reference = optimizer.solve(scn).summary["objective_usd"]
    for path in PATHS:
        got = optimizer.solve(scn.with_overrides({**path, "solver.prune_dominated": True})).summary["objective_usd"]
        assert got == pytest.approx(reference, rel=1e-7, abs=1e-5), path


@pytest.mark.parametrize("rows, where, words", [
    ([("S", 0, 80)], "row 2, column 'uptime'", "write 0.8 for 80%"),
    ([("S", 0, -0.1)], "row 2, column 'uptime'", "out of range"),
    ([("S", 0, 0.5), ("S", 0, 0.7)], "row 3, column 'month'", "duplicate"),
    ([("Nowhere", 0, 0.5)], "row 2, column 'site'", "not in sites.csv"),
    ([("S", 1, 0.5), ("S", 3, 0.5)], "row 3, column 'month'", "beyond the horizon"),
    ([("S", 1.5, 0.5)], "row 2, column 'month'", "whole number"),
])
def test_bad_availability_is_exit_2_with_file_row_and_column(rows, where, words, tmp_path, capsys):
    folder = folder_for(one_rig(months=3), tmp_path, rows)
    assert cli_main(["solve", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"availability.csv, {where}" in err and words in err, err
    assert "Traceback" not in err


def test_a_site_name_variant_is_read_as_the_site(tmp_path):
    sc = one_rig(months=2, market={"hashprice_usd_th_day": 0.5})
    scn = optimizer.load_scenario(folder_for(sc, tmp_path, [(" s ", 1, 0.0)]))
    assert float(economics.compute(scn).value_usd[0, 0]) == pytest.approx((REVENUE - POWER) + 150, rel=1e-12)


def test_a_shorter_horizon_by_set_is_bad_input(tmp_path):
    folder = folder_for(one_rig(months=3), tmp_path, [("S", 2, 0.5)])
    scn = optimizer.load_scenario(folder)
    with pytest.raises(optimizer.ScenarioError, match="beyond the horizon"):
        scn.with_overrides({"horizon.months": 2})
