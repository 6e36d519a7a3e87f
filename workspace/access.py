"""Who may see and change which library entry (issue 22, Identity).

An entry is ``private`` (the default: only its owner sees it) or ``team`` (every user sees it,
read-only). Only the owner shares or unshares it. Only the owner, or an admin named in the
configuration (``workspace.config.admins``: ``RIGSHIFT_ADMINS`` or ``[workspace] admins`` in the
app's secrets), overwrites (saves a new version over), renames or deletes it; admins also see
every entry.

A ``Viewer`` is the person a repository call acts for: the signed-in user's e-mail in the app
with a login, the CLI's ``--user``. ``Viewer.everyone(name)`` is the laptop without a login,
where the library is the one local user's: it sees and may change everything.
"""
from __future__ import annotations

from dataclasses import dataclass

PRIVATE, TEAM = "private", "team"
VISIBILITIES = (PRIVATE, TEAM)


@dataclass(frozen=True)
class Viewer:
    """The user a library call acts for. ``admin``: sees every entry, may overwrite, rename, delete it."""

    name: str
    admin: bool = False

    @classmethod
    def of(cls, name: str) -> "Viewer":
        """``name`` as configured: an admin when ``workspace.config.admins()`` names them (any case)."""
        from .config import admins

        return cls(name, name.strip().casefold() in admins())

    @classmethod
    def everyone(cls, name: str) -> "Viewer":
        """The one local user of a library without a login: every entry is theirs to see and change."""
        return cls(name, True)

    def may_read(self, owner: str, visibility: str) -> bool:
        return self.admin or owner == self.name or visibility == TEAM

    def may_write(self, owner: str) -> bool:
        return self.admin or owner == self.name
