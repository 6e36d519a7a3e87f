"""SPEC section 8, the monthly plan: against section 3, a hand-worked example, an independent LP,
the files it writes, re-planning from a state, and bad input."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import optimizer
from optimizer import cli
from tests import reference_monthly, scenario_builder as sb
from tests.test_property import scenarios

ROOT = Path(__file__).resolve().parents[1]
DATASETS = [ROOT / "datasets" / "china-2021", ROOT / "datasets" / "post-halving-2024", ROOT / "datasets" / "world-2025"]
ONE_SHOT = {"monthly.enabled": True, "monthly.dispatch_months": [0], "monthly.sell_months": [0]}
COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
              derandomize=True)


# ---------------------------------------------------------------- section 3 is the one-shot case


@pytest.mark.parametrize("folder", DATASETS, ids=lambda p: p.name)
@pytest.mark.parametrize("path", [("highs", "pulp"), ("highs", "direct"), ("cbc", "pulp")], ids="-".join)
def test_one_shot_monthly_plan_is_section_3_on_the_datasets(folder, path):
    solver, backend = path
    scn = optimizer.load_scenario(folder, {"solver.name": solver, "solver.backend": backend})
    static = optimizer.solve(scn)
    monthly = optimizer.solve(scn.with_overrides(ONE_SHOT))
    rel = 1e-9 if solver == "highs" else 2e-8  # CBC writes values to about 8 significant digits
    assert monthly.summary["objective_usd"] == pytest.approx(static.summary["objective_usd"], rel=rel)
    assert monthly.summary["plan"] == "monthly" and monthly.summary["status"] == "optimal"
    # section 4's files sum the months: the same rigs relocated, sold and stored
    for key in ("rigs_relocated", "rigs_sold", "rigs_idle"):
        assert monthly.summary[key] == pytest.approx(static.summary[key], rel=1e-6, abs=1e-3)


def _one_shot_equivalent(sc: dict, solver: str) -> None:
    for s in sc["sites"]:
        s["min_mw"] = 0.0  # min_mw is bad input with the monthly plan
    # A rig still in transit at the horizon (lead > H months) never runs: section 8 counts only running rigs
    # against capacity, section 3 counts every relocated rig. Horizons of 5+ months keep every lead (<= 120
    # days in these scenarios) inside the horizon.
    sc["horizon"]["months"] = max(sc["horizon"]["months"], 5)
    with tempfile.TemporaryDirectory() as tmp:
        scn = optimizer.load_scenario(sb.write(sc, Path(tmp) / "s"), {"solver.name": solver})
        try:
            static = optimizer.solve(scn).summary["objective_usd"]
        except optimizer.InfeasibleError:
            with pytest.raises(optimizer.InfeasibleError):
                optimizer.solve(scn.with_overrides(ONE_SHOT))
            return
        monthly = optimizer.solve(scn.with_overrides(ONE_SHOT)).summary["objective_usd"]
    assert monthly == pytest.approx(static, rel=1e-6 if solver == "highs" else 2e-6, abs=1e-2)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
@settings(max_examples=25, **COMMON)
@given(sc=scenarios(mip=False))
def test_one_shot_monthly_plan_is_section_3_on_random_lps(solver, sc):
    _one_shot_equivalent(sc, solver)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
@settings(max_examples=15, **COMMON)
@given(sc=scenarios(mip=True))
def test_one_shot_monthly_plan_is_section_3_on_random_mips(solver, sc):
    _one_shot_equivalent(sc, solver)


# ---------------------------------------------------------------- a hand-worked example


def hand_example() -> dict:
    """Two origins, two batches, three months, no discounting, no risk, power free.

    S19: 100 TH/s, 3000 W (0.003 MW), resale 1000 USD; 2 rigs at O1.
    S9:   10 TH/s, 1000 W (0.001 MW), resale 20 USD; 1 rig at O2.
    hashprice 0.1 USD/TH/s/day flat, D = 30.4375 days: an S19 earns 100 * 0.1 * D = 304.375 USD a
    month at full uptime, an S9 30.4375. Freight 10 USD per rig from O1, 0 from O2, lead 0.
    Site X: 0.003 MW (one S19), online from month 0, uptime 1.
    Site Y: 0.003 MW, online from month 1 (a site coming online), uptime 0.9.
    resale.csv: f = 1, 1, 1.6 (the second-hand price recovers in month 2); salvage 0.5 -> terminal
    = 500 USD (S19), 10 USD (S9). Dispatch months [0, 2]; every month is a sell month.
    """
    return sb.scenario(
        rigs=[{"model": "S19", "hashrate_ths": 100.0, "power_w": 3000.0, "resale_usd": 1000.0},
              {"model": "S9", "hashrate_ths": 10.0, "power_w": 1000.0, "resale_usd": 20.0}],
        origins=[{"origin": "O1", "country": "CN", "lat": 30.0, "lon": 100.0},
                 {"origin": "O2", "country": "CN", "lat": 31.0, "lon": 101.0}],
        fleet=[{"origin": "O1", "model": "S19", "count": 2}, {"origin": "O2", "model": "S9", "count": 1}],
        sites=[{"site": "X", "jurisdiction": "JX", "lat": 45.0, "lon": -75.0, "capacity_mw": 0.003, "power_usd_kwh": 0.0},
               {"site": "Y", "jurisdiction": "JY", "lat": 46.0, "lon": -76.0, "capacity_mw": 0.003, "power_usd_kwh": 0.0,
                "uptime": 0.9, "online_month": 1}],
        lanes=[{"origin": o, "site": s, "ship_usd_per_rig": 10.0 if o == "O1" else 0.0, "lead_days": 0.0}
               for o in ("O1", "O2") for s in ("X", "Y")],
        market={"hashprice_usd_th_day": 0.1, "hashprice_monthly_change": 0.0},
        horizon={"months": 3, "discount_rate": 0.0, "salvage_fraction": 0.5},
        policy={"risk_aversion": 0.0},
    ) | {"resale_path": {0: 1.0, 1: 1.0, 2: 1.6},
         "monthly": {"enabled": True, "dispatch_months": [0, 2], "sell_months": []}}


def test_hand_worked_two_batches_three_months(tmp_path):
    # By hand (d_t = c_t = 1, S_t = 1, no penalty):
    # S19 to X at month 0, sold there at month 2: 2 months * 304.375 - 10 + 1000 * 1.6      = 2198.75
    #   (kept to the horizon instead: 3 * 304.375 - 10 + 500 = 1403.125; sold at the origin in month 2: 1600)
    # S19 to Y at month 0 (waits for Y to come online in month 1: A = max(0, D * 1) = D), runs month 1 only,
    #   sold at month 2: 0.9 * 304.375 - 10 + 1600                                         = 1863.9375
    #   (X is full in months 0-1; any S19 alternative is worth at most the origin sale, 1600)
    # S9 waits at O2 and goes to X in month 2 (X is free once its S19 is sold), kept: 30.4375 + 10 = 40.4375
    #   (to Y instead: 0.9 * 30.4375 + 10 = 37.39375; sold at the origin in month 2: 20 * 1.6 = 32)
    # Optimum: 2198.75 + 1863.9375 + 40.4375 = 4103.125
    sc = hand_example()
    scn = optimizer.load_scenario(sb.write(sc, tmp_path / "s"))
    res = optimizer.solve(scn)
    assert res.summary["objective_usd"] == pytest.approx(4103.125, abs=1e-6)
    sched = res.schedule
    ships = sched[sched["action"] == "ship"].sort_values(["month", "site"]).reset_index(drop=True)
    assert ships[["origin", "model", "site", "month", "until_month"]].values.tolist() == [
        ["O1", "S19", "X", 0, 2], ["O1", "S19", "Y", 0, 2], ["O2", "S9", "X", 2, 3]]
    assert ships["rigs"].tolist() == pytest.approx([1, 1, 1])
    sales = sched[sched["action"] == "sell_at_site"].sort_values("site")
    assert sales[["site", "month"]].values.tolist() == [["X", 2], ["Y", 2]]
    assert sales["value_usd"].tolist() == pytest.approx([1600.0, 1600.0])
    # the schedule's values add up to the optimum (no fixed costs)
    assert sched["value_usd"].sum() == pytest.approx(4103.125, abs=1e-6)
    # monthly.csv: X runs an S19 in months 0-1 and the S9 in month 2; Y runs in month 1 only
    m = res.monthly.set_index(["site", "month"])
    assert [m.loc[("X", t), "mw_running"] for t in range(3)] == pytest.approx([0.003, 0.003, 0.001])
    assert [m.loc[("Y", t), "mw_running"] for t in range(3)] == pytest.approx([0.0, 0.003, 0.0])
    # the independent statement of section 8 finds the same optimum
    assert reference_monthly.optimum(sc) == pytest.approx(4103.125, abs=1e-6)


def test_hand_example_site_shadow_is_the_sum_of_its_months(tmp_path):
    """sites.csv's shadow_usd_per_mw (one more MW in every month) is the sum of monthly.csv's duals."""
    scn = optimizer.load_scenario(sb.write(hand_example(), tmp_path / "s"))
    res = optimizer.solve(scn)
    assert (res.monthly["shadow_usd_per_mw"] >= 0).all()
    sites = res.sites.set_index("site")
    for site in ("X", "Y"):
        assert sites.loc[site, "shadow_usd_per_mw"] == pytest.approx(res.monthly[res.monthly["site"] == site]
                                                                      ["shadow_usd_per_mw"].sum())


# ---------------------------------------------------------------- an independent LP on random scenarios


@st.composite
def monthly_scenarios(draw, mip: bool):
    sc = draw(scenarios(mip=mip))
    H = draw(st.integers(2, 6))
    sc["horizon"]["months"] = H
    for s in sc["sites"]:
        s["min_mw"] = 0.0
        s["online_month"] = draw(st.integers(0, H - 1))
    months = st.lists(st.integers(0, H - 1), unique=True, max_size=H).map(sorted)
    sc["monthly"] = {"dispatch_months": draw(months), "sell_months": draw(months),
                     "store_usd_per_rig_month": draw(st.sampled_from([0.0, 0.0, 3.0]))}
    if draw(st.booleans()):
        f = [1.0] + [draw(st.floats(0.2, 2.0)) for _ in range(H - 1)]
        sc["resale_path"] = dict(enumerate(f))
    return sc


def _against_reference(sc: dict, solver: str) -> None:
    expected = reference_monthly.optimum(sc)
    with tempfile.TemporaryDirectory() as tmp:
        scn = optimizer.load_scenario(sb.write(sc, Path(tmp) / "s"),
                                      {"solver.name": solver, "monthly.enabled": True})
        if expected is None:
            with pytest.raises(optimizer.InfeasibleError):
                optimizer.solve(scn)
            return
        res = optimizer.solve(scn)
    assert res.summary["objective_usd"] == pytest.approx(expected, rel=1e-6 if solver == "highs" else 2e-6, abs=1e-2)
    fixed = res.summary["fixed_costs_usd"]
    assert res.schedule["value_usd"].sum() - fixed == pytest.approx(res.summary["objective_usd"], rel=1e-6, abs=1e-2)
    assert res.allocation["value_usd"].sum() - fixed == pytest.approx(res.summary["objective_usd"], rel=1e-6, abs=1e-2)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
@settings(max_examples=25, **COMMON)
@given(sc=monthly_scenarios(mip=False))
def test_monthly_optimum_matches_independent_lp(solver, sc):
    _against_reference(sc, solver)


@settings(max_examples=15, **COMMON)
@given(sc=monthly_scenarios(mip=True))
def test_monthly_mip_matches_independent_model(sc):
    _against_reference(sc, "highs")


def test_paths_agree_on_china_every_month_open():
    scn = optimizer.load_scenario(DATASETS[0], {"monthly.enabled": True, "horizon.months": 12})
    a = optimizer.solve(scn.with_overrides({"solver.backend": "pulp"}))
    b = optimizer.solve(scn.with_overrides({"solver.backend": "direct"}))
    assert a.summary["objective_usd"] == pytest.approx(b.summary["objective_usd"], rel=1e-9)
    # the canonical tie-break makes the schedule a function of the scenario, not of the path
    pd.testing.assert_frame_equal(a.schedule, b.schedule, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- online_month in section 2


def test_online_month_delays_section_2_like_a_longer_lead(tmp_path):
    """online_month = k runs a rig from max(lead, D k) days: the same value as a lane with that lead."""
    sc = hand_example()
    sc.pop("monthly")
    sc["sites"][1]["online_month"] = 2
    sc["horizon"]["months"] = 6
    sc.pop("resale_path")
    a = optimizer.load_scenario(sb.write(sc, tmp_path / "a"))
    sc2 = hand_example()
    sc2.pop("monthly"); sc2.pop("resale_path")
    sc2["sites"][1]["online_month"] = 0
    sc2["horizon"]["months"] = 6
    for lane in sc2["lanes"]:
        if lane["site"] == "Y":
            lane["lead_days"] = 2 * 365.25 / 12
    b = optimizer.load_scenario(sb.write(sc2, tmp_path / "b"))
    va, vb = optimizer.compute_economics(a).value_usd, optimizer.compute_economics(b).value_usd
    assert np.allclose(va, vb, rtol=1e-12)
    sc3 = hand_example()
    sc3.pop("monthly"); sc3.pop("resale_path")
    sc3["sites"][1]["online_month"] = 0
    sc3["horizon"]["months"] = 6
    now = optimizer.compute_economics(optimizer.load_scenario(sb.write(sc3, tmp_path / "c"))).value_usd
    # online from month 2 instead of 0: two months less of margin at Y (0.9 * 304.375 * 2 for an S19), same at X
    assert np.allclose(va[:, 0], now[:, 0], rtol=1e-12)
    assert now[0, 1] - va[0, 1] == pytest.approx(2 * 0.9 * 304.375, rel=1e-12)


# ---------------------------------------------------------------- files and CLI


def test_cli_writes_schedule_and_monthly_files(tmp_path):
    folder = sb.write(hand_example(), tmp_path / "s")
    out = tmp_path / "out"
    assert cli.main(["solve", str(folder), "--out", str(out)]) == 0
    sched = pd.read_csv(out / "schedule.csv")
    assert list(sched.columns) == ["action", "origin", "model", "site", "month", "until_month", "rigs", "mw", "value_usd"]
    monthly = pd.read_csv(out / "monthly.csv")
    assert list(monthly.columns) == ["month", "site", "jurisdiction", "mw_running", "rigs_running", "capacity_mw",
                                     "shadow_usd_per_mw"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective_usd"] == pytest.approx(4103.125)
    assert summary["objective_usd"] == pytest.approx(sched["value_usd"].sum())
    alloc = pd.read_csv(out / "allocation.csv")
    # section 4's allocation sums the months: 2 S19 and 1 S9 relocated
    assert alloc[alloc["action"] == "relocate"].groupby("model")["rigs"].sum().to_dict() == {"S19": 2.0, "S9": 1.0}


# ---------------------------------------------------------------- re-planning from a state


def test_replan_keeps_past_decisions_and_matches_the_plan_it_continues(tmp_path):
    """Carrying out the month-0 decisions of the optimal plan and re-planning at month 1 from them (same
    information, reg_risk 0) gives the same remaining plan: the optimum from month 1 equals the plan's
    value minus what month 0's decisions and running earned before month 1."""
    sc = hand_example()
    folder = sb.write(sc, tmp_path / "s")
    full = optimizer.solve(optimizer.load_scenario(folder))
    ships = full.schedule[(full.schedule["action"] == "ship") & (full.schedule["month"] == 0)]
    state = pd.DataFrame({"action": "ship", "origin": ships["origin"], "model": ships["model"], "site": ships["site"],
                          "month": 0, "rigs": ships["rigs"]})
    state.to_csv(folder / "state.csv", index=False)
    scn = optimizer.load_scenario(folder, {"monthly.replan_month": 1})
    res = optimizer.solve(scn)
    # from month 1: X's S19 runs month 1 (304.375) and is sold in month 2 (1600); Y's runs month 1 at 0.9
    # (273.9375) and is sold in month 2 (1600); the S9 goes to X in month 2 (40.4375)
    assert res.summary["objective_usd"] == pytest.approx(304.375 + 1600 + 273.9375 + 1600 + 40.4375, abs=1e-6)
    sched = res.schedule
    assert set(sched["action"]) >= {"stay", "sell_at_site", "ship"}
    assert (sched.loc[sched["action"] == "ship", "month"] >= 1).all()


def test_replan_moves_rigs_when_a_known_stop_begins(tmp_path):
    """Kazakhstan-style: rigs standing at X, X's jurisdiction stops from month 1 (bans.csv): they move to Y."""
    sc = hand_example()
    sc["monthly"]["dispatch_months"] = []
    sc["sites"][1]["online_month"] = 0
    sc["horizon"]["months"] = 6
    sc["resale_path"] = {t: 1.0 for t in range(6)}
    sc["fleet"] = [{"origin": "O1", "model": "S19", "count": 1}]
    folder = sb.write(sc, tmp_path / "s")
    pd.DataFrame({"action": ["ship"], "origin": ["O1"], "model": ["S19"], "site": ["X"], "month": [0], "rigs": [1.0]}
                 ).to_csv(folder / "state.csv", index=False)
    pd.DataFrame({"jurisdiction": ["JX"], "ban_month": [1], "end_month": [""]}).to_csv(folder / "bans.csv", index=False)
    res = optimizer.solve(optimizer.load_scenario(folder, {"monthly.replan_month": 1}))
    moves = res.schedule[res.schedule["action"] == "move"]
    assert len(moves) == 1 and moves["site"].iloc[0] == "Y" and moves["month"].iloc[0] == 1
    # moving costs the distance formula's freight from X to Y (about 143 km: 20 + 5 * 0.143 USD), duty 0 here;
    # the rig earns 0.9 * 304.375 a month at Y in months 1-5 and is kept (terminal 500), or sold at 1.0
    # (1000) in some month: selling in month 5 after 4 months at Y beats keeping
    assert res.summary["rigs_moved"] == pytest.approx(1.0)


# ---------------------------------------------------------------- bad input


def _main_err(capsys, folder, *extra) -> str:
    code = cli.main(["solve", str(folder), "--out", str(folder.parent / "out"), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    return err


def test_min_mw_with_the_monthly_plan_is_bad_input(tmp_path, capsys):
    sc = hand_example()
    sc["sites"][0]["min_mw"] = 0.001
    err = _main_err(capsys, sb.write(sc, tmp_path / "s"))
    assert "sites.csv, row 2, column 'min_mw'" in err


@pytest.mark.parametrize("rows, where", [
    ([("ship", "O1", "S19", "X", 0, 3.0)], "state.csv, row 2, column 'rigs'"),  # beyond the batch of 2
    ([("ship", "O1", "S19", "X", 1, 1.0), ("sell_at_site", "O1", "S19", "X", 0, 1.0)],
     "state.csv, row 3, column 'month'"),  # a sale before its dispatch
    ([("ship", "O1", "S19", "X", 5, 1.0)], "state.csv, row 2, column 'month'"),  # beyond the horizon
    ([("ship", "O1", "S19", "X", 2, 1.0)], "state.csv, row 2, column 'month'"),  # not before replan_month = 2
    ([("ship", "O1", "S19", "Nowhere", 0, 1.0)], "state.csv, row 2, column 'site'"),
    ([("fly", "O1", "S19", "X", 0, 1.0)], "state.csv, row 2, column 'action'"),
])
def test_bad_state_rows_exit_2_naming_file_row_column(tmp_path, capsys, rows, where):
    folder = sb.write(hand_example(), tmp_path / "s")
    pd.DataFrame(rows, columns=["action", "origin", "model", "site", "month", "rigs"]).to_csv(folder / "state.csv", index=False)
    err = _main_err(capsys, folder, "--set", "monthly.replan_month=2")
    assert where in err


@pytest.mark.parametrize("factors, where, words", [
    ({0: 100.0, 1: 100.0, 2: 160.0}, "resale.csv, row 2, column 'factor'", "percent"),
    ({0: 1.0, 1: 95.0, 2: 1.0}, "resale.csv, row 3, column 'factor'", "percent"),
    ({0: 1.0, 1: 1.1}, "resale.csv", "no row for month 2"),
    ({0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0}, "resale.csv, row 5, column 'month'", "beyond the horizon"),
    ({0: 1.0, 1: 0.0, 2: 1.0}, "resale.csv, row 3, column 'factor'", "must be > 0"),
])
def test_bad_resale_files_exit_2(tmp_path, capsys, factors, where, words):
    sc = hand_example()
    sc["resale_path"] = factors
    err = _main_err(capsys, sb.write(sc, tmp_path / "s"))
    assert where in err and words in err


def test_bad_online_month_and_known_stop(tmp_path, capsys):
    sc = hand_example()
    sc["sites"][1]["online_month"] = 3  # H = 3
    err = _main_err(capsys, sb.write(sc, tmp_path / "s"))
    assert "sites.csv, row 3, column 'online_month'" in err
    folder = sb.write(hand_example(), tmp_path / "t")
    pd.DataFrame({"jurisdiction": ["JX", "Atlantis"], "ban_month": [2, 0], "end_month": [1, ""]}).to_csv(
        folder / "bans.csv", index=False)
    err = _main_err(capsys, folder)
    assert "bans.csv, row 2, column 'end_month'" in err and "bans.csv, row 3, column 'jurisdiction'" in err


def test_months_settings_outside_the_horizon_are_bad_input(tmp_path, capsys):
    err = _main_err(capsys, sb.write(hand_example(), tmp_path / "s"), "--set", "monthly.dispatch_months=[0, 3]")
    assert "monthly.dispatch_months" in err and "beyond the horizon" in err


def test_defaults_leave_section_3_untouched():
    """No [monthly] key, no online_month: the plan is section 3's (the golden tests pin its numbers)."""
    scn = optimizer.load_scenario(DATASETS[1])
    res = optimizer.solve(scn)
    assert res.schedule is None and res.monthly is None and "plan" not in res.summary
    assert set(res.files()) == {"allocation.csv", "sites.csv", "jurisdictions.csv", "summary.json"}


def test_monthly_shadow_prices_by_label_are_derivatives(tmp_path):
    """Each capacity[site,month] dual in monthly.csv lies between the optimum's left and right derivatives
    in that row's capacity (finite differences on the same labelled model, re-solved)."""
    from optimizer import economics
    from optimizer.economics import monthly as M
    from optimizer.engine import monthly as MM
    from optimizer.model.monthly import build as build_monthly
    from optimizer.solver.backends import solve_model

    sc = hand_example()
    sc["horizon"]["months"] = 3
    scn = optimizer.load_scenario(sb.write(sc, tmp_path / "s"))
    res = optimizer.solve(scn)
    econ = economics.compute(scn)
    cols = M.plan_columns(scn, econ, MM.outlook_of(scn))
    model = build_monthly(scn, econ, cols)
    block = model.block("capacity")
    base = solve_model(model, scn.settings.solver).objective
    assert base == pytest.approx(res.summary["objective_usd"], abs=1e-6)
    delta = 1e-5  # MW
    checked = 0
    for i, name in enumerate(block.labels):
        site, month = name[len("capacity["):-1].split(",")
        dual = res.monthly.set_index(["site", "month"]).loc[(site, int(month)), "shadow_usd_per_mw"]
        old = block.upper[i]
        block.upper[i] = old + delta
        right = (solve_model(model, scn.settings.solver).objective - base) / delta
        block.upper[i] = old - delta
        left = (base - solve_model(model, scn.settings.solver).objective) / delta
        block.upper[i] = old
        assert right - 1e-3 <= dual <= left + 1e-3, (name, left, dual, right)
        checked += dual > 0
    assert checked >= 1  # some month's capacity is worth something here


def test_monthly_plan_with_samples_is_bad_input(tmp_path, capsys):
    folder = sb.write(hand_example(), tmp_path / "s")
    err = _main_err(capsys, folder, "--samples", str(tmp_path))
    assert "--samples" in err and "monthly.enabled" in err


CELLS = st.one_of(st.sampled_from(["ship", "sell", "sell_at_site", "O1", "O2", "S19", "S9", "X", "Y", "", "0", "1", "2",
                                   "3", "-1", "1.5", "100", "1e308", "nan", "x", "JX", "JY"]), st.text(max_size=4))


@settings(max_examples=60, **COMMON)
@given(data=st.data())
def test_fuzz_section_8_files_never_crash(tmp_path_factory, data):
    """Random state.csv, resale.csv and bans.csv: the scenario loads and solves, or exit 2 naming the file."""
    folder = sb.write(hand_example(), tmp_path_factory.mktemp("fz") / "s")
    files = {"state.csv": ["action", "origin", "model", "site", "month", "rigs"], "resale.csv": ["month", "factor"],
             "bans.csv": ["jurisdiction", "ban_month", "end_month"]}
    name = data.draw(st.sampled_from(sorted(files)))
    header = files[name]
    rows = data.draw(st.lists(st.lists(CELLS, min_size=len(header), max_size=len(header)), max_size=5))
    text = "\n".join(",".join('"' + c.replace('"', '""') + '"' for c in row) for row in [header] + rows) + "\n"
    (folder / name).write_text(text, encoding="utf-8")
    try:
        scn = optimizer.load_scenario(folder, {"monthly.replan_month": 2})
    except optimizer.ScenarioError as exc:
        assert exc.problems and all(p.file for p in exc.problems)
        assert any(p.file == name for p in exc.problems), [str(p) for p in exc.problems]
        return
    res = optimizer.solve(scn)
    assert res.summary["status"] == "optimal"


def test_planner_solves_the_monthly_plan_when_asked(tmp_path):
    scn = optimizer.load_scenario(sb.write(hand_example(), tmp_path / "s"))
    planner = optimizer.Planner(scn)
    assert planner.solve().summary["objective_usd"] == pytest.approx(4103.125)
    static = planner.solve({"monthly.enabled": False})
    assert "plan" not in static.summary and static.schedule is None
