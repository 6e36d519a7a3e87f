"""In-place edits of the sites table and the fleet counts, validated by the engine.

The editors show the active scenario's own tables; Streamlit keeps the user's cell edits in
the editor's widget state, so a bad value stays on screen next to the engine's message
while the plan keeps using the last edit that validated.

A site ticked "exclude" goes into ``policy.exclude_sites`` (its capacity stays as it was), so
the plan, the CLI and a reloaded export all agree.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

import optimizer

from . import trust

SITES_KEY = "sites_editor"
FLEET_KEY = "fleet_editor"
SITE_EDITABLE = ["capacity_mw", "power_usd_kwh", "reg_risk", "exclude", "hosting_usd_kw_month", "pue", "uptime",
                 "import_duty", "fixed_cost_usd", "min_mw"]
SITE_SHOWN = ["site", "jurisdiction"] + SITE_EDITABLE
FLEET_SHOWN = ["origin", "model", "count"]


@dataclass
class Edited:
    """What the editors hold this run."""

    frames: dict[str, pd.DataFrame]  # full tables (extra columns and _row kept) to pass to with_tables
    excluded_sites: list[str]
    changed: bool  # any cell differs from the scenario's own tables


def editor_frames(scn: optimizer.Scenario) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The columns the editors show, from the scenario's own (unedited) tables."""
    sites = scn.sites[[c for c in SITE_SHOWN if c != "exclude"]].copy()
    sites.insert(SITE_SHOWN.index("exclude"), "exclude", sites["site"].isin(set(scn.settings.policy.exclude_sites)))
    sites = sites.reset_index(drop=True)
    fleet = scn.fleet[FLEET_SHOWN].copy().reset_index(drop=True)
    return sites, fleet


# Number formats of the editable site columns; their labels and help come from optimizer.tables.SITES.
_SITE_FORMATS = {"capacity_mw": "%.2f", "power_usd_kwh": "%.4f", "reg_risk": "%.3f", "hosting_usd_kw_month": "%.2f",
                 "pue": "%.3f", "uptime": "%.3f", "import_duty": "%.3f", "fixed_cost_usd": "%.0f", "min_mw": "%.2f"}


def _sites_config() -> dict:
    c = st.column_config
    config = {
        "site": c.TextColumn("site", disabled=True),
        "jurisdiction": c.TextColumn("jurisdiction", disabled=True),
        "exclude": c.CheckboxColumn("exclude", help="Leave this site out of the plan (policy.exclude_sites)"),
    }
    for name, fmt in _SITE_FORMATS.items():
        col = optimizer.tables.SITES.column(name)
        config[name] = c.NumberColumn(col.label, format=fmt, help=f"{col.description} ({col.unit}; {col.demand})")
    return {name: config[name] for name in SITE_SHOWN}


def _merge(full: pd.DataFrame, shown: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = full.reset_index(drop=True).copy()
    for col in columns:
        values = shown[col].reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_numeric_dtype(values):
            values = pd.to_numeric(values, errors="coerce")
        out[col] = values.to_numpy()
    return out


def render(scn: optimizer.Scenario) -> Edited:
    """Draw both editors; return the edited tables (not yet validated)."""
    sites0, fleet0 = editor_frames(scn)
    st.markdown("**Sites** - edit capacity, power price, regulatory risk and the other site terms; "
                "tick *exclude* to leave a site out (saved as `policy.exclude_sites`).")
    sites = st.data_editor(trust.safe_frame(sites0), key=SITES_KEY, hide_index=True, num_rows="fixed", column_config=_sites_config(),
                           width="stretch")
    st.markdown("**Fleet** - how many rigs of each model stand at each origin.")
    for note in trust.empty_defaults(sites.assign(site=sites0["site"].to_numpy())):  # said in place
        st.info(trust.md_escape(note), icon=":material/info:")
    fleet = st.data_editor(trust.safe_frame(fleet0), key=FLEET_KEY, hide_index=True, num_rows="fixed", width="content",
                           column_config={"origin": st.column_config.TextColumn(disabled=True),
                                          "model": st.column_config.TextColumn(disabled=True),
                                          "count": st.column_config.NumberColumn("count (rigs)", format="%d")})
    exclude = sites["exclude"].fillna(False).astype(bool).to_numpy()
    excluded = sites0.loc[exclude, "site"].tolist()  # the real names (the editor shows them neutralised)
    changed = _has_edits(SITES_KEY) or _has_edits(FLEET_KEY)
    frames: dict[str, pd.DataFrame] = {}
    if changed:
        site_cols = [c for c in SITE_EDITABLE if c != "exclude"]
        full_sites = _merge(scn.sites, sites, site_cols)
        frames = {"sites": full_sites, "fleet": _merge(scn.fleet, fleet, ["count"])}
    return Edited(frames, excluded, changed)


def excluded_on_screen(scn: optimizer.Scenario) -> list[str] | None:
    """The sites ticked "exclude" in the editor now (None when the user has not touched the ticks)."""
    state = st.session_state.get(SITES_KEY) or {}
    rows = state.get("edited_rows") or {}
    if not any("exclude" in change for change in rows.values()):
        return None
    sites0, _ = editor_frames(scn)
    flags = sites0["exclude"].astype(bool).tolist()
    for row, change in rows.items():
        if "exclude" in change and 0 <= int(row) < len(flags):
            flags[int(row)] = bool(change["exclude"])
    return [name for name, flag in zip(sites0["site"], flags) if flag]


def _has_edits(key: str) -> bool:
    state = st.session_state.get(key) or {}
    return bool(state.get("edited_rows") or state.get("added_rows") or state.get("deleted_rows"))


def reset() -> None:
    """Forget every cell edit (used when the scenario changes or the user asks)."""
    for key in (SITES_KEY, FLEET_KEY):
        if key in st.session_state:
            del st.session_state[key]


def locate(problem: optimizer.Problem, scn: optimizer.Scenario) -> str:
    """The engine's message, plus which site or fleet row a spreadsheet row number means."""
    text = str(problem)
    if problem.row is None:
        return text
    for name, label in (("sites", "site"), ("fleet", "origin")):
        table = getattr(scn, name)
        if problem.file == f"{name}.csv" and "_row" in table.columns:
            hit = table.loc[table["_row"] == problem.row]
            if len(hit):
                who = hit.iloc[0][label] if name == "sites" else f"{hit.iloc[0]['origin']} / {hit.iloc[0]['model']}"
                return f"{text} [{who}]"
    return text
