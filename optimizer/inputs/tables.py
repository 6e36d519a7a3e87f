"""The scenario CSVs: their data dictionary, reading, and validation.

Every rule of SPEC section 1 is checked here, and every problem in a file is reported at
once with the file, the spreadsheet row (header = row 1), the column and a hint.
"""
from __future__ import annotations

import csv
import difflib
import io
import math
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from optimizer.inputs import spreadsheet
from optimizer.inputs.errors import Problem
from optimizer.inputs.values import is_missing

Check = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Column:
    """One input column, declared once: validation, every dataset's schema.csv, the README's
    column table (``python -m optimizer.cli.docs``) and the app's editor help read it."""

    name: str
    kind: str  # "text" | "float" | "integer"
    unit: str
    description: str
    default: float | None = None  # None: required
    check: Check | None = None
    demand: str = ""  # the rule in words, e.g. ">= 0"
    label: str = ""  # short, for the app's table editors

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class TableSpec:
    file: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    required: bool = True
    min_rows: int = 1

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


_pos = (lambda v: v > 0, "> 0")
_nonneg = (lambda v: v >= 0, ">= 0")
_lat = (lambda v: (v >= -90) & (v <= 90), "between -90 and 90")
_lon = (lambda v: (v >= -180) & (v <= 180), "between -180 and 180")


def _col(name, kind, unit, label, description, default=None, rule=None):
    check, demand = rule if rule else (None, "")
    return Column(name, kind, unit, description, default, check, demand, label)


RIGS = TableSpec(
    "rigs.csv",
    (
        _col("model", "text", "", "model", "rig model name, unique"),
        _col("hashrate_ths", "float", "TH/s", "hashrate (TH/s)", "hashrate per rig", rule=_pos),
        _col("power_w", "float", "W", "power (W)", "power at the wall per rig", rule=_pos),
        _col("resale_usd", "float", "USD", "resale (USD)", "what one rig fetches on the second-hand market today",
             rule=_nonneg),
        _col("made_in", "text", "", "made in", "country where the rig was manufactured (not where it ships from); "
             "selects its row of duty.csv; empty: the site's import_duty applies", ""),
    ),
    key=("model",),
)
ORIGINS = TableSpec(
    "origins.csv",
    (
        _col("origin", "text", "", "origin", "where part of the fleet stands now, unique"),
        _col("country", "text", "", "country", "country of the origin"),
        _col("lat", "float", "degrees", "latitude", "latitude", rule=_lat),
        _col("lon", "float", "degrees", "longitude", "longitude", rule=_lon),
    ),
    key=("origin",),
)
FLEET = TableSpec(
    "fleet.csv",
    (
        _col("origin", "text", "", "origin", "an origin of origins.csv"),
        _col("model", "text", "", "model", "a model of rigs.csv; (origin, model) unique"),
        _col("count", "integer", "rigs", "rigs", "rigs of this model at this origin", rule=_nonneg),
    ),
    key=("origin", "model"),
)
SITES = TableSpec(
    "sites.csv",
    (
        _col("site", "text", "", "site", "candidate destination, unique"),
        _col("jurisdiction", "text", "", "jurisdiction", "country, or state/province"),
        _col("lat", "float", "degrees", "latitude", "latitude", rule=_lat),
        _col("lon", "float", "degrees", "longitude", "longitude", rule=_lon),
        _col("capacity_mw", "float", "MW", "capacity (MW)", "power available to us at the site", rule=_nonneg),
        _col("power_usd_kwh", "float", "USD/kWh", "power (USD/kWh)", "all-in electricity price", rule=_nonneg),
        _col("hosting_usd_kw_month", "float", "USD/kW/month", "hosting (USD/kW/month)",
             "other opex per kW of rig nameplate per month, owed whether or not the rig runs", 0.0, _nonneg),
        _col("mgmt_fee_usd_kwh", "float", "USD/kWh", "management fee (USD/kWh)",
             "the host's management fee per kWh the rig draws (the kWh of power_usd_kwh), owed only while it runs",
             0.0, _nonneg),
        _col("pue", "float", "ratio", "PUE", "facility overhead (cooling etc.)", 1.0, (lambda v: v >= 1, ">= 1")),
        _col("uptime", "float", "share", "uptime", "share of time running (curtailment, outages)", 1.0,
             (lambda v: (v > 0) & (v <= 1), "in (0, 1]")),
        _col("reg_risk", "float", "per year", "ban risk (per year)",
             "annual probability that mining there is forced to stop", 0.0,
             (lambda v: (v >= 0) & (v < 1), "in [0, 1)")),
        _col("import_duty", "float", "share of resale_usd", "import duty",
             "duty and taxes as a fraction of resale value, paid on arrival", 0.0, _nonneg),
        _col("fixed_cost_usd", "float", "USD", "fixed cost (USD)", "one-time cost to open the site", 0.0, _nonneg),
        _col("min_mw", "float", "MW", "minimum (MW)", "if opened, at least this much must be used", 0.0, _nonneg),
        _col("power_monthly_change", "float", "per month", "power price change (per month)",
             "the site's power price multiplies by (1 + power_monthly_change) each month (escalation)", 0.0,
             (lambda v: v > -1, "> -1")),
        _col("online_month", "integer", "month", "online from (month)",
             "the site's capacity exists from the start of this month (0-based, below horizon.months); a rig there "
             "starts running at max(lead, D x online_month) days", 0.0, _nonneg),
    ),
    key=("site",),
)
LANES = TableSpec(
    "lanes.csv",
    (
        _col("origin", "text", "", "origin", "an origin of origins.csv"),
        _col("site", "text", "", "site", "a site of sites.csv; (origin, site) unique"),
        _col("ship_usd_per_rig", "float", "USD/rig", "freight (USD per rig)", "freight quote per rig", rule=_nonneg),
        _col("lead_days", "float", "days", "lead time (days)", "door-to-door lead time until the rig hashes",
             rule=_nonneg),
    ),
    key=("origin", "site"),
    required=False,
    min_rows=0,
)
MARKET = TableSpec(
    "market.csv",
    (
        _col("month", "integer", "month", "month", "month t of the horizon, 0-based; every month 0 .. H-1 exactly once",
             rule=_nonneg),
        _col("hashprice_usd_th_day", "float", "USD/TH/s/day", "hashprice (USD per TH/s per day)",
             "hp_t, the hashprice in month t (a forecast, or the realised history for a backtest)", rule=_nonneg),
    ),
    key=("month",),
    required=False,
    min_rows=0,
)
# SPEC section 8 (the monthly plan): the second-hand price path, what has been done, known stops.
RESALE = TableSpec(
    "resale.csv",
    (
        _col("month", "integer", "month", "month", "month t of the horizon, 0-based; every month 0 .. H-1 exactly once",
             rule=_nonneg),
        _col("factor", "float", "multiple of resale_usd", "resale factor",
             "f_t: a rig sold at the start of month t fetches resale_usd x f_t; exactly 1 in month 0", rule=_pos),
    ),
    key=("month",),
    required=False,
    min_rows=0,
)
STATE = TableSpec(
    "state.csv",
    (
        _col("action", "text", "", "action", "ship, sell or sell_at_site: a decision already carried out"),
        _col("origin", "text", "", "origin", "an origin of fleet.csv"),
        _col("model", "text", "", "model", "a model of fleet.csv at that origin"),
        _col("site", "text", "", "site", "for ship and sell_at_site: a site of sites.csv; empty for sell", ""),
        _col("month", "integer", "month", "month", "the month the decision was carried out, below monthly.replan_month",
             rule=_nonneg),
        _col("rigs", "float", "rigs", "rigs", "rigs shipped or sold", rule=_pos),
    ),
    key=(),
    required=False,
    min_rows=0,
)
KNOWN_BANS = TableSpec(
    "bans.csv",
    (
        _col("jurisdiction", "text", "", "jurisdiction", "a jurisdiction of sites.csv"),
        _col("ban_month", "integer", "month", "stop from (month)", "mining there stops from the start of this month",
             rule=_nonneg),
        _col("end_month", "integer", "month", "stop ends (month)",
             "mining resumes from the start of this month (> ban_month, at most H); empty: never within the horizon",
             -1.0, (lambda v: v >= -1, "> ban_month and at most horizon.months (empty: never)")),
    ),
    key=("jurisdiction", "ban_month"),
    required=False,
    min_rows=0,
)
# Duty by the country a rig was made in: overrides sites.csv's import_duty for matching (jurisdiction, made_in).
DUTY = TableSpec(
    "duty.csv",
    (
        _col("jurisdiction", "text", "", "jurisdiction", "a jurisdiction of sites.csv"),
        _col("made_in", "text", "", "made in", "a country of manufacture, as in rigs.csv's made_in; "
             "(jurisdiction, made_in) unique"),
        _col("import_duty", "float", "share of resale_usd", "import duty",
             "duty and taxes on a rig made there arriving at any site of the jurisdiction, as a fraction of "
             "resale value (0.576 means 57.6%); replaces the site's import_duty for these rigs", rule=_nonneg),
    ),
    key=("jurisdiction", "made_in"),
    required=False,
    min_rows=0,
)
# Seasonal availability (issue 21): a site's uptime month by month; optimizer/inputs/availability.py checks it.
AVAILABILITY = TableSpec(
    "availability.csv",
    (
        _col("site", "text", "", "site", "a site of sites.csv"),
        _col("month", "integer", "month", "month", "month t of the horizon, 0-based (below horizon.months), counted "
             "from horizon.start_month like market.csv", rule=_nonneg),
        _col("uptime", "float", "share", "uptime in the month",
             "share of month t the site runs, replacing sites.csv's uptime in that month (0 = a stop: a winter ban, "
             "a summer curtailment); hosting is owed regardless; (site, month) unique, absent pairs: sites.csv's uptime",
             rule=(lambda v: (v >= 0) & (v <= 1), "in [0, 1]")),
    ),
    key=("site", "month"),
    required=False,
    min_rows=0,
)
# A power price path (issue 21): a multiplier on a site's power_usd_kwh month by month (a tariff step, a repricing).
POWER = TableSpec(
    "power.csv",
    (
        _col("site", "text", "", "site", "a site of sites.csv"),
        _col("month", "integer", "month", "month", "month t of the horizon, 0-based (below horizon.months), counted "
             "from horizon.start_month like market.csv", rule=_nonneg),
        _col("multiplier", "float", "multiple of power_usd_kwh", "power price multiplier",
             "the site's power price in month t is power_usd_kwh x multiplier (with power_monthly_change and "
             "power_price_multiplier as before); (site, month) unique, absent pairs: 1", rule=_pos),
    ),
    key=("site", "month"),
    required=False,
    min_rows=0,
)
TABLES: dict[str, TableSpec] = {"rigs": RIGS, "origins": ORIGINS, "fleet": FLEET, "sites": SITES, "lanes": LANES,
                                "market": MARKET, "resale": RESALE, "state": STATE, "bans": KNOWN_BANS,
                                "availability": AVAILABILITY, "power": POWER, "duty": DUTY}
# Tables a scenario has only when their file is there: left out of files() and fingerprint() when empty.
SECTION8_TABLES = ("resale", "state", "bans", "availability", "power", "duty")

# Size limits: a scenario is a planning model, not a data dump. They bound memory for uploads too.
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_PROBLEMS_PER_FILE = 50

_THOUSANDS = re.compile(r"^[+-]?[1-9]\d{0,2}(,\d{3})+(\.\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_SPACE_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([ \u00a0\u202f'’]\d{3})+([.,]\d+)?$")
_EURO_NUMBER = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+,\d+$")
_CONTROL = re.compile(r"[\x00-\x1f]")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
# Cells starting with these are run as formulas by spreadsheets (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# On export, also the full-width forms some spreadsheet locales treat the same way.
_EXPORT_FORMULA_START = _FORMULA_START + ("\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")

# Plausible ranges, beyond SPEC's rules: values outside them are typos or unit mix-ups
# (kW for W, MW for kW), and they would also push the solver outside what it computes
# reliably (HiGHS drops matrix entries below 1e-9 and rejects those above 1e15).
# (file, column) -> (lowest, highest, hint)
PLAUSIBLE: dict[tuple[str, str], tuple[float, float, str]] = {
    ("rigs.csv", "hashrate_ths"): (1e-6, 1e5, "hashrate_ths is in TH/s per rig, e.g. 95 for an Antminer S19"),
    ("rigs.csv", "power_w"): (1.0, 1e7, "power_w is in watts per rig, e.g. 3250 for an Antminer S19"),
    ("rigs.csv", "resale_usd"): (0.0, 1e7, "resale_usd is US dollars per rig"),
    ("fleet.csv", "count"): (0, 1e9, "count is the number of rigs"),
    ("sites.csv", "capacity_mw"): (0.0, 1e6, "capacity_mw is in megawatts"),
    ("sites.csv", "power_usd_kwh"): (0.0, 100.0, "power_usd_kwh is US dollars per kWh, e.g. 0.04"),
    ("sites.csv", "hosting_usd_kw_month"): (0.0, 1e5, "hosting_usd_kw_month is US dollars per kW per month"),
    ("sites.csv", "mgmt_fee_usd_kwh"): (0.0, 1.0, "mgmt_fee_usd_kwh is US dollars per kWh, e.g. 0.004"),
    ("sites.csv", "pue"): (1.0, 10.0, "pue is a ratio, e.g. 1.1"),
    ("sites.csv", "import_duty"): (0.0, 100.0, "import_duty is a fraction: 0.25 means 25%"),
    ("duty.csv", "import_duty"): (0.0, 100.0, "import_duty is a fraction: 0.576 means 57.6%"),
    ("sites.csv", "fixed_cost_usd"): (0.0, 1e12, "fixed_cost_usd is US dollars"),
    ("sites.csv", "min_mw"): (0.0, 1e6, "min_mw is in megawatts"),
    ("sites.csv", "power_monthly_change"): (-0.5, 1.0, "power_monthly_change is a fraction per month: 0.01 means +1% a month"),
    ("market.csv", "month"): (0, 600, "month is the 0-based month of the horizon"),
    ("market.csv", "hashprice_usd_th_day"): (0.0, 1e5, "hashprice_usd_th_day is US dollars per TH/s per day, e.g. 0.05"),
    ("sites.csv", "online_month"): (0, 600, "online_month is the 0-based month of the horizon the site comes online"),
    ("resale.csv", "month"): (0, 600, "month is the 0-based month of the horizon"),
    ("resale.csv", "factor"): (1e-6, 20.0, "factor is a multiple of today's resale_usd (1 = today's price, 1.5 = 50% "
                                            "higher); a factor of 100 looks like a percent: write 1 for 100%"),
    ("state.csv", "month"): (0, 600, "month is the 0-based month of the horizon"),
    ("state.csv", "rigs"): (0, 1e9, "rigs is a number of rigs"),
    ("bans.csv", "ban_month"): (0, 600, "ban_month is the 0-based month of the horizon"),
    ("availability.csv", "month"): (0, 600, "month is the 0-based month of the horizon"),
    ("power.csv", "month"): (0, 600, "month is the 0-based month of the horizon"),
    ("power.csv", "multiplier"): (1e-3, 20.0, "multiplier is a multiple of power_usd_kwh (1 = sites.csv's price, 1.3 = "
                                              "30% dearer); 130 looks like a percent: write 1.3 for 130%"),
    ("lanes.csv", "ship_usd_per_rig"): (0.0, 1e7, "ship_usd_per_rig is US dollars per rig"),
    ("lanes.csv", "lead_days"): (0.0, 1e5, "lead_days is in days"),
}


def decode(data: bytes, file: str) -> tuple[str | None, list[Problem]]:
    """UTF-8 text (a BOM is accepted and dropped), or a problem naming the row of the first bad byte."""
    if len(data) > MAX_FILE_BYTES:
        return None, [Problem(file, None, None, f"is {len(data) / 1e6:.0f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB")]
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) >= 4 and (data[1:4:2] == b"\0\0" or data[0:4:2] == b"\0\0")):
        return None, [
            Problem(file, None, None, "is UTF-16 text, not UTF-8",
                    "Excel's 'Unicode Text' writes UTF-16: save it as 'CSV UTF-8 (comma delimited)' instead")
        ]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start: exc.start + 1].hex()
        return None, [
            Problem(file, row, None, f"is not UTF-8 text (byte 0x{bad} on this row)",
                    "save it as 'CSV UTF-8' (Excel) or re-encode it to UTF-8; Windows-1252 or Latin-1 accents do this")
        ]


def read_csv(data: bytes, spec: TableSpec, file: str | None = None) -> tuple[pd.DataFrame | None, list[Problem]]:
    """File bytes to the string frame ``validate_table`` reads: UTF-8 decoded, Excel's ``sep=,`` first
    line dropped (Excel hides it, so do we), split as CSV. None with the problems when it cannot be read.
    ``file`` names the file in problems (default: the spec's file name)."""
    text, problems = decode(data, file or spec.file)
    if text is None:
        return None, problems
    text, _ = spreadsheet.strip_sep_line(text)
    named = spec if file is None else TableSpec(file, spec.columns, spec.key, spec.required, spec.min_rows)
    return parse_csv_text(text, named)


def parse_csv_text(text: str, spec: TableSpec) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Split CSV text into a DataFrame of stripped strings plus a ``_row`` column (spreadsheet row)."""
    file = spec.file
    if not text.strip():
        return None, [Problem(file, None, None, "is empty", "it needs a header row: " + ",".join(c.name for c in spec.columns))]
    lines = text.splitlines()
    if not lines[0].strip():
        first = next(i for i, line in enumerate(lines, 1) if line.strip())
        return None, [Problem(file, 1, None, "row 1 is blank; the header must be on row 1",
                              f"delete the blank row(s) above the header on row {first}")]
    header_line = lines[0]
    if "," not in header_line and len(spec.columns) > 1:
        for sep, word in ((";", "semicolon"), ("\t", "tab")):
            if sep in header_line:
                return None, [
                    Problem(file, 1, None, f"looks {word}-separated",
                            "the tool reads comma-separated files: re-save as CSV with commas "
                            "(in Excel: 'CSV UTF-8 (comma delimited)'), and use '.' as the decimal point")
                ]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    try:
        for raw in reader:
            rows.append(raw)
    except csv.Error as exc:
        return None, [Problem(file, len(rows) + 1, None, f"cannot be read as CSV: {exc}",
                              "a quote (\") inside a cell must be doubled, and the whole cell quoted")]
    header = [h.strip() for h in rows[0]]
    problems: list[Problem] = []
    seen: set[str] = set()
    for name in header:
        if name in seen and name:
            problems.append(Problem(file, 1, name, "column appears twice"))
        seen.add(name)
    known = {c.name for c in spec.columns}
    unknown = [h for h in header if h and h not in known]
    for col in spec.columns:
        if col.name in header:
            continue
        if col.required:
            hint = _did_you_mean(col.name, unknown)
            if hint is None:  # say what the column means, and which header may hold it
                hint = spreadsheet.missing_column_hint(col.name, col.description, col.unit, header)
            problems.append(Problem(file, 1, col.name, "required column is missing", hint))
            continue
        # A misspelt optional column would otherwise be ignored and its default used silently.
        lowered = {h.lower().replace(" ", "_"): h for h in unknown}
        close = [lowered[col.name]] if col.name in lowered else difflib.get_close_matches(col.name, unknown, n=1, cutoff=0.8)
        if close:
            problems.append(Problem(file, 1, close[0], f"unknown column '{close[0]}': did you mean '{col.name}'?",
                                    f"rename it; as it is, the column is ignored and {col.name} takes its default "
                                    f"{col.default:g}" if isinstance(col.default, (int, float)) else "rename it"))
    if problems:
        return None, problems
    width = len(header)
    records: list[list[str]] = []
    row_numbers: list[int] = []
    physical_row = 1
    for raw in rows[1:]:
        physical_row += 1
        if not any(cell.strip() for cell in raw):
            continue  # blank line, often left at the end by spreadsheets
        if len(raw) != width:
            if len(raw) > width and all(not c.strip() for c in raw[width:]):
                raw = raw[:width]  # trailing empty cells: what spreadsheets leave after a deleted column
            elif len(raw) < width and not header[-1]:
                raw = raw + [""] * (width - len(raw))  # the header ends with a stray comma
            else:
                problems.append(
                    Problem(file, physical_row, None, f"has {len(raw)} fields but the header has {width}",
                            "a stray comma, or a number written with a thousands separator?"
                            if len(raw) > width else "a missing value? keep the commas of empty cells")
                )
                continue
        records.append([cell.strip() for cell in raw])
        row_numbers.append(physical_row)
    if problems:
        return None, problems[:MAX_PROBLEMS_PER_FILE]
    frame = pd.DataFrame(records, columns=header, dtype=object) if records else pd.DataFrame(columns=header, dtype=object)
    frame["_row"] = row_numbers
    return frame, []


def _did_you_mean(word: str, options: list[str], cutoff: float = 0.6) -> str | None:
    lowered = {o.lower().replace(" ", "_"): o for o in options}
    if word.lower().replace(" ", "_") in lowered:
        return f"did you mean '{lowered[word.lower().replace(' ', '_')]}'? names are case-sensitive"
    close = difflib.get_close_matches(word, options, n=1, cutoff=cutoff)
    return f"did you mean '{close[0]}'?" if close else None


def _fast_numbers(cells: list[str], whole: bool) -> np.ndarray | None:
    """All cells at once when every one is a plain finite number (whole if ``whole``), else None."""
    joined = "".join(cells)  # the three tests below over the whole column at once
    if not cells or min(map(len, cells)) == 0 or "_" in joined or not joined.isascii():
        return None  # numpy, like float(), would read full-width and other scripts' digits: the slow path refuses them
    try:
        values = np.asarray(cells, dtype=float)
    except ValueError:
        return None
    if not np.isfinite(values).all() or (whole and (values != np.round(values)).any()):
        return None
    return values


def _parse_number(cell: str) -> tuple[float, str | None, str | None]:
    """(value, error, hint). Empty cells come back as NaN with no error: the caller applies defaults."""
    if cell == "":
        return math.nan, None, None
    if _THOUSANDS.match(cell):
        hint = f"write {cell.replace(',', '')}"
        if cell.count(",") == 1 and "." not in cell:
            hint += f" (or {cell.replace(',', '.')} if the comma is a decimal point)"
        return math.nan, f"'{cell}' has a thousands separator", hint
    if _DECIMAL_COMMA.match(cell):
        return math.nan, f"'{cell}' uses a decimal comma", f"write {cell.replace(',', '.')}"
    if not cell.isascii():
        # Python's float() reads other scripts' digits and full-width forms; a spreadsheet would not.
        return math.nan, f"{cell!r} is not a number", _number_hint(cell)
    try:
        value = float(cell.replace("_", "x"))  # Python accepts 1_000; a spreadsheet would not
    except ValueError:
        return math.nan, f"{cell!r} is not a number", _number_hint(cell)
    if math.isnan(value):
        return math.nan, f"'{cell}' is not a number", None
    if math.isinf(value):
        return math.nan, f"'{cell}' is infinite", "use a finite number"
    return value, None, None


def _number_hint(cell: str) -> str | None:
    marker = spreadsheet.error_hint(cell)
    if marker:
        return marker
    if _SPACE_THOUSANDS.match(cell):
        return "write it without thousands separators, e.g. " + re.sub(r"[ \u00a0\u202f'’]", "", cell).replace(",", ".")
    if _EURO_NUMBER.match(cell):
        return "write it with '.' as the decimal point and no thousands separator, e.g. " + cell.replace(".", "").replace(",", ".")
    if cell.endswith("%"):
        return "write a percentage as a fraction, e.g. 0.25 for 25%"
    if cell[:1] in "$€£¥" or cell[-1:] in "$€£¥" or cell[:3].upper() in ("USD", "EUR"):
        return "write the number alone, without a currency symbol"
    if "\u2212" in cell or "\u2013" in cell:
        return "the minus sign is a typographic dash: use '-'"
    if any(ch.isdigit() for ch in cell) and any(ch.isalpha() for ch in cell):
        return "write the number alone, without units or words (the unit is in the column name)"
    return None


def validate_table(frame: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Typed, checked copy of a string frame (from ``parse_csv_text`` or ``frame_to_strings``)."""
    file = spec.file
    problems: list[Problem] = []
    rows = frame["_row"].to_numpy()
    out = pd.DataFrame(index=frame.index)
    if len(frame) < spec.min_rows:
        problems.append(Problem(file, None, None, "has no data rows", "add at least one row below the header"))
    for col in spec.columns:
        if col.name not in frame.columns:
            if col.required:
                problems.append(Problem(file, 1, col.name, "required column is missing"))
                continue
            cells = [""] * len(frame)
        else:
            cells = ["" if c is None else str(c).strip() for c in frame[col.name].tolist()]
        if col.kind == "text":
            if cells and min(map(len, cells)) > 0 and max(map(len, cells)) <= 200 and not _CONTROL.search("".join(cells)):
                out[col.name] = pd.Series(cells, index=frame.index, dtype=object)
                continue  # every cell passes the checks below (one scan of the column instead of one per cell)
            for r, cell in zip(rows, cells):
                if cell == "" and not col.required:
                    continue  # an optional text column (state.csv's site): empty means its default, ""
                if cell == "":
                    problems.append(Problem(file, int(r), col.name, "is empty", "every row needs a value here"))
                elif len(cell) > 200:
                    problems.append(Problem(file, int(r), col.name, "is longer than 200 characters"))
                elif any(ord(ch) < 32 for ch in cell):
                    problems.append(Problem(file, int(r), col.name, "contains control characters"))
                # A name starting with = + - @ is a name ("@Home Hosting"): exports neutralise it (safe_text_cell).
            out[col.name] = pd.Series(cells, index=frame.index, dtype=object)
            continue
        values = _fast_numbers(cells, whole=col.kind == "integer")
        if values is None and not col.required:  # empty cells of an optional column take its default
            empty = np.fromiter((c == "" for c in cells), bool, len(cells))
            given = [c for c, e in zip(cells, empty) if not e]
            part = _fast_numbers(given, whole=col.kind == "integer") if given else np.empty(0)
            if part is not None:
                values = np.full(len(cells), float(col.default))
                values[~empty] = part
        slow = values is None  # some cell is unusual: parse cell by cell to say which
        if slow:
            values = np.empty(len(cells))
        for i, (r, cell) in enumerate(zip(rows, cells) if slow else ()):
            value, error, hint = _parse_number(cell)
            if error:
                problems.append(Problem(file, int(r), col.name, error, hint))
            elif math.isnan(value):
                if col.required:
                    problems.append(Problem(file, int(r), col.name, "is empty", "every row needs a number here"))
                else:
                    value = float(col.default)
            elif col.kind == "integer" and not float(value).is_integer():
                problems.append(Problem(file, int(r), col.name, f"'{cell}' is not a whole number",
                                        "counts are whole rigs" if col.unit == "rigs" else "write a whole number"))
            values[i] = value
        limits = PLAUSIBLE.get((file, col.name))
        if col.check is not None and len(values):
            with np.errstate(invalid="ignore"):
                ok = col.check(np.nan_to_num(values, nan=0.0 if not col.required else 1.0))
            parsed_ok = ~np.isnan(values)
            flagged = parsed_ok & ~ok
            if limits is not None:
                with np.errstate(invalid="ignore"):
                    flagged |= parsed_ok & ((values > limits[1]) | (values < limits[0]))
            for i in np.flatnonzero(flagged):  # only the rows with a problem: the same checks, cell by cell
                r, cell, good, value = rows[i], cells[i], ok[i], values[i]
                if not good:
                    problems.append(Problem(file, int(r), col.name, f"{cell} is out of range: must be {col.demand}"))
                elif limits is not None and cell != "":
                    lo, hi, hint = limits
                    if value > hi:
                        problems.append(Problem(file, int(r), col.name, f"{cell} is implausibly large: the limit is {hi:g}", hint))
                    elif value < lo:
                        problems.append(Problem(file, int(r), col.name, f"{cell} is implausibly small: the limit is {lo:g}", hint))
        if col.kind == "integer":
            safe = np.where(np.isfinite(values) & (np.abs(values) < 2.0**62), values, 0.0)  # bad rows are reported
            out[col.name] = safe.astype(np.int64)
        else:
            out[col.name] = values
    if spec.key and all(k in out.columns for k in spec.key) and len(out):
        parts = zip(*([str(v) for v in out[k].tolist()] for k in spec.key))  # plain lists: a row-wise pandas agg is slow
        first_row: dict[tuple[str, ...], int] = {}
        for r, k in zip(rows, parts):
            if k not in first_row:
                first_row[k] = r
            elif "" not in k:
                label = ", ".join(f"{c}={v!r}" for c, v in zip(spec.key, k))
                problems.append(Problem(file, int(r), spec.key[-1], f"duplicate {label}", f"first given on row {first_row[k]}"))
    # Extra columns are kept (and ignored by the model), after the contract's columns.
    for name in frame.columns:
        if name not in out.columns and name != "_row" and name:
            out[name] = frame[name].to_numpy()
    out["_row"] = rows
    problems = problems[:MAX_PROBLEMS_PER_FILE] + (
        [Problem(file, None, None, f"... and {len(problems) - MAX_PROBLEMS_PER_FILE} more problems")]
        if len(problems) > MAX_PROBLEMS_PER_FILE else []
    )
    return (None if problems else out.reset_index(drop=True)), problems


def check_references(tables: dict[str, pd.DataFrame]) -> list[Problem]:
    """Cross-file rules: fleet and lanes must name known models, origins and sites."""
    problems: list[Problem] = []
    known = {
        "model": (set(tables["rigs"]["model"]), "rigs.csv"),
        "origin": (set(tables["origins"]["origin"]), "origins.csv"),
        "site": (set(tables["sites"]["site"]), "sites.csv"),
    }
    for name, spec in (("fleet", FLEET), ("lanes", LANES)):
        frame = tables.get(name)
        if frame is None or not len(frame):
            continue
        for col in spec.key:
            values, where = known[col]
            for r, v in zip(frame["_row"], frame[col]):
                if v not in values:
                    problems.append(
                        Problem(spec.file, int(r), col, f"unknown {col} '{v}': not in {where}", _did_you_mean(v, sorted(values)))
                    )
    return problems[: 2 * MAX_PROBLEMS_PER_FILE]


def frame_to_strings(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """A typed or user-edited frame back to the string form the validator reads (rows renumbered 2..)."""
    out = pd.DataFrame(index=range(len(frame)))
    for name in frame.columns:
        if name == "_row":
            continue
        col = frame[name].reset_index(drop=True)
        out[name] = [_cell_to_string(v) for v in col.tolist()]
    if "_row" in frame.columns:
        out["_row"] = frame["_row"].to_numpy()
    else:
        out["_row"] = np.arange(2, len(frame) + 2)
    return out


def _cell_to_string(value: object) -> str:
    if is_missing(value):
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (np.floating,)):
        return repr(float(value))
    return str(value)


def safe_text_cell(value: str) -> str:
    """Neutralise a text cell a spreadsheet would run as a formula (OWASP CSV injection advice).

    A cell that is a plain number ("-5", "+1.5e3") is left alone: a spreadsheet reads it as that number.
    """
    if value and value.startswith(_EXPORT_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _one_line_ending(value: str) -> str:
    # A carriage return is not quoted by the CSV writer (its line ending is "\n") but a spreadsheet
    # starts a new row there: write line breaks as "\n", which is quoted.
    return value.replace("\r\n", "\n").replace("\r", "\n") if "\r" in value else value


def _export_text(value: str) -> str:
    if value.startswith("\r"):
        return "'" + _one_line_ending(value)
    return safe_text_cell(_one_line_ending(value))


def to_csv_text(frame: pd.DataFrame, text_columns: list[str] | None = None) -> str:
    """CSV for export: numbers stay numbers, text cells that start like a formula are neutralised."""
    out = frame.drop(columns=[c for c in frame.columns if c == "_row"]).copy()
    for name in out.columns:
        if not (out[name].dtype == object or pd.api.types.is_string_dtype(out[name])):
            continue
        values = out[name].tolist()
        if text_columns is not None and name not in text_columns:
            if any(isinstance(v, str) and "\r" in v for v in values):
                out[name] = [_one_line_ending(v) if isinstance(v, str) else v for v in values]
        elif any(isinstance(v, str) and (v.startswith(_EXPORT_FORMULA_START) or "\r" in v) for v in values):
            out[name] = [_export_text(v) if isinstance(v, str) else v for v in values]
    return out.to_csv(index=False, lineterminator="\n")
