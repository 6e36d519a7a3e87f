"""The concentration charge (issue 21, [concentration] in scenario.toml): a convex, piecewise-linear
charge on a jurisdiction's share of the relocated MW, worked by hand, re-derived from the output files
on random scenarios, and refused when it is not convex."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optimizer
from optimizer import economics
from optimizer.cli import main as cli_main
from optimizer.model import build_model
from optimizer.model.concentration import charge_usd
from tests import scenario_builder as sb
from tests.test_paths import D
from tests.test_property import scenarios

M = 0.003  # MW per rig: 3,000 W at PUE 1


def two_sites(**conc) -> dict:
    """100 rigs of 100 TH/s and 3,000 W; site A (jurisdiction JA) at $0.03/kWh, site B (JB) at $0.05/kWh;
    3 months, hashprice $0.5/TH/day, no discounting, no risk, freight 100 and no lead time."""
    sites = [{"site": "A", "jurisdiction": "JA", "lat": 1, "lon": 1, "capacity_mw": 1, "power_usd_kwh": 0.03},
             {"site": "B", "jurisdiction": "JB", "lat": 2, "lon": 2, "capacity_mw": 1, "power_usd_kwh": 0.05}]
    sc = sb.scenario(
        rigs=[{"model": "R", "hashrate_ths": 100, "power_w": 3000, "resale_usd": 1000}],
        origins=[{"origin": "O", "country": "X", "lat": 0, "lon": 0}],
        fleet=[{"origin": "O", "model": "R", "count": 100}],
        sites=sites,
        lanes=[{"origin": "O", "site": s["site"], "ship_usd_per_rig": 100, "lead_days": 0} for s in sites],
        market={"hashprice_usd_th_day": 0.5, "hashprice_monthly_change": 0.0},
        horizon={"months": 3, "discount_rate": 0.0, "salvage_fraction": 0.25},
    )
    if conc:
        sc["concentration"] = conc
    return sc


def write(sc: dict, folder: Path) -> Path:
    """scenario_builder's folder, with the [concentration] section when ``sc`` has one."""
    sb.write(sc, folder)
    if sc.get("concentration"):
        with (folder / "scenario.toml").open("a", encoding="utf-8") as fh:
            fh.write("\n" + tomli_w.dumps({"concentration": sc["concentration"]}))
    return folder


def load(sc: dict, tmp_path: Path, **overrides) -> optimizer.Scenario:
    return optimizer.load_scenario(write(sc, tmp_path / f"s{len(list(tmp_path.iterdir()))}"), overrides)


def by_site(res) -> dict[str, float]:
    return dict(zip(res.sites["site"], res.sites["rigs"]))


def test_charge_moves_mw_as_worked_by_hand(tmp_path):
    # V per rig: 3 months x (revenue 1,521.875 - power 3 kW x 24 x D x price) + terminal 250 - freight 100.
    revenue = 100 * 0.5 * D
    v_a = 3 * (revenue - 3 * 24 * D * 0.03) + 150
    v_b = 3 * (revenue - 3 * 24 * D * 0.05) + 150
    gap = v_a - v_b  # 131.49 a rig in A's favour
    assert gap == pytest.approx(131.49)
    plain = optimizer.solve(load(two_sites(), tmp_path))
    assert by_site(plain) == pytest.approx({"A": 100, "B": 0})
    # Breakpoints 30% and 60% of the relocated MW (100 rigs, 0.3 MW); slopes 10,000 and 100,000 USD/MW.
    # Moving a rig from A to B saves A's marginal charge and adds B's, each slope x 0.003 MW:
    #   A's share 100% -> 70%: saves 300, B (below 30%) adds 0        : 300 > 131.49, move
    #   A's share  70% -> 60%: saves 300, B (30-40%) adds 30          : 270 > 131.49, move
    #   A's share below 60%  : saves 30, B adds 30 (or more)          :   0 < 131.49, stop
    # so A keeps 60 rigs and B gets 40. Charge: A 10,000 x (0.18 - 0.09) = 900, B 10,000 x (0.12 - 0.09) = 300.
    scn = load(two_sites(breakpoints_share=[0.3, 0.6], charge_usd_per_mw=[10_000.0, 100_000.0]), tmp_path)
    res = optimizer.solve(scn)
    assert by_site(res) == pytest.approx({"A": 60, "B": 40}, abs=1e-6)
    assert res.summary["concentration_charge_usd"] == pytest.approx(1200.0, rel=1e-9)
    assert res.summary["objective_usd"] == pytest.approx(60 * v_a + 40 * v_b - 1200.0, rel=1e-12)
    # B limited to 0.06 MW (20 rigs): A must hold 80% (0.24 MW of 0.3) and pays both segments: 10,000 x (0.18 - 0.09)
    # on its MW from 30% to 60% and 100,000 x (0.24 - 0.18) above 60%: 900 + 6,000 = 6,900 (selling an A rig would
    # save 10,000 x 0.7 x 0.003 + 90,000 x 0.4 x 0.003 = 129 of charge for ~4,000 of value: no)
    tight = two_sites(breakpoints_share=[0.3, 0.6], charge_usd_per_mw=[10_000.0, 100_000.0])
    tight["sites"][1]["capacity_mw"] = 20 * M
    res = optimizer.solve(load(tight, tmp_path))
    assert by_site(res) == pytest.approx({"A": 80, "B": 20}, abs=1e-6)
    assert res.summary["concentration_charge_usd"] == pytest.approx(6900.0, rel=1e-9)
    assert res.summary["objective_usd"] == pytest.approx(80 * v_a + 20 * v_b - 6900.0, rel=1e-12)
    # a charge too small to pay for the gap leaves the plan where it was: 300 x 0.003 = 0.9 < 131.49
    cheap = optimizer.solve(load(two_sites(breakpoints_share=[0.5], charge_usd_per_mw=[300.0]), tmp_path))
    assert by_site(cheap) == pytest.approx({"A": 100, "B": 0}, abs=1e-6)
    assert cheap.summary["concentration_charge_usd"] == pytest.approx(300 * (0.3 - 0.15), rel=1e-9)


def test_rows_and_columns_are_labelled(tmp_path):
    scn = load(two_sites(breakpoints_share=[0.3, 0.6], charge_usd_per_mw=[10_000.0, 100_000.0]), tmp_path)
    model = build_model(scn, economics.compute(scn))
    assert model.block("concentration").labels == ["concentration[JA,1]", "concentration[JA,2]",
                                                   "concentration[JB,1]", "concentration[JB,2]"]
    assert model.extra_names == ["z[JA,1]", "z[JA,2]", "z[JB,1]", "z[JB,2]"]
    # equal slopes add nothing beyond the first segment; no breakpoints: no row, no column
    flat = load(two_sites(breakpoints_share=[0.3, 0.6], charge_usd_per_mw=[10_000.0, 10_000.0]), tmp_path)
    assert build_model(flat, economics.compute(flat)).block("concentration").labels == ["concentration[JA,1]",
                                                                                         "concentration[JB,1]"]
    off = load(two_sites(), tmp_path)
    assert build_model(off, economics.compute(off)).block("concentration") is None


@pytest.mark.parametrize("conc, words", [
    ({"breakpoints_share": [0.3, 0.6], "charge_usd_per_mw": [100_000.0, 10_000.0]}, "each at least the one before"),
    ({"breakpoints_share": [0.6, 0.3], "charge_usd_per_mw": [1.0, 2.0]}, "ascending order"),
    ({"breakpoints_share": [0.3], "charge_usd_per_mw": [1.0, 2.0]}, "gives 2 charges for 1 breakpoints"),
    ({"breakpoints_share": [30.0], "charge_usd_per_mw": [1.0]}, "shares in [0, 1)"),
])
def test_a_charge_that_is_not_convex_is_exit_2(conc, words, tmp_path, capsys):
    folder = write(two_sites(**conc), tmp_path / "s")
    assert cli_main(["solve", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "scenario.toml" in err and "concentration." in err and words in err, err


def test_the_monthly_and_risk_aware_plans_refuse_it(tmp_path):
    sc = two_sites(breakpoints_share=[0.3], charge_usd_per_mw=[1000.0])
    with pytest.raises(optimizer.ScenarioError, match="not in the monthly plan"):
        load(sc, tmp_path, **{"monthly.enabled": True})
    from optimizer.risk import solve_risk
    from optimizer.risk.samples import one_future

    scn = load(sc, tmp_path)
    with pytest.raises(optimizer.ScenarioError, match="not in the risk-aware plan"):
        solve_risk(scn, one_future(scn))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(mip=False), st.sampled_from([[0.2], [0.25, 0.5], [0.0, 0.4, 0.7]]), st.floats(1e3, 1e6))
def test_charge_re_derived_from_the_output_files(sc, breaks, slope):
    """summary's charge = the formula on sites.csv's mw_used; objective = allocation's value - the charge;
    the charge never raises the objective; PuLP and the direct HiGHS path agree."""
    sc["concentration"] = {"breakpoints_share": breaks, "charge_usd_per_mw": [slope * (k + 1) for k in range(len(breaks))]}
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(sc, Path(tmp) / "s")
        scn = optimizer.load_scenario(folder, {"solver.backend": "pulp"})
        plain = optimizer.load_scenario(folder, {"concentration.breakpoints_share": [],
                                                 "concentration.charge_usd_per_mw": []})
    try:
        res = optimizer.solve(scn)
    except optimizer.InfeasibleError:
        return
    charge = charge_usd(scn, res.sites["mw_used"].to_numpy(float))
    assert res.summary["concentration_charge_usd"] == pytest.approx(charge, rel=1e-6, abs=1e-4)
    value = res.allocation["value_usd"].sum() if len(res.allocation) else 0.0
    assert res.summary["objective_usd"] == pytest.approx(value - charge, rel=1e-7, abs=1e-3)
    assert res.summary["objective_usd"] <= optimizer.solve(plain).summary["objective_usd"] + 1e-6 * max(1, abs(value))
    direct = optimizer.solve(scn.with_overrides({"solver.backend": "direct"}))
    assert direct.summary["objective_usd"] == pytest.approx(res.summary["objective_usd"], rel=1e-7, abs=1e-4)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_the_charge_in_a_mip_as_by_hand(solver, tmp_path):
    # a fixed cost of 100 at B makes it a MIP; opening B still pays (the LP example's 60/40 less 100)
    sc = two_sites(breakpoints_share=[0.3, 0.6], charge_usd_per_mw=[10_000.0, 100_000.0])
    sc["sites"][1]["fixed_cost_usd"] = 100.0
    res = optimizer.solve(load(sc, tmp_path, **{"solver.name": solver}))
    revenue = 100 * 0.5 * D
    v_a, v_b = 3 * (revenue - 3 * 24 * D * 0.03) + 150, 3 * (revenue - 3 * 24 * D * 0.05) + 150
    assert res.summary["mode"] == "mip"
    assert by_site(res) == pytest.approx({"A": 60, "B": 40}, abs=1e-6)
    assert res.summary["objective_usd"] == pytest.approx(60 * v_a + 40 * v_b - 1200.0 - 100.0, rel=1e-9)
