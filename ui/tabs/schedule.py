"""The Schedule tab: the month-by-month plan (SPEC section 8) as waves per site over months, MW running against
capacity per site and month, sales by month (at the origin, at the site), the schedule table as CSV, and
"re-plan from here": mark what has been done before a month and see the rest re-planned.

Every figure is summed from the engine's own schedule.csv and monthly.csv (``Result.schedule``,
``Result.monthly``); the downloads are those files byte for byte (text cells that start like a formula
neutralised, ``optimizer.inputs.tables.to_csv_text``).
"""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

import optimizer

from .. import charts, compute, monthly_view
from ..trust import md_escape
from .context import Context

LABEL = "Schedule"
REPLAN_MONTH = "replan_month_pick"
WIDGETS: tuple[str, ...] = (REPLAN_MONTH,)
NEEDS_PLAN = True
MONTHLY = True  # reads the monthly plan itself (ui.monthly_view.for_tab)
EDITOR = "replan_editor"


def _turn_on() -> None:
    st.session_state[monthly_view.SWITCH] = True


def render(ctx: Context) -> None:
    res = ctx.shown
    if not monthly_view.is_monthly(res):
        st.info("The plan on screen is the static one: every rig is shipped, sold or stored at month 0, so it has no "
                "schedule. Switch *Plan* to *month by month* (sidebar, just above the what-ifs) to plan in waves.",
                icon=":material/calendar_month:")
        st.button("Plan month by month", key="schedule_switch_on", on_click=_turn_on, icon=":material/calendar_month:")
        return
    scn, fp = ctx.shown_scn, ctx.shown_fp
    sched, monthly = res.schedule, res.monthly
    t0 = int(scn.settings.monthly.replan_month)
    H = scn.settings.horizon.months
    st.markdown(md_escape(monthly_view.waves.action_text(sched, _whole(sched))))
    if t0:
        st.caption(f"Re-planned from month {t0}: the rows of months before {t0} are what you marked as done; "
                   "'stay' rows are rigs already at a site that stay there.")

    st.markdown("##### Waves: rigs dispatched to each site, by month")
    waves_table = monthly_view.waves.shipped_by_site_month(sched)
    if len(waves_table.columns) > 1:
        st.dataframe(waves_table, hide_index=True, width="stretch", key="schedule_waves",
                     column_config={c: st.column_config.NumberColumn(c, format="%,.1f") for c in waves_table.columns[1:]})
        charts.show("schedule_waves", fp, lambda: _waves_chart(sched), width="stretch", key="schedule_waves_chart")
    else:
        st.caption("No rig is dispatched in this plan.")

    st.markdown("##### MW running against capacity, by site and month")
    used = monthly.groupby("site")["mw_running"].max()
    used_sites = used[used > 1e-9].index.tolist()
    if used_sites:
        charts.show("schedule_mw", fp, lambda: _mw_chart(monthly, used_sites), width="stretch", key="schedule_mw_chart")
        st.caption("Each panel is a site the plan uses: the MW of the rigs running there any part of the month (area) "
                   "against its capacity (dashed; 0 before the site comes online).")
        with st.expander("MW running by site and month (table)"):
            mw = monthly[monthly["site"].isin(used_sites)].pivot_table(index="site", columns="month", values="mw_running",
                                                                        aggfunc="sum", fill_value=0.0)
            mw.columns = [f"month {int(c)} (MW)" for c in mw.columns]
            st.dataframe(mw.reset_index(), hide_index=True, width="stretch", key="schedule_mw_table",
                         column_config={c: st.column_config.NumberColumn(c, format="%.3f") for c in mw.columns})

    st.markdown("##### Sales by month")
    sales = monthly_view.waves.sales_by_month(sched)
    if len(sales):
        st.dataframe(sales, hide_index=True, width="stretch", key="schedule_sales", column_config={
            "month": st.column_config.NumberColumn("month"),
            "sold_at_origin_rigs": st.column_config.NumberColumn("sold at the origin (rigs)", format="%,.1f"),
            "sold_at_site_rigs": st.column_config.NumberColumn("sold at a site (rigs)", format="%,.1f"),
            "sales_value_usd": st.column_config.NumberColumn("what they fetch (USD, discounted)", format="dollar")})
        charts.show("schedule_sales", fp, lambda: _sales_chart(sales), width="stretch", key="schedule_sales_chart")
    else:
        st.caption("This plan sells no rig before the horizon.")

    st.markdown("##### The schedule")
    st.dataframe(sched, hide_index=True, width="stretch", key="schedule_table")
    files = compute.plan_files(scn, res)
    left, right = st.columns(2)
    left.download_button("schedule.csv", files["schedule.csv"], file_name="schedule.csv", mime="text/csv",
                         key="dl_schedule.csv", on_click="ignore", icon=":material/download:")
    right.download_button("monthly.csv", files["monthly.csv"], file_name="monthly.csv", mime="text/csv",
                          key="dl_monthly.csv", on_click="ignore", icon=":material/download:")
    _replan(ctx, sched, t0, H)


def _whole(sched: pd.DataFrame) -> bool:
    r = sched["rigs"].to_numpy(float)
    return bool(len(r)) and bool(((r - r.round()) ** 2 < 1e-12).all())


def _waves_chart(sched: pd.DataFrame) -> alt.Chart:
    part = sched[sched["action"].isin(("ship", "move"))]
    data = part.groupby(["month", "site"], as_index=False)["rigs"].sum()
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("month:O", title="dispatch month"), y=alt.Y("rigs:Q", title="rigs dispatched", stack=True),
        color=alt.Color("site:N", title="site"),
        tooltip=["site:N", "month:O", alt.Tooltip("rigs:Q", format=",.1f")])


def _mw_chart(monthly: pd.DataFrame, sites: list[str]) -> alt.FacetChart:
    data = monthly[monthly["site"].isin(sites)][["month", "site", "mw_running", "capacity_mw"]]
    base = alt.Chart().encode(x=alt.X("month:Q", title="month"))
    area = base.mark_area(opacity=0.5).encode(y=alt.Y("mw_running:Q", title="MW"),
                                              tooltip=["site:N", "month:Q", alt.Tooltip("mw_running:Q", format=".3f"),
                                                       alt.Tooltip("capacity_mw:Q", format=".3f")])
    cap = base.mark_line(strokeDash=[4, 3], color="black").encode(y="capacity_mw:Q")
    return alt.layer(area, cap, data=data).properties(width=220, height=110).facet(
        facet=alt.Facet("site:N", title=None), columns=3)


def _sales_chart(sales: pd.DataFrame) -> alt.Chart:
    long = sales.melt(id_vars="month", value_vars=["sold_at_origin_rigs", "sold_at_site_rigs"], var_name="where",
                      value_name="rigs")
    long["where"] = long["where"].map({"sold_at_origin_rigs": "at the origin", "sold_at_site_rigs": "at a site"})
    return alt.Chart(long).mark_bar().encode(
        x=alt.X("month:O", title="sale month"), y=alt.Y("rigs:Q", title="rigs sold", stack=True),
        color=alt.Color("where:N", title=None), tooltip=["where:N", "month:O", alt.Tooltip("rigs:Q", format=",.1f")])


# ---------------------------------------------------------------- re-plan from here


def seed_state(sched: pd.DataFrame, state: pd.DataFrame, t0_old: int, t0: int) -> pd.DataFrame:
    """What has been done before ``t0`` as the plan on screen has it: the rows already marked (state.csv, months
    before ``t0_old``) that are still before ``t0``, then the schedule's ship, sell and sell_at_site rows of
    months ``t0_old`` .. ``t0`` - 1. Columns: state.csv's."""
    kept = state[state["month"].astype(int) < t0][monthly_view.STATE_COLUMNS] if len(state) else None
    part = sched[sched["action"].isin(("ship", "sell", "sell_at_site")) & (sched["month"] >= t0_old)
                 & (sched["month"] < t0)]
    new = part[monthly_view.STATE_COLUMNS].assign(month=part["month"].astype(int))
    out = pd.concat([f for f in (kept, new) if f is not None and len(f)], ignore_index=True) if (
        (kept is not None and len(kept)) or len(new)) else pd.DataFrame(columns=monthly_view.STATE_COLUMNS)
    out["site"] = out["site"].fillna("").astype(str)
    out["month"] = out["month"].astype(int)
    out["rigs"] = out["rigs"].astype(float)
    return out.reset_index(drop=True)


def _replan(ctx: Context, sched: pd.DataFrame, t0_old: int, H: int) -> None:
    scn = ctx.shown_scn
    st.markdown("##### Re-plan from here")
    st.caption("Mark what has been done (shipped, sold) before a month, and the rest is planned again from that month "
               "(saved with the scenario as its state file and re-plan month): rigs at their origin can still ship, wait or be "
               "sold; rigs at a site stay, are sold there later, or move to another site. The table starts as the plan "
               "on screen has it; change the rigs or months to what really happened. Saving the scenario in the "
               "library keeps what you marked.")
    ss = st.session_state
    if REPLAN_MONTH not in ss:
        ss[REPLAN_MONTH] = max(1, min(t0_old or 1, H - 1))
    t0 = int(st.number_input("Re-plan from month", min_value=1, max_value=max(1, H - 1), step=1, key=REPLAN_MONTH,
                             help="Everything in the table happened before this month; the plan decides this month "
                                  "and later."))
    state = scn.state if len(scn.state) else pd.DataFrame(columns=monthly_view.STATE_COLUMNS)
    seed = seed_state(sched, state, t0_old, t0)
    fleet = scn.fleet
    origins = sorted(fleet["origin"].astype(str).unique())
    models = sorted(fleet["model"].astype(str).unique())
    sites = [""] + sorted(scn.sites["site"].astype(str))
    key = f"{EDITOR}_{compute.frame_key(seed)}_{t0}"
    edited = st.data_editor(seed, key=key, num_rows="dynamic", hide_index=True, width="stretch", column_config={
        "action": st.column_config.SelectboxColumn("action", options=["ship", "sell", "sell_at_site"], required=True),
        "origin": st.column_config.SelectboxColumn("origin", options=origins, required=True),
        "model": st.column_config.SelectboxColumn("model", options=models, required=True),
        "site": st.column_config.SelectboxColumn("site", options=sites, help="empty for a sale at the origin"),
        "month": st.column_config.NumberColumn("month", min_value=0, max_value=max(0, t0 - 1), step=1, required=True),
        "rigs": st.column_config.NumberColumn("rigs", min_value=0.0, format="%,.0f" if _whole(sched) else "%,.2f",
                                              required=True)})
    left, right = st.columns(2)
    go = left.button(f"Re-plan from month {t0}", key="replan_go", type="primary", icon=":material/update:")
    reset = right.button("Plan from month 0 again", key="replan_reset", icon=":material/restart_alt:",
                         disabled=not (t0_old or len(scn.state)))
    if go or reset:
        rp = monthly_view.Replan(0, pd.DataFrame(columns=monthly_view.STATE_COLUMNS)) if reset else \
            monthly_view.Replan(t0, _clean(edited))
        try:
            monthly_view.apply(scn, rp)  # the engine's checks: file, row, column
        except optimizer.ScenarioError as exc:
            st.error("What you marked cannot be re-planned from:\n\n"
                     + "\n".join(f"- {md_escape(str(p))}" for p in exc.problems), icon=":material/error:")
            return
        ss.setdefault(monthly_view.REPLANS, {})[ctx.source] = rp
        st.rerun()


def _clean(edited: pd.DataFrame) -> pd.DataFrame:
    """The editor's rows as state.csv's: empty rows dropped, an empty site as ""."""
    out = edited[monthly_view.STATE_COLUMNS].copy()
    out = out.dropna(how="all")
    out["site"] = out["site"].fillna("").astype(str)
    return out.reset_index(drop=True)

