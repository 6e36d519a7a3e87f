"""A real browser against `streamlit run app.py`: what only a browser shows.

Starts the app on a free port and Debian's chromium (playwright's own browser download does
not work here), moves a slider, sees the map canvas and the metrics change, downloads the
allocation CSV and checks it against the engine, uploads a broken CSV and sees the engine's
message. Screenshots go to tests/artifacts/; UPDATE_SCREENSHOTS=1 also refreshes the README's
docs/screenshots/app.png (written anyway when it is missing).
"""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

import optimizer
from tests.streamlit_server import CHROMIUM, CHROMIUM_ARGS, chromium_missing_reason, running_app

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOT = ROOT / "docs" / "screenshots" / "app.png"
CHINA = ROOT / "datasets" / "china-2021"
TINY = ROOT / "tests" / "fixtures" / "tiny"
WAIT_MS = 60_000

pytestmark = pytest.mark.browser

if chromium_missing_reason():
    pytest.skip(chromium_missing_reason(), allow_module_level=True)


@pytest.fixture(scope="module")
def app_url():
    with running_app(ARTIFACTS / "streamlit-server.log") as (url, _proc):
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=WAIT_MS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1500, "height": 1050}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(WAIT_MS)
    pg.goto(app_url, wait_until="load")
    pg.wait_for_selector("[data-testid='stMetric']")
    yield pg
    context.close()


def metric(page, label: str) -> str:
    box = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return box.locator("[data-testid='stMetricValue']").inner_text().strip()


def wait_until(predicate, timeout_s: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def idle(page) -> None:
    """Wait for the rerun to finish (the status widget says 'Running...' while the script runs)."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=WAIT_MS)


@pytest.mark.skipif(not (CHINA / "sites.csv").is_file(), reason="datasets/china-2021 is not in this checkout")
def test_slider_map_download_and_bad_upload(page, tmp_path):
    china = optimizer.load_scenario(CHINA)
    page.wait_for_selector("[data-testid='stDeckGlJsonChart'] canvas")
    idle(page)
    before = metric(page, "Plan value")
    assert before == f"${optimizer.solve(china).summary['objective_usd'] / 1e6:,.2f}M"
    page.screenshot(path=str(ARTIFACTS / "01-opened.png"))
    # Tag the map's canvas: the same element after the rerun means deck.gl kept its camera.
    page.locator("[data-testid='stDeckGlJsonChart'] canvas").first.evaluate("c => c.dataset.rigshift = 'kept'")

    # Move the BTC price slider with the keyboard and see the plan change.
    thumb = page.locator("[data-testid='stSlider']").filter(has_text="BTC price (USD)").locator("input[type='range']")
    thumb.focus()
    for _ in range(10):
        thumb.press("ArrowRight")
    wait_until(lambda: metric(page, "Plan value") != before, what="the plan value to change")
    btc = float(re.sub(r"[^0-9.]", "", thumb.get_attribute("aria-valuetext")))
    assert btc > china.settings.market.btc_price_usd
    moved = china.with_overrides({"market.btc_price_usd": btc})
    res = optimizer.solve(moved)
    expected = f"${res.summary['objective_usd'] / 1e6:,.2f}M"
    # keys pressed quickly send several values; the last one wins once its rerun is drawn
    wait_until(lambda: metric(page, "Plan value") == expected, timeout_s=30, what=f"plan value {expected} for BTC {btc}")
    idle(page)
    after = metric(page, "Plan value")
    assert after == expected
    assert metric(page, "Rigs relocated") == f"{res.summary['rigs_relocated']:,.0f}"
    canvas = page.locator("[data-testid='stDeckGlJsonChart'] canvas").first
    assert canvas.is_visible()
    assert canvas.evaluate("c => c.dataset.rigshift") == "kept", "the map was rebuilt (its camera would reset)"
    box = canvas.bounding_box()
    assert box and box["width"] > 400 and box["height"] > 300
    page.screenshot(path=str(ARTIFACTS / "02-after-slider.png"))
    if not SCREENSHOT.exists() or os.environ.get("UPDATE_SCREENSHOTS"):  # keep `make test` from dirtying the tree
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACTS / "02-after-slider.png", SCREENSHOT)

    # Download allocation.csv: byte for byte what the CLI writes for these settings.
    page.get_by_role("tab", name="Export").click()
    with page.expect_download() as dl:
        page.get_by_role("button", name="allocation.csv").click()
    path = tmp_path / "allocation.csv"
    dl.value.save_as(path)
    assert path.read_text(encoding="utf-8") == res.files()["allocation.csv"]
    page.screenshot(path=str(ARTIFACTS / "03-export.png"))

    # Upload a broken sites.csv: the engine's message, where the user is looking; the plan stays.
    page.get_by_text("Bring your own scenario").click()
    broken = (TINY / "sites.csv").read_text().replace(",8,0.035,", ",-8,0.035,")
    bad = tmp_path / "sites.csv"
    bad.write_text(broken)
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(bad))
    err = page.locator("[data-testid='stSidebar'] [data-testid='stAlertContentError']")
    err.wait_for()
    text = err.inner_text()
    assert "sites.csv, row 2, column 'capacity_mw'" in text, text
    assert metric(page, "Plan value") == after  # nothing lost
    page.screenshot(path=str(ARTIFACTS / "04-bad-upload.png"))
