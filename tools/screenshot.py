"""The README's picture of the first screen: the app on datasets/china-2021, 1366 x 900, from the top of the page once
the map is painted and the decision card has its odds.

    .venv/bin/python -m tools.screenshot                 # writes docs/screenshots/app.png
    .venv/bin/python -m tools.screenshot --out x.png --width 800

Starts its own `streamlit run app.py` on a free local port and Debian's Chromium through playwright (the test
suite's helpers: tests/streamlit_server.py), and stops both. Needs the dev requirements (playwright) and chromium
(`make browser`). Exit 2 with a message when chromium is missing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "screenshots" / "app.png"
CANVAS = "[data-testid='stDeckGlJsonChart'] canvas"


def take(out: Path, width: int = 1366, height: int = 900, log: Path | None = None) -> Path:
    """Write the first screen at ``width`` x ``height`` CSS pixels to ``out`` (PNG); returns ``out``."""
    from tests.streamlit_server import chromium, idle, running_app, wait_until
    from tests.test_browser import canvas_png, painted

    log = log or ROOT / "tests" / "artifacts" / "streamlit-server-screenshot.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with running_app(log) as (url, _proc), chromium(120_000) as browser:
        context = browser.new_context(viewport={"width": width, "height": height})
        try:
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(url, wait_until="load")
            page.wait_for_selector("[data-testid='stMetric']")
            page.wait_for_selector(CANVAS)
            wait_until(lambda: painted(canvas_png(page)), timeout_s=120, what="the map to be painted")
            idle(page)
            page.get_by_text("What to do:").first.wait_for()
            page.mouse.move(width / 2, height / 3)
            page.mouse.wheel(0, -5000)  # back to the top of the page
            page.wait_for_timeout(400)
            page.screenshot(path=str(out))
        finally:
            context.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"PNG to write (default {DEFAULT_OUT.relative_to(ROOT)})")
    ap.add_argument("--width", type=int, default=1366, help="viewport width in CSS pixels (default 1366)")
    ap.add_argument("--height", type=int, default=900, help="viewport height in CSS pixels (default 900)")
    args = ap.parse_args(argv)
    from tests.streamlit_server import chromium_missing_reason

    missing = chromium_missing_reason()
    if missing:
        print(f"screenshot: {missing}", file=sys.stderr)
        return 2
    print(f"wrote {take(args.out, args.width, args.height)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
