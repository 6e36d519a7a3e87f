"""Backtest: what a plan would have been worth had it been followed, on the history that came.

A history folder holds what actually happened after the scenario's start:

- market.csv: ``month`` (every integer 0..H-1 once), ``hashprice_usd_th_day`` (>= 0), the realised
  monthly hashprice (SPEC section 6's market.csv; extra columns such as ``date`` and ``source`` kept).
- bans.csv: ``jurisdiction`` (in sites.csv), ``ban_month`` (integer 0..H-1), optional ``end_month``
  (> ban_month, <= H, empty = H): the stops that came, mining stopping from the start of ban_month
  until the start of end_month (to the horizon without one).
- power.csv (optional, issue 21): ``site`` or ``jurisdiction`` (one of the two per row), ``month``,
  ``multiplier`` (> 0): the realised power price in that month is the scenario's times the multiplier
  (a site row overrides its jurisdiction's row for the month; absent: 1). Realised values only: the plan,
  and the re-planning policy of replay, never see it; perfect foresight does.

The realised value of a plan is SPEC section 7's NPV with the realised hashprice path as market.csv
and the realised bans as the only sample (weight 1, every hashprice factor 1):

    realised = sum_p x_p * (sum_t d_t a_t B_t margin_t + terminal - upfront) + resale * sold + terminal * stored - fixed costs

with B_t = 0 in a jurisdiction's months ban_month <= t < end_month, margin_t on the realised hp_t, and no S_t and no
risk penalty. What the plan expected is its value under section 2 without the risk-aversion charge
(``expected_value_usd`` of summary.json): sum_p x_p (V_p + penalty_p) + the same other terms.
"""
from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer import economics
from optimizer.inputs import tables as T
from optimizer.engine import solve
from optimizer.inputs.errors import Problem, ScenarioError
from optimizer.risk.futures import (END_MONTH, calendar_months, end_months, match_jurisdictions, refuse_typed_sentinel,
                                    review_history_hashprice)
from optimizer.results import _jsonable, write_files
from optimizer.risk import Plan, pair_terms, plan_from_result, plan_npv, read_plan, relocation_values
from optimizer.risk.samples import one_future
from optimizer.inputs.scenario import Scenario, empty_table, tables_digest
from optimizer.inputs.settings import HASHPRICE_PATH_KEYS, SETTINGS

HISTORY_BANS = T.TableSpec(
    "bans.csv",
    (
        T.Column("jurisdiction", "text", "", "a jurisdiction of sites.csv that banned mining within the horizon"),
        T.Column("ban_month", "integer", "month", "mining stopped from the start of this month (0-based) to the horizon",
                 None, lambda v: v >= 0, ">= 0"),
        END_MONTH,
    ),
    key=("jurisdiction",),
    min_rows=0,
)
# Realised power repricing (issue 21): optional power.csv of a history folder, applied to realised values only.
HISTORY_POWER = T.TableSpec(
    "power.csv",
    (
        T.Column("site", "text", "", "a site of sites.csv (or leave it empty and name a jurisdiction)", ""),
        T.Column("jurisdiction", "text", "", "a jurisdiction of sites.csv: every site there (a site row for the "
                 "same month overrides it)", ""),
        T.Column("month", "integer", "month", "month t of the horizon (0-based) the multiplier applies to", None,
                 lambda v: v >= 0, ">= 0"),
        T.Column("multiplier", "float", "multiple of power_usd_kwh", "the realised power price over the scenario's "
                 "in that month (1.33: a host that repriced from 6 to 8 cents)", None, lambda v: v > 0, "> 0"),
    ),
    key=("site", "jurisdiction", "month"),
    min_rows=0,
)
JURISDICTION_COLUMNS = ["jurisdiction", "ban_month", "rigs", "hashrate_ths", "expected_usd", "realised_usd",
                        "realised_minus_expected_usd"]


@dataclass
class History:
    """What happened: the realised hashprice path (market.csv frame) and ban month per jurisdiction."""

    market: pd.DataFrame
    bans: dict[str, int]
    end_months: dict[str, int] = field(default_factory=dict)  # jurisdiction -> month mining resumes (< H only)
    # power.csv (optional): site, month, multiplier on power_usd_kwh as realised (jurisdiction rows expanded)
    power: pd.DataFrame | None = None
    warnings: tuple = ()  # InputWarnings from reading (calendar months converted, names matched)


def _read_table(folder: Path, spec: T.TableSpec, label: str, prepare=None) -> pd.DataFrame:
    path = folder / spec.file
    where = f"{label}/{spec.file}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(Problem(where, None, None, f"cannot be read: {exc.strerror or exc}",
                                    "a history folder holds market.csv and bans.csv")) from None
    frame, problems = T.read_csv(data, spec, where)
    if frame is not None:
        early = refuse_typed_sentinel(frame, where)
        quiet: set = set()
        if prepare is not None:  # calendar months converted, names matched (optimizer/futures.py)
            frame, found, quiet = prepare(frame, where)
            early += found
        taken = {(p.row, p.column) for p in early} | quiet  # a converted-or-refused cell is reported once
        frame, problems = T.validate_table(frame, spec)
        problems = early + [p for p in problems if (p.row, p.column) not in taken]
    if problems:
        raise ScenarioError([Problem(where, p.row, p.column, p.message, p.hint) for p in problems])
    return frame


def load_history(folder: str | Path, scn: Scenario) -> History:
    """Read and check a history folder against the scenario (exit 2 with file, row and column).

    Raises ScenarioError: a file missing or malformed, a month missing or repeated, a jurisdiction
    not in sites.csv, a ban month outside 0..H-1.
    """
    folder = Path(folder)
    label = folder.name or str(folder)
    problems: list[Problem] = []
    notes: list = []
    known_names = sorted(set(scn.sites["jurisdiction"].astype(str)))

    def prepare(frame: pd.DataFrame, where: str):
        frame, found, converted, quiet = calendar_months(frame, where, scn.settings.horizon.start_month)
        frame, named = match_jurisdictions(frame, where, known_names)
        notes.extend(converted + named)
        return frame, found, quiet

    read = {}
    for spec in (T.MARKET, HISTORY_BANS):  # both files' problems at once, not one file per attempt
        try:
            read[spec.file] = _read_table(folder, spec, label, prepare)
        except ScenarioError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ScenarioError(problems)
    market, bans = read[T.MARKET.file], read[HISTORY_BANS.file]
    H = scn.settings.horizon.months
    known = set(scn.sites["jurisdiction"].astype(str))
    out: dict[str, int] = {}
    ends = dict(zip(bans["jurisdiction"], end_months(bans, f"{label}/bans.csv", H, problems).tolist()))
    for r, j, month in zip(bans["_row"], bans["jurisdiction"], bans["ban_month"]):
        if j not in known:
            problems.append(Problem(f"{label}/bans.csv", int(r), "jurisdiction", f"unknown jurisdiction '{j}': not in sites.csv",
                                    T._did_you_mean(j, sorted(known))))
        elif month >= H:
            problems.append(Problem(f"{label}/bans.csv", int(r), "ban_month", f"{month} is beyond the horizon (months 0 to {H - 1})",
                                    "a ban after the horizon does not touch the plan: leave the row out"))
        else:
            out[j] = int(month)
    months = market["month"].astype(int)
    for r, m, dup in zip(market["_row"], months, months.duplicated()):
        if dup or m >= H:
            problems.append(Problem(f"{label}/market.csv", int(r), "month",
                                    f"month {m} is repeated" if dup else f"month {m} is beyond the horizon (0 to {H - 1})"))
    missing = sorted(set(range(H)) - set(months))
    if missing:
        problems.append(Problem(f"{label}/market.csv", None, "month", f"months {missing[:5]} are missing",
                                f"the history needs the realised hashprice of every month 0 to {H - 1} (horizon.months = {H})"))
    if not problems:
        problems += review_history_hashprice(market, f"{label}/market.csv", economics.hashprice(scn))
    power = None
    if (folder / HISTORY_POWER.file).is_file():
        try:
            power = history_power(_read_table(folder, HISTORY_POWER, label, prepare), scn, f"{label}/power.csv",
                                  problems)
        except ScenarioError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ScenarioError(problems)
    return History(market, out, {j: int(ends[j]) for j in out if ends[j] < H}, warnings=tuple(notes), power=power)


def history_power(frame: pd.DataFrame, scn: Scenario, file: str, problems: list[Problem]) -> pd.DataFrame:
    """A history's typed power.csv as (site, month, multiplier) rows, one per site and month: jurisdiction
    rows expanded to their sites, a site row overriding its jurisdiction's row for that month. Problems
    (a row naming both or neither, an unknown site or jurisdiction, a month beyond the horizon, a site
    given twice in a month) are appended with the file, row and column."""
    from optimizer.inputs.names import canon

    H = scn.settings.horizon.months
    sites = scn.sites["site"].astype(str).tolist()
    by_canon = {canon(s): s for s in sites}
    juris_of = dict(zip(sites, scn.sites["jurisdiction"].astype(str)))
    known_j = sorted(set(juris_of.values()))
    chosen: dict[tuple[str, int], tuple[int, float, bool]] = {}  # (site, month) -> (row, multiplier, from a site row)
    seen_j: dict[tuple[str, int], int] = {}
    for r, s, j, m, v in zip(frame["_row"], frame["site"], frame["jurisdiction"], frame["month"].astype(int),
                             frame["multiplier"].astype(float)):
        r = int(r)
        if bool(s) == bool(j):
            problems.append(Problem(file, r, "site", "names both a site and a jurisdiction" if s else
                                    "names neither a site nor a jurisdiction",
                                    "give a site (that site) or a jurisdiction (every site there), not both"))
            continue
        if m >= H:
            problems.append(Problem(file, r, "month", f"month {m} is beyond the horizon (months 0 to {H - 1})"))
            continue
        if s:
            site = by_canon.get(canon(s))
            if site is None:
                problems.append(Problem(file, r, "site", f"unknown site '{s}': not in sites.csv",
                                        T._did_you_mean(s, sites)))
                continue
            if (site, m) in chosen and chosen[(site, m)][2]:
                problems.append(Problem(file, r, "site", f"'{site}' is given twice for month {m}",
                                        f"first given on row {chosen[(site, m)][0]}"))
                continue
            chosen[(site, m)] = (r, float(v), True)
        else:
            if (j, m) in seen_j:
                problems.append(Problem(file, r, "jurisdiction", f"'{j}' is given twice for month {m}",
                                        f"first given on row {seen_j[(j, m)]}"))
                continue
            seen_j[(j, m)] = r
            if j not in known_j:
                problems.append(Problem(file, r, "jurisdiction", f"unknown jurisdiction '{j}': not in sites.csv",
                                        T._did_you_mean(j, known_j)))
                continue
            for site in (x for x in sites if juris_of[x] == j):
                if (site, m) not in chosen:
                    chosen[(site, m)] = (r, float(v), False)
    rows = sorted((site, m, v) for (site, m), (_, v, _) in chosen.items())
    return pd.DataFrame(rows, columns=["site", "month", "multiplier"])


def realised_power(scn: Scenario, history: History) -> pd.DataFrame | None:
    """The scenario's power.csv times the history's, as a full (site, month, multiplier) table; None when the
    history has no power.csv (the realised power price is then the scenario's)."""
    if history.power is None or not len(history.power):
        return None
    from optimizer.inputs.availability import power_by_month

    H = scn.settings.horizon.months
    planned = power_by_month(scn.sites, scn.power, H)
    real = power_by_month(scn.sites, history.power, H)
    both = real if planned is None else planned * real
    sites = scn.sites["site"].astype(str).to_numpy()
    return pd.DataFrame({"site": np.repeat(sites, H), "month": np.tile(np.arange(H), len(sites)),
                         "multiplier": both.ravel()})


_REALISED: dict[tuple, Scenario] = {}  # (digest of the tables, of the history's market) -> realised scenario
_REALISED_MAX = 8
_REALISED_LOCK = threading.Lock()


def realised_scenario(scn: Scenario, history: History) -> Scenario:
    """The scenario with the realised hashprice path as its market.csv (its own path keys reset to absent).

    The tables are validated once per (scenario tables, history), by content: a what-if keeps the tables and
    changes only settings, and every session of a served app opens the same built-in tables, so the next call
    applies its settings to the tables validated before (the checks ``with_overrides`` makes) instead of
    validating every table again (issue 23).
    """
    reset = {key: SETTINGS[key].default for key in HASHPRICE_PATH_KEYS}
    key = (scn.tables_digest().hexdigest(), tables_digest([history.market]).hexdigest())
    with _REALISED_LOCK:
        hit = _REALISED.get(key)
    if hit is not None:
        out = dataclasses.replace(hit, settings=scn.settings, name=scn.name).with_overrides(reset)
    else:
        out = scn.with_tables(market=empty_table(T.MARKET)).with_overrides(reset).with_tables(market=history.market)
        with _REALISED_LOCK:
            if len(_REALISED) >= _REALISED_MAX:
                _REALISED.pop(next(iter(_REALISED)))
            _REALISED[key] = out
    power = realised_power(scn, history)  # power.csv of the history: realised values only (the plan never sees it)
    return out if power is None else out.with_tables(power=power)


@dataclass
class Backtest:
    """backtest.json's figures and the per-jurisdiction table."""

    summary: dict[str, Any]
    jurisdictions: pd.DataFrame
    warnings: tuple = ()  # the history's InputWarnings (printed by the CLI)

    def files(self) -> dict[str, str]:
        return {"backtest.json": json.dumps(_jsonable(self.summary), indent=2) + "\n",
                "backtest_jurisdictions.csv": T.to_csv_text(self.jurisdictions, ["jurisdiction"])}

    def write(self, out_dir: str | Path) -> Path:
        return write_files(out_dir, self.files())


def backtest(scn: Scenario, history: History, plan: Plan | None = None) -> Backtest:
    """A plan (default: the plan ``solve`` makes) valued on the history, next to what it expected.

    Returns realised_npv_usd, expected_npv_usd, sell_all_usd (USD) and, per jurisdiction the plan
    uses, the relocated rigs' expected and realised value (relocations only; sales, storage and
    fixed costs are the same in both and sit in ``other_usd``).
    """
    econ = economics.compute(scn)
    if plan is None:
        plan = plan_from_result(scn, econ, solve(scn, details=False))
    real_scn = realised_scenario(scn, history)
    real_econ = economics.compute(real_scn)
    sample = one_future(scn, history.bans, end_months=history.end_months)  # the realised stops; hashprice: real_scn's path
    keep = plan.rigs > 0
    gi, si, rigs = plan.gi[keep], plan.si[keep], plan.rigs[keep]
    expected_per_rig = (econ.value_usd + econ.penalty_usd)[gi, si]
    realised_per_rig = relocation_values(pair_terms(real_scn, real_econ, sample, gi, si), sample)[0]
    realised = float(plan_npv(real_scn, real_econ, plan, sample)[0])
    juris = scn.sites["jurisdiction"].astype(str).to_numpy()[si]
    frame = pd.DataFrame({"jurisdiction": juris, "rigs": rigs, "hashrate_ths": rigs * econ.hashrate_ths[gi],
                          "expected_usd": rigs * expected_per_rig, "realised_usd": rigs * realised_per_rig})
    table = frame.groupby("jurisdiction", sort=True, as_index=False).sum()
    table["ban_month"] = pd.array([history.bans.get(j) for j in table["jurisdiction"]], dtype="Int64")
    table["realised_minus_expected_usd"] = table["realised_usd"] - table["expected_usd"]
    table = table[JURISDICTION_COLUMNS]
    expected = float(frame["expected_usd"].sum()) + plan.constant_usd
    summary = {
        "realised_npv_usd": realised,
        "expected_npv_usd": expected,
        "sell_all_usd": plan.sell_all_usd,
        "realised_vs_sell_all_usd": realised - plan.sell_all_usd,
        "expected_vs_sell_all_usd": expected - plan.sell_all_usd,
        "other_usd": plan.constant_usd,
        "rigs_relocated": float(rigs.sum()),
        "bans": [{"jurisdiction": j, "ban_month": m, **({"end_month": history.end_months[j]} if j in history.end_months else {})}
                 for j, m in sorted(history.bans.items())],
        "horizon_months": scn.settings.horizon.months,
        "risk_aversion": scn.settings.policy.risk_aversion,
    }
    return Backtest(summary, table, tuple(history.warnings))


def run(scenario: Scenario, history_dir: str | Path, plan_csv: str | Path | None = None) -> Backtest:
    """The CLI's backtest: history checked, the given allocation.csv (or the solved plan) valued."""
    history = load_history(history_dir, scenario)
    plan = read_plan(scenario, economics.compute(scenario), plan_csv) if plan_csv else None
    return backtest(scenario, history, plan)
