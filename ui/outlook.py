"""The hashprice path the plan uses (halvings marked), beside the realised one when there is a history.

It reads the engine: ``optimizer.economics.hashprice`` (SPEC section 6's path). The What happened
tab (``ui.tabs.what_happened``) draws it with the realised path.
"""
from __future__ import annotations

import hashlib

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

import optimizer
from optimizer import economics
from optimizer.results import fmt

from . import charts, compute


def _month_labels(scn: optimizer.Scenario, months: int) -> list[str]:
    start = scn.settings.horizon.start_month
    if not start:
        return [str(t) for t in range(months)]
    first = pd.Period(str(start), freq="M")
    return [str(first + t) for t in range(months)]


def hashprice_frame(scn: optimizer.Scenario) -> pd.DataFrame:
    """month, hashprice_usd_th_day (the plan's path), and the calendar month when the scenario has a start month."""
    hp = economics.hashprice(scn)
    return pd.DataFrame({"month": range(len(hp)), "calendar": _month_labels(scn, len(hp)), "hashprice_usd_th_day": hp})


def hashprice_chart(scn: optimizer.Scenario, realised: pd.DataFrame | None = None) -> None:
    """Line chart of hp_t over the horizon, each halving month marked; the realised path beside it if given.
    The spec is built once per path."""
    halvings = list(economics.halving_months(scn.settings)) if not len(scn.market) else []
    hp = economics.hashprice(scn)
    # the chart reads the path, its calendar and the halvings, not the plan: a what-if that leaves them (power,
    # sites, policy) reuses the spec (about 40 ms a rerun otherwise)
    key = (hashlib.sha256(np.ascontiguousarray(hp, float).tobytes()).hexdigest(), scn.settings.horizon.start_month,
           tuple(halvings), None if realised is None else compute.frame_key(realised))
    charts.show("hashprice", key, lambda: _hashprice_layers(scn, realised, halvings), width="stretch", height=320)
    words = economics.hashprice_source(scn)
    st.caption(f"Hashprice path: {'from the scenario''s market.csv' if words == 'market.csv' else words}"
               + (f"; halving in month {', '.join(map(str, halvings))}" if halvings and "halving" not in words else "")
               + ". Revenue per rig also loses the pool fee "
               f"({fmt.pct(scn.settings.market.pool_fee)}).")


def _hashprice_layers(scn: optimizer.Scenario, realised: pd.DataFrame | None, halvings: list[int]) -> alt.LayerChart:
    frame = hashprice_frame(scn).assign(path="assumed by the plan")
    if realised is not None:
        r = realised.sort_values("month")
        frame = pd.concat([frame, pd.DataFrame({"month": r["month"].astype(int).to_numpy(),
                                                "calendar": _month_labels(scn, len(r)),
                                                "hashprice_usd_th_day": r["hashprice_usd_th_day"].to_numpy(float),
                                                "path": "what happened"})], ignore_index=True)
    last = int(frame["month"].max())
    line = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("month:Q", title="Month of the horizon", scale=alt.Scale(domain=[0, last], nice=False)),
        y=alt.Y("hashprice_usd_th_day:Q", title="USD per TH/s per day", scale=alt.Scale(zero=True)),
        color=alt.Color("path:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("calendar:N", title="Month"), alt.Tooltip("path:N", title="Path"),
                 alt.Tooltip("hashprice_usd_th_day:Q", title="USD/TH/day", format=".4f")])
    layers = [line]
    if halvings:
        marks = pd.DataFrame({"month": halvings, "label": ["halving"] * len(halvings)})
        layers.append(alt.Chart(marks).mark_rule(strokeDash=[4, 3], color="grey").encode(x="month:Q"))
        layers.append(alt.Chart(marks).mark_text(align="left", dx=4, dy=-6, color="grey").encode(
            x="month:Q", y=alt.value(10), text="label:N"))
    return alt.layer(*layers).properties(height=280)
