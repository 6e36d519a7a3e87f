"""Hypothesis: on random small scenarios, LP and MIP, the engine's optimum equals an independent
solve written from the formulas (tests/reference_model.py: scalar Python + scipy.optimize.milp),
with both solvers; infeasible exactly when the reference is."""
from __future__ import annotations

from pathlib import Path
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import optimizer
from tests import reference_model, scenario_builder as sb
from tests.conftest import SOLVERS

money = st.floats(min_value=0, max_value=5000, allow_nan=False, allow_infinity=False)


@st.composite
def scenarios(draw, mip: bool):
    n_models = draw(st.integers(1, 3))
    rigs = [{"model": f"R{i}", "hashrate_ths": draw(st.floats(5, 150)), "power_w": draw(st.floats(800, 3600)),
             "resale_usd": draw(money)} for i in range(n_models)]
    n_origins = draw(st.integers(1, 2))
    origins = [{"origin": f"O{i}", "country": "CN", "lat": draw(st.floats(20, 45)), "lon": draw(st.floats(80, 125))}
               for i in range(n_origins)]
    fleet = [{"origin": o["origin"], "model": r["model"], "count": draw(st.integers(0, 3000))} for o in origins for r in rigs]
    n_sites = draw(st.integers(1, 4))
    sites = []
    for i in range(n_sites):
        site = {"site": f"S{i}", "jurisdiction": f"J{draw(st.integers(0, 2))}", "lat": draw(st.floats(-60, 70)),
                "lon": draw(st.floats(-179, 179)), "capacity_mw": draw(st.floats(0, 6)),
                "power_usd_kwh": draw(st.floats(0, 0.15)), "hosting_usd_kw_month": draw(st.floats(0, 15)),
                "pue": draw(st.floats(1, 1.5)), "uptime": draw(st.floats(0.5, 1)), "reg_risk": draw(st.floats(0, 0.9)),
                "import_duty": draw(st.sampled_from([0.0, 0.1, 0.25]))}
        if mip:
            site["fixed_cost_usd"] = draw(st.sampled_from([0.0, 0.0, 20_000.0, 150_000.0]))
            site["min_mw"] = draw(st.sampled_from([0.0, 0.0, 0.5, 2.0]))
        sites.append(site)
    lanes = []
    if draw(st.booleans()):
        lanes.append({"origin": "O0", "site": "S0", "ship_usd_per_rig": draw(st.floats(0, 500)), "lead_days": draw(st.floats(0, 120))})
    policy = {
        "risk_aversion": draw(st.floats(0, 3)),
        "max_jurisdiction_share": draw(st.sampled_from([1.0, 1.0, 0.6, 0.35])),
        "budget_usd": draw(st.sampled_from([None, None, 50_000.0, 1e6])),
        "allow_sell": draw(st.booleans()),
        "allow_idle": draw(st.booleans()),
        "power_price_multiplier": draw(st.sampled_from([1.0, 0.8, 1.5])),
        "exclude_jurisdictions": draw(st.sampled_from([[], [], [sites[0]["jurisdiction"]]])),
        "integer_rigs": mip and draw(st.booleans()),
    }
    market = {"btc_price_usd": draw(st.floats(5000, 80000)), "network_hashrate_ehs": draw(st.floats(50, 600)),
              "hashprice_monthly_change": draw(st.floats(-0.08, 0.03))}
    horizon = {"months": draw(st.integers(1, 36)), "discount_rate": draw(st.floats(0, 0.3)),
               "salvage_fraction": draw(st.floats(0, 0.6))}
    return sb.scenario(rigs, origins, fleet, sites, lanes, policy=policy, market=market, horizon=horizon)


def check(sc: dict, solver: str) -> None:
    expected = reference_model.optimum(sc)
    with tempfile.TemporaryDirectory() as tmp:
        scn = optimizer.load_scenario(sb.write(sc, Path(tmp) / "s"), {"solver.name": solver})
        if expected is None:
            with pytest.raises(optimizer.InfeasibleError) as info:
                optimizer.solve(scn)
            assert info.value.reasons
            return
        res = optimizer.solve(scn)
    assert res.summary["status"] == "optimal"
    # CBC reports values to ~8 significant digits
    rel = 1e-6 if solver == "highs" else 2e-6
    assert res.summary["objective_usd"] == pytest.approx(expected, rel=rel, abs=1e-2)
    fixed = res.summary["fixed_costs_usd"]
    assert res.allocation["value_usd"].sum() - fixed == pytest.approx(res.summary["objective_usd"], rel=1e-6, abs=1e-2)


COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@pytest.mark.parametrize("solver", SOLVERS)
@settings(max_examples=60, **COMMON)
@given(sc=scenarios(mip=False))
def test_lp_matches_independent_model(solver, sc):
    check(sc, solver)


@pytest.mark.parametrize("solver", SOLVERS)
@settings(max_examples=40, **COMMON)
@given(sc=scenarios(mip=True))
def test_mip_matches_independent_model(solver, sc):
    check(sc, solver)
