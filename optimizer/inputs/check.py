"""One consistency check of a scenario, PyPSA's ``consistency_check`` style: ``check(scn) -> (problems, warnings)``
runs every named check of ``CHECKS`` once, in order.

Problems are bad input (the caller raises ``ScenarioError`` with them: exit 2 in the CLI); warnings are
possible but unlikely values with the likely slip (``InputWarning``). The checks here relate a scenario's
settings to its tables, and review its numbers as a whole; what concerns one table alone (types, each
column's rule, the key, references between files, name variants) is validated whenever tables are read
or edited (``scenario.validate_frames``). Callers: the loader, ``Scenario.with_overrides`` and
``with_tables``, ``engine.prepare`` (before every solve), the risk stage and ``rigshift validate``.

Named checks:

- ``exclusions``: every excluded jurisdiction and site is one of sites.csv (a typo would exclude nothing);
- ``market``: market.csv gives every month 0 .. H-1 once, and then no other hashprice path is set;
- ``duty``: duty.csv's jurisdictions are sites.csv's (``duty.check_duty``);
- ``availability``, ``power``: availability.csv and power.csv name sites of sites.csv and months below
  horizon.months;
- ``plausibility``: unit slips (``plausibility.review``: the warnings the tables got when read, the
  checks involving settings, physically impossible numbers as problems; ``[checks] confirm`` drops
  confirmed warnings).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Mapping

import pandas as pd

from optimizer.inputs import names, plausibility
from optimizer.inputs import tables as T
from optimizer.inputs.errors import Problem
from optimizer.inputs.notes import InputWarning
from optimizer.inputs.settings import TOML_FILE, Settings, path_problems
from optimizer.inputs.monthly import check_tables
from optimizer.inputs.duty import check_duty
from optimizer.inputs.availability import check_availability, check_power

if TYPE_CHECKING:
    from optimizer.inputs.scenario import Scenario

Sources = Mapping[str, str]  # setting key -> where it was given ("--set"); absent: scenario.toml


def check_exclusions(settings: Settings, sites: pd.DataFrame, source: str | Mapping[str, str]) -> list[Problem]:
    """Every excluded jurisdiction and site must be in sites.csv: a typo would otherwise exclude nothing.

    ``source`` names where the settings came from: one file for both keys, or a file per key.
    """
    problems = []
    pol = settings.policy
    for key, wanted, column, what in (
        ("policy.exclude_jurisdictions", pol.exclude_jurisdictions, "jurisdiction", "a jurisdiction"),
        ("policy.exclude_sites", getattr(pol, "exclude_sites", ()), "site", "a site"),
    ):
        if not wanted:
            continue  # nothing excluded: nothing to look up among thousands of sites
        known = sorted(set(sites[column].tolist()))
        where = source if isinstance(source, str) else source.get(key, TOML_FILE)
        for name in names.match_names(wanted, known)[1]:
            if name not in known:
                problems.append(Problem(where, None, key, f"'{name}' is not {what} of sites.csv",
                                        T._did_you_mean(name, known) or (f"{column}s are: " + ", ".join(known[:10])
                                                                          + (" ..." if len(known) > 10 else ""))))
    return problems


def check_market(settings: Settings, market: pd.DataFrame, sources: Mapping[str, str]) -> list[Problem]:
    """SPEC section 6's rules for market.csv: it gives every month 0 .. H-1 exactly once, and then the
    settings give no other hashprice path (their keys must be absent). No problems without market.csv."""
    if market is None or not len(market):
        return []
    H = settings.horizon.months
    problems = path_problems(settings, sources, TOML_FILE, market_csv=True)
    rows = market["_row"].to_numpy() if "_row" in market.columns else range(2, len(market) + 2)
    for r, month in zip(rows, market["month"].astype(int)):
        if month >= H:
            problems.append(Problem(T.MARKET.file, int(r), "month", f"month {month} is beyond the horizon "
                                    f"(horizon.months = {H}: months 0 to {H - 1})",
                                    "remove the row, or lengthen horizon.months"))
    missing = sorted(set(range(H)) - set(market["month"].astype(int)))
    if missing:
        listed = ", ".join(str(m) for m in missing[:10]) + (" ..." if len(missing) > 10 else "")
        problems.append(Problem(T.MARKET.file, None, "month", f"has no row for month {listed}",
                                f"market.csv gives the hashprice of every month 0 to {H - 1} (horizon.months = {H})"))
    return problems


def _exclusions(scn: "Scenario", sources: Sources | None) -> tuple[list[Problem], list[InputWarning]]:
    return check_exclusions(scn.settings, scn.sites, "scenario settings" if sources is None else sources), []


def _market(scn: "Scenario", sources: Sources | None) -> tuple[list[Problem], list[InputWarning]]:
    return check_market(scn.settings, scn.market, sources or {}), []


def _plausibility(scn: "Scenario", sources: Sources | None) -> tuple[list[Problem], list[InputWarning]]:
    return plausibility.review(scn)


def _monthly(scn: "Scenario", sources: Sources | None) -> tuple[list[Problem], list[InputWarning]]:
    """SPEC section 8's files (online_month, resale.csv, state.csv, bans.csv) under the [monthly] settings."""
    tables = {n: getattr(scn, n) for n in ("fleet", "sites", "resale", "state", "bans")}
    return check_tables(scn.settings, tables, sources or {}), []


def _duty(scn: "Scenario", sources: Sources | None) -> tuple[list[Problem], list[InputWarning]]:
    """duty.csv's jurisdictions are sites.csv's; warnings for made_in no rig has and for percents."""
    problems, warnings = check_duty(scn)
    confirmed = {names.canon(c) for c in plausibility.confirmations(scn.settings)}
    return problems, [w for w in warnings if not (w.confirm and names.canon(w.confirm) in confirmed)]


def _availability(scn: "Scenario", sources: Sources | None) -> tuple[list[Problem], list[InputWarning]]:
    """availability.csv's sites are sites of sites.csv and its months below horizon.months."""
    return check_availability(scn.settings, scn.sites, getattr(scn, "availability", None)), []


def _power(scn: "Scenario", sources: Sources | None) -> tuple[list[Problem], list[InputWarning]]:
    """power.csv's sites are sites of sites.csv and its months below horizon.months."""
    return check_power(scn.settings, scn.sites, getattr(scn, "power", None)), []


CHECKS: dict[str, Callable[["Scenario", Sources | None], tuple[list[Problem], list[InputWarning]]]] = {
    "exclusions": _exclusions,
    "market": _market,
    "plausibility": _plausibility,
    "monthly": _monthly,
    "duty": _duty,
    "availability": _availability,
    "power": _power,
}


def check(scn: "Scenario", sources: Sources | None = None,
          only: Iterable[str] | None = None) -> tuple[list[Problem], list[InputWarning]]:
    """(problems, warnings) of every named check of ``CHECKS`` (or of those named in ``only``), each run once.

    ``sources`` says where settings were given (key -> "--set"; absent keys: scenario.toml); None for a
    scenario whose settings are already merged ("scenario settings"). Raises KeyError for an unknown name.
    """
    problems: list[Problem] = []
    warnings: list[InputWarning] = []
    for name in (CHECKS if only is None else list(only)):
        found, noted = CHECKS[name](scn, sources)
        problems += found
        warnings += noted
    return problems, warnings
