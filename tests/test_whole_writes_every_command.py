"""Every command's output folder is whole or absent (issue 22, "How we will know": a full-disk and a
kill -9 test leave either the old or the new folder, never a mix), for each command that writes
one: ``solve``, ``report``, ``library load``, ``sample``, ``risk``, ``frontier``, ``stress``,
``backtest`` and ``replay``.

For each command: a first run writes the folder; a second run with other settings meets a full disk
(the same ``open`` wrapper as tests/test_whole_writes.py: from the second file written under the
test's folder on, half of each write lands and ENOSPC is raised) and exits 2 leaving the first
folder byte for byte; a third run, killed with SIGKILL while it writes its second file, leaves the
first folder byte for byte too; a fourth run, undisturbed, replaces it whole with exactly the files
that command writes (no file of the first run left beside them, no temporary sibling left behind).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from optimizer.cli import main as cli
from tests.test_whole_writes import full_disk_after, snapshot

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"


def _history(folder: Path) -> Path:
    folder.mkdir()
    (folder / "market.csv").write_text("month,hashprice_usd_th_day\n" + "".join(f"{t},0.1\n" for t in range(24)),
                                       encoding="utf-8")
    (folder / "bans.csv").write_text("jurisdiction,ban_month\nKazakhstan,6\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("inputs")
    assert cli(["sample", str(TINY), "--out", str(base / "samples"), "--n", "12", "--seed", "3"]) == 0
    url = f"sqlite:///{base / 'lib.db'}"
    from workspace.repository import Library

    lib = Library(url)
    files = {p.name: p.read_bytes() for p in TINY.iterdir()}
    lib.save("ann", "plan", files)
    lib.save("ann", "other", {**files, "fleet.csv": files["fleet.csv"] + b"Sichuan,Antminer S9,10\n"})
    yield {"samples": str(base / "samples"), "history": str(_history(base / "history")), "db": url}
    from workspace import db

    db.dispose_all()


# name -> (first run's arguments, the other run's arguments, the files the command writes); OUT is --out
COMMANDS = {
    "solve": (["solve", str(TINY)], ["--set", "policy.risk_aversion=3"],
              {"allocation.csv", "sites.csv", "jurisdictions.csv", "summary.json"}),
    "report": (["report", str(TINY)], ["--set", "policy.risk_aversion=3"], {"report.html", "report.pdf", "plan.xlsx"}),
    "library load": (["library", "load", "plan", "--db", "{db}", "--user", "ann"],
                     ["REPLACE:plan=other"], {p.name for p in TINY.iterdir()}),
    "sample": (["sample", str(TINY), "--n", "8", "--seed", "1"], ["--seed", "2"], {"samples.csv", "bans.csv"}),
    "risk": (["risk", str(TINY), "--samples", "{samples}"], ["--set", "risk.alpha=0.2"], {"risk.csv", "risk.json"}),
    "frontier": (["frontier", str(TINY), "--samples", "{samples}", "--weights", "0,1"], ["REPLACE:0,1=0,0.5"],
                 {"frontier.csv", "frontier_sites.csv", "frontier_jurisdictions.csv", "frontier.json"}),
    "stress": (["stress", str(TINY)], ["--month", "3"], {"stress.csv", "stress_moves.csv", "stress.json"}),
    "backtest": (["backtest", str(TINY), "--history", "{history}"], ["--set", "policy.risk_aversion=3"],
                 {"backtest.json", "backtest_jurisdictions.csv"}),
    "replay": (["replay", str(TINY), "--samples", "{samples}"], ["--set", "risk.alpha=0.2"],
               {"replay.csv", "replay.json"}),
}


def _args(name: str, inputs: dict[str, str], out: Path, other: bool) -> list[str]:
    first, change, _ = COMMANDS[name]
    args = [a.format(**inputs) for a in first]
    if other:
        if change and change[0].startswith("REPLACE:"):
            old, new = change[0].removeprefix("REPLACE:").split("=")
            args = [new if a == old else a for a in args]
        else:
            args += change
    return args + ["--out", str(out)]


def _top_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.is_file()}


KILLED_WRITER = textwrap.dedent("""
    import builtins, io, json, os, sys, time
    args, under = json.loads(sys.argv[1]), sys.argv[2]
    real_open = builtins.open
    n = {"files": 0}
    def slow_open(file, mode="r", *a, **k):
        fh = real_open(file, mode, *a, **k)
        if any(m in mode for m in "wax") and os.path.abspath(str(file)).startswith(under + os.sep):
            n["files"] += 1
            if n["files"] == 2:
                print("midway", flush=True)
                time.sleep(120)
        return fh
    builtins.open = io.open = slow_open
    from optimizer.cli import main
    sys.exit(main(args))
""")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_full_disk_and_kill_9_leave_the_old_folder_and_a_clean_run_the_new_one(name, inputs, tmp_path, monkeypatch,
                                                                              capsys):
    if name == "report":
        pytest.importorskip("weasyprint")
    where = tmp_path / "o"
    out = where / "out"
    assert cli(_args(name, inputs, out, other=False)) == 0, capsys.readouterr().err
    before = snapshot(out)
    assert COMMANDS[name][2] <= _top_files(out)

    # a full disk midway: exit 2 with the reason, the first folder as it was, nothing beside it
    full_disk_after(monkeypatch, where, 1)
    code = cli(_args(name, inputs, out, other=True))
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == 2 and "No space left" in err, err
    assert snapshot(out) == before
    assert [p.name for p in where.iterdir()] == ["out"]

    # kill -9 while the second file is being written: the first folder as it was
    log = tmp_path / "killed.log"
    with log.open("w") as errlog:
        proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, json.dumps(_args(name, inputs, out, other=True)),
                                 str(where)], stdout=subprocess.PIPE, stderr=errlog, text=True, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            said = proc.stdout.readline().strip()
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=120)
            proc.stdout.close()
    assert said == "midway", log.read_text()
    assert proc.returncode == -signal.SIGKILL
    assert snapshot(out) == before

    # undisturbed: the new folder, whole, replacing the old one whole; the killed writer's leftovers gone
    assert cli(_args(name, inputs, out, other=True)) == 0, capsys.readouterr().err
    after = snapshot(out)
    assert after != before
    assert [p.name for p in where.iterdir()] == ["out"]
    assert COMMANDS[name][2] <= _top_files(out)
    if name == "frontier":  # one plan folder per weight of this run, none of the first run's
        assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["weight_0.00", "weight_0.50"]
    else:
        assert set(after) == set(before)
