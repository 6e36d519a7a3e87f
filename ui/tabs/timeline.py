"""The Timeline tab: when each batch of moved rigs starts hashing, the hashrate online month by month,
and the plan's cumulative cash against selling everything now (``optimizer.analysis.timeline``)."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from optimizer.analysis import timeline
from optimizer.results import fmt

from .. import charts, compute
from .context import Context

LABEL = "Timeline"
WIDGETS: tuple[str, ...] = ()
NEEDS_PLAN = True


def render(ctx: Context) -> None:
    scn, res, fp = ctx.shown_scn, ctx.shown, ctx.shown_fp
    b, m = compute.per_session("timeline", fp, lambda: (timeline.batches(scn, res), timeline.monthly(scn, res)), 2)
    if b.empty:
        st.info("This plan moves no rigs: nothing ships.")
        return
    first, last = b["hashing_day"].min(), b["hashing_day"].max()
    crossing = m.loc[m["plan_cum_usd"] >= m["sell_now_usd"], "month"]
    st.markdown(f"Every batch ships at the start; the first rigs hash after **{first:.0f} days**, the last after "
                f"**{last:.0f} days**. "
                + (f"The plan's cash passes what selling everything now brings in **month {int(crossing.iloc[0])}**."
                   if len(crossing) else "Within the horizon the plan's cash never passes what selling now brings; "
                   "its value is in the resale value left at the end."))

    def gantt_chart() -> alt.LayerChart:
        gantt = b.assign(batch=b["origin"] + " to " + b["site"],
                         label=b["rigs"].map(lambda v: f"{v:,.0f} rigs"))
        height = max(160, 24 * len(gantt))
        bars = alt.Chart(gantt).mark_bar(height=12).encode(
            y=alt.Y("batch:N", sort=alt.EncodingSortField("hashing_day", order="ascending"), title=None,
                    axis=alt.Axis(labelLimit=260, labelOverlap=False)),
            x=alt.X("ship_day:Q", title="days from the start (ships at 0, hashing at the end of the bar)"),
            x2="hashing_day:Q",
            color=alt.Color("freight:N", title="lead time", scale=alt.Scale(range=["#1f4788", "#e8710a"])),
            tooltip=[alt.Tooltip("batch:N", title="batch"), alt.Tooltip("rigs:Q", format=",.0f"),
                     alt.Tooltip("hashing_day:Q", title="starts hashing (day)", format=".0f"),
                     alt.Tooltip("distance_km:Q", title="distance (km)", format=",.0f"),
                     alt.Tooltip("freight:N", title="lead time")])
        text = alt.Chart(gantt).mark_text(align="left", dx=4, fontSize=11).encode(
            y=alt.Y("batch:N", sort=alt.EncodingSortField("hashing_day", order="ascending")), x="hashing_day:Q",
            text="label:N")
        return (bars + text).properties(height=height)

    st.markdown("**When each batch starts hashing**")
    charts.show("timeline_gantt", fp, gantt_chart, width="stretch", key="timeline_gantt")
    st.caption("The model knows the door-to-door time only: packing, freight, customs and installation together.")

    left, right = st.columns(2)
    with left:
        st.markdown("**Hashrate online** (expected, EH/s)")
        charts.show("timeline_hashrate", fp, lambda: alt.Chart(m).mark_area(line=True, opacity=0.5, color="#1f4788").encode(
            x=alt.X("month:Q", title="month"), y=alt.Y("hashrate_online_ehs:Q", title="EH/s"),
            tooltip=["month", alt.Tooltip("hashrate_online_ehs:Q", title="EH/s", format=".3f")]
        ).properties(height=260), width="stretch", key="timeline_hashrate")
    with right:
        st.markdown("**Cumulative cash against selling now** (USD million, discounted)")
        long = pd.concat([
            pd.DataFrame({"month": m["month"], "usd_m": m["plan_cum_usd"] / 1e6, "line": "this plan"}),
            pd.DataFrame({"month": m["month"], "usd_m": m["sell_now_usd"] / 1e6, "line": "sell everything now"}),
        ])
        charts.show("timeline_cash", fp, lambda: alt.Chart(long).mark_line(point=False).encode(
            x=alt.X("month:Q", title="month"), y=alt.Y("usd_m:Q", title="USD million"),
            color=alt.Color("line:N", title=None, scale=alt.Scale(range=["#e8710a", "#555555"]),
                            legend=alt.Legend(orient="bottom")),
            strokeDash=alt.condition("datum.line == 'sell everything now'", alt.value([5, 4]), alt.value([1, 0])),
            tooltip=["line", "month", alt.Tooltip("usd_m:Q", title="USD million", format=",.2f")]
        ).properties(height=260), width="stretch", key="timeline_cash")
        st.caption(f"The last month adds the resale value left in the rigs. The line ends "
                   f"{fmt.usd(m['risk_charge_usd'].iloc[0])} above the plan value: the plan value also subtracts a "
                   "charge for the risk of a ban, which is not a cash flow.")
    with st.expander("Batches as a table"):
        st.dataframe(b, hide_index=True, key="timeline_table", column_config={
            "origin": "from", "site": "to", "jurisdiction": "place",
            "rigs": st.column_config.NumberColumn("rigs", format="%.0f"),
            "hashrate_ths": st.column_config.NumberColumn("TH/s", format="%.0f"),
            "lead_days": st.column_config.NumberColumn("door to door (days)", format="%.0f"),
            "ship_day": st.column_config.NumberColumn("ships (day)", format="%.0f"),
            "hashing_day": st.column_config.NumberColumn("hashing from (day)", format="%.0f"),
            "distance_km": st.column_config.NumberColumn("distance (km)", format="%.0f"),
            "freight": "lead time"})
