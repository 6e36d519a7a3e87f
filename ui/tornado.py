"""Sensitivity over every driver: the plan value with one driver moved down and up, the rest as now.

Each bar is two full re-solves (``optimizer.solve(details=False)``): the plan re-optimises
for the moved driver, so a bar shows what the best plan is worth, not what today's plan
would earn. Drivers that live in the tables (lead times, resale prices, ban risk) are
scaled in the tables and validated again by the engine.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

import optimizer

from . import fmt


@dataclass(frozen=True)
class Driver:
    name: str
    low_text: str
    high_text: str
    apply: Callable[[optimizer.Scenario, str], optimizer.Scenario]  # (scenario, "low" | "high") -> moved scenario


def _setting(key: str, low: Callable[[float], float], high: Callable[[float], float]):
    def apply(scn: optimizer.Scenario, side: str) -> optimizer.Scenario:
        section, name = key.split(".")
        now = float(getattr(getattr(scn.settings, section), name) or 0.0)
        return scn.with_overrides({key: (low if side == "low" else high)(now)})
    return apply


def _scale_table(table: str, column: str, low: float, high: float, cap: float | None = None,
                 settings: dict[str, float] | None = None):
    def apply(scn: optimizer.Scenario, side: str) -> optimizer.Scenario:
        f = low if side == "low" else high
        frame = getattr(scn, table).copy()
        if len(frame):
            values = frame[column].to_numpy(float) * f
            frame[column] = np.minimum(values, cap) if cap is not None else values
        moved = scn.with_tables(**{table: frame})
        if settings:
            moved = moved.with_overrides({k: float(getattr(getattr(scn.settings, k.split(".")[0]), k.split(".")[1])) * f
                                          for k in settings})
        return moved
    return apply


def drivers(scn: optimizer.Scenario) -> list[Driver]:
    """The drivers and how far each moves (a plausible range for a planning what-if)."""
    m = scn.settings.market
    drifts = getattr(m, "btc_price_monthly_change", None) is not None or \
        getattr(m, "network_hashrate_monthly_change", None) is not None
    out = []
    if m.hashprice_usd_th_day is None or drifts:
        out.append(Driver("BTC price", "-30%", "+30%",
                          _setting("market.btc_price_usd", lambda v: v * 0.7, lambda v: v * 1.3)))
    else:
        out.append(Driver("Hashprice today", "-30%", "+30%",
                          _setting("market.hashprice_usd_th_day", lambda v: v * 0.7, lambda v: v * 1.3)))
    out += [
        # Network hashrate growth: its own monthly rate when the scenario derives the hashprice month by
        # month, else the hashprice's monthly change (faster growth, faster decline).
        Driver("Hashrate growth", "2 pts/month slower", "2 pts/month faster",
               _setting("market.network_hashrate_monthly_change", lambda v: v - 0.02, lambda v: v + 0.02) if drifts
               else _setting("market.hashprice_monthly_change", lambda v: v + 0.02, lambda v: max(v - 0.02, -0.99))),
        Driver("Power prices", "-20%", "+20%",
               _setting("policy.power_price_multiplier", lambda v: v * 0.8, lambda v: v * 1.2)),
        Driver("Lead times", "half", "double",
               _scale_table("lanes", "lead_days", 0.5, 2.0,
                            settings={"logistics.lead_base_days": 1, "logistics.lead_days_per_1000km": 1})),
        Driver("Resale prices", "-30%", "+30%", _scale_table("rigs", "resale_usd", 0.7, 1.3)),
        Driver("Ban risk", "half", "double", _scale_table("sites", "reg_risk", 0.5, 2.0, cap=0.99)),
    ]
    return out


def _value(scn: optimizer.Scenario) -> float:
    try:
        return float(optimizer.solve(scn, details=False).summary["objective_usd"])
    except (optimizer.InfeasibleError, optimizer.SolverFailure, optimizer.ScenarioError):
        return float("nan")


def tornado(scn: optimizer.Scenario) -> pd.DataFrame:
    """One row per driver: driver, low_text, high_text, low_usd, high_usd, base_usd, swing_usd; widest first."""
    base = _value(scn)
    rows = []
    for d in drivers(scn):
        lo, hi = _value(d.apply(scn, "low")), _value(d.apply(scn, "high"))
        rows.append({"driver": d.name, "low_text": d.low_text, "high_text": d.high_text, "low_usd": lo,
                     "high_usd": hi, "base_usd": base, "swing_usd": abs(hi - lo)})
    return pd.DataFrame(rows).sort_values("swing_usd", ascending=False).reset_index(drop=True)


@st.cache_data(show_spinner=False, max_entries=32, ttl=3600)
def cached(fp: str, _scn: optimizer.Scenario) -> pd.DataFrame:
    return tornado(_scn)


def chart(df: pd.DataFrame) -> alt.LayerChart:
    base = float(df["base_usd"].iloc[0])
    long = pd.concat([
        df.assign(side="down", end=df["low_usd"], text=df["low_text"]),
        df.assign(side="up", end=df["high_usd"], text=df["high_text"]),
    ])
    long["start_m"] = base / 1e6
    long["end_m"] = long["end"] / 1e6
    long["label"] = long["driver"] + " " + long["text"]
    order = df["driver"].tolist()
    y = alt.Y("driver:N", sort=order, title=None, axis=alt.Axis(labelLimit=200, labelOverlap=False))
    bars = alt.Chart(long).mark_bar(height=16).encode(
        y=y, x=alt.X("start_m:Q", title="plan value (USD million)", scale=alt.Scale(zero=False)), x2="end_m:Q",
        color=alt.Color("side:N", title=None, scale=alt.Scale(domain=["down", "up"], range=["#1f4788", "#e8710a"]),
                        legend=alt.Legend(orient="bottom", labelExpr="datum.label == 'down' ? 'driver moved down' "
                                                                     ": 'driver moved up'")),
        tooltip=[alt.Tooltip("label:N", title="driver"), alt.Tooltip("end_m:Q", title="plan value ($M)", format=",.2f")])
    rule = alt.Chart(pd.DataFrame({"x": [base / 1e6]})).mark_rule(color="black").encode(x="x:Q")
    return alt.layer(bars, rule).properties(height=max(180, 38 * len(df)))


def show(scn: optimizer.Scenario, fp: str) -> None:
    df = cached(fp, scn)
    st.markdown(f"**What moves the plan value most** - each driver moved down (blue) and up (orange), "
                f"everything else as it is now; the black line is today's plan, {fmt.usd(df['base_usd'].iloc[0])}. "
                "Each end is the best plan for the moved driver.")
    st.altair_chart(chart(df), width="stretch", key="tornado_chart")
    table = df.assign(low=df["low_usd"].map(fmt.usd), high=df["high_usd"].map(fmt.usd))
    st.dataframe(table[["driver", "low_text", "low", "high_text", "high"]], hide_index=True, key="tornado_table",
                 column_config={"driver": "driver", "low_text": "moved down", "low": "plan value",
                                "high_text": "moved up", "high": "plan value "})
