"""Seasonal availability and power price paths (issue 21): availability.csv, a site's uptime month by month;
power.csv, a multiplier on a site's power price month by month.

power.csv (optional): ``site``, ``month`` (as availability.csv), ``multiplier`` (> 0): in month t the site's
power price is power_usd_kwh x multiplier (x power_price_multiplier x (1 + power_monthly_change)^t as
before); absent pairs: 1. A scenario uses it for price steps it knows of (a tariff schedule); a history
folder's power.csv (optimizer/risk/backtest.py) reprices power in realised values only.

availability.csv (optional): ``site`` (a site of sites.csv, names matched as elsewhere), ``month``
(integer 0 .. H-1, counted from ``horizon.start_month`` like market.csv), ``uptime`` (0 <= uptime <= 1;
0 is a stop: a winter ban, a summer curtailment). (site, month) is unique; a pair without a row takes
the site's sites.csv ``uptime``. In month t the row's uptime u[s, t] replaces sites.csv's uptime in
SPEC section 2's rev_t and pow_t (and the management fee's kWh), and so in sections 6, 7 and 8;
hosting (hosting_usd_kw_month) is contracted capacity and is owed in every month regardless.

Column rules (types, the [0, 1] range, a percent such as 80 refused with the hint to write 0.8, the
(site, month) key) are declared in ``optimizer.inputs.tables.AVAILABILITY``; this module checks what
needs other files or the horizon (the site in sites.csv, the month below H) and builds u (``uptime_by_month``).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from optimizer.inputs import tables as T
from optimizer.inputs.errors import Problem


def check_availability(settings: Any, sites: pd.DataFrame, availability: pd.DataFrame | None,
                       file: str = T.AVAILABILITY.file) -> list[Problem]:
    """Problems of availability.csv (or another (site, month) file) against sites.csv and the horizon:
    unknown sites, months >= H."""
    if availability is None or not len(availability):
        return []
    H = settings.horizon.months
    known = set(sites["site"])
    rows = availability["_row"].to_numpy() if "_row" in availability.columns else np.arange(2, len(availability) + 2)
    problems = []
    for r, s, m in zip(rows, availability["site"], availability["month"].astype(int)):
        if s not in known:
            problems.append(Problem(file, int(r), "site", f"unknown site '{s}': not in sites.csv",
                                    T._did_you_mean(s, sorted(known))))
        if m >= H:
            problems.append(Problem(file, int(r), "month", f"month {m} is beyond the horizon (horizon.months = {H}: "
                                    f"months 0 to {H - 1})", "remove the row, or lengthen horizon.months"))
    return problems


def check_power(settings: Any, sites: pd.DataFrame, power: pd.DataFrame | None) -> list[Problem]:
    """Problems of power.csv against sites.csv and the horizon: unknown sites, months >= H."""
    return check_availability(settings, sites, power, T.POWER.file)


def power_by_month(sites: pd.DataFrame, power: pd.DataFrame | None, months: int) -> np.ndarray | None:
    """m[s, t], shape (S, H): power.csv's multiplier on power_usd_kwh where given, else 1; None without the file."""
    if power is None or not len(power):
        return None
    out = np.ones((len(sites), months))
    si = pd.Index(sites["site"]).get_indexer(power["site"])
    t = power["month"].astype(int).to_numpy()
    ok = (si >= 0) & (t >= 0) & (t < months)
    out[si[ok], t[ok]] = power["multiplier"].to_numpy(float)[ok]
    return out


def uptime_by_month(sites: pd.DataFrame, availability: pd.DataFrame | None, months: int) -> np.ndarray | None:
    """u[s, t], shape (S, H): availability.csv's uptime where given, else sites.csv's ``uptime``.

    None when the scenario has no availability.csv (every caller then uses sites.csv's uptime alone,
    exactly as SPEC sections 2-8 say). Rows naming unknown sites or months beyond the horizon are
    left out (``check_availability`` reports them as bad input).
    """
    if availability is None or not len(availability):
        return None
    base = sites["uptime"].to_numpy(float)
    out = np.repeat(base[:, None], months, axis=1)
    si = pd.Index(sites["site"]).get_indexer(availability["site"])
    t = availability["month"].astype(int).to_numpy()
    ok = (si >= 0) & (t >= 0) & (t < months)
    out[si[ok], t[ok]] = availability["uptime"].to_numpy(float)[ok]
    return out
