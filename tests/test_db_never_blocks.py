"""The library never blocks the page (issue 22, case 25): reads take no write lock, so they go on
while another program holds SQLite's write lock; a write that cannot happen says so after a
bounded wait and the user's work stays; a library written by a newer schema is a clear message;
no migration destroys data; PostgreSQL sessions carry statement and lock timeouts.

No timings are asserted: the busy timeout is set short, and what must work while the lock is
held either works or fails with its message (the old code failed the reads too).
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from optimizer.cli import main as cli
from tests import postgres_server

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"


@pytest.fixture
def library(tmp_path, monkeypatch):
    from workspace import db
    from workspace.repository import Library

    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_S", 0.3)
    path = tmp_path / "lib.db"
    lib = Library(f"sqlite:///{path}")
    lib.save("ann", "base case", {p.name: p.read_bytes() for p in TINY.iterdir()})
    lib.autosave("ws1", "ann", {"v": 1})
    yield lib, path
    db.dispose_all()


class _Holder:
    """Another program holding the write lock (DB Browser with unsaved edits): a child process."""

    def __init__(self, path: Path):
        code = ("import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
                "c.execute('BEGIN IMMEDIATE'); c.execute('update library_entries set updated_at=updated_at'); "
                "print('locked', flush=True); sys.stdin.read(); c.execute('ROLLBACK')")
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


def test_reads_go_on_while_another_program_holds_the_write_lock(library, capsys):
    lib, path = library
    holder = _Holder(path)
    try:
        assert [e.name for e in lib.list(None)] == ["base case"]
        assert lib.load("ann", "base case").files["sites.csv"] == (TINY / "sites.csv").read_bytes()
        assert lib.restore("ws1")[2] == {"v": 1}
        assert cli(["library", "list", "--all", "--user", "ann", "--db", f"sqlite:///{path}"]) == 0
        assert "base case" in capsys.readouterr().out
        with pytest.raises(Exception, match="locked"):  # a write waits its bounded time, then says so
            lib.save("ann", "base case", {"sites.csv": b"x"})
        assert cli(["library", "save", str(TINY), "--name", "other", "--no-solve", "--db", f"sqlite:///{path}"]) == 2
        assert "locked" in capsys.readouterr().err
    finally:
        holder.release()
    assert lib.save("ann", "base case", {"sites.csv": b"x"}).version == 2  # the lock gone, writes work again


def test_the_app_keeps_working_and_says_so_while_the_library_is_locked(library, monkeypatch):
    from streamlit.testing.v1 import AppTest

    lib, path = library
    monkeypatch.setenv("RIGSHIFT_DB_URL", f"sqlite:///{path}")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    assert not at.exception
    before = next(m.value for m in at.metric if m.label == "Plan value")
    holder = _Holder(path)
    try:
        at.slider(key="ctl_policy_risk_aversion").set_value(2.0).run()
        assert not at.exception
        warned = " ".join(w.value for w in at.warning)
        assert "Autosave failed" in warned and "locked" in warned and "kept" in warned
        assert next(m.value for m in at.metric if m.label == "Plan value") != before  # the what-if still solved
        at.text_input(key="ws_save_name").set_value("mine").run()
        at.button(key="ws_save").click().run()
        assert any("Not saved" in e.value and "still here" in e.value for e in at.error)
        assert at.slider(key="ctl_policy_risk_aversion").value == 2.0
    finally:
        holder.release()


def _stamp(path: Path, revision: str) -> None:
    with sqlite3.connect(path) as c:
        c.execute("update alembic_version set version_num = ?", (revision,))


def test_a_library_from_a_newer_version_is_a_clear_message(library, capsys):
    from workspace import db

    lib, path = library
    db.dispose_all()
    _stamp(path, "0099_from_the_future")
    assert cli(["library", "list", "--all", "--db", f"sqlite:///{path}"]) == 2
    err = capsys.readouterr().err
    assert "newer version of Rigshift" in err and "0099_from_the_future" in err and "internal error" not in err
    with sqlite3.connect(path) as c:  # nothing touched
        assert c.execute("select count(*) from library_entries").fetchone()[0] == 1


def test_no_downgrade_destroys_saved_work(library):
    from alembic import command

    from workspace import db

    lib, path = library
    cfg = db.alembic_config()
    with pytest.raises(RuntimeError, match="refusing to downgrade"):  # raised out of the transaction: all rolled back
        with db.writer(lib.engine).begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
    with sqlite3.connect(path) as c:
        assert c.execute("select count(*) from entry_versions").fetchone()[0] == 1
    lib.delete("ann", "base case")
    with sqlite3.connect(path) as c:
        c.execute("delete from autosaves")
    with db.writer(lib.engine).begin() as conn:  # an empty library goes down cleanly
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    with sqlite3.connect(path) as c:
        assert c.execute("select count(*) from sqlite_master where name = 'library_entries'").fetchone()[0] == 0


@pytest.mark.timeout(120)
def test_postgres_sessions_carry_timeouts_and_a_held_lock_is_an_error():
    reason = postgres_server.missing_reason()
    if reason:
        pytest.skip(reason)
    import psycopg

    from workspace import db
    from workspace.repository import Library

    with postgres_server.running_postgres() as url:
        lib = Library(url)
        try:
            with lib.engine.connect() as conn:
                assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == f"{db.STATEMENT_TIMEOUT_MS // 1000}s"
                assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == f"{db.LOCK_TIMEOUT_MS // 1000}s"
            raw = url.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(raw) as other:
                other.execute("LOCK TABLE library_entries IN ACCESS EXCLUSIVE MODE")
                with pytest.raises(Exception, match="lock timeout"):
                    lib.list(None)
        finally:
            db.dispose_all()


def test_a_hung_library_never_holds_the_page(library, monkeypatch):
    """An autosave that does not return (a hung server) is left to finish in the background: the
    rerun shows the plan and says the changes are not saved yet, and starts no second save."""
    import threading

    from streamlit.testing.v1 import AppTest

    from ui import workspace as ui_ws
    from workspace.repository import Library

    lib, path = library
    monkeypatch.setenv("RIGSHIFT_DB_URL", f"sqlite:///{path}")
    monkeypatch.setattr(ui_ws, "AUTOSAVE_WAIT_S", 0.2)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    release, calls = threading.Event(), []
    real = Library.autosave

    def hung(self, *args, **kwargs):
        calls.append(args[0])
        release.wait(60)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Library, "autosave", hung)
    try:
        at.slider(key="ctl_policy_risk_aversion").set_value(2.0).run()
        assert not at.exception
        assert any("slow to answer" in w.value and "kept" in w.value for w in at.warning)
        at.slider(key="ctl_policy_risk_aversion").set_value(2.5).run()
        assert len(calls) == 1  # no pile-up of saves behind the hung one
    finally:
        release.set()
    pending = at.session_state["ws_autosave_pending"][0]
    pending.result(timeout=30)
    monkeypatch.setattr(ui_ws, "AUTOSAVE_WAIT_S", 30.0)  # a healthy library: the rerun sees its save done
    at.slider(key="ctl_policy_risk_aversion").set_value(3.0).run()  # the next rerun settles it and saves anew
    assert not any("slow to answer" in w.value for w in at.warning)
    assert lib.restore(at.session_state["ws_id"]) is not None
