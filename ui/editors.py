"""In-place edits of the sites table and the fleet counts, read by the engine's own parser.

Every editable number is a *text* cell: what the user types is kept exactly as typed and
handed to the engine's CSV parser (``Scenario.with_tables``), so "2.5" stays 2.5 (and a
count of 2.5 rigs is refused), "1e3" is 1000, and "abc" is refused with a message that
repeats it. The browser grid never converts or rounds a number.

The grid keeps its own cell edits (its key is stable and its rows fixed, so Streamlit keeps
them while the marks change); each run the edits are compared with the last run's, and a
change is one step of the *Undo* history. Undo draws the grid again (a new key) from the
tables as they were one edit back. Edited cells are marked yellow, refused cells red, and
messages go into a fixed-height box *below* each grid: an error never moves the grid.

A site ticked "exclude" goes into ``policy.exclude_sites`` (its capacity stays as it was), so
the plan, the CLI and a reloaded export all agree.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

import optimizer
from optimizer.inputs.tables import TABLES as TABLE_SPECS

from . import compute, trust
from .labels import column_label, table_of_file

TABLES = ("sites", "fleet")
KEYS = {"sites": ["site", "jurisdiction"], "fleet": ["origin", "model"]}
EDITABLE = {
    "sites": ["capacity_mw", "power_usd_kwh", "reg_risk", "exclude", "hosting_usd_kw_month", "pue", "uptime",
              "import_duty", "fixed_cost_usd", "min_mw"],
    "fleet": ["count"],
}
SITE_EDITABLE = EDITABLE["sites"]  # kept for callers that list the site columns
SITE_SHOWN = KEYS["sites"] + EDITABLE["sites"]
FLEET_SHOWN = KEYS["fleet"] + EDITABLE["fleet"]
EXCLUDE_HELP = "Leave this site out of the plan"


def column_help(table: str, column: str) -> str:
    """A grid column's help: its declaration in optimizer.inputs.tables (description, unit, rule)."""
    col = TABLE_SPECS[table].column(column)
    extra = "; ".join(x for x in (col.unit, col.demand) if x)
    return col.description[:1].upper() + col.description[1:] + (f" ({extra})" if extra else "")


MESSAGE_BOX_PX = 118
STATUS = "check"  # a read-only column that names the edited and the refused cells of each row
EDITED_BG, BAD_BG = "#fff1b8", "#ffc9c9"
# Legacy widget keys, still accepted when a test or an old session sets them directly.
SITES_KEY, FLEET_KEY = "sites_editor", "fleet_editor"


def _edits_key(table: str) -> str:
    return f"grid_edits_{table}"


def _version_key(table: str) -> str:
    return f"grid_version_{table}"


HISTORY, LAST = "grid_history", "grid_last"


def widget_key(table: str) -> str:
    """The grid's key: stable while the user edits, new after an undo or a discard."""
    return f"{table}_editor_{st.session_state.get(_version_key(table), 0)}"


@dataclass
class Edited:
    """What the editors hold this run."""

    frames: dict[str, pd.DataFrame]  # full tables with the user's text in edited cells, for with_tables
    excluded_sites: list[str]
    changed: bool  # any cell differs from the scenario's own tables
    problems: list[str] = field(default_factory=list)  # refused cells, in plain words
    scenario: optimizer.Scenario | None = None  # the scenario with the edits, when they are all valid
    bad_cells: dict[str, set[tuple[int, str]]] = field(default_factory=dict)


# ---------------------------------------------------------------- cell text


def cell_text(value: Any) -> str:
    """A table value as the grid shows it: the shortest text that reads back to the same number."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int,)) or (hasattr(value, "dtype") and "int" in str(getattr(value, "dtype", ""))):
        return str(int(value))
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(f):
        return ""
    if f.is_integer() and abs(f) < 1e15:
        return str(int(f))
    return repr(f)


def base_frame(scn: optimizer.Scenario, table: str) -> pd.DataFrame:
    """The columns a grid shows, from the scenario's own tables, numbers as text."""
    src = getattr(scn, table).reset_index(drop=True)
    out = pd.DataFrame({c: src[c].astype(str) for c in KEYS[table]})
    out[STATUS] = ""
    for c in EDITABLE[table]:
        if c == "exclude":
            out[c] = src["site"].isin(set(scn.settings.policy.exclude_sites)).to_numpy()
        else:
            out[c] = [cell_text(v) for v in src[c].tolist()]
    return out


def editor_frames(scn: optimizer.Scenario) -> tuple[pd.DataFrame, pd.DataFrame]:
    return base_frame(scn, "sites"), base_frame(scn, "fleet")


# ---------------------------------------------------------------- edit state


def committed(table: str) -> dict[tuple[int, str], Any]:
    """Edits the grid was last drawn with (after an undo); the grid's own edits go on top."""
    return st.session_state.setdefault(_edits_key(table), {})


def _live(table: str) -> dict[tuple[int, str], Any]:
    """Cell edits held in the grid's own widget state."""
    out: dict[tuple[int, str], Any] = {}
    for key in (widget_key(table), SITES_KEY if table == "sites" else FLEET_KEY):
        state = st.session_state.get(key) or {}
        for row, cells in (state.get("edited_rows") or {}).items():
            for col, value in (cells or {}).items():
                out[(int(row), str(col))] = value
    return out


def _normalise(value: Any) -> Any:
    if value is None:  # a cleared cell
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isnan(value):
        return ""
    return value if isinstance(value, str) else cell_text(value)


def current_edits(table: str, base: pd.DataFrame | None = None) -> dict[tuple[int, str], Any]:
    """Committed edits with the grid's own on top; cells typed back to their own value drop out."""
    merged = {**committed(table), **{k: _normalise(v) for k, v in _live(table).items()}}
    if base is None:
        return merged
    out = {}
    for (row, col), value in merged.items():
        if row < len(base) and col in base.columns:
            original = base.at[row, col]
            if col == "exclude":
                if bool(value) != bool(original):
                    out[(row, col)] = bool(value)
            elif str(value).strip() != str(original):
                out[(row, col)] = value
    return out


def _remember(edits: dict[str, dict]) -> None:
    """One undo step per change of the edits between runs."""
    ss = st.session_state
    last = ss.get(LAST, {t: {} for t in TABLES})
    if edits != last:
        ss.setdefault(HISTORY, []).append(last)
        ss[LAST] = edits


def _redraw(edits: dict[str, dict]) -> None:
    ss = st.session_state
    for t in TABLES:
        ss.pop(widget_key(t), None)
        ss[_edits_key(t)] = dict(edits.get(t, {}))
        ss[_version_key(t)] = ss.get(_version_key(t), 0) + 1
    ss[LAST] = {t: dict(edits.get(t, {})) for t in TABLES}


def undo() -> None:
    """One edit back."""
    history = st.session_state.get(HISTORY) or []
    if history:
        _redraw(history.pop())


def can_undo() -> bool:
    return bool(st.session_state.get(HISTORY))


def reset() -> None:
    """Forget every cell edit and the undo history (a new scenario)."""
    _redraw({})
    st.session_state[HISTORY] = []
    for key in (SITES_KEY, FLEET_KEY):
        st.session_state.pop(key, None)


def discard() -> None:
    """Drop every edit; Undo brings them back."""
    ss = st.session_state
    ss.setdefault(HISTORY, []).append(ss.get(LAST, {t: {} for t in TABLES}))
    _redraw({})


def _has_edits(_key: str | None = None) -> bool:
    return any(committed(t) or _live(t) for t in TABLES)


has_edits = _has_edits


# ---------------------------------------------------------------- validation by the engine


def _who(scn: optimizer.Scenario, table: str, index: int) -> str:
    row = getattr(scn, table).iloc[index]
    return str(row["site"]) if table == "sites" else f"{row['origin']} / {row['model']}"


def _plain_hint(hint: str | None, table: str) -> str:
    if not hint:
        return ""
    for col in EDITABLE[table]:
        hint = re.sub(rf"\b{col}\b", column_label(table, col), hint)
    return f" ({hint})"


def _validate(scn: optimizer.Scenario, edits: dict[str, dict[tuple[int, str], Any]]) -> tuple[
        dict[str, pd.DataFrame], list[str], dict[str, set[tuple[int, str]]], optimizer.Scenario | None]:
    frames: dict[str, pd.DataFrame] = {}
    problems: list[str] = []
    bad: dict[str, set[tuple[int, str]]] = {t: set() for t in TABLES}
    for table in TABLES:
        full = getattr(scn, table).reset_index(drop=True).astype(object)
        for (row, col), value in edits[table].items():
            if col == "exclude":
                continue
            text = str(value).strip()
            full.at[row, col] = text
        frames[table] = full
    try:
        return frames, [], bad, compute.with_tables(scn, frames)
    except optimizer.ScenarioError as exc:
        for p in exc.problems:
            problems.append(locate(p, scn, bad))
        return frames, problems, bad, None


def locate(problem: optimizer.Problem, scn: optimizer.Scenario,
           bad: dict[str, set[tuple[int, str]]] | None = None) -> str:
    """The engine's problem in the grid's words: site (or fleet row), column label, what was typed and why."""
    table = table_of_file(problem.file)
    if table in TABLES and problem.row is not None and "_row" in getattr(scn, table).columns:
        rows = getattr(scn, table)["_row"].to_numpy()
        hits = [i for i, r in enumerate(rows) if int(r) == problem.row]
        if hits:
            index = hits[0]
            if bad is not None and problem.column:
                bad.setdefault(table, set()).add((index, problem.column))
            label = column_label(table, problem.column) if problem.column else ""
            return (f"{_who(scn, table, index)}{', ' + label if label else ''}: {problem.message}"
                    f"{_plain_hint(problem.hint, table)}")
    return str(problem)


# ---------------------------------------------------------------- drawing


def _marks(frame: pd.DataFrame, table: str, edited: set[tuple[int, str]],
           bad: set[tuple[int, str]]) -> Any:
    """The grid's data with the check column filled in, styled: refused rows red, edited rows yellow.

    Streamlit colours only read-only cells of an editable grid, so the marks go on the row's
    name and check cells, and the check cell names the columns.
    """
    out = frame.copy()
    colour: dict[int, str] = {}
    for row in sorted({r for r, _ in edited} | {r for r, _ in bad}):
        refused = [column_label(table, c) for r, c in sorted(bad) if r == row]
        changed = [column_label(table, c) if c != "exclude" else "Leave out"
                   for r, c in sorted(edited) if r == row and (r, c) not in bad]
        parts = ([f"refused: {', '.join(refused)}"] if refused else []) + ([f"edited: {', '.join(changed)}"] if changed else [])
        out.at[row, STATUS] = "; ".join(parts)
        colour[row] = BAD_BG if refused else EDITED_BG

    # Always a Styler, even with nothing to mark: the grid's identity includes the data's format, and a
    # change from plain frame to Styler would reset the grid and drop the cell being typed.
    def paint(df: pd.DataFrame) -> pd.DataFrame:
        css = pd.DataFrame("", index=df.index, columns=df.columns)
        for row, bg in colour.items():
            for col in KEYS[table] + [STATUS]:
                css.at[row, col] = f"background-color: {bg}"
        return css

    return out.style.apply(paint, axis=None)


def _config(table: str) -> dict:
    c = st.column_config
    cfg: dict[str, Any] = {k: c.TextColumn(column_label(table, k), disabled=True) for k in KEYS[table]}
    cfg[STATUS] = c.TextColumn("Check", disabled=True, width="medium", help="Which cells of this row you edited, and which were refused")
    for col in EDITABLE[table]:
        if col == "exclude":
            cfg[col] = c.CheckboxColumn("Leave out", help=EXCLUDE_HELP)
        else:
            cfg[col] = c.TextColumn(column_label(table, col), help=column_help(table, col))
    return cfg


def empty_default_notes(scn: optimizer.Scenario, edits: dict[tuple[int, str], Any]) -> list[str]:
    """'<site>: <column> is empty, so its default applies', for each optional site cell the user emptied."""
    emptied = [(row, col) for (row, col), value in edits.items()
               if col in trust.OPTIONAL_SITE_COLUMNS and str(value).strip() == ""]
    if not emptied:
        return []
    frame = pd.DataFrame({"site": scn.sites["site"].to_numpy()})
    for col in {c for _, c in emptied}:
        values = scn.sites[col].to_numpy(float).copy()
        for row, c in emptied:
            if c == col:
                values[row] = float("nan")
        frame[col] = values
    return trust.empty_defaults(frame)


def excluded_on_screen(scn: optimizer.Scenario) -> list[str] | None:
    """The sites ticked "exclude" in the grid now (None when the user has not touched the ticks)."""
    base = base_frame(scn, "sites")
    edits = current_edits("sites", base)
    if not any(col == "exclude" for _, col in edits):
        return None
    flags = base["exclude"].astype(bool).tolist()
    for (row, col), value in edits.items():
        if col == "exclude":
            flags[row] = bool(value)
    return [name for name, flag in zip(base["site"], flags) if flag]


def _message_box(table: str, problems: list[str], n_edits: int, notes: list[str] = ()) -> None:
    """A fixed-height box under a grid: the grid above it never moves, whatever it says."""
    box = st.container(height=MESSAGE_BOX_PX, border=True, key=f"grid_messages_{table}")
    with box:
        if problems:
            st.markdown(f":red[:material/error: **{len(problems)} value(s) refused** - the plan uses your last "
                        "valid tables until they are fixed:]")
            for line in problems:
                st.markdown("- " + escape_markdown(line))
        elif n_edits:
            st.caption(f":material/edit: {n_edits} cell(s) edited. Every value was read exactly as typed.")
        for note in notes:
            st.info(trust.md_escape(note), icon=":material/info:")
        else:
            st.caption("Click a cell to edit it; numbers are read exactly as you type them.")


def escape_markdown(text: str) -> str:
    """User text shown as text in st.markdown: no emphasis, links, HTML or Streamlit directives."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~:$])", r"\\\1", text)


def render(scn: optimizer.Scenario, draw: bool = True) -> Edited:
    """Read the edits and validate them with the engine; draw both grids with their message boxes when
    ``draw`` (their tab is open). Undrawn, the grids' own edits are folded into the committed ones:
    Streamlit forgets the state of a widget a run does not draw, and no edit may be lost."""
    fp = compute.fingerprint(scn)
    bases = compute.per_session("grid_bases", fp, lambda: {t: base_frame(scn, t) for t in TABLES}, 2)
    edits = {t: current_edits(t, bases[t]) for t in TABLES}
    _remember(edits)
    if any(col != "exclude" for t in TABLES for (_, col) in edits[t]):
        key = (fp, tuple(sorted((t, row, col, str(v)) for t in TABLES for (row, col), v in edits[t].items())))
        frames, problems, bad, edited_scn = compute.per_session("grid_valid", key, lambda: _validate(scn, edits), 4)
    else:  # nothing but ticks (or nothing): the tables are the scenario's own, nothing to validate
        frames, problems, bad, edited_scn = {}, [], {t: set() for t in TABLES}, None
    changed = any(edits[t] for t in TABLES)
    if draw:
        _draw(scn, bases, edits, problems, bad, changed)
    else:
        for t in TABLES:
            st.session_state[_edits_key(t)] = dict(edits[t])

    exclude = bases["sites"]["exclude"].astype(bool).to_numpy().copy()
    for (row, col), value in edits["sites"].items():
        if col == "exclude":
            exclude[row] = bool(value)
    excluded = bases["sites"].loc[exclude, "site"].tolist()  # the real names, not the neutralised ones shown
    return Edited(frames, excluded, changed, problems, edited_scn, bad)


def _draw(scn: optimizer.Scenario, bases: dict[str, pd.DataFrame], edits: dict[str, dict], problems: list[str],
          bad: dict[str, set[tuple[int, str]]], changed: bool) -> None:
    top = st.columns([1, 1, 3], vertical_alignment="center")
    top[0].button("Undo last edit", key="grid_undo", on_click=undo, disabled=not can_undo(), icon=":material/undo:",
                  width="stretch")
    top[1].button("Discard all edits", key="reset_edits", on_click=discard, disabled=not changed,
                  icon=":material/delete_sweep:", width="stretch")
    top[2].caption("Rows you edited turn yellow, refused ones red; the Check column names the cells.")

    sections = {"sites": "**Sites** - capacity, power price, ban risk and the other terms of each candidate site; "
                         "tick *Leave out* to keep a site out of the plan.",
                "fleet": "**Fleet** - how many rigs of each model stand at each place now."}
    per_table_problems: dict[str, list[str]] = {t: [] for t in TABLES}
    for line in problems:
        owner = "fleet" if any(line.startswith(_who(scn, "fleet", i)) for i in range(len(scn.fleet))) else "sites"
        per_table_problems[owner].append(line)
    for t in TABLES:
        st.markdown(sections[t])
        data = bases[t].copy()
        for (row, col), value in committed(t).items():  # the grid adds its own edits on top
            data.at[row, col] = value
        data[KEYS[t]] = trust.safe_frame(data[KEYS[t]])  # names a spreadsheet would run are shown neutralised
        st.data_editor(_marks(data, t, set(edits[t]), bad.get(t, set())), key=widget_key(t), hide_index=True,
                       num_rows="fixed", column_config=_config(t), width="stretch" if t == "sites" else "content")
        _message_box(t, per_table_problems[t], len(edits[t]),
                     empty_default_notes(scn, edits[t]) if t == "sites" else [])
