"""Real identities (issue 22): the app behind Streamlit's own login (``st.login``, OpenID Connect)
against a real OIDC provider started here (``oidc-provider-mock``, pinned in requirements-dev.txt),
two browser contexts signed in as two users: each save is owned by its signer and private; the
other sees it only once its owner shares it, and cannot delete or rename it; a signed-out visitor
cannot save or claim a name.

The library is read back independently with ``workspace.repository.Library``.
"""
from __future__ import annotations

import importlib.util
import os
import secrets
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.streamlit_server import (WAIT_MS, chromium, chromium_missing_reason, free_port, idle, running_app,
                                    wait_until)

# Found, not imported: importing them here would bring Authlib's deprecation warnings into this process.
if importlib.util.find_spec("oidc_provider_mock") is None or importlib.util.find_spec("authlib") is None:
    pytest.skip("oidc-provider-mock (requirements-dev.txt) or Authlib (requirements.txt, st.login) is not installed",
                allow_module_level=True)
if chromium_missing_reason():
    pytest.skip(chromium_missing_reason(), allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
ARTIFACTS.mkdir(parents=True, exist_ok=True)
USERS = ("ann@example.com", "bob@example.com")


@pytest.fixture(scope="module")
def provider():
    """The provider in its own process (its Authlib warns; this suite turns warnings into errors)."""
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    issuer = f"http://localhost:{port}"
    log = (ARTIFACTS / "oidc-provider.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--port", str(port), "--host", "localhost"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the OIDC provider did not start"
            time.sleep(0.2)
        for email in USERS:
            r = httpx.put(f"{issuer}/users/{quote(email)}", json={"email": email, "name": email.split("@")[0]})
            assert r.status_code == 204
        yield issuer
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def app(provider, tmp_path_factory):
    folder = tmp_path_factory.mktemp("oidc")
    db_url = f"sqlite:///{folder / 'rigshift.db'}"
    port = free_port()
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://localhost:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(16)}"\n'
        'client_id = "rigshift"\n'
        f'client_secret = "{secrets.token_hex(8)}"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n', encoding="utf-8")
    before = os.environ.get("RIGSHIFT_DB_URL")
    os.environ["RIGSHIFT_DB_URL"] = db_url
    try:
        with running_app(ARTIFACTS / "streamlit-oidc.log", port=port,
                         extra_args=("--secrets.files", str(secrets_file), "--server.address", "localhost")) as _:
            yield f"http://localhost:{port}", db_url
    finally:
        if before is None:
            os.environ.pop("RIGSHIFT_DB_URL", None)
        else:
            os.environ["RIGSHIFT_DB_URL"] = before
        from workspace import db

        db.dispose_all()


def _panel(page):
    side = page.locator("[data-testid='stSidebar']")
    if not side.get_by_role("button", name="Save to library").is_visible():
        side.locator("summary").filter(has_text="Library, link and report").click()
        side.get_by_role("button", name="Save to library").wait_for()
    return side


def _open(browser, url):
    ctx = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = ctx.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url, wait_until="load")
    page.wait_for_selector("[data-testid='stMetric']")
    idle(page)
    return ctx, page


def _sign_in(page, email: str) -> None:
    side = _panel(page)
    side.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("input[name='sub']")  # the provider's authorisation form
    page.fill("input[name='sub']", email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_selector("[data-testid='stMetric']")
    idle(page)
    wait_until(lambda: f"Signed in as {email}" in _panel(page).inner_text(), what=f"{email} signed in")


def _save(page, name: str) -> None:
    side = _panel(page)
    box = side.get_by_label("Save as", exact=True)
    box.fill(name)
    box.press("Enter")
    idle(page)
    side.get_by_role("button", name="Save to library").click()
    wait_until(lambda: f"Saved '{name}'" in _panel(page).inner_text(), what=f"saved {name}")


def _reload(page) -> None:
    page.reload(wait_until="load")
    page.wait_for_selector("[data-testid='stMetric']")
    idle(page)


def test_two_signed_in_users_cannot_touch_each_others_entries(provider, app):
    from workspace.repository import Library

    url, db_url = app
    with chromium(WAIT_MS) as browser:
        ca, ann = _open(browser, url)
        cb, bob = _open(browser, url)
        try:
            side = _panel(bob)  # signed out: no name box to claim, no saving
            assert side.get_by_label("Your name", exact=True).count() == 0
            assert side.get_by_role("button", name="Save to library").is_disabled()

            _sign_in(ann, USERS[0])
            _save(ann, "board")
            _sign_in(bob, USERS[1])
            _reload(bob)  # ann's entry is private: bob's list is empty
            assert "Nothing saved yet." in _panel(bob).inner_text()
            _panel(ann).get_by_text("Shared with the team (read-only)").click()  # ann's explicit act
            wait_until(lambda: "is now shared with the team" in _panel(ann).inner_text(), what="ann shared board")
            _reload(bob)  # now bob's list holds ann's entry, among those shared with the team
            assert "Shared with the team (1)" in _panel(bob).inner_text()
            _panel(bob).locator("button[data-testid^='stBaseButton']").filter(has_text="Open").click()  # ann's entry, the only one listed, opens read-only
            wait_until(lambda: f"Opened 'board' version 1 (saved by {USERS[0]})" in _panel(bob).inner_text(),
                       what="bob opened ann's shared board")
            assert _panel(bob).get_by_text("Shared with the team (read-only)").count() == 0  # no switch on ann's entry
            assert _panel(bob).get_by_role("button", name="Delete").is_disabled()
            assert _panel(bob).get_by_role("button", name="Rename").is_disabled()
            _save(bob, "board")  # the same name: bob's own entry, ann's untouched
            bob.screenshot(path=str(ARTIFACTS / "oidc-bob.png"))
        finally:
            ca.close()
            cb.close()
    lib = Library(db_url)
    assert sorted((e.owner, e.name, e.version, e.saved_by, e.visibility) for e in lib.list(None)) == [
        (USERS[0], "board", 1, USERS[0], "team"), (USERS[1], "board", 1, USERS[1], "private")]
