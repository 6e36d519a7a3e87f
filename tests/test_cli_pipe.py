"""A closed pipe ends the CLI quietly (issue 22, case 33): ``explain ... | head -0`` and
``sample ... | head -0`` print nothing on stderr (no "internal error", no "Exception ignored")
and exit as a command ended by SIGPIPE does (141)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"


@pytest.mark.skipif(not (CHINA / "sites.csv").is_file(), reason="datasets/china-2021 is not in this checkout")
@pytest.mark.parametrize("args", [
    ["explain", str(CHINA), "--site", "TX Rockdale self-build", "--monthly"],
    ["sample", str(CHINA), "--out", "{tmp}/k", "--n", "10"],
])
def test_a_reader_that_goes_away_ends_the_command_quietly(args, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    proc = subprocess.Popen([sys.executable, "-m", "optimizer", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    proc.stdout.close()  # the reader is gone before the first line: every write meets a closed pipe
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141, err
    assert err == ""
