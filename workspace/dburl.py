"""Database URLs as users type them, and never a password on screen.

- ``parse(text)``: a SQLAlchemy ``URL``. A password pasted into the URL unescaped (``@ : / # % ? &``)
  works: when SQLAlchemy cannot read the URL, or its user part holds more than one ``@``, the
  user part is taken up to the LAST ``@`` and the password given to ``URL.create`` as it stands.
  A password can also be given apart from the URL, in ``RIGSHIFT_DB_PASSWORD`` (taken as typed,
  no escaping). ``postgres://`` and ``postgresql://`` use the installed driver, psycopg 3.
- ``mask(text)``: the URL fit to show: password and secret query parameters (``password=``,
  ``token=``, ...) replaced by ``***``; when nothing can be parsed, everything between ``//`` (or
  the scheme) and the last ``@`` is masked.
- ``scrub(message, url)``: any text (an exception's message) with the URL and its password masked.

Sources: SQLAlchemy 2.x "Engine Configuration: Escaping Special Characters such as @ signs in
Passwords" (``URL.create``, ``urllib.parse.quote_plus``); ``URL.render_as_string(hide_password=True)``.
"""
from __future__ import annotations

import os
import re
from urllib.parse import quote, unquote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

ENV_PASSWORD = "RIGSHIFT_DB_PASSWORD"
MASK = "***"
SECRET_PARAMS = re.compile(r"(?i)^(password|passwd|pwd|pass|token|secret|api_?key|access_?key|sslpassword|"
                           r"auth_?token|private_?key|credentials?)$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):/*")
_DRIVER_ALIASES = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg"}


def _tolerant(text: str) -> URL:
    """``scheme://user:password@rest`` split at the last '@' after which a host follows (an '@' in a
    ``?password=`` value is not it), the password taken as typed."""
    m = _SCHEME.match(text)
    if not m or "@" not in text[m.end():]:
        raise ArgumentError("not a database URL")
    scheme, body = m.group(1), text[m.end():]
    ats = [i for i, ch in enumerate(body) if ch == "@"]
    for at in reversed(ats):
        try:
            tail = make_url(f"{scheme}://{body[at + 1:]}")  # host, port, database and query, no credentials
            if not tail.host or tail.port == 0:
                continue
        except (ArgumentError, ValueError):
            continue
        user, _, password = body[:at].partition(":")
        return URL.create(scheme, username=unquote(user) or None, password=password or None, host=tail.host,
                          port=tail.port, database=tail.database, query=tail.query)
    raise ArgumentError("not a database URL")


def parse(text: str, *, password: str | None = None) -> URL:
    """The SQLAlchemy URL ``text`` names (see the module docstring); ``password`` (default: the
    ``RIGSHIFT_DB_PASSWORD`` environment variable) replaces the URL's own. Raises ArgumentError
    with a masked message for text that is no database URL."""
    text = (text or "").strip()
    m = _SCHEME.match(text)
    try:
        if m and text[m.end():].count("@") > 1:
            url = _tolerant(text)  # an unescaped '@' in the password: make_url would split at the first
        else:
            url = make_url(text)
            url.port  # noqa: B018 - a ':' in an unescaped password makes the port unreadable (ValueError)
    except (ArgumentError, ValueError):  # ValueError: a ':' in the password read as a port
        try:
            url = _tolerant(text)
        except (ArgumentError, ValueError):
            raise ArgumentError(f"'{mask(text)}' is not a database URL") from None
    alias = _DRIVER_ALIASES.get(url.drivername)
    if alias:
        url = url.set(drivername=alias)
    given = password if password is not None else os.environ.get(ENV_PASSWORD)
    if given:
        url = url.set(password=given)
    return url


def _mask_query(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        key = m.group(2)
        return m.group(1) + key + "=" + (MASK if SECRET_PARAMS.match(unquote(key)) else m.group(3))

    return re.sub(r"([?&;])([^=&;#\s]+)=([^&;#\s]*)", one, text)


def _mask_fallback(text: str) -> str:
    text = _mask_query(text)  # first: a '?password=' value may hold an '@' itself
    m = _SCHEME.match(text)
    start = m.end() if m else (text.find("//") + 2 if "//" in text else 0)
    at = text.rfind("@")
    if at >= start:
        text = text[:start] + MASK + text[at:]
    return text


def mask(text: str | URL | None) -> str:
    """The URL with its password and secret query parameters shown as ``***`` (see the module docstring)."""
    if text is None:
        return ""
    if isinstance(text, URL):
        url = text
    else:
        raw = str(text)
        if raw.count("@") > 1 or not _SCHEME.match(raw.strip()):
            return _mask_fallback(raw)
        try:
            url = make_url(raw.strip())
            url.port  # noqa: B018 - a ':' in an unescaped password shows here
        except (ArgumentError, ValueError):
            return _mask_fallback(raw)
    query = {k: (MASK if SECRET_PARAMS.match(k) else v) for k, v in url.query.items()}
    shown = url.set(query=query).render_as_string(hide_password=True)
    return shown.replace("%2A%2A%2A", MASK)


def secrets_of(text: str | URL | None) -> list[str]:
    """The secret strings a URL holds (password, secret query values), raw and percent-escaped, longest first."""
    if text is None:
        return []
    found: list[str] = []
    raw = str(text) if not isinstance(text, URL) else text.render_as_string(hide_password=False)
    try:
        url = text if isinstance(text, URL) else parse(raw, password="")
        if url.password:
            found.append(str(url.password))
        found += [v for k, v in url.query.items() if SECRET_PARAMS.match(k) for v in ([v] if isinstance(v, str) else v)]
    except ArgumentError:
        pass
    m = _SCHEME.match(raw)
    start = m.end() if m else 0
    if raw.rfind("@") > start:  # whatever stands between the user and the last '@', as typed
        userinfo = raw[start:raw.rfind("@")]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    for m2 in re.finditer(r"[?&;]([^=&;#\s]+)=([^&;#\s]*)", raw):
        if SECRET_PARAMS.match(unquote(m2.group(1))) and m2.group(2):
            found.append(m2.group(2))
    env = os.environ.get(ENV_PASSWORD)
    if env:
        found.append(env)
    out: set[str] = set()
    for s in found:
        if s:
            out |= {s, quote(s, safe=""), unquote(s)}
    return sorted((s for s in out if len(s) >= 2), key=len, reverse=True)


def scrub(message: object, url: str | URL | None) -> str:
    """``message`` as text with ``url`` shown masked and every secret it holds (also a fragment of a
    password split at an '@' by a driver's own parser) replaced by ``***``."""
    text = str(message)
    if url is not None:
        raw = str(url) if not isinstance(url, URL) else url.render_as_string(hide_password=False)
        if raw:
            text = text.replace(raw, mask(raw))
    for secret in secrets_of(url):
        text = text.replace(secret, MASK)
        for piece in re.split(r"[@:/]", secret):  # "p@ss" reaches the driver as host "ss@127.0.0.1"
            if len(piece) >= 4:
                text = text.replace(piece, MASK)
    return text
