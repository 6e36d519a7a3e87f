"""Long work in a real browser (issue 24): the frontier shows a progress bar with its estimate, the page answers a
what-if while it runs, and Cancel stops it with fewer plans than asked for and says so."""
from __future__ import annotations

import re

import pytest

import optimizer
from optimizer.results import fmt
from tests.streamlit_server import chromium, chromium_missing_reason, idle, metric, running_app, wait_until
from tests.test_browser import ARTIFACTS, CHINA, open_page

pytestmark = [pytest.mark.browser]
if chromium_missing_reason():
    pytest.skip(chromium_missing_reason(), allow_module_level=True)

N_POINTS = 5  # the frontier's plans (ui.tabs.risk.FRONTIER_WEIGHTS)


@pytest.fixture(scope="module")
def app_url():
    with running_app(ARTIFACTS / "streamlit-server-longjob.log") as (url, _proc):
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium(120_000) as b:
        yield b


def _gain(btc_usd: float) -> str:
    """The decision card's "Expected gain vs selling" for china-2021 at this BTC price, from the engine."""
    scn = optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True, "market.btc_price_usd": btc_usd})
    s = optimizer.solve(scn).summary
    gain = s["expected_value_usd"] - s["sell_all_usd"]
    return ("+" if gain >= 0 else "-") + fmt.usd(abs(gain))


def test_frontier_progress_cancel_and_a_what_if_meanwhile(browser, app_url):
    page = open_page(browser, app_url, width=1366, height=900)
    page.set_default_timeout(120_000)
    try:
        idle(page)
        page.get_by_role("tab", name="Risk").click()
        samples = page.locator("[data-testid='stNumberInput']").filter(has_text="Samples").locator("input")
        samples.wait_for()
        samples.fill("4000")  # about 10 s per plan on one core: the frontier is long enough to watch and cancel
        samples.press("Enter")
        idle(page)
        page.get_by_role("button", name="Compute the frontier").click()
        bar = page.locator("[data-testid='stProgress']")
        bar.wait_for()
        text = wait_until(lambda: bar.count() and bar.first.inner_text(), what="the bar's words")
        assert re.search(r"the frontier|CVaR weight", text) and " so far, " in text, text
        # the page answers a what-if while the frontier runs
        btc = page.locator("[data-testid='stNumberInput']").filter(has_text="BTC price").locator("input")
        btc.fill("45000")
        btc.press("Enter")
        expected = _gain(45000.0)
        wait_until(lambda: metric(page, "Expected gain vs selling") == expected, timeout_s=120,
                   what=f"the decision card at BTC $45,000 ({expected})")
        bar.wait_for()  # the frontier, for the new settings, still computing
        page.screenshot(path=str(ARTIFACTS / "longjob-progress.png"))
        page.get_by_role("button", name="Cancel").click()
        said = page.locator("[data-testid='stAlertContentWarning']").filter(has_text="Cancelled")
        said.wait_for()
        m = re.search(r"after (\d+) of (\d+) steps", said.inner_text())
        assert m and int(m.group(2)) == N_POINTS and int(m.group(1)) < N_POINTS, said.inner_text()
        assert bar.count() == 0
        page.screenshot(path=str(ARTIFACTS / "longjob-cancelled.png"))
        # and after it: the what-ifs still answer, and the frontier does not start again by itself
        btc.fill("31338")
        btc.press("Enter")
        expected = _gain(31338.0)
        wait_until(lambda: metric(page, "Expected gain vs selling") == expected, timeout_s=120,
                   what=f"the decision card back at BTC $31,338 ({expected})")
        idle(page)
        assert bar.count() == 0
    finally:
        page.context.close()
