"""Names as people mean them: "Kazakhstan", " kazakhstan", "KAZAKHSTAN" and a decomposed
"Kazakhstan" are one jurisdiction.

Every key (model, origin, site, jurisdiction, country) is compared after Unicode NFC
normalisation, trimming, collapsing runs of spaces and ignoring letter case (``canon``).
- In the column that defines a name (rigs.model, origins.origin, sites.site) two spellings of
  one name are two rows for one thing: refused as duplicates, with what differs.
- Everywhere else (sites.jurisdiction, origins.country, fleet and lanes references, the
  exclusion lists of scenario.toml) a variant is the same name, rewritten to its first
  spelling, so exclusions, jurisdiction caps and lanes act on it once.
"""
from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import Iterable

import pandas as pd

from optimizer.inputs.errors import Problem

_SPACES = re.compile(r"\s+")
# Characters that print as nothing or as a space: a name copied from a web page carries them.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)


def tidy(name: str) -> str:
    """The spelling kept: NFC, no invisible characters, trimmed, single spaces. Case is kept."""
    if name.__class__ is str and name.isascii() and name.isprintable() and "  " not in name and name.strip() == name:
        return name  # already tidy: printable ASCII is NFC, has no invisible characters and no spaces but " "
    text = unicodedata.normalize("NFC", str(name)).translate(_INVISIBLE)
    return _SPACES.sub(" ", text).strip()


def canon(name: str) -> str:
    """The comparison key: ``tidy`` and case-folded."""
    return tidy(name).casefold()


def difference(a: str, b: str) -> str:
    """What separates two spellings that ``canon`` makes equal, in words."""
    if a == b:
        return "are identical"
    parts = []
    if unicodedata.normalize("NFC", a) != a or unicodedata.normalize("NFC", b) != b:
        if unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b):
            return "are the same letters in a different Unicode form (composed vs decomposed accents)"
        parts.append("a different Unicode form")
    na, nb = unicodedata.normalize("NFC", a), unicodedata.normalize("NFC", b)
    if na.translate(_INVISIBLE) != na or nb.translate(_INVISIBLE) != nb:
        parts.append("invisible characters")
    ta, tb = _SPACES.sub(" ", na.translate(_INVISIBLE)).strip(), _SPACES.sub(" ", nb.translate(_INVISIBLE)).strip()
    if ta != na.translate(_INVISIBLE) or tb != nb.translate(_INVISIBLE):
        parts.append("extra spaces")
    if ta != tb:  # then only case remains
        parts.append("letter case")
    if parts == ["letter case"]:
        return "differ only in letter case"
    return "differ only in " + " and ".join(parts)


# table -> (defining column, spec key) ; references: (table, column) -> (defining table, column)
DEFINING = {"rigs": "model", "origins": "origin", "sites": "site"}
REFERENCES = {("fleet", "origin"): ("origins", "origin"), ("fleet", "model"): ("rigs", "model"),
              ("lanes", "origin"): ("origins", "origin"), ("lanes", "site"): ("sites", "site"),
              ("availability", "site"): ("sites", "site"), ("power", "site"): ("sites", "site")}
GROUPED = {("sites", "jurisdiction"), ("origins", "country")}
FILES = {"rigs": "rigs.csv", "origins": "origins.csv", "fleet": "fleet.csv", "sites": "sites.csv", "lanes": "lanes.csv",
         "availability": "availability.csv", "power": "power.csv"}


@dataclasses.dataclass(frozen=True)
class Unified:
    """One variant spelling read as an earlier one (reported to the user as a note)."""

    file: str
    row: int
    column: str
    typed: str
    read_as: str
    why: str

    def __str__(self) -> str:
        return (f"{self.file}, row {self.row}, column '{self.column}': '{self.typed}' is read as '{self.read_as}' "
                f"(the two {self.why})")


def unify(tables: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], list[Problem], list[Unified]]:
    """Tidy every key, refuse variant duplicates in defining columns, rewrite references to one spelling.

    ``tables``: the typed frames of ``tables.validate_table`` (with ``_row``). Returns new frames
    (inputs are not modified), the problems (duplicates) and notes (variants read as one name).
    """
    out = {k: (v.copy() if v is not None else None) for k, v in tables.items()}
    problems: list[Problem] = []
    notes: list[Unified] = []
    spelling: dict[tuple[str, str], dict[str, str]] = {}
    for table, col in DEFINING.items():
        frame = out.get(table)
        if frame is None or col not in frame.columns:
            continue
        first: dict[str, tuple[str, int]] = {}
        tidied = []
        for r, name in zip(frame["_row"].tolist(), frame[col].tolist()):
            t = tidy(name)
            tidied.append(t)
            key = canon(t)
            if key in first:
                earlier, row = first[key]
                if earlier != name:  # exact duplicates are reported by the table's own key check
                    problems.append(Problem(FILES[table], int(r), col,
                                            f"'{name}' and '{earlier}' (row {row}) {difference(name, earlier)}: "
                                            f"they are one {col}, given twice",
                                            f"keep one row per {col}, or rename one of them"))
            else:
                first[key] = (name, int(r))
        frame[col] = tidied
        spelling[(table, col)] = {canon(n): tidy(n) for n, _ in first.values()}
    for (table, col) in sorted(GROUPED):
        frame = out.get(table)
        if frame is None or col not in frame.columns:
            continue
        chosen: dict[str, str] = {}
        values = []
        for r, name in zip(frame["_row"].tolist(), frame[col].tolist()):
            key = canon(name)
            read = chosen.setdefault(key, tidy(name))
            if read != name and read != tidy(name):
                notes.append(Unified(FILES[table], int(r), col, name, read, difference(name, read)))
            values.append(read)
        frame[col] = values
    for (table, col), target in REFERENCES.items():
        frame = out.get(table)
        if frame is None or col not in frame.columns or not len(frame):
            continue
        known = spelling.get(target, {})
        values = []
        for r, name in zip(frame["_row"].tolist(), frame[col].tolist()):
            read = known.get(canon(name), tidy(name))
            if read != name and read != tidy(name):
                notes.append(Unified(FILES[table], int(r), col, name, read, difference(name, read)))
            values.append(read)
        frame[col] = values
    for table, keys in (("fleet", ("origin", "model")), ("lanes", ("origin", "site")), ("availability", ("site", "month")),
                        ("power", ("site", "month"))):
        frame, typed = out.get(table), tables.get(table)
        if frame is None or not len(frame) or not all(k in frame.columns for k in keys):
            continue
        first: dict[tuple[str, ...], tuple[int, tuple[str, ...]]] = {}
        read_keys = list(zip(*(frame[k].tolist() for k in keys)))  # plain lists: .iloc per cell is slow
        raw_keys = list(zip(*([str(v) for v in typed[k].tolist()] for k in keys)))
        for r, key, raw in zip(frame["_row"].tolist(), read_keys, raw_keys):
            if key in first and first[key][1] != raw:  # exact repeats are reported by the table's own key check
                row, earlier = first[key]
                why = "; ".join(f"{k} '{a}' and '{b}' {difference(a, b)}" for k, a, b in zip(keys, raw, earlier) if a != b)
                problems.append(Problem(FILES[table], int(r), keys[-1],
                                        f"duplicate {', '.join(f'{k}={v!r}' for k, v in zip(keys, key))}: {why}",
                                        f"first given on row {row}; keep one row for it"))
            first.setdefault(key, (int(r), raw))
    return out, problems, notes


def canonical_settings(settings, sites: pd.DataFrame):
    """Settings whose exclusion lists use the sites table's spelling of each name (unknown names kept)."""
    pol = settings.policy
    changes = {}
    for key, column in (("exclude_jurisdictions", "jurisdiction"), ("exclude_sites", "site")):
        wanted = tuple(getattr(pol, key, ()))
        if not wanted:
            continue
        matched, missing = match_names(wanted, sites[column])
        fixed = matched + tuple(missing)
        if fixed != wanted:
            changes[key] = fixed
    if not changes:
        return settings
    return dataclasses.replace(settings, policy=dataclasses.replace(pol, **changes))


def match_names(wanted: Iterable[str], known: Iterable[str]) -> tuple[tuple[str, ...], list[str]]:
    """Each wanted name in the spelling of ``known`` (case, spaces and Unicode form ignored); unmatched ones listed."""
    lookup: dict[str, str] = {}
    for k in known:
        lookup.setdefault(canon(k), k)
    out, missing = [], []
    for w in wanted:
        hit = lookup.get(canon(w))
        if hit is None:
            missing.append(w)
        elif hit not in out:
            out.append(hit)
    return tuple(out), missing
