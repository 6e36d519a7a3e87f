"""Dask clusters secured as Dask documents them, and every cluster fault an exit-2 message (issue 22,
case 27).

A real ``distributed.LocalCluster`` with ``security=Security.temporary()`` (mutual TLS: scheduler,
worker and client certificates of one throw-away authority; worker processes) runs a sampled risk
figure: the files are byte-identical to the local run's, through the Python API (``Runner(address,
security=...)``) and through the CLI in a fresh process configured only by Dask's documented TLS
settings (``DASK_DISTRIBUTED__COMM__TLS__*`` pointing at certificate files). The same cluster turns
away a client without certificates, one with a certificate of another authority, and one that
speaks plain ``tcp://`` to it: each an exit 2 saying what to do, never "internal error".

Faults (tests/test_cluster_faults.py has no workers, a scheduler that dies during a run, workers
that cannot import the code): here a scheduler that is not there at all, a worker killed with
SIGKILL during a run (Dask reschedules its tasks; the answers are the local ones), and a task that
kills every worker it runs on (Dask's KilledWorker: exit 2 naming memory).
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import optimizer
from optimizer import risk
from optimizer.cli import main as cli
from optimizer.inputs.errors import ScenarioError
from optimizer.risk import cluster_security
from optimizer.risk import samples as S
from optimizer.risk.scaleout import Runner

distributed = pytest.importorskip("distributed")
pytest.importorskip("cryptography")  # Security.temporary() makes its certificates with it
from distributed.security import Security  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"


@pytest.fixture(scope="module")
def tls_cluster():
    security = Security.temporary()
    with distributed.LocalCluster(security=security, asynchronous=False, dashboard_address=":0", processes=True,
                                  n_workers=1, threads_per_worker=1, silence_logs=logging.CRITICAL) as cluster:
        yield cluster, security


@pytest.fixture(scope="module")
def tiny_samples(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("k") / "samples"
    S.draw(optimizer.load_scenario(TINY), 40, 5).write(folder)
    return folder


def test_a_risk_figure_through_a_tls_cluster_is_the_local_one(tls_cluster, tiny_samples):
    cluster, security = tls_cluster
    assert cluster.scheduler_address.startswith("tls://")
    scn = optimizer.load_scenario(TINY)
    smp = S.load_samples(tiny_samples, scn)
    local = risk.evaluate(scn, smp).files()
    with Runner(cluster.scheduler_address, security=security) as runner:
        remote = risk.evaluate(scn, smp, runner=runner).files()
        assert runner.where.startswith("dask cluster tls://")
        assert runner._client.scheduler_info()["workers"]  # it ran there, not here
    assert remote == local


def _certificate_files(security, folder: Path) -> dict[str, str]:
    folder.mkdir(exist_ok=True)
    paths = {}
    for name in ("tls_ca_file", "tls_client_cert", "tls_client_key"):
        path = folder / f"{name}.pem"
        path.write_text(getattr(security, name), encoding="ascii")
        path.chmod(0o600)
        paths[name] = str(path)
    return {"DASK_DISTRIBUTED__COMM__TLS__CA_FILE": paths["tls_ca_file"],
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": paths["tls_client_cert"],
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": paths["tls_client_key"]}


def test_the_cli_with_dask_tls_settings_writes_the_local_files(tls_cluster, tiny_samples, tmp_path):
    cluster, security = tls_cluster
    env = {**os.environ, "PYTHONPATH": str(ROOT), **_certificate_files(security, tmp_path / "certs")}
    args = [sys.executable, "-m", "optimizer", "risk", str(TINY), "--samples", str(tiny_samples)]
    done = subprocess.run(args + ["--out", str(tmp_path / "remote"), "--scheduler", cluster.scheduler_address],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert cli(["risk", str(TINY), "--samples", str(tiny_samples), "--out", str(tmp_path / "local")]) == 0
    for name in ("risk.csv", "risk.json"):
        assert (tmp_path / "remote" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def test_a_tls_cluster_turns_away_clients_without_its_certificates(tls_cluster, tiny_samples, tmp_path, capsys):
    cluster, _ = tls_cluster
    address = cluster.scheduler_address
    base = ["risk", str(TINY), "--samples", str(tiny_samples), "--out", str(tmp_path / "o")]
    # no certificates configured at all: said before any connection
    assert cli(base + ["--scheduler", address]) == 2
    err = capsys.readouterr().err
    assert "is a TLS address, but this client has no certificate authority" in err and "TLS__CA_FILE" in err
    assert "internal error" not in err
    # plain tcp to a TLS scheduler: the connection is refused; the hint names tls://
    assert cli(base + ["--scheduler", address.replace("tls://", "tcp://")]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler" in err and "tls://HOST:PORT" in err and "internal error" not in err
    # certificates of another authority: the handshake fails (mutual TLS authenticates the client)
    with pytest.raises(ScenarioError) as exc:
        with Runner(address, security=Security.temporary()):
            pass
    assert "cannot reach the Dask scheduler" in str(exc.value.problems[0])
    # a certificate file that is not there
    missing = Security(tls_ca_file=str(tmp_path / "nope.pem"), tls_client_cert=str(tmp_path / "nope.pem"))
    with pytest.raises(ScenarioError, match="does not exist"):
        Runner(address, security=missing).__enter__()
    assert not (tmp_path / "o").exists()


def test_plain_tcp_to_another_machine_is_warned_and_loopback_is_not(caplog):
    assert cluster_security.is_local("127.0.0.1") and cluster_security.is_local("localhost")
    assert cluster_security.is_local("::1") and not cluster_security.is_local("10.1.2.3")
    with caplog.at_level(logging.WARNING, logger="rigshift.cluster"):
        cluster_security.client_security("tcp://127.0.0.1:8786")
        assert not caplog.records
        cluster_security.client_security("tcp://10.1.2.3:8786")
    assert "no authentication" in caplog.text and "tls://" in caplog.text


def test_a_scheduler_that_is_not_there_is_exit_2(tmp_path, capsys):
    from tests.streamlit_server import free_port

    address = f"tcp://127.0.0.1:{free_port()}"
    assert cli(["sample", str(TINY), "--out", str(tmp_path / "k"), "--n", "20", "--scheduler", address]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach the Dask scheduler at {address}" in err and "internal error" not in err


def _slow_square(x: int) -> int:
    time.sleep(0.15)
    return x * x


def _kill_my_worker(x: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return x


def _worker_pids(client) -> list[int]:
    return [pid for pid in client.run(os.getpid).values()]


def test_a_worker_killed_mid_run_costs_time_not_answers():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.CRITICAL) as cluster, Runner(cluster.scheduler_address) as runner:
        victim = _worker_pids(runner._client)[0]
        started = threading.Event()

        def kill_soon():
            started.wait(30)
            time.sleep(1.0)
            os.kill(victim, signal.SIGKILL)

        killer = threading.Thread(target=kill_soon, daemon=True)
        killer.start()
        started.set()
        items = list(range(40))
        assert runner.map(_slow_square, items) == [x * x for x in items]
        killer.join(30)
        assert victim not in _worker_pids(runner._client)  # it was killed during the run (and the nanny replaced it)


def test_a_task_that_kills_every_worker_is_exit_2_naming_memory(monkeypatch):
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                                     silence_logs=logging.CRITICAL) as cluster, \
            Runner(cluster.scheduler_address) as runner, pytest.raises(ScenarioError) as exc:
        runner.map(_kill_my_worker, [1, 2])
    said = str(exc.value.problems[0])
    assert "lost a worker on every try" in said and "memory" in said


# ---------------------------------------------------------------- the commands docs/risk.md gives, as written


def _documented_tls_cluster(folder: Path):
    """docs/risk.md's TLS cluster: one openssl certificate, `dask scheduler --protocol tls` and `dask worker`
    with the three --tls options (on a free port; the code of this checkout on their import path)."""
    import json
    import shutil

    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=rigshift-dask",
                    "-keyout", "cluster.key", "-out", "cluster.pem"], cwd=folder, check=True, capture_output=True)
    tls = ["--tls-ca-file", "cluster.pem", "--tls-cert", "cluster.pem", "--tls-key", "cluster.key"]
    logs = [open(folder / name, "w") for name in ("scheduler.log", "worker.log")]
    procs = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--protocol", "tls", "--host", "127.0.0.1", "--port",
                               "0", "--dashboard-address", ":0", "--scheduler-file", "info.json", *tls],
                              cwd=folder, env=env, stdout=logs[0], stderr=subprocess.STDOUT)]
    deadline = time.monotonic() + 120
    while not (folder / "info.json").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (folder / "info.json").exists(), (folder / "scheduler.log").read_text()
    procs.append(subprocess.Popen([str(bin_dir / "dask"), "worker", "--scheduler-file", "info.json", "--nworkers", "1",
                                   "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1", *tls],
                                  cwd=folder, env=env, stdout=logs[1], stderr=subprocess.STDOUT))
    address = json.loads((folder / "info.json").read_text())["address"]
    settings = {"DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(folder / "cluster.pem"),
                "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(folder / "cluster.pem"),
                "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(folder / "cluster.key")}
    return address, settings, procs, logs


def test_the_documented_tls_cluster_commands_run_the_risk_commands(tmp_path, tiny_samples):
    (tmp_path / "cluster").mkdir()
    address, settings, procs, logs = _documented_tls_cluster(tmp_path / "cluster")
    try:
        assert address.startswith("tls://")
        env = {**os.environ, "PYTHONPATH": str(ROOT), **settings}
        out = tmp_path / "remote"
        done = subprocess.run([sys.executable, "-m", "optimizer", "risk", str(TINY), "--samples", str(tiny_samples),
                               "--out", str(out), "--scheduler", address], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr + (tmp_path / "cluster" / "worker.log").read_text()[-3000:]
        assert cli(["risk", str(TINY), "--samples", str(tiny_samples), "--out", str(tmp_path / "local")]) == 0
        for name in ("risk.csv", "risk.json"):
            assert (out / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
        # the same command without the certificate settings never gets a connection
        env = {k: v for k, v in env.items() if not k.startswith("DASK_DISTRIBUTED__COMM__TLS")}
        done = subprocess.run([sys.executable, "-m", "optimizer", "risk", str(TINY), "--samples", str(tiny_samples),
                               "--out", str(tmp_path / "x"), "--scheduler", address], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 2 and "is a TLS address, but this client has no" in done.stderr, done.stderr
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
