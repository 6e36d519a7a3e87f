"""The Compare tab: the pinned plans side by side with the current one, the settings that differ,
the rigs that go somewhere else and the MW used per site."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

import optimizer
from optimizer.results import fmt

from .. import trust
from optimizer.inputs.labels import setting_label
from ..session import BASELINE, PINS
from ..views import METRICS, delta, flat_settings
from .context import Context

PIN_REMOVE, PIN_CLEAR = "pin_remove", "pin_clear"  # buttons
USER_TEXT_SETTINGS = ("policy.exclude_jurisdictions", "policy.exclude_sites", "horizon.start_month")

LABEL = "Compare"
WIDGETS = (BASELINE,)
NEEDS_PLAN = True
MONTHLY = "summed"  # shows the monthly plan too, its decisions summed over months (ui.monthly_view.for_tab)


def render(ctx: Context) -> None:
    if not ctx.stale:
        _compare(ctx.scn, ctx.res, ctx.source, ctx.fp)


def _remove_baseline() -> None:
    pins = st.session_state.get(PINS) or []
    idx = st.session_state.get(BASELINE, 0)
    if isinstance(idx, int) and 0 <= idx < len(pins):
        pins.pop(idx)
    st.session_state[BASELINE] = 0


def _clear_pins() -> None:
    st.session_state[PINS] = []
    st.session_state[BASELINE] = 0


def _compare(scn: optimizer.Scenario, res: optimizer.Result, source: str, fp: str) -> None:
    pins = st.session_state.get(PINS) or []
    if not pins:
        st.info("Pin the current plan (**Pin this plan**, top right), change the settings or the tables, "
                "and the two plans appear here side by side. Pin as many as you like.")
        return
    if st.session_state.get(BASELINE) not in range(len(pins)):
        st.session_state[BASELINE] = 0
    c1, c2, c3 = st.columns([3, 1, 1])
    c1.selectbox("Baseline (headline deltas are against it)", list(range(len(pins))), key=BASELINE,
                 format_func=lambda i: pins[i]["label"])
    c2.button("Remove this pin", key=PIN_REMOVE, on_click=_remove_baseline)
    c3.button("Clear all pins", key=PIN_CLEAR, on_click=_clear_pins)
    base = pins[st.session_state[BASELINE]]

    table = {"metric": [m.label for m in METRICS]}
    for p in pins:
        table[p["label"]] = [m.text(p["summary"]) for m in METRICS]
    table["current"] = [m.text(res.summary) for m in METRICS]
    table["current vs baseline"] = [delta(m, res.summary.get(m.field), base["summary"].get(m.field)) or "same"
                                    for m in METRICS]
    st.markdown("**Headline numbers**")
    # the cells are the app's own figures ("+$4.83M" is not a formula); pin names head columns: neutralised
    st.dataframe(pd.DataFrame(table).rename(columns=trust.safe_text_cell), hide_index=True,
                 width="stretch", height="content", key="compare_metrics")

    now = flat_settings(scn.settings)
    def shown(k: str, v: object) -> str:  # only settings that hold user text (names, dates) are neutralised
        text = fmt.setting_text(k, v)
        return trust.safe_text_cell(text) if k in USER_TEXT_SETTINGS else text

    diff = [{"setting": setting_label(k), "baseline": shown(k, base["settings"].get(k)), "current": shown(k, v)}
            for k, v in now.items() if base["settings"].get(k) != v]
    st.markdown("**Settings that differ**" + ("" if base["source"] == source else
                                               f" (baseline is from scenario '{trust.md_escape(base['source'])}')"))
    if base.get("risk_aware"):
        st.caption(f"The baseline is a risk-aware plan, chosen over {base['risk_aware']}: its inputs are these "
                   "settings and those futures, so it is not the plan these settings alone give.")
    if diff:
        st.dataframe(pd.DataFrame(diff), hide_index=True, key="compare_settings")
    elif not base.get("risk_aware"):
        st.caption("Same what-if settings" + (": the difference is in the tables." if base["fp"] != fp else
                                              "; the inputs are identical."))

    moves = allocation_diff(base["allocation"], res.allocation)
    st.markdown("**Rigs that go somewhere else** (rigs per action, origin, model and site)")
    if moves.empty:
        st.caption("The two plans move every rig the same way.")
    else:
        st.dataframe(trust.safe_frame(moves), hide_index=True, width="stretch", key="compare_moves", column_config={
            "baseline_rigs": st.column_config.NumberColumn("baseline rigs", format="%.1f"),
            "current_rigs": st.column_config.NumberColumn("current rigs", format="%.1f"),
            "change": st.column_config.NumberColumn("change", format="%+.1f"),
        })
    mw = base["sites"][["site", "mw_used"]].merge(res.sites[["site", "mw_used"]], on="site", how="outer",
                                                  suffixes=("_baseline", "_current")).fillna(0.0)
    mw = mw[(mw["mw_used_baseline"] > 1e-6) | (mw["mw_used_current"] > 1e-6)]
    if len(mw):
        long = mw.melt(id_vars="site", var_name="plan", value_name="MW used")
        long["plan"] = long["plan"].str.replace("mw_used_", "", regex=False)
        chart = alt.Chart(long).mark_bar().encode(
            y=alt.Y("site:N", sort="-x", title=None), x=alt.X("MW used:Q"), color=alt.Color("plan:N"),
            yOffset="plan:N", tooltip=["site", "plan", alt.Tooltip("MW used:Q", format=".2f")])
        st.markdown("**MW used per site**")
        st.altair_chart(chart.properties(height=max(200, 28 * len(mw))), width="stretch", key="compare_mw_chart")




def allocation_diff(before: pd.DataFrame, after: pd.DataFrame, tolerance: float = 0.5) -> pd.DataFrame:
    """Rigs per (action, origin, model, site) in two plans, where they differ by more than ``tolerance``."""
    keys = ["action", "origin", "model", "site"]
    a = before.groupby(keys, as_index=False)["rigs"].sum().rename(columns={"rigs": "baseline_rigs"})
    b = after.groupby(keys, as_index=False)["rigs"].sum().rename(columns={"rigs": "current_rigs"})
    m = a.merge(b, on=keys, how="outer")
    m[["baseline_rigs", "current_rigs"]] = m[["baseline_rigs", "current_rigs"]].fillna(0.0)
    m["change"] = m["current_rigs"] - m["baseline_rigs"]
    m = m[m["change"].abs() > tolerance]
    return m.reindex(m["change"].abs().sort_values(ascending=False).index).reset_index(drop=True)
