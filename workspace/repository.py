"""The library's operations: save, list, load, rename, duplicate, delete; autosave and restore.

Every entry belongs to one owner and every write names it, so one user's save, rename or
delete never touches another user's entries (``UNIQUE (owner, name)``). Given a ``viewer``
(workspace.access.Viewer: the app and the CLI always pass one), a call sees only the viewer's own
entries and those shared with the team (an admin sees all), and refuses with PermissionDenied a
save over, rename or delete of someone else's entry (an admin may); only the owner shares or
unshares. Without a viewer a call is the database's own user's (tests, maintenance scripts).
A plan link names owner and name: it opens for whoever may read the entry.

A save never overwrites: it adds version N + 1 of the entry in one transaction (the entry
row is created if missing, then its ``latest_version`` is incremented atomically), so two
sessions saving the same name at the same moment keep both saves, as versions N and N + 1.
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Mapping

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from . import db
from .access import PRIVATE, TEAM, VISIBILITIES, Viewer
from .errors import LibraryError, NameTaken, NotFound, PermissionDenied
from .models import NAME_LENGTH, Autosave, Entry, Version, VersionFile, utcnow

MAX_FILES_BYTES = 100 * 1024 * 1024  # one version's files, like the largest scenario zip the app accepts


@dataclass(frozen=True)
class EntryInfo:
    """One library entry as listed: its newest version's facts."""

    owner: str
    name: str
    version: int
    saved_by: str
    saved_at: dt.datetime
    created_at: dt.datetime
    scenario_name: str
    objective_usd: float | None
    n_pins: int
    note: str = ""
    visibility: str = PRIVATE  # "private" or "team" (workspace.access)


@dataclass
class Saved:
    """A version's full content: the scenario's files and what the app or the CLI kept with it."""

    info: EntryInfo
    files: dict[str, bytes]
    controls: dict[str, Any] = field(default_factory=dict)
    pins: list[Any] = field(default_factory=list)
    result: dict[str, Any] | None = None


def check_name(name: str, what: str = "name") -> str:
    """A stripped name of 1..200 printable characters, or LibraryError."""
    text = (name or "").strip()
    if not text:
        raise LibraryError(f"the {what} is empty")
    if len(text) > NAME_LENGTH:
        raise LibraryError(f"the {what} is {len(text)} characters long; the limit is {NAME_LENGTH}")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text):
        raise LibraryError(f"the {what} '{text!r}' holds control characters")
    return text


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)  # SQLite hands back naive UTC


def _info(entry: Entry, v: Version) -> EntryInfo:
    return EntryInfo(owner=entry.owner, name=entry.name, version=v.version, saved_by=v.saved_by,
                     saved_at=_aware(v.saved_at), created_at=_aware(entry.created_at), scenario_name=v.scenario_name,
                     objective_usd=v.objective_usd, n_pins=len(v.pins or []), note=v.note or "",
                     visibility=entry.visibility or PRIVATE)


class Library:
    """The library in one database. ``Library()`` opens the configured one (see workspace.config)."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        self.engine = engine if engine is not None else db.engine_for(url)

    @property
    def url(self) -> str:
        from .dburl import mask

        return mask(self.engine.url)

    # ------------------------------------------------------------ entries

    def save(self, owner: str, name: str, files: Mapping[str, bytes], *, scenario_name: str = "scenario",
             saved_by: str | None = None, controls: Mapping[str, Any] | None = None, pins: list[Any] | None = None,
             result: Mapping[str, Any] | None = None, note: str = "", viewer: Viewer | None = None) -> EntryInfo:
        """Add a version of ``owner``'s entry ``name`` (creating the entry); returns it as listed.
        PermissionDenied when ``viewer`` is neither the owner nor an admin."""
        owner, name = check_name(owner, "owner"), check_name(name)
        if viewer is not None and not viewer.may_write(owner):
            raise PermissionDenied(f"'{name}' would be saved into {owner}'s library: only {owner} (or an admin) "
                                   "saves there; save it under your own name")
        if not files:
            raise LibraryError("nothing to save: no scenario files")
        if sum(len(b) for b in files.values()) > MAX_FILES_BYTES:
            raise LibraryError(f"the scenario's files exceed {MAX_FILES_BYTES // 2**20} MB")
        objective = None
        if result and isinstance(result.get("summary"), Mapping):
            objective = result["summary"].get("objective_usd")
        with Session(db.writer(self.engine)) as s, s.begin():
            entry_id = self._entry_id(s, owner, name)
            now = utcnow()
            version = s.execute(update(Entry).where(Entry.id == entry_id)
                                .values(latest_version=Entry.latest_version + 1, updated_at=now)
                                .returning(Entry.latest_version)).scalar_one()
            v = Version(entry_id=entry_id, version=version, saved_by=check_name(saved_by or owner, "user"), saved_at=now,
                        scenario_name=(scenario_name or "scenario")[:NAME_LENGTH], note=note or "",
                        controls=dict(controls or {}), pins=list(pins or []),
                        result=dict(result) if result is not None else None,
                        objective_usd=float(objective) if objective is not None else None,
                        files=[VersionFile(filename=k, content=bytes(b)) for k, b in sorted(files.items())])
            s.add(v)
            s.flush()
            entry = s.get_one(Entry, entry_id)
            return _info(entry, v)

    def _entry_id(self, s: Session, owner: str, name: str) -> int:
        found = s.scalar(select(Entry.id).where(Entry.owner == owner, Entry.name == name))
        if found is not None:
            return found
        try:
            with s.begin_nested():  # a concurrent save may create it first: then use theirs
                entry = Entry(owner=owner, name=name, latest_version=0, created_at=utcnow(), updated_at=utcnow())
                s.add(entry)
            return entry.id
        except IntegrityError:
            return s.execute(select(Entry.id).where(Entry.owner == owner, Entry.name == name)).scalar_one()

    def list(self, owner: str | None = None, limit: int | None = None, *,
             viewer: Viewer | None = None) -> list[EntryInfo]:
        """Entries (newest version each), newest first; one owner's, or everyone's when ``owner`` is None;
        at most ``limit`` of them when given; only those ``viewer`` may read (own, team-shared; an admin all)."""
        q = (select(Entry, Version).join(Version, (Version.entry_id == Entry.id) & (Version.version == Entry.latest_version))
             .order_by(Entry.updated_at.desc(), Entry.owner, Entry.name))
        if limit is not None:
            q = q.limit(limit)
        if owner is not None:
            q = q.where(Entry.owner == owner)
        if viewer is not None and not viewer.admin:
            q = q.where((Entry.owner == viewer.name) | (Entry.visibility == TEAM))
        with Session(self.engine) as s:
            return [_info(e, v) for e, v in s.execute(q).all()]

    def versions(self, owner: str, name: str, *, viewer: Viewer | None = None) -> list[EntryInfo]:
        with Session(self.engine) as s:
            entry = self._get(s, owner, name, viewer)
            return [_info(entry, v) for v in entry.versions]

    def load(self, owner: str, name: str, version: int | None = None, *, viewer: Viewer | None = None) -> Saved:
        """A version (the newest by default) with its files; NotFound if there is none (or ``viewer``
        may not read it: another user's private entry is as absent as a missing one)."""
        with Session(self.engine) as s:
            entry = self._get(s, owner, name, viewer)
            number = version if version is not None else entry.latest_version
            v = s.scalar(select(Version).options(selectinload(Version.files))
                         .where(Version.entry_id == entry.id, Version.version == number))
            if v is None:
                raise NotFound(f"'{name}' of {owner} has no version {number} (it has 1..{entry.latest_version})")
            return Saved(_info(entry, v), {f.filename: f.content for f in v.files}, dict(v.controls or {}),
                         list(v.pins or []), dict(v.result) if v.result is not None else None)

    def _get(self, s: Session, owner: str, name: str, viewer: Viewer | None = None) -> Entry:
        entry = s.scalar(select(Entry).where(Entry.owner == owner, Entry.name == name))
        if entry is None or (viewer is not None and not viewer.may_read(entry.owner, entry.visibility)):
            q = select(Entry.name).where(Entry.owner == owner).order_by(Entry.name).limit(10)
            if viewer is not None and not viewer.may_read(owner, PRIVATE):
                q = q.where(Entry.visibility == TEAM)  # another user's private names are never hinted at
            mine = s.scalars(q).all()
            shown = "" if viewer is None or viewer.may_read(owner, PRIVATE) else " shared with the team"
            hint = f"; {owner}'s entries{shown}: {', '.join(mine)}" if mine else f"; {owner} has no saved entries{shown}"
            raise NotFound(f"no entry '{name}' of {owner}{hint}")
        return entry

    def _get_for_write(self, s: Session, owner: str, name: str, viewer: Viewer | None, doing: str) -> Entry:
        entry = self._get(s, owner, name, viewer)
        if viewer is not None and not viewer.may_write(entry.owner):
            raise PermissionDenied(f"'{name}' is {owner}'s: only {owner} (or an admin) can {doing} it; "
                                   "duplicate it to have a copy of your own")
        return entry

    def share(self, owner: str, name: str, visibility: str = TEAM, *, viewer: Viewer) -> EntryInfo:
        """Set ``owner``'s entry ``name`` to ``visibility`` ("team": every user may read it; "private": only
        the owner). Only the owner may (not an admin: sharing is the owner's own act); PermissionDenied else."""
        if visibility not in VISIBILITIES:
            raise LibraryError(f"visibility must be one of {', '.join(VISIBILITIES)}, got '{visibility}'")
        with Session(db.writer(self.engine)) as s, s.begin():
            entry = self._get(s, owner, name, viewer)
            if entry.owner != viewer.name:
                raise PermissionDenied(f"'{name}' is {owner}'s: only {owner} can share or unshare it")
            entry.visibility = visibility
            s.flush()
            latest = s.execute(select(Version).where(Version.entry_id == entry.id,
                                                     Version.version == entry.latest_version)).scalar_one()
            return _info(entry, latest)

    def rename(self, owner: str, name: str, new_name: str, *, viewer: Viewer | None = None) -> EntryInfo:
        new_name = check_name(new_name, "new name")
        try:
            with Session(db.writer(self.engine)) as s, s.begin():
                entry = self._get_for_write(s, owner, name, viewer, "rename")
                entry.name = new_name
                entry.updated_at = utcnow()
                s.flush()
                latest = s.execute(select(Version).where(Version.entry_id == entry.id,
                                                         Version.version == entry.latest_version)).scalar_one()
                return _info(entry, latest)
        except IntegrityError:
            raise NameTaken(f"{owner} already has an entry named '{new_name}'") from None

    def duplicate(self, owner: str, name: str, new_name: str, *, new_owner: str | None = None,
                  version: int | None = None, viewer: Viewer | None = None) -> EntryInfo:
        """Copy a version of ``owner``'s entry into a new entry of ``new_owner`` (default: the same owner).

        A colleague duplicates someone else's plan into their own library this way."""
        target_owner = check_name(new_owner or owner, "owner")
        new_name = check_name(new_name, "new name")
        saved = self.load(owner, name, version, viewer=viewer)
        with Session(self.engine) as s:
            if s.scalar(select(func.count()).select_from(Entry).where(Entry.owner == target_owner, Entry.name == new_name)):
                raise NameTaken(f"{target_owner} already has an entry named '{new_name}'")
        note = f"copy of {owner}/{name} v{saved.info.version}"
        return self.save(target_owner, new_name, saved.files, scenario_name=saved.info.scenario_name,
                         saved_by=target_owner, controls=saved.controls, pins=saved.pins, result=saved.result,
                         note=note, viewer=viewer)

    def delete(self, owner: str, name: str, *, viewer: Viewer | None = None) -> int:
        """Delete the entry and all its versions; returns how many versions went."""
        with Session(db.writer(self.engine)) as s, s.begin():
            entry = self._get_for_write(s, owner, name, viewer, "delete")
            n = len(entry.versions)
            s.delete(entry)
            return n

    # ------------------------------------------------------------ autosaves

    def autosave(self, workspace_id: str, owner: str, state: Mapping[str, Any]) -> None:
        """Keep ``state`` (JSON-able) as the workspace's latest; one row per workspace, overwritten."""
        workspace_id = check_name(workspace_id, "workspace id")[:64]
        with Session(db.writer(self.engine)) as s, s.begin():
            row = s.get(Autosave, workspace_id, with_for_update=True)
            if row is None:
                try:
                    with s.begin_nested():
                        s.add(Autosave(workspace_id=workspace_id, owner=owner, saved_at=utcnow(), state=dict(state)))
                    return
                except IntegrityError:
                    row = s.get_one(Autosave, workspace_id, with_for_update=True, populate_existing=True)
            row.owner, row.saved_at, row.state = owner, utcnow(), dict(state)

    def restore(self, workspace_id: str) -> tuple[str, dt.datetime, dict[str, Any]] | None:
        """(owner, saved_at, state) of a workspace's autosave, or None."""
        with Session(self.engine) as s:
            row = s.get(Autosave, (workspace_id or "")[:64])
            return None if row is None else (row.owner, _aware(row.saved_at), dict(row.state))
