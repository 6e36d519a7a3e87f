"""Many users at once: concurrent solves of different scenarios, in threads and in processes,
with both solvers, give exactly the plans that serial solves give; no shared state, no temp-file
collisions (CBC writes its model and solution files to a private folder per solve), and a
failing solve in one thread leaves the others alone."""
from __future__ import annotations

import multiprocessing
import random
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from rigshift_testkit import allocation_key, check_invariants, files_with, tiny_text  # noqa: E402

import optimizer  # noqa: E402
from optimizer import InfeasibleError  # noqa: E402
from tests.conftest import SOLVERS  # noqa: E402

SITES = tiny_text("sites.csv")


def variants() -> dict[str, tuple[dict[str, bytes], dict]]:
    """Different scenarios: prices, capacities, policies, LP and MIP."""
    small = SITES.replace(",8,0.035", ",3,0.035").replace(",6,0.03", ",2.5,0.03")
    mip_sites = "\n".join(
        line + (",fixed_cost_usd,min_mw" if i == 0 else extra)
        for i, (line, extra) in enumerate(zip(SITES.strip().split("\n"),
                                              ["", ",0,0", ",250000,2", ",400000,1", ",900000,0.5"]))) + "\n"
    return {
        "base": (files_with(), {}),
        "btc-20k": (files_with(), {"market.btc_price_usd": 20000.0}),
        "btc-60k": (files_with(), {"market.btc_price_usd": 60000.0, "policy.risk_aversion": 3.0}),
        "small-sites": (files_with(sites_csv=small), {"policy.allow_idle": False}),
        "share-cap": (files_with(), {"policy.max_jurisdiction_share": 0.35, "policy.budget_usd": 250000.0}),
        "mip-fixed-costs": (files_with(sites_csv=mip_sites), {}),
        "integer": (files_with(), {"policy.integer_rigs": True, "market.btc_price_usd": 28000.0}),
        "infeasible": (files_with(sites_csv=small), {"policy.allow_sell": False, "policy.allow_idle": False}),
    }


def job(name: str, solver: str):
    """Load and solve one variant from its files (as a browser session does). Module-level: picklable."""
    files, overrides = variants()[name]
    scn = optimizer.scenario_from_files(files, {**overrides, "solver.name": solver}, name=name)
    try:
        res = optimizer.solve(scn)
    except InfeasibleError as exc:
        return name, solver, "infeasible", str(exc)
    check_invariants(scn, res)
    return name, solver, "plan", res


def same(a, b) -> None:
    assert a[:3] == b[:3], (a[:3], b[:3])
    if a[2] == "infeasible":
        assert a[3] == b[3]
        return
    ra, rb = a[3], b[3]
    assert ra.summary["objective_usd"] == pytest.approx(rb.summary["objective_usd"], rel=1e-9, abs=1e-6)
    for key in ("status", "mode", "rigs_relocated", "rigs_sold", "rigs_idle", "solver"):
        assert ra.summary[key] == pytest.approx(rb.summary[key]) if isinstance(ra.summary[key], float) \
            else ra.summary[key] == rb.summary[key], key
    pd.testing.assert_frame_equal(allocation_key(ra), allocation_key(rb), rtol=1e-7, atol=1e-6)
    pd.testing.assert_frame_equal(ra.sites.drop(columns=["entry_power_usd_kwh"]),
                                  rb.sites.drop(columns=["entry_power_usd_kwh"]), rtol=1e-7, atol=1e-6)


JOBS = [(name, solver) for name in variants() for solver in SOLVERS]


@pytest.fixture(scope="module")
def serial():
    return {(n, s): job(n, s) for n, s in JOBS}


def test_serial_results_are_sensible(serial):
    assert serial[("infeasible", "highs")][2] == "infeasible"
    # Worked from the files: the small sites hold 3 + 2.5 + 4 + 3 MW; the fleet draws
    # (2000*3250 + 3000*1350 + 1500*3344 + 2000*1350) W at the lowest PUE, 1.05: 19.18 MW.
    for solver in SOLVERS:
        assert "the fleet needs at least 19.2 MW but only 12.5 MW are open to it" in serial[("infeasible", solver)][3]
    objectives = {n: serial[(n, "highs")][3].summary["objective_usd"] for n, _ in JOBS if n != "infeasible"}
    assert len({round(v) for v in objectives.values()}) == len(objectives), "the variants must differ"
    assert serial[("mip-fixed-costs", "highs")][3].summary["mode"] == "mip"
    for name in objectives:  # both solvers agree on every optimum
        a, b = serial[(name, "highs")][3], serial[(name, "cbc")][3]
        rel = 1e-6 if a.summary["mode"] == "lp" else 2e-4  # MIPs: both within the default mip_gap of 1e-4
        assert a.summary["objective_usd"] == pytest.approx(b.summary["objective_usd"], rel=rel), name


def test_threads_match_serial(serial, tmp_path, monkeypatch):
    # A private temp root: afterwards it must be empty (every CBC solve cleaned its own folder).
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    jobs = JOBS * 2
    random.Random(5).shuffle(jobs)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda j: job(*j), jobs))
    for (name, solver), got in zip(jobs, results):
        same(got, serial[(name, solver)])
    assert list(tmp_path.iterdir()) == [], "temp files left behind"


def test_processes_match_serial(serial):
    jobs = [j for j in JOBS if j[0] in ("base", "btc-60k", "mip-fixed-costs", "infeasible", "integer")]
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters, like separate server workers
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        results = list(pool.map(job, *zip(*jobs)))
    for (name, solver), got in zip(jobs, results):
        same(got, serial[(name, solver)])


def test_what_ifs_on_one_shared_scenario_do_not_leak(serial):
    """Sessions deriving what-ifs from one cached Scenario object concurrently (the app's pattern)."""
    files, _ = variants()["base"]
    shared = optimizer.scenario_from_files(files, name="base")
    prices = [20000.0, 35000.0, 60000.0, 20000.0, 60000.0, 35000.0] * 2

    def what_if(btc: float) -> float:
        return optimizer.solve(shared.with_overrides({"market.btc_price_usd": btc})).summary["objective_usd"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(pool.map(what_if, prices))
    expected = {p: optimizer.solve(shared.with_overrides({"market.btc_price_usd": p})).summary["objective_usd"]
                for p in set(prices)}
    assert got == [pytest.approx(expected[p], rel=1e-12) for p in prices]
    # the shared object still solves to the base plan of a fresh, serial load
    assert optimizer.solve(shared).summary["objective_usd"] == pytest.approx(
        serial[("base", "highs")][3].summary["objective_usd"], rel=1e-12)
    assert expected[20000.0] == pytest.approx(serial[("btc-20k", "highs")][3].summary["objective_usd"], rel=1e-9)
