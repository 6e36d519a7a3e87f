"""Issue 24 in a real browser, beyond the first screen: hovering an input number shows where it comes from (its
source when sourced, its reasoning when an ESTIMATE, as the dataset's own files record them); the report downloaded
right after the Risk tab computes has that tab's risk section; the what-if controls are a few Tab presses from the
top of the page."""
from __future__ import annotations

import csv
import re

import pytest

import optimizer
from optimizer import risk
from optimizer.inputs.labels import column_label
from optimizer.results import fmt
from optimizer.risk import samples
from tests.streamlit_server import chromium, chromium_missing_reason, idle, metric, running_app, wait_until
from tests.test_browser import ARTIFACTS, CHINA, open_page

pytestmark = [pytest.mark.browser]
if chromium_missing_reason():
    pytest.skip(chromium_missing_reason(), allow_module_level=True)


@pytest.fixture(scope="module")
def app_url():
    with running_app(ARTIFACTS / "streamlit-server-provenance.log") as (url, _proc):
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium(60_000) as b:
        yield b


def _record(file: str, key_col: str, key: str, column: str, field: str | None = None) -> str:
    """The record the dataset's CSV keeps for one input (read here with csv, not with the app's parser)."""
    with open(CHINA / file, encoding="utf-8", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r[key_col] == key)
    cell = row[column]
    if field is None:
        return cell
    return next(p.split(":", 1)[1].strip() for p in cell.split(" | ") if p.split(":", 1)[0].strip() == field)


def _hover(page, table_text: str, row_text: str, header: str) -> tuple[str, str]:
    """Hover the cell of ``header`` in the row holding ``row_text`` (in the table holding ``table_text``); returns the
    tooltip's text (its ::after content) and its visibility while hovered."""
    table = page.locator("[data-testid='stTable']").filter(has_text=table_text).first
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    col = headers.index(header)
    cell = table.locator("tbody tr").filter(has_text=row_text).first.locator("td, th").nth(col)
    cell.scroll_into_view_if_needed()
    cell.hover()
    page.wait_for_timeout(150)
    return cell.evaluate("""td => {
        const tip = td.querySelector('.pd-t');
        if (!tip) return ['', ''];
        const s = getComputedStyle(tip, '::after').content;
        return [JSON.parse(s), getComputedStyle(tip).visibility];
    }""")


def test_an_estimate_shows_its_reasoning_and_a_sourced_cell_its_source(browser, app_url):
    page = open_page(browser, app_url, width=1366, height=900)
    try:
        idle(page)
        page.get_by_role("tab", name="Edit data").click()
        page.get_by_text("Where each input comes from: sourced or ESTIMATE").click()
        page.locator("[data-testid='stTable']").first.wait_for()
        site = "TX Rockdale self-build"
        pue = _record("sites.csv", "site", site, "source", "pue")
        assert pue.startswith("ESTIMATE")
        text, visible = _hover(page, site, site, column_label("sites", "pue"))
        assert visible == "visible"
        assert text.startswith("ESTIMATE: ") and pue.removeprefix("ESTIMATE").strip() in text, text
        power = _record("sites.csv", "site", site, "source", "power")
        assert not power.startswith("ESTIMATE")
        text, _ = _hover(page, site, site, column_label("sites", "power_usd_kwh"))
        assert text == f"Sourced: {power}", text
        page.screenshot(path=str(ARTIFACTS / "provenance-hover.png"))
        # a rig model's resale price (an ESTIMATE) and its hashrate (sourced)
        model = "Antminer S9"
        resale = _record("rigs.csv", "model", model, "resale_note")
        text, _ = _hover(page, "Antminer S17 Pro", model, column_label("rigs", "resale_usd"))
        assert text == "ESTIMATE: " + resale.removeprefix("ESTIMATE:").strip(), text
        spec = _record("rigs.csv", "model", model, "spec_source")
        text, _ = _hover(page, "Antminer S17 Pro", model, column_label("rigs", "hashrate_ths"))
        assert text == f"Sourced: {spec}", text
        # a number with no record says so rather than nothing
        text, _ = _hover(page, site, site, column_label("sites", "fixed_cost_usd"))
        assert text == "Where from: not recorded in the scenario.", text
    finally:
        page.context.close()


def test_the_report_right_after_the_risk_tab_has_its_risk_section(browser, app_url, tmp_path):
    """The Risk tab at 400 samples, and at once the HTML report: its risk section has that tab's figures."""
    page = open_page(browser, app_url, width=1366, height=900)
    try:
        idle(page)
        page.get_by_role("tab", name="Risk").click()
        n = page.locator("[data-testid='stNumberInput']").filter(has_text="Samples").locator("input")
        n.wait_for()
        n.fill("400")
        n.press("Enter")
        page.get_by_text(re.compile(r"of 400 samples beyond")).wait_for()  # the tab has computed at 400
        idle(page)
        side = page.locator("[data-testid='stSidebar']")
        button = side.get_by_role("button", name="Report (HTML)")
        if not button.is_visible():  # unfold the panel (a click on an open one would fold it)
            side.locator("summary").filter(has_text="Library, link and report").click()
        button.wait_for()
        idle(page)  # no rerun under way that could redraw the button under the click
        with page.expect_download() as dl:
            button.click()
        path = tmp_path / "report.html"
        dl.value.save_as(path)
        html = path.read_text(encoding="utf-8")
    finally:
        page.context.close()
    scn = optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True})  # as the app opens it
    rep = risk.evaluate(scn, samples.draw(scn, 400, scn.settings.risk.seed))
    assert 'id="risk"' in html
    section = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split('id="risk"', 1)[1].split("</section>", 1)[0]))
    s = rep.summary
    assert f"Mean of the sampled futures (not the plan&#39;s expected value above) {fmt.usd(s['expected_npv_usd'])} " \
           f"Its sampling error (one standard error, sd / sqrt(n)) {fmt.usd(s['expected_npv_se_usd'])} " in section, section
    assert f" {fmt.usd(s['cvar_usd'])} " in section and "Sampled futures 400" in section, section


def test_a_few_tab_presses_reach_the_first_what_if_control(browser, app_url):
    """Counting every Tab from the page's top (the skip link's Enter included as a press): the BTC price box, the
    first what-if control, has focus within 10 presses (was 70 tab stops)."""
    page = open_page(browser, app_url, width=1366, height=900)
    try:
        idle(page)
        presses, label, seen = 0, "", []
        while presses < 10 and "BTC price" not in label:
            focused = page.evaluate("() => document.activeElement.textContent || ''")
            skip = focused.strip() == "Skip to the what-if controls" and not any(x.startswith("Enter") for x in seen)
            key = "Enter" if skip else "Tab"  # the link jumps once; Tab then goes on from the what-ifs
            page.keyboard.press(key)
            presses += 1
            label = page.evaluate("() => document.activeElement.getAttribute('aria-label') || "
                                  "document.activeElement.closest('[data-testid=stNumberInput]')?.innerText || "
                                  "document.activeElement.textContent || document.activeElement.tagName")
            seen.append(f"{key}: {label[:40]}")
        assert "BTC price" in label, seen
        assert presses <= 10
    finally:
        page.context.close()


def test_clearing_the_btc_box_or_typing_letters_keeps_the_plan(browser, app_url):
    """A typed price, then the box cleared, then letters: the box and the plan keep the typed price (was BTC $1 and
    "sell everything")."""
    page = open_page(browser, app_url, width=1366, height=900)
    try:
        idle(page)
        box = page.locator("[data-testid='stNumberInput']").filter(has_text="BTC price").locator("input")
        box.fill("45123")
        box.press("Enter")
        scn = optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True, "market.btc_price_usd": 45123.0})
        s = optimizer.solve(scn).summary
        gain = s["expected_value_usd"] - s["sell_all_usd"]
        want = ("+" if gain >= 0 else "-") + fmt.usd(abs(gain))
        wait_until(lambda: metric(page, "Expected gain vs selling") == want, timeout_s=120, what=f"the card at $45,123 ({want})")
        for typed in ("", "abc"):  # a number box takes no letters: typing them leaves it empty
            box.fill("")
            box.press_sequentially(typed)
            box.press("Enter")
            idle(page)
            page.wait_for_timeout(500)
            idle(page)
            assert box.input_value() == "45123", typed
            assert metric(page, "Expected gain vs selling") == want, typed
            assert "Sell 39,000" not in page.get_by_text("What to do:").first.inner_text()
    finally:
        page.context.close()
