"""Who sees and changes which library entry (issue 22, Identity): private by default, shared with
the team read-only by the owner's explicit act, writes by the owner or a named admin; migration
0002 up and down keeps every entry, version and file (SQLite with foreign keys on, and PostgreSQL).

Expected values are written out by hand from the rules in workspace/access.py; the migration
checks read the database back with plain SQL, not through the models under test."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, text

from tests import postgres_server
from workspace import db
from workspace.access import Viewer
from workspace.errors import NotFound, PermissionDenied
from workspace.repository import Library

FILES = {"sites.csv": b"site,capacity_mw\nA,10\n", "scenario.toml": b"name = 'x'\n"}
ANN, BOB, ADA = Viewer("ann@example.com"), Viewer("bob@example.com"), Viewer("ada@example.com", admin=True)


@pytest.fixture
def lib(tmp_path):
    library = Library(f"sqlite:///{tmp_path / 'rigshift.db'}")
    yield library
    db.dispose_all()


def _names(entries):
    return sorted((e.owner, e.name, e.visibility) for e in entries)


def test_a_private_entry_is_invisible_to_another_user(lib):
    lib.save(ANN.name, "board plan", FILES, viewer=ANN)
    assert _names(lib.list(viewer=ANN)) == [("ann@example.com", "board plan", "private")]
    assert lib.list(viewer=BOB) == []
    with pytest.raises(NotFound) as err:
        lib.load(ANN.name, "board plan", viewer=BOB)
    assert "board plan" in str(err.value) and "has no saved entries shared with the team" in str(err.value)
    with pytest.raises(NotFound):
        lib.versions(ANN.name, "board plan", viewer=BOB)
    with pytest.raises(NotFound):
        lib.duplicate(ANN.name, "board plan", "mine now", new_owner=BOB.name, viewer=BOB)
    # a wrong name asked of ann never hints at her private names
    with pytest.raises(NotFound) as err:
        lib.load(ANN.name, "board", viewer=BOB)
    assert "board plan" not in str(err.value)


def test_a_shared_entry_is_visible_read_only(lib):
    lib.save(ANN.name, "board plan", FILES, viewer=ANN)
    lib.save(ANN.name, "draft", FILES, viewer=ANN)
    with pytest.raises(PermissionDenied):
        lib.share(ANN.name, "board plan", viewer=ADA)  # sharing is the owner's act, not an admin's
    info = lib.share(ANN.name, "board plan", viewer=ANN)
    assert info.visibility == "team"
    assert _names(lib.list(viewer=BOB)) == [("ann@example.com", "board plan", "team")]
    assert lib.load(ANN.name, "board plan", viewer=BOB).files == FILES
    with pytest.raises(PermissionDenied):
        lib.delete(ANN.name, "board plan", viewer=BOB)
    with pytest.raises(PermissionDenied):
        lib.rename(ANN.name, "board plan", "gone", viewer=BOB)
    with pytest.raises(PermissionDenied):  # a save over ann's entry: a new version of hers
        lib.save(ANN.name, "board plan", {"sites.csv": b"site\nB\n"}, saved_by=BOB.name, viewer=BOB)
    with pytest.raises(PermissionDenied):
        lib.share(ANN.name, "board plan", "private", viewer=BOB)
    assert [v.version for v in lib.versions(ANN.name, "board plan", viewer=ANN)] == [1]
    # bob's copy is his own, and private
    copy = lib.duplicate(ANN.name, "board plan", "my copy", new_owner=BOB.name, viewer=BOB)
    assert (copy.owner, copy.visibility) == (BOB.name, "private")
    assert _names(lib.list(viewer=ANN)) == [("ann@example.com", "board plan", "team"),
                                            ("ann@example.com", "draft", "private")]
    lib.share(ANN.name, "board plan", "private", viewer=ANN)
    assert _names(lib.list(viewer=BOB)) == [("bob@example.com", "my copy", "private")]


def test_an_admin_sees_and_deletes_anyones_entry(lib, monkeypatch):
    lib.save(ANN.name, "board plan", FILES, viewer=ANN)
    lib.save(BOB.name, "bobs", FILES, viewer=BOB)
    assert _names(lib.list(viewer=ADA)) == [("ann@example.com", "board plan", "private"),
                                            ("bob@example.com", "bobs", "private")]
    lib.save(ANN.name, "board plan", FILES, saved_by=ADA.name, viewer=ADA)
    assert [(v.version, v.saved_by) for v in lib.versions(ANN.name, "board plan", viewer=ANN)] == [
        (1, ANN.name), (2, ADA.name)]
    assert lib.rename(BOB.name, "bobs", "bob's", viewer=ADA).name == "bob's"
    assert lib.delete(ANN.name, "board plan", viewer=ADA) == 2
    assert _names(lib.list()) == [("bob@example.com", "bob's", "private")]
    # the admin is named in the configuration, case-insensitively
    monkeypatch.setenv("RIGSHIFT_ADMINS", " Ada@Example.com , root")
    assert Viewer.of("ada@example.com").admin and Viewer.of("root").admin and not Viewer.of("ann@example.com").admin
    monkeypatch.setenv("RIGSHIFT_ADMINS", "")
    assert not Viewer.of("ada@example.com").admin


def test_admins_from_the_apps_secrets(tmp_path, monkeypatch):
    from workspace import config

    monkeypatch.delenv("RIGSHIFT_ADMINS", raising=False)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[workspace]\nadmins = ["Ada@example.com", "root"]\n', encoding="utf-8")
    assert config.admins([tmp_path / "missing.toml", secrets]) == {"ada@example.com", "root"}
    secrets.write_text('[workspace]\nadmins = "ada@example.com"\n', encoding="utf-8")
    assert config.admins([secrets]) == {"ada@example.com"}
    assert config.admins([tmp_path / "missing.toml"]) == frozenset()


# ------------------------------------------------------------------ migration 0002


def _counts(conn) -> dict[str, int]:
    return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in ("library_entries", "entry_versions", "version_files", "autosaves")}


def _columns(conn, dialect: str) -> set[str]:
    if dialect == "sqlite":
        return {r[1] for r in conn.execute(text("PRAGMA table_info(library_entries)"))}
    return {r[0] for r in conn.execute(text("SELECT column_name FROM information_schema.columns "
                                            "WHERE table_name = 'library_entries'"))}


def _down_and_up(library: Library) -> None:
    from alembic import command

    cfg = db.alembic_config()
    engine = library.engine
    dialect = engine.dialect.name
    library.save(ANN.name, "board plan", FILES, viewer=ANN)
    library.save(ANN.name, "board plan", FILES, viewer=ANN)
    library.share(ANN.name, "board plan", viewer=ANN)
    library.save(BOB.name, "bobs", FILES, viewer=BOB)
    library.autosave("ws1", BOB.name, {"x": 1})
    with engine.connect() as conn:
        before = _counts(conn)
    assert before == {"library_entries": 2, "entry_versions": 3, "version_files": 6, "autosaves": 1}
    with db.writer(engine).begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001_library")
    with engine.connect() as conn:
        assert _counts(conn) == before  # nothing lost, foreign-key cascades included
        assert "visibility" not in _columns(conn, dialect)
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0001_library"
    with db.writer(engine).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    with engine.connect() as conn:
        assert _counts(conn) == before
        rows = conn.execute(text("SELECT owner, name, visibility FROM library_entries ORDER BY owner")).all()
    # an upgraded library starts private: the old share is not brought back by a column that was dropped
    assert [tuple(r) for r in rows] == [(ANN.name, "board plan", "private"), (BOB.name, "bobs", "private")]
    assert library.load(ANN.name, "board plan", viewer=ANN).files == FILES
    assert library.list(viewer=BOB)[0].name == "bobs" and len(library.list(viewer=BOB)) == 1


def test_migration_0002_down_and_up_keeps_every_entry_sqlite(lib, tmp_path):
    _down_and_up(lib)
    with sqlite3.connect(tmp_path / "rigshift.db") as c:  # read back apart from SQLAlchemy
        assert c.execute("select count(*) from entry_versions").fetchone()[0] == 3


def test_an_old_library_is_upgraded_with_every_entry_private(tmp_path):
    """A library written before 0002 (built here by the 0001 migration alone) opens with its entries private."""
    from alembic import command

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    cfg = db.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001_library")
        conn.execute(text("INSERT INTO library_entries (id, owner, name, created_at, updated_at, latest_version) "
                          "VALUES (1, 'ann', 'old', '2026-01-01', '2026-01-01', 1)"))
        conn.execute(text("INSERT INTO entry_versions (id, entry_id, version, saved_by, saved_at, scenario_name, note, "
                          "controls, pins) VALUES (1, 1, 1, 'ann', '2026-01-01', 's', '', '{}', '[]')"))
    engine.dispose()
    library = Library(url)
    try:
        assert [(e.owner, e.name, e.visibility) for e in library.list()] == [("ann", "old", "private")]
        assert library.list(viewer=Viewer("bob")) == []
    finally:
        db.dispose_all()


def test_migration_0002_down_and_up_keeps_every_entry_postgres():
    reason = postgres_server.missing_reason()
    if reason:
        pytest.skip(reason)
    with postgres_server.running_postgres() as url:
        try:
            _down_and_up(Library(url))
        finally:
            db.dispose_all()


# ------------------------------------------------------------------ the CLI


def test_cli_share_unshare_and_list_visibility(tmp_path, capsys, monkeypatch):
    from optimizer.cli import main as cli

    monkeypatch.delenv("RIGSHIFT_ADMINS", raising=False)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    tiny = __import__("pathlib").Path(__file__).parent / "fixtures" / "tiny"
    ann, bob, ada = (["--db", url, "--user", u] for u in ("ann", "bob", "ada"))
    assert cli(["library", "save", str(tiny), "--name", "plan a", "--no-solve", *ann]) == 0
    capsys.readouterr()
    assert cli(["library", "list", "--all", *bob]) == 0
    assert "plan a" not in capsys.readouterr().out
    assert cli(["library", "load", "plan a", "--owner", "ann", "--out", str(tmp_path / "o"), *bob]) == 2
    assert "no entry 'plan a' of ann" in capsys.readouterr().err
    assert cli(["library", "share", "plan a", *bob]) == 2  # bob has no "plan a" of his own
    assert cli(["library", "share", "plan a", *ann]) == 0
    assert "shared with the team" in capsys.readouterr().out
    assert cli(["library", "list", "--all", *bob]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "plan a" in ln)
    assert line.split()[:4] == ["ann", "plan", "a", "team"]
    assert cli(["library", "load", "plan a", "--owner", "ann", "--out", str(tmp_path / "o"), *bob]) == 0
    assert (tmp_path / "o" / "sites.csv").read_bytes() == Library(url).load("ann", "plan a").files["sites.csv"]
    assert cli(["library", "delete", "plan a", "--owner", "ann", *bob]) == 2
    assert "only ann (or an admin) can delete it" in capsys.readouterr().err
    assert cli(["library", "unshare", "plan a", *ann]) == 0
    capsys.readouterr()
    assert cli(["library", "list", "--all", *bob]) == 0
    assert "plan a" not in capsys.readouterr().out
    monkeypatch.setenv("RIGSHIFT_ADMINS", "ada")
    assert cli(["library", "list", "--all", *ada]) == 0
    assert "private" in capsys.readouterr().out
    assert cli(["library", "delete", "plan a", "--owner", "ann", *ada]) == 0
    assert Library(url).list() == []
    db.dispose_all()


# ------------------------------------------------------------------ the app (AppTest, st.user set by the test)


def _run_app(params=None, user=None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(__import__("pathlib").Path(__file__).parents[1] / "app.py"), default_timeout=90)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    if user is not None:
        at.user = {"is_logged_in": True, "email": user}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _china_missing():
    return not (__import__("pathlib").Path(__file__).parents[1] / "datasets" / "china-2021" / "sites.csv").is_file()


@pytest.mark.skipif(_china_missing(), reason="datasets/china-2021 is not in this checkout")
def test_app_links_follow_visibility_and_an_admin_may_delete(db, monkeypatch):
    monkeypatch.setenv("RIGSHIFT_ADMINS", "ada@example.com")
    ann = _run_app(user=ANN.name)
    ann.text_input(key="ws_save_name").set_value("board").run()
    ann.button(key="ws_save").click().run()
    link = {k: ann.query_params[k] for k in ann.query_params}
    assert link["owner"] == ANN.name and link["scenario"] == "board"
    assert any("Only you (and the library's admins) can open it" in c.value for c in ann.caption)

    bob = _run_app(link, user=BOB.name)  # the link to a private entry opens nothing of ann's for bob
    assert any("The link could not be opened" in e.value and "no entry 'board'" in e.value for e in bob.error)
    assert "library: board (ann@example.com)" not in bob.selectbox(key="source").options

    ann.toggle(key=f"ws_share\u241f{ANN.name}\u241fboard").set_value(True).run()
    bob = _run_app(link, user=BOB.name)  # shared: the link opens a read-only copy
    assert bob.selectbox(key="source").value == "library: board (ann@example.com)"

    ada = _run_app(user="ada@example.com")
    ann.toggle(key=f"ws_share\u241f{ANN.name}\u241fboard").set_value(False).run()
    ada.run()
    assert ada.radio(key="ws_scope").value == "everyone else's: you are an admin"
    assert not ada.button(key="ws_delete").disabled
    assert not [t for t in ada.toggle if (t.key or "").startswith("ws_share")]  # sharing stays ann's act
    ada.button(key="ws_delete").click().run()
    assert Library(db).list() == []
