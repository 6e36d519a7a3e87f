"""The Site economics tab: what one MW of rigs earns and costs at each site, and each site's break-even
power price and hashprice (``optimizer.analysis.site_economics``)."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

import optimizer
from optimizer import economics
from optimizer.analysis import site_economics as site_econ
from optimizer.results import fmt

from .. import charts
from .context import Context

LABEL = "Site economics"
WIDGETS: tuple[str, ...] = ()
NEEDS_PLAN = True


@st.cache_data(show_spinner=False, max_entries=32, ttl=3600)
def _site_economics(fp: str, _scn: optimizer.Scenario, _res: optimizer.Result) -> pd.DataFrame:
    return site_econ.site_economics(_scn, _res)


def render(ctx: Context) -> None:
    scn, res, fp = ctx.shown_scn, ctx.shown, ctx.shown_fp
    df = _site_economics(fp, scn, res)
    mult = scn.settings.policy.power_price_multiplier
    st.markdown("What one MW of rigs earns and costs at each site over the whole horizon (present values, USD "
                "thousand per MW), for the rigs the plan sends there (the whole fleet's mix at unused sites). "
                "The black tick is revenue; a site pays when revenue clears the costs by more than the rigs "
                "would fetch if sold now (grey tick, net of the resale value left at the end).")

    def chart() -> alt.LayerChart:
        order = df.sort_values("value", ascending=False)["site"].tolist()
        long = df.melt(id_vars=["site", "used"], value_vars=site_econ.COST_TERMS, var_name="cost", value_name="usd_per_mw")
        long["k"] = long["usd_per_mw"] / 1e3
        ticks = df.assign(revenue_k=df["revenue"] / 1e3,
                          hurdle_k=(df[site_econ.COST_TERMS].sum(axis=1) + df["sell now"] - df["resale left"]) / 1e3)
        height = max(240, 24 * len(df))
        y = alt.Y("site:N", sort=order, title=None, axis=alt.Axis(labelLimit=240, labelOverlap=False))
        stack = alt.Chart(long).mark_bar().encode(
            y=y, x=alt.X("k:Q", title="USD thousand per MW over the horizon", stack="zero"),
            color=alt.Color("cost:N", sort=site_econ.COST_TERMS, title=None, legend=alt.Legend(orient="bottom", columns=5),
                            scale=alt.Scale(domain=site_econ.COST_TERMS, range=["#1f4788", "#6b8fd6", "#e8710a", "#f2b27a", "#c0392b"])),
            opacity=alt.condition("datum.used", alt.value(1.0), alt.value(0.45)),
            tooltip=["site", "cost", alt.Tooltip("k:Q", title="USD thousand per MW", format=",.1f")])
        rev = alt.Chart(ticks).mark_tick(color="black", thickness=3, size=18).encode(
            y=y, x="revenue_k:Q", tooltip=["site", alt.Tooltip("revenue_k:Q", title="revenue (USD k per MW)", format=",.1f")])
        hurdle = alt.Chart(ticks).mark_tick(color="#888", thickness=2, size=18).encode(
            y=y, x="hurdle_k:Q", tooltip=["site", alt.Tooltip("hurdle_k:Q", title="costs + selling instead (USD k/MW)",
                                                              format=",.1f")])
        return (stack + rev + hurdle).properties(height=height)

    charts.show("site_econ", fp, chart, width="stretch", key="site_econ_chart")
    table = df[["site", "jurisdiction", "used", "revenue", "value", "breakeven_power_usd_kwh", "breakeven_hashprice"]].copy()
    table["power_now"] = scn.sites["power_usd_kwh"].to_numpy(float) * mult
    st.markdown("**Break-even prices**: moving rigs to a site beats selling them now while its power price stays "
                "below the first, and while today's hashprice stays above the second "
                f"(today {fmt.hashprice(economics.hashprice_today(scn))}).")
    st.dataframe(table.sort_values("value", ascending=False), hide_index=True, width="stretch", key="site_econ_table",
                 column_order=["site", "jurisdiction", "used", "power_now", "breakeven_power_usd_kwh",
                               "breakeven_hashprice", "revenue", "value"],
                 column_config={
                     "site": "site", "jurisdiction": "place", "used": st.column_config.CheckboxColumn("in the plan"),
                     "power_now": st.column_config.NumberColumn("power now (USD/kWh)", format="%.4f"),
                     "breakeven_power_usd_kwh": st.column_config.NumberColumn(
                         "break-even power (USD/kWh)", format="%.4f",
                         help="Empty: not worth it even with free power (or worth it at any price up to 10 USD/kWh)."),
                     "breakeven_hashprice": st.column_config.NumberColumn(
                         "break-even hashprice (USD/TH/day)", format="%.4f"),
                     "revenue": st.column_config.NumberColumn("revenue per MW", format="dollar"),
                     "value": st.column_config.NumberColumn("value per MW", format="dollar",
                                                            help="revenue - costs + resale value left at the end"),
                 })
