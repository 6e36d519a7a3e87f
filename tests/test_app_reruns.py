"""Issue 13's cheap reruns: the app's remembered fingerprint is the engine's, the map specification and
download bytes are built once per plan, and the basemap is served as a static file."""
from __future__ import annotations

import pickle
import tomllib
from pathlib import Path

import optimizer
from optimizer.inputs.geo import DATA as GEO_DATA
from optimizer.inputs.scenario import tables_digest
from ui import compute, mapview

ROOT = Path(__file__).resolve().parents[1]


def _fresh_fingerprint(s) -> str:
    h = tables_digest(s.fingerprint_frames())  # every table hashed again, nothing remembered
    h.update(repr(s.settings).encode())
    return h.hexdigest()[:16]


def test_remembered_fingerprint_equals_a_fresh_one():
    """The tables' digest kept on a scenario (and carried to its what-ifs) gives the fingerprint that hashing
    every table again gives; an edit of a table changes it; a pickled copy (st.cache_data) recomputes it."""
    scn = optimizer.load_scenario(ROOT / "datasets" / "china-2021")
    edited = scn.with_tables(sites=scn.sites.assign(capacity_mw=scn.sites["capacity_mw"] * 2))
    for s in (scn, scn.with_overrides({"market.btc_price_usd": 41000.0}), scn, edited,
              edited.with_overrides({"policy.power_price_multiplier": 1.3}), pickle.loads(pickle.dumps(scn))):
        assert compute.fingerprint(s) == s.fingerprint() == _fresh_fingerprint(s)
        assert compute.fingerprint(s) == _fresh_fingerprint(s)  # and again from the remembered tables
    assert edited.fingerprint() != scn.with_overrides({}).fingerprint()
    assert "_tables_digest" in scn.with_overrides({"market.btc_price_usd": 41000.0}).__dict__  # carried, not rehashed


def test_map_spec_built_once_per_plan():
    scn = optimizer.load_scenario(ROOT / "datasets" / "china-2021")
    res = optimizer.solve(scn)
    view = mapview.view_state(scn)
    a = mapview.build(scn, res, view)
    assert mapview.build(scn, res, view) is a
    assert a.to_json() is a.to_json()  # serialised once
    moved = scn.with_overrides({"market.btc_price_usd": 20000.0})
    b = mapview.build(moved, optimizer.solve(moved), view)
    assert b is not a and b.to_json() != a.to_json()


def test_basemap_is_served_statically():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableStaticServing"] is True
    assert (ROOT / "static" / GEO_DATA.name).read_bytes() == GEO_DATA.read_bytes()
    scn = optimizer.load_scenario(ROOT / "datasets" / "china-2021")
    text = mapview.build(scn, optimizer.solve(scn), mapview.view_state(scn)).to_json()
    assert mapview.COUNTRIES_URL in text and '"FeatureCollection"' not in text
