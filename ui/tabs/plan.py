"""The Plan tab: the map, the allocation, sites and places tables, and the hashprice path."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import optimizer
from optimizer.inputs import provenance
from optimizer.results import fmt

from .. import compute, mapview, outlook, trust
from .context import Context

LABEL = "Plan"
WIDGETS: tuple[str, ...] = ()
NEEDS_PLAN = True
MONTHLY = "summed"  # shows the monthly plan too, its decisions summed over months (ui.monthly_view.for_tab)


def render(ctx: Context) -> None:
    mapview.show(ctx.shown_scn, ctx.shown, ctx.base, ctx.excluded_sites, fp=ctx.shown_fp)
    safe = compute.per_session("safe_result", ctx.shown_fp, lambda: trust.safe_result(ctx.shown), 2)
    st.markdown("#### Allocation")
    allocation_table(safe)
    st.markdown("#### Sites")
    sites_table(safe, ctx.shown_scn.sites)
    st.markdown("#### Exposure by place (state or country)")
    jurisdictions_table(safe)
    st.markdown("#### Hashprice path")
    outlook.hashprice_chart(ctx.shown_scn)


def allocation_table(res: optimizer.Result) -> None:
    c = st.column_config
    rigs = res.allocation["rigs"].to_numpy(float)
    whole = bool((abs(rigs - rigs.round()) <= 1e-6 * rigs.clip(min=1.0)).all())  # whole-rig plans show no decimals
    st.dataframe(res.allocation, hide_index=True, width="stretch", key="allocation_table", column_config={
        "action": c.TextColumn("what happens"), "origin": c.TextColumn("now at"), "model": c.TextColumn("rig model"),
        "site": c.TextColumn("goes to"), "jurisdiction": c.TextColumn("place"),
        "rigs": c.NumberColumn("rigs" if whole else "rigs (fractional plan)", format="%.0f" if whole else "%.1f"),
        "mw": c.NumberColumn("MW", format="%.3f"),
        "hashrate_ths": c.NumberColumn("hashrate (TH/s)", format="%.0f"),
        "value_usd": c.NumberColumn("value (USD)", format="dollar", help="rigs x that action's value per rig"),
    })


def sites_frame(res: optimizer.Result, scn_sites: pd.DataFrame | None = None) -> pd.DataFrame:
    """res.sites with the shadow and entry prices spelled out for people, and (given the scenario's sites table)
    where each site's inputs come from."""
    scn_sites = scn_sites if scn_sites is not None else pd.DataFrame()
    df = res.sites.copy()

    def shadow_text(row: pd.Series) -> str:
        v = row["shadow_usd_per_mw"]
        if pd.isna(v):
            return "not computed for whole-rig plans" if row["mw_used"] > 0 else ""
        if row["mw_used"] <= 1e-6:
            return ""
        return f"one more MW here is worth {fmt.usd(v)}" if v > 0 else "not binding"

    df["capacity_value"] = df.apply(shadow_text, axis=1)
    df["would_enter_at_power"] = df["entry_power_usd_kwh"].map(fmt.entry_power)
    if "source" in scn_sites.columns:  # where each input comes from, as the dataset records it
        notes = df["site"].map(scn_sites.set_index("site")["source"])
        df["where_from"] = notes.map(lambda v: provenance.site_summary(v) if isinstance(v, str) else "not recorded")
        df["sources"] = notes.map(lambda v: v if isinstance(v, str) else "")
    return df


def sites_table(res: optimizer.Result, scn_sites: pd.DataFrame | None = None) -> None:
    c = st.column_config
    df = _left_out(sites_frame(res, scn_sites))
    st.dataframe(df, hide_index=True, width="stretch", key="sites_table", column_order=[
        "site", "jurisdiction", "capacity_mw", "mw_used", "utilization", "rigs", "hashrate_ths", "capacity_value",
        "shadow_usd_per_mw", "would_enter_at_power", "entry_power_usd_kwh", "where_from", "sources"],
        column_config={
            "capacity_mw": c.NumberColumn("capacity (MW)", format="%.2f"),
            "mw_used": c.NumberColumn("MW used", format="%.2f"),
            "utilization": c.ProgressColumn("utilisation", min_value=0.0, max_value=1.0, format="percent"),
            "rigs": c.NumberColumn("rigs", format="%.0f"),
            "hashrate_ths": c.NumberColumn("TH/s", format="%.0f"),
            "site": c.TextColumn("site"), "jurisdiction": c.TextColumn("place"),
            "excluded": c.TextColumn("left out", help="Left out by you or the what-ifs (change it in Edit data or the "
                                                      "sidebar)"),
            "capacity_value": c.TextColumn("value of one more MW",
                                           help="What one more MW of capacity at this site would add to the plan value "
                                                "(the capacity constraint's dual; LP plans only)."),
            "shadow_usd_per_mw": c.NumberColumn("USD per extra MW", format="dollar"),
            "would_enter_at_power": c.TextColumn("unused site enters the plan at",
                                                 help="For sites the plan leaves empty: the power price (before the "
                                                      "multiplier) at which some rig would be worth sending there, "
                                                      "other shadow prices held fixed."),
            "entry_power_usd_kwh": c.NumberColumn("entry price (USD/kWh)", format="%.4f",
                                                  help="-1: never, even with free power"),
            "where_from": c.TextColumn("where the numbers come from",
                                       help="Which of the site's inputs the dataset sources and which are its ESTIMATEs."),
            "sources": c.TextColumn("sources and reasoning", width="large",
                                    help="The dataset's note for each input: the source, or why the ESTIMATE is what it is."),
        })


def _left_out(frame: pd.DataFrame) -> pd.DataFrame:
    """The read-only 'excluded' flag as words: a tick box in a table that cannot be ticked looks clickable."""
    if "excluded" not in frame.columns:
        return frame
    return frame.assign(excluded=frame["excluded"].map(lambda v: "left out" if bool(v) else ""))


def jurisdictions_table(res: optimizer.Result) -> None:
    c = st.column_config
    st.dataframe(_left_out(res.jurisdictions), hide_index=True, width="stretch", key="jurisdictions_table", column_config={
        "excluded": c.TextColumn("left out", help="Excluded in the what-ifs (not a control: change it in the sidebar)"),
        "capacity_mw": c.NumberColumn("capacity (MW)", format="%.2f"),
        "mw_used": c.NumberColumn("MW used", format="%.2f"),
        "rigs": c.NumberColumn("rigs", format="%.0f"),
        "hashrate_ths": c.NumberColumn("TH/s", format="%.0f"),
        "share_of_fleet_hashrate": c.ProgressColumn("share of fleet hashrate", min_value=0.0, max_value=1.0,
                                                    format="percent"),
        "jurisdiction": c.TextColumn("place"), "sites": c.NumberColumn("sites"),
        "cap_ths": c.NumberColumn("most allowed (TH/s)", format="%.0f",
                                  help="The most of the fleet's hashrate one regulator may host"),
        "shadow_usd_per_ths": c.NumberColumn("USD per extra TH/s allowed", format="%.2f"),
    })


