"""What the app does so that what it shows can be trusted (issue 10), kept out of the page code.

- ``safe_frame``: user text in a table the app shows is neutralised as the exports are (a
  table's toolbar can download it as CSV, and Streamlit writes cells verbatim).
- ``md_escape``: user text placed in Markdown (messages, warnings) is shown, never run.
- ``empty_defaults``: which optional cells the user emptied, and the default that now applies.
- ``max_time_limit_s`` / ``cap_time_limit``: a scenario.toml uploaded to a shared server cannot
  hold a core for longer than RIGSHIFT_MAX_TIME_LIMIT_S seconds per solve (default 120).

No streamlit import here: the page code calls these; tests call them directly.
"""
from __future__ import annotations

import dataclasses
import io
import math
import os
import re

import pandas as pd

import optimizer
from optimizer.inputs.tables import SITES, safe_text_cell

__all__ = ["cap_time_limit", "empty_defaults", "max_time_limit_s", "md_escape", "safe_frame", "safe_result",
           "safe_text_cell"]

DEFAULT_MAX_TIME_LIMIT_S = 120.0
ENV_MAX_TIME_LIMIT = "RIGSHIFT_MAX_TIME_LIMIT_S"


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells a spreadsheet would run as formulas start with an apostrophe; numbers untouched."""
    out = frame.copy()
    for name in out.columns:
        if out[name].dtype == object or pd.api.types.is_string_dtype(out[name]):
            out[name] = [safe_text_cell(v) if isinstance(v, str) else v for v in out[name].tolist()]
    return out


def safe_result(res: optimizer.Result) -> optimizer.Result:
    """The same plan with its tables' text neutralised for display (summary and timings shared)."""
    return dataclasses.replace(res, allocation=safe_frame(res.allocation), sites=safe_frame(res.sites),
                               jurisdictions=safe_frame(res.jurisdictions))


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: str) -> str:
    """Markdown-inert text: every character Markdown or HTML would act on is escaped."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


OPTIONAL_SITE_COLUMNS = {c.name: c.default for c in SITES.columns if not c.required}


def empty_defaults(shown_sites: pd.DataFrame) -> list[str]:
    """'<site>: hosting_usd_kw_month is empty, so its default 0 applies' for every emptied optional cell."""
    out = []
    for col, default in OPTIONAL_SITE_COLUMNS.items():
        if col not in shown_sites.columns:
            continue
        values = pd.to_numeric(shown_sites[col], errors="coerce")
        for site, value in zip(shown_sites["site"], values):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                out.append(f"{site}: {col} is empty, so its default {default:g} applies")
    return out


def toml_with_exclusions(scn: optimizer.Scenario, excluded: list[str] | None, new_sites_csv: bytes | None) -> bytes:
    """The scenario's scenario.toml with ``policy.exclude_sites`` as ticked on screen (None: as it is),
    keeping only sites that exist in the tables the upload will use (an uploaded sites.csv, if any)."""
    names = list(excluded) if excluded is not None else list(scn.settings.policy.exclude_sites)
    if new_sites_csv is not None:
        try:
            present = set(pd.read_csv(io.BytesIO(new_sites_csv), dtype=str, keep_default_na=False)["site"].str.strip())
        except Exception:  # noqa: BLE001 - an unreadable upload is reported by the engine; keep the list as is
            present = None
        if present is not None:
            names = [n for n in names if n in present]
    if tuple(names) == tuple(scn.settings.policy.exclude_sites):
        return scn.files()["scenario.toml"]
    return scn.with_overrides({"policy.exclude_sites": names}).files()["scenario.toml"]


def max_time_limit_s() -> float:
    """The server's cap on solver.time_limit_s, from RIGSHIFT_MAX_TIME_LIMIT_S (seconds, > 0), default 120."""
    raw = os.environ.get(ENV_MAX_TIME_LIMIT, "")
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_MAX_TIME_LIMIT_S
    return value if math.isfinite(value) and value > 0 else DEFAULT_MAX_TIME_LIMIT_S


def cap_time_limit(scn: optimizer.Scenario) -> tuple[optimizer.Scenario, str | None]:
    """The scenario with solver.time_limit_s at most the server's cap, and a note when it was lowered."""
    cap = max_time_limit_s()
    asked = scn.settings.solver.time_limit_s
    if asked <= cap:
        return scn, None
    return scn.with_overrides({"solver.time_limit_s": cap}), (
        f"solver.time_limit_s {asked:g} s is above this server's limit; each solve stops after {cap:g} s "
        f"({ENV_MAX_TIME_LIMIT} on the server)")
