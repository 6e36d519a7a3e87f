"""The provenance view's cells (ui/provenance_view.py): each value's record from the dataset's own columns, and a
record's text can never leave its CSS string (it is an upload's text: data, never markup or style)."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

import optimizer
from optimizer.inputs import provenance
from ui import provenance_view as pv

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"


def test_each_site_value_carries_its_own_fields_record():
    scn = optimizer.load_scenario(CHINA)
    values, notes = pv.cell_notes(scn, pv.TABLES[0])
    raw = pd.read_csv(CHINA / "sites.csv")
    for i, cell in enumerate(raw["source"]):
        parts = dict(p.split(":", 1) for p in cell.split(" | "))
        for col, fld in pv.SITE_FIELDS.items():
            want = parts[fld].strip() if fld in parts else None
            assert notes.at[i, col] == want, (raw.at[i, "site"], col)
    assert list(values["site"]) == list(raw["site"])


def test_fleet_counts_are_estimates_and_the_counts_add_up():
    scn = optimizer.load_scenario(CHINA)
    table = next(t for t in pv.TABLES if t.name == "fleet")
    _, notes = pv.cell_notes(scn, table)
    n = pv.counts(notes[["count"]])
    assert n[provenance.ESTIMATE] == len(scn.fleet) and sum(n.values()) == len(scn.fleet)


def test_a_record_cannot_leave_its_css_string():
    evil = 'x" } body { display: none } .a::after { content: "<script>\\\n'
    out = pv.css_string(evil)
    assert not re.search(r'["{}<>\n]', out)
    assert all(ch == "\\" or ord(ch) < 128 for ch in out)
    values = pd.DataFrame({"model": ["m"], "resale_usd": [1.0]})
    notes = pd.DataFrame({"model": [None], "resale_usd": ["ESTIMATE: " + evil]}, dtype=object)
    table = next(t for t in pv.TABLES if t.name == "rigs")
    sty = pv.styled(values, notes, table)
    html = sty.to_html()
    contents = re.findall(r'content: "((?:[^"\\]|\\.)*)"', html)
    assert len(contents) == 1 and "display: none" not in html.replace(contents[0], "")
