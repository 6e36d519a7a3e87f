"""Database passwords (issue 22, case 24): whatever the URL's shape, no password reaches a
message, the CLI's output or the page; passwords with ``@ : / # % ? &`` work pasted as they
are, percent-escaped, or given apart in RIGSHIFT_DB_PASSWORD. Checked against a real
PostgreSQL server that requires the password (scram-sha-256)."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from optimizer.cli import main as cli
from tests import postgres_server
from workspace import dburl

SECRET = "Sup3r@secret:/#%?&"


@pytest.fixture(scope="module")
def pg():
    reason = postgres_server.missing_reason()
    if reason:
        pytest.skip(reason)
    with postgres_server.running_postgres(password=SECRET) as url:
        yield url
    from workspace import db

    db.dispose_all()


def _host_part(url: str) -> str:
    return url.rsplit("@", 1)[1]


def _shapes(pw: str, rest: str) -> dict[str, str]:
    return {
        "pasted": f"postgresql+psycopg://postgres:{pw}@{rest}",
        "escaped": f"postgresql+psycopg://postgres:{quote(pw, safe='')}@{rest}",
        "postgres scheme": f"postgres://postgres:{quote(pw, safe='')}@{rest}",
        "query parameter": f"postgresql+psycopg://postgres@{rest}?password={quote(pw, safe='')}",
    }


def _leaks(text: str, pw: str) -> list[str]:
    pieces = {pw, quote(pw, safe=""), "secret:", "Sup3r", "ecret"}
    return [p for p in pieces if p in text]


@pytest.mark.parametrize("shape", ["pasted", "escaped", "postgres scheme", "query parameter"])
def test_every_credential_form_works_and_is_never_printed(pg, shape, monkeypatch, capsys):
    monkeypatch.delenv(dburl.ENV_PASSWORD, raising=False)
    url = _shapes(SECRET, _host_part(pg))[shape]
    assert cli(["library", "list", "--all", "--db", url]) == 0
    out = capsys.readouterr()
    assert "no saved entries" in out.out
    assert not _leaks(out.out + out.err, SECRET)


def test_password_given_apart_from_the_url(pg, monkeypatch, capsys):
    monkeypatch.setenv(dburl.ENV_PASSWORD, SECRET)
    assert cli(["library", "list", "--all", "--db", f"postgresql+psycopg://postgres@{_host_part(pg)}"]) == 0
    monkeypatch.setenv(dburl.ENV_PASSWORD, "wrong-" + "x" * 8)
    assert cli(["library", "list", "--all", "--db", f"postgresql+psycopg://postgres@{_host_part(pg)}"]) == 2
    out = capsys.readouterr()
    assert "authentication failed" in out.err and "wrong-xxxxxxxx" not in out.out + out.err


@pytest.mark.parametrize("url", [
    "postgresql+psycopg//postgres:Sup3r@secret:/#%?&@127.0.0.1:1/x",      # the ':' after the scheme missing
    "postgresql+psycopg:postgres:Sup3r@secret:/#%?&@127.0.0.1:1/x",
    "postgresql+psycopg://postgres:Sup3r@secret:/#%?&@127.0.0.1:1/x",     # nothing listens on port 1
    "postgresql+psycopg://postgres@127.0.0.1:1/x?password=Sup3r%40secret%3A%2F%23%25%3F%26",
    "postgresql+psycopg://postgres@127.0.0.1:1/x?sslmode=disable&password=Sup3r@secret:",
    "nosuchdb+driver://postgres:Sup3r@secret:/#%?&@127.0.0.1:1/x",
])
def test_a_bad_or_unreachable_url_never_shows_its_password(url, monkeypatch, capsys):
    monkeypatch.delenv(dburl.ENV_PASSWORD, raising=False)
    assert cli(["library", "list", "--all", "--db", url]) == 2
    out = capsys.readouterr()
    assert out.err.startswith("library: ") and "internal error" not in out.err
    assert not _leaks(out.out + out.err, SECRET), out.err


@pytest.mark.parametrize("url", [
    "postgresql+psycopg//u:Sup3r@secret:/#%?&@h/x", "postgresql+psycopg://u:Sup3r@secret:/#%?&@h/x",
    "postgresql+psycopg://u@h/x?password=Sup3r@secret:", "just some text u:Sup3r@secret:/@h",
    "postgresql+psycopg://u:Sup3r%40secret%3A@h/x",
])
def test_mask_and_scrub_hide_the_password_whatever_the_shape(url):
    shown = dburl.mask(url)
    assert "***" in shown and not _leaks(shown, SECRET)
    said = dburl.scrub(f"could not connect to {url}: failed to resolve host 'secret:/#%?&@h'", url)
    assert not _leaks(said, SECRET), said


def test_the_app_never_shows_the_password(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.test_app_user_text import APP

    monkeypatch.setenv("RIGSHIFT_DB_URL", "postgresql+psycopg//postgres:Sup3r@secret:/#%?&@127.0.0.1:1/x")
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    assert not at.exception
    shown = "\n".join(str(e.value) for kind in ("warning", "error", "caption", "markdown", "success", "info", "code")
                      for e in getattr(at, kind))
    assert "library database cannot be opened" in shown
    assert not _leaks(shown.replace("\\", ""), SECRET), shown
