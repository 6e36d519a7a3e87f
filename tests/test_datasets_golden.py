"""Every built-in scenario loads, validates and solves through the CLI and the API, with every solver,
and gives its example's expected files (tests/examples/<name>/expected/, tests/examples.py; `make golden`
writes them again), catching accidental changes; the plan also reads as its README tells it."""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import optimizer
from tests import examples
from tests.conftest import SOLVERS

ROOT = Path(__file__).resolve().parents[1]
DATASETS = examples.DATASETS
EXAMPLES = examples.EXAMPLES


def test_every_dataset_is_an_example():
    assert "china-2021" in DATASETS and len(DATASETS) >= 2
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()) == DATASETS
    for name in DATASETS:
        assert sorted(p.name for p in examples.expected_dir(name).iterdir()) == sorted(examples.FILES), name


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("solver", SOLVERS)
def test_example_gives_its_expected_files(name, solver):
    """summary, allocation (the canonical plan: unique), sites and the model's labelled rows, as saved."""
    got = examples.produce(name, solver)
    found = [d for file in examples.FILES
             for d in examples.differences(file, got[file], (examples.expected_dir(name) / file).read_text(encoding="utf-8"),
                                           examples.REL[solver])]
    assert found == [], "\n".join(found[:20]) + "\n(make golden writes them again, for an intended change)"


def test_the_comparison_sees_a_changed_number_a_changed_name_and_a_missing_row():
    want = (examples.expected_dir("china-2021") / "allocation.csv").read_text(encoding="utf-8")
    lines = want.splitlines(keepends=True)
    assert examples.differences("allocation.csv", want, want) == []
    first = lines[1].split(",")
    rigs = first[5]
    nudged = "".join([lines[0], lines[1].replace(rigs, repr(float(rigs) * (1 + 1e-6)), 1), *lines[2:]])
    assert examples.differences("allocation.csv", nudged, want, rel=1e-8)
    assert examples.differences("allocation.csv", nudged, want, rel=1e-5) == []
    renamed = want.replace(first[4], first[4] + "x", 1)
    assert examples.differences("allocation.csv", renamed, want, rel=1e-5)
    assert examples.differences("allocation.csv", "".join(lines[:-1]), want)
    summary = (examples.expected_dir("china-2021") / "summary.json").read_text(encoding="utf-8")
    changed = json.dumps(dict(json.loads(summary), objective_usd=1.0))
    assert examples.differences("summary.json", changed, summary) == [
        f"summary.json: objective_usd is 1.0, expected {json.loads(summary)['objective_usd']!r}"]


@pytest.mark.parametrize("name", DATASETS)
def test_cli_solves_and_writes_the_same_plan(name, tmp_path):
    out = tmp_path / name
    proc = subprocess.run([sys.executable, "-m", "optimizer", "solve", str(ROOT / "datasets" / name), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    golden = json.loads((examples.expected_dir(name) / "summary.json").read_text())
    assert summary["objective_usd"] == pytest.approx(golden["objective_usd"], rel=1e-8)
    import csv
    with (out / "allocation.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sum(float(r["value_usd"]) for r in rows) == pytest.approx(summary["objective_usd"], rel=1e-9)
    assert sum(float(r["rigs"]) for r in rows) == pytest.approx(golden["rigs_total"], rel=1e-9)


def test_china_default_plan_story():
    """The plan the dataset README describes in an operator's words: S9s sold, a minority of the rigs shipped,
    every site the plan uses full, the Kazakh cap binding, the empty sites priced out (entry price below their
    power price), and relocating ahead of selling by a margin, not a multiple."""
    scn = optimizer.load_scenario(ROOT / "datasets" / "china-2021")
    res = optimizer.solve(scn)
    alloc, sites, s = res.allocation, res.sites.set_index("site"), res.summary
    s9 = alloc[alloc["model"].str.contains("S9")]
    assert set(s9["action"]) == {"sell"}
    assert 0.25 < s["rigs_relocated"] / s["rigs_total"] < 0.5
    assert s["sell_all_usd"] < s["objective_usd"] < 1.5 * s["sell_all_usd"]
    iran = sites[sites["jurisdiction"].str.contains("Iran")]
    assert (iran["mw_used"] == 0).all() and (iran["entry_power_usd_kwh"] > 0).all()
    used = sites[sites["mw_used"] > 0]
    assert (used["utilization"] > 0.999).all() and (used["shadow_usd_per_mw"] > 0).all()
    price = scn.sites.set_index("site")["power_usd_kwh"]
    empty = sites[sites["mw_used"] == 0]
    assert len(empty) >= 5
    assert (empty["entry_power_usd_kwh"] < price[empty.index]).all()
    kz = alloc[(alloc["action"] == "relocate") & (alloc["jurisdiction"] == "Kazakhstan")]
    share = tomllib.loads((ROOT / "datasets" / "china-2021" / "scenario.toml").read_text())["policy"]["max_jurisdiction_share"]
    cap = share * s["fleet_hashrate_ths"]
    assert kz["hashrate_ths"].sum() == pytest.approx(cap, rel=1e-6)


def test_explain_runs_on_every_dataset():
    for name in DATASETS:
        scn = optimizer.load_scenario(ROOT / "datasets" / name)
        site = scn.sites["site"].iloc[0]
        proc = subprocess.run([sys.executable, "-m", "optimizer", "explain", str(ROOT / "datasets" / name), "--site", site],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("= value of relocating one rig (V)") == int((scn.fleet["count"] > 0).sum())
