"""MIP starts (optimizer/solver/mip_start.py) on OR-Library capacitated facility location instances with
published optima: the start is a feasible plan of the full model (linking rows included), its value
is what the plan's columns say, no better than the optimum, and the Lagrangian bound is a true bound."""
from __future__ import annotations

import time
from pathlib import Path

import highspy
import numpy as np
import pytest

import optimizer
from bench import orlib
from optimizer import economics, model as M
from optimizer.solver import mip_start

CHINA = Path(__file__).resolve().parents[1] / "datasets" / "china-2021"


def _model(tmp_path, name: str):
    scn = optimizer.load_scenario(orlib.write_scenario(orlib.read(name), tmp_path / name))
    return scn, M.build_model(scn, economics.compute(scn))


@pytest.mark.parametrize("name", ["cap41", "cap71", "cap101", "cap131"])
def test_start_is_feasible_and_bounded(tmp_path, name):
    scn, lm = _model(tmp_path, name)
    assert lm.mode == "mip" and lm.block("link") is not None
    start = mip_start.find_start(lm, scn.settings.solver, time.perf_counter() + 60)
    assert start is not None
    x = start.x
    # feasible for every row of the model, linking rows included; y binary; x within bounds
    lo, up = lm.row_bounds()
    ax = lm.matrix() @ x
    tol = 1e-6 * np.maximum(1.0, np.abs(np.where(np.isfinite(up), up, lo)))
    assert (ax <= up + tol).all() and (ax >= lo - tol).all()
    assert set(np.unique(x[lm.y_col])) <= {0.0, 1.0}
    assert (x >= lm.lower - 1e-9).all() and (x <= lm.upper + 1e-9).all()
    assert float(lm.cost @ x) == pytest.approx(start.objective, rel=1e-9)
    # costs are minimised (value = -cost): the start costs at least the optimum, the bound at most
    optimum = orlib.published_optimum(name)
    assert -start.objective >= optimum * (1 - 1e-9)
    assert -start.relaxation <= optimum * (1 + 1e-9)
    assert -start.objective <= optimum * 1.05  # a good start, not just a feasible one


def test_gap_uses_the_tighter_bound():
    start = mip_start.Start(np.zeros(1), -110.0, -100.0, 0.0, 1)
    assert mip_start.tighten(-110.0, 1.0, 0.0, start) == pytest.approx((10 / 110, -100.0))  # |bound - plan| / |plan|
    assert mip_start.tighten(-110.0, 0.05, -104.5, start) == (0.05, -104.5)  # HiGHS's bound is tighter


# ---------------------------------------------------------------- whole rigs (integer x): the rounded start

def _china_whole_rigs(multiplier: float):
    from optimizer import engine

    scn = optimizer.load_scenario(CHINA, {"policy.integer_rigs": True, "policy.power_price_multiplier": multiplier})
    scn, _ = engine.prepare(scn)
    return scn, M.build_model(scn, economics.compute(scn))


def _assert_feasible_whole(lm, x):
    lo, up = lm.row_bounds()
    ax = lm.matrix() @ x
    tol = 1e-6 * np.maximum(1.0, np.abs(np.where(np.isfinite(up), up, lo)))
    assert (ax <= up + tol).all() and (ax >= lo - tol).all()
    ints = np.asarray(lm.integer, bool)
    assert np.array_equal(x[ints], np.round(x[ints]))
    assert (x >= lm.lower - 1e-9).all() and (x <= lm.upper + 1e-9).all()


@pytest.mark.parametrize("multiplier", [0.7, 1.15, 2.0])
def test_whole_rig_start_is_proven_against_highs_own_search(multiplier):
    """china-2021 in whole rigs, the app's default: the rounded start is a feasible whole-rig plan, no better
    than HiGHS's own proven bound, its bound no lower than HiGHS's own plan, and within solver.mip_gap of
    HiGHS's bound, so the engine returns it (backend ``pulp+start``) without a search."""
    scn, lm = _china_whole_rigs(multiplier)
    start = mip_start.find_start(lm, scn.settings.solver, time.perf_counter() + 60)
    assert start is not None
    _assert_feasible_whole(lm, start.x)
    assert float(lm.cost @ start.x) == pytest.approx(start.objective, rel=1e-12)
    h = highspy.Highs()  # HiGHS's own branch and bound, cold, to the same gap
    for key, value in {"output_flag": False, "threads": 1, "mip_rel_gap": 1e-4, "time_limit": 120.0}.items():
        h.setOptionValue(key, value)
    h.passModel(M.to_highs(lm))
    h.run()
    primal, dual = h.getInfo().objective_function_value, h.getInfo().mip_dual_bound
    assert start.objective <= dual * (1 + 1e-9)
    assert start.relaxation >= primal * (1 - 1e-9)
    assert mip_start.proven(start, scn.settings.solver)
    assert start.objective >= dual * (1 - 1e-4)
    res = optimizer.solve(scn, details=False)
    assert res.summary["backend"] == "pulp+start" and res.summary["status"] == "optimal"
    assert res.summary["objective_usd"] == pytest.approx(start.objective, rel=1e-9)


from tests.test_property import COMMON, scenarios  # noqa: E402 - the random scenarios of the property tests
from hypothesis import given, settings as hsettings  # noqa: E402


@hsettings(max_examples=40, **COMMON)
@given(sc=scenarios(mip=True))
def test_whole_rig_start_against_independent_milp(sc, tmp_path_factory):
    """Random whole-rig scenarios: when a rounded start exists it is feasible and whole, no better than the
    exact optimum of tests/reference_model.py (scipy's milp at gap 1e-9), its bound no lower; when the
    engine takes it as proven it is within solver.mip_gap of that optimum."""
    from tests import reference_model, scenario_builder as sb

    sc["policy"]["integer_rigs"] = True
    exact = {**sc, "solver": {**sc["solver"], "mip_gap": 1e-9}}
    optimum = reference_model.optimum(exact)
    folder = sb.write(sc, tmp_path_factory.mktemp("s") / "s")
    from optimizer import engine

    try:
        scn, _ = engine.prepare(optimizer.load_scenario(folder))
    except optimizer.ScenarioError:
        return
    lm = M.build_model(scn, economics.compute(scn))
    start = mip_start.find_start(lm, scn.settings.solver, time.perf_counter() + 60)
    if start is None or optimum is None:
        assert optimum is not None or start is None  # a start is a feasible plan: none exists when infeasible
        return
    _assert_feasible_whole(lm, start.x)
    tol = 1e-6 * max(1.0, abs(optimum))
    assert start.objective <= optimum + tol
    assert start.relaxation >= optimum - tol
    if mip_start.proven(start, scn.settings.solver):
        assert start.objective >= optimum - scn.settings.solver.mip_gap * abs(start.objective) - tol
