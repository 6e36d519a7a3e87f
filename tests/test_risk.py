"""SPEC section 7: sample sets, per-sample values, CVaR, the risk-aware plan, the sampler, scale-out.

Numbers are checked against hand-worked examples, section 2/3 values from the engine's own
deterministic path, an independent LP written from the formulas (tests/reference_risk.py,
scipy.optimize.milp), and statistical bounds that follow from the sample size.
"""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import optimizer
from optimizer import risk
from optimizer.risk import samples as S
from optimizer.risk.scaleout import Runner
from tests import reference_risk, scenario_builder as sb
from tests.conftest import SOLVER_PATHS

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"


def write_samples(folder: Path, samples: list[dict], weights: bool = True) -> Path:
    """A sample-set folder written by hand from reference_risk's list-of-dicts form."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["sample,weight"] if weights else ["sample"]
    lines += [f"{k},{s['weight']!r}" if weights else f"{k}" for k, s in enumerate(samples)]
    (folder / "samples.csv").write_text("\n".join(lines) + "\n")
    bans = ["sample,jurisdiction,ban_month"] + [f"{k},{j},{m}" for k, s in enumerate(samples) for j, m in s["bans"].items()]
    (folder / "bans.csv").write_text("\n".join(bans) + "\n")
    factors = [(k, t, f) for k, s in enumerate(samples) for t, f in s["factor"].items()]
    if factors:
        (folder / "hashprice.csv").write_text("sample,month,factor\n" + "".join(f"{k},{t},{f!r}\n" for k, t, f in factors))
    return folder


def tiny(**sections) -> dict:
    """Two sites in two jurisdictions, one rig model, capacity binding at the better site."""
    rigs = [{"model": "S19", "hashrate_ths": 95.0, "power_w": 3250.0, "resale_usd": 2000.0}]
    origins = [{"origin": "Sichuan", "country": "CN", "lat": 30.0, "lon": 102.0}]
    fleet = [{"origin": "Sichuan", "model": "S19", "count": 1000}]
    sites = [
        {"site": "A", "jurisdiction": "JA", "lat": 43.0, "lon": 77.0, "capacity_mw": 1.5, "power_usd_kwh": 0.03},
        {"site": "B", "jurisdiction": "JB", "lat": 31.0, "lon": -97.0, "capacity_mw": 5.0, "power_usd_kwh": 0.05},
    ]
    return sb.scenario(rigs, origins, fleet, sites, **sections)


# ---------------------------------------------------------------------------- CVaR by hand


def test_cvar_and_quantiles_hand_worked():
    v = np.array([20.0, -10.0, 10.0, 0.0])
    w = np.full(4, 0.25)
    # worst half: -10 and 0, mean -5; worst 30%: all of -10 (0.25) and 0.05 of 0 -> -2.5 / 0.3
    assert risk.cvar(v, w, 0.5) == pytest.approx(-5.0)
    assert risk.cvar(v, w, 0.3) == pytest.approx(-2.5 / 0.3)
    assert risk.cvar(v, w, 1.0) == pytest.approx(5.0)  # the whole distribution: the mean
    # weighted: outcomes 100 (0.5), 50 (0.3), 0 (0.2); worst 25%: 0.2 of 0 and 0.05 of 50 -> 2.5 / 0.25 = 10
    v2, w2 = np.array([100.0, 50.0, 0.0]), np.array([0.5, 0.3, 0.2])
    assert risk.cvar(v2, w2, 0.25) == pytest.approx(10.0)
    # lower quantiles: cumulative weight in value order is 0.2, 0.5, 1.0
    assert risk.weighted_lower_quantile(v2, w2, 0.05) == 0.0
    assert risk.weighted_lower_quantile(v2, w2, 0.2) == 0.0
    assert risk.weighted_lower_quantile(v2, w2, 0.5) == 50.0
    assert risk.weighted_lower_quantile(v2, w2, 0.95) == 100.0
    s = risk.summarize(v2, w2, 0.25, sell_all_usd=60.0)
    assert s["prob_below_sell_all"] == pytest.approx(0.5) and s["expected_npv_usd"] == pytest.approx(65.0)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), st.floats(0.01, 1.0), st.integers(0, 1000))
@settings(deadline=None, derandomize=True, max_examples=60)
def test_cvar_is_the_rockafellar_uryasev_maximum(values, alpha, seed):
    """The max over eta of the piecewise-linear concave RU function is reached at a sample value: try them all."""
    v = np.array(values)
    w = np.random.default_rng(seed).uniform(0.1, 1.0, len(v))
    w /= w.sum()
    ru = [eta - (w * np.maximum(0.0, eta - v)).sum() / alpha for eta in v]
    assert risk.cvar(v, w, alpha) == pytest.approx(max(ru), rel=1e-9, abs=1e-6)


# ---------------------------------------------------------------------------- values vs section 2


def test_no_bans_factor_one_risk_plan_equals_section_3(tmp_path):
    sc = tiny(policy={"max_jurisdiction_share": 1.0})
    scn_dir = sb.write(sc, tmp_path / "s")
    smp_dir = write_samples(tmp_path / "k", [{"weight": 1.0, "bans": {}, "factor": {}} for _ in range(5)], weights=False)
    for beta in (0.0, 0.5, 1.0):
        scn = optimizer.load_scenario(scn_dir, {"risk.weight": beta})
        base = optimizer.solve(scn)
        res = risk.solve_risk(scn, S.load_samples(smp_dir, scn))
        assert res.summary["objective_usd"] == pytest.approx(base.summary["objective_usd"], rel=1e-9)
        assert res.summary["expected_npv_usd"] == pytest.approx(base.summary["objective_usd"], rel=1e-9)
        assert res.summary["cvar_usd"] == pytest.approx(base.summary["objective_usd"], rel=1e-9)
        key = ["action", "origin", "model", "site"]
        a = base.allocation.set_index(key)["rigs"].sort_index()
        b = res.allocation.set_index(key)["rigs"].sort_index()
        pd.testing.assert_series_equal(a, b, rtol=1e-7)


def test_zero_volatility_no_risk_every_sample_is_the_section_2_value():
    scn = optimizer.load_scenario(CHINA, {"risk.hashprice_volatility": 0.0})
    scn = scn.with_tables(sites=scn.sites.assign(reg_risk=0.0))
    smp = S.draw(scn, 300, 5)
    assert smp.factor is None and (smp.ban_month == scn.settings.horizon.months).all()
    base = optimizer.solve(scn)
    rep = risk.evaluate(scn, smp)  # the plan solve makes
    assert np.allclose(rep.per_sample["npv_usd"], base.summary["objective_usd"], rtol=1e-10)


def test_zero_volatility_sampled_mean_converges_to_value_without_penalty():
    """E[B_k,t] = S_t, so the mean of NPV_k estimates the plan's value with S_t and no penalty.
    Tolerance: 4 standard errors of the mean, computed from the sample itself."""
    scn = optimizer.load_scenario(CHINA, {"risk.hashprice_volatility": 0.0, "policy.risk_aversion": 0.0})
    plan = optimizer.solve(scn)
    expected = plan.summary["objective_usd"]  # section 2 value with S_t, penalty 0
    smp = S.draw(scn, 20000, 11)
    npv = risk.evaluate(scn, smp).per_sample["npv_usd"].to_numpy()
    se = npv.std(ddof=1) / math.sqrt(len(npv))
    assert se > 0
    assert abs(npv.mean() - expected) < 4 * se, (npv.mean(), expected, se)


def test_sampled_values_match_the_scalar_reference():
    sc = tiny(horizon={"months": 9})
    sc["sites"][1]["hosting_usd_kw_month"] = 4.0
    samples = [{"weight": 0.4, "bans": {"JA": 3}, "factor": {1: 0.5, 2: 2.0, 5: 0.1}},
               {"weight": 0.6, "bans": {"JB": 0, "JA": 8}, "factor": {0: 1.3}}]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        scn = optimizer.load_scenario(sb.write(sc, Path(tmp) / "s"))
        smp = S.load_samples(write_samples(Path(tmp) / "k", samples), scn)
    econ = optimizer.compute_economics(scn)
    terms = risk.pair_terms(scn, econ, smp, np.array([0, 0]), np.array([0, 1]))
    got = risk.relocation_values(terms, smp)
    for k, sample in enumerate(samples):
        ref = reference_risk.sample_values(sc, sample)
        assert got[k] == pytest.approx([ref[("S19", "Sichuan", "A")], ref[("S19", "Sichuan", "B")]], rel=1e-10)


# ---------------------------------------------------------------------------- property: independent LP


money = st.floats(min_value=0, max_value=5000, allow_nan=False, allow_infinity=False)


@st.composite
def risky(draw, mip: bool):
    rigs = [{"model": f"R{i}", "hashrate_ths": draw(st.floats(5, 150)), "power_w": draw(st.floats(800, 3600)),
             "resale_usd": draw(money)} for i in range(draw(st.integers(1, 2)))]
    origins = [{"origin": "O0", "country": "CN", "lat": draw(st.floats(20, 45)), "lon": draw(st.floats(80, 125))}]
    fleet = [{"origin": "O0", "model": r["model"], "count": draw(st.integers(0, 3000))} for r in rigs]
    sites = []
    for i in range(draw(st.integers(1, 3))):
        site = {"site": f"S{i}", "jurisdiction": f"J{draw(st.integers(0, 1))}", "lat": draw(st.floats(-60, 70)),
                "lon": draw(st.floats(-179, 179)), "capacity_mw": draw(st.floats(0, 6)),
                "power_usd_kwh": draw(st.floats(0, 0.12)), "hosting_usd_kw_month": draw(st.floats(0, 10)),
                "pue": draw(st.floats(1, 1.4)), "uptime": draw(st.floats(0.6, 1)), "reg_risk": draw(st.floats(0, 0.5)),
                "mgmt_fee_usd_kwh": draw(st.sampled_from([0.0, 0.0, 0.004, 0.03]))}
        if mip:
            site["fixed_cost_usd"] = draw(st.sampled_from([0.0, 20_000.0, 150_000.0]))
            site["min_mw"] = draw(st.sampled_from([0.0, 0.5]))
        sites.append(site)
    H = draw(st.integers(1, 12))
    policy = {"max_jurisdiction_share": draw(st.sampled_from([1.0, 0.6])), "allow_sell": draw(st.booleans()),
              "allow_idle": True, "risk_aversion": draw(st.floats(0, 2))}
    sc = sb.scenario(rigs, origins, fleet, sites, policy=policy, horizon={"months": H},
                     market={"btc_price_usd": draw(st.floats(5000, 80000)), "hashprice_monthly_change": draw(st.floats(-0.08, 0.03))})
    juris = sorted({s["jurisdiction"] for s in sites})
    samples = []
    for _ in range(draw(st.integers(1, 6))):
        bans = {j: draw(st.integers(0, H - 1)) for j in juris if draw(st.booleans())}
        factor = {t: draw(st.floats(0.05, 3.0)) for t in range(H) if draw(st.booleans())}
        samples.append({"weight": draw(st.floats(0.1, 1.0)), "bans": bans, "factor": factor})
    total = sum(s["weight"] for s in samples)
    for s in samples:
        s["weight"] /= total
    risk_set = {"alpha": draw(st.sampled_from([0.05, 0.3, 1.0])), "weight": draw(st.sampled_from([0.0, 0.4, 1.0]))}
    return sc, samples, risk_set


def _check_against_reference(sc, samples, rs, tmp: Path, floor: float | None = None):
    expected = reference_risk.risk_optimum(sc, samples, rs["alpha"], rs["weight"], floor)
    overrides = {"risk.alpha": rs["alpha"], "risk.weight": rs["weight"]}
    if floor is not None:
        overrides["risk.cvar_floor_usd"] = floor
    scn = optimizer.load_scenario(sb.write(sc, tmp / "s"), overrides)
    smp = S.load_samples(write_samples(tmp / "k", samples), scn)
    if expected is None:
        with pytest.raises(optimizer.InfeasibleError):
            risk.solve_risk(scn, smp)
        return None
    res = risk.solve_risk(scn, smp)
    assert res.summary["objective_usd"] == pytest.approx(expected, rel=1e-6, abs=1e-2)
    # the reported E and CVaR, re-derived from the written plan, give the objective
    s = res.summary
    assert (1 - rs["weight"]) * s["expected_npv_usd"] + rs["weight"] * s["cvar_usd"] == pytest.approx(expected, rel=1e-6, abs=1e-2)
    return res


@pytest.mark.parametrize("mip", [False, True])
@given(data=st.data())
@settings(deadline=None, derandomize=True, max_examples=25, suppress_health_check=[HealthCheck.too_slow,
                                                                                   HealthCheck.function_scoped_fixture])
def test_risk_plan_matches_independent_lp(mip, data, tmp_path_factory):
    sc, samples, rs = data.draw(risky(mip))
    _check_against_reference(sc, samples, rs, tmp_path_factory.mktemp("p"))


def test_cvar_floor_binds_and_infeasible_floor_is_reported(tmp_path):
    sc = tiny()
    # one bad future in three: both jurisdictions ban at once (relocated rigs earn nothing)
    samples = [{"weight": 0.4, "bans": {"JA": 2}, "factor": {}}, {"weight": 0.3, "bans": {}, "factor": {3: 0.4}},
               {"weight": 0.3, "bans": {"JB": 0, "JA": 0}, "factor": {}}]
    rs = {"alpha": 0.3, "weight": 0.0}
    free = _check_against_reference(sc, samples, rs, tmp_path / "a")
    best = _check_against_reference(sc, samples, {"alpha": 0.3, "weight": 1.0}, tmp_path / "m")
    assert best.summary["cvar_usd"] > free.summary["cvar_usd"] + 1e4  # the example has a real trade-off
    floor = free.summary["cvar_usd"] + 0.5 * (best.summary["cvar_usd"] - free.summary["cvar_usd"])
    bound = _check_against_reference(sc, samples, rs, tmp_path / "b", floor=floor)
    assert bound.summary["cvar_usd"] >= floor - 1e-3
    assert bound.summary["expected_npv_usd"] <= free.summary["expected_npv_usd"] + 1e-3
    _check_against_reference(sc, samples, rs, tmp_path / "c", floor=1e12)  # the reference says infeasible too


# ---------------------------------------------------------------------------- the sampler


def test_sampler_survival_matches_section_2_within_binomial_bounds():
    for rho in (0.0, 0.3, 0.8):
        scn = optimizer.load_scenario(CHINA, {"risk.ban_correlation": rho})
        n = 20000
        smp = S.draw(scn, n, 3)
        juris, reg = S.scenario_jurisdictions(scn)
        assert smp.jurisdictions == juris
        H = scn.settings.horizon.months
        t = np.arange(H)
        for j, r in enumerate(reg):
            surv = (1 - r) ** ((t + 0.5) / 12)  # section 2, restated
            share = (smp.ban_month[:, j][:, None] > t[None, :]).mean(axis=0)
            # 5 binomial standard deviations (384 checks per rho), plus one sample for the discreteness
            bound = 5 * np.sqrt(surv * (1 - surv) / n) + 1 / n
            assert (np.abs(share - surv) <= bound).all(), (rho, juris[j], share - surv)


def test_ban_correlation_links_jurisdictions():
    """With rho > 0 bans cluster: the correlation of 'banned within the horizon' across jurisdictions is
    positive beyond sampling noise (about 1/sqrt(n)); with rho = 0 it is within that noise."""
    def mean_pair_corr(rho: float) -> float:
        scn = optimizer.load_scenario(CHINA, {"risk.ban_correlation": rho})
        smp = S.draw(scn, 8000, 9)
        banned = (smp.ban_month < smp.months).astype(float)
        banned = banned[:, banned.std(axis=0) > 0]
        c = np.corrcoef(banned.T)
        return float(c[np.triu_indices_from(c, 1)].mean())

    noise = 4 / math.sqrt(8000)
    assert abs(mean_pair_corr(0.0)) < noise
    assert mean_pair_corr(0.6) > 3 * noise


def test_hashprice_factors_have_mean_one_and_the_stated_volatility():
    scn = optimizer.load_scenario(CHINA, {"risk.hashprice_volatility": 0.6})
    n = 20000
    smp = S.draw(scn, n, 4)
    f = smp.factor
    assert (f[:, 0] == 1.0).all() and (f > 0).all()
    sigma = 0.6 / math.sqrt(12)
    t = np.arange(smp.months)
    # exact lognormal moments: Var[f_t] = exp(sigma^2 t) - 1
    se = np.sqrt(np.expm1(sigma**2 * t) / n)
    assert (np.abs(f.mean(axis=0) - 1) <= 4.5 * se + 1e-12).all()
    steps = np.diff(np.log(f), axis=1)
    assert steps.std() == pytest.approx(sigma, rel=0.01)
    assert optimizer.load_scenario(CHINA, {"risk.hashprice_volatility": 0.0}) and \
        S.draw(scn.with_overrides({"risk.hashprice_volatility": 0.0}), 10, 4).factor is None


def test_same_seed_same_files_whatever_the_chunking(tmp_path):
    scn = optimizer.load_scenario(CHINA)
    a = S.draw(scn, 2500, 42)
    with Runner(threads=2) as runner:
        b = S.draw(scn, 2500, 42, mapper=lambda fn, items: runner.map(lambda item, fn: fn(*item), items, fn=fn))
    a.write(tmp_path / "a")
    b.write(tmp_path / "b")
    for name in ("samples.csv", "bans.csv", "hashprice.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    c = S.load_samples(tmp_path / "a", scn)
    assert np.array_equal(c.ban_month, a.ban_month) and np.array_equal(c.factor, a.factor)
    assert not np.array_equal(S.draw(scn, 2500, 43).ban_month, a.ban_month)


# ---------------------------------------------------------------------------- bad input


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optimizer", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("file,text,row,column", [
    ("samples.csv", "sample,weight\n0,1\n1,-2\n", 3, "weight"),
    ("samples.csv", "sample,weight\n0,1\n0,1\n", 3, "sample"),
    ("bans.csv", "sample,jurisdiction,ban_month\n0,Texass,3\n", 2, "jurisdiction"),
    ("bans.csv", "sample,jurisdiction,ban_month\n0,Texas,24\n", 2, "ban_month"),
    ("bans.csv", "sample,jurisdiction,ban_month\n7,Texas,2\n", 2, "sample"),
    ("bans.csv", "sample,jurisdiction,ban_month\n0,Texas,2\n0,Texas,5\n", 3, "jurisdiction"),
    ("bans.csv", "sample,jurisdiction,ban_month\n0,Texas,2.5\n", 2, "ban_month"),
    ("hashprice.csv", "sample,month,factor\n0,0,1.0\n1,3,0\n", 3, "factor"),
    ("hashprice.csv", "sample,month,factor\n0,30,1.0\n", 2, "month"),
])
def test_bad_sample_sets_exit_2_with_file_row_column(tmp_path, capsys, file, text, row, column):
    from optimizer.cli import main

    folder = write_samples(tmp_path / "k", [{"weight": 1.0, "bans": {}, "factor": {}}, {"weight": 1.0, "bans": {}, "factor": {}}])
    (folder / file).write_text(text)
    code = main(["risk", str(CHINA), "--samples", str(folder), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{file}, row {row}, column '{column}'" in err
    assert "Traceback" not in err


def test_missing_sample_files_and_bad_plan_exit_2(tmp_path):
    (tmp_path / "k").mkdir()
    proc = _cli("risk", str(CHINA), "--samples", str(tmp_path / "k"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "samples.csv: is missing" in proc.stderr
    folder = write_samples(tmp_path / "k2", [{"weight": 1.0, "bans": {}, "factor": {}}])
    plan = tmp_path / "allocation.csv"
    plan.write_text("action,origin,model,site,rigs\nrelocate,Sichuan (Garze),Antminer S19 Pro,Nowhere,5\n")
    proc = _cli("risk", str(CHINA), "--samples", str(folder), "--out", str(tmp_path / "o"), "--plan", str(plan))
    assert proc.returncode == 2 and "allocation.csv, row 2, column 'site'" in proc.stderr


# ---------------------------------------------------------------------------- CLI end to end


def test_cli_sample_risk_solve_round_trip(tmp_path):
    """risk.json re-derived from risk.csv; `risk --plan` of the risk-aware plan reproduces solve's E and CVaR."""
    assert _cli("sample", str(CHINA), "--out", str(tmp_path / "k"), "--n", "400", "--seed", "8").returncode == 0
    proc = _cli("solve", str(CHINA), "--samples", str(tmp_path / "k"), "--out", str(tmp_path / "plan"),
                "--set", "risk.weight=0.5", "--set", "risk.alpha=0.1")
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_json(tmp_path / "plan" / "summary.json", typ="series")
    for key in ("expected_npv_usd", "cvar_usd", "risk_alpha", "risk_weight", "n_samples"):
        assert key in summary
    assert summary["objective_usd"] == pytest.approx(0.5 * summary["expected_npv_usd"] + 0.5 * summary["cvar_usd"], rel=1e-7)
    proc = _cli("risk", str(CHINA), "--samples", str(tmp_path / "k"), "--out", str(tmp_path / "r"),
                "--plan", str(tmp_path / "plan" / "allocation.csv"), "--set", "risk.alpha=0.1")
    assert proc.returncode == 0, proc.stderr
    rj = pd.read_json(tmp_path / "r" / "risk.json", typ="series")
    assert set(rj.index) == set(risk.RISK_JSON_KEYS)
    rc = pd.read_csv(tmp_path / "r" / "risk.csv")
    assert list(rc.columns) == ["sample", "npv_usd"] and len(rc) == 400 == rj["n_samples"]
    v = rc["npv_usd"].to_numpy()
    assert rj["expected_npv_usd"] == pytest.approx(v.mean(), rel=1e-12)
    worst = np.sort(v)[:40]  # alpha 0.1 of 400 equal weights: exactly the 40 worst
    assert rj["cvar_usd"] == pytest.approx(worst.mean(), rel=1e-9)
    assert rj["p5_usd"] == np.sort(v)[19] and rj["p50_usd"] == np.sort(v)[199]
    assert rj["expected_npv_usd"] == pytest.approx(summary["expected_npv_usd"], rel=1e-7)
    assert rj["cvar_usd"] == pytest.approx(summary["cvar_usd"], rel=1e-7)


def test_frontier_and_stress_outputs(tmp_path):
    scn = optimizer.load_scenario(CHINA)
    smp = S.draw(scn, 300, 1)
    fr = risk.frontier(scn, smp, [0.0, 0.5, 1.0])
    fr.write(tmp_path / "f")
    t = pd.read_csv(tmp_path / "f" / "frontier.csv")
    # a higher CVaR weight never lowers CVaR nor raises the expected value (each point is optimal for its weight)
    assert (np.diff(t["cvar_usd"]) >= -1e-3).all() and (np.diff(t["expected_npv_usd"]) <= 1e-3).all()
    for folder in t["folder"]:
        alloc = pd.read_csv(tmp_path / "f" / folder / "allocation.csv")
        assert alloc["rigs"].sum() == pytest.approx(39000)
    sites = pd.read_csv(tmp_path / "f" / "frontier_sites.csv")
    counts = np.column_stack([pd.read_csv(tmp_path / "f" / f / "sites.csv")["rigs"] > 0 for f in t["folder"]]).sum(axis=1)
    assert (sites["points_used"].to_numpy() == counts).all()

    st_ = risk.stress(scn, month=0)
    base = optimizer.solve(scn).summary["objective_usd"]
    for _, row in st_.table.iterrows():
        excl = optimizer.solve(scn.with_overrides({"policy.exclude_jurisdictions": [row["jurisdiction"]]}))
        # a ban from month 0 is worth exactly what excluding the jurisdiction is worth
        assert row["stressed_objective_usd"] == pytest.approx(excl.summary["objective_usd"], rel=1e-7)
        assert row["value_lost_usd"] == pytest.approx(base - excl.summary["objective_usd"], rel=1e-6, abs=1.0)
        assert row["value_lost_if_kept_usd"] >= row["value_lost_usd"] - 1.0


# ---------------------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",  # any free port: 8787 may be taken
                                  silence_logs=40) as c:
        yield c.scheduler_address


def test_dask_cluster_gives_the_same_files_and_numbers(cluster, tmp_path):
    scn = optimizer.load_scenario(CHINA)
    local = S.draw(scn, 2100, 77)
    with Runner(cluster) as runner:
        remote = S.draw(scn, 2100, 77, mapper=lambda fn, items: runner.map(lambda item, fn: fn(*item), items, fn=fn))
        rep_remote = risk.evaluate(scn, remote, runner=runner)
        fr_remote = risk.frontier(scn, remote, [0.0, 1.0], runner)
    assert np.array_equal(local.ban_month, remote.ban_month) and np.array_equal(local.factor, remote.factor)
    rep_local = risk.evaluate(scn, local)
    assert rep_local.files() == rep_remote.files()
    fr_local = risk.frontier(scn, local, [0.0, 1.0])
    pd.testing.assert_frame_equal(fr_local.table, fr_remote.table)
    # the CLI with --scheduler writes the same bytes as without
    for extra in ([], ["--scheduler", cluster]):
        out = tmp_path / ("remote" if extra else "local")
        assert _cli("sample", str(CHINA), "--out", str(out / "k"), "--n", "1500", "--seed", "5", *extra).returncode == 0
        proc = _cli("risk", str(CHINA), "--samples", str(out / "k"), "--out", str(out / "r"), *extra)
        assert proc.returncode == 0, proc.stderr
    for name in ("k/samples.csv", "k/bans.csv", "k/hashprice.csv", "r/risk.csv", "r/risk.json"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "remote" / name).read_bytes()


def test_unreachable_scheduler_is_bad_input(tmp_path):
    proc = _cli("sample", str(CHINA), "--out", str(tmp_path / "k"), "--n", "10", "--scheduler", "tcp://127.0.0.1:9")
    assert proc.returncode == 2 and "--scheduler" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("volatility", [0.0, 0.9])
def test_folded_plan_npv_equals_the_per_pair_sum(volatility):
    """plan_npv's threshold form (pairs sorted by power/revenue per month) against sum_p x_p V_k,p."""
    scn = optimizer.load_scenario(CHINA, {"risk.hashprice_volatility": volatility, "risk.ban_correlation": 0.5})
    econ = optimizer.compute_economics(scn)
    smp = S.draw(scn, 700, 21)
    rng = np.random.default_rng(0)
    G, n_sites = econ.n_groups, len(econ.sites)
    gi, si = np.divmod(rng.choice(G * n_sites, 120, replace=False), n_sites)
    plan = risk.Plan(gi, si, rng.uniform(0, 50, len(gi)), 1234.5, 0.0)
    per_pair = risk.relocation_values(risk.pair_terms(scn, econ, smp, gi, si), smp) @ plan.rigs + plan.constant_usd
    assert np.allclose(risk.plan_npv(scn, econ, plan, smp), per_pair, rtol=1e-10, atol=1e-4)
    folded = risk.plan_terms(risk.pair_terms(scn, econ, smp, gi, si), plan.rigs, plan.constant_usd)
    paths = risk.operating_paths(folded, smp)
    assert paths.shape == (smp.n, smp.months)
    assert np.allclose(paths[:, -1] + folded.fixed_usd, per_pair, rtol=1e-10, atol=1e-4)


def test_risk_lp_same_optimum_through_pulp_highs_direct_highs_and_cbc():
    """The appended eta (free) and u columns reach every solver path; all three give one optimum."""
    objectives = []
    for solver, backend in SOLVER_PATHS:
        scn = optimizer.load_scenario(CHINA, {"risk.weight": 0.5, "solver.name": solver, "solver.backend": backend})
        res = risk.solve_risk(scn, S.draw(scn, 150, 3))
        assert res.summary["backend"] == backend and res.summary["solver"] == solver
        objectives.append(res.summary["objective_usd"])
    assert objectives[1] == pytest.approx(objectives[0], rel=1e-7)
    assert objectives[2] == pytest.approx(objectives[0], rel=1e-6)  # CBC reports ~8 significant digits


def test_one_known_future_for_a_backtest():
    """one_future: no bans and the scenario's own hashprice give the section 2 value without S_t or
    penalty (reg_risk 0 here, so exactly the plan's objective); a ban from month 0 everywhere leaves
    relocated rigs worth terminal - upfront; a realised path scales every month's revenue."""
    scn = optimizer.load_scenario(CHINA, {"policy.risk_aversion": 0.0})
    scn = scn.with_tables(sites=scn.sites.assign(reg_risk=0.0))
    res = optimizer.solve(scn)
    econ = optimizer.compute_economics(scn)
    plan = risk.plan_from_result(scn, econ, res)
    hp = optimizer.economics.hashprice(scn)
    same = S.one_future(scn, {}, hp)
    assert np.allclose(same.factor, 1.0)
    assert risk.plan_npv(scn, econ, plan, same)[0] == pytest.approx(res.summary["objective_usd"], rel=1e-10)
    juris, _ = S.scenario_jurisdictions(scn)
    banned = S.one_future(scn, {j: 0 for j in juris})
    upfront_terminal = (plan.rigs * (econ.terminal_usd[plan.gi] - econ.upfront_usd[plan.gi, plan.si])).sum()
    assert risk.plan_npv(scn, econ, plan, banned)[0] == pytest.approx(upfront_terminal + plan.constant_usd, rel=1e-10)
    doubled = S.one_future(scn, {}, 2 * hp)
    terms = risk.pair_terms(scn, econ, doubled, plan.gi, plan.si)
    by_hand = (terms.path.discount * terms.path.availability * terms.path.margin(2.0)).sum(axis=1) + terms.fixed_usd
    assert risk.plan_npv(scn, econ, plan, doubled)[0] == pytest.approx(by_hand @ plan.rigs + plan.constant_usd, rel=1e-10)
    with pytest.raises(optimizer.ScenarioError, match="unknown jurisdiction"):
        S.one_future(scn, {"Atlantis": 3})


def test_risk_plan_same_with_one_pass_and_two_pass_sample_values(monkeypatch):
    scn = optimizer.load_scenario(CHINA, {"risk.weight": 0.3})
    smp = S.draw(scn, 300, 12)
    one = risk.solve_risk(scn, smp)
    monkeypatch.setattr(risk, "FULL_MATRIX_BYTES", 0)  # large markets: max/mean first, then the kept columns
    two = risk.solve_risk(scn, smp)
    assert two.summary["objective_usd"] == pytest.approx(one.summary["objective_usd"], rel=1e-9)
    assert two.summary["n_variables"] == one.summary["n_variables"]


def test_later_ban_costs_no_more_and_bad_stress_or_frontier_arguments_exit_2(tmp_path, capsys):
    from optimizer.cli import main

    scn = optimizer.load_scenario(CHINA)
    early, late = risk.stress(scn, 0).table.set_index("jurisdiction"), risk.stress(scn, 12).table.set_index("jurisdiction")
    assert (late["value_lost_usd"] <= early["value_lost_usd"] + 1.0).all()
    assert (late["value_lost_if_kept_usd"] <= early["value_lost_if_kept_usd"] + 1.0).all()
    assert (early.loc[early["rigs_in_jurisdiction_base"] == 0, "value_lost_usd"].abs() < 1e-6).all()
    # banned from month 0, a site earns nothing: every rig there leaves
    assert np.allclose(early["rigs_leaving_jurisdiction"], early["rigs_in_jurisdiction_base"], atol=1e-6)
    assert main(["stress", str(CHINA), "--out", str(tmp_path / "s"), "--month", "24"]) == 2
    assert "--month" in capsys.readouterr().err
    (tmp_path / "k").mkdir()
    S.draw(scn, 20, 1).write(tmp_path / "k")
    assert main(["frontier", str(CHINA), "--samples", str(tmp_path / "k"), "--out", str(tmp_path / "f"),
                 "--weights", "0,1.5"]) == 2
    assert "--weights" in capsys.readouterr().err


def test_a_plan_worth_exactly_selling_is_never_below_selling():
    # An LP plan that sells everything comes back with rig counts like 8999.999999999995: its NPV equals
    # selling to the last few digits, and must not count as "below selling".
    sell_all = 83_313_500.0
    npv = np.array([sell_all * (1 - 1e-15), sell_all, sell_all * (1 - 1e-6)])
    s = risk.summarize(npv, np.full(3, 1 / 3), 0.05, sell_all)
    assert s["prob_below_sell_all"] == pytest.approx(1 / 3)  # only the one $83 below
