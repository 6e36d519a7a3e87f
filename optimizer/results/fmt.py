"""How numbers and settings read, once for the app, the report and the CLI.

Every formatter takes a value as the engine produces it (a float, a numpy scalar, None, NaN or
``pd.NA`` where there is no value) and returns text. ``missing`` is what a formatter prints for
no value: "n/a" on screen by default; the report passes "" and the CLI "-". Tests format the
engine's values with these same functions.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import tomli_w

from optimizer.inputs.labels import is_percent
from optimizer.inputs import values
from optimizer.inputs.values import is_missing  # the one rule: None, NaN, pd.NA, NaT


def number(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing or not a number (a stray word in a table)."""
    if is_missing(value):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def usd(value: Any, missing: str = "n/a") -> str:
    """Money at planning scale: $118.22M, $5.59M, $12.3k, $950; -$1.20M when negative."""
    v = number(value)
    if v is None:
        return missing
    sign = "-" if v < 0 else ""
    a = abs(v)
    if a >= 1e9:
        return f"{sign}${a / 1e9:,.3f}B"
    if a >= 1e6:
        return f"{sign}${a / 1e6:,.2f}M"
    if a >= 1e4:
        return f"{sign}${a / 1e3:,.1f}k"
    return f"{sign}${a:,.0f}"


def usd_exact(value: Any, digits: int = 0, missing: str = "n/a") -> str:
    """Money to the dollar (or the cent, ``digits=2``): $118,220,431; -$1,250.50."""
    v = number(value)
    if v is None:
        return missing
    return ("-" if v < 0 else "") + f"${abs(v):,.{digits}f}"


def formatter(pattern: str, per: float = 1.0, missing: str = "n/a") -> Callable[..., str]:
    """A formatter ``show(value, missing=missing)`` printing ``pattern.format(value / per)``, or ``missing``."""
    def show(value: Any, missing: str = missing) -> str:
        v = number(value)
        return missing if v is None else pattern.format(v / per)
    return show


rigs = formatter("{:,.0f}")  # rigs: 12,000
ehs = formatter("{:,.3f} EH/s", per=1e6)  # TH/s shown as EH/s (1 EH/s = 1e6 TH/s)
mw = formatter("{:,.1f} MW")
usd_kwh = formatter("{:.4f}")  # USD per kWh, the number alone (a table's column says the unit)
usd_per_kwh = formatter("${:.4f}/kWh")
hashprice = formatter("${:.4f}/TH/day")  # USD per TH/s per day


def pct(value: Any, digits: int = 1, missing: str = "n/a") -> str:
    """A fraction as percent: 0.052 -> 5.2%."""
    v = number(value)
    return missing if v is None else f"{100 * v:.{digits}f}%"


def months(value: Any) -> str:
    """Payback: None means the upfront spend is never repaid within the horizon."""
    v = number(value)
    return "never" if v is None else f"{v:.1f} months"


def seconds(value: Any, missing: str = "n/a") -> str:
    v = number(value)
    if v is None:
        return missing
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.1f} s"


def entry_power(usd_kwh: Any, missing: str = "") -> str:
    """An unused site's entry power price (sites.csv entry_power_usd_kwh) in words: "power below $0.0512/kWh",
    "never, even with free power" for -1, ``missing`` where it was not computed (a used site)."""
    v = number(usd_kwh)
    if v is None:
        return missing
    return "never, even with free power" if v < 0 else f"power below {usd_per_kwh(v)}"


NOT_SET = "(not set)"


def setting_text(key: str, value: Any) -> str:
    """A setting's value as people read it (``optimizer.inputs.values.setting_text``), percent for settings
    labelled "%" (their values are fractions)."""
    return values.setting_text(value, percent=is_percent(key))


def toml_value(value: Any) -> str:
    """A setting's value in TOML syntax on one line, as scenario.toml and ``--set`` take it (fractions, not
    percent); None (which TOML cannot write) as NOT_SET."""
    if value is None:
        return NOT_SET
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(toml_value(x) for x in value) + "]"  # on one line (tomli_w breaks arrays)
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


__all__ = ["NOT_SET", "ehs", "entry_power", "hashprice", "formatter", "is_missing", "months", "mw", "number", "pct", "rigs",
           "seconds", "setting_text", "toml_value", "usd", "usd_exact", "usd_kwh", "usd_per_kwh"]
