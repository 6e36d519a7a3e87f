"""What the library refuses, in words a user can act on (the CLI exits 2 with the message)."""
from __future__ import annotations


class LibraryError(ValueError):
    """Bad input to the library: an unknown name, a taken name, an unreadable database URL."""


class NotFound(LibraryError):
    """No saved entry by that owner and name (or no such version)."""


class NameTaken(LibraryError):
    """The owner already has an entry by that name."""


class PermissionDenied(LibraryError):
    """The entry is someone else's: only its owner (or an admin) may overwrite, rename or delete it,
    and only its owner may share or unshare it."""
