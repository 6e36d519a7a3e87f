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

import datetime
import re

import numpy as np
import pandas as pd

from optimizer.inputs import names
from optimizer.inputs import tables as T
from optimizer.inputs.errors import Problem
from optimizer.inputs.notes import InputWarning
from optimizer.economics.monthly import resale_path  # f_t of SPEC section 8, the one definition

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


def sampled_resale(scn, factor: np.ndarray | None, beta: float) -> np.ndarray | None:
    """f_k,t = f_t * factor_k,t^beta (K, H): resale that follows the sampled hashprice (SPEC section 9).

    None (no resale.csv written: every sample has the scenario's path f_t) when beta is 0 or every
    hashprice factor is 1 (volatility 0), the two cases where f_k,t = f_t exactly. Month 0 is f_0 = 1
    because the sampler's factor_k,0 = 1.
    """
    if beta == 0 or factor is None:
        return None
    return resale_path(scn)[None, :] * factor ** float(beta)


# ---------------------------------------------------------------------------- calendar months and names
#
# A history or a sample set is often typed from a calendar: months as 2021-07, 7/1/2021 (Excel's US
# date), 01.07.2021, Jul 2021, or an Excel serial day number (44378). With horizon.start_month
# (month 0's calendar month) they are read as months of the horizon, t = 12 (year - y0) + (month - m0),
# and a note says so; without it they are bad input with a hint saying how. A date inside a month is
# that month (2022-01-24 -> January 2022): stops begin at the start of a month in this model.

MONTH_COLUMNS = ("month", "ban_month", "end_month")
_YM = re.compile(r"^(\d{4})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?(?:[T ][0-9:.]*)?$")  # 2021-07, 2021-07-01, 2021/7/1
_XXY = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?: [0-9:.]*)?$")  # 7/1/2021, 01.07.2021, 07-01-2021
_MY = re.compile(r"^(\d{1,2})[/.-](\d{4})$")  # 07/2021
_NAMED = re.compile(r"^([A-Za-z]{3,9})\.?[ \-/,]*'?(\d{4}|\d{2})$")  # Jul 2021, July-2021, Jul-21
_YNAMED = re.compile(r"^(\d{4})[ \-/]([A-Za-z]{3,9})$")  # 2021 Jul
EXCEL_SERIAL_RANGE = (36526, 73051)  # Excel day numbers of 2000-01-01 .. 2100-01-01
_EXCEL_EPOCH = datetime.date(1899, 12, 30)


_FULL_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                "november", "december")


def _named_month(word: str) -> int | None:
    """1..12 for an English month name or its abbreviation of 3+ letters ("Jul", "Sept", "July"), else None."""
    w = word.lower()
    return next((i for i, full in enumerate(_FULL_MONTHS, 1) if len(w) >= 3 and full.startswith(w)), None)


def _calendar(cell: str, order: str) -> tuple[int, int] | None:
    """(year, month) of a calendar cell, or None when it is not one. ``order``: "md" or "dm" for d/d/yyyy."""
    m = _YM.match(cell)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = _XXY.match(cell)
    if m:
        a, sep, b, year = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
        return (year, a) if order == "md" and sep != "." else (year, b)
    m = _MY.match(cell)
    if m:
        return int(m.group(2)), int(m.group(1))
    m = _NAMED.match(cell)
    if m and _named_month(m.group(1)):
        year = int(m.group(2))
        return (year + 2000 if year < 100 else year), _named_month(m.group(1))
    m = _YNAMED.match(cell)
    if m and _named_month(m.group(2)):
        return int(m.group(1)), _named_month(m.group(2))
    if re.fullmatch(r"\d{5}(\.0+)?", cell) and EXCEL_SERIAL_RANGE[0] <= float(cell) < EXCEL_SERIAL_RANGE[1]:
        day = _EXCEL_EPOCH + datetime.timedelta(days=int(float(cell)))
        return day.year, day.month
    return None


def _day_order(cells: list[str]) -> tuple[str | None, str]:
    """How d/d/yyyy cells of one column read: "md" (US), "dm", or None when they contradict each other.

    A part above 12 settles it; otherwise the reading whose day part is the same in every cell (a monthly
    table is typed on one day of each month, usually the 1st); otherwise the US order Excel writes."""
    pairs = [(int(m.group(1)), int(m.group(3))) for m in map(_XXY.match, cells) if m and m.group(2) != "."]
    if not pairs:
        return "md", ""
    md_ok = all(b <= 31 and 1 <= a <= 12 for a, b in pairs)
    dm_ok = all(a <= 31 and 1 <= b <= 12 for a, b in pairs)
    if md_ok and not dm_ok:
        return "md", "month/day/year"
    if dm_ok and not md_ok:
        return "dm", "day/month/year"
    if not (md_ok or dm_ok):
        return None, ""
    if len({b for _, b in pairs}) == 1 and len({a for a, _ in pairs}) > 1:
        return "md", "month/day/year (the day is the same in every row)"
    if len({a for a, _ in pairs}) == 1 and len({b for _, b in pairs}) > 1:
        return "dm", "day/month/year (the day is the same in every row)"
    return "md", "month/day/year, as US Excel writes dates"


def calendar_months(frame: pd.DataFrame, file: str, start_month: str | None,
                    columns: tuple[str, ...] = MONTH_COLUMNS
                    ) -> tuple[pd.DataFrame, list[Problem], list[InputWarning], set[tuple[int, str]]]:
    """The string frame with calendar cells of ``columns`` turned into months of the horizon.

    Returns (frame, problems, notes, quiet): problems for calendar cells without ``horizon.start_month``
    (one per column, at its first such row), before it, or with contradicting day orders (each naming
    file, row, column); one note per converted column; ``quiet``: the (row, column) cells already
    covered by a problem, which the table's own checks must not report again as "not a number".
    """
    problems: list[Problem] = []
    notes: list[InputWarning] = []
    quiet: set[tuple[int, str]] = set()
    start = tuple(int(x) for x in start_month.split("-")) if start_month else None
    frame = frame.copy()
    for col in columns:
        if col not in frame.columns:
            continue
        cells = ["" if c is None else str(c).strip() for c in frame[col].tolist()]
        rows = frame["_row"].tolist()
        order, how = _day_order(cells)
        converted: list[tuple[int, str, int]] = []
        unanchored: list[tuple[int, str, int, int]] = []
        for i, (r, cell) in enumerate(zip(rows, cells)):
            if cell == "" or re.fullmatch(r"[+-]?\d{1,4}(\.0*)?", cell):
                continue  # a month number (or empty): the table's own checks read it
            ym = _calendar(cell, order or "md")
            if ym is None:
                continue
            if order is None and _XXY.match(cell):
                problems.append(Problem(file, int(r), col, f"'{cell}' is a date whose day and month order differs "
                                        "from other rows", "write the months as YYYY-MM, e.g. 2021-07"))
                continue
            year, month = ym
            if not 1 <= month <= 12:
                problems.append(Problem(file, int(r), col, f"'{cell}' is not a calendar month",
                                        "write it as YYYY-MM, e.g. 2021-07, or as a month number 0..H-1"))
                continue
            if start is None:
                unanchored.append((int(r), cell, year, month))
                continue
            t = 12 * (year - start[0]) + (month - start[1])
            if t < 0:
                problems.append(Problem(file, int(r), col, f"'{cell}' ({year:04d}-{month:02d}) is before month 0 of "
                                        f"the horizon (horizon.start_month = {start_month})",
                                        "leave out what happened before the decision"))
                continue
            frame.iat[i, frame.columns.get_loc(col)] = str(t)
            converted.append((int(r), cell, t))
        if unanchored:  # one problem per column: the same hint would repeat on every row
            r0, c0 = unanchored[0][:2]
            earliest = min((y, m) for _, _, y, m in unanchored)
            others = f" (so are {len(unanchored) - 1} more rows)" if len(unanchored) > 1 else ""
            problems.append(Problem(file, r0, col, f"'{c0}' is a calendar month{others}; {col} is a month of the "
                                    "horizon, 0 = the decision month",
                                    f"set horizon.start_month = \"YYYY-MM\" (month 0's calendar month; the earliest "
                                    f"here is {earliest[0]:04d}-{earliest[1]:02d}) in scenario.toml to have calendar "
                                    "months converted, or write month numbers"))
            quiet.update((r, col) for r, *_ in unanchored[1:])
        if converted:
            r0, c0, t0 = converted[0]
            rows_text = f"rows {converted[0][0]}-{converted[-1][0]}" if len(converted) > 1 else f"row {r0}"
            reading = f", dates read as {how}" if how and any(_XXY.match(c) for _, c, _ in converted) else ""
            notes.append(InputWarning(file, r0, col, c0, f"calendar months read as months of the horizon from "
                                      f"horizon.start_month = {start_month} ('{c0}' is month {t0}; {rows_text}"
                                      f"{reading})", "calendar months", None, "month"))
    return frame, problems, notes, quiet


def match_jurisdictions(frame: pd.DataFrame, file: str, known: list[str]) -> tuple[pd.DataFrame, list[InputWarning]]:
    """``jurisdiction`` cells in sites.csv's spelling, by the name rules of sites.csv (optimizer/inputs/names.py:
    case, spaces, invisible characters and Unicode form ignored), with a note per rewritten cell.
    Unknown names are left as typed (the caller reports them)."""
    if "jurisdiction" not in frame.columns:
        return frame, []
    lookup: dict[str, str] = {}
    for k in known:
        lookup.setdefault(names.canon(k), k)
    frame = frame.copy()
    notes = []
    values = []
    for r, cell in zip(frame["_row"].tolist(), frame["jurisdiction"].tolist()):
        text = "" if cell is None else str(cell)
        read = lookup.get(names.canon(text), text) if text.strip() else text
        if read != text and read != text.strip():
            notes.append(InputWarning(file, int(r), "jurisdiction", text, f"'{text}' is read as '{read}' (the two "
                                      f"{names.difference(text, read)})", read, None, "name"))
        values.append(read)
    frame["jurisdiction"] = values
    return frame, notes


# ---------------------------------------------------------------------------- unit slips in factors and histories
#
# Sample-set factors multiply the scenario's path: 1 = as the scenario says. Rules (SPEC section 9):
# - bad input (exit 2): a factor that makes a hashprice above settings.MAX_HASHPRICE_USD_TH_DAY (1e5 USD
#   per TH/s per day, the limit every derived hashprice has; 1e308 would overflow every sum to inf);
#   a file whose median factor is above FACTOR_MEDIAN_MAX (10): factors typed as percents (100 = 1x).
#   The sampler's own factors have median exp(-sigma^2 t / 2) <= 1, so no drawn set comes near it.
# - warning: a month-0 hashprice factor outside [1/2, 2] (month 0 is today, known when deciding: the
#   sampler writes exactly 1); a sample listed in the file without every month 0..H-1 (the missing months
#   are priced at factor 1, SPEC section 7's rule for absent rows: said, not silent); samples with no rows
#   while others have some (the scenario's path in every month for them).
#   Each is silenced by [checks] confirm = ["hashprice.csv:factor"] (or "...:month", "resale.csv:...").
# Histories: market.csv's realised hashprice against the scenario's own path hp_t: a median ratio above
# HISTORY_RATIO_MAX (30) or below 1 / HISTORY_RATIO_MAX is not a history of this scenario's market but a
# unit slip (USD per PH/s per day is 1,000x, per GH/s 1/1,000x): bad input with the likely unit. Hashprice
# never moved 30-fold within a planning horizon (0.0459 to 0.5 USD per TH/s per day, 2016-2025).

FACTOR_MEDIAN_MAX = 10.0
MONTH0_RANGE = (0.5, 2.0)
HISTORY_RATIO_MAX = 30.0


def review_factors(frame: pd.DataFrame, file: str, sample_pos: np.ndarray, n_samples: int, horizon: int,
                   path: np.ndarray, what: str, problems: list[Problem], warnings: list[InputWarning]) -> None:
    """The unit-slip review of hashprice.csv (``what`` = "hashprice", ``path`` = hp_t in USD/TH/s/day) or
    resale.csv (``what`` = "resale", ``path`` = f_t) of a sample set; see the rules above.

    ``frame``: the typed table (sample, month, factor, _row); ``sample_pos``: each row's index in samples.csv.
    """
    from optimizer.inputs.settings import MAX_HASHPRICE_USD_TH_DAY

    if not len(frame):
        return
    f = frame["factor"].to_numpy(float)
    month = frame["month"].to_numpy(np.int64)
    rows = frame["_row"].to_numpy()
    median = float(np.median(f))
    if median > FACTOR_MEDIAN_MAX:
        i = int(np.argmax(f >= median))
        problems.append(Problem(file, int(rows[i]), "factor", f"factors are multipliers of the scenario's {what} "
                                f"(1 = as the scenario says); their median here is {median:,.6g}",
                                "percents? a factor is a multiplier: write 1 for 100%, i.e. divide every factor by 100" if median >= 20 else
                                "check the unit: 2 means twice the scenario's value"))
        return
    if what == "hashprice":
        hp = f * np.asarray(path, float)[np.clip(month, 0, horizon - 1)]
        for i in np.flatnonzero(~(hp <= MAX_HASHPRICE_USD_TH_DAY))[:10]:
            problems.append(Problem(file, int(rows[i]), "factor", f"{f[i]:.6g} makes a hashprice of {hp[i]:.3g} USD "
                                    f"per TH/s per day in month {month[i]}; the tool accepts at most "
                                    f"{MAX_HASHPRICE_USD_TH_DAY:g}", "a factor multiplies the scenario's hashprice: "
                                    "1 = unchanged"))
        zero = (month == 0) & ((f < MONTH0_RANGE[0]) | (f > MONTH0_RANGE[1]))
        for i in np.flatnonzero(zero)[:3]:
            warnings.append(InputWarning(file, int(rows[i]), "factor", f"{f[i]:g}", f"month 0 is today, whose hashprice "
                                         f"is known: a factor of {f[i]:g} there means today's hashprice is {f[i]:g} times "
                                         "the scenario's (the sampler writes 1)", "1 in month 0", f"{file}:factor"))
    counts = np.bincount(sample_pos, minlength=n_samples)
    short = np.flatnonzero((counts > 0) & (counts < horizon))
    if len(short):
        k = int(short[0])
        sel = sample_pos == k
        missing = sorted(set(range(horizon)) - set(month[sel].tolist()))
        shown = ", ".join(map(str, missing[:6])) + (", ..." if len(missing) > 6 else "")
        fill = "factor 1 (the scenario's hashprice)" if what == "hashprice" else "the scenario's resale path"
        more = f" (and {len(short) - 1} more samples)" if len(short) > 1 else ""
        warnings.append(InputWarning(file, int(rows[sel][0]), "month", str(frame["sample"].to_numpy()[sel][0]),
                                     f"sample {frame['sample'].to_numpy()[sel][0]} lacks months {shown} of 0..{horizon - 1}"
                                     f"{more}: they are priced at {fill}", f"every month 0..{horizon - 1}",
                                     f"{file}:month"))
    absent = int((counts == 0).sum())
    if 0 < absent < n_samples:
        fill = "factor 1 in every month" if what == "hashprice" else "the scenario's resale path"
        warnings.append(InputWarning(file, None, "sample", str(absent), f"{absent} of {n_samples} samples have no rows "
                                     f"here: they are priced at {fill}", "a row per sample and month",
                                     f"{file}:sample"))


def review_history_hashprice(market: pd.DataFrame, file: str, assumed: np.ndarray) -> list[Problem]:
    """A history's market.csv whose hashprice is about 1,000x (USD/PH/day) or 1/1,000x (USD/GH/day) the
    scenario's own path hp_t ``assumed`` (H,): bad input naming the file, a row and the likely unit."""
    months = market["month"].to_numpy(np.int64)
    hp = market["hashprice_usd_th_day"].to_numpy(float)
    ok = (months >= 0) & (months < len(assumed))
    base = np.asarray(assumed, float)[months[ok]]
    use = base > 0
    if not use.any():
        return []
    ratio = hp[ok][use] / base[use]
    median = float(np.median(ratio))
    rows = market["_row"].to_numpy()[ok][use]
    if median > HISTORY_RATIO_MAX:
        likely, meant = "USD per PH/s per day", "divide by 1,000"
    elif median < 1 / HISTORY_RATIO_MAX and median > 0:
        likely, meant = "USD per GH/s per day", "multiply by 1,000"
    else:
        return []
    i = int(np.argmin(np.abs(ratio - median)))
    return [Problem(file, int(rows[i]), "hashprice_usd_th_day",
                    f"the realised hashprice is {median:,.4g} times the scenario's own hashprice (median over the "
                    f"months; {hp[ok][use][i]:g} against {base[use][i]:.4g} USD per TH/s per day here)",
                    f"is it in {likely}? hashprice_usd_th_day is USD per TH/s per day: {meant}")]
