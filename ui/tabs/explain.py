"""The Explain tab: how the plan value adds up, and one rig's value term by term (``optimizer.breakdown``)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import optimizer
from optimizer.results import fmt

from .. import compute
from ..trust import md_escape
from .context import Context

ORIGIN, MODEL, SITE = "explain_origin", "explain_model", "explain_site"  # the three pickers

LABEL = "Explain"
WIDGETS = (ORIGIN, MODEL, SITE)
NEEDS_PLAN = True


def render(ctx: Context) -> None:
    """Where the plan value comes from, and the per-rig economics of any (origin, model, site)."""
    scn, res, fp = ctx.shown_scn, ctx.shown, ctx.shown_fp
    alloc = res.allocation
    by_action = alloc.groupby("action")["value_usd"].sum()
    parts = pd.DataFrame({
        "term": ["relocated rigs (value of relocating)", "rigs sold now (resale)", "rigs stored (salvage)",
                 "site opening costs", "plan value"],
        "usd": [by_action.get("relocate", 0.0), by_action.get("sell", 0.0), by_action.get("idle", 0.0),
                -res.summary["fixed_costs_usd"], res.summary["objective_usd"]],
    })
    parts["amount"] = parts["usd"].map(fmt.usd)
    st.markdown("**How the plan value adds up**")
    st.dataframe(parts[["term", "amount"]], hide_index=True, key="explain_parts",
                 column_config={"term": "", "amount": "USD"})

    st.markdown("**One rig, term by term** - pick a rig group and a site to see what moving one rig there is worth.")
    groups = scn.fleet[scn.fleet["count"] > 0]
    if groups.empty or scn.sites.empty:
        st.info("The fleet is empty.")
        return
    reloc = alloc[alloc["action"] == "relocate"].sort_values("rigs", ascending=False)
    first = reloc.iloc[0] if len(reloc) else None
    origins = sorted(groups["origin"].unique())
    _valid(ORIGIN, origins, first["origin"] if first is not None else origins[0])
    c1, c2, c3 = st.columns(3)
    origin = c1.selectbox("Origin", origins, key=ORIGIN)
    models = sorted(groups.loc[groups["origin"] == origin, "model"].unique())
    _valid(MODEL, models, first["model"] if first is not None and first["origin"] == origin else models[0])
    model = c2.selectbox("Rig model", models, key=MODEL)
    sites = scn.sites["site"].tolist()
    _valid(SITE, sites, first["site"] if first is not None else sites[0])
    site = c3.selectbox("Site", sites, key=SITE)
    b = compute.per_session("explain", (fp, origin, model, site), lambda: optimizer.breakdown(scn, origin, model, site), 4)
    rows = [
        ("revenue (discounted; counts only months after arrival and before a ban)", b["revenue_pv_usd"]),
        ("- power", b["power_pv_usd"]), ("- hosting", b["hosting_pv_usd"]),
        ("= operating value", b["ops_usd"]), ("+ resale value left at the end", b["terminal_usd"]),
        (f"- freight ({'quoted' if b['freight_source'] == 'lanes.csv' else 'estimated from distance'}, "
         f"{b['distance_km']:,.0f} km, hashing after {b['lead_days']:.0f} days)", b["freight_usd"]),
        ("- import duty", b["duty_usd"]),
        (f"- caution charge (ban chance {100 * b['ban_probability']:.1f}% within the horizon)", b["risk_penalty_usd"]),
        ("= value of relocating one rig", b["value_relocate_usd"]),
        ("value of selling it now", b["value_sell_usd"]), ("value of storing it", b["value_idle_usd"]),
    ]
    table = pd.DataFrame(rows, columns=["term", "usd_per_rig"])
    st.dataframe(table, hide_index=True, key="explain_terms", height="content",  # every row, the last one too
                 column_config={"usd_per_rig": st.column_config.NumberColumn("USD per rig", format="%.2f")})
    pol = scn.settings.policy
    jur = scn.sites.loc[scn.sites["site"] == site, "jurisdiction"].iloc[0]
    why_not = (f"{jur} is excluded in the what-ifs" if jur in set(pol.exclude_jurisdictions)
               else "you left this site out" if site in set(pol.exclude_sites)
               else "this site has no capacity" if float(scn.sites.loc[scn.sites["site"] == site, "capacity_mw"].iloc[0]) <= 0
               else None)
    options = [(b["value_relocate_usd"], "relocate here")] if why_not is None else []
    options += [(b["value_sell_usd"], "sell now")] if pol.allow_sell else []
    options += [(b["value_idle_usd"], "store")] if pol.allow_idle else []
    best = max(options) if options else (0.0, "none of the allowed actions")
    if why_not:
        st.warning(md_escape(f"Rigs cannot go to {site}: {why_not}.") + " The terms below show what it would be worth.",
                   icon=":material/block:")
    here = alloc[(alloc["origin"] == origin) & (alloc["model"] == model)]
    st.caption(f"Hashprice today {fmt.hashprice(b['hashprice_usd_th_day'])}. Taken alone, the best use of this rig is "
               f"**{best[1]}**. The plan itself: " + (", ".join(
                   f"{r.rigs:,.0f} {r.action}" + (f" to {md_escape(r.site)}" if r.action == "relocate" else "")
                   for r in here.itertuples()) or "none") +
               " (capacity, the limit per regulator and the budget are shared, so rigs compete for the best sites).")


def _valid(key: str, options: list[str], default: str) -> None:
    if st.session_state.get(key) not in options:
        st.session_state[key] = default
