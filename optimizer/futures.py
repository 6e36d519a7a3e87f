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
