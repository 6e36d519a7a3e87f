"""The library: entries, their versions and files; per-workspace autosaves.

Revision ID: 0001_library
Revises:
Create Date: 2026-11-30
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_library"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("owner", "name", name="uq_library_entries_owner_name"),
    )
    op.create_index("ix_library_entries_owner", "library_entries", ["owner"])
    op.create_table(
        "entry_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("library_entries.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("saved_by", sa.String(200), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scenario_name", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("controls", sa.JSON(), nullable=False),
        sa.Column("pins", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("objective_usd", sa.Float(), nullable=True),
        sa.UniqueConstraint("entry_id", "version", name="uq_entry_versions_entry_version"),
    )
    op.create_index("ix_entry_versions_entry_id", "entry_versions", ["entry_id"])
    op.create_table(
        "version_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("entry_versions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("version_id", "filename", name="uq_version_files_version_filename"),
    )
    op.create_index("ix_version_files_version_id", "version_files", ["version_id"])
    op.create_table(
        "autosaves",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    """Drop the library's tables, only when they hold nothing: a downgrade never destroys saved work."""
    conn = op.get_bind()
    held = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in ("library_entries", "entry_versions", "version_files", "autosaves")}
    if any(held.values()):
        raise RuntimeError("refusing to downgrade: the library holds "
                           + ", ".join(f"{n} row(s) of {t}" for t, n in held.items() if n)
                           + "; export what you need (python -m optimizer library load NAME --out DIR) and empty it first")
    op.drop_table("autosaves")
    op.drop_index("ix_version_files_version_id", table_name="version_files")
    op.drop_table("version_files")
    op.drop_index("ix_entry_versions_entry_id", table_name="entry_versions")
    op.drop_table("entry_versions")
    op.drop_index("ix_library_entries_owner", table_name="library_entries")
    op.drop_table("library_entries")
