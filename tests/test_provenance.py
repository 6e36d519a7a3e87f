"""Provenance on screen (issue 24): each input says sourced (with the source) or ESTIMATE (with its reasoning),
read from the dataset's own records (scenario.toml comments, the sites' source column)."""
from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from optimizer.inputs import provenance as P

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"


def test_scenario_toml_notes_by_status():
    text = (CHINA / "scenario.toml").read_text()
    notes = P.toml_notes(text)
    assert P.status(notes["market.btc_price_usd"]) == P.SOURCED
    assert "Hashrate Index weekly roundup" in notes["market.btc_price_usd"]  # the [market] section's source
    assert P.status(notes["market.network_hashrate_ehs"]) == P.DERIVED
    assert P.status(notes["horizon.months"]) == P.ESTIMATE
    assert "market.block_subsidy_btc" in notes and "policy.allow_sell" not in notes  # no comment, no note
    # every commented key line of the file, counted independently
    commented = [ln for ln in text.splitlines() if re.match(r"^\s*\w+\s*=", ln) and "#" in ln]
    assert len(notes) == len(commented)
    assert P.in_words(notes["horizon.months"]).startswith("ESTIMATE: hosting/PPA contracts")
    assert P.in_words(None) == "Where from: not recorded in the scenario."


def test_site_source_cells_split_by_field():
    cell = ("power: 0.029: Riot Rockdale net power rate | pue: ESTIMATE 1.03+0.006*max(0,T-5) | "
            "reg_risk: reg_risk_scoring.csv | capacity: ESTIMATE (see README)")
    f = P.field_notes(cell)
    assert f["power"].startswith("0.029: Riot") and P.status(f["pue"]) == P.ESTIMATE
    assert P.site_summary(cell) == "sourced: power price, ban risk; ESTIMATE: cooling overhead (PUE), capacity"
    assert P.site_summary(None) == "" and P.field_notes(float("nan")) == {}


def test_app_shows_where_inputs_come_from():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    btc = at.number_input(key="ctl_market_btc_price_usd")
    assert "Sourced: BTC price 17 Jul 2021" in btc.help
    months = at.slider(key="ctl_horizon_months")
    assert "ESTIMATE: hosting/PPA contracts" in months.help
    sites = next(d.value for d in at.dataframe if "where_from" in d.value.columns)
    assert (sites["where_from"].str.len() > 0).all()
    assert sites["where_from"].str.contains("ESTIMATE: ").any() and sites["where_from"].str.startswith("sourced").any()
