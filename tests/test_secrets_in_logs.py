"""No database password in any log (issue 22: "no password or token in any message, log or page,
whatever the URL's shape"). tests/test_db_secrets.py checks messages, the CLI's output and the page;
here every log record the CLI emits (root logger at DEBUG, SQLAlchemy's engine and pool loggers
switched on) and the served app's own log (``streamlit run`` with the URL in RIGSHIFT_DB_URL, a
browser on the page) are searched for the password and its pieces, for every URL shape."""
from __future__ import annotations

import logging
import os

import pytest

from optimizer.cli import main as cli
from tests.streamlit_server import WAIT_MS, chromium, chromium_missing_reason, running_app, wait_until
from tests.test_db_secrets import SECRET, _leaks
from workspace import dburl

URLS = [
    "postgresql+psycopg://postgres:Sup3r@secret:/#%?&@127.0.0.1:1/x",     # nothing listens on port 1
    "postgresql+psycopg//postgres:Sup3r@secret:/#%?&@127.0.0.1:1/x",      # a missing ':'
    "postgresql+psycopg://postgres@127.0.0.1:1/x?password=Sup3r%40secret%3A%2F%23%25%3F%26",
    "postgresql+psycopg://postgres@127.0.0.1:1/x?sslmode=disable&password=Sup3r@secret:",
    "postgresql+psycopg://postgres:Sup3r%40secret%3A%2F%23%25%3F%26@127.0.0.1:1/x",
]


@pytest.mark.parametrize("url", URLS)
def test_no_log_record_holds_the_password(url, monkeypatch, capsys, caplog):
    monkeypatch.delenv(dburl.ENV_PASSWORD, raising=False)
    for name in ("sqlalchemy.engine", "sqlalchemy.pool", "alembic"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.DEBUG)
    with caplog.at_level(logging.DEBUG):
        assert cli(["library", "list", "--all", "--db", url]) == 2
        assert cli(["library", "save", "tests/fixtures/tiny", "--name", "x", "--db", url, "--no-solve"]) == 2
    out = capsys.readouterr()
    records = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    assert not _leaks(records, SECRET), records
    assert not _leaks(out.out + out.err, SECRET), out.err


@pytest.mark.browser
@pytest.mark.skipif(bool(chromium_missing_reason()), reason=str(chromium_missing_reason()))
def test_the_served_app_logs_no_password(tmp_path, monkeypatch):
    from tests.test_upload_memory import ARTIFACTS

    monkeypatch.setenv("RIGSHIFT_DB_URL", URLS[1])
    log = ARTIFACTS / "streamlit-secrets.log"
    with running_app(log, extra_args=("--logger.level", "debug")) as (url, _proc), chromium(WAIT_MS) as browser:
        page = browser.new_page()
        page.goto(url)
        text = wait_until(lambda: (lambda t: t if "library database cannot be opened" in t else None)(
            page.inner_text("body")), timeout_s=WAIT_MS / 1000, what="the library warning")
        html = page.content()
        page.close()
    assert not _leaks(text + html, SECRET)
    logged = log.read_text(encoding="utf-8", errors="replace")
    assert "Runtime state:" in logged  # a debug-level line: the server logged at debug level, much to search
    assert not _leaks(logged, SECRET), [line for line in logged.splitlines() if _leaks(line, SECRET)][:5]
    assert os.environ["RIGSHIFT_DB_URL"] == URLS[1]
