"""What analysts ask of a plan beyond its totals: when it happens, and what each site costs and earns.

Timeline: each batch of moved rigs (origin -> site) ships at the start and starts hashing after
its door-to-door lead time (``optimizer.economics.freight``: quoted lanes, else the distance
formula); the hashrate online month by month; and the cumulative cash of the plan against
selling everything now.

Site economics: per MW of rigs at each site over the horizon, the present value of revenue
against power, hosting, freight, duty and the ban-risk charge, and each site's break-even
power price and hashprice (where moving a rig there is worth exactly what selling it brings).

All numbers come from the engine's own per-rig economics (``optimizer.economics``); nothing
here solves a model.
"""
from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

import optimizer
from optimizer import economics as E

from . import charts, compute, fmt

ZERO_RIGS = 1e-6


# ---------------------------------------------------------------- timeline


def batches(scn: optimizer.Scenario, res: optimizer.Result) -> pd.DataFrame:
    """One row per (origin, site) of moved rigs.

    Columns: origin, site, jurisdiction, rigs, hashrate_ths (batch total), lead_days,
    ship_day (0: the plan's start), hashing_day (= lead_days), distance_km, freight
    ("quoted" or "estimated from distance").
    """
    reloc = res.allocation[(res.allocation["action"] == "relocate") & (res.allocation["rigs"] > ZERO_RIGS)]
    cols = ["origin", "site", "jurisdiction", "rigs", "hashrate_ths", "lead_days", "ship_day", "hashing_day",
            "distance_km", "freight"]
    if reloc.empty:
        return pd.DataFrame(columns=cols)
    dist, _, lead = E.freight(scn)
    oi = pd.Index(scn.origins["origin"])
    si = pd.Index(scn.sites["site"])
    quoted = set(zip(scn.lanes["origin"], scn.lanes["site"])) if len(scn.lanes) else set()
    g = reloc.groupby(["origin", "site", "jurisdiction"], as_index=False).agg(rigs=("rigs", "sum"),
                                                                               hashrate_ths=("hashrate_ths", "sum"))
    o_idx, s_idx = oi.get_indexer(g["origin"]), si.get_indexer(g["site"])
    g["lead_days"] = lead[o_idx, s_idx]
    g["ship_day"] = 0.0
    g["hashing_day"] = g["lead_days"]
    g["distance_km"] = dist[o_idx, s_idx]
    g["freight"] = ["quoted" if (o, s) in quoted else "estimated from distance" for o, s in zip(g["origin"], g["site"])]
    return g[cols].sort_values(["hashing_day", "rigs"], ascending=[True, False]).reset_index(drop=True)


def _relocated_pairs(scn: optimizer.Scenario, res: optimizer.Result) -> pd.DataFrame:
    reloc = res.allocation[(res.allocation["action"] == "relocate") & (res.allocation["rigs"] > ZERO_RIGS)].copy()
    reloc["mi"] = pd.Index(scn.rigs["model"]).get_indexer(reloc["model"])
    reloc["si"] = pd.Index(scn.sites["site"]).get_indexer(reloc["site"])
    reloc["oi"] = pd.Index(scn.origins["origin"]).get_indexer(reloc["origin"])
    return reloc


def monthly(scn: optimizer.Scenario, res: optimizer.Result) -> pd.DataFrame:
    """Month by month (1..H): hashrate online (EH/s, expected: after arrival, uptime, not yet banned)
    and cumulative cash of the plan and of selling everything now (USD, discounted to today).

    The plan's cash: upfront freight, duty and site opening costs plus the sale of the rigs it
    sells, at month 0; each month the moved rigs' expected margin; at the end the resale value
    left in moved and stored rigs. It ends at the plan value plus the ban-risk charge, which the
    plan value subtracts but which is not a cash flow (column ``risk_charge_usd``).
    """
    st_ = scn.settings
    H = st_.horizon.months
    reloc = _relocated_pairs(scn, res)
    _, ship, lead = E.freight(scn)
    resale = scn.rigs["resale_usd"].to_numpy(float)
    online_ths = np.zeros(H)
    margin = np.zeros(H)
    upfront = terminal = risk_charge = 0.0
    if len(reloc):
        mi, si, oi = reloc["mi"].to_numpy(), reloc["si"].to_numpy(), reloc["oi"].to_numpy()
        n = reloc["rigs"].to_numpy(float)
        path = E.margin_path(scn, mi, si, lead[oi, si])
        margin = (path.weights() * path.margin() * n[:, None]).sum(axis=0)  # discounted, expected, USD
        uptime = scn.sites["uptime"].to_numpy(float)[si]
        hash_ths = scn.rigs["hashrate_ths"].to_numpy(float)[mi]
        online_ths = ((n * hash_ths * uptime)[:, None] * path.availability * path.survival).sum(axis=0)
        duty = scn.sites["import_duty"].to_numpy(float)[si] * resale[mi]
        upfront = float((n * (ship[oi, si] + duty)).sum())
        terminal = float((n * E.terminal_value(scn, resale[mi])).sum())
        risk_charge = float((n * st_.policy.risk_aversion * E.ban_probability(scn)[si] * resale[mi]).sum())
    alloc = res.allocation
    sold = float(alloc.loc[alloc["action"] == "sell", "value_usd"].sum())
    stored = float(alloc.loc[alloc["action"] == "idle", "value_usd"].sum())
    fixed = float(res.summary.get("fixed_costs_usd") or 0.0)
    start = sold - upfront - fixed
    cum = start + np.cumsum(margin)
    cum[-1] += terminal + stored
    return pd.DataFrame({
        "month": np.arange(1, H + 1),
        "hashrate_online_ehs": online_ths / 1e6,
        "margin_usd": margin,
        "plan_cum_usd": cum,
        "sell_now_usd": np.full(H, float(res.summary["sell_all_usd"])),
        "start_usd": np.full(H, start),
        "risk_charge_usd": np.full(H, risk_charge),
    })


def timeline(scn: optimizer.Scenario, res: optimizer.Result, fp: str | None = None) -> None:
    """The Timeline tab; ``fp`` (the plan's scenario fingerprint) lets a rerun reuse the tables and charts."""
    fp = fp or compute.fingerprint(scn)
    b, m = compute.per_session("timeline", fp, lambda: (batches(scn, res), monthly(scn, res)), 2)
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


# ---------------------------------------------------------------- per-site economics


@dataclass(frozen=True)
class SiteMix:
    """Which rigs a site's numbers are for: the plan's rigs there, else the whole fleet's mix."""

    weights: np.ndarray  # (G, S) rigs per group at each site (sums are the mix, not counts, for unused sites)
    used: np.ndarray  # (S,) bool


def _groups(scn: optimizer.Scenario) -> pd.DataFrame:
    return E.groups(scn)


def site_mix(scn: optimizer.Scenario, res: optimizer.Result) -> SiteMix:
    g = _groups(scn)
    S = len(scn.sites)
    w = np.zeros((len(g), S))
    reloc = _relocated_pairs(scn, res)
    key = {(o, m): k for k, (o, m) in enumerate(zip(g["origin"], g["model"]))}
    for r in reloc.itertuples():
        k = key.get((r.origin, r.model))
        if k is not None:
            w[k, r.si] += r.rigs
    used = w.sum(axis=0) > ZERO_RIGS
    fleet = g["count"].to_numpy(float)
    w[:, ~used] = fleet[:, None]
    return SiteMix(w, used)


def _pair_terms(scn: optimizer.Scenario) -> dict[str, np.ndarray]:
    """Per rig, every (group, site): the present-value terms of relocating it there, (G, S) arrays
    (revenue and power counted in the months the rig runs, as ``optimizer.breakdown`` does)."""
    g = _groups(scn)
    mi, oi = g["mi"].to_numpy(), g["oi"].to_numpy()
    S = len(scn.sites)
    _, ship, lead = E.freight(scn)
    resale = scn.rigs["resale_usd"].to_numpy(float)[mi]
    path = E.margin_path(scn, mi[:, None], np.arange(S)[None, :], lead[oi, :])
    w, running = path.weights(), path.running()
    rev = (w * np.where(running, path.revenue_usd, 0.0)).sum(axis=-1)
    terminal = E.terminal_value(scn, resale)
    return {
        "revenue": rev,
        "power": (w * np.where(running, path.power_usd, 0.0)).sum(axis=-1),
        "hosting": w.sum(axis=-1) * path.hosting_usd,
        "freight": ship[oi, :], "duty": scn.sites["import_duty"].to_numpy(float)[None, :] * resale[:, None],
        "risk charge": scn.settings.policy.risk_aversion * E.ban_probability(scn)[None, :] * resale[:, None],
        "resale left": np.broadcast_to(terminal[:, None], rev.shape),
        "sell now": np.broadcast_to(resale[:, None], rev.shape),
        "mw_per_rig": (scn.rigs["power_w"].to_numpy(float)[mi][:, None]
                       * scn.sites["pue"].to_numpy(float)[None, :] / 1e6),
    }


COST_TERMS = ["power", "hosting", "freight", "duty", "risk charge"]


def site_economics(scn: optimizer.Scenario, res: optimizer.Result) -> pd.DataFrame:
    """Per site, USD per MW of rigs over the horizon (present values), for the site's rig mix.

    Columns: site, jurisdiction, used, revenue, power, hosting, freight, duty, risk charge,
    resale left, sell now (what those rigs fetch if sold today), value (revenue - costs + resale
    left), all per MW; breakeven_power_usd_kwh and breakeven_hashprice (USD/TH/day).
    """
    mix = site_mix(scn, res)
    terms = _pair_terms(scn)
    w = mix.weights
    mw = (w * terms["mw_per_rig"]).sum(axis=0)
    mw = np.where(mw > 0, mw, np.nan)
    out = pd.DataFrame({"site": scn.sites["site"], "jurisdiction": scn.sites["jurisdiction"], "used": mix.used})
    for name in ["revenue"] + COST_TERMS + ["resale left", "sell now"]:
        out[name] = (w * terms[name]).sum(axis=0) / mw
    out["value"] = out["revenue"] - out[COST_TERMS].sum(axis=1) + out["resale left"]
    out["breakeven_power_usd_kwh"] = breakeven_power(scn, w) * scn.settings.policy.power_price_multiplier
    out["breakeven_hashprice"] = breakeven_hashprice(scn, w)
    return out


class _Curve:
    """Every (group, site) pair's value of relocating minus selling, as a function of the power
    price p (USD/kWh, before the multiplier) and a hashprice factor k (``MarginPath.ops(k)``)."""

    def __init__(self, scn: optimizer.Scenario, w: np.ndarray) -> None:
        g = _groups(scn)
        G, S = w.shape
        mi, oi = g["mi"].to_numpy(), g["oi"].to_numpy()
        _, _, lead = E.freight(scn)
        self.path = E.margin_path(scn, mi[:, None], np.arange(S)[None, :], lead[oi, :])
        self.unit = E.margin_path(scn, mi[:, None], np.arange(S)[None, :], lead[oi, :], power_usd_kwh=np.ones((G, S)))
        terms = _pair_terms(scn)
        self.fixed = terms["resale left"] - sum(terms[t] for t in ("freight", "duty", "risk charge")) - terms["sell now"]
        self.weights = w

    def advantage(self, price: np.ndarray | None = None, scale: np.ndarray | float = 1.0) -> np.ndarray:
        """(S,) rigs-weighted value of relocating minus selling now, at per-site price (S,) and scale (S,)."""
        G, S = self.weights.shape
        path = self.path if price is None else self.unit.at_power_price(np.broadcast_to(price, (G, S)))
        factor = np.broadcast_to(np.asarray(scale, float), (S,))[None, :, None]
        ops = path.ops(factor)
        return (self.weights * (ops + self.fixed)).sum(axis=0)


def breakeven_power(scn: optimizer.Scenario, w: np.ndarray, iterations: int = 40) -> np.ndarray:
    """(S,) the power price (USD/kWh, before the multiplier) at which moving the mix there is worth
    exactly what selling it brings; NaN where it is not worth it even with free power, or still
    worth it at 10 USD/kWh."""
    curve = _Curve(scn, w)
    S = w.shape[1]
    lo, hi = np.zeros(S), np.full(S, 10.0)
    ok_lo, ok_hi = curve.advantage(price=lo) >= 0, curve.advantage(price=hi) >= 0
    for _ in range(iterations):
        mid = (lo + hi) / 2
        good = curve.advantage(price=mid) >= 0
        lo, hi = np.where(good, mid, lo), np.where(good, hi, mid)
    return np.where(ok_lo & ~ok_hi, (lo + hi) / 2, np.nan)


def breakeven_hashprice(scn: optimizer.Scenario, w: np.ndarray, iterations: int = 40) -> np.ndarray:
    """(S,) today's hashprice (USD per TH/s per day) at which moving the mix there is worth exactly
    what selling it brings (the monthly change held as it is); NaN outside 0.01x-100x today's."""
    curve = _Curve(scn, w)
    S = w.shape[1]
    lo, hi = np.full(S, 0.01), np.full(S, 100.0)
    ok_lo, ok_hi = curve.advantage(scale=lo) >= 0, curve.advantage(scale=hi) >= 0
    for _ in range(iterations):
        mid = np.sqrt(lo * hi)
        good = curve.advantage(scale=mid) >= 0
        lo, hi = np.where(good, lo, mid), np.where(good, mid, hi)
    return np.where(~ok_lo & ok_hi, E.hashprice_today(scn) * np.sqrt(lo * hi), np.nan)


@st.cache_data(show_spinner=False, max_entries=32, ttl=3600)
def _site_economics(fp: str, _scn: optimizer.Scenario, _res: optimizer.Result) -> pd.DataFrame:
    return site_economics(_scn, _res)


def site_view(scn: optimizer.Scenario, res: optimizer.Result, fp: str) -> None:
    df = _site_economics(fp, scn, res)
    mult = scn.settings.policy.power_price_multiplier
    st.markdown("What one MW of rigs earns and costs at each site over the whole horizon (present values, USD "
                "thousand per MW), for the rigs the plan sends there (the whole fleet's mix at unused sites). "
                "The black tick is revenue; a site pays when revenue clears the costs by more than the rigs "
                "would fetch if sold now (grey tick, net of the resale value left at the end).")

    def chart() -> alt.LayerChart:
        order = df.sort_values("value", ascending=False)["site"].tolist()
        long = df.melt(id_vars=["site", "used"], value_vars=COST_TERMS, var_name="cost", value_name="usd_per_mw")
        long["k"] = long["usd_per_mw"] / 1e3
        ticks = df.assign(revenue_k=df["revenue"] / 1e3,
                          hurdle_k=(df[COST_TERMS].sum(axis=1) + df["sell now"] - df["resale left"]) / 1e3)
        height = max(240, 24 * len(df))
        y = alt.Y("site:N", sort=order, title=None, axis=alt.Axis(labelLimit=240, labelOverlap=False))
        stack = alt.Chart(long).mark_bar().encode(
            y=y, x=alt.X("k:Q", title="USD thousand per MW over the horizon", stack="zero"),
            color=alt.Color("cost:N", sort=COST_TERMS, title=None, legend=alt.Legend(orient="bottom", columns=5),
                            scale=alt.Scale(domain=COST_TERMS, range=["#1f4788", "#6b8fd6", "#e8710a", "#f2b27a", "#c0392b"])),
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
                f"(today {fmt.hashprice(E.hashprice_today(scn))}).")
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
