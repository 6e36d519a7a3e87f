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
from optimizer.inputs.settings import SETTINGS, get_value

from optimizer.inputs import provenance
from optimizer.inputs.labels import setting_help, setting_label
from optimizer.results import fmt


@dataclass(frozen=True)
class Slider:
    key: str  # the scenario.toml key, "section.name"; label and help: optimizer.inputs.labels (from SETTINGS)
    lo: float
    hi: float
    step: float
    scale: float = 1.0  # widget value = setting * scale (100 for percentages)
    fmt: str = "%.2f"
    integer: bool = False
    typed: bool = False  # a number box (any value, typed or stepped) instead of a slider

    @property
    def label(self) -> str:
        return setting_label(self.key)

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
    # Typed, not a slider: a slider's step would snap the scenario's own 31,338 to 31,500.
    Slider("market.btc_price_usd", 1.0, 10_000_000.0, 500.0, fmt="%.0f", typed=True),
    Slider("market.network_hashrate_ehs", 10.0, 1000.0, 1.0, fmt="%.1f EH/s"),
    Slider("market.pool_fee", 0.0, 10.0, 0.1, scale=100, fmt="%.1f%%"),
]
# The hashprice outlook (SPEC section 6): one trend, or BTC price and network hashrate moving apart.
TREND = Slider("market.hashprice_monthly_change", -15.0, 10.0, 0.5, scale=100, fmt="%.1f%%")
DRIFTS = [
    Slider("market.btc_price_monthly_change", -15.0, 15.0, 0.5, scale=100, fmt="%.1f%%"),
    Slider("market.network_hashrate_monthly_change", -15.0, 15.0, 0.5, scale=100, fmt="%.1f%%"),
]
DRIFTS_ON = "ctl_market_drifts_on"
HORIZON = [
    Slider("horizon.months", 1, 60, 1, fmt="%d months", integer=True),
    Slider("horizon.discount_rate", 0.0, 50.0, 0.5, scale=100, fmt="%.1f%%"),
]
POLICY = [
    Slider("policy.risk_aversion", 0.0, 5.0, 0.1, fmt="%.1f"),
    Slider("policy.max_jurisdiction_share", 5.0, 100.0, 1.0, scale=100, fmt="%.0f%%"),
    Slider("policy.power_price_multiplier", 0.25, 3.0, 0.05, fmt="x%.2f"),
]
ADVANCED = [
    Slider("horizon.salvage_fraction", 0.0, 100.0, 1.0, scale=100, fmt="%.0f%%"),
]
SLIDERS = MARKET + [TREND] + DRIFTS + HORIZON + POLICY + ADVANCED
TOGGLES = ["policy.allow_sell", "policy.allow_idle", "policy.integer_rigs"]  # labels and help: optimizer.inputs.labels
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
    out: dict[str, Any] = {s.widget_key: s.to_widget(get_value(settings, s.key) or 0.0) for s in SLIDERS}
    out[DRIFTS_ON] = any(get_value(settings, s.key) is not None for s in DRIFTS)
    for key in TOGGLES:
        out[widget_key(key)] = bool(get_value(settings, key))
    budget = settings.policy.budget_usd
    out[BUDGET_ON] = budget is not None
    out[BUDGET_MUSD] = float(budget) / 1e6 if budget is not None else 5.0
    hp = settings.market.hashprice_usd_th_day
    out[HASHPRICE_ON] = hp is not None
    out[HASHPRICE] = float(hp) if hp is not None else 0.10
    out[EXCLUDE] = list(settings.policy.exclude_jurisdictions)
    out[SOLVER] = settings.solver.name
    out[widget_key("monthly.enabled")] = bool(settings.monthly.enabled)  # the plan switch (ui.monthly_view)
    return out


def apply_defaults(settings: optimizer.Settings) -> None:
    """Set every control to the scenario's own value (before the widgets are drawn)."""
    for key, value in defaults(settings).items():
        st.session_state[key] = value


def control_state() -> dict[str, Any]:
    return {k: st.session_state[k] for k in st.session_state if isinstance(k, str) and k.startswith("ctl_")}


LAST_NUMBER = "_last_number_"  # + a typed box's widget key: the last number it held


def _keep_last_number(key: str) -> None:
    """A typed number box left empty (cleared, or letters typed) takes back its last number."""
    ss = st.session_state
    if ss.get(key) is None and ss.get(LAST_NUMBER + key) is not None:
        ss[key] = ss[LAST_NUMBER + key]


def _drifts_from_trend() -> None:
    """On ticking the drifts: start them where the trend was, so ticking alone does not change the outlook.

    With the BTC price flat, hp_t falls by the network's growth: (1 + g) = 1 / (1 + gh), gh = 1/(1 + g) - 1.
    """
    ss = st.session_state
    if not ss.get(DRIFTS_ON):
        return
    g = float(ss.get(TREND.widget_key, 0.0)) / TREND.scale
    ss[DRIFTS[0].widget_key] = 0.0
    # not rounded to the 0.1% shown: 5.3% instead of 5.263% moved china-2021's plan by $0.35M (issue 24)
    ss[DRIFTS[1].widget_key] = round((1 / (1 + g) - 1) * DRIFTS[1].scale, 9)


def _help(key: str, settings: optimizer.Settings, notes: dict[str, str] | None) -> str:
    """The control's help, and where the scenario's own value comes from when the scenario records it."""
    text = setting_help(key)
    if notes is None:
        return text
    value = fmt.setting_text(key, get_value(settings, key))
    return text + f"\n\nThe scenario's value ({value}). " + provenance.in_words(notes.get(key))


def render(settings: optimizer.Settings, jurisdictions: list[str], market_path: bool = False,
           notes: dict[str, str] | None = None) -> dict[str, Any]:
    """Draw the controls in the current container; return the overrides they stand for.

    ``market_path``: the scenario's hashprice comes month by month from its market.csv, so the
    hashprice-outlook controls (trend, BTC and network drifts) are not offered (SPEC section 6).
    ``notes``: ``optimizer.inputs.provenance.toml_notes`` of the scenario's scenario.toml (None: not known),
    shown in each control's help as sourced or ESTIMATE.
    """
    overrides: dict[str, Any] = {}
    base = defaults(settings)

    def slider(s: Slider) -> None:
        lo, hi = _bounds(s, get_value(settings, s.key) or 0.0)
        if s.widget_key not in st.session_state:
            st.session_state[s.widget_key] = base[s.widget_key]
        current = st.session_state[s.widget_key]
        lo, hi = min(lo, current), max(hi, current)
        step = int(s.step) if s.integer else float(s.step)
        if s.typed:
            # value=None lets the box be cleared (a non-empty box would snap to its minimum, $1, and re-solve):
            # a cleared box or one holding no number goes back to the last value it had (_keep_last_number).
            st.session_state[LAST_NUMBER + s.widget_key] = current
            v = st.number_input(s.label, min_value=lo, max_value=hi, value=None, step=step, format=s.fmt,
                                help=_help(s.key, settings, notes), key=s.widget_key, on_change=_keep_last_number,
                                args=(s.widget_key,), placeholder="type a number")
            overrides[s.key] = s.to_setting(current if v is None else v)
            return
        v = st.slider(s.label, min_value=lo, max_value=hi, step=step, format=s.fmt, help=_help(s.key, settings, notes),
                      key=s.widget_key)
        overrides[s.key] = s.to_setting(v)

    def toggle(key: str) -> None:
        wk = widget_key(key)
        if wk not in st.session_state:
            st.session_state[wk] = base[wk]
        overrides[key] = bool(st.toggle(setting_label(key), help=setting_help(key), key=wk))

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

    if market_path:
        st.caption("Hashprice: month by month from the scenario's market.csv (the outlook controls do not apply).")
    else:
        ensure(DRIFTS_ON)
        drifts = st.checkbox("Move BTC price and network hashrate separately", key=DRIFTS_ON, on_change=_drifts_from_trend,
                             help="Instead of one hashprice trend: the BTC price and the network hashrate each change "
                                  "by their own % a month, and the block subsidy halves on schedule while fees do not. "
                                  "Ticking it starts from today's trend: the network hashrate grows by as much as the "
                                  "hashprice trend takes off, the BTC price stays flat.")
        if drifts:
            for d in DRIFTS:
                slider(d)
            # the single trend and a fixed hashprice do not go with drifts: back to their defaults (absent)
            overrides[TREND.key] = SETTINGS[TREND.key].default
            overrides["market.hashprice_usd_th_day"] = None
        else:
            slider(TREND)
            for d in DRIFTS:
                overrides[d.key] = None
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
    for key in TOGGLES:
        toggle(key)
    ensure(EXCLUDE)
    options = sorted(set(jurisdictions) | set(st.session_state[EXCLUDE]))
    excluded = st.multiselect(setting_label("policy.exclude_jurisdictions"), options, key=EXCLUDE,
                              help=setting_help("policy.exclude_jurisdictions"))
    overrides["policy.exclude_jurisdictions"] = list(excluded)

    with st.expander("Advanced", expanded=False):
        for s in ADVANCED:
            slider(s)
        ensure(SOLVER)
        overrides["solver.name"] = st.selectbox(setting_label("solver.name"), ["highs", "cbc"], key=SOLVER,
                                                format_func={"highs": "HiGHS (faster, default)", "cbc": "CBC"}.get,
                                                help=setting_help("solver.name"))
    return overrides
