"""The app's tabs, in the order the tab bar shows them: one module per tab.

Each tab module exposes:

- ``LABEL``: the tab's title;
- ``WIDGETS``: the keys of its widgets whose values must outlive the tab being closed (only the
  open tab is drawn, and Streamlit forgets the value of a widget a run does not draw);
- ``NEEDS_PLAN``: whether it draws only once some plan has solved;
- ``render(ctx)``: draws the tab from a ``ui.tabs.context.Context``.

``ui.main`` builds the context once per run and renders the open tab from ``TABS``. Adding a tab
is adding a module here and to ``TABS``.
"""
from __future__ import annotations

from . import compare, edit_data, explain, export, plan, risk, schedule, sensitivity, site_economics, timeline, what_happened
from .context import Context

TABS = (plan, schedule, timeline, site_economics, sensitivity, explain, compare, edit_data, export, risk, what_happened)
LABELS = [t.LABEL for t in TABS]
WIDGETS = {t.LABEL: tuple(t.WIDGETS) for t in TABS if t.WIDGETS}

__all__ = ["Context", "LABELS", "TABS", "WIDGETS"]
