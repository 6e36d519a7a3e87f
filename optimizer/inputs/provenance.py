"""Where each input comes from, as the datasets record it: sourced (with the source) or ESTIMATE (with its
reasoning), for the app's tooltips and tables.

Two records exist in the shipped datasets (datasets/README.md):

- scenario.toml: a comment after each ``key = value`` (and after a ``[section]`` header, for the whole
  section), e.g. ``btc_price_usd = 31338.0  # BTC price 17 Jul 2021`` under ``[market]  # Hashrate Index ...``.
- a ``source`` column in sites.csv / origins.csv (and ``spec_source`` / ``resale_note`` in rigs.csv):
  ``"power: 0.029: Riot Rockdale ... | pue: ESTIMATE 1.03+... | capacity: ESTIMATE (see README)"``, one
  ``field: text`` part per input, parts separated by `` | ``.

A note whose text starts with ESTIMATE is an estimate; DERIVED, a number computed from sourced ones;
anything else names its source. No note: not recorded.
"""
from __future__ import annotations

import re

ESTIMATE, DERIVED, SOURCED = "ESTIMATE", "DERIVED", "sourced"

# a field name in a sites.csv source note -> the input it documents, in words
SITE_FIELDS = {"power": "power price", "pue": "cooling overhead (PUE)", "reg_risk": "ban risk", "coords": "location",
               "capacity": "capacity", "duty": "import duty", "hosting": "hosting fee", "uptime": "uptime",
               "online": "online month", "fixed_cost": "opening cost", "min_mw": "minimum load"}

_KEY_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*[^#]*?#\s*(.+?)\s*$")
_SECTION = re.compile(r"^\s*\[([A-Za-z_][A-Za-z0-9_]*)\]\s*(?:#\s*(.+?))?\s*$")


def status(note: str | None) -> str | None:
    """ESTIMATE, DERIVED or sourced for a note's text; None when there is no note."""
    if note is None or not str(note).strip():
        return None
    text = str(note).strip()
    if re.match(r"^(\S+:\s*)?ESTIMATE\b", text) or text.startswith("ESTIMATE"):
        return ESTIMATE
    if re.match(r"^(\S+:\s*)?DERIVED\b", text):
        return DERIVED
    return SOURCED


def toml_notes(text: str) -> dict[str, str]:
    """``section.key`` -> the comment after it in a scenario.toml's text, with its section's comment appended in
    brackets when the section has one (the source a whole section shares). Keys without a comment are absent."""
    notes: dict[str, str] = {}
    section, section_note = "", None
    for line in text.splitlines():
        m = _SECTION.match(line)
        if m:
            section, section_note = m.group(1), m.group(2)
            continue
        m = _KEY_LINE.match(line)
        if m and section:
            note = m.group(2)
            if section_note and status(note) == SOURCED:
                note += f" ({section_note})"
            notes[f"{section}.{m.group(1)}"] = note
    return notes


def field_notes(cell: str | None) -> dict[str, str]:
    """A ``source`` cell split into field -> text ("power" -> "0.029: Riot Rockdale ..."); {} when empty."""
    out: dict[str, str] = {}
    if cell is None or not isinstance(cell, str):
        return out
    for part in cell.split(" | "):
        name, sep, text = part.partition(":")
        if sep and re.fullmatch(r"[A-Za-z_ ]+", name.strip()):
            out[name.strip()] = text.strip()
    return out


def in_words(note: str | None, limit: int = 160) -> str:
    """"ESTIMATE: ..." / "DERIVED: ..." / "Sourced: ..." for a tooltip, cut at ``limit`` characters."""
    st = status(note)
    if st is None:
        return "Where from: not recorded in the scenario."
    text = re.sub(r"^(ESTIMATE|DERIVED)\b[:,]?\s*", "", str(note).strip())
    text = text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
    return {ESTIMATE: "ESTIMATE", DERIVED: "DERIVED from sourced figures", SOURCED: "Sourced"}[st] + f": {text}"


def site_summary(cell: str | None) -> str:
    """A site's inputs by status in one line: "sourced: power price, ban risk; ESTIMATE: capacity, cooling overhead"."""
    groups: dict[str, list[str]] = {}
    for name, text in field_notes(cell).items():
        groups.setdefault(status(text) or SOURCED, []).append(SITE_FIELDS.get(name, name.replace("_", " ")))
    order = (SOURCED, DERIVED, ESTIMATE)
    return "; ".join(f"{st}: {', '.join(groups[st])}" for st in order if st in groups)
