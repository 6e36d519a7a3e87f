"""bench.targets.run_cli: the benchmark's end-to-end rows time the real command, in a fresh process."""
from __future__ import annotations

import json

import pytest

import optimizer
from bench.targets import ROOT, render, run_cli


def test_run_cli_times_the_command_and_reads_its_plan(tmp_path):
    folder = ROOT / "datasets" / "china-2021"
    r = run_cli(folder, tmp_path / "out", 600)
    assert "error" not in r, r
    assert r["command"].startswith("python -m optimizer solve ") and r["command"].endswith(f"--out {tmp_path / 'out'}")
    # the plan the command wrote is the plan of the API, solved here independently
    expected = optimizer.solve(optimizer.load_scenario(folder)).summary
    assert r["objective"] == pytest.approx(expected["objective_usd"], rel=1e-9)
    assert r["status"] == expected["status"] and r["variables"] == expected["n_variables"]
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["objective_usd"] == r["objective"]
    # a fresh interpreter that imported pandas, numpy and HiGHS: tens of MB at least, and some time
    assert r["peak_mb"] > 50 and r["wall_s"] > 0.05


def test_run_cli_reports_the_commands_own_error(tmp_path):
    r = run_cli(tmp_path / "no-such-folder", tmp_path / "out", 600)
    assert "does not exist" in r["error"]


def test_render_reads_a_cli_row():
    cli = {"wall_s": 1.0, "peak_mb": 180.0, "backend": "columns", "objective": 5.0}
    text = render("test machine", {"market5000": {"engine": cli, "moves": {"p95_ms": 100.0, "moves": 3},
                                                  "baseline": {"wall_s": 8.0, "objective": 5.0, "status": "Optimal",
                                                               "timings": {"solve": 6.0}}}})
    assert "| 5,000-site marketplace end to end through the CLI vs raw HiGHS default | 0.125x (CLI 1.00 s" in text
    assert "optima agree within 1e-6: yes" in text
