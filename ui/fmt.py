"""How the app prints numbers. Tests format the engine's values with these same functions."""
from __future__ import annotations

import math
from typing import Any


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def usd(value: float | None) -> str:
    """Money at planning scale: $118.22M, $5.59M, $12.3k, $950."""
    if _missing(value):
        return "n/a"
    v = float(value)
    sign = "-" if v < 0 else ""
    a = abs(v)
    if a >= 1e9:
        return f"{sign}${a / 1e9:,.3f}B"
    if a >= 1e6:
        return f"{sign}${a / 1e6:,.2f}M"
    if a >= 1e4:
        return f"{sign}${a / 1e3:,.1f}k"
    return f"{sign}${a:,.0f}"


def rigs(value: float | None) -> str:
    return "n/a" if _missing(value) else f"{float(value):,.0f}"


def ehs(hashrate_ths: float | None) -> str:
    """TH/s shown as EH/s (1 EH/s = 1e6 TH/s)."""
    return "n/a" if _missing(hashrate_ths) else f"{float(hashrate_ths) / 1e6:,.3f} EH/s"


def mw(value: float | None) -> str:
    return "n/a" if _missing(value) else f"{float(value):,.1f} MW"


def usd_kwh(value: float | None) -> str:
    return "n/a" if _missing(value) else f"{float(value):.4f}"


def usd_per_kwh(value: float | None) -> str:
    return "n/a" if _missing(value) else f"${float(value):.4f}/kWh"


def pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if _missing(value) else f"{100 * float(value):.{digits}f}%"


def months(value: float | None) -> str:
    """Payback: None means the upfront spend is never repaid within the horizon."""
    return "never" if _missing(value) else f"{float(value):.1f} months"


def hashprice(value: float | None) -> str:
    return "n/a" if _missing(value) else f"${float(value):.4f}/TH/day"


def seconds(value: float | None) -> str:
    if _missing(value):
        return "n/a"
    v = float(value)
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.1f} s"
