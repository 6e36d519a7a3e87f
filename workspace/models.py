"""The library's tables (SQLAlchemy 2 ORM). The schema itself is created by the Alembic
migrations in ``workspace/migrations``; these classes must match the newest one
(a test compares them).

- ``library_entries``: one named entry per owner, ``UNIQUE (owner, name)``; ``visibility`` is
  ``private`` (only the owner sees it) or ``team`` (everyone sees it, read-only); see workspace.access.
- ``entry_versions``: every save of an entry, numbered 1, 2, ...; a save never overwrites.
- ``version_files``: the scenario's files of a version (CSV tables, scenario.toml, README.md).
- ``autosaves``: one row per browser workspace (``?ws=`` in the app's URL), overwritten as the user works.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAME_LENGTH = 200


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    pass


class Entry(Base):
    __tablename__ = "library_entries"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_library_entries_owner_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(NAME_LENGTH), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    visibility: Mapped[str] = mapped_column(String(16), default="private", server_default="private")

    versions: Mapped[list["Version"]] = relationship(back_populates="entry", cascade="all, delete-orphan",
                                                     order_by="Version.version")


class Version(Base):
    __tablename__ = "entry_versions"
    __table_args__ = (UniqueConstraint("entry_id", "version", name="uq_entry_versions_entry_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("library_entries.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    saved_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    saved_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    scenario_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    note: Mapped[str] = mapped_column(Text, default="")
    controls: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the app's slider and toggle values
    pins: Mapped[list[Any]] = mapped_column(JSON, default=list)  # pinned plans (summary, allocation, sites, settings)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # summary + result files of the plan
    objective_usd: Mapped[float | None] = mapped_column(Float, nullable=True)

    entry: Mapped[Entry] = relationship(back_populates="versions")
    files: Mapped[list["VersionFile"]] = relationship(back_populates="version", cascade="all, delete-orphan",
                                                      order_by="VersionFile.filename")


class VersionFile(Base):
    __tablename__ = "version_files"
    __table_args__ = (UniqueConstraint("version_id", "filename", name="uq_version_files_version_filename"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("entry_versions.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(NAME_LENGTH))
    content: Mapped[bytes] = mapped_column(LargeBinary)

    version: Mapped[Version] = relationship(back_populates="files")


class Autosave(Base):
    __tablename__ = "autosaves"

    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(NAME_LENGTH))
    saved_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
