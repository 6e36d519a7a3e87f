"""The what-if controls: one widget per scenario.toml knob a planner moves.

Each control reads its starting value from the active scenario's settings and turns the
widget's value back into a ``{"section.key": value}`` override for ``Scenario.with_overrides``.
Widget keys are ``ctl_<section>_<name>``; percentages are shown as percent and passed as fractions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

import optimizer
from optimizer.settings import get_value


@dataclass(frozen=True)
class Slider:
    key: str  # the scenario.toml key, "section.name"
    label: str
    lo: float
    hi: float
    step: float
    scale: float = 1.0  # widget value = setting * scale (100 for percentages)
    fmt: str = "%.2f"
    help: str = ""
    integer: bool = False
    typed: bool = False  # a number box (any value, typed or stepped) instead of a slider

    @property
    def widget_key(self) -> str:
        return widget_key(self.key)

    def to_widget(self, value: float) -> float | int:
        v = value * self.scale
        return int(round(v)) if self.integer else round(float(v), 6)

    def to_setting(self, widget_value: float) -> float | int:
        return int(widget_value) if self.integer else round(float(widget_value) / self.scale, 10)


def widget_key(setting_key: str) -> str:
    return "ctl_" + setting_key.replace(".", "_")


MARKET = [
    Slider("market.btc_price_usd", "BTC price (USD)", 1.0, 10_000_000.0, 500.0, fmt="%.0f", typed=True,
           help="Type any price, or step by $500. Moves today's hashprice: 144 blocks a day x (subsidy + fees) "
                "x BTC price / network hashrate."),
    Slider("market.network_hashrate_ehs", "Network hashrate (EH/s)", 10.0, 1000.0, 1.0, fmt="%.1f EH/s",
           help="Total Bitcoin network hashrate today; more competition means less revenue per TH/s."),
    Slider("market.hashprice_monthly_change", "Hashprice change (% per month)", -15.0, 10.0, 0.5, scale=100, fmt="%.1f%%",
           help="g: hashprice multiplies by (1 + g) every month of the horizon."),
]
HORIZON = [
    Slider("horizon.months", "Horizon (months)", 1, 60, 1, fmt="%d months", integer=True,
           help="How long the plan runs; rigs are valued at their salvage value at the end."),
    Slider("horizon.discount_rate", "Discount rate (% per year)", 0.0, 50.0, 0.5, scale=100, fmt="%.1f%%",
           help="Annual rate used to discount future margins to today."),
]
POLICY = [
    Slider("policy.risk_aversion", "Caution about bans", 0.0, 5.0, 0.1, fmt="%.1f",
           help="Charge per rig = this number x the chance of a ban within the horizon x the rig's resale value. "
                "0 ignores bans; 1 counts a banned rig as lost."),
    Slider("policy.max_jurisdiction_share", "Most under one regulator (% of fleet hashrate)", 5.0, 100.0, 1.0,
           scale=100, fmt="%.0f%%", help="No single regulator may host more than this share of the fleet's hashrate."),
    Slider("policy.power_price_multiplier", "Power-price multiplier", 0.25, 3.0, 0.05, fmt="x%.2f",
           help="Scales every site's power price (1.0 = prices as in sites.csv)."),
]
ADVANCED = [
    Slider("horizon.salvage_fraction", "Salvage value at horizon (% of resale)", 0.0, 100.0, 1.0, scale=100, fmt="%.0f%%",
           help="Share of today's resale value a rig still fetches at the end of the horizon."),
]
SLIDERS = MARKET + HORIZON + POLICY + ADVANCED
TOGGLES = [
    ("policy.allow_sell", "Allow selling rigs now", "Sell at today's resale price instead of relocating."),
    ("policy.allow_idle", "Allow storing rigs", "Store a rig and sell it at its salvage value at the horizon."),
    ("policy.integer_rigs", "Whole rigs only", "Plan in whole rigs: slower, and no 'value of one more MW' figures."),
]
BUDGET_ON, BUDGET_MUSD = "ctl_policy_budget_on", "ctl_policy_budget_musd"
HASHPRICE_ON, HASHPRICE = "ctl_market_hashprice_fixed", "ctl_market_hashprice_usd_th_day"
EXCLUDE = widget_key("policy.exclude_jurisdictions")
SOLVER = widget_key("solver.name")


def _bounds(s: Slider, value: float) -> tuple[Any, Any]:
    lo, hi = s.lo, s.hi
    v = s.to_widget(value)
    lo, hi = min(lo, v), max(hi, v)
    if s.integer:
        return int(lo), int(hi)
    return float(lo), float(hi)


def defaults(settings: optimizer.Settings) -> dict[str, Any]:
    """Widget values that reproduce ``settings`` exactly."""
    out: dict[str, Any] = {s.widget_key: s.to_widget(get_value(settings, s.key)) for s in SLIDERS}
    for key, _, _ in TOGGLES:
        out[widget_key(key)] = bool(get_value(settings, key))
    budget = settings.policy.budget_usd
    out[BUDGET_ON] = budget is not None
    out[BUDGET_MUSD] = float(budget) / 1e6 if budget is not None else 5.0
    hp = settings.market.hashprice_usd_th_day
    out[HASHPRICE_ON] = hp is not None
    out[HASHPRICE] = float(hp) if hp is not None else 0.10
    out[EXCLUDE] = list(settings.policy.exclude_jurisdictions)
    out[SOLVER] = settings.solver.name
    return out


def apply_defaults(settings: optimizer.Settings) -> None:
    """Set every control to the scenario's own value (before the widgets are drawn)."""
    for key, value in defaults(settings).items():
        st.session_state[key] = value


def control_state() -> dict[str, Any]:
    return {k: st.session_state[k] for k in st.session_state if isinstance(k, str) and k.startswith("ctl_")}


def render(settings: optimizer.Settings, jurisdictions: list[str]) -> dict[str, Any]:
    """Draw the controls in the current container; return the overrides they stand for."""
    overrides: dict[str, Any] = {}
    base = defaults(settings)

    def slider(s: Slider) -> None:
        lo, hi = _bounds(s, get_value(settings, s.key))
        if s.widget_key not in st.session_state:
            st.session_state[s.widget_key] = base[s.widget_key]
        current = st.session_state[s.widget_key]
        lo, hi = min(lo, current), max(hi, current)
        step = int(s.step) if s.integer else float(s.step)
        if s.typed:
            v = st.number_input(s.label, min_value=lo, max_value=hi, step=step, format=s.fmt, help=s.help,
                                key=s.widget_key)
            overrides[s.key] = s.to_setting(v)
            return
        v = st.slider(s.label, min_value=lo, max_value=hi, step=step, format=s.fmt, help=s.help, key=s.widget_key)
        overrides[s.key] = s.to_setting(v)

    def toggle(key: str, label: str, help_text: str) -> None:
        wk = widget_key(key)
        if wk not in st.session_state:
            st.session_state[wk] = base[wk]
        overrides[key] = bool(st.toggle(label, help=help_text, key=wk))

    def ensure(key: str) -> None:
        if key not in st.session_state:
            st.session_state[key] = base[key]

    st.markdown("**Market**")
    for s in MARKET:
        slider(s)
    def optional_number(on_key: str, on_label: str, on_help: str, key: str, label: str, step: float, fmt: str) -> float | None:
        """A tick box that switches a number input on; the number, or None when it is off."""
        ensure(on_key)
        ensure(key)
        if st.checkbox(on_label, key=on_key, help=on_help):
            return float(st.number_input(label, min_value=0.0, step=step, format=fmt, key=key))
        return None

    overrides["market.hashprice_usd_th_day"] = optional_number(
        HASHPRICE_ON, "Fix today's hashprice instead of deriving it",
        "When fixed, BTC price and network hashrate no longer move the plan.",
        HASHPRICE, "Hashprice today (USD per TH/s per day)", 0.005, "%.4f")

    st.markdown("**Horizon**")
    for s in HORIZON:
        slider(s)

    st.markdown("**Policy**")
    for s in POLICY:
        slider(s)
    budget_musd = optional_number(
        BUDGET_ON, "Cap upfront spending", "Freight, import duty and site opening costs paid before any rig earns.",
        BUDGET_MUSD, "Upfront budget (USD million)", 0.25, "%.2f")
    overrides["policy.budget_usd"] = None if budget_musd is None else budget_musd * 1e6
    for key, label, help_text in TOGGLES:
        toggle(key, label, help_text)
    ensure(EXCLUDE)
    options = sorted(set(jurisdictions) | set(st.session_state[EXCLUDE]))
    excluded = st.multiselect("Excluded places", options, key=EXCLUDE,
                              help="No rig may go to a site in these jurisdictions.")
    overrides["policy.exclude_jurisdictions"] = list(excluded)

    with st.expander("Advanced", expanded=False):
        for s in ADVANCED:
            slider(s)
        ensure(SOLVER)
        overrides["solver.name"] = st.selectbox("Solver engine", ["highs", "cbc"], key=SOLVER,
                                                format_func={"highs": "HiGHS (faster, default)", "cbc": "CBC"}.get,
                                                help="Both find the same best plan; HiGHS is faster and reports "
                                                     "the value of one more MW at each site.")
    return overrides
