"""Where the library lives: a SQLAlchemy URL, from the first of these that is set.

1. an explicit URL (``--db`` on the CLI);
2. the environment variable ``RIGSHIFT_DB_URL``;
3. the app's secrets, ``.streamlit/secrets.toml``: ``[connections.rigshift] url = "postgresql+psycopg://..."``;
4. the default: a SQLite file ``rigshift.db`` in the data folder, created on first use.
   The data folder is ``RIGSHIFT_DATA_DIR`` if set, else ``$XDG_DATA_HOME/rigshift``
   (``~/.local/share/rigshift``).
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

ENV_URL = "RIGSHIFT_DB_URL"
ENV_DATA_DIR = "RIGSHIFT_DATA_DIR"
ENV_ADMINS = "RIGSHIFT_ADMINS"  # comma-separated user names (e-mails with a login) who may delete anyone's entries
DEFAULT_DB_FILE = "rigshift.db"
SECRETS_SECTION = ("connections", "rigshift")
REPO_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The folder of the default SQLite library (not created here)."""
    if os.environ.get(ENV_DATA_DIR):
        return Path(os.environ[ENV_DATA_DIR]).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "rigshift"


def default_url() -> str:
    return f"sqlite:///{data_dir() / DEFAULT_DB_FILE}"


def _secrets_docs(paths: list[Path] | None = None):
    """Streamlit's secrets files (project, then user) that read as TOML, in that order."""
    candidates = paths if paths is not None else [Path.cwd() / ".streamlit" / "secrets.toml",
                                                  REPO_ROOT / ".streamlit" / "secrets.toml",
                                                  Path.home() / ".streamlit" / "secrets.toml"]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            yield tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue


def secrets_url(paths: list[Path] | None = None) -> str | None:
    """``[connections.rigshift] url`` from Streamlit's secrets files (project, then user), if any."""
    for doc in _secrets_docs(paths):
        section = doc
        for key in SECRETS_SECTION:
            section = section.get(key) if isinstance(section, dict) else None
        if isinstance(section, dict) and isinstance(section.get("url"), str) and section["url"].strip():
            return section["url"].strip()
    return None


def resolve_url(explicit: str | None = None) -> str:
    """The library's SQLAlchemy URL (see the module docstring for the order)."""
    for url in (explicit, os.environ.get(ENV_URL), secrets_url()):
        if url and url.strip():
            return url.strip()
    return default_url()


def admins(paths: list[Path] | None = None) -> frozenset[str]:
    """The library's admins, case-folded: ``RIGSHIFT_ADMINS`` (comma-separated) if set, else
    ``[workspace] admins = ["alice@example.com", ...]`` in Streamlit's secrets files. An admin sees
    every entry and may overwrite, rename or delete it (sharing stays the owner's act)."""
    text = os.environ.get(ENV_ADMINS)
    if text is not None and text.strip():
        return frozenset(n.strip().casefold() for n in text.split(",") if n.strip())
    for doc in _secrets_docs(paths):
        section = doc.get("workspace")
        names = section.get("admins") if isinstance(section, dict) else None
        if isinstance(names, str):
            names = names.split(",")
        if isinstance(names, list):
            return frozenset(str(n).strip().casefold() for n in names if str(n).strip())
    return frozenset()
