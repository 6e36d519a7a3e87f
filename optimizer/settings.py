"""scenario.toml: typed, frozen settings with their documented defaults.

Every key is optional. Unknown keys and values of the wrong type are rejected with the
file, the key and (for typos) a "did you mean". ``--set SECTION.KEY=VALUE`` overrides use
the same parser, so the CLI, the API and the app accept exactly the same keys.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .errors import Problem, ScenarioError


@dataclass(frozen=True)
class Market:
    btc_price_usd: float = 35000.0
    network_hashrate_ehs: float = 100.0
    block_subsidy_btc: float = 6.25
    fee_share: float = 0.05
    hashprice_usd_th_day: float | None = None
    hashprice_monthly_change: float = -0.02


@dataclass(frozen=True)
class Horizon:
    months: int = 24
    discount_rate: float = 0.10
    salvage_fraction: float = 0.25


@dataclass(frozen=True)
class Logistics:
    ship_base_usd: float = 20.0
    ship_usd_per_1000km: float = 5.0
    lead_base_days: float = 14.0
    lead_days_per_1000km: float = 2.0


@dataclass(frozen=True)
class Policy:
    risk_aversion: float = 1.0
    max_jurisdiction_share: float = 1.0
    budget_usd: float | None = None
    allow_sell: bool = True
    allow_idle: bool = True
    integer_rigs: bool = False
    exclude_jurisdictions: tuple[str, ...] = ()
    exclude_sites: tuple[str, ...] = ()
    power_price_multiplier: float = 1.0


@dataclass(frozen=True)
class SolverSettings:
    name: str = "highs"
    mip_gap: float = 1e-4
    time_limit_s: float = 60.0
    # Extensions (see README): which path feeds the solver, and HiGHS's LP algorithm.
    backend: str = "auto"
    lp_algorithm: str = "auto"
    prune_dominated: bool = True


@dataclass(frozen=True)
class Checks:
    # Values the user confirms despite a plausibility warning: "FILE:COLUMN" (e.g. "sites.csv:power_usd_kwh",
    # "sites.csv:location") or a setting's key (e.g. "market.fee_share"). See optimizer/plausibility.py.
    confirm: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    market: Market = field(default_factory=Market)
    horizon: Horizon = field(default_factory=Horizon)
    logistics: Logistics = field(default_factory=Logistics)
    policy: Policy = field(default_factory=Policy)
    solver: SolverSettings = field(default_factory=SolverSettings)
    checks: Checks = field(default_factory=Checks)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (TOML-writable: None values are left out, tuples become lists)."""
        out: dict[str, dict[str, Any]] = {}
        for section in dataclasses.fields(self):
            values = {}
            for key, value in dataclasses.asdict(getattr(self, section.name)).items():
                if value is None:
                    continue
                values[key] = list(value) if isinstance(value, tuple) else value
            out[section.name] = values
        return out


SECTIONS: dict[str, type] = {
    "market": Market,
    "horizon": Horizon,
    "logistics": Logistics,
    "policy": Policy,
    "solver": SolverSettings,
    "checks": Checks,
}


def _finite(v: float) -> bool:
    return math.isfinite(v)


def _range(lo: float, hi: float, lo_open: bool = False) -> tuple[Callable[[Any], bool], str]:
    """A closed range (or half-open at lo) with the words that describe it."""
    if lo_open:
        return (lambda v: lo < v <= hi), f"> {lo:g} and at most {hi:g}"
    return (lambda v: lo <= v <= hi), f"between {lo:g} and {hi:g}"


# key -> (kind, check, what the check demands). kind: float | int | bool | str | strlist | float?
# Upper limits are far beyond any real market; they keep the solver's numbers in the range it
# computes reliably (HiGHS treats costs above 1e20 as infinite) and catch unit slips.
_RULES: dict[str, tuple[str, Callable[[Any], bool], str]] = {
    "market.btc_price_usd": ("float", *_range(0, 1e8)),
    "market.network_hashrate_ehs": ("float", *_range(0, 1e9, lo_open=True)),
    "market.block_subsidy_btc": ("float", *_range(0, 50)),
    "market.fee_share": ("float", *_range(0, 100)),
    "market.hashprice_usd_th_day": ("float?", *_range(0, 1e5)),
    "market.hashprice_monthly_change": ("float", *_range(-1, 10, lo_open=True)),
    "horizon.months": ("int", lambda v: 1 <= v <= 600, "an integer from 1 to 600"),
    "horizon.discount_rate": ("float", *_range(-1, 100, lo_open=True)),
    "horizon.salvage_fraction": ("float", *_range(0, 100)),
    "logistics.ship_base_usd": ("float", *_range(0, 1e7)),
    "logistics.ship_usd_per_1000km": ("float", *_range(0, 1e7)),
    "logistics.lead_base_days": ("float", *_range(0, 1e5)),
    "logistics.lead_days_per_1000km": ("float", *_range(0, 1e5)),
    "policy.risk_aversion": ("float", *_range(0, 1e6)),
    "policy.max_jurisdiction_share": ("float", lambda v: 0 < v <= 1, "in (0, 1]"),
    "policy.budget_usd": ("float?", *_range(0, 1e15)),
    "policy.allow_sell": ("bool", lambda v: True, ""),
    "policy.allow_idle": ("bool", lambda v: True, ""),
    "policy.integer_rigs": ("bool", lambda v: True, ""),
    "policy.exclude_jurisdictions": ("strlist", lambda v: True, ""),
    "policy.exclude_sites": ("strlist", lambda v: True, ""),
    "policy.power_price_multiplier": ("float", *_range(0, 1e3)),
    "solver.name": ("str", lambda v: v in ("highs", "cbc"), '"highs" or "cbc"'),
    "solver.mip_gap": ("float", lambda v: 0 <= v < 1, "in [0, 1)"),
    "solver.time_limit_s": ("float", *_range(0, 1e6, lo_open=True)),
    "solver.backend": ("str", lambda v: v in ("auto", "pulp", "direct"), '"auto", "pulp" or "direct"'),
    "solver.prune_dominated": ("bool", lambda v: True, ""),
    "solver.lp_algorithm": (
        "str",
        lambda v: v in ("auto", "simplex", "ipm", "choose"),
        '"auto", "simplex", "ipm" or "choose"',
    ),
    "checks.confirm": ("strlist", lambda v: True, ""),
}
# The derived hashprice (today's, and its peak over the horizon) and the largest discount factor
# must stay below these, for the same reason.
MAX_HASHPRICE_USD_TH_DAY = 1e5
MAX_DISCOUNT_FACTOR = 1e6

ALL_KEYS: tuple[str, ...] = tuple(_RULES)
_TYPE_WORDS = {
    "float": "a number",
    "float?": "a number",
    "int": "a whole number",
    "bool": "true or false",
    "str": "a quoted string",
    "strlist": "a list of strings, e.g. [\"Kazakhstan\"]",
}


def _did_you_mean(word: str, options: list[str]) -> str | None:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _coerce(key: str, value: Any, file: str) -> tuple[Any, Problem | None]:
    kind, check, demand = _RULES[key]
    bad = lambda msg: (None, Problem(file, None, key, msg))  # noqa: E731
    if kind in ("float", "float?"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return bad(f"must be {_TYPE_WORDS[kind]}, got {value!r}")
        value = float(value)
        if not _finite(value):
            return bad(f"must be a finite number, got {value!r}")
    elif kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return bad(f"must be {_TYPE_WORDS[kind]}, got {value!r}")
    elif kind == "bool":
        if not isinstance(value, bool):
            return bad(f"must be true or false, got {value!r}")
    elif kind == "str":
        if not isinstance(value, str):
            return bad(f"must be {_TYPE_WORDS[kind]}, got {value!r}")
        value = value.strip().lower()
    elif kind == "strlist":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            return bad(f"must be {_TYPE_WORDS[kind]}, got {value!r}")
        value = tuple(v.strip() for v in value if v.strip())
    if not check(value):
        return bad(f"must be {demand}, got {value!r}")
    return value, None


def _flatten(doc: Mapping[str, Any], file: str) -> tuple[dict[str, Any], list[Problem]]:
    flat: dict[str, Any] = {}
    problems: list[Problem] = []
    for section, body in doc.items():
        if section not in SECTIONS:
            owners = [k for k in _RULES if k.split(".", 1)[1] == section]
            if owners and not isinstance(body, Mapping):
                hint = f"put it under [{owners[0].split('.')[0]}], or write {owners[0]} = ..."
                problems.append(Problem(file, None, section, "key outside any [section]", hint))
            else:
                problems.append(
                    Problem(file, None, section, "unknown section",
                            _did_you_mean(section, list(SECTIONS)) or "sections are " + ", ".join(f"[{s}]" for s in SECTIONS))
                )
            continue
        if not isinstance(body, Mapping):
            problems.append(Problem(file, None, section, "must be a [section] table"))
            continue
        for key, value in body.items():
            flat[f"{section}.{key}"] = value
    return flat, problems


def parse_override_value(text: str) -> Any:
    """A --set value in TOML syntax (numbers, booleans, lists, quoted strings); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()


def build_settings(
    doc: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    base: Settings | None = None,
    file: str = "scenario.toml",
    overrides_file: str = "--set",
) -> Settings:
    """Settings from a parsed TOML document plus ``{"section.key": value}`` overrides.

    Override values may be Python values or strings in TOML syntax.
    """
    flat, problems = _flatten(doc or {}, file)
    sources = {key: file for key in flat}
    for key, value in (overrides or {}).items():
        if isinstance(value, str) and _RULES.get(key, ("str",))[0] not in ("str",):
            value = parse_override_value(value)
        flat[key] = value
        sources[key] = overrides_file
    values: dict[str, Any] = {}
    for key, value in flat.items():
        if key not in _RULES:
            section = key.split(".", 1)[0]
            problems.append(
                Problem(sources[key], None, key, "unknown key", _did_you_mean(key, list(ALL_KEYS)))
            )
            continue
        if value is None and _RULES[key][0].endswith("?"):
            values[key] = None
            continue
        coerced, problem = _coerce(key, value, sources[key])
        if problem:
            problems.append(problem)
        else:
            values[key] = coerced
    if problems:
        raise ScenarioError(problems)
    settings = base or Settings()
    for section in SECTIONS:
        changes = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith(section + ".")}
        if changes:
            settings = dataclasses.replace(
                settings, **{section: dataclasses.replace(getattr(settings, section), **changes)}
            )
    problems = _derived_problems(settings, sources, file)
    if problems:
        raise ScenarioError(problems)
    return settings


def _derived_problems(settings: Settings, sources: Mapping[str, str], file: str) -> list[Problem]:
    """Checks of several keys together: the hashprice path and the discount factors stay computable."""
    m, h = settings.market, settings.horizon
    problems: list[Problem] = []

    def where(*keys: str) -> tuple[str, str]:
        key = next((k for k in keys if k in sources), keys[0])
        return sources.get(key, file), key

    if m.hashprice_usd_th_day is not None:
        hp0 = m.hashprice_usd_th_day
        hp_keys = ("market.hashprice_usd_th_day",)
    else:
        hp0 = 144 * m.block_subsidy_btc * (1 + m.fee_share) * m.btc_price_usd / (m.network_hashrate_ehs * 1e6)
        hp_keys = ("market.btc_price_usd", "market.network_hashrate_ehs", "market.block_subsidy_btc", "market.fee_share")
    if not math.isfinite(hp0) or hp0 > MAX_HASHPRICE_USD_TH_DAY:
        src, key = where(*hp_keys)
        problems.append(Problem(src, None, key, f"gives a hashprice of {hp0:.3g} USD per TH/s per day today; "
                                f"the tool accepts at most {MAX_HASHPRICE_USD_TH_DAY:g}",
                                "check the market keys' units: network_hashrate_ehs is in EH/s (about 100 in 2021)"))
    elif hp0 > 0 and m.hashprice_monthly_change > 0:
        log_peak = math.log10(hp0) + (h.months - 1) * math.log10(1 + m.hashprice_monthly_change)
        if log_peak > math.log10(MAX_HASHPRICE_USD_TH_DAY):
            src, key = where("market.hashprice_monthly_change", "horizon.months")
            problems.append(Problem(src, None, key, f"makes the hashprice grow to 1e{log_peak:.0f} USD per TH/s per day "
                                    f"by month {h.months}; the tool accepts at most {MAX_HASHPRICE_USD_TH_DAY:g}",
                                    "hashprice_monthly_change is a fraction per month: 0.02 means +2% a month"))
    if h.discount_rate < 0:
        log_factor = -(h.months / 12) * math.log10(1 + h.discount_rate)
        if log_factor > math.log10(MAX_DISCOUNT_FACTOR):
            src, key = where("horizon.discount_rate", "horizon.months")
            problems.append(Problem(src, None, key, f"a discount rate of {h.discount_rate:g} over {h.months} months "
                                    f"inflates future values 1e{log_factor:.0f}-fold; the tool accepts at most "
                                    f"{MAX_DISCOUNT_FACTOR:g}", "discount_rate is a fraction per year: 0.10 means 10%"))
    return problems


def read_toml(text: str, file: str = "scenario.toml") -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        if line is None:
            found = re.search(r"at line (\d+)", str(exc))
            line = int(found.group(1)) if found else None
        raise ScenarioError(
            Problem(file, line, None, f"is not valid TOML: {exc}",
                    'TOML needs [section] headers, key = value lines, quoted text ("highs") and true/false in lower case')
        ) from None


_TABLE_LINE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\s\"']+?)\s*\]\s*(#.*)?$")
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_.\-\s\"']+?)\s*=")


def locate_key(text: str, key: str) -> int | None:
    """The line (1-based) of ``section.key`` (or of a whole [section] / top-level key) in TOML text."""
    want = [part.strip() for part in key.split(".")]
    table: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        m = _TABLE_LINE.match(line)
        if m:
            table = [part.strip().strip("\"'") for part in m.group(1).split(".")]
            if table == want:
                return number
            continue
        m = _KEY_LINE.match(line)
        if m:
            path = table + [part.strip().strip("\"'") for part in m.group(1).split(".")]
            if path[: len(want)] == want:
                return number
    return None


def get_value(settings: Settings, key: str) -> Any:
    section, name = key.split(".", 1)
    return getattr(getattr(settings, section), name)
