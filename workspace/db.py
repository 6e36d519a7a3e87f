"""Opening the library database: an engine per URL, the schema brought up to date with
Alembic on first open (``alembic.command.upgrade(config, "head")``).

SQLite (the default) is tuned so that the page never waits on a writer: WAL journal (readers
never wait on a writer), foreign keys on, a bounded busy timeout (SQLITE_BUSY_TIMEOUT_S), and
only write transactions begin IMMEDIATE (``writer(engine)``: two sessions that read-then-write
queue up instead of failing; SQLAlchemy's documented pysqlite recipe); reads begin DEFERRED and
take no write lock. PostgreSQL: connect, statement and lock timeouts (libpq ``options``).

A library whose schema revision this code does not know (written by a newer Rigshift) is a
LibraryError, never an attempted migration.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from . import dburl
from .config import resolve_url
from .errors import LibraryError

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 3.0  # a write waits this long for another writer, then says so
CONNECT_TIMEOUT_S = 5  # PostgreSQL: an unreachable server fails fast
STATEMENT_TIMEOUT_MS = 30_000  # PostgreSQL: no statement (a 100 MB save included) holds a session longer
LOCK_TIMEOUT_MS = 5_000  # PostgreSQL: a row or table lock held elsewhere is waited for this long
TCP_USER_TIMEOUT_MS = 15_000  # PostgreSQL: unacknowledged data for this long drops the connection
WRITE = "rigshift_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)
MAX_ENGINES = 8  # distinct URLs kept open per process

_lock = threading.Lock()
_engines: dict[tuple[str, str | None], Engine] = {}


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def writer(engine: Engine) -> Engine:
    """The engine for write transactions (SQLite: BEGIN IMMEDIATE); plain ``engine`` reads without a write lock."""
    return engine.execution_options(**{WRITE: True})


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration, in one transaction (a no-op when it is there).
    LibraryError when the database holds a revision this code does not know (a newer Rigshift's)."""
    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    try:
        current = current_revision(engine)
    except Exception:  # noqa: BLE001 - e.g. no version table yet: let the upgrade below decide
        current = None
    if current is not None:
        known = {rev.revision for rev in script.walk_revisions()}
        if current not in known:
            raise LibraryError(
                f"the library at {dburl.mask(engine.url)} was written by a newer version of Rigshift (schema "
                f"revision '{current}'; this version knows up to '{script.get_current_head()}'): update Rigshift, "
                "or use another library (--db or RIGSHIFT_DB_URL). Nothing was changed.")
        if current == script.get_current_head():
            return  # the usual case: skip loading the migration environment
    with writer(engine).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _sqlite_tuning(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" below emit BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; a power cut may lose the last commit
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")


def create(url: str) -> Engine:
    """A new engine for ``url`` with the schema migrated; the SQLite file's folder is created."""
    try:
        parsed = dburl.parse(url)
    except ArgumentError:
        raise LibraryError(f"'{dburl.mask(url)}' is not a database URL (e.g. sqlite:///path/rigshift.db or "
                           "postgresql+psycopg://user:password@host/db)") from None
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("psycopg", "psycopg2"):
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S,  # an unreachable server fails fast
                                  "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={LOCK_TIMEOUT_MS}",
                                  # a server that stops answering mid-query (frozen host, cut network): the
                                  # connection is dropped after this, client side (libpq keepalives, TCP_USER_TIMEOUT)
                                  "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
                                  "tcp_user_timeout": TCP_USER_TIMEOUT_MS}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            folder = Path(database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LibraryError(f"cannot create the library's folder {folder}: {exc.strerror or exc} "
                                   "(set RIGSHIFT_DATA_DIR or RIGSHIFT_DB_URL)") from None
        kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}}
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise LibraryError(f"no database driver for '{parsed.drivername}': {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        _sqlite_tuning(engine)
    try:
        migrate(engine)
    except Exception:
        engine.dispose()
        raise
    return engine


def engine_for(url: str | None = None) -> Engine:
    """The process's engine for ``url`` (resolved by ``workspace.config.resolve_url``), opened once."""
    url = resolve_url(url)
    key = (url, os.environ.get(dburl.ENV_PASSWORD))  # a password given apart is part of what is opened
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = create(url)
            if len(_engines) >= MAX_ENGINES:
                _engines.pop(next(iter(_engines))).dispose()
            _engines[key] = engine
        return engine


def dispose_all() -> None:
    with _lock:
        while _engines:
            _engines.popitem()[1].dispose()
