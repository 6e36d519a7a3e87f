"""What the app shows: headline metrics, the plan's tables, sensitivity, explanations, comparison, export."""
from __future__ import annotations

import re

from dataclasses import dataclass
from typing import Any, Callable

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

import optimizer
from optimizer.settings import get_value

from . import compute, fmt, headline, tornado, trust
from .labels import setting_label


# ---------------------------------------------------------------- headline metrics


@dataclass(frozen=True)
class Metric:
    label: str
    field: str  # key in Result.summary
    show: Callable[[Any], str]
    help: str
    lower_is_better: bool = False

    def text(self, summary: dict[str, Any]) -> str:
        """What the app prints for this metric of a plan."""
        if self.field in PER_MOVED_RIG and (summary.get("rigs_relocated") or 0) < 0.5:
            return "n/a"
        return self.show(summary.get(self.field))


# Figures about the moved rigs only: "n/a" when nothing moves. Shares change in points, not percent.
PER_MOVED_RIG = ("cash_payback_months", "payback_vs_selling_months", "expected_share_hashrate_banned", "prob_any_ban")
SHARES = ("expected_share_hashrate_banned", "prob_any_ban")

METRICS = [
    Metric("Plan value", "objective_usd", fmt.usd,
           "What the optimiser maximises: the plan's expected value less the caution charge for ban risk. "
           "Expected value: every relocated rig's discounted earnings after power and hosting (each month weighted by "
           "the chance mining is still allowed), plus its resale value left at the end, less freight and import duty; "
           "plus the resale of rigs sold now and of rigs stored; less site opening costs."),
    Metric("Expected value", "expected_value_usd", fmt.usd,
           "The money the plan is expected to make: the plan value before the caution charge. Bans are already "
           "priced in, through each site's yearly chance of a ban."),
    Metric("Gain vs selling", "value_vs_sell_all_usd", fmt.usd,
           "Expected value minus what selling the whole fleet today would fetch: what relocating is expected to add "
           "(before the caution charge; the plan value minus selling is this less the charge)."),
    Metric("Caution charge", "risk_charge_usd", fmt.usd,
           "The charge for ban risk the plan value subtracts: caution about bans x chance of a ban within the "
           "horizon x resale value, per rig moved. A preference, not money: raising the caution raises it.",
           lower_is_better=True),
    Metric("Rigs moved", "rigs_relocated", fmt.rigs, "Rigs shipped to a new site."),
    Metric("Rigs sold now", "rigs_sold", fmt.rigs, "Rigs sold now at their second-hand price.", lower_is_better=True),
    Metric("Rigs stored", "rigs_idle", fmt.rigs, "Rigs stored and sold at the end of the horizon.",
           lower_is_better=True),
    Metric("Hashrate moved", "hashrate_relocated_ths", fmt.ehs, "Hashrate of the rigs moved (1 EH/s = 1,000,000 TH/s)."),
    Metric("Power used", "mw_relocated", fmt.mw, "MW drawn at the new sites, cooling overhead included."),
    Metric("Power price", "avg_power_usd_kwh", fmt.usd_per_kwh,
           "Average power price of the sites used (USD per kWh), weighted by MW.", lower_is_better=True),
    Metric("Hashrate banned", "expected_share_hashrate_banned", fmt.pct,
           "Expected share of the moved hashrate that a ban stops within the horizon.", lower_is_better=True),
    Metric("Any ban", "prob_any_ban", fmt.pct,
           "Chance that at least one state or country the plan uses bans mining within the horizon "
           "(each taken on its own; the Risk tab's sampled futures add how bans move together).", lower_is_better=True),
    Metric("Upfront spend", "upfront_usd", fmt.usd, "Freight, import duty and site opening costs, paid before any rig earns.",
           lower_is_better=True),
    Metric("Cash payback", "cash_payback_months", fmt.months,
           "Months until the moved rigs' expected, discounted earnings repay the upfront spend.",
           lower_is_better=True),
    Metric("Payback vs selling", "payback_vs_selling_months", fmt.months,
           "Months until the moved rigs' expected, discounted earnings repay the upfront spend plus the resale value "
           "given up by not selling them today (their value at the end of the horizon not counted).",
           lower_is_better=True),
]


def _delta(metric: Metric, now: Any, before: Any) -> str | None:
    if now is None or before is None or pd.isna(now) or pd.isna(before):
        return None
    d = float(now) - float(before)
    if abs(d) < 1e-9 * max(1.0, abs(float(before))) or metric.show(now) == metric.show(before):
        return None  # no change at the precision shown: no (red) "+0.0000"
    text = metric.show(abs(d)) if metric.field not in SHARES else f"{100 * abs(d):.1f} pts"
    return ("+" if d > 0 else "-") + text


def metrics(summary: dict[str, Any], baseline: dict[str, Any] | None = None, baseline_label: str = "") -> None:
    """The headline cards; deltas against the pinned baseline when there is one."""
    headline.cards(METRICS, summary, _delta, baseline, baseline_label)


def solve_caption(summary: dict[str, Any]) -> str:
    return headline.solve_line(summary)


# ---------------------------------------------------------------- tables


def allocation_table(res: optimizer.Result) -> None:
    c = st.column_config
    st.dataframe(res.allocation, hide_index=True, width="stretch", key="allocation_table", column_config={
        "action": c.TextColumn("what happens"), "origin": c.TextColumn("now at"), "model": c.TextColumn("rig model"),
        "site": c.TextColumn("goes to"), "jurisdiction": c.TextColumn("place"),
        "rigs": c.NumberColumn("rigs", format="%.1f"),
        "mw": c.NumberColumn("MW", format="%.3f"),
        "hashrate_ths": c.NumberColumn("hashrate (TH/s)", format="%.0f"),
        "value_usd": c.NumberColumn("value (USD)", format="dollar", help="rigs x that action's value per rig"),
    })


def sites_frame(res: optimizer.Result) -> pd.DataFrame:
    """res.sites with the shadow and entry prices spelled out for people."""
    df = res.sites.copy()

    def shadow_text(row: pd.Series) -> str:
        v = row["shadow_usd_per_mw"]
        if pd.isna(v):
            return "not computed for whole-rig plans" if row["mw_used"] > 0 else ""
        if row["mw_used"] <= 1e-6:
            return ""
        return f"one more MW here is worth {fmt.usd(v)}" if v > 0 else "not binding"

    def entry_text(v: float) -> str:
        if pd.isna(v):
            return ""
        return "never, even with free power" if v < 0 else f"below ${v:.4f}/kWh"

    df["capacity_value"] = df.apply(shadow_text, axis=1)
    df["would_enter_at_power"] = df["entry_power_usd_kwh"].map(entry_text)
    return df


def sites_table(res: optimizer.Result) -> None:
    c = st.column_config
    df = sites_frame(res)
    st.dataframe(df, hide_index=True, width="stretch", key="sites_table", column_order=[
        "site", "jurisdiction", "capacity_mw", "mw_used", "utilization", "rigs", "hashrate_ths", "capacity_value",
        "shadow_usd_per_mw", "would_enter_at_power", "entry_power_usd_kwh"],
        column_config={
            "capacity_mw": c.NumberColumn("capacity (MW)", format="%.2f"),
            "mw_used": c.NumberColumn("MW used", format="%.2f"),
            "utilization": c.ProgressColumn("utilisation", min_value=0.0, max_value=1.0, format="percent"),
            "rigs": c.NumberColumn("rigs", format="%.0f"),
            "hashrate_ths": c.NumberColumn("TH/s", format="%.0f"),
            "site": c.TextColumn("site"), "jurisdiction": c.TextColumn("place"),
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
        })


def jurisdictions_table(res: optimizer.Result) -> None:
    c = st.column_config
    st.dataframe(res.jurisdictions, hide_index=True, width="stretch", key="jurisdictions_table", column_config={
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


# ---------------------------------------------------------------- sensitivity

SENS_RUN, SENS_AUTO = "sens_run", "sens_auto"


def btc_grid(current: float) -> list[float]:
    lo = max(1000.0, 0.2 * current)
    return sorted(set(np.round(np.linspace(lo, max(2.5 * current, lo + 1000), 16), 0).tolist()) | {float(current)})


def power_grid(current: float) -> list[float]:
    return sorted(set(np.round(np.linspace(0.25, 2.5, 10), 3).tolist()) | {float(current)})


def sensitivity(scn: optimizer.Scenario, fp: str) -> None:
    st.markdown("How the plan value responds to each driver, every other setting as it is now. Each point is "
                "the best plan for the moved value (a full re-solve).")
    c1, c2 = st.columns([1, 3])
    c1.button("Compute sensitivity", key=SENS_RUN, type="primary")
    c2.toggle("Keep it up to date after every change (slower)", key=SENS_AUTO)
    if st.session_state.get(SENS_RUN) or st.session_state.get(SENS_AUTO):
        n = len(btc_grid(scn.settings.market.btc_price_usd)) + len(power_grid(scn.settings.policy.power_price_multiplier))
        with st.spinner(f"Solving {n + 12} plans and searching for the sell-everything price..."):
            tornado.cached(fp, scn)
            btc = compute.sweep(scn, "market.btc_price_usd", btc_grid(scn.settings.market.btc_price_usd), fp)
            power = compute.sweep(scn, "policy.power_price_multiplier",
                                  power_grid(scn.settings.policy.power_price_multiplier), fp)
            fixed_hp = scn.settings.market.hashprice_usd_th_day is not None
            breakeven = None if fixed_hp else compute.breakeven_btc_price(scn, fp=fp)
        st.session_state["sens_last"] = {"fp": fp, "btc": btc, "power": power, "breakeven": breakeven,
                                         "fixed_hp": fixed_hp}
    last = st.session_state.get("sens_last")
    if not last:
        st.info("Press **Compute sensitivity** for the plan value over every driver and two detailed sweeps "
                "(about 50 solves, a few seconds).")
        return
    if last["fp"] != fp:
        st.warning("These charts are for earlier settings. Press **Compute sensitivity** to refresh them.")
    else:
        tornado.show(scn, fp)
    left, right = st.columns(2)
    with left:
        st.altair_chart(_sweep_chart(last["btc"], "BTC price (USD)", "$,.0f", last["breakeven"]), width="stretch",
                        key="sens_btc_chart")
        if last["fixed_hp"]:
            st.caption("Hashprice is fixed in the settings, so the BTC price does not move the plan.")
        elif last["breakeven"] is None:
            st.caption("Relocation does not pay at any BTC price up to 64 times today's.")
        else:
            st.markdown(f"Below **BTC ${last['breakeven']:,.0f}** the plan relocates nothing "
                        f"(it {'sells' if scn.settings.policy.allow_sell else 'stores'} the whole fleet). "
                        f"Today: ${last['btc'].current_value:,.0f}.")
    with right:
        st.altair_chart(_sweep_chart(last["power"], "power prices (x the tables)", ".2f", None), width="stretch",
                        key="sens_power_chart")
    with st.expander("Sweep data"):
        st.dataframe(pd.concat([last["btc"].frame.assign(axis="btc_price_usd"),
                                last["power"].frame.assign(axis="power_price_multiplier")]),
                     hide_index=True, key="sens_data")


def _sweep_chart(sw: compute.Sweep, title: str, axis_format: str, breakeven: float | None) -> alt.LayerChart:
    df = sw.frame.assign(value_musd=sw.frame["objective_usd"] / 1e6)
    x = alt.X("value:Q", title=title, axis=alt.Axis(format=axis_format), scale=alt.Scale(zero=False))
    y = alt.Y("value_musd:Q", title="plan value (USD million)")
    tip = [alt.Tooltip("value:Q", title=title, format=axis_format),
           alt.Tooltip("value_musd:Q", title="plan value ($M)", format=",.2f"),
           alt.Tooltip("rigs_relocated:Q", title="rigs relocated", format=",.0f"),
           alt.Tooltip("rigs_sold:Q", title="rigs sold", format=",.0f")]
    line = alt.Chart(df).mark_line(point=True).encode(x=x, y=y, tooltip=tip)
    now = df[np.isclose(df["value"], sw.current_value)]
    layers = [line, alt.Chart(now).mark_point(size=160, filled=True, color="#d62728").encode(x=x, y=y, tooltip=tip)]
    if breakeven is not None:
        rule = pd.DataFrame({"value": [breakeven], "label": [f"relocates nothing below ${breakeven:,.0f}"]})
        layers.append(alt.Chart(rule).mark_rule(strokeDash=[6, 4], color="#555").encode(x="value:Q"))
        layers.append(alt.Chart(rule).mark_text(align="left", dx=4, dy=-6, color="#555").encode(
            x="value:Q", y=alt.value(12), text="label:N"))
    return alt.layer(*layers).properties(height=320)


# ---------------------------------------------------------------- explain


def explain(scn: optimizer.Scenario, res: optimizer.Result, fp: str | None = None) -> None:
    """Where the plan value comes from, and the per-rig economics of any (origin, model, site).
    ``fp``: the scenario's fingerprint when the caller has it (a rerun then reuses the breakdown)."""
    fp = fp or compute.fingerprint(scn)
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
    _valid("explain_origin", origins, first["origin"] if first is not None else origins[0])
    c1, c2, c3 = st.columns(3)
    origin = c1.selectbox("Origin", origins, key="explain_origin")
    models = sorted(groups.loc[groups["origin"] == origin, "model"].unique())
    _valid("explain_model", models, first["model"] if first is not None and first["origin"] == origin else models[0])
    model = c2.selectbox("Rig model", models, key="explain_model")
    sites = scn.sites["site"].tolist()
    _valid("explain_site", sites, first["site"] if first is not None else sites[0])
    site = c3.selectbox("Site", sites, key="explain_site")
    b = compute.per_session("explain", (fp, origin, model, site), lambda: optimizer.breakdown(scn, origin, model, site), 4)
    rows = [
        ("revenue (discounted; counts only months after arrival and before a ban)", b["revenue_pv_usd"]),
        ("- power", b["power_pv_usd"]), ("- hosting", b["hosting_pv_usd"]),
        ("= operating value", b["ops_usd"]), ("+ resale value left at the end", b["terminal_usd"]),
        (f"- freight ({'quoted' if b['freight_source'] == 'lanes.csv' else 'estimated from distance'}, "
         f"{b['distance_km']:,.0f} km, hashing after {b['lead_days']:.0f} days)", b["freight_usd"]),
        ("- import duty", b["duty_usd"]),
        (f"- risk charge (ban chance {100 * b['ban_probability']:.1f}% within the horizon)", b["risk_penalty_usd"]),
        ("= value of relocating one rig", b["value_relocate_usd"]),
        ("value of selling it now", b["value_sell_usd"]), ("value of storing it", b["value_idle_usd"]),
    ]
    table = pd.DataFrame(rows, columns=["term", "usd_per_rig"])
    st.dataframe(table, hide_index=True, key="explain_terms",
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
        st.warning(trust.md_escape(f"Rigs cannot go to {site}: {why_not}.") + " The terms below show what it would be worth.",
                   icon=":material/block:")
    here = alloc[(alloc["origin"] == origin) & (alloc["model"] == model)]
    st.caption(f"Hashprice today {fmt.hashprice(b['hashprice_usd_th_day'])}. Taken alone, the best use of this rig is "
               f"**{best[1]}**. The plan itself: " + (", ".join(
                   f"{r.rigs:,.0f} {r.action}" + (f" to {trust.md_escape(r.site)}" if r.action == "relocate" else "")
                   for r in here.itertuples()) or "none") +
               " (capacity, the limit per regulator and the budget are shared, so rigs compete for the best sites).")


def _valid(key: str, options: list[str], default: str) -> None:
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


# ---------------------------------------------------------------- compare

PINS = "pins"
BASELINE = "compare_baseline"


def flat_settings(settings: optimizer.Settings) -> dict[str, Any]:
    return {key: get_value(settings, key) for key in optimizer.ALL_KEYS}


def make_pin(label: str, source: str, scn: optimizer.Scenario, res: optimizer.Result, fp: str) -> dict[str, Any]:
    return {"label": label, "source": source, "fp": fp, "summary": dict(res.summary),
            "allocation": res.allocation.copy(), "sites": res.sites.copy(), "settings": flat_settings(scn.settings)}


def baseline_pin() -> dict[str, Any] | None:
    pins = st.session_state.get(PINS) or []
    if not pins:
        return None
    idx = st.session_state.get(BASELINE, 0)
    return pins[idx] if isinstance(idx, int) and 0 <= idx < len(pins) else pins[0]


def _remove_baseline() -> None:
    pins = st.session_state.get(PINS) or []
    idx = st.session_state.get(BASELINE, 0)
    if isinstance(idx, int) and 0 <= idx < len(pins):
        pins.pop(idx)
    st.session_state[BASELINE] = 0


def _clear_pins() -> None:
    st.session_state[PINS] = []
    st.session_state[BASELINE] = 0


def compare(scn: optimizer.Scenario, res: optimizer.Result, source: str, fp: str) -> None:
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
    c2.button("Remove this pin", key="pin_remove", on_click=_remove_baseline)
    c3.button("Clear all pins", key="pin_clear", on_click=_clear_pins)
    base = pins[st.session_state[BASELINE]]

    table = {"metric": [m.label for m in METRICS]}
    for p in pins:
        table[p["label"]] = [m.text(p["summary"]) for m in METRICS]
    table["current"] = [m.text(res.summary) for m in METRICS]
    table["current vs baseline"] = [_delta(m, res.summary.get(m.field), base["summary"].get(m.field)) or "same"
                                    for m in METRICS]
    st.markdown("**Headline numbers**")
    st.dataframe(trust.safe_frame(pd.DataFrame(table)).rename(columns=trust.safe_text_cell), hide_index=True,
                 width="stretch", key="compare_metrics")  # pin names head columns: neutralised like any user text

    now = flat_settings(scn.settings)
    diff = [{"setting": setting_label(k), "baseline": _show(base["settings"].get(k)), "current": _show(v)}
            for k, v in now.items() if base["settings"].get(k) != v]
    st.markdown("**Settings that differ**" + ("" if base["source"] == source else
                                               f" (baseline is from scenario '{trust.md_escape(base['source'])}')"))
    if diff:
        st.dataframe(trust.safe_frame(pd.DataFrame(diff)), hide_index=True, key="compare_settings")
    else:
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


def _show(v: Any) -> str:
    if isinstance(v, tuple):
        return ", ".join(v) or "(none)"
    return "none" if v is None else str(v)


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


# ---------------------------------------------------------------- export


def scenario_stem(name: str) -> str:
    """A scenario's name without what our own export adds ("-scenario", a browser's " (1)"), so it cannot grow."""
    stem = re.sub(r"\s*\(\d+\)$", "", name.strip())
    while re.search(r"-scenario$", stem):
        stem = stem[: -len("-scenario")]
    return stem or "scenario"


def scenario_zip_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", scenario_stem(name)).strip("-") + "-scenario.zip"


def export(scn: optimizer.Scenario, res: optimizer.Result | None, stale: bool) -> None:
    st.markdown("The plan's files, byte for byte as `python -m optimizer solve` writes them:")
    files = compute.plan_files(scn, res) if res is not None else {}
    cols = st.columns(4)
    for col, (name, mime) in zip(cols, [("allocation.csv", "text/csv"), ("sites.csv", "text/csv"),
                                        ("jurisdictions.csv", "text/csv"), ("summary.json", "application/json")]):
        col.download_button(name, files.get(name, ""), file_name=name, mime=mime, key=f"dl_{name}",
                            disabled=res is None or stale, on_click="ignore", icon=":material/download:")
    if stale:
        st.caption("The current settings have no plan; the plan files are disabled until they do.")
    st.markdown("The whole scenario as it stands here - your table edits and every what-if value in "
                "`scenario.toml` - as a zip that the app (upload it) and the CLI load back to this same plan:")
    zip_name = scenario_zip_name(scn.name)
    st.download_button("scenario.zip", compute.scenario_zip(scn), file_name=zip_name, mime="application/zip",
                       key="dl_scenario_zip", on_click="ignore", icon=":material/folder_zip:")
    st.code(f"unzip {zip_name} -d my-scenario && python -m optimizer solve my-scenario --out out/", language="bash")
