"""Two small rules about values, written once for the engine, the CLI, the report and the app.

- ``is_missing(v)``: whether a cell or figure has no value: None, NaN (float or numpy), pandas' NA
  or NaT. Text, numbers (also 0) and booleans are values; text that is not a number is not
  "missing" (where a number is needed, reading it is the caller's error to report).
- ``setting_text(v, percent=False)``: a scenario.toml setting's value as people read it (the report's
  settings table, the app's comparison of two plans): lists joined with commas ("(none)" when
  empty), an absent value "(not set)", a share as a percentage where its label says "%", large
  round numbers with thousands separators.
"""
from __future__ import annotations

from typing import Any

import pandas as pd


def is_missing(v: Any) -> bool:
    """True for None, NaN, pd.NA and NaT; False for every other value (text, numbers, booleans, lists)."""
    if v is None:
        return True
    if isinstance(v, (str, bytes, bool, list, tuple, dict)):
        return False
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # array-likes: not one value
        return False


def setting_text(v: Any, percent: bool = False) -> str:
    """A setting's value as text: 0.25 -> "25%" when ``percent``; ("a", "b") -> "a, b"; () -> "(none)";
    None -> "(not set)"; 5000000.0 -> "5,000,000"; else ``str(v)``."""
    if percent and isinstance(v, (int, float)) and not isinstance(v, bool):
        return f"{100 * v:g}%"
    if isinstance(v, (tuple, list)):
        return ", ".join(map(str, v)) or "(none)"
    if v is None:
        return "(not set)"
    if isinstance(v, float) and v.is_integer() and abs(v) >= 1000:
        return f"{v:,.0f}"
    return str(v)
