"""What the page shows above the tabs (headline metrics), pinned plans, and the names of exported scenarios.

Each tab's own view lives in ``ui.tabs``."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd
import streamlit as st

import optimizer
from optimizer.inputs.settings import get_value
from optimizer.results import fmt

from . import headline
from .session import BASELINE, PINS  # noqa: F401 - ui.workspace reads them as views.PINS


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
        if self.field not in summary:  # a figure this kind of plan does not have (the monthly plan's paybacks)
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
    Metric("Rigs sold", "rigs_sold", fmt.rigs, "Rigs sold at their second-hand price: now, in the one-decision "
           "plan; in the month the Schedule tab shows, in the month-by-month plan.", lower_is_better=True),
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


def delta(metric: Metric, now: Any, before: Any) -> str | None:
    if now is None or before is None or pd.isna(now) or pd.isna(before):
        return None
    d = float(now) - float(before)
    if abs(d) < 1e-9 * max(1.0, abs(float(before))) or metric.show(now) == metric.show(before):
        return None  # no change at the precision shown: no (red) "+0.0000"
    text = metric.show(abs(d)) if metric.field not in SHARES else f"{100 * abs(d):.1f} pts"
    return ("+" if d > 0 else "-") + text


def metrics(summary: dict[str, Any], baseline: dict[str, Any] | None = None, baseline_label: str = "") -> None:
    """The headline cards; deltas against the pinned baseline when there is one."""
    headline.cards(METRICS, summary, delta, baseline, baseline_label)


def solve_caption(summary: dict[str, Any]) -> str:
    return headline.solve_line(summary)


# ---------------------------------------------------------------- pins (the Compare tab shows them)


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


# ---------------------------------------------------------------- export


def scenario_stem(name: str) -> str:
    """A scenario's name without what our own export adds ("-scenario", a browser's " (1)"), so it cannot grow."""
    stem = re.sub(r"\s*\(\d+\)$", "", name.strip())
    while re.search(r"-scenario$", stem):
        stem = stem[: -len("-scenario")]
    return stem or "scenario"


def scenario_zip_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", scenario_stem(name)).strip("-") + "-scenario.zip"
