"""The first screen in a real browser at 390, 800, 1366 and 1920 px (issue 24): the decision card reads the
engine's figures, the map frames every origin and destination with every route inside its canvas (the biggest
hovered: the map names them there), and the world is drawn once. Writes tests/artifacts/map-<width>.png and docs/screenshots/app.png."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

import optimizer
from optimizer import risk
from optimizer.results import fmt
from optimizer.risk import samples
from tests.streamlit_server import chromium, chromium_missing_reason, idle, metric, running_app, wait_until
from tests.test_browser import (ARTIFACTS, CANVAS, CHINA, ROOT, SCREENSHOT, canvas_png, open_page, painted, screen_xy,
                                tooltip_text)

pytestmark = [pytest.mark.browser]
if chromium_missing_reason():
    pytest.skip(chromium_missing_reason(), allow_module_level=True)

WIDTHS = (390, 800, 1366, 1920)


@pytest.fixture(scope="module")
def app_url():
    with running_app(ARTIFACTS / "streamlit-server-board.log") as (url, _proc):
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium(60_000) as b:
        yield b


@pytest.fixture(scope="module")
def plan():
    """china-2021 as the app opens it (whole rigs) and its flows, from the engine."""
    from ui import mapview

    scn = optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True})
    res = optimizer.solve(scn)
    return scn, res, mapview.flows(scn, res), mapview.view_state(optimizer.load_scenario(CHINA))


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """The CLI's own files for the plan the app opens: ``solve`` (summary.json), then ``sample`` and ``risk`` of that
    plan at the scenario's sampler settings (risk.json)."""
    out = tmp_path_factory.mktemp("cli")
    run = lambda *a: subprocess.run([sys.executable, "-m", "optimizer", *a, "--set", "policy.integer_rigs=true"],  # noqa: E731
                                    cwd=ROOT, check=True, capture_output=True, timeout=600)
    run("solve", str(CHINA), "--out", str(out / "plan"))
    run("sample", str(CHINA), "--out", str(out / "samples"))
    run("risk", str(CHINA), "--samples", str(out / "samples"), "--plan", str(out / "plan" / "allocation.csv"),
        "--out", str(out / "risk"))
    run("backtest", str(CHINA), "--history", str(CHINA / "history"), "--plan", str(out / "plan" / "allocation.csv"),
        "--out", str(out / "backtest"))
    return tuple(json.loads((out / d / f).read_text())
                 for d, f in (("plan", "summary.json"), ("risk", "risk.json"), ("backtest", "backtest.json")))


def _merc(lat: float) -> float:
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def _midpoint(f, view) -> tuple[float, float]:
    """The route's middle as drawn (a straight line on the map between the ends unwrapped into the frame)."""
    from ui import mapview

    lon = (mapview.unwrap(f.src_lon, view.longitude) + mapview.unwrap(f.dst_lon, view.longitude)) / 2
    y = (_merc(f.src_lat) + _merc(f.dst_lat)) / 2
    return lon, math.degrees(2 * math.atan(math.exp(y)) - math.pi / 2)


@pytest.mark.parametrize("width", WIDTHS)
def test_first_screen_at_width(browser, app_url, plan, cli, width):
    scn, res, flow, view = plan
    page = open_page(browser, app_url, width=width, height=900)
    try:
        page.wait_for_selector(CANVAS)
        wait_until(lambda: painted(canvas_png(page)), what="the map to be painted")
        idle(page)
        # the decision card: the engine's figures
        gain = res.summary["expected_value_usd"] - res.summary["sell_all_usd"]
        assert metric(page, "Expected gain vs selling") == ("+" if gain >= 0 else "-") + fmt.usd(abs(gain))
        rs = scn.settings.risk
        rep = risk.evaluate(scn, samples.draw(scn, rs.samples, rs.seed))
        assert metric(page, "Chance below selling") == fmt.pct(rep.summary["prob_below_sell_all"], 0)
        assert metric(page, f"Worst {rs.alpha:.0%} average") == fmt.usd(rep.summary["cvar_usd"])
        # ... and the CLI's: summary.json's expected value and sale value, risk.json's odds and tail (issue 24)
        summary, risk_json, backtest_json = cli
        cli_gain = summary["expected_value_usd"] - summary["sell_all_usd"]
        assert metric(page, "Expected gain vs selling") == ("+" if cli_gain >= 0 else "-") + fmt.usd(abs(cli_gain))
        assert risk_json["n_samples"] == rs.samples and risk_json["risk_alpha"] == rs.alpha
        assert metric(page, "Chance below selling") == fmt.pct(risk_json["prob_below_sell_all"], 0)
        assert metric(page, f"Worst {rs.alpha:.0%} average") == fmt.usd(risk_json["cvar_usd"])
        got = backtest_json["realised_vs_sell_all_usd"]  # and backtest.json's hindsight
        assert metric(page, "What it realised vs selling") == ("+" if got >= 0 else "-") + fmt.usd(abs(got))
        if width == 1366:  # the README's picture of the first screen, from its top
            page.get_by_text("What to do:").first.scroll_into_view_if_needed()
            page.mouse.move(width / 2, 300)
            page.mouse.wheel(0, -3000)
            page.wait_for_timeout(300)
            page.screenshot(path=str(SCREENSHOT))
        page.locator(CANVAS).first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"map-{width}.png"))
        box = page.locator(CANVAS).first.bounding_box()
        inside = lambda x, y: box["x"] <= x <= box["x"] + box["width"] and box["y"] <= y <= box["y"] + box["height"]  # noqa: E731
        # every origin and every used site is inside the canvas
        for _, o in scn.origins.iterrows():
            assert inside(*screen_xy(page, float(o["lon"]), float(o["lat"]), view)), (width, o["origin"])
        used = res.sites.loc[res.sites["mw_used"] > 0, "site"]
        for _, s in scn.sites[scn.sites["site"].isin(used)].iterrows():
            assert inside(*screen_xy(page, float(s["lon"]), float(s["lat"]), view)), (width, s["site"])
        # every route: both ends and its middle (drawn straight between the ends unwrapped into the frame) inside
        # the canvas; the three biggest hovered at their middle, where the map names a route
        for f in flow.itertuples():
            for lon, lat in ((f.src_lon, f.src_lat), (f.dst_lon, f.dst_lat), _midpoint(f, view)):
                assert inside(*screen_xy(page, lon, lat, view)), (width, f.country, f.jurisdiction)
        names = {f"{f.country} to {f.jurisdiction}" for f in flow.itertuples()}
        marks = [screen_xy(page, float(lon), float(lat), view) for lon, lat in
                 list(zip(scn.origins["lon"], scn.origins["lat"])) + list(zip(scn.sites["lon"], scn.sites["lat"]))]
        clear = [f for f in flow.itertuples()  # middles away from every marker (markers are drawn on top)
                 if min(math.dist(screen_xy(page, *_midpoint(f, view), view), m) for m in marks) > 30]
        assert clear, width
        for f in clear[:3]:
            x, y = screen_xy(page, *_midpoint(f, view), view)
            text = tooltip_text(page, x, y)  # routes from one country overlap near it: the one on top answers
            assert text.splitlines()[0] in names, (width, text)
            page.mouse.move(box["x"] + 2, box["y"] + 2)
            page.wait_for_timeout(200)
        # the world once: this frame holds every mark without crossing the antimeridian, so the deck does not repeat it
        from ui import mapview
        deck = json.loads(mapview.deck_json(scn, res, view))
        assert deck["views"][0]["repeat"] is False
    finally:
        page.context.close()


def test_keyboard_reaches_the_what_if_controls(browser, app_url):
    """From page load: within three Tabs the skip link, Enter jumps, and a few Tabs later the BTC price box has focus
    (was 70 tab stops)."""
    page = open_page(browser, app_url, width=1366, height=900)
    try:
        page.wait_for_selector(CANVAS)
        idle(page)
        focused = []
        for _ in range(3):  # Streamlit's own "Skip to main content" comes first
            page.keyboard.press("Tab")
            focused.append(page.evaluate("() => document.activeElement.textContent"))
            if focused[-1] == "Skip to the what-if controls":
                break
        assert focused[-1] == "Skip to the what-if controls", focused
        page.keyboard.press("Enter")
        label = None
        for _ in range(8):  # the plan switch (one decision now / month by month) sits just above the what-ifs
            page.keyboard.press("Tab")
            label = page.evaluate("() => document.activeElement.getAttribute('aria-label') || "
                                  "document.activeElement.closest('[data-testid=stNumberInput]')?.innerText || ''")
            if "BTC price" in (label or ""):
                break
        assert "BTC price" in (label or ""), label
    finally:
        page.context.close()
