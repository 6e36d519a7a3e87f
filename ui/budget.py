"""What one session may load on a shared server (issue 22): a budget in sites, rows and MB, checked
on the raw files before anything is parsed or solved, and warnings capped and grouped so that one
upload with thousands of slips cannot send megabytes of text to the browser.

- ``check_files(files, label)``: ScenarioError naming the file and the limit when an upload is over
  budget (the session keeps the scenario it had). Limits from the environment: RIGSHIFT_MAX_SITES
  (default 5,000 sites), RIGSHIFT_MAX_ROWS (default 50,000 rows in any table), RIGSHIFT_MAX_UPLOAD_MB
  (default 25 MB of unpacked scenario files). The built-in datasets hold about 50 sites; the
  linear program grows with sites x fleet groups, so 5,000 sites already means minutes per solve.
- ``group_warnings(lines, cap)``: warnings that differ only in row numbers and quoted values shown
  once with a count ("and 311 more like this: rows 4, 5, 6, ..."), at most ``cap`` groups.

No streamlit import here: the page code calls these; tests call them directly.
"""
from __future__ import annotations

import math
import os
import re
from typing import Iterable, Mapping

import optimizer

DEFAULT_MAX_SITES = 5_000
DEFAULT_MAX_ROWS = 50_000
DEFAULT_MAX_UPLOAD_MB = 25.0
DEFAULT_WARNING_GROUPS = 12
ENV_MAX_SITES, ENV_MAX_ROWS, ENV_MAX_UPLOAD_MB = "RIGSHIFT_MAX_SITES", "RIGSHIFT_MAX_ROWS", "RIGSHIFT_MAX_UPLOAD_MB"


def _limit(env: str, default: float) -> float:
    try:
        value = float(os.environ.get(env, ""))
    except ValueError:
        return default
    return value if math.isfinite(value) and value > 0 else default


def limits() -> dict[str, float]:
    """The server's budget: {"sites", "rows", "mb"}."""
    return {"sites": _limit(ENV_MAX_SITES, DEFAULT_MAX_SITES), "rows": _limit(ENV_MAX_ROWS, DEFAULT_MAX_ROWS),
            "mb": _limit(ENV_MAX_UPLOAD_MB, DEFAULT_MAX_UPLOAD_MB)}


def _rows(data: bytes) -> int:
    """Data rows of a CSV, counted as line breaks (a header line not counted); quoted line breaks
    count too, so this can only overstate, by the few names that hold one."""
    n = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    return max(0, n - 1)


def check_files(files: Mapping[str, bytes], label: str = "upload") -> None:
    """ScenarioError when ``files`` (name -> bytes, as uploaded or unzipped) exceed the budget."""
    lim = limits()
    problems = []
    total = sum(len(b) for b in files.values())
    if total > lim["mb"] * 1e6:
        problems.append(optimizer.Problem(label, None, None, f"holds {total / 1e6:,.1f} MB of scenario files; this "
                                          f"server takes at most {lim['mb']:g} MB per upload ({ENV_MAX_UPLOAD_MB})",
                                          "split the scenario, or run it with the CLI (python -m optimizer solve)"))
    for name, data in files.items():
        if not name.endswith(".csv"):
            continue
        rows = _rows(data)
        if name == "sites.csv" and rows > lim["sites"]:
            problems.append(optimizer.Problem(name, None, None, f"has {rows:,} sites; this server takes at most "
                                              f"{lim['sites']:,.0f} per scenario ({ENV_MAX_SITES})",
                                              "keep the candidate sites that can matter (the CLI has no limit)"))
        elif rows > lim["rows"]:
            problems.append(optimizer.Problem(name, None, None, f"has {rows:,} rows; this server takes at most "
                                              f"{lim['rows']:,.0f} per table ({ENV_MAX_ROWS})",
                                              "aggregate the rows, or run the scenario with the CLI"))
    if problems:
        raise optimizer.ScenarioError(problems)


_ROW = re.compile(r"\brows? (\d+)\b")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\b\d+(?:\.\d+)?\b")


def _kind(line: str) -> str:
    return _QUOTED.sub("#", line)


def group_warnings(lines: Iterable[str], cap: int = DEFAULT_WARNING_GROUPS) -> list[str]:
    """Warnings grouped by kind (the text with numbers and quoted values taken out), first of each
    kind kept as written with "and N more like this (rows ...)", at most ``cap`` kinds listed."""
    groups: dict[str, list[str]] = {}
    for line in lines:
        groups.setdefault(_kind(line), []).append(line)
    out = []
    for members in list(groups.values())[:cap]:
        text = members[0]
        if len(members) > 1:
            rows = [m.group(1) for other in members[1:] for m in [_ROW.search(other)] if m]
            shown = ", ".join(rows[:8]) + (", ..." if len(rows) > 8 else "")
            text += f" (and {len(members) - 1:,} more like this" + (f": rows {shown}" if rows else "") + ")"
        out.append(text)
    if len(groups) > cap:
        hidden = sum(len(m) for m in list(groups.values())[cap:])
        out.append(f"{hidden:,} more warning(s) of {len(groups) - cap:,} other kind(s) not shown: run "
                   "`python -m optimizer validate` on the scenario for the full list")
    return out


DEFAULT_STORE_MB = 64.0  # per session and per kind of remembered result (a plan, an edited scenario, ...)
ENV_STORE_MB = "RIGSHIFT_SESSION_STORE_MB"


def store_budget_bytes() -> float:
    """What one session may keep of one kind of remembered result, in bytes (RIGSHIFT_SESSION_STORE_MB)."""
    return _limit(ENV_STORE_MB, DEFAULT_STORE_MB) * 1e6


def approx_bytes(obj: object, _seen: set[int] | None = None, _depth: int = 0) -> int:
    """Memory an object holds, roughly: DataFrames (deep), arrays, bytes and text counted, containers
    and plain objects walked (shared parts once, 8 levels deep at most). For budgets, not accounting."""
    import sys

    import numpy as np
    import pandas as pd

    seen = _seen if _seen is not None else set()
    if id(obj) in seen or _depth > 8:
        return 0
    seen.add(id(obj))
    if isinstance(obj, pd.DataFrame):
        return int(obj.memory_usage(deep=True, index=True).sum())
    if isinstance(obj, pd.Series):
        return int(obj.memory_usage(deep=True, index=True))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, (bytes, bytearray, str)):
        return sys.getsizeof(obj)
    if isinstance(obj, dict):
        return sys.getsizeof(obj) + sum(approx_bytes(k, seen, _depth + 1) + approx_bytes(v, seen, _depth + 1)
                                        for k, v in obj.items())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return sys.getsizeof(obj) + sum(approx_bytes(v, seen, _depth + 1) for v in obj)
    fields = getattr(obj, "__dict__", None)
    if isinstance(fields, dict):
        return sys.getsizeof(obj) + approx_bytes(fields, seen, _depth + 1)
    return sys.getsizeof(obj)


def remember(store: dict, sizes: dict, key: object, value: object, max_entries: int, max_bytes: float) -> None:
    """Put ``value`` under ``key`` in an insertion-ordered ``store`` (``sizes``: key -> bytes), then drop
    the oldest entries while more than ``max_entries`` or ``max_bytes`` are held (the newest always stays)."""
    store[key] = value
    sizes[key] = approx_bytes(value)
    while len(store) > 1 and (len(store) > max_entries or sum(sizes.values()) > max_bytes):
        oldest = next(iter(store))
        store.pop(oldest)
        sizes.pop(oldest, None)
