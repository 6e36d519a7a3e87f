"""The engine against a hand-worked example, an independent re-derivation of its output files,
finite differences for its duals, and published facility-location optima."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import optimizer
from bench import orlib
from tests import reference_model, scenario_builder as sb
from tests.conftest import SOLVER_PATHS, SOLVERS as SOLVER_NAMES

ROOT = Path(__file__).resolve().parents[1]
D = 365.25 / 12
SOLVERS = SOLVER_PATHS  # (solver.name, solver.backend), tests/conftest.py


def hand_scenario(**sections) -> dict:
    """Two rig models at one origin, three sites; every number below is worked out on paper."""
    return sb.scenario(
        rigs=[{"model": "A", "hashrate_ths": 100, "power_w": 3000, "resale_usd": 1000},
              {"model": "B", "hashrate_ths": 14, "power_w": 1400, "resale_usd": 50}],
        origins=[{"origin": "O1", "country": "X", "lat": 0, "lon": 0}],
        fleet=[{"origin": "O1", "model": "A", "count": 150}, {"origin": "O1", "model": "B", "count": 200}],
        sites=[{"site": "S1", "jurisdiction": "J1", "lat": 10, "lon": 10, "capacity_mw": 0.3, "power_usd_kwh": 0.05},
               {"site": "S2", "jurisdiction": "J2", "lat": 20, "lon": 20, "capacity_mw": 10, "power_usd_kwh": 0.10},
               {"site": "S3", "jurisdiction": "J3", "lat": 30, "lon": 30, "capacity_mw": 10, "power_usd_kwh": 0.12}],
        lanes=[{"origin": "O1", "site": "S1", "ship_usd_per_rig": 100, "lead_days": 0},
               {"origin": "O1", "site": "S2", "ship_usd_per_rig": 100, "lead_days": 0},
               {"origin": "O1", "site": "S3", "ship_usd_per_rig": 300, "lead_days": 0}],
        market={"hashprice_usd_th_day": 0.1, "hashprice_monthly_change": 0.0},
        horizon={"months": 12, "discount_rate": 0.0, "salvage_fraction": 0.25},
        **sections,
    )


# On paper (D = 30.4375 days, no lead time, no risk, no discounting, 12 months):
#   A at S1: revenue 100*0.1*D = 304.375/month, power 3 kW*24*D*0.05 = 109.575 -> 12*194.8 = 2337.6
#            V = 2337.6 + terminal 0.25*1000 - freight 100 = 2487.6
#   A at S2: power 219.15 -> ops 12*85.225 = 1022.7, V = 1172.7 (beats selling at 1000)
#   A at S3: power 262.98 -> ops 496.74, V = 446.74 (loses to S2)
#   B anywhere: revenue 42.6125 < power 51.135 at S1, so it is switched off: V = 12.5 - 100 < 0; sold at 50.
#   S1 holds 0.3 MW / 0.003 MW = 100 rigs of A, the other 50 go to S2.
V_A_S1, V_A_S2 = 2487.6, 1172.7
HAND_OPTIMUM = 100 * V_A_S1 + 50 * V_A_S2 + 200 * 50  # 317,395
S1_SHADOW = (V_A_S1 - V_A_S2) / 0.003  # 438,300 USD per MW
# S3 would enter when A's value there reaches A's alternative (S2, 1172.7):
# 12*(304.375 - 3*24*D*p) + 250 - 300 = 1172.7  ->  p = (304.375 - 1222.7/12) / (72*D)
S3_ENTRY = (304.375 - 1222.7 / 12) / (72 * D)


def solve_dict(sc: dict, tmp_path: Path, solver=("highs", "pulp"), **overrides):
    folder = sb.write(sc, tmp_path / f"scn-{len(list(tmp_path.iterdir()))}")
    scn = optimizer.load_scenario(folder, {"solver.name": solver[0], "solver.backend": solver[1], **overrides})
    return optimizer.solve(scn)


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: "-".join(s))
def test_hand_worked_optimum(tmp_path, solver):
    res = solve_dict(hand_scenario(), tmp_path, solver)
    s = res.summary
    assert s["status"] == "optimal" and s["mode"] == "lp"
    assert s["objective_usd"] == pytest.approx(HAND_OPTIMUM, rel=1e-7)
    assert s["rigs_relocated"] == pytest.approx(150) and s["rigs_sold"] == pytest.approx(200) and s["rigs_idle"] == 0
    alloc = res.allocation.set_index(["action", "model", "site"])
    assert alloc.loc[("relocate", "A", "S1"), "rigs"] == pytest.approx(100, rel=1e-6)
    assert alloc.loc[("relocate", "A", "S2"), "rigs"] == pytest.approx(50, rel=1e-6)
    assert alloc.loc[("relocate", "A", "S1"), "value_usd"] == pytest.approx(100 * V_A_S1, rel=1e-6)
    sites = res.sites.set_index("site")
    assert sites.loc["S1", "shadow_usd_per_mw"] == pytest.approx(S1_SHADOW, rel=1e-5)
    assert sites.loc["S2", "shadow_usd_per_mw"] == pytest.approx(0, abs=1e-6)
    assert sites.loc["S3", "entry_power_usd_kwh"] == pytest.approx(S3_ENTRY, rel=1e-6)
    assert np.isnan(sites.loc["S1", "entry_power_usd_kwh"])


def test_hand_worked_mip_fixed_cost(tmp_path):
    sc = hand_scenario()
    sc["sites"][1]["fixed_cost_usd"] = 20_000  # 50 rigs gain only 50*(1172.7-1000) = 8,635 at S2: keep it shut
    for solver in SOLVER_NAMES:
        res = solve_dict(sc, tmp_path, (solver, "pulp"))
        assert res.summary["mode"] == "mip"
        assert res.summary["objective_usd"] == pytest.approx(100 * V_A_S1 + 250 * 0 + 50 * 1000 + 200 * 50, rel=1e-7)
        assert res.sites.set_index("site").loc["S2", "opened"] == 0
        assert res.sites["shadow_usd_per_mw"].isna().all()


def test_hand_worked_budget_and_dual(tmp_path):
    # $12,000 pays freight for 120 rigs of A: 100 to S1, 20 to S2 (172.7 per $100), 30 sold.
    for solver in SOLVERS:
        res = solve_dict(hand_scenario(policy={"budget_usd": 12_000.0}), tmp_path, solver)
        assert res.summary["objective_usd"] == pytest.approx(100 * V_A_S1 + 20 * V_A_S2 + 30 * 1000 + 200 * 50, rel=1e-7)
        assert res.summary["budget_shadow_usd_per_usd"] == pytest.approx((V_A_S2 - 1000) / 100, rel=1e-6)
        assert res.summary["upfront_usd"] == pytest.approx(12_000, rel=1e-7)


def test_hand_worked_jurisdiction_cap(tmp_path):
    # Fleet hashrate 150*100 + 200*14 = 17,800 TH/s; a 50% cap lets J1 take 89 rigs of A.
    for solver in SOLVERS:
        res = solve_dict(hand_scenario(policy={"max_jurisdiction_share": 0.5}), tmp_path, solver)
        assert res.summary["objective_usd"] == pytest.approx(89 * V_A_S1 + 61 * V_A_S2 + 200 * 50, rel=1e-7)
        j = res.jurisdictions.set_index("jurisdiction")
        assert j.loc["J1", "shadow_usd_per_ths"] == pytest.approx((V_A_S1 - V_A_S2) / 100, rel=1e-6)
        assert j.loc["J1", "hashrate_ths"] == pytest.approx(8900, rel=1e-7)


def test_exclusion_and_multiplier(tmp_path):
    res = solve_dict(hand_scenario(policy={"exclude_jurisdictions": ["J1"], "power_price_multiplier": 1.0}), tmp_path)
    assert res.summary["objective_usd"] == pytest.approx(150 * V_A_S2 + 200 * 50, rel=1e-7)
    # Doubling power makes S2 worse than selling: A at S2 earns 304.375 - 438.3 < 0 -> off, V = 250 - 100.
    res = solve_dict(hand_scenario(policy={"exclude_jurisdictions": ["J1"], "power_price_multiplier": 2.0}), tmp_path)
    assert res.summary["rigs_relocated"] == 0
    assert res.summary["objective_usd"] == pytest.approx(150 * 1000 + 200 * 50, rel=1e-9)


# ---------------------------------------------------------------- generated scenarios


def generated(seed: int, n_sites: int = 6, n_origins: int = 2, **policy) -> dict:
    rng = np.random.default_rng(seed)
    models = [("S9", 13.5, 1350, 60), ("S17", 56, 2520, 700), ("S19", 95, 3250, 2500), ("S19j Pro", 100, 3050, 3000)]
    rigs = [{"model": m, "hashrate_ths": h, "power_w": p, "resale_usd": r} for m, h, p, r in models]
    origins = [{"origin": f"O{i}", "country": "CN", "lat": float(rng.uniform(25, 45)), "lon": float(rng.uniform(90, 120))}
               for i in range(n_origins)]
    fleet = [{"origin": o["origin"], "model": m[0], "count": int(rng.integers(0, 3000))} for o in origins for m in models]
    sites = [{"site": f"S{i}", "jurisdiction": f"J{i % 3}", "lat": float(rng.uniform(-40, 60)),
              "lon": float(rng.uniform(-120, 120)), "capacity_mw": float(rng.uniform(0.5, 8)),
              "power_usd_kwh": float(rng.uniform(0.02, 0.09)), "hosting_usd_kw_month": float(rng.uniform(0, 8)),
              "pue": float(rng.uniform(1.0, 1.3)), "uptime": float(rng.uniform(0.85, 1.0)),
              "reg_risk": float(rng.uniform(0, 0.4)), "import_duty": float(rng.choice([0, 0.25]))} for i in range(n_sites)]
    lanes = [{"origin": "O0", "site": "S0", "ship_usd_per_rig": 120.0, "lead_days": 9.0}]
    return sb.scenario(rigs, origins, fleet, sites, lanes, market={"btc_price_usd": 35000.0}, policy=policy)


def _read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("policy", [{}, {"max_jurisdiction_share": 0.4, "budget_usd": 2e6}, {"allow_sell": False}],
                         ids=["plain", "caps+budget", "no-sell"])
def test_output_files_rederived(tmp_path, policy):
    """Invariants re-derived from the CLI's files and the inputs alone."""
    sc = generated(7, **policy)
    folder = sb.write(sc, tmp_path / "scn")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "optimizer", "solve", str(folder), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    alloc, sites, summary = _read_csv(out / "allocation.csv"), _read_csv(out / "sites.csv"), json.loads((out / "summary.json").read_text())
    assert [*alloc[0].keys()][:9] == ["action", "origin", "model", "site", "jurisdiction", "rigs", "mw", "hashrate_ths", "value_usd"]
    rigs = {r["model"]: r for r in sc["rigs"]}
    site_in = {s["site"]: s for s in sc["sites"]}
    vals = reference_model.per_rig_values(sc)
    # every rig accounted for
    for f in sc["fleet"]:
        got = sum(float(r["rigs"]) for r in alloc if r["origin"] == f["origin"] and r["model"] == f["model"])
        assert got == pytest.approx(f["count"], abs=1e-6)
    # per-row figures from the inputs
    for r in alloc:
        n = float(r["rigs"])
        assert n > 0
        assert float(r["hashrate_ths"]) == pytest.approx(n * rigs[r["model"]]["hashrate_ths"], rel=1e-9)
        if r["action"] == "relocate":
            assert float(r["mw"]) == pytest.approx(n * rigs[r["model"]]["power_w"] * site_in[r["site"]]["pue"] / 1e6, rel=1e-9)
            assert float(r["value_usd"]) == pytest.approx(n * vals["V"][(r["model"], r["origin"], r["site"])], rel=1e-7, abs=1e-6)
            assert r["jurisdiction"] == site_in[r["site"]]["jurisdiction"]
        elif r["action"] == "sell":
            assert float(r["value_usd"]) == pytest.approx(n * vals["resale"][r["model"]], rel=1e-9)
        else:
            assert float(r["value_usd"]) == pytest.approx(n * vals["terminal"][r["model"]], rel=1e-9)
    # capacity, and sites.csv agrees with the allocation
    for s in sites:
        used = sum(float(r["mw"]) for r in alloc if r["site"] == s["site"])
        assert float(s["mw_used"]) == pytest.approx(used, abs=1e-7)
        assert used <= site_in[s["site"]]["capacity_mw"] * (1 + 1e-7) + 1e-9
    # jurisdiction caps and budget
    total_ths = sum(rigs[f["model"]]["hashrate_ths"] * f["count"] for f in sc["fleet"])
    share = sc["policy"]["max_jurisdiction_share"]
    for j in {s["jurisdiction"] for s in sc["sites"]}:
        ths = sum(float(r["hashrate_ths"]) for r in alloc if r["jurisdiction"] == j)
        assert ths <= share * total_ths * (1 + 1e-7)
    if sc["policy"]["budget_usd"] is not None:
        spent = sum(float(r["rigs"]) * vals["upfront"][(r["model"], r["origin"], r["site"])] for r in alloc if r["action"] == "relocate")
        assert spent <= sc["policy"]["budget_usd"] * (1 + 1e-7)
    # values add up to the objective (no fixed costs here) and to the independent optimum
    assert sum(float(r["value_usd"]) for r in alloc) == pytest.approx(summary["objective_usd"], rel=1e-7)
    assert summary["objective_usd"] == pytest.approx(reference_model.optimum(sc), rel=1e-6)
    assert summary["hashprice_usd_th_day"] == pytest.approx(vals["hp0"], rel=1e-12)
    if not sc["policy"]["allow_sell"]:
        assert summary["rigs_sold"] == 0


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: "-".join(s))
def test_duals_match_finite_differences(tmp_path, solver):
    """A binding site's shadow price, the budget's and a cap's predict the objective's change."""
    sc = generated(11, max_jurisdiction_share=0.45, budget_usd=3e6)
    folder = sb.write(sc, tmp_path / "scn")
    base = optimizer.load_scenario(folder, {"solver.name": solver[0], "solver.backend": solver[1]})
    res = optimizer.solve(base)
    obj = res.summary["objective_usd"]
    # CBC hands back solutions to about 8 significant digits, so its slopes get a looser tolerance.
    rel = 5e-3 if solver[0] == "cbc" else 1e-4

    def objective_with(**changes) -> float:
        if "site" in changes:
            sites = base.sites.copy()
            sites.loc[sites["site"] == changes["site"], "capacity_mw"] += changes["delta"]
            return optimizer.solve(base.with_tables(sites=sites)).summary["objective_usd"]
        return optimizer.solve(base.with_overrides(changes)).summary["objective_usd"]

    def within_slopes(dual: float, up: float, down: float) -> bool:
        # The objective is concave in a right-hand side: right slope <= dual <= left slope.
        slack = rel * max(abs(up), abs(down), 1e-9)
        return up - slack <= dual <= down + slack

    checked = 0
    for _, s in res.sites.iterrows():
        if s["shadow_usd_per_mw"] > 1.0 and s["capacity_mw"] > 0.1:
            h = 0.01
            up = (objective_with(site=s["site"], delta=h) - obj) / h
            down = (obj - objective_with(site=s["site"], delta=-h)) / h
            assert within_slopes(s["shadow_usd_per_mw"], up, down), (s["site"], s["shadow_usd_per_mw"], up, down)
            checked += 1
    assert checked >= 1
    b = res.summary["budget_shadow_usd_per_usd"]
    h = 100.0
    up = (objective_with(**{"policy.budget_usd": 3e6 + h}) - obj) / h
    down = (obj - objective_with(**{"policy.budget_usd": 3e6 - h})) / h
    assert within_slopes(b, up, down), (b, up, down)
    assert b > 0


@pytest.mark.parametrize("name", ["cap41", "cap44", "cap51", "cap64", "cap71", "cap74", "cap81", "cap94", "cap101",
                                  "cap104", "cap111", "cap114", "cap121", "cap124", "cap131", "cap134"])
def test_orlib_published_optimum(tmp_path, name):
    """Capacitated facility location (Beasley 1988) as a scenario reproduces the published optimum."""
    folder = orlib.write_scenario(orlib.read(name), tmp_path / name)
    for solver in SOLVER_NAMES:
        res = optimizer.solve(optimizer.load_scenario(folder, {"solver.name": solver}))
        assert res.summary["status"] == "optimal"
        assert -res.summary["objective_usd"] == pytest.approx(orlib.published_optimum(name), abs=2e-3)


def test_backends_agree_on_mip_and_lp(tmp_path):
    """Fixed costs, minimums, caps: the three solver paths and an independent scipy model agree."""
    for integer, (seed, n_sites, n_origins) in ((False, (3, 10, 3)), (True, (5, 6, 2))):
        sc = generated(seed, n_sites=n_sites, n_origins=n_origins, max_jurisdiction_share=0.5)
        for s in sc["sites"][: n_sites // 2 - 1]:
            s["fixed_cost_usd"] = 50_000.0
            s["min_mw"] = 0.5
        sc["policy"]["integer_rigs"] = integer
        # Proving integer-rig optimality to 1e-9 takes minutes; every solver stops within 1e-6 of its bound.
        sc["solver"]["mip_gap"] = 1e-6 if integer else 1e-9
        objs = [solve_dict(sc, tmp_path, solver).summary["objective_usd"] for solver in SOLVERS]
        assert objs == pytest.approx([objs[0]] * 3, rel=2e-6)
        assert objs[0] == pytest.approx(reference_model.optimum(sc), rel=2e-6)


def test_api_never_prints(tmp_path, capfd):
    folder = sb.write(hand_scenario(), tmp_path / "scn")
    for solver in SOLVER_NAMES:
        optimizer.solve(optimizer.load_scenario(folder, {"solver.name": solver}))
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_engine_never_imports_ui_libraries():
    code = "import sys, optimizer, optimizer.cli; bad = [m for m in ('streamlit', 'pydeck') if m in sys.modules]; print(bad)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "[]", proc.stderr
    for path in (ROOT / "optimizer").rglob("*.py"):
        text = path.read_text()
        assert "import streamlit" not in text and "import pydeck" not in text, path


def test_with_overrides_is_cheap_and_exact(tmp_path):
    folder = sb.write(hand_scenario(), tmp_path / "scn")
    scn = optimizer.load_scenario(folder)
    before = optimizer.solve(scn).summary["objective_usd"]
    a = optimizer.solve(scn.with_overrides({"market.hashprice_usd_th_day": 0.12}))
    b = optimizer.solve(optimizer.load_scenario(folder, {"market.hashprice_usd_th_day": "0.12"}))
    assert a.summary["objective_usd"] == b.summary["objective_usd"]
    assert a.summary["objective_usd"] > before * 1.01  # a higher hashprice is worth more...
    assert optimizer.solve(scn).summary["objective_usd"] == before  # ...and the original still solves as before


def test_explain_prints_the_per_rig_terms(tmp_path):
    folder = sb.write(hand_scenario(), tmp_path / "scn")
    proc = subprocess.run([sys.executable, "-m", "optimizer", "explain", str(folder), "--site", "S1", "--model", "A"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "2,337.60" in text  # operating value 12 * 194.8
    assert "2,487.60" in text  # V
    assert "250.00" in text and "100.00" in text  # terminal, freight
    assert "best on its own: relocate" in text
    b = optimizer.breakdown(optimizer.load_scenario(folder), "O1", "A", "S1")
    assert b["revenue_pv_usd"] == pytest.approx(12 * 304.375)
    assert b["power_pv_usd"] == pytest.approx(12 * 109.575)
    assert b["revenue_pv_usd"] - b["power_pv_usd"] - b["hosting_pv_usd"] == pytest.approx(b["ops_usd"])
    # each printed term on its own line, with its value: revenue 12 * 304.375, power 12 * 109.575, V
    terms = {line.strip().rsplit(None, 1)[0]: line.strip().rsplit(None, 1)[1] for line in text.splitlines()
             if line.startswith("  ") and line.strip()[:1] in "+-=r"}
    assert terms["revenue (months running, x availability x survival x discount)"] == "3,652.50"
    assert terms["- power"] == "1,314.90"
    assert terms["= value of relocating one rig (V)"] == "2,487.60"


def test_cli_exit_codes(tmp_path):
    folder = sb.write(hand_scenario(), tmp_path / "scn")
    run = lambda *a: subprocess.run([sys.executable, "-m", "optimizer", *a], cwd=ROOT, capture_output=True, text=True, timeout=120)  # noqa: E731
    ok = run("solve", str(folder), "--out", str(tmp_path / "o1"), "--set", "policy.risk_aversion=2")
    assert ok.returncode == 0, ok.stderr
    bad = run("solve", str(folder), "--out", str(tmp_path / "o2"), "--set", "policy.risk_avers=2")
    assert bad.returncode == 2 and "did you mean 'policy.risk_aversion'" in bad.stderr and "Traceback" not in bad.stderr
    infeasible = run("solve", str(folder), "--out", str(tmp_path / "o3"), "--set", "policy.allow_sell=false",
                     "--set", "policy.allow_idle=false", "--set", 'policy.exclude_jurisdictions=["J2","J3"]')
    assert infeasible.returncode == 3
    # 150 * 3,000 W + 200 * 1,400 W = 0.73 MW at PUE 1, but only S1's 0.3 MW is open
    assert "the fleet needs at least 0.73 MW but only 0.3 MW are open to it" in infeasible.stderr
