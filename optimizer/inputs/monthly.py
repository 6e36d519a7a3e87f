"""SPEC section 8's inputs checked together with the settings: online_month, resale.csv, state.csv,
bans.csv (known stops) and the [monthly] keys. Every problem names the file, the spreadsheet row
(header = row 1) and the column, and says what is wrong (CLI exit 2).

Each table's own column rules (types, ranges, plausible ranges: a resale factor of 100 is refused as
a percent) are declared in ``optimizer.inputs.tables``; this module checks what needs the horizon, the
fleet or another file: months below H, every month of resale.csv once with factor 1 in month 0,
state.csv's batches, sites, months (< monthly.replan_month), rigs not beyond the batch and no sale
at a site before rigs were shipped there, known stops' jurisdictions and end months, and no
``min_mw`` with the monthly plan.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Mapping

import numpy as np
import pandas as pd

from optimizer.inputs import tables as T
from optimizer.inputs.errors import Problem

STATE_ACTIONS = ("ship", "sell", "sell_at_site")
TOML = "scenario.toml"


def _rows(frame: pd.DataFrame) -> np.ndarray:
    return frame["_row"].to_numpy() if "_row" in frame.columns else np.arange(2, len(frame) + 2)


def check_tables(settings: Any, tables: Mapping[str, pd.DataFrame], sources: Mapping[str, str] | None = None
                 ) -> list[Problem]:
    """Every problem of section 8's inputs in ``tables`` (name -> typed frame) under ``settings``."""
    sources = sources or {}
    H = settings.horizon.months
    t0 = settings.monthly.replan_month
    problems: list[Problem] = []
    sites = tables["sites"]
    if "online_month" in sites.columns:
        late = np.flatnonzero(sites["online_month"].to_numpy() >= H)  # only the rows with a problem, cell by cell
        for r, name, m in zip(_rows(sites)[late], sites["site"].to_numpy()[late], sites["online_month"].to_numpy()[late]):
            m = int(m)
            if m >= H:
                problems.append(Problem(T.SITES.file, int(r), "online_month", f"month {m} is beyond the horizon "
                                        f"(horizon.months = {H}: months 0 to {H - 1})",
                                        f"a site that comes online after the horizon cannot be used: remove {name!s}"
                                        " or lengthen horizon.months"))
    if settings.monthly.enabled and "min_mw" in sites.columns:
        mins = sites["min_mw"].to_numpy(float)
        for r, v in zip(_rows(sites)[mins > 0], mins[mins > 0]):
            if v > 0:
                problems.append(Problem(T.SITES.file, int(r), "min_mw", f"is {v:g} MW, but the monthly plan has no "
                                        "site minimums (SPEC section 8)",
                                        "set min_mw to 0, or solve section 3's plan (monthly.enabled = false)"))
    problems += _resale_problems(tables.get("resale"), H)
    problems += _bans_problems(tables.get("bans"), sites, H)
    problems += _state_problems(tables.get("state"), tables, H, t0, sources)
    return problems


def _resale_problems(resale: pd.DataFrame | None, H: int) -> list[Problem]:
    if resale is None or not len(resale):
        return []
    file = T.RESALE.file
    problems = []
    rows = _rows(resale)
    months = resale["month"].astype(int).to_numpy()
    factor = resale["factor"].to_numpy(float)
    for r, m in zip(rows, months):
        if m >= H:
            problems.append(Problem(file, int(r), "month", f"month {m} is beyond the horizon (horizon.months = {H}: "
                                    f"months 0 to {H - 1})", "remove the row, or lengthen horizon.months"))
    missing = sorted(set(range(H)) - set(months.tolist()))
    if missing:
        listed = ", ".join(str(m) for m in missing[:10]) + (" ..." if len(missing) > 10 else "")
        problems.append(Problem(file, None, "month", f"has no row for month {listed}",
                                f"resale.csv gives the factor of every month 0 to {H - 1}"))
    for r, m, f in zip(rows, months, factor):
        if m == 0 and f != 1.0:
            hint = ("factors are multiples of resale_usd: month 0 is 1 (today's price); 100 looks like a percent, "
                    "divide the column by 100" if abs(f - 100) < 1e-9 else
                    "month 0 is today: the factor is 1 (resale_usd itself); scale the column so month 0 is 1")
            problems.append(Problem(file, int(r), "factor", f"is {f:g} in month 0; it must be exactly 1", hint))
    return problems


def _bans_problems(bans: pd.DataFrame | None, sites: pd.DataFrame, H: int) -> list[Problem]:
    if bans is None or not len(bans):
        return []
    file = T.KNOWN_BANS.file
    known = set(sites["jurisdiction"])
    problems = []
    for r, j, b, e in zip(_rows(bans), bans["jurisdiction"], bans["ban_month"].astype(int),
                          bans["end_month"].astype(int)):
        if j not in known:
            problems.append(Problem(file, int(r), "jurisdiction", f"unknown jurisdiction '{j}': not in sites.csv",
                                    T._did_you_mean(j, sorted(known))))
        if b >= H:
            problems.append(Problem(file, int(r), "ban_month", f"month {b} is beyond the horizon (months 0 to {H - 1})"))
        if e != -1 and not (b < e <= H):
            problems.append(Problem(file, int(r), "end_month", f"{e} must be after ban_month ({b}) and at most "
                                    f"horizon.months ({H})", "leave it empty for a stop that lasts to the horizon"))
    return problems


def end_months(bans: pd.DataFrame, H: int) -> np.ndarray:
    """bans.csv's end_month with empty (read as -1) meaning H."""
    if "end_month" not in bans.columns:
        return np.full(len(bans), H, np.int64)
    e = pd.to_numeric(bans["end_month"], errors="coerce").fillna(-1).astype(np.int64).to_numpy()
    return np.where(e < 0, H, e)


def _state_problems(state: pd.DataFrame | None, tables: Mapping[str, pd.DataFrame], H: int, t0: int,
                    sources: Mapping[str, str]) -> list[Problem]:
    if state is None or not len(state):
        return []
    file = T.STATE.file
    fleet = tables["fleet"]
    count = {(o, m): float(c) for o, m, c in zip(fleet["origin"], fleet["model"], fleet["count"])}
    site_names = set(tables["sites"]["site"])
    problems: list[Problem] = []
    used: dict[tuple[str, str], float] = defaultdict(float)
    shipped: dict[tuple[str, str, str], list[tuple[int, float]]] = defaultdict(list)
    sold_at: dict[tuple[str, str, str], list[tuple[int, float, int]]] = defaultdict(list)
    for r, action, o, m, s, month, rigs in zip(_rows(state), state["action"], state["origin"], state["model"],
                                               state["site"], state["month"].astype(int), state["rigs"].astype(float)):
        r = int(r)
        if action not in STATE_ACTIONS:
            problems.append(Problem(file, r, "action", f"'{action}' is not an action",
                                    "write ship, sell or sell_at_site"))
            continue
        if (o, m) not in count:
            problems.append(Problem(file, r, "model", f"no batch of '{m}' at '{o}' in fleet.csv",
                                    "state.csv names rigs of fleet.csv by origin and model"))
            continue
        if action == "sell":
            if s:
                problems.append(Problem(file, r, "site", "must be empty for a sale at the origin",
                                        "use action sell_at_site for rigs sold at a site"))
        elif s not in site_names:
            problems.append(Problem(file, r, "site", f"unknown site '{s}': not in sites.csv" if s else
                                    f"is empty; a {action} names its site", T._did_you_mean(s, sorted(site_names))))
            continue
        if month >= H:
            problems.append(Problem(file, r, "month", f"month {month} is beyond the horizon (months 0 to {H - 1})"))
            continue
        if month >= t0:
            problems.append(Problem(file, r, "month", f"month {month} is not before monthly.replan_month ({t0}): "
                                    "state.csv holds what has already been done",
                                    f"set monthly.replan_month above {month} (in {sources.get('monthly.replan_month', TOML)}), "
                                    "or remove the row"))
            continue
        if action in ("ship", "sell"):
            used[(o, m)] += rigs
            if used[(o, m)] > count[(o, m)] * (1 + 1e-9) + 1e-9:
                problems.append(Problem(file, r, "rigs", f"ships or sells {used[(o, m)]:g} rigs of '{m}' at '{o}' in "
                                        f"all, beyond the batch's {count[(o, m)]:g} (fleet.csv)",
                                        "each rig leaves its origin once"))
            if action == "ship":
                shipped[(o, m, s)].append((month, rigs))
        else:
            sold_at[(o, m, s)].append((month, rigs, r))
    for key, sales in sold_at.items():
        ships = shipped.get(key, [])
        for month, rigs, r in sorted(sales):
            before = sum(q for t, q in ships if t < month) - sum(q for t, q, _ in sales if t < month)
            if rigs > before * (1 + 1e-9) + 1e-9:
                o, m, s = key
                problems.append(Problem(file, r, "rigs" if before > 0 else "month",
                                        f"sells {rigs:g} rigs of '{m}' from '{o}' at '{s}' in month {month}, but only "
                                        f"{max(before, 0):g} were shipped there in earlier months",
                                        "a sale at a site follows a dispatch to that site in an earlier month"))
    return problems
