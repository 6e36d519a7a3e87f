"""Charts drawn from a Vega-Lite spec made once per input (issue 13: reruns that change nothing cost little).

``st.altair_chart`` converts and validates the Altair chart against the Vega-Lite schema on every
rerun (about 3-10 ms a chart here); the spec only changes when the plan or the chart's inputs do.
``show`` keeps the spec (a dict, data inlined) in this browser session, keyed by the caller's
``memo`` key (a plan fingerprint and whatever else the chart reads), and draws it with
``st.vega_lite_chart``: the same chart, the same Streamlit theme.
"""
from __future__ import annotations

from typing import Any, Callable, Hashable

import altair as alt
import streamlit as st

from . import compute

KEPT_PER_CHART = 4  # specs kept per chart name and session (the last few plans)


def spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The chart's Vega-Lite spec with its data inlined (no row limit: the callers bin or aggregate)."""
    with alt.data_transformers.disable_max_rows():
        return chart.to_dict()


def show(name: str, memo: Hashable, build: Callable[[], alt.TopLevelMixin], **kwargs: Any) -> None:
    """Draw ``build()`` like ``st.altair_chart(build(), **kwargs)``, building it only when ``memo`` (what the
    chart reads: a plan fingerprint and the like) is new for chart ``name`` in this session."""
    made = compute.per_session(f"chart_{name}", memo, lambda: spec(build()), KEPT_PER_CHART)
    st.vega_lite_chart(spec=made, **kwargs)
