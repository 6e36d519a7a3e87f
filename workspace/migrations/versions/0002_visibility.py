"""Entries are private to their owner unless shared with the team (issue 22, Identity).

Every existing entry becomes ``private``: after this upgrade a colleague no longer sees an entry
until its owner shares it (``library share NAME``, or Share in the app).

The downgrade drops only the ``visibility`` column (every entry, version and file is kept), as
``ALTER TABLE ... DROP COLUMN``: never a copy-and-drop of the table, which on SQLite with foreign
keys on would delete every version with it.

Revision ID: 0002_visibility
Revises: 0001_library
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_visibility"
down_revision = "0001_library"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("library_entries",
                  sa.Column("visibility", sa.String(16), nullable=False, server_default="private"))


def downgrade() -> None:
    op.execute("ALTER TABLE library_entries DROP COLUMN visibility")
