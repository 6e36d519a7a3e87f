"""Sensitivity over every driver: the plan value with one driver moved down and up, the rest as now.

A driver is a way to move a scenario (``Driver.apply(scn, "low" | "high")``): settings through
``Scenario.with_overrides``, table columns scaled through ``Scenario.with_tables`` (validated
again by the inputs stage). ``tornado`` re-solves the moved scenarios with the ``solve`` it is
given (the engine comes after this stage), so a bar shows what the best plan is worth for the
moved driver, not what today's plan would earn.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from optimizer.inputs.errors import InfeasibleError, ScenarioError, SolverFailure
from optimizer.inputs.scenario import Scenario

SIDES = ("low", "high")


@dataclass(frozen=True)
class Driver:
    name: str  # as shown ("Power prices")
    low_text: str  # how far it moves down, in words ("-20%")
    high_text: str
    apply: Callable[[Scenario, str], Scenario]  # (scenario, "low" | "high") -> moved scenario


def _setting(key: str, low: Callable[[float], float], high: Callable[[float], float]):
    def apply(scn: Scenario, side: str) -> Scenario:
        section, name = key.split(".")
        now = float(getattr(getattr(scn.settings, section), name) or 0.0)
        return scn.with_overrides({key: (low if side == "low" else high)(now)})
    return apply


def _scale_table(table: str, column: str, low: float, high: float, cap: float | None = None,
                 settings: dict[str, float] | None = None):
    def apply(scn: Scenario, side: str) -> Scenario:
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


def drivers(scn: Scenario) -> list[Driver]:
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


def plan_value_usd(scn: Scenario, solve: Callable[[Scenario], Any]) -> float:
    """The best plan's value (summary objective_usd, USD) of ``scn`` by ``solve``; NaN when the scenario has
    no plan (infeasible, invalid, or the solver gave up)."""
    try:
        return float(solve(scn).summary["objective_usd"])
    except (InfeasibleError, SolverFailure, ScenarioError):
        return float("nan")


def tornado(scn: Scenario, solve: Callable[[Scenario], Any]) -> pd.DataFrame:
    """One row per driver, widest swing first: driver, low_text, high_text, low_usd, high_usd (the best
    plan's value with the driver moved down / up, USD), base_usd (today's), swing_usd = |high - low|.

    ``solve(scenario) -> Result`` re-solves (e.g. ``functools.partial(optimizer.solve, details=False)``):
    1 + 2 x len(drivers) solves.
    """
    base = plan_value_usd(scn, solve)
    rows = []
    for d in drivers(scn):
        lo, hi = (plan_value_usd(d.apply(scn, side), solve) for side in SIDES)
        rows.append({"driver": d.name, "low_text": d.low_text, "high_text": d.high_text, "low_usd": lo,
                     "high_usd": hi, "base_usd": base, "swing_usd": abs(hi - lo)})
    return pd.DataFrame(rows).sort_values("swing_usd", ascending=False).reset_index(drop=True)
