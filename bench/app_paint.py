"""Map first paint and change-to-paint in a real browser, for this checkout and optionally another.

    .venv/bin/python -m bench.app_paint [--baseline DIR] [--reps N]

First paint: navigation to the map canvas showing countries and marks (many distinct colours).
Change-to-paint: four steps of the power-prices slider to the map canvas changing. Both sides
run at once and are measured alternately, which evens out a shared machine's load. DIR is
another checkout (``git archive <commit> | tar -x -C DIR``) with this one's .venv linked in.
The floor, measured in the same rounds: a bare page drawing the same deck.gl layers and data
(bench/bare_deck.py) at the app's map size; first paint = navigation to its canvas painted,
change = swapping in the moved plan's deck to the canvas changing. Reports app / bare ratios.
Needs Debian's chromium (``make browser``).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.streamlit_server import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.test_browser import CANVAS, painted  # noqa: E402

from bench import bare_deck, served  # noqa: E402


def serve(root: Path) -> tuple[subprocess.Popen, str]:
    """``streamlit run app.py`` in ``root``, healthy (``bench.served.serve``)."""
    return served.serve(root)


def measure_bare(browser, url: str) -> tuple[float, float]:
    """The bare page's first paint and change-to-paint, timed as ``measure`` times the app's."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        t0 = time.monotonic()
        page.goto(url, wait_until="load")
        page.wait_for_selector("#deck canvas", timeout=120_000)
        canvas = page.locator("#deck canvas").first
        while not painted(canvas.screenshot()):
            time.sleep(0.05)
        first = time.monotonic() - t0
        page.wait_for_timeout(1500)
        before = canvas.screenshot()
        t0 = time.monotonic()
        page.evaluate("window.change()")
        while canvas.screenshot() == before and time.monotonic() - t0 < 60:
            time.sleep(0.05)
        return first, time.monotonic() - t0
    finally:
        ctx.close()


CANVAS_SIZE: dict[str, int] = {}  # the app's map canvas (CSS px), read in the first measurement: the bare page's size


def measure(browser, url: str) -> tuple[float, float]:
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        t0 = time.monotonic()
        page.goto(url, wait_until="load")
        page.wait_for_selector(CANVAS, timeout=120_000)
        canvas = page.locator(CANVAS).first
        while not painted(canvas.screenshot()):
            time.sleep(0.05)
        first = time.monotonic() - t0
        box = canvas.bounding_box()
        if box and not CANVAS_SIZE:
            CANVAS_SIZE.update(width=int(round(box["width"])), height=int(round(box["height"])))
        page.wait_for_timeout(1500)
        before = canvas.screenshot()
        thumb = page.locator("[data-testid='stSlider']").filter(has_text="Power-price").locator(
            "input[type='range'], [role='slider']").first
        thumb.focus()
        t0 = time.monotonic()
        for _ in range(4):
            thumb.press("ArrowRight")
        while canvas.screenshot() == before and time.monotonic() - t0 < 60:
            time.sleep(0.05)
        return first, time.monotonic() - t0
    finally:
        ctx.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, help="another checkout to compare with")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    roots = {"this": ROOT} | ({"baseline": args.baseline} if args.baseline else {})
    servers = {name: serve(root) for name, root in roots.items()}
    out: dict[str, dict[str, list[float]]] = {name: {"first_paint_s": [], "change_to_paint_s": []}
                                              for name in [*roots, "bare"]}
    try:
        with sync_playwright() as p, contextlib.ExitStack() as stack:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            bare_url = None
            for _ in range(args.reps):
                for name, (_, url) in servers.items():
                    first, change = measure(browser, url)
                    out[name]["first_paint_s"].append(round(first, 2))
                    out[name]["change_to_paint_s"].append(round(change, 2))
                if bare_url is None:  # at the app's map size, read from the first measurement
                    bare_url = stack.enter_context(bare_deck.serve_bare(CANVAS_SIZE.get("width", 1000),
                                                                        CANVAS_SIZE.get("height", 500)))
                first, change = measure_bare(browser, bare_url)
                out["bare"]["first_paint_s"].append(round(first, 2))
                out["bare"]["change_to_paint_s"].append(round(change, 2))
            browser.close()
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=20)
    medians = {name: {k: statistics.median(v) for k, v in series.items()} for name, series in out.items()}
    for name, series in out.items():
        print(name, {k: {"median": medians[name][k], "runs": v} for k, v in series.items()})
    for name in roots:
        print(f"{name} / bare: first paint {medians[name]['first_paint_s'] / medians['bare']['first_paint_s']:.2f}x, "
              f"change-to-paint {medians[name]['change_to_paint_s'] / medians['bare']['change_to_paint_s']:.2f}x "
              f"(map canvas {CANVAS_SIZE})")
    print(json.dumps({"runs": out, "medians": medians, "canvas": CANVAS_SIZE}))


if __name__ == "__main__":
    main()
