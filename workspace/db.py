"""Opening the library database: an engine per URL, the schema brought up to date with
Alembic on first open (``alembic.command.upgrade(config, "head")``).

SQLite (the default) is tuned for several writers at once: WAL journal, a 30 s busy timeout,
foreign keys on, and every transaction begins IMMEDIATE so two sessions that read-then-write
queue up instead of failing with "database is locked" (SQLAlchemy's documented pysqlite recipe).
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
SQLITE_BUSY_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10  # PostgreSQL
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


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration, in one transaction (a no-op when it is there)."""
    cfg = alembic_config()
    try:
        if current_revision(engine) == ScriptDirectory.from_config(cfg).get_current_head():
            return  # the usual case: skip loading the migration environment
    except Exception:  # noqa: BLE001 - e.g. no version table yet: let the upgrade below decide
        pass
    with engine.begin() as conn:
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
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create(url: str) -> Engine:
    """A new engine for ``url`` with the schema migrated; the SQLite file's folder is created."""
    try:
        parsed = dburl.parse(url)
    except ArgumentError:
        raise LibraryError(f"'{dburl.mask(url)}' is not a database URL (e.g. sqlite:///path/rigshift.db or "
                           "postgresql+psycopg://user:password@host/db)") from None
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("psycopg", "psycopg2"):
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}  # an unreachable server fails fast
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
