"""The Edit data tab: the sites and fleet grids (``ui.editors``).

Unlike the other tabs it runs before the plan: the edits it reads make the scenario the plan is
solved for. ``ui.main`` calls ``read`` on every run (drawing the grids only while the tab is
open); ``render`` has nothing left to draw.
"""
from __future__ import annotations

import streamlit as st

import optimizer

from .. import editors, provenance_view
from .context import Context

LABEL = "Edit data"
WIDGETS: tuple[str, ...] = ()  # the grids' cell edits are kept by editors.render itself
NEEDS_PLAN = False
MONTHLY = "no plan"  # draws the tables, no plan (ui.monthly_view.for_tab)


def read(base: optimizer.Scenario, draw: bool) -> editors.Edited:
    """The user's table edits on ``base``, validated by the engine; the grids are drawn when ``draw``."""
    return editors.render(base, draw=draw)


def render(ctx: Context) -> None:
    """Below the grids (drawn by ``read`` before the plan was solved): where each input comes from, cell by cell."""
    with st.expander("Where each input comes from: sourced or ESTIMATE", expanded=False, icon=":material/fact_check:"):
        provenance_view.render(ctx.base)
