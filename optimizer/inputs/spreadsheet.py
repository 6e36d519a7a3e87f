"""Habits of spreadsheet files: Excel's ``sep=`` line, error markers such as ``#N/A``, spec-sheet
headers, and the apostrophe a spreadsheet-safe export puts before a formula-like name."""
from __future__ import annotations

import difflib
import re

_SEP_LINE = re.compile(r'^\s*"?sep=(.)"?\s*$', re.IGNORECASE)
_ERRORS = {"#N/A", "#N/A N/A", "#NA", "#VALUE!", "#REF!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!",
           "#CALC!", "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#UNKNOWN!", "#BUSY!", "#CONNECT!"}
_MISSING = {"N/A", "NA", "n/a", "na", "NaN", "nan", "None", "null", "NULL", "-", "--", "?"}
# Formula starts (OWASP CSV injection) that an export neutralises with a leading apostrophe.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")

# Words spec sheets, broker lists and hosting sheets use for the contract's columns.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "model": ("name", "miner", "rig", "asic", "machine", "product"),
    "hashrate_ths": ("hashrate", "hash rate", "hash", "ths", "th/s", "speed"),
    "power_w": ("power", "watts", "wattage", "w", "consumption", "power consumption"),
    "resale_usd": ("price", "resale", "value", "usd", "second-hand", "secondhand", "used price", "market price", "cost"),
    "count": ("qty", "quantity", "units", "number", "rigs", "n"),
    "origin": ("from", "location", "farm", "source"),
    "site": ("name", "destination", "facility", "location", "host"),
    "jurisdiction": ("country", "state", "province", "region"),
    "lat": ("latitude",),
    "lon": ("longitude", "lng", "long"),
    "capacity_mw": ("capacity", "mw", "power_mw"),
    "power_usd_kwh": ("power price", "electricity", "price_kwh", "usd/kwh", "tariff", "energy price"),
    "ship_usd_per_rig": ("freight", "shipping", "ship", "cost"),
    "lead_days": ("lead time", "days", "transit"),
}


def strip_sep_line(text: str) -> tuple[str, str | None]:
    """Drop Excel's ``sep=X`` first line (Excel hides it too, so the header stays row 1).

    Returns the text and the separator it declared (None when there was no such line).
    """
    first, newline, rest = text.partition("\n")
    found = _SEP_LINE.match(first.rstrip("\r"))
    if not found:
        return text, None
    return rest, found.group(1)


def is_error_marker(cell: str) -> bool:
    """#N/A, #VALUE!, #REF! and the other values a spreadsheet writes for a failed formula."""
    return cell.strip().upper() in _ERRORS


def error_hint(cell: str) -> str | None:
    """A hint for a spreadsheet error or 'no value' marker (#N/A, #VALUE!, N/A ...), else None."""
    text = cell.strip()
    if text.upper() in _ERRORS:
        return (f"{text} is a spreadsheet error or lookup miss, not a value: fix the formula in the sheet, "
                "or type the number (leave the cell empty only where the column has a default)")
    if text in _MISSING:
        return f"'{text}' marks a missing value: type the number, or leave the cell empty where the column has a default"
    return None


def _norm(header: str) -> str:
    h = re.sub(r"\(.*?\)|\[.*?\]", "", header.lower())  # hashrate(TH/s) -> hashrate
    return re.sub(r"[\s_\-]+", " ", h).strip()


def missing_column_hint(name: str, description: str, unit: str, present: list[str]) -> str:
    """What a missing required column means, and which present header may be it."""
    meaning = f"{name} is {description}" + (f", in {unit}" if unit else "")
    options = [h for h in present if h]
    candidates = [h for h in options if _norm(h) in SYNONYMS.get(name, ()) or _norm(h) == _norm(name)]
    if not candidates:
        close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
        candidates = close
    if candidates:
        return f"{meaning}; if '{candidates[0]}' holds that, rename it to {name}"
    return f"{meaning}; add a column named {name}"


def unneutralise(cell: str) -> str:
    """A name exported as ``'@Home Hosting`` (apostrophe before a formula start) reads back as ``@Home Hosting``."""
    if len(cell) > 1 and cell[0] == "'" and cell[1:].startswith(FORMULA_START):
        return cell[1:]
    return cell
