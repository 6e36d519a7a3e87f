"""The team's workspace around the optimizer: a library of saved scenarios and plans in a
database (SQLite by default, any SQLAlchemy URL such as PostgreSQL for a shared server),
per-session autosaves, and the decision report (HTML, PDF, XLSX).

``optimizer`` stays a pure model pipeline; this package depends on it, never the reverse
(the CLI imports it lazily for its ``library`` and ``report`` commands).
"""
from .config import DEFAULT_DB_FILE, data_dir, default_url, resolve_url
from .errors import LibraryError, NameTaken, NotFound

__all__ = ["DEFAULT_DB_FILE", "data_dir", "default_url", "resolve_url", "LibraryError", "NameTaken", "NotFound"]
