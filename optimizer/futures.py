"""Futures that look like the record (SPEC section 9, and section 8's ``end_month``): stops that end,
resale factors that move with hashprice, and the unit-slip review of sample sets and histories.

Stops that end
--------------
bans.csv of a sample set or of a history may carry ``end_month`` (integer, > ban_month, <= H; an
empty cell or no column = H): mining in that jurisdiction stops in months ban_month <= t < end_month
and resumes from the start of end_month. B_k,t of section 7 becomes 0 only in those months, in every
computation that uses it (``SampleSet.ban_indicator``, ``risk.relocation_values``, ``risk.npv_by_sample``,
``risk.operating_paths``, hence the risk-aware plan's outcome matrix and the backtest). Without the
column every result is what it was (the added term is exactly 0 when end_month = H).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import tables as T
from .errors import Problem

END_ABSENT = -1.0  # what an empty end_month cell reads as before ``end_months`` turns it into H


def _end_check(v: np.ndarray) -> np.ndarray:
    return (v >= 1) | (v == END_ABSENT)


END_MONTH = T.Column("end_month", "integer", "month",
                     "mining resumes from the start of this month (0-based); empty: the stop lasts to the horizon",
                     END_ABSENT, _end_check, "> ban_month and <= the horizon H; empty = H")


def refuse_typed_sentinel(frame: pd.DataFrame, file: str) -> list[Problem]:
    """An end_month typed as -1 (the value an empty cell stands for internally) is out of range, not "no end"."""
    if "end_month" not in frame.columns:
        return []
    out = []
    for r, cell in zip(frame["_row"].tolist(), frame["end_month"].tolist()):
        text = "" if cell is None else str(cell).strip()
        try:
            typed_sentinel = text != "" and float(text) == END_ABSENT
        except ValueError:
            typed_sentinel = False
        if typed_sentinel:
            out.append(Problem(file, int(r), "end_month", f"{text} is out of range: must be > ban_month",
                               "leave the cell empty for a stop that lasts to the horizon"))
    return out


def end_months(typed: pd.DataFrame, file: str, horizon: int, problems: list[Problem]) -> np.ndarray:
    """The end month of each bans.csv row (H where empty or absent), checked: ban_month < end_month <= H.

    ``typed`` is the validated frame (columns ban_month and, optionally, end_month); problems are appended
    with the file, the spreadsheet row and the column.
    """
    ban = typed["ban_month"].to_numpy(np.int64)
    if "end_month" not in typed.columns:
        return np.full(len(typed), horizon, np.int64)
    end = typed["end_month"].to_numpy(np.int64)
    end = np.where(end == int(END_ABSENT), horizon, end)
    rows = typed["_row"].to_numpy()
    for i in np.flatnonzero((end <= ban) | (end > horizon)):
        if end[i] <= ban[i]:
            problems.append(Problem(file, int(rows[i]), "end_month",
                                    f"{end[i]} is not after ban_month {ban[i]}: a stop ends after it begins",
                                    "end_month is the first month mining runs again; leave it empty for no end"))
        else:
            problems.append(Problem(file, int(rows[i]), "end_month",
                                    f"{end[i]} is beyond the horizon: must be at most {horizon}",
                                    f"leave it empty (= {horizon}) for a stop that lasts to the horizon"))
    return end


# ---------------------------------------------------------------------------- the sampler's stops and resale


def stop_ends(rng: np.random.Generator, ban: np.ndarray, months: int, permanent_share: float,
              stop_months: int) -> np.ndarray | None:
    """End months (n, J) for the drawn ban months ``ban`` (H = no stop), or None when every stop is permanent.

    Each drawn stop is permanent with probability ``permanent_share`` (one uniform per sample and
    jurisdiction, drawn from ``rng`` after the bans and hashprice steps, so a seed's bans and factors do
    not depend on these settings), else it lasts ``stop_months`` months: end = min(ban + stop_months, H).
    A jurisdiction stops at most once per sample (bans.csv has one row per sample and jurisdiction).
    """
    if permanent_share >= 1:
        return None
    permanent = rng.random(ban.shape) < permanent_share
    lasting = permanent | (ban >= months)
    return np.where(lasting, months, np.minimum(ban + int(stop_months), months)).astype(np.int64)


def resale_path(scn) -> np.ndarray:
    """f_t (H,): the scenario's resale path of SPEC section 8. A ``resale`` table on the scenario (resale.csv:
    month, factor; the section 8 input, once the scenario loader reads it) gives it month by month; without
    one, f_t = salvage_fraction^(t / H), a geometric decline from 1 today to the salvage value."""
    H = scn.settings.horizon.months
    table = getattr(scn, "resale", None)
    if table is not None and len(table):
        f = np.ones(H)
        f[table["month"].to_numpy(np.int64)] = table["factor"].to_numpy(float)
        return f
    return float(scn.settings.horizon.salvage_fraction) ** (np.arange(H) / H)


def sampled_resale(scn, factor: np.ndarray | None, beta: float) -> np.ndarray | None:
    """f_k,t = f_t * factor_k,t^beta (K, H): resale that follows the sampled hashprice (SPEC section 9).

    None (no resale.csv written: every sample has the scenario's path f_t) when beta is 0 or every
    hashprice factor is 1 (volatility 0), the two cases where f_k,t = f_t exactly. Month 0 is f_0 = 1
    because the sampler's factor_k,0 = 1.
    """
    if beta == 0 or factor is None:
        return None
    return resale_path(scn)[None, :] * factor ** float(beta)
