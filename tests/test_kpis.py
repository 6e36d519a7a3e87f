"""summary.json's KPIs against hand-worked values, and the fleet and jurisdiction-cap duals against
finite differences (the README promises both)."""
from __future__ import annotations

import numpy as np
import pytest

import optimizer
from optimizer import analysis, economics
from optimizer.model import build_model
from optimizer.solver.backends import solve_model
from tests import scenario_builder as sb
from tests.test_engine import SOLVERS, V_A_S1, generated, hand_scenario, solve_dict

D = 365.25 / 12


def test_payback_and_average_power_price_by_hand(tmp_path):
    # The hand plan: 100 A at S1 (0.3 MW, $0.05/kWh), 50 A at S2 (0.15 MW, $0.10/kWh), 200 B sold.
    # Freight $100 per rig: upfront 15,000. Per month (no lead, risk or discounting):
    # A at S1 earns 304.375 - 109.575 = 194.8, at S2 304.375 - 219.15 = 85.225,
    # so the relocated rigs earn 100 * 194.8 + 50 * 85.225 = 23,741.25 a month: payback 15,000 / 23,741.25.
    s = solve_dict(hand_scenario(), tmp_path).summary
    assert s["upfront_usd"] == pytest.approx(15_000)
    assert s["cash_payback_months"] == pytest.approx(15_000 / 23_741.25, rel=1e-12)
    assert s["avg_power_usd_kwh"] == pytest.approx((0.3 * 0.05 + 0.15 * 0.10) / 0.45, rel=1e-12)
    assert s["mw_relocated"] == pytest.approx(0.45)


def test_payback_over_several_months_by_hand(tmp_path):
    # Freight $3,000 per rig to S1 and S2: A at S1 then is worth 2337.6 + 250 - 3000 < selling at 1000,
    # so put a lane price that keeps S1 only: $1,000 to S1 (V = 1587.6 > 1000), $5,000 to S2 and S3.
    sc = hand_scenario()
    sc["lanes"][0]["ship_usd_per_rig"] = 1000
    sc["lanes"][1]["ship_usd_per_rig"] = 5000
    sc["lanes"][2]["ship_usd_per_rig"] = 5000
    s = solve_dict(sc, tmp_path).summary
    assert s["rigs_relocated"] == pytest.approx(100)
    # 100 rigs x $1,000 = 100,000 upfront; 19,480 a month: five full months (97,400), then 2,600 / 19,480
    assert s["cash_payback_months"] == pytest.approx(5 + 2_600 / 19_480, rel=1e-12)


def test_ban_probability_weighted_by_hand(tmp_path):
    # risk_aversion 0 keeps the plan of the hand example (survival trims ops by a few percent only):
    # 10,000 TH/s at S1 (reg_risk 0.1), 5,000 TH/s at S2 (reg_risk 0.05). Over 12 months the ban
    # probability is reg_risk itself: (0.1 * 10,000 + 0.05 * 5,000) / 15,000.
    sc = hand_scenario(policy={"risk_aversion": 0.0})
    sc["sites"][0]["reg_risk"] = 0.1
    sc["sites"][1]["reg_risk"] = 0.05
    s = solve_dict(sc, tmp_path).summary
    assert s["hashrate_relocated_ths"] == pytest.approx(15_000)
    assert s["expected_share_hashrate_banned"] == pytest.approx(1_250 / 15_000, rel=1e-12)
    # J1 and J2 are both used: the chance at least one bans within 12 months is 1 - 0.9 * 0.95.
    assert s["prob_any_ban"] == pytest.approx(1 - 0.9 * 0.95, rel=1e-12)


def test_payback_against_selling_by_hand(tmp_path):
    # The hand plan relocates 150 rigs of A that would fetch $1,000 each today: 150,000 given up, plus
    # 15,000 upfront, repaid at 23,741.25 a month: six full months (142,447.5), then 22,552.5 / 23,741.25.
    s = solve_dict(hand_scenario(), tmp_path).summary
    assert s["resale_forgone_usd"] == pytest.approx(150_000)
    assert s["payback_vs_selling_months"] == pytest.approx(6 + 22_552.5 / 23_741.25, rel=1e-12)
    assert s["cash_payback_months"] < s["payback_vs_selling_months"]


def test_expected_value_and_risk_charge_are_separate(tmp_path):
    # With S1 at reg_risk 0.1 the plan does not move between risk aversion 1 and 3 (A at S1 is worth far more
    # than elsewhere), so the expected value must not move either; only the charge triples:
    # 100 rigs x lambda x 0.1 (12-month ban chance) x $1,000 resale.
    sc = hand_scenario()
    sc["sites"][0]["reg_risk"] = 0.1
    low = solve_dict(sc, tmp_path, **{"policy.risk_aversion": 1.0}).summary
    high = solve_dict(sc, tmp_path, **{"policy.risk_aversion": 3.0}).summary
    assert low["rigs_relocated"] == pytest.approx(high["rigs_relocated"])
    assert low["risk_charge_usd"] == pytest.approx(100 * 1.0 * 0.1 * 1000, rel=1e-9)
    assert high["risk_charge_usd"] == pytest.approx(100 * 3.0 * 0.1 * 1000, rel=1e-9)
    assert high["expected_value_usd"] == pytest.approx(low["expected_value_usd"], rel=1e-12)
    assert low["objective_usd"] - high["objective_usd"] == pytest.approx(20_000, rel=1e-9)
    for s in (low, high):
        assert s["expected_value_usd"] == pytest.approx(s["objective_usd"] + s["risk_charge_usd"], rel=1e-12)
        assert s["value_vs_sell_all_usd"] == pytest.approx(s["expected_value_usd"] - (150 * 1000 + 200 * 50), rel=1e-12)


@pytest.mark.parametrize("backend", ["pulp", "direct"])
def test_mip_best_bound_by_hand(tmp_path, backend):
    # The hand MIP: S2's $20,000 opening cost keeps it shut; the proven optimum is
    # 100 * V(A, S1) + 50 * 1000 + 200 * 50, and at a proven optimum the bound is that value.
    sc = hand_scenario()
    sc["sites"][1]["fixed_cost_usd"] = 20_000
    s = solve_dict(sc, tmp_path, ("highs", backend)).summary
    optimum = 100 * V_A_S1 + 50 * 1000 + 200 * 50
    assert s["status"] == "optimal" and s["mode"] == "mip"
    assert s["objective_usd"] == pytest.approx(optimum, rel=1e-9)
    assert s["best_bound_usd"] == pytest.approx(optimum, rel=1e-8)
    assert s["best_bound_usd"] >= s["objective_usd"] - 1e-6 * optimum


def _duals(scn):
    econ = economics.compute(scn)
    model = build_model(scn, econ)
    raw = solve_model(model, scn.settings.solver)
    return econ, raw, analysis.read_duals(scn, econ, model, raw)


def _within_slopes(dual: float, up: float, down: float, rel: float) -> bool:
    # The objective is concave in a right-hand side: right slope <= dual <= left slope.
    slack = rel * max(abs(up), abs(down), 1e-9)
    return up - slack <= dual <= down + slack


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: "-".join(s))
def test_jurisdiction_cap_duals_match_finite_differences(tmp_path, solver):
    sc = generated(11, max_jurisdiction_share=0.2)  # all three caps bind here
    base = optimizer.load_scenario(sb.write(sc, tmp_path / "scn"), {"solver.name": solver[0], "solver.backend": solver[1]})
    econ, raw, duals = _duals(base)
    total_ths = float((econ.hashrate_ths * econ.count).sum())
    rel = 5e-3 if solver[0] == "cbc" else 1e-4
    binding = {j: d for j, d in duals.jurisdiction.items() if d > 1e-6}
    assert binding, duals.jurisdiction
    h = 0.001  # of the fleet's hashrate: the cap moves by h * total TH/s

    def objective(share: float) -> float:
        return optimizer.solve(base.with_overrides({"policy.max_jurisdiction_share": share})).summary["objective_usd"]

    up = (objective(0.2 + h) - raw.objective) / (h * total_ths)
    down = (raw.objective - objective(0.2 - h)) / (h * total_ths)
    # Moving the share moves every jurisdiction's cap at once: the slope is the sum of the cap duals.
    assert _within_slopes(sum(binding.values()), up, down, rel), (binding, up, down)
    # and the table reports the same duals per jurisdiction
    table = optimizer.solve(base).jurisdictions.set_index("jurisdiction")["shadow_usd_per_ths"]
    for j, d in duals.jurisdiction.items():
        assert table[j] == pytest.approx(d, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: "-".join(s))
def test_fleet_duals_match_finite_differences(tmp_path, solver):
    """One more rig of a batch (or one fewer) changes the plan's value by that batch's fleet dual."""
    sc = generated(11, budget_usd=3e6)  # no jurisdiction cap: the cap's right-hand side would move with the fleet
    base = optimizer.load_scenario(sb.write(sc, tmp_path / "scn"), {"solver.name": solver[0], "solver.backend": solver[1]})
    econ, raw, duals = _duals(base)
    rel = 5e-3 if solver[0] == "cbc" else 1e-4
    groups = economics.groups(base)
    checked = 0
    for g in np.argsort(-econ.count)[:3]:
        origin, model = groups.loc[g, "origin"], groups.loc[g, "model"]

        def objective(delta: int) -> float:
            fleet = base.fleet.copy()
            hit = (fleet["origin"] == origin) & (fleet["model"] == model)
            fleet.loc[hit, "count"] += delta
            return optimizer.solve(base.with_tables(fleet=fleet)).summary["objective_usd"]

        up, down = objective(1) - raw.objective, raw.objective - objective(-1)
        assert _within_slopes(duals.fleet[g], up, down, rel), (origin, model, duals.fleet[g], up, down)
        # a rig is worth at least what selling it fetches
        assert duals.fleet[g] >= econ.resale_usd[g] * (1 - 1e-9) - 1e-6
        checked += 1
    assert checked == 3
