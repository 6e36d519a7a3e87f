"""The app's session state: every key that more than one module reads, named once, and the helpers
that move what the user has between scenarios (``remember_controls``, ``keep_edits``).

Both the page (``ui.main``) and the workspace panel (``ui.workspace``) import this module; neither
imports the other. A widget's key that only its own tab reads is named in that tab's module
(``ui.tabs.*``, its ``WIDGETS``).
"""
from __future__ import annotations

import streamlit as st

from . import controls, editors

# ---- where the scenario comes from
SOURCE = "source"  # the scenario picker (a widget): the source label chosen
ACTIVE_SOURCE = "active_source"  # the source the last run drew (its controls and edits are the ones on screen)
PENDING_SOURCE = "pending_source"  # a source to select before the picker is drawn (upload, library, link)
UPLOAD = "upload"  # the file uploader (a widget)
UPLOADS = "uploads"  # source label -> {file name: bytes}: uploads, kept edits and library entries
UPLOAD_PREFIX = "upload: "  # source labels of uploaded (and kept-edit) scenarios start with it
UPLOAD_PROBLEMS = "upload_problems"  # list[str]: why the last upload was refused
UPLOAD_NOTICE = "upload_notice"  # str: what the last upload, restore or link did

# ---- what the user left behind
MEMORY = "memory"  # source label -> the what-if control values the user left it with
LAST_GOOD_TABLES = "last_good_tables"  # source label -> the last edited Scenario that validated
LAST_PLAN = "last_plan"  # (fingerprint, Scenario, Result) of the last plan that solved, or None

# ---- pins and tabs
PINS = "pins"  # list of pinned plans (``ui.views.make_pin``)
BASELINE = "compare_baseline"  # the Compare tab's baseline pick (a widget): an index into PINS
PIN_NAME = "pin_name"  # the pin name box (a widget)
MAIN_TABS = "main_tabs"  # the tab bar (a widget)
OPEN_TAB = "_open_tab"  # the label of the tab the last run drew


def init() -> None:
    """The keys every run reads, set once per browser session."""
    ss = st.session_state
    ss.setdefault(UPLOADS, {})
    ss.setdefault(UPLOAD_PROBLEMS, [])
    ss.setdefault(UPLOAD_NOTICE, "")
    ss.setdefault(MEMORY, {})
    ss.setdefault(LAST_GOOD_TABLES, {})
    ss.setdefault(LAST_PLAN, None)
    ss.setdefault(PINS, [])


def remember_controls() -> None:
    """Keep the what-if control values of the source being left under MEMORY."""
    old = st.session_state.get(ACTIVE_SOURCE)
    if old:
        st.session_state[MEMORY][old] = controls.control_state()


def keep_edits(old: str) -> str | None:
    """Turn the table edits of the source being left into a scenario of their own, so none are lost.

    Returns the new source label, or None when there are no edits (or none that validated)."""
    if not (editors._has_edits(editors.SITES_KEY) or editors._has_edits(editors.FLEET_KEY)):
        return None
    good = st.session_state[LAST_GOOD_TABLES].get(old)
    if good is None:
        return None
    label = f"{UPLOAD_PREFIX}{old.removeprefix(UPLOAD_PREFIX)} (edited)"
    st.session_state[UPLOADS][label] = good.files()
    st.session_state[MEMORY][label] = controls.control_state()
    return label
