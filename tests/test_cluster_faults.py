"""Dask cluster faults are exit-2 messages naming what the cluster lacks (issue 22, case 27): a
scheduler with no workers, a scheduler that died, workers that cannot import the task's code;
Dask's own task retries are asked for. Clusters are real ``distributed.LocalCluster`` ones."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from optimizer.risk import scaleout
from optimizer.inputs.errors import ScenarioError
from optimizer.risk.scaleout import Runner

distributed = pytest.importorskip("distributed")
ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"


def _square(x: int, offset: int = 0) -> int:
    return x * x + offset


def _message(exc: pytest.ExceptionInfo) -> str:
    return " ".join(str(p) for p in exc.value.problems)


def test_no_workers_is_said(monkeypatch):
    monkeypatch.setattr(scaleout, "WAIT_WORKERS_S", 1.0)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None, silence_logs=50) as cluster:
        with Runner(cluster.scheduler_address) as runner:
            with pytest.raises(ScenarioError) as exc:
                runner.map(_square, [1, 2, 3], offset=1)
    assert "has no workers" in _message(exc) and "dask worker" in _message(exc)


def test_the_cli_says_no_workers_with_exit_2(monkeypatch, tmp_path, capsys):
    from optimizer.cli import main

    monkeypatch.setattr(scaleout, "WAIT_WORKERS_S", 1.0)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None, silence_logs=50) as cluster:
        rc = main(["sample", str(TINY), "--out", str(tmp_path / "k"), "--n", "50", "--scheduler", cluster.scheduler_address])
    err = capsys.readouterr().err
    assert rc == 2 and "has no workers" in err and "internal error" not in err


def test_a_dead_scheduler_is_said(monkeypatch):
    monkeypatch.setattr(scaleout, "WAIT_WORKERS_S", 2.0)
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                                       silence_logs=50)
    with Runner(cluster.scheduler_address) as runner:
        assert runner.map(_square, [1, 2, 3], offset=1) == [2, 5, 10]
        cluster.close()
        with pytest.raises(ScenarioError) as exc:
            runner.map(_square, [1, 2, 3], offset=1)
    assert "scheduler" in _message(exc)


def test_tasks_ask_for_dask_retries(monkeypatch):
    seen = {}
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                                  silence_logs=50) as cluster:
        with Runner(cluster.scheduler_address) as runner:
            real = runner._client.submit

            def spy(*args, **kwargs):
                seen["retries"] = kwargs.get("retries")
                return real(*args, **kwargs)

            monkeypatch.setattr(runner._client, "submit", spy)
            assert runner.map(_square, [4], offset=0) == [16]
    assert seen["retries"] == scaleout.TASK_RETRIES >= 1


def test_workers_that_cannot_import_the_code_are_said(tmp_path):
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster:
        (tmp_path / "only_here_mod.py").write_text(textwrap.dedent("""
            def task(x):
                return x + 1
        """), encoding="utf-8")
        sys.path.insert(0, str(tmp_path))  # the client can import it; the running worker cannot
        try:
            import only_here_mod

            with Runner(cluster.scheduler_address) as runner, pytest.raises(ScenarioError) as exc:
                runner.map(only_here_mod.task, [1, 2])
        finally:
            sys.path.remove(str(tmp_path))
            sys.modules.pop("only_here_mod", None)
    assert "cannot load Rigshift's tasks" in _message(exc) and "installed" in _message(exc)
