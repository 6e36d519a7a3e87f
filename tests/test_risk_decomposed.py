"""The risk-aware plan by cutting planes (optimizer/risk/decomposed.py) against the full
Rockafellar-Uryasev LP and against the independent scipy model of tests/reference_risk.py;
the sums over samples it builds its cuts from against the per-sample value matrix; the Dask
path's data sent once and its chunking (optimizer/risk/scaleout.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import optimizer
from optimizer import risk
from optimizer.risk import decomposed, scaleout
from optimizer.risk import samples as S
from optimizer.risk.scaleout import Runner
from tests import reference_risk, scenario_builder as sb
from tests import test_risk as base  # its strategies and helpers (a module object: its tests are not collected twice)

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"


def both(scn, smp, runner=None):
    """(full LP result, cutting-plane result) of the same scenario and samples."""
    full = risk.solve_risk(scn.with_overrides({"risk.method": "full"}), smp, runner)
    cuts = risk.solve_risk(scn.with_overrides({"risk.method": "cuts"}), smp, runner)
    assert full.summary["backend"] != "cuts" and cuts.summary["backend"] == "cuts"
    return full, cuts


def assert_same_optimum(full, cuts, rel=1e-6, abs_usd=1e-2):
    f, c = full.summary, cuts.summary
    assert c["objective_usd"] == pytest.approx(f["objective_usd"], rel=rel, abs=abs_usd)
    # the cut plan's figures re-derived from its own NPV_k give its objective
    w = c["risk_weight"]
    assert (1 - w) * c["expected_npv_usd"] + w * c["cvar_usd"] == pytest.approx(c["objective_usd"], rel=rel, abs=abs_usd)


# ---------------------------------------------------------------------------- the sums the cuts are made of


@pytest.mark.parametrize("volatility", [0.0, 0.9])
def test_sample_weighted_values_equal_the_weighted_value_matrix(volatility):
    """sum_k omega_k V_k,p by the threshold form against omega @ relocation_values (the (K, P) matrix)."""
    scn = optimizer.load_scenario(CHINA, {"risk.hashprice_volatility": volatility, "risk.ban_correlation": 0.6})
    econ = optimizer.compute_economics(scn)
    smp = S.draw(scn, 900, 8)
    G, n_sites = econ.n_groups, len(econ.sites)
    gi, si = np.divmod(np.arange(G * n_sites), n_sites)
    terms = risk.pair_terms(scn, econ, smp, gi, si)
    matrix = risk.relocation_values(terms, smp)
    rng = np.random.default_rng(1)
    weighted = decomposed.SampleWeightedValues(terms, smp)
    for omega in (smp.weight, rng.uniform(0, 1, smp.n) * (rng.random(smp.n) < 0.05), np.zeros(smp.n)):
        want = omega @ matrix
        assert np.allclose(weighted(omega), want, rtol=1e-10, atol=1e-6 * np.abs(want).max(initial=1.0))
    # the pruning bound is one: no pair ever beats it in any sample
    assert (decomposed.value_upper_bound(terms, smp) >= matrix.max(axis=0) - 1e-6).all()


# ---------------------------------------------------------------------------- same optimum as the full LP


@pytest.mark.parametrize("overrides", [
    {"risk.weight": 0.5},
    {"risk.weight": 1.0, "risk.alpha": 0.1},
    {"risk.weight": 0.25, "risk.alpha": 0.02, "policy.max_jurisdiction_share": 0.3},
    {"risk.weight": 0.0, "risk.cvar_floor_usd": 6e7},  # the floor alone: E subject to CVaR >= floor
    {"risk.weight": 0.7, "risk.cvar_floor_usd": 7.5e7},
])
def test_china_2021_cuts_equal_the_full_lp(overrides):
    scn = optimizer.load_scenario(CHINA, overrides)
    smp = S.draw(scn, 250, 5)
    full, cuts = both(scn, smp)
    assert_same_optimum(full, cuts)
    f, c = full.summary, cuts.summary
    # china-2021's optimum is unique here: the same E and CVaR, not only the same objective
    assert c["expected_npv_usd"] == pytest.approx(f["expected_npv_usd"], rel=1e-6)
    assert c["cvar_usd"] == pytest.approx(f["cvar_usd"], rel=1e-6)
    if "risk.cvar_floor_usd" in overrides:
        assert c["cvar_usd"] >= overrides["risk.cvar_floor_usd"] * (1 - 1e-9)
    # the plan's risk figures, re-derived from its written allocation by the per-sample evaluator
    econ = optimizer.compute_economics(scn)
    report = risk.evaluate(scn, smp, risk.plan_from_allocation(scn, econ, cuts.allocation), econ=econ)
    assert report.summary["cvar_usd"] == pytest.approx(c["cvar_usd"], rel=1e-6)
    assert report.summary["expected_npv_usd"] == pytest.approx(c["expected_npv_usd"], rel=1e-6)


def test_restricted_master_column_generation_gives_the_same_optimum(monkeypatch):
    """The master with columns priced in (the marketplace path), forced on china-2021."""
    monkeypatch.setattr(decomposed, "COLUMNS_ABOVE", 0)
    scn = optimizer.load_scenario(CHINA, {"risk.weight": 0.6, "risk.alpha": 0.05})
    smp = S.draw(scn, 300, 9)
    full, cuts = both(scn, smp)
    assert cuts.timings["risk_master_columns"] < cuts.summary["n_variables"]  # columns were left out, then priced
    assert_same_optimum(full, cuts)
    assert cuts.summary["cvar_usd"] == pytest.approx(full.summary["cvar_usd"], rel=1e-6)
    # and with a floor, where a restricted master may be infeasible before its columns come in
    scn_f = scn.with_overrides({"risk.weight": 0.0, "risk.cvar_floor_usd": 7e7})
    assert_same_optimum(*both(scn_f, smp))


def test_infeasible_floor_is_reported_by_both_methods():
    scn = optimizer.load_scenario(CHINA, {"risk.cvar_floor_usd": 1e12, "risk.method": "cuts"})
    smp = S.draw(scn, 100, 2)
    with pytest.raises(optimizer.InfeasibleError, match="cvar_floor_usd"):
        risk.solve_risk(scn, smp)


def _check_cuts_against_reference(sc, samples, rs, tmp: Path, floor: float | None = None):
    """The cut plan against tests/reference_risk.py's scipy model (no shared code) and the full LP."""
    expected = reference_risk.risk_optimum(sc, samples, rs["alpha"], rs["weight"], floor)
    overrides = {"risk.alpha": rs["alpha"], "risk.weight": rs["weight"], "solver.mip_gap": 1e-9}
    if floor is not None:
        overrides["risk.cvar_floor_usd"] = floor
    scn = optimizer.load_scenario(sb.write(sc, tmp / "s"), overrides)
    smp = S.load_samples(base.write_samples(tmp / "k", samples), scn)
    if expected is None:
        with pytest.raises(optimizer.InfeasibleError):
            risk.solve_risk(scn.with_overrides({"risk.method": "cuts"}), smp)
        return
    full, cuts = both(scn, smp)
    if full.summary["objective_usd"] == pytest.approx(expected, rel=1e-6, abs=1e-2):
        assert_same_optimum(full, cuts)
        assert cuts.summary["objective_usd"] == pytest.approx(expected, rel=1e-6, abs=1e-2)
    else:
        # The engine's MIP itself misses the independent optimum on one shrunk example (section 3 alone,
        # optimizer.solve, opens a 6e-8 MW site for its 20,000 USD fixed cost; HiGHS tolerances on a
        # tiny coefficient): the cut master (tighter tolerances) must then match the independent model.
        assert cuts.summary["objective_usd"] == pytest.approx(expected, rel=1e-6, abs=1e-2)


@pytest.mark.parametrize("mip", [False])  # a MIP takes the full model (test_cuts_refuse_a_mip)
@given(data=st.data())
@settings(deadline=None, derandomize=True, max_examples=30, suppress_health_check=[HealthCheck.too_slow,
                                                                                   HealthCheck.function_scoped_fixture])
def test_random_scenarios_cuts_equal_the_full_lp_and_the_reference(mip, data, tmp_path_factory):
    sc, samples, rs = data.draw(base.risky(mip))
    floor = None
    if data.draw(st.booleans()):  # a floor somewhere between selling everything and far above
        sell_all = sum(f["count"] * next(r for r in sc["rigs"] if r["model"] == f["model"])["resale_usd"] for f in sc["fleet"])
        floor = data.draw(st.sampled_from([0.5, 1.0, 1.05, 3.0])) * sell_all
    _check_cuts_against_reference(sc, samples, rs, tmp_path_factory.mktemp("c"), floor)


def test_cuts_refuse_a_mip_and_auto_leaves_it_to_the_full_model():
    scn = optimizer.load_scenario(CHINA, overrides={"policy.integer_rigs": True, "risk.method": "cuts"})
    smp = S.draw(scn, 50, 3)
    with pytest.raises(optimizer.ScenarioError, match="for LP mode"):
        risk.solve_risk(scn, smp)
    assert not decomposed.use_cuts("auto", "highs", 10**6, 10**6, "mip")
    assert decomposed.use_cuts("auto", "highs", 10**6, 10**6, "lp")


def test_method_choice():
    assert decomposed.use_cuts("cuts", "highs", 10, 10) and not decomposed.use_cuts("full", "highs", 10**6, 10**6)
    assert decomposed.use_cuts("auto", "highs", 1000, decomposed.CUTS_ABOVE // 1000 + 1)
    assert not decomposed.use_cuts("auto", "highs", 1000, decomposed.CUTS_ABOVE // 1000)
    assert not decomposed.use_cuts("auto", "cbc", 10**6, 10**6)  # cuts solve with HiGHS only
    scn = optimizer.load_scenario(CHINA, {"risk.method": "cuts", "solver.name": "cbc"})
    with pytest.raises(optimizer.ScenarioError, match="risk.method"):
        risk.solve_risk(scn, S.draw(scn, 10, 1))


# ---------------------------------------------------------------------------- scale-out: data sent once, chunks


def test_chunk_rule_hand_worked():
    # 10,000 items at 1 ms = 10 s of work; overhead 5 ms + fixed 45 ms per task: chunks of at least 1 s
    # (5% rule), at most 2 per worker slot: 4 slots -> 8 chunks of 1,250
    ranges = scaleout.chunk_ranges(0, 10_000, 1e-3, 4, 0.005, 0.045)
    assert ranges == [(a, a + 1250) for a in range(0, 10_000, 1250)]
    # the same work with 0.2 s per task to hide: 10 s * 0.05 / 0.25 = 2 chunks
    assert len(scaleout.chunk_ranges(0, 10_000, 1e-3, 4, 0.2, 0.05)) == 2
    # 5 chunks' worth (10 s * 0.05 / 0.1 s) on 3 workers: rounded down to 3, one each
    assert len(scaleout.chunk_ranges(0, 10_000, 1e-3, 3, 0.1, 0.0)) == 3
    # too little work for one task's overhead: one range (map_ranges runs it in this process)
    assert scaleout.chunk_ranges(100, 200, 1e-6, 4, 0.01) == [(100, 200)]
    # memory: 1 MB per item under 128 MiB per chunk needs at least 79 chunks, whatever the overhead
    assert len(scaleout.chunk_ranges(0, 10_000, 1e-9, 1, 1.0, 0.0, 2**20)) == 79


def test_npv_never_depends_on_the_chunking(monkeypatch):
    """Per-sample NPVs are computed sample by sample: any ranges give the same bits (so any chunk rule,
    local or on a cluster, writes the same risk.csv)."""
    scn = optimizer.load_scenario(CHINA)
    econ = optimizer.compute_economics(scn)
    smp = S.draw(scn, 1500, 4)
    plan = risk.plan_from_result(scn, econ, optimizer.solve(scn, details=False))
    whole = risk.plan_npv(scn, econ, plan, smp, Runner(threads=1))
    keep = plan.rigs > 0
    folded = risk.plan_terms(risk.pair_terms(scn, econ, smp, plan.gi[keep], plan.si[keep]), plan.rigs[keep], plan.constant_usd)
    for size in (1, 7, 500):
        parts = [risk.npv_by_sample(folded, smp.subset(a, min(a + size, smp.n))) for a in range(0, smp.n, size)]
        assert np.array_equal(np.concatenate(parts), whole)
    # forced into many small chunks on local threads: the same bits
    monkeypatch.setattr(scaleout, "chunk_ranges", lambda a, b, *rest, **kw: [(i, min(i + 37, b)) for i in range(a, b, 37)])
    runner = Runner()
    assert np.array_equal(risk.plan_npv(scn, econ, plan, smp, runner), whole)
    assert runner.last_map["chunks"] > 1 and runner.last_map["where"] == "local cores"


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=40) as c:
        yield c.scheduler_address


def test_cluster_cut_plan_equals_local_and_samples_are_sent_once(cluster, monkeypatch):
    """The cutting-plane plan with its per-sample evaluation on a two-worker cluster: the same plan as
    locally, and the sample set scattered once for all rounds (tasks carry index ranges)."""
    monkeypatch.setattr(scaleout, "chunk_ranges", lambda a, b, *rest, **kw: [(i, min(i + 400, b)) for i in range(a, b, 400)])
    scn = optimizer.load_scenario(CHINA, {"risk.weight": 0.5, "risk.method": "cuts"})
    smp = S.draw(scn, 2000, 6)
    local = risk.solve_risk(scn, smp)
    with Runner(cluster) as runner:
        remote = risk.solve_risk(scn, smp, runner)
        assert runner.last_map["where"].startswith("dask cluster") and runner.last_map["chunks"] > 1
        assert runner.__dict__["_scatters"] == 1  # one SampleSet, every round
        assert remote.timings["risk_cut_rounds"] > 1
        assert scaleout.task_overhead_s(runner) > 0
    lf, rf = local.files(), remote.files()
    for name in ("allocation.csv", "sites.csv", "jurisdictions.csv"):
        assert lf[name] == rf[name]
    for key in ("objective_usd", "expected_npv_usd", "cvar_usd", "p5_usd", "p50_usd", "p95_usd"):
        assert local.summary[key] == remote.summary[key]
