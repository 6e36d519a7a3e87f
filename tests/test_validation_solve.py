"""Scenarios that load but are hard to plan: infeasible ones are explained in business terms
(exit 3), numerically awkward ones solve correctly, and a solver that stops early or fails
leaves a clear message (exit 4) and a usable engine."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from rigshift_testkit import check_invariants, files_with, run_cli, tiny_files, tiny_text, write_folder  # noqa: E402

import optimizer  # noqa: E402
from optimizer import InfeasibleError, SolverFailure  # noqa: E402
from optimizer.cli import main as cli_main  # noqa: E402
from tests.conftest import SOLVERS  # noqa: E402

SITES = tiny_text("sites.csv")
NO_EXIT = {"policy.allow_sell": False, "policy.allow_idle": False}
# The tiny fleet: 2000 S19 (3250 W), 5000 S9 (1350 W), 1500 M30S (3344 W): 18.266 MW at the wall,
# 19.18 MW at the lowest PUE (1.05). Its sites offer 8 + 6 + 4 + 3 = 21 MW.
SMALL_SITES = SITES.replace(",8,0.035", ",2,0.035").replace(",6,0.03", ",2,0.03").replace(",4,0.04", ",2,0.04") \
    .replace(",3,0.05", ",2,0.05")


def solve(files, overrides=None, solver=None):
    scn = optimizer.scenario_from_files(files, overrides)
    return scn, optimizer.solve(scn, solver=solver)


# ----------------------------------------------------------------------------- infeasible


@pytest.mark.parametrize("solver", SOLVERS)
def test_too_little_capacity_is_explained_in_mw(solver):
    with pytest.raises(InfeasibleError) as err:
        solve(files_with(sites_csv=SMALL_SITES), NO_EXIT, solver)
    text = str(err.value)
    assert "the fleet needs at least 19.2 MW but only 8.0 MW are open to it" in text, text
    assert "selling and storing are both switched off" in text
    assert "policy.allow_sell" in text  # what to change


def test_excluded_jurisdictions_leave_too_little_capacity():
    with pytest.raises(InfeasibleError) as err:
        solve(tiny_files(), {**NO_EXIT, "policy.exclude_jurisdictions": ["Texas"]})
    assert "needs at least 19.2 MW but only 13.0 MW are open to it" in str(err.value)
    with pytest.raises(InfeasibleError) as err:
        solve(tiny_files(), {**NO_EXIT, "policy.exclude_jurisdictions": ["Texas", "Kazakhstan", "Quebec", "Georgia"]})
    assert "every site is in an excluded jurisdiction" in str(err.value)


def test_budget_too_small_is_explained_in_dollars():
    with pytest.raises(InfeasibleError) as err:
        solve(tiny_files(), {**NO_EXIT, "policy.budget_usd": 1000.0})
    text = str(err.value)
    assert "relocating all 8,500 rigs costs at least $" in text and "but the budget is $1,000" in text, text


def test_jurisdiction_cap_needs_more_jurisdictions():
    with pytest.raises(InfeasibleError) as err:
        solve(tiny_files(), {**NO_EXIT, "policy.max_jurisdiction_share": 0.2})
    assert "needs at least 5 jurisdictions, but only 4 are open" in str(err.value)


def test_same_scenarios_are_feasible_when_selling_is_allowed():
    scn, res = solve(files_with(sites_csv=SMALL_SITES), {"policy.allow_idle": False})
    check_invariants(scn, res)
    assert res.summary["mw_relocated"] == pytest.approx(8.0, rel=1e-6)
    assert res.summary["rigs_sold"] > 0


def test_cli_exit_3_with_business_reason(tmp_path):
    folder = write_folder(tmp_path / "scn", files_with(sites_csv=SMALL_SITES))
    proc = run_cli("solve", str(folder), "--out", str(tmp_path / "out"),
                   "--set", "policy.allow_sell=false", "--set", "policy.allow_idle=false")
    assert proc.returncode == 3, proc
    assert "no feasible plan" in proc.stderr
    assert "the fleet needs at least 19.2 MW but only 8.0 MW are open to it" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "allocation.csv").exists()


# ----------------------------------------------------------------------------- numerically awkward


@pytest.mark.parametrize("solver", SOLVERS)
def test_microwatt_capacity(solver):
    sites = SITES.replace(",8,0.035", ",1e-6,0.035").replace(",6,0.03", ",1e-6,0.03") \
        .replace(",4,0.04", ",1e-6,0.04").replace(",3,0.05", ",0.000001,0.05")
    scn, res = solve(files_with(sites_csv=sites), None, solver)
    check_invariants(scn, res)
    assert res.summary["mw_relocated"] <= 4e-6 * (1 + 1e-6)
    assert res.summary["rigs_sold"] + res.summary["rigs_idle"] == pytest.approx(8500, abs=0.01)
    # Selling everything is worth 10.75 M$; the microwatts add at most a few dollars.
    assert res.summary["objective_usd"] == pytest.approx(res.summary["sell_all_usd"], abs=50)


@pytest.mark.parametrize("integer", [False, True])
def test_ten_million_rigs(integer):
    fleet = "origin,model,count\nSichuan,Antminer S19,10000000\nXinjiang,Antminer S9,3\n"
    sites = SITES.replace(",8,0.035", ",20000,0.035")  # Texas West: 20 GW, enough for ~5.8 M S19s
    # 950 EH/s of S19s out-hash a 100 EH/s network (bad input since issue 10 when the network sets the
    # hashprice): give today's derived hashprice, 144 * 6.25 * 1.05 * 35000 / 1e8, explicitly instead.
    scn, res = solve(files_with(fleet_csv=fleet, sites_csv=sites),
                     {"policy.integer_rigs": integer, "market.hashprice_usd_th_day": 0.33075})
    check_invariants(scn, res)
    s = res.summary
    assert s["status"] == "optimal"
    assert s["rigs_total"] == 10_000_003
    texas = res.sites.set_index("site").loc["Texas West"]
    assert texas["mw_used"] == pytest.approx(20000, rel=1e-6)
    if integer:
        assert (res.allocation["rigs"] == np.round(res.allocation["rigs"])).all()


@pytest.mark.parametrize("solver", SOLVERS)
def test_zero_prices(solver):
    # Bitcoin worth nothing: no rig earns anything, so every rig is sold (resale > salvage).
    scn, res = solve(tiny_files(), {"market.btc_price_usd": 0.0}, solver)
    check_invariants(scn, res)
    assert res.summary["hashprice_usd_th_day"] == 0
    assert res.summary["rigs_sold"] == pytest.approx(8500)
    assert res.summary["objective_usd"] == pytest.approx(res.summary["sell_all_usd"], rel=1e-9)
    # Free power, free freight, worthless rigs: relocating is worth the revenue; the plan still holds.
    sites = SITES.replace("0.035,", "0,").replace("0.03,", "0,").replace("0.04,", "0,").replace("0.05,", "0,")
    rigs = "model,hashrate_ths,power_w,resale_usd\nAntminer S19,95,3250,0\nWhatsminer M30S,88,3344,0\nAntminer S9,13.5,1350,0\n"
    scn, res = solve(files_with(sites_csv=sites, rigs_csv=rigs, lanes_csv=None),
                     {"logistics.ship_base_usd": 0, "logistics.ship_usd_per_1000km": 0}, solver)
    check_invariants(scn, res)
    assert res.summary["mw_relocated"] == pytest.approx(min(21.0, 19.18 * 1.0), rel=0.05)


def test_everything_zero_or_empty():
    zero_fleet = "origin,model,count\nSichuan,Antminer S19,0\n"
    scn, res = solve(files_with(fleet_csv=zero_fleet))
    check_invariants(scn, res)
    assert res.summary["objective_usd"] == 0 and len(res.allocation) == 0
    zero_cap = SITES.replace(",8,0.035", ",0,0.035").replace(",6,0.03", ",0,0.03").replace(",4,0.04", ",0,0.04") \
        .replace(",3,0.05", ",0,0.05")
    scn, res = solve(files_with(sites_csv=zero_cap))
    check_invariants(scn, res)
    assert res.summary["rigs_relocated"] == 0
    with pytest.raises(InfeasibleError):
        solve(files_with(sites_csv=zero_cap), NO_EXIT)


def test_extreme_but_accepted_values_solve():
    """The largest values the validator accepts still give a correct plan."""
    rigs = "model,hashrate_ths,power_w,resale_usd\nBig,100000,10000000,10000000\nSmall,0.000001,1,0\nAntminer S9,13.5,1350,90\n"
    fleet = "origin,model,count\nSichuan,Big,1000\nSichuan,Small,1000000000\nXinjiang,Antminer S9,5\n"
    sites = ("site,jurisdiction,lat,lon,capacity_mw,power_usd_kwh,pue,import_duty,fixed_cost_usd\n"
             "Huge,X,0,0,1000000,0.01,10,100,0\nTiny,Y,10,10,0.000001,100,1,0,0\nFree,Z,-10,-10,5,0,1,0,0\n")
    # (The fleet out-hashes the default network: the hashprice is given, so that is a warning, not bad input.)
    for overrides in ({"market.hashprice_usd_th_day": 0.33075}, {"market.hashprice_usd_th_day": 100000.0, "horizon.months": 600,
                           "policy.risk_aversion": 1e6}):
        scn, res = solve(files_with(rigs_csv=rigs, fleet_csv=fleet, sites_csv=sites, lanes_csv=None), overrides)
        check_invariants(scn, res)


# ----------------------------------------------------------------------------- time limit and solver failure


def cfl_files(n_sites: int = 80, n_origins: int = 6, seed: int = 7, time_limit: float = 60) -> dict[str, bytes]:
    """A capacitated facility-location MIP (fixed costs, site minimums, whole rigs, jurisdiction caps)
    that neither solver proves optimal at its first integer solution."""
    rng = np.random.default_rng(seed)
    models = {"S19": (95, 3250, 3200), "M30S": (88, 3344, 2600), "S9": (13.5, 1350, 90), "S17": (53, 2094, 900)}
    rigs = "model,hashrate_ths,power_w,resale_usd\n" + "".join(f"{m},{h},{p},{r}\n" for m, (h, p, r) in models.items())
    origins = "origin,country,lat,lon\n" + "".join(
        f"O{i},China,{rng.uniform(25, 45):.2f},{rng.uniform(80, 120):.2f}\n" for i in range(n_origins))
    fleet = "origin,model,count\n" + "".join(
        f"O{i},{m},{rng.integers(200, 2000)}\n" for i in range(n_origins) for m in models)
    sites = "site,jurisdiction,lat,lon,capacity_mw,power_usd_kwh,fixed_cost_usd,min_mw,reg_risk\n" + "".join(
        f"S{j},J{j % 9},{rng.uniform(-50, 60):.2f},{rng.uniform(-170, 170):.2f},{rng.uniform(1, 6):.2f},"
        f"{rng.uniform(0.02, 0.07):.4f},{rng.uniform(2e5, 2e6):.0f},{rng.uniform(0, 0.5):.2f},{rng.uniform(0, 0.2):.3f}\n"
        for j in range(n_sites))
    toml = (f"[policy]\ninteger_rigs = true\nmax_jurisdiction_share = 0.3\n"
            f"[solver]\ntime_limit_s = {time_limit}\nmip_gap = 0\n")
    return {"rigs.csv": rigs.encode(), "origins.csv": origins.encode(), "fleet.csv": fleet.encode(),
            "sites.csv": sites.encode(), "scenario.toml": toml.encode()}


@pytest.fixture
def stop_at_first_plan(monkeypatch):
    """A deterministic stand-in for a time limit (wall time depends on the machine): each solver
    stops at its first integer solution, as it would when time runs out, through the same status path.
    HiGHS reports that stop as a solution limit, which pulp.HiGHS cannot map, so HiGHS runs direct."""
    import optimizer.solver.backends as solvers

    highs_options, cbc_solver = solvers._highs_options, solvers._cbc_solver

    def first_plan_highs(model, settings):
        return {**highs_options(model, settings), "mip_max_improving_sols": 1}

    def first_plan_cbc(model, settings, tmp):
        solver = cbc_solver(model, settings, tmp)
        solver.options = [*solver.options, "maxSolutions 1"]
        return solver

    monkeypatch.setattr(solvers, "_highs_options", first_plan_highs)
    monkeypatch.setattr(solvers, "_cbc_solver", first_plan_cbc)
    return {"highs": {"solver.name": "highs", "solver.backend": "direct"}, "cbc": {"solver.name": "cbc"}}


@pytest.mark.parametrize("solver", SOLVERS)
def test_stopped_solver_returns_best_plan_with_status(stop_at_first_plan, solver):
    scn = optimizer.scenario_from_files(cfl_files(), stop_at_first_plan[solver])
    res = optimizer.solve(scn)
    assert res.summary["mode"] == "mip"
    assert res.summary["status"] == "time_limit"
    if solver == "highs":  # HiGHS reports how far from proven the plan is
        assert res.summary["mip_gap"] > 0
        assert res.summary["best_bound_usd"] > res.summary["objective_usd"]
    check_invariants(scn, res)


@pytest.mark.parametrize("solver", SOLVERS)
def test_cli_time_limit_exit_4(stop_at_first_plan, solver, tmp_path, capsys):
    folder = write_folder(tmp_path / "scn", cfl_files())
    out = tmp_path / "out"
    sets = [arg for key, value in stop_at_first_plan[solver].items() for arg in ("--set", f"{key}={value}")]
    rc = cli_main(["solve", str(folder), "--out", str(out), *sets])
    err = capsys.readouterr().err
    assert rc == 4, err
    assert "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "time_limit"
    assert (out / "allocation.csv").read_text().startswith("action,origin,model,site,jurisdiction,rigs,")
    assert "without proving optimality" in err and "best plan found was written" in err


def test_solver_failure_leaves_the_engine_usable(monkeypatch, tmp_path, capsys):
    import optimizer.engine as engine

    real = engine.solve_model
    calls = []

    def broken(model, settings):
        calls.append(settings.name)
        raise SolverFailure("HiGHS stopped with status Unknown")

    scn = optimizer.scenario_from_files(tiny_files())
    monkeypatch.setattr(engine, "solve_model", broken)
    with pytest.raises(SolverFailure):
        optimizer.solve(scn)
    folder = write_folder(tmp_path / "scn", tiny_files())
    rc = cli_main(["solve", str(folder), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 4 and "solver failure: HiGHS stopped with status Unknown" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
    monkeypatch.setattr(engine, "solve_model", real)
    res = optimizer.solve(scn)  # the same scenario object, straight after: a normal plan
    check_invariants(scn, res)
    assert calls == ["highs", "highs"]  # the API call and the CLI call, not the one after
