"""The workspace in a real browser (Debian's Chromium against `streamlit run app.py`):
save, reload and get the same plan back; open a plan's link in a fresh browser context and see
the same plan; two browser contexts saving at the same moment both kept; the decision report
downloaded, opened in Chromium and its PDF read back.

Expected numbers come from ``optimizer.solve`` on the same scenario and settings. The app's
library is a SQLite file in a temporary folder (RIGSHIFT_DB_URL), which the test reads too.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import optimizer
from tests.streamlit_server import WAIT_MS, chromium, chromium_missing_reason, idle, metric, running_app, wait_until

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
REPORT_SHOT = ROOT / "docs" / "screenshots" / "report.png"
PANEL_SHOT = ROOT / "docs" / "screenshots" / "workspace-panel.png"
CHINA = ROOT / "datasets" / "china-2021"

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not (CHINA / "sites.csv").is_file(), reason="datasets/china-2021 is not in this checkout")]

if chromium_missing_reason():
    pytest.skip(chromium_missing_reason(), allow_module_level=True)


@pytest.fixture(scope="module")
def db_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('library') / 'rigshift.db'}"


@pytest.fixture(scope="module")
def app_url(db_url):
    before = os.environ.get("RIGSHIFT_DB_URL")
    os.environ["RIGSHIFT_DB_URL"] = db_url  # the server inherits it
    try:
        with running_app(ARTIFACTS / "streamlit-workspace.log") as (url, _proc):
            yield url
    finally:
        if before is None:
            os.environ.pop("RIGSHIFT_DB_URL", None)
        else:
            os.environ["RIGSHIFT_DB_URL"] = before


@pytest.fixture(scope="module")
def browser():
    with chromium(WAIT_MS) as b:
        yield b


def open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url, wait_until="load")
    page.wait_for_selector("[data-testid='stMetric']")
    idle(page)
    return context, page








def plan_value(summary: dict) -> str:
    """The app's 'Plan value' metric for this summary, printed by the app's own formatter."""
    from ui import views

    return next(m for m in views.METRICS if m.label == "Plan value").text(summary)


def open_panel(page) -> None:
    """Unfold the sidebar's 'Library, link and report' panel (folded on a fresh page)."""
    side = page.locator("[data-testid='stSidebar']")
    if not side.get_by_role("button", name="Save to library").is_visible():
        side.locator("summary").filter(has_text="Library, link and report").click()
        side.get_by_role("button", name="Save to library").wait_for()


def type_into(page, label: str, text: str) -> None:
    open_panel(page)
    box = page.locator("[data-testid='stSidebar']").get_by_label(label, exact=True)
    box.fill(text)
    box.press("Enter")
    idle(page)


def _btc_box(page):
    return page.locator("[data-testid='stNumberInput']").filter(has_text="BTC price").locator("input")


def move_btc(page, steps: int) -> float:
    """Type a BTC price ``steps`` x $500 above the one shown (the box the app has); the value when settled."""
    box = _btc_box(page)
    value = float(box.input_value()) + 500 * steps
    box.fill(f"{value:.0f}")
    box.press("Enter")
    idle(page)
    page.wait_for_timeout(500)
    idle(page)
    return float(_btc_box(page).input_value())


def btc_shown(page) -> float:
    return float(_btc_box(page).input_value())


def save(page, name: str) -> None:
    type_into(page, "Save as", name)
    page.locator("[data-testid='stSidebar']").get_by_role("button", name="Save to library").click()


def link_text(page) -> str:
    open_panel(page)
    code = page.locator("[data-testid='stSidebar'] [data-testid='stCode'] code").first
    return code.inner_text().strip()


def test_reload_link_and_saved_plan(browser, app_url, db_url):
    """Work in progress survives a reload; its link opens the same plan in a fresh context; a saved
    plan comes back after a reload and loads to the same optimum."""
    from workspace.repository import Library

    china = optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True})  # as the app opens it
    context, page = open_page(browser, app_url)
    try:
        assert "ws=" not in page.url  # the workspace key is in a cookie, never in a URL a user copies
        type_into(page, "Your name", "ann")
        btc = move_btc(page, 2)
        expected = plan_value(optimizer.solve(china.with_overrides({"market.btc_price_usd": btc})).summary)
        wait_until(lambda: metric(page, "Plan value") == expected, what=f"plan value {expected}")
        idle(page)
        link = wait_until(lambda: (t := link_text(page)) and "market.btc_price_usd" in t and t, what="the plan link")
        assert "ws=" not in link and "dataset=china-2021" in link

        # Not saved by hand: a reload still comes back to the same plan (autosave under the cookie's key).
        ws = wait_until(lambda: ws_cookie(page), what="the workspace cookie")
        page.reload(wait_until="load")
        page.wait_for_selector("[data-testid='stMetric']")
        idle(page)
        assert ws_cookie(page) == ws and "ws=" not in page.url
        wait_until(lambda: metric(page, "Plan value") == expected, what="the plan after a reload")
        assert btc_shown(page) == btc
        page.screenshot(path=str(ARTIFACTS / "ws-01-reloaded.png"))

        # The link, in a browser context that has never seen the app: the same plan.
        other, colleague = open_page(browser, link)
        try:
            wait_until(lambda: metric(colleague, "Plan value") == expected, what="the linked plan")
            assert btc_shown(colleague) == btc
            assert ws_cookie(colleague) != ws and "ws=" not in colleague.url  # a workspace of their own
            colleague.screenshot(path=str(ARTIFACTS / "ws-02-link.png"))
        finally:
            other.close()

        # Saved by name: the library has it, and a reload opens that saved scenario again.
        save(page, "reload test")
        page.get_by_text("Saved 'reload test' as version 1.").wait_for()
        idle(page)
        page.reload(wait_until="load")
        page.wait_for_selector("[data-testid='stMetric']")
        idle(page)
        wait_until(lambda: metric(page, "Plan value") == expected, what="the saved plan after a reload")
        assert "scenario=reload+test" in page.url or "scenario=reload%20test" in page.url
        open_panel(page)
        panel = page.locator("[data-testid='stSidebar'] [data-testid='stExpander']").filter(has_text="Library, link and report")
        panel.screenshot(path=str(ARTIFACTS / "ws-04-panel.png"))
        if not PANEL_SHOT.exists() or os.environ.get("UPDATE_SCREENSHOTS"):
            PANEL_SHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ARTIFACTS / "ws-04-panel.png", PANEL_SHOT)
        saved = Library(db_url).load("ann", "reload test")
        assert saved.info.saved_by == "ann"
        assert plan_value(optimizer.solve(optimizer.scenario_from_files(saved.files)).summary) == expected
    finally:
        context.close()


def test_two_contexts_saving_at_once_both_kept(browser, app_url, db_url):
    from workspace.repository import Library

    pages = [open_page(browser, app_url) for _ in range(2)]
    try:
        for (_, page), who in zip(pages, ("bea", "cal")):
            type_into(page, "Your name", who)
        for _, page in pages:
            open_panel(page)
        for _, page in pages:  # both clicks before either save has finished
            page.locator("[data-testid='stSidebar']").get_by_role("button", name="Save to library").click(no_wait_after=True)
        for _, page in pages:
            page.get_by_text("Saved 'china-2021' as version 1.").wait_for()
        lib = Library(db_url)
        assert {(e.owner, e.name) for e in lib.list(None)} >= {("bea", "china-2021"), ("cal", "china-2021")}
        # and the same user saving the same name from two tabs at once: two versions, nothing overwritten
        for _, page in pages:
            type_into(page, "Your name", "dee")
        for _, page in pages:
            page.locator("[data-testid='stSidebar']").get_by_role("button", name="Save to library").click(no_wait_after=True)
        wait_until(lambda: [v.version for v in versions(lib, "dee", "china-2021")] == [1, 2], what="both saves of dee")
    finally:
        for context, _ in pages:
            context.close()


def versions(lib, owner: str, name: str) -> list:
    from workspace.errors import NotFound

    try:
        return lib.versions(owner, name)
    except NotFound:
        return []


def test_report_opens_in_chromium_and_pdf_has_the_numbers(browser, app_url, tmp_path):
    import pypdf

    summary = optimizer.solve(optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True})).summary
    from optimizer.results import fmt  # the report rounds money as the page does (issue 24)

    context, page = open_page(browser, app_url)
    try:
        side = page.locator("[data-testid='stSidebar']")
        open_panel(page)
        with page.expect_download(timeout=WAIT_MS) as dl:
            side.get_by_role("button", name="HTML").click()
        html = tmp_path / "report.html"
        dl.value.save_as(html)
        with page.expect_download(timeout=WAIT_MS) as dl:
            side.get_by_role("button", name="PDF").click()
        pdf = tmp_path / "report.pdf"
        dl.value.save_as(pdf)
        report = context.new_page()
        report.set_viewport_size({"width": 1100, "height": 1400})
        report.goto(html.as_uri(), wait_until="load")
        assert report.locator("h1").inner_text().startswith("Relocation plan")
        assert fmt.usd(summary["expected_value_usd"]) in report.locator("#headline").inner_text()
        assert report.locator("#map img").evaluate("img => img.naturalWidth") > 500
        report.screenshot(path=str(ARTIFACTS / "ws-03-report.png"))
        if not REPORT_SHOT.exists() or os.environ.get("UPDATE_SCREENSHOTS"):
            REPORT_SHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ARTIFACTS / "ws-03-report.png", REPORT_SHOT)
        text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(pdf).pages).split())
        for number in (fmt.usd(summary["expected_value_usd"]), fmt.usd(summary["sell_all_usd"]),
                       f"{summary['rigs_relocated']:,.0f}"):
            assert number in text, number
    finally:
        context.close()


def ws_cookie(page) -> str | None:
    """The workspace key this browser context holds (the app's rigshift_ws cookie)."""
    return next((c["value"] for c in page.context.cookies() if c["name"] == "rigshift_ws"), None)
