"""One consistency check (optimizer.inputs.check): every named check runs once, and the loader, the
engine, the Planner and `rigshift validate` all go through it (a check added to CHECKS reaches each)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import optimizer
from optimizer.engine.planner import Planner
from optimizer.inputs import check as C
from optimizer.inputs.errors import Problem, ScenarioError
from optimizer.inputs.notes import InputWarning

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"


@pytest.fixture(scope="module")
def china():
    return optimizer.load_scenario(CHINA)


def test_each_named_check_finds_its_own_problem(china):
    import dataclasses

    site = china.sites["site"].iloc[0]
    excluded = china.with_overrides({"policy.exclude_sites": [site]})
    broken = {  # each breaks exactly one named check
        "exclusions": dataclasses.replace(excluded, sites=excluded.sites[excluded.sites["site"] != site]),
        "market": dataclasses.replace(china, market=pd.DataFrame({"month": [0, 99], "hashprice_usd_th_day": [0.1, 0.1],
                                                                  "_row": [2, 3]})),
        "plausibility": china.with_overrides({"market.network_hashrate_ehs": 0.001}),  # the fleet out-hashes it
        "monthly": dataclasses.replace(china, sites=china.sites.assign(online_month=[99] + [0] * (len(china.sites) - 1))),
        "availability": dataclasses.replace(china, availability=pd.DataFrame({"site": [site], "month": [99],
                                                                              "uptime": [0.5], "_row": [2]})),
        "power": dataclasses.replace(china, power=pd.DataFrame({"site": ["Nowhere"], "month": [0],
                                                                "multiplier": [1.5], "_row": [2]})),
        "duty": dataclasses.replace(china, duty=pd.DataFrame({"jurisdiction": ["Nowhere"], "made_in": ["China"],
                                                              "import_duty": [0.576], "_row": [2]})),
    }
    words = {"exclusions": f"'{site}' is not a site of sites.csv", "market": "beyond the horizon",
             "plausibility": "a fleet cannot out-hash the network", "monthly": "comes online after the horizon",
             "availability": "availability.csv, row 2, column 'month'",
             "power": "power.csv, row 2, column 'site'",
             "duty": "duty.csv, row 2, column 'jurisdiction'"}
    assert set(broken) == set(C.CHECKS)
    assert C.check(china) == ([], C.check(china)[1])  # the dataset itself has no problems
    for name, scn in broken.items():
        problems, _ = C.check(scn)
        assert any(words[name] in str(p) for p in problems), (name, problems)
        for other in C.CHECKS:
            assert bool(C.check(scn, only=[other])[0]) == (other == name), (name, other)


def test_a_check_added_to_the_registry_reaches_every_caller(china, monkeypatch, tmp_path):
    calls = []

    def extra(scn, sources):
        calls.append(scn.name)
        if scn.settings.policy.risk_aversion == 7.0:
            return [Problem("scenario.toml", None, "policy.risk_aversion", "seven is unlucky")], []
        return [], [InputWarning("sites.csv", 2, "site", "x", "a warning from the added check", kind="name")]

    monkeypatch.setitem(C.CHECKS, "extra", extra)
    res = optimizer.solve(china)
    assert "a warning from the added check" in [w["message"] for w in res.summary["warnings"]]
    with pytest.raises(ScenarioError, match="seven is unlucky"):
        optimizer.solve(china.with_overrides({"policy.risk_aversion": 7.0}))
    with pytest.raises(ScenarioError, match="seven is unlucky"):
        Planner(china).solve({"policy.risk_aversion": 7.0})
    with pytest.raises(ScenarioError, match="seven is unlucky"):
        optimizer.load_scenario(CHINA, {"policy.risk_aversion": 7.0})
    assert calls


def test_validate_runs_the_check():
    proc = subprocess.run([sys.executable, "-m", "optimizer", "validate", str(CHINA),
                           "--set", 'policy.exclude_jurisdictions=["Atlantis"]'], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "'Atlantis' is not a jurisdiction of sites.csv" in proc.stderr
    assert "Traceback" not in proc.stderr
