"""The host's management fee per kWh (sites.csv mgmt_fee_usd_kwh), worked by hand on one rig.

One rig of 100 TH/s and 3,000 W at $0.05/kWh, hashprice $0.1/TH/day flat, no discounting, no
risk, arriving at once (tests/test_paths.py's ``one_rig``): a month has D = 365.25/12 days, so
revenue = 100 x 0.1 x D = 304.375 and power = 3 kW x 24 x D x 0.05 = 109.575 per month.
"""
from __future__ import annotations

import numpy as np
import pytest

import optimizer
from optimizer import analysis, economics
from optimizer.risk import npv_by_sample, pair_terms, plan_terms, relocation_values
from optimizer.risk.samples import one_future
from tests.test_paths import D, POWER, load, one_rig, value

REVENUE = 100 * 0.1 * D  # 304.375


def test_fee_is_paid_per_kwh_while_running_by_hand(tmp_path):
    # 0.004 USD/kWh on 3 kW x 24 h x D days = 8.766 a month; 3 months, terminal 250, freight 100
    scn = load(one_rig(months=3, site={"mgmt_fee_usd_kwh": 0.004}), tmp_path)
    fee = 3 * 24 * D * 0.004
    assert fee == pytest.approx(8.766)
    assert value(scn) == pytest.approx(3 * (REVENUE - POWER - fee) + 250 - 100, rel=1e-12)  # 708.102
    b = analysis.breakdown(scn, "O", "A", "S")
    assert b["mgmt_fee_pv_usd"] == pytest.approx(3 * fee, rel=1e-12)
    assert b["revenue_pv_usd"] - b["power_pv_usd"] - b["mgmt_fee_pv_usd"] - b["hosting_pv_usd"] == pytest.approx(
        b["ops_usd"], rel=1e-12)
    assert list(b["monthly"]["mgmt_fee_usd"]) == pytest.approx([fee] * 3, rel=1e-12)


def test_fee_counts_the_sites_kwh_with_pue_and_uptime(tmp_path):
    scn = load(one_rig(months=2, site={"mgmt_fee_usd_kwh": 0.01, "pue": 1.2, "uptime": 0.5}), tmp_path)
    kwh = 3 * 1.2 * 24 * D * 0.5  # what the site bills per month, the same kWh as power_usd_kwh's
    ops = 2 * (REVENUE * 0.5 - kwh * 0.05 - kwh * 0.01)
    assert value(scn) == pytest.approx(ops + 250 - 100, rel=1e-12)


def test_a_fee_that_outweighs_the_margin_switches_the_rig_off(tmp_path):
    # 0.1 USD/kWh: power + fee = 109.575 + 219.15 = 328.725 > 304.375 revenue: off every month,
    # no fee owed (it is per kWh drawn), so ops = 0 and V = terminal - freight = 150.
    scn = load(one_rig(months=3, site={"mgmt_fee_usd_kwh": 0.1}), tmp_path)
    assert value(scn) == pytest.approx(150.0, abs=1e-9)
    b = analysis.breakdown(scn, "O", "A", "S")
    assert b["mgmt_fee_pv_usd"] == 0.0 and b["power_pv_usd"] == 0.0
    # the plan: relocating earns 150 per rig, selling 1000: all ten rigs are sold
    res = optimizer.solve(scn)
    assert res.summary["rigs_sold"] == pytest.approx(10)


def test_risk_stage_threshold_form_charges_the_fee(tmp_path):
    """The risk stage's folded NPV (thresholds on revenue vs power + fee) equals the per-pair values."""
    scn = load(one_rig(months=4, site={"mgmt_fee_usd_kwh": 0.03}), tmp_path)
    econ = economics.compute(scn)
    hp = economics.hashprice(scn) * np.array([1.0, 0.5, 1.5, 0.9])  # a month where power + fee > revenue
    samples = one_future(scn, hashprice_usd_th_day=hp)
    terms = pair_terms(scn, econ, samples, np.array([0]), np.array([0]))
    per_rig = relocation_values(terms, samples)[0, 0]
    fee = 3 * 24 * D * 0.03
    by_hand = sum(max(0.0, REVENUE * f - POWER - fee) for f in (1.0, 0.5, 1.5, 0.9)) + 250 - 100
    assert per_rig == pytest.approx(by_hand, rel=1e-12)
    npv = npv_by_sample(plan_terms(terms, np.array([10.0]), 0.0), samples)
    assert npv[0] == pytest.approx(10 * by_hand, rel=1e-12)


def test_entry_power_price_accounts_for_the_fee(tmp_path):
    """At the entry power price the rig's reduced cost is zero: V(p) equals what the plan pays (selling)."""
    sc = one_rig(months=12, site={"mgmt_fee_usd_kwh": 0.02, "power_usd_kwh": 0.2})
    scn = load(sc, tmp_path)
    res = optimizer.solve(scn)
    assert res.summary["rigs_sold"] == pytest.approx(10)  # at 0.20 USD/kWh the site is unused
    p = float(res.sites["entry_power_usd_kwh"].iloc[0])
    # V(p) = 12 (REVENUE - 3*24*D*(p + 0.02)) + 150 = resale 1000 (the fleet row's dual): p = 0.0866
    by_hand = (12 * REVENUE + 150 - 1000) / (12 * 3 * 24 * D) - 0.02
    assert 0.08 < by_hand < 0.09
    assert p == pytest.approx(by_hand, rel=1e-6)
