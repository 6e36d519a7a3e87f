"""The floor for the map's paint: a bare HTML page drawing the app's own deck.gl layers and data, nothing else.

The page loads deck.gl from pydeck's bundled JavaScript (``pydeck/nbextension/static/index.js``, the
``@deck.gl/jupyter-widget`` build ``pydeck.io.html`` inlines offline; no CDN), and draws the deck JSON
the app sends for china-2021's opening plan (``ui.mapview.deck_json``, as ``ui/tabs/plan.py`` builds it)
with pydeck's own ``createDeck``. The countries layer reads the same GeoJSON at the same relative URL
(``app/static/...``), served beside the page. ``window.change()`` swaps in the deck of the plan after
the same what-if move bench/app_paint.py makes (``updateDeck``, what the Jupyter widget does on new JSON).

    with serve_bare(width_px, height_px) as url: ...
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "datasets" / "china-2021"
# app_paint presses ArrowRight four times on the power-price slider (step 0.05): 1.00 -> 1.20
OPENING = {"policy.power_price_multiplier": 1.0}
MOVED = {"policy.power_price_multiplier": 1.2}


def pydeck_bundle() -> Path:
    import pydeck

    path = Path(pydeck.__file__).resolve().parent / "nbextension" / "static" / "index.js"
    if not path.is_file():
        raise FileNotFoundError(f"pydeck's bundled deck.gl is missing: {path}")
    return path


def app_deck_json(overrides: dict) -> str:
    """The deck JSON the app draws for china-2021 opened as the app opens it (whole rigs) with ``overrides``."""
    import optimizer
    from ui import compute, mapview

    base = optimizer.load_scenario(SCENARIO)
    opened = base.with_overrides({"policy.integer_rigs": compute.whole_rigs_interactive(compute.fingerprint(base), base)})
    scn = opened.with_overrides(overrides)
    res = optimizer.solve(scn)
    return mapview.deck_json(scn, res, mapview.view_state(base), ())


def page(first: str, moved: str, width_px: int, height_px: int) -> str:
    """The bare page: a container of the app's map size, the first deck drawn on load, ``change()`` for the next."""
    from ui import mapview

    spec0 = json.loads(first)
    spec1 = json.loads(moved)
    for spec in (spec0, spec1):
        spec.pop("mapStyle", None)  # the app asks Streamlit for no basemap; here: no map provider at all
        spec["mapProvider"] = None
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>bare deck.gl</title>
<style>html, body {{ margin: 0; }} #deck {{ position: relative; width: {width_px}px; height: {height_px}px; }}</style>
<script src="pydeck.js"></script></head>
<body><div id="deck"></div>
<script>
const FIRST = {json.dumps(spec0)};
const MOVED = {json.dumps(spec1)};
window.deck = createDeck({{container: document.getElementById("deck"), jsonInput: FIRST,
                          tooltip: {json.dumps(mapview.TOOLTIP)}}});
window.change = () => updateDeck(MOVED, window.deck);
</script></body></html>
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # noqa: D401 - no access log on stderr
        pass


@contextlib.contextmanager
def serve_bare(width_px: int, height_px: int) -> Iterator[str]:
    """Serve the bare page on a free loopback port; yields its URL."""
    with tempfile.TemporaryDirectory(prefix="rigshift-bare-") as tmp:
        folder = Path(tmp)
        (folder / "index.html").write_text(page(app_deck_json(OPENING), app_deck_json(MOVED), width_px, height_px))
        shutil.copyfile(pydeck_bundle(), folder / "pydeck.js")
        static = folder / "app" / "static"
        static.mkdir(parents=True)
        shutil.copyfile(ROOT / "static" / "world-countries-110m.geojson", static / "world-countries-110m.geojson")
        handler = functools.partial(_Quiet, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
        finally:
            server.shutdown()
            server.server_close()
