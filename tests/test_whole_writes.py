"""Output folders are whole or absent (issue 22): ``solve``, ``report`` and ``library load`` leave
the previous folder as it was when the disk fills midway or the process is killed (kill -9), and
never write a stored file name outside ``--out``.

The full disk is simulated at the lowest level both the old and the new writers use: every
``open`` of a file for writing under the test's folder goes through a wrapper that, from the
N-th such file on, writes half of what it is given and raises ENOSPC, as a full disk does.
"""
from __future__ import annotations

import builtins
import errno
import io
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from optimizer.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class _FullDisk(io.RawIOBase):
    def __init__(self, fh):
        self.fh = fh

    def write(self, data):
        half = bytes(data)[: max(1, len(data) // 2)]
        self.fh.write(half)
        self.fh.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def writable(self):
        return True

    def close(self):
        self.fh.close()
        super().close()


def full_disk_after(monkeypatch, under: Path, n_files: int) -> None:
    """From the (n_files + 1)-th file opened for writing under ``under``, the disk is full."""
    real_open = builtins.open
    seen = {"n": 0}

    def fake_open(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        if any(m in mode for m in "wax") and str(under) in os.path.abspath(str(file)):
            seen["n"] += 1
            if seen["n"] > n_files:
                raw = _FullDisk(fh)
                return raw if "b" in mode else io.TextIOWrapper(io.BufferedWriter(raw), encoding=kwargs.get("encoding"))
        return fh

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_open)


def test_solve_on_a_full_disk_leaves_the_previous_folder(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert cli(["solve", str(TINY), "--out", str(out)]) == 0
    before = snapshot(out)
    full_disk_after(monkeypatch, tmp_path, 1)
    assert cli(["solve", str(TINY), "--out", str(out), "--set", "policy.risk_aversion=3"]) == 2
    monkeypatch.undo()
    assert "No space left" in capsys.readouterr().err
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no half-written sibling left behind


def test_report_on_a_full_disk_leaves_the_previous_folder(tmp_path, monkeypatch, capsys):
    pytest.importorskip("weasyprint")
    out = tmp_path / "rep"
    assert cli(["report", str(TINY), "--out", str(out)]) == 0
    before = snapshot(out)
    full_disk_after(monkeypatch, tmp_path, 1)
    assert cli(["report", str(TINY), "--out", str(out), "--set", "policy.risk_aversion=3"]) == 2
    monkeypatch.undo()
    assert snapshot(out) == before


def test_library_load_whole_or_not_and_confined_to_its_folder(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    from workspace.repository import Library

    lib = Library(url)
    files = {p.name: p.read_bytes() for p in TINY.iterdir()}
    lib.save("ann", "plan", files)
    out = tmp_path / "loaded"
    assert cli(["library", "load", "plan", "--out", str(out), "--db", url, "--user", "ann"]) == 0
    before = snapshot(out)
    assert before == files
    lib.save("ann", "plan", {**files, "fleet.csv": b"origin,model,count\n"})
    full_disk_after(monkeypatch, tmp_path, 1)
    assert cli(["library", "load", "plan", "--out", str(out), "--db", url, "--user", "ann"]) == 2
    monkeypatch.undo()
    assert snapshot(out) == before

    outside = tmp_path / "outside.txt"
    for evil in ("../outside.txt", str(outside), "sub/../../outside.txt", "..\\outside.txt"):
        lib.save("ann", "evil", {"sites.csv": b"x", evil: b"pwned"})
        assert cli(["library", "load", "evil", "--out", str(tmp_path / "e"), "--db", url, "--user", "ann"]) == 2
        assert "outside" in capsys.readouterr().err
        assert not outside.exists() and not (tmp_path / "e").exists()
    from workspace import db

    db.dispose_all()


KILLED_WRITER = textwrap.dedent("""
    import builtins, io, os, sys, time
    real_open = builtins.open
    n = {"files": 0}
    def slow_open(file, mode="r", *a, **k):
        fh = real_open(file, mode, *a, **k)
        if any(m in mode for m in "wax") and os.path.dirname(sys.argv[2]) in os.path.abspath(str(file)):
            n["files"] += 1
            if n["files"] == 2:
                print("midway", flush=True)
                time.sleep(60)
        return fh
    builtins.open = io.open = slow_open
    from optimizer.cli import main
    sys.exit(main(["solve", sys.argv[1], "--out", sys.argv[2], "--set", "policy.risk_aversion=3"]))
""")


def test_kill_9_midway_leaves_the_previous_folder(tmp_path):
    out = tmp_path / "out"
    assert cli(["solve", str(TINY), "--out", str(out)]) == 0
    before = snapshot(out)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(TINY), str(out)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "midway"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert snapshot(out) == before
    # the next write replaces the folder whole and removes the killed writer's temporary sibling
    assert cli(["solve", str(TINY), "--out", str(out), "--set", "policy.risk_aversion=3"]) == 0
    assert snapshot(out) != before and set(snapshot(out)) == set(before)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_the_folder_is_replaced_whole_and_a_folder_of_other_things_refused(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli(["solve", str(TINY), "--out", str(out)]) == 0
    assert cli(["backtest", str(TINY), "--out", str(out), "--history", str(_history(tmp_path))]) == 0
    assert sorted(snapshot(out)) == ["backtest.json", "backtest_jurisdictions.csv"]  # no stale plan files beside it
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert cli(["solve", str(TINY), "--out", str(out)]) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine" and (out / "backtest.json").is_file()
    assert cli(["solve", str(TINY), "--out", str(tmp_path)]) == 2  # a folder holding other things: untouched
    assert (out / "notes.txt").is_file()


def _history(tmp_path: Path) -> Path:
    h = tmp_path / "history"
    h.mkdir()
    (h / "market.csv").write_text("month,hashprice_usd_th_day\n" + "".join(f"{t},0.1\n" for t in range(24)),
                                  encoding="utf-8")
    (h / "bans.csv").write_text("jurisdiction,ban_month\n", encoding="utf-8")
    return h
