"""Alembic environment: run by ``workspace.db.migrate`` (``alembic.command.upgrade``) on a
connection it passes in ``config.attributes["connection"]``, inside one transaction.

Concurrent first opens are serialised: PostgreSQL takes a transaction-level advisory lock,
SQLite's transactions begin IMMEDIATE (see ``workspace.db``), so only one process creates the schema.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import func, select

from workspace.models import Base

MIGRATION_LOCK_ID = 0x52494753  # "RIGS"

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations through workspace.db.migrate(engine), which passes a connection")

context.configure(connection=connection, target_metadata=Base.metadata, transactional_ddl=True,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_ID)))
    context.run_migrations()
