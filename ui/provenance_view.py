"""Where each input number comes from, cell by cell (issue 24): the scenario's input tables with every value's
record as a tooltip, "Sourced: <the source>" or "ESTIMATE: <the reasoning>" (``optimizer.inputs.provenance``),
estimates shaded so they are seen without hovering.

The records are the datasets' own (datasets/README.md): the ``source`` column of sites.csv and origins.csv, split
into one ``field: text`` part per input; ``spec_source`` (hashrate, power, efficiency) and ``resale_note`` (resale
price) in rigs.csv; ``note`` in fleet.csv (the rig counts). A value with no record says so.

Drawn with ``st.table`` from a pandas Styler: Streamlit's static table shows the Styler's cell tooltips (its
interactive grids do not). The tooltip text is the scenario's (an upload's) text, so it is written as a CSS string
with every character outside a small safe set escaped: it can never close the string or add a rule.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
import streamlit as st

import optimizer
from optimizer.inputs import provenance
from optimizer.inputs.labels import column_label

from . import trust
from .editors import cell_text

ESTIMATE_BG = "#fff1d6"  # estimates: shaded (the legend says so)
UNRECORDED_FG = "#8a8a8a"  # no record: greyed
MAX_ROWS = 200  # a static table draws every row: a large upload shows its first rows
TOOLTIP_CSS = [("visibility", "hidden"), ("position", "absolute"), ("z-index", "3"), ("background-color", "#262730"),
               ("color", "#ffffff"), ("padding", "6px 9px"), ("border-radius", "4px"), ("font-size", "0.8rem"),
               ("white-space", "normal"), ("width", "26rem"), ("transform", "translate(-4rem, 1.6rem)")]


@dataclass(frozen=True)
class Table:
    """One input table for the provenance view: which columns it shows and where each one's record is."""

    name: str  # the Scenario attribute and the table's name (sites, rigs, origins, fleet)
    title: str
    keys: tuple[str, ...]  # the row's name columns (no record of their own)
    record: dict[str, tuple[str, str | None]]  # value column -> (record column, field in it: None = the whole cell)


SITE_FIELDS = {"capacity_mw": "capacity", "power_usd_kwh": "power", "hosting_usd_kw_month": "hosting", "pue": "pue",
               "uptime": "uptime", "reg_risk": "reg_risk", "import_duty": "duty", "fixed_cost_usd": "fixed_cost",
               "min_mw": "min_mw", "online_month": "online", "lat": "coords", "lon": "coords"}
TABLES = (
    Table("sites", "Sites", ("site", "jurisdiction"), {c: ("source", f) for c, f in SITE_FIELDS.items()}),
    Table("rigs", "Rig models", ("model",), {"hashrate_ths": ("spec_source", None), "power_w": ("spec_source", None),
                                             "efficiency_j_th": ("spec_source", None),
                                             "resale_usd": ("resale_note", None)}),
    Table("origins", "Where the fleet stands", ("origin", "country"), {"lat": ("source", None), "lon": ("source", None)}),
    Table("fleet", "Fleet", ("origin", "model"), {"count": ("note", None)}),
)


def cell_notes(scn: optimizer.Scenario, table: Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(values, notes) of ``table`` in ``scn``, the same shape: the key and value columns as the scenario has them
    (values as text), and each value cell's record (None: not recorded; key cells None). Columns the scenario does
    not have are left out."""
    df = getattr(scn, table.name).reset_index(drop=True)
    cols = [c for c in table.keys if c in df.columns] + [c for c in table.record if c in df.columns]
    values = df[cols].copy()
    notes = pd.DataFrame(None, index=values.index, columns=cols, dtype=object)
    for col in cols:
        if col in table.keys:
            continue
        where, fld = table.record[col]
        if where not in df.columns:
            continue
        for i, cell in enumerate(df[where].tolist()):
            text = provenance.field_notes(cell).get(fld) if fld else cell
            notes.iat[i, cols.index(col)] = text if isinstance(text, str) and text.strip() else None
    return values, notes


def tooltip(note: str | None) -> str:
    """The cell's tooltip in words: "Sourced: ...", "ESTIMATE: ...", "DERIVED from sourced figures: ..." or not
    recorded (``provenance.in_words``, long records cut)."""
    return provenance.in_words(note, limit=400)


_SAFE = re.compile(r"[A-Za-z0-9 .,:;()%$+\-/*='_?!&@#~|\[\]]")


def css_string(text: str) -> str:
    """``text`` as the body of a double-quoted CSS string: characters outside a small safe set become CSS escapes
    (``\\22 `` for a quote), so no text can end the string, the declaration or the style sheet."""
    return "".join(ch if _SAFE.fullmatch(ch) else f"\\{ord(ch):x} " for ch in text)


def styled(values: pd.DataFrame, notes: pd.DataFrame, table: Table) -> "pd.io.formats.style.Styler":
    """The table for ``st.table``: labelled columns, numbers as the grids write them, names neutralised, each value
    cell's record as its tooltip, estimates shaded and values without a record greyed."""
    keys = [c for c in values.columns if c in table.keys]
    shown = pd.DataFrame({c: [cell_text(v) for v in values[c].tolist()] for c in values.columns}, index=values.index)
    shown[keys] = trust.safe_frame(shown[keys])
    tips = pd.DataFrame("", index=shown.index, columns=shown.columns)
    css = pd.DataFrame("", index=shown.index, columns=shown.columns)
    for j, col in enumerate(shown.columns):
        if col in keys:
            continue
        for i, note in enumerate(notes[col].tolist()):
            tips.iat[i, j] = css_string(tooltip(note))
            status = provenance.status(note)
            css.iat[i, j] = (f"background-color: {ESTIMATE_BG}" if status == provenance.ESTIMATE
                             else f"color: {UNRECORDED_FG}" if status is None else "")
    labels = {c: column_label(table.name, c) for c in shown.columns}  # st.table heads columns with the data's names
    shown, tips, css = (f.rename(columns=labels) for f in (shown, tips, css))
    return shown.style.apply(lambda _: css, axis=None).set_tooltips(tips, props=TOOLTIP_CSS).hide(axis="index")


def counts(notes: pd.DataFrame) -> dict[str, int]:
    """How many value cells are sourced, DERIVED, ESTIMATE and not recorded."""
    out = {provenance.SOURCED: 0, provenance.DERIVED: 0, provenance.ESTIMATE: 0, "not recorded": 0}
    for col in notes.columns:
        for note in notes[col].tolist():
            out[provenance.status(note) or "not recorded"] += 1
    return out


def render(base: optimizer.Scenario) -> None:
    """The view: one table per input table of the scenario as loaded (edits made on this page have no record)."""
    st.markdown("**Where each input comes from** - hover a number: *Sourced* names its source, *ESTIMATE* gives "
                "the reasoning. Estimates are shaded; greyed numbers have no record in the scenario. These are the "
                "scenario's own values, before any edit made above.")
    for table in TABLES:
        values, notes = cell_notes(base, table)
        value_cols = [c for c in values.columns if c not in table.keys]
        if values.empty or not value_cols:
            continue
        n = counts(notes[value_cols])
        st.markdown(f"*{table.title}*: {n[provenance.SOURCED]:,} sourced, {n[provenance.DERIVED]:,} derived, "
                    f"{n[provenance.ESTIMATE]:,} estimated, {n['not recorded']:,} not recorded")
        if len(values) > MAX_ROWS:
            st.caption(f"The first {MAX_ROWS:,} of {len(values):,} rows.")
            values, notes = values.head(MAX_ROWS), notes.head(MAX_ROWS)
        st.table(styled(values, notes, table))
