"""A throwaway PostgreSQL server for the tests: Debian's binaries (``make postgres`` installs them),
initdb into a temporary folder, postgres on a free loopback port, one database, stopped afterwards.

PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` system user
(created by Debian's package) through ``runuser``.
"""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from tests.streamlit_server import free_port

DB_NAME = "rigshift_test"


def bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin holding initdb, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    return Path(found[-1]).parent if found else None


def missing_reason() -> str | None:
    """Why a PostgreSQL test cannot run here, or None. In CI it must run: `make test` installs the server."""
    if bin_dir() is None and not os.environ.get("CI"):
        return "PostgreSQL is not installed (run `make postgres`); in CI this test must run"
    return None


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


@contextlib.contextmanager
def running_postgres(password: str | None = None) -> Iterator[str]:
    """Yield a SQLAlchemy URL (postgresql+psycopg) of a fresh database on a server started for the caller.
    With ``password``, TCP logins need it (scram-sha-256) and the URL holds it percent-escaped."""
    binaries = bin_dir()
    if binaries is None:
        raise RuntimeError("PostgreSQL binaries not found under /usr/lib/postgresql (run `make postgres`)")
    root = Path(tempfile.mkdtemp(prefix="rigshift-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    env = dict(os.environ, PGPASSWORD=password) if password else None
    run = lambda cmd: subprocess.run(_as_server_user(cmd), check=True, capture_output=True, text=True, timeout=120,  # noqa: E731
                                     env=env)
    auth = ["--auth=trust"]
    if password:
        pwfile = root / "pw"
        pwfile.write_text(password + "\n", encoding="utf-8")
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
    try:
        run([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", *auth, "-E", "UTF8", "--no-sync"])
        run([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60",
             "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
        try:
            run([str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", DB_NAME])
            from urllib.parse import quote

            secret = f":{quote(password, safe='')}" if password else ""
            yield f"postgresql+psycopg://postgres{secret}@127.0.0.1:{port}/{DB_NAME}"
        finally:
            subprocess.run(_as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                           capture_output=True, timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)
