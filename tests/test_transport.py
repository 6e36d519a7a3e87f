"""Column generation (optimizer/solver/transport.py) against the plain PuLP model: same optimum, and duals
that certify it (dual feasible for every column of the unpruned model, dual objective equal to the
optimum), on random scenarios and on a marketplace big enough to take the sampled-dual start."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import optimizer
from bench import marketplace
from optimizer import economics, model as M
from optimizer.solver import transport
from tests import scenario_builder as sb
from tests.test_property import scenarios

PLAIN = {"solver.backend": "pulp", "solver.lp_algorithm": "choose", "solver.prune_dominated": False}


def assert_certified(scn: optimizer.Scenario, row_dual: np.ndarray, optimum: float) -> None:
    """row_dual is an optimal dual of the plain (unpruned) LP whose optimum is ``optimum``.

    Weak duality re-derived here: with reduced costs c - A^T y <= 0 on every column (all are
    x >= 0 without upper bound in LP mode) and y >= 0 on <= rows, c^T x <= y^T b for every plan,
    so y^T b == optimum proves both optimal.
    """
    plain = scn.with_overrides({"solver.prune_dominated": False})
    lm = M.build_model(plain, economics.compute(plain))
    assert not np.isfinite(lm.upper).any() and (lm.lower == 0).all()
    A = lm.matrix()
    lo, up = lm.row_bounds()
    assert len(row_dual) == lm.n_rows
    scale = max(1.0, float(np.abs(lm.cost).max()))
    rc = lm.cost - A.T @ row_dual
    assert rc.max() <= 1e-6 * scale, rc.max()
    le = np.isinf(lo)
    assert (row_dual[le] >= -1e-6 * scale).all()
    rhs = np.where(le, up, lo)
    dual_obj = float(row_dual @ rhs)
    assert dual_obj == pytest.approx(optimum, rel=1e-7, abs=1e-6 * scale)


def solve_columns(scn: optimizer.Scenario):
    econ = economics.compute(scn)
    lm = M.build_model(scn, econ)
    if not transport.eligible(lm, scn.settings.solver):
        return lm, None
    return lm, transport.solve_columns(lm, scn.settings.solver)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(mip=False), st.booleans())
def test_columns_match_plain_pulp_on_random_scenarios(sc, prune):
    sc["policy"]["allow_sell"] = sc["policy"]["allow_sell"] or not sc["policy"]["allow_idle"]  # eligibility
    with tempfile.TemporaryDirectory() as tmp:
        scn = optimizer.load_scenario(sb.write(sc, Path(tmp) / "s"), {"solver.prune_dominated": prune})
    try:
        plain = optimizer.solve(scn.with_overrides(PLAIN))
    except optimizer.InfeasibleError:
        return  # with selling allowed x = 0 is a plan; only a bad budget could make it infeasible
    lm, raw = solve_columns(scn)
    assume(raw is not None)  # no relocation column at all (empty fleet or every pair pruned)
    assert raw.status == "optimal"
    assert raw.objective == pytest.approx(plain.summary["objective_usd"], rel=1e-7, abs=1e-6)
    assert_certified(scn, raw.row_dual, plain.summary["objective_usd"])
    res = optimizer.solve(scn.with_overrides({"solver.backend": "columns"}))
    assert res.summary["backend"] == "columns"
    assert res.summary["objective_usd"] == pytest.approx(plain.summary["objective_usd"], rel=1e-7, abs=1e-6)


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    folder = marketplace.write(tmp_path_factory.mktemp("m") / "market-600", 600, 3, 4, seed=5)
    return optimizer.load_scenario(folder)


@pytest.mark.parametrize("overrides", [{}, {"policy.max_jurisdiction_share": 0.2, "policy.budget_usd": 2e6},
                                       {"market.btc_price_usd": 80000.0}, {"policy.allow_sell": False}])
def test_sampled_start_matches_plain_pulp(market, overrides, monkeypatch):
    """A sample of the sites (not all of them) estimates the starting duals; the optimum is the same."""
    monkeypatch.setattr(transport, "SAMPLE_MIN_SITES", 60)
    scn = market.with_overrides(overrides)
    plain = optimizer.solve(scn.with_overrides(PLAIN))
    lm, raw = solve_columns(scn)
    assert raw.status == "optimal"
    assert raw.objective == pytest.approx(plain.summary["objective_usd"], rel=1e-7)
    assert_certified(scn, raw.row_dual, plain.summary["objective_usd"])


def test_columns_shadow_prices_match_finite_differences(market):
    """A binding site's shadow price from the columns path predicts the plan value's change."""
    base = market.with_overrides({"solver.backend": "columns", "policy.max_jurisdiction_share": 0.3})
    res = optimizer.solve(base)
    assert res.summary["backend"] == "columns"
    obj = res.summary["objective_usd"]

    def with_capacity(site: str, delta: float) -> float:
        sites = base.sites.copy()
        sites.loc[sites["site"] == site, "capacity_mw"] += delta
        return optimizer.solve(base.with_tables(sites=sites)).summary["objective_usd"]

    binding = res.sites[(res.sites["shadow_usd_per_mw"] > 1.0) & (res.sites["capacity_mw"] > 0.1)].head(3)
    assert len(binding)
    for _, s in binding.iterrows():
        h = 0.005
        up = (with_capacity(s["site"], h) - obj) / h
        down = (obj - with_capacity(s["site"], -h)) / h
        slack = 1e-4 * max(abs(up), abs(down))
        assert up - slack <= s["shadow_usd_per_mw"] <= down + slack, (s["site"], s["shadow_usd_per_mw"], up, down)
