"""The project as an installed package: the ``rigshift`` console script, and a Dask cluster started the
usual way (``dask scheduler``, ``dask worker``) from the environment, in an empty folder and without
PYTHONPATH, runs the ``--scheduler`` commands with the same files as a local run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHINA = ROOT / "datasets" / "china-2021"


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONSAFEPATH"] = "1"  # the folder a process starts in is never on its import path
    return env


def rigshift(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "rigshift"), *args], cwd=cwd, env=clean_env(), capture_output=True, text=True,
                          timeout=600)


def test_console_script_runs_from_anywhere(tmp_path):
    done = rigshift("--help", cwd=tmp_path)
    assert done.returncode == 0 and "solve" in done.stdout and "library" in done.stdout
    done = rigshift("solve", str(CHINA), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["status"] == "optimal"


@pytest.fixture
def installed_cluster(tmp_path):
    """A scheduler and two single-threaded workers, started from an empty folder without PYTHONPATH."""
    run_dir = tmp_path / "cluster"
    run_dir.mkdir()
    info = run_dir / "scheduler.json"
    logs = [open(run_dir / name, "w") for name in ("scheduler.log", "worker.log")]
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--dashboard-address", ":0", "--scheduler-file", str(info)],
                              cwd=run_dir, env=clean_env(), stdout=logs[0], stderr=subprocess.STDOUT)]
    try:
        deadline = time.monotonic() + 120
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert info.exists(), (run_dir / "scheduler.log").read_text()
        procs.append(subprocess.Popen([str(BIN / "dask"), "worker", "--scheduler-file", str(info), "--nworkers", "2",
                                       "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                                      cwd=run_dir, env=clean_env(), stdout=logs[1], stderr=subprocess.STDOUT))
        address = json.loads(info.read_text())["address"]
        from distributed import Client

        with Client(address, timeout=120) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in logs:
            f.close()


def test_dask_commands_on_a_cluster_started_without_pythonpath(installed_cluster, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for extra in ([], ["--scheduler", installed_cluster]):
        out = work / ("remote" if extra else "local")
        done = rigshift("sample", str(CHINA), "--out", str(out / "k"), "--n", "300", "--seed", "9", *extra, cwd=work)
        assert done.returncode == 0, done.stderr
        done = rigshift("risk", str(CHINA), "--samples", str(out / "k"), "--out", str(out / "r"), *extra, cwd=work)
        assert done.returncode == 0, done.stderr
    for name in ("k/samples.csv", "k/bans.csv", "k/hashprice.csv", "r/risk.csv", "r/risk.json"):
        assert (work / "local" / name).read_bytes() == (work / "remote" / name).read_bytes(), name
