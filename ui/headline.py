"""The top of the page: the scenario in plain words, the decision in one line, the headline cards.

The cards sit in a wrapping row of fixed-width boxes, so they read whole at any width: about
eight to a row on a wide screen, five at 1366 px, two on a 390 px phone. Values are short
(``$119.19M``, ``1.79 EH/s``) and the labels fit a card.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import streamlit as st

import optimizer
from optimizer.results import fmt

from .trust import md_escape


CARD_WIDTH_PX = 172

CSS = """
<style>
/* headline cards: values that fit a card, smaller on a phone */
[data-testid="stMetricValue"] {font-size: 1.6rem; white-space: nowrap;}
[data-testid="stMetricLabel"] p {font-size: 0.85rem;}
@media (max-width: 640px) {
  [data-testid="stMetricValue"] {font-size: 1.25rem;}
  .block-container {padding-left: 0.8rem; padding-right: 0.8rem; padding-top: 2.5rem;}
  h3 {font-size: 1.25rem;}
}
/* the map's tooltip may reach past the map's edge instead of being cut off */
[data-testid="stDeckGlJsonChart"], [data-testid="stDeckGlJsonChart"] > div, [data-testid="stDeckGlJsonChart"] div {
  overflow: visible !important;}
.deck-tooltip {z-index: 1000 !important;}
/* the skip link: off screen until focused by the keyboard */
a.rs-skip {position: absolute; left: -10000px;}
a.rs-skip:focus {position: static; left: auto; display: inline-block; padding: 4px 8px; background: #fff3e6;}
</style>
"""


def style() -> None:
    """The page's few CSS rules (static text, no user data)."""
    st.html(CSS)


def _date(scn: optimizer.Scenario) -> str | None:
    """The plan's start ("July 2021") when the scenario gives one (horizon.start_month)."""
    value = getattr(scn.settings.horizon, "start_month", None)
    if not value:
        return None
    try:
        return datetime.strptime(str(value), "%Y-%m").strftime("%B %Y")
    except ValueError:
        return str(value)


def fleet_mw(scn: optimizer.Scenario) -> float:
    """MW the fleet draws at the wall (rigs x power_w), before any site's overhead."""
    f = scn.fleet.merge(scn.rigs[["model", "power_w", "hashrate_ths"]], on="model", how="left")
    return float((f["count"] * f["power_w"]).sum() / 1e6)


def scenario_sentence(scn: optimizer.Scenario) -> str:
    """The scenario in plain words: when, what fleet, where, and what capacity it can go to."""
    f = scn.fleet.merge(scn.rigs[["model", "power_w", "hashrate_ths"]], on="model", how="left")
    rigs = float(f["count"].sum())
    ths = float((f["count"] * f["hashrate_ths"]).sum())
    countries = sorted(scn.origins.loc[scn.origins["origin"].isin(set(f.loc[f["count"] > 0, "origin"])), "country"].unique())
    places = int(scn.fleet.loc[scn.fleet["count"] > 0, "origin"].nunique())
    m = scn.settings.market
    market = (f"hashprice fixed at {fmt.hashprice(m.hashprice_usd_th_day)}" if m.hashprice_usd_th_day is not None
              else f"BTC at ${m.btc_price_usd:,.0f}, network {m.network_hashrate_ehs:,.1f} EH/s")
    when = _date(scn)
    return ((f"**{when}**: " if when else "")
            + f"A fleet of **{rigs:,.0f} rigs** ({fmt.ehs(ths)}, {fleet_mw(scn):,.1f} MW at the wall) stands at "
            f"{places} place{'s' if places != 1 else ''} in {md_escape(', '.join(map(str, countries))) or 'no country'}. "
            f"**{len(scn.sites)} candidate sites** in {scn.sites['jurisdiction'].nunique()} states or countries offer "
            f"**{scn.sites['capacity_mw'].sum():,.1f} MW**. Market: {market}; "
            f"plan over {scn.settings.horizon.months} months.")


def decision_sentence(summary: dict[str, Any]) -> str:
    """The decision in one line: what relocating is expected to be worth against selling everything now,
    and what the caution about bans takes off (the plan value the optimiser maximises)."""
    expected, sell_all = summary["expected_value_usd"], summary["sell_all_usd"]
    moved, total = summary["rigs_relocated"], summary.get("rigs_total") or np.nan
    if moved < 0.5:
        return (f"**Relocating does not pay here**: the best plan is worth {fmt.usd(summary['objective_usd'])}, "
                f"against {fmt.usd(sell_all)} for selling everything now.")
    gain = expected - sell_all
    parts = [f"{'+' if gain >= 0 else '-'}{fmt.usd(abs(gain))}" + (f", {gain / sell_all:+.1%}" if sell_all > 0 else "")]
    charge = summary.get("risk_charge_usd") or 0.0
    if charge > 0:
        parts.append(f"after the caution charge for ban risk ({fmt.usd(charge)}) the plan value is "
                     f"{fmt.usd(summary['objective_usd'])}")
    payback = summary.get("payback_vs_selling_months")
    if payback is not None and not np.isnan(payback):
        parts.append(f"counting the resale given up, the move pays back in {payback:.1f} months")
    else:
        parts.append("counting the resale given up, the move does not pay back within the horizon before the rigs' "
                     "end value")
    return (f"**Relocating {fmt.rigs(moved)} of {fmt.rigs(total)} rigs is expected to be worth {fmt.usd(expected)}, "
            f"against {fmt.usd(sell_all)} for selling everything now** ({'; '.join(parts)}).")


def solve_line(summary: dict[str, Any]) -> str:
    """How the plan was found, without solver jargon."""
    proved = summary["status"] == "optimal"
    whole = summary["mode"] != "lp"
    return ((("The best plan" if proved else "The best plan found (not proven best)")
             + (" in whole rigs" if whole else ""))
            + f", computed in {fmt.seconds(summary['solve_seconds'])}. "
            f"Hashprice today {fmt.hashprice(summary['hashprice_usd_th_day'])}; {summary['sites_used']} sites used.")


def cards(metrics: list, summary: dict[str, Any], delta_of, baseline: dict[str, Any] | None, baseline_label: str) -> None:
    """The headline numbers as a wrapping row of fixed-width cards."""
    with st.container(horizontal=True, gap="small", key="headline_cards"):
        for m in metrics:
            delta = delta_of(m, summary.get(m.field), baseline.get(m.field)) if baseline else None
            st.metric(m.label, m.text(summary), delta=delta, delta_color="inverse" if m.lower_is_better else "normal",
                      help=m.help + (f" Change against the pinned plan '{md_escape(baseline_label)}'." if baseline else ""),
                      border=True, width=CARD_WIDTH_PX)
