"""The invariant guard (optimizer/solver/guard.py): a solver point that breaks the plan's rules is never
reported as a plan, on every solver path (HiGHS through PuLP, HiGHS direct, CBC through PuLP;
LP and MIP); and solver statuses are read for what they are (a time-limit stop is never called
infeasible, and no reason is given that the settings in force contradict)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import optimizer
from optimizer.solver import cbcstatus, diagnose
from optimizer import economics, engine
from optimizer.cli import main as cli_main
from optimizer.inputs.errors import SolverFailure
from tests import scenario_builder as sb
from tests.test_engine import hand_scenario as hand  # the worked example: A fills S1, 50 more A go to S2, B is sold
from tests.conftest import SOLVER_PATHS, path_id

ROOT = Path(__file__).resolve().parents[1]
PATHS = SOLVER_PATHS  # tests/conftest.py


def load(tmp_path, sc, path, mode, **overrides) -> optimizer.Scenario:
    if mode == "mip":
        overrides["policy.integer_rigs"] = True
    folder = sb.write(sc, tmp_path / f"scn{len(list(tmp_path.iterdir()))}")
    return optimizer.load_scenario(folder, {"solver.name": path[0], "solver.backend": path[1], **overrides})


def col(model, g: int, s: int) -> int:
    hit = np.nonzero((model.x_group == g) & (model.x_site == s))[0]
    assert len(hit) == 1, (g, s)
    return int(hit[0])


def breaking(monkeypatch, breaker):
    """Make engine.solve see the real solver's point, then ``breaker(model, raw)`` applied to it."""
    real = engine.solve_model
    seen = {}

    def wrapped(model, settings):
        raw = real(model, settings)
        seen["raw"] = dataclasses.replace(raw, x=raw.x.copy())
        breaker(model, raw)
        return raw

    monkeypatch.setattr(engine, "solve_model", wrapped)
    return seen


def move(model, raw, frm: int, to: int, rigs: float) -> None:
    raw.x[frm] -= rigs
    raw.x[to] += rigs


# Each break keeps every rule but one (checked by the solve before the break passing the guard).
BREAKS = {
    "fleet row": lambda m, r: r.x.__setitem__(col(m, 0, 1), r.x[col(m, 0, 1)] + 7),
    "negative": lambda m, r: move(m, r, int(m.idle_col[1]), int(m.sell_col[1]), 3),  # B: sell 203, store -3
    "capacity": lambda m, r: move(m, r, col(m, 0, 1), col(m, 0, 0), 10),
    "reported value": lambda m, r: setattr(r, "objective", r.objective + 5000.0),
}


@pytest.mark.parametrize("path", PATHS, ids=path_id)
@pytest.mark.parametrize("mode", ["lp", "mip"])
@pytest.mark.parametrize("what", list(BREAKS))
def test_broken_points_are_refused(tmp_path, monkeypatch, path, mode, what):
    scn = load(tmp_path, hand(), path, mode)
    breaking(monkeypatch, BREAKS[what])
    with pytest.raises(SolverFailure, match="the solver stopped without a plan") as err:
        optimizer.solve(scn)
    assert what in str(err.value)
    assert "optimal" not in str(err.value).lower() and "best plan" not in str(err.value)
    # The unbroken point was a plan: the same scenario solves, and the guard accepts it.
    monkeypatch.undo()
    res = optimizer.solve(scn)
    assert res.summary["status"] == "optimal"


@pytest.mark.parametrize("path", PATHS, ids=path_id)
def test_fractional_rigs_refused_when_whole_rigs_are_asked(tmp_path, monkeypatch, path):
    scn = load(tmp_path, hand(), path, "mip")
    breaking(monkeypatch, lambda m, r: move(m, r, col(m, 0, 1), int(m.sell_col[0]), 0.5))
    with pytest.raises(SolverFailure, match="not whole rigs"):
        optimizer.solve(scn)


def _model_built_from(monkeypatch, change):
    """A model-building bug: the solver is handed the model of a scenario with ``change`` applied."""
    real = engine.build_model

    def wrong(scn, econ):
        return real(change(scn), econ)

    monkeypatch.setattr(engine, "build_model", wrong)


@pytest.mark.parametrize("path", PATHS, ids=path_id)
@pytest.mark.parametrize("mode", ["lp", "mip"])
@pytest.mark.parametrize("rule,overrides,undo,phrase", [
    ("exclusion", {"policy.exclude_jurisdictions": ["J1"]}, {"policy.exclude_jurisdictions": []}, "excluded"),
    ("cap", {"policy.max_jurisdiction_share": 0.2}, {"policy.max_jurisdiction_share": 1.0}, "above its cap"),
    ("budget", {"policy.budget_usd": 5000.0}, {"policy.budget_usd": None}, "above the budget"),
    ("no selling", {"policy.allow_sell": False}, {"policy.allow_sell": True}, "selling is switched off"),
])
def test_points_of_a_wrong_model_are_refused(tmp_path, monkeypatch, path, mode, rule, overrides, undo, phrase):
    scn = load(tmp_path, hand(), path, mode, **overrides)
    _model_built_from(monkeypatch, lambda s: s.with_overrides(undo))
    with pytest.raises(SolverFailure, match="stopped without a plan") as err:
        optimizer.solve(scn)
    assert phrase in str(err.value)


@pytest.mark.parametrize("path", PATHS, ids=path_id)
def test_site_minimum_and_closed_sites(tmp_path, monkeypatch, path):
    sc = hand()
    sc["sites"][2]["fixed_cost_usd"] = 1.0  # MIP: site decisions
    sc["sites"][1]["min_mw"] = 1.0  # S2 cannot be filled to 1 MW by this fleet (0.73 MW in all)
    scn = load(tmp_path, sc, path, "lp")
    assert optimizer.solve(scn).sites.set_index("site").loc["S2", "mw_used"] == 0
    no_min = lambda s: dataclasses.replace(s, sites=s.sites.assign(min_mw=0.0))  # noqa: E731
    _model_built_from(monkeypatch, no_min)
    with pytest.raises(SolverFailure, match="below its minimum"):
        optimizer.solve(scn)
    monkeypatch.undo()
    # Rigs at a site the point leaves closed.
    def close_s1(m, r):
        r.x[int(m.y_col[0])] = 0.0
    breaking(monkeypatch, close_s1)
    with pytest.raises(SolverFailure, match="it is not opened"):
        optimizer.solve(scn)


def test_cli_exits_4_and_writes_nothing_for_a_broken_point(tmp_path, monkeypatch, capsys):
    folder = sb.write(hand(), tmp_path / "scn")
    breaking(monkeypatch, BREAKS["capacity"])
    rc = cli_main(["solve", str(folder), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 4
    assert "the solver stopped without a plan" in err and "S1" in err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- statuses


@pytest.mark.slow
def test_cbc_time_limit_stop_is_not_a_plan(tmp_path, capsys):
    # CBC checks its clock between phases: on a fast run it may finish the LP first (then the plan is
    # optimal and passes the guard); otherwise it hands back its current, rule-breaking simplex point,
    # which PuLP calls "Optimal". Either way no broken plan is written.
    rc = cli_main(["solve", str(ROOT / "datasets" / "china-2021"), "--solver", "cbc",
                   "--set", "solver.time_limit_s=0.000001", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert "infeasible" not in err.lower() and "best plan found" not in err
    if rc == 0:
        import json
        summary = json.loads((tmp_path / "o" / "summary.json").read_text())
        assert summary["status"] == "optimal"
        assert summary["rigs_relocated"] + summary["rigs_sold"] + summary["rigs_idle"] == pytest.approx(39000)
    else:
        assert rc == 4
        assert "stopped without a plan" in err or "before finding any plan" in err
        assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("line,kind", [
    ("Optimal - objective value 12.5", "optimal"),
    ("Infeasible - objective value 0", "infeasible"),
    ("Integer infeasible - objective value 800636381.00446677", "infeasible"),
    ("Stopped on time - objective value 673288140.69", "stopped_with_point"),
    ("Stopped on iterations - objective value 1", "stopped_with_point"),
    ("Stopped on time (no integer solution - continuous used) - objective value 8.0", "stopped"),
    ("Unbounded - objective value 0", "unbounded"),
    ("", "stopped"),
])
def test_cbc_status_lines(line, kind):
    assert cbcstatus.classify(line) == kind


def _fake_cbc_line(monkeypatch, line: str):
    def get_status(self, filename):
        self.status_line = line
        return pulp_get_status(self, filename)

    pulp_get_status = cbcstatus.pulp.COIN_CMD.get_status
    monkeypatch.setattr(cbcstatus.StatusReadingCBC, "get_status", get_status)


def test_cbc_infeasible_claim_with_selling_on_is_not_called_infeasible(tmp_path, monkeypatch):
    # PuLP reads CBC's "Integer infeasible" line (seen on a 3,000-site whole-rig marketplace stopped
    # at its time limit) as LpStatusInfeasible; selling is on, so it cannot be true.
    scn = load(tmp_path, hand(), ("cbc", "pulp"), "mip")
    _fake_cbc_line(monkeypatch, "Integer infeasible - objective value 1")
    with pytest.raises(SolverFailure) as err:
        optimizer.solve(scn)
    text = str(err.value)
    assert "stopped without a plan" in text and "selling or storing every rig is always a plan" in text
    assert "switched off" not in text


@pytest.mark.parametrize("path", PATHS, ids=path_id)
def test_infeasible_at_the_time_limit_is_a_time_limit_stop(tmp_path, monkeypatch, path):
    scn = load(tmp_path, hand(), path, "mip", **{"policy.allow_sell": False, "policy.allow_idle": False,
                                               "solver.time_limit_s": 5.0})
    real = engine.solve_model
    monkeypatch.setattr(engine, "solve_model", lambda m, s: dataclasses.replace(real(m, s), status="infeasible", seconds=5.0))
    with pytest.raises(SolverFailure, match="time limit") as err:
        optimizer.solve(scn)
    assert "infeasible" not in str(err.value).lower()


def test_infeasibility_reasons_follow_the_settings_in_force(tmp_path):
    # Selling off, storing on: the fleet cannot be "every rig must be relocated".
    sc = hand()
    scn = load(tmp_path, sc, ("highs", "pulp"), "lp", **{"policy.allow_sell": False})
    econ = economics.compute(scn)
    model = engine.build_model(scn, econ)
    reasons = diagnose.explain_infeasible(scn, econ, model)
    assert not any("selling and storing are both switched off" in r for r in reasons)
    scn2 = scn.with_overrides({"policy.allow_idle": False})
    reasons = diagnose.explain_infeasible(scn2, economics.compute(scn2), model)
    assert all("switched off" not in r for r in reasons[1:])


def test_really_infeasible_still_explained(tmp_path):
    sc = hand()
    for s in sc["sites"]:
        s["capacity_mw"] = 0.1
    scn = load(tmp_path, sc, ("cbc", "pulp"), "lp", **{"policy.allow_sell": False, "policy.allow_idle": False})
    with pytest.raises(optimizer.InfeasibleError) as err:
        optimizer.solve(scn)
    assert "selling and storing are both switched off" in str(err.value)
    assert "only 0.3 MW" in str(err.value)


@pytest.mark.slow
def test_cbc_whole_rig_marketplace_stopped_at_its_limit_is_not_infeasible(tmp_path, capsys):
    # Measured here: CBC 2.10.3 writes "Integer infeasible" when a whole-rig run on a 1,500-site
    # marketplace stops at a 2 s limit (selling is on, so a plan exists); PuLP reads it as infeasible.
    from bench.marketplace import write

    folder = write(tmp_path / "mkt", 1500, 8, 8)
    rc = cli_main(["solve", str(folder), "--solver", "cbc", "--set", "solver.time_limit_s=2",
                   "--set", "policy.integer_rigs=true", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc in (0, 4), err
    assert "infeasible" not in err.lower() and "switched off" not in err
    if rc == 4:
        assert "time limit" in err and not (tmp_path / "o").exists()


@pytest.mark.parametrize("path", PATHS, ids=path_id)
def test_the_risk_aware_plan_is_guarded_too(tmp_path, monkeypatch, path):
    from optimizer import risk
    from optimizer.risk import samples

    scn = load(tmp_path, hand(), path, "lp", **{"risk.weight": 0.5})
    sample_set = samples.draw(scn, n=20, seed=1)
    assert risk.solve_risk(scn, sample_set).summary["rigs_total"] == 350  # the unbroken point is a plan
    real = risk.solve_model

    def broken(model, settings):
        raw = real(model, settings)
        raw.x[col(model, 0, 0)] += 10  # S1 over capacity, fleet row off
        return raw

    monkeypatch.setattr(risk, "solve_model", broken)
    with pytest.raises(SolverFailure, match="stopped without a plan"):
        risk.solve_risk(scn, sample_set)
