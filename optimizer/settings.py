"""scenario.toml: typed, frozen settings with their documented defaults.

Every key is optional. Unknown keys and values of the wrong type are rejected with the
file, the key and (for typos) a "did you mean". ``--set SECTION.KEY=VALUE`` overrides use
the same parser, so the CLI, the API and the app accept exactly the same keys.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
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
    power_price_multiplier: float = 1.0


@dataclass(frozen=True)
class SolverSettings:
    name: str = "highs"
    mip_gap: float = 1e-4
    time_limit_s: float = 60.0
    # Extensions (see README): which path feeds the solver, and HiGHS's LP algorithm.
    backend: str = "auto"
    lp_algorithm: str = "auto"


@dataclass(frozen=True)
class Settings:
    market: Market = field(default_factory=Market)
    horizon: Horizon = field(default_factory=Horizon)
    logistics: Logistics = field(default_factory=Logistics)
    policy: Policy = field(default_factory=Policy)
    solver: SolverSettings = field(default_factory=SolverSettings)

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
}


def _finite(v: float) -> bool:
    return math.isfinite(v)


# key -> (kind, check, what the check demands). kind: float | int | bool | str | strlist | float?
_RULES: dict[str, tuple[str, Callable[[Any], bool], str]] = {
    "market.btc_price_usd": ("float", lambda v: v >= 0, ">= 0"),
    "market.network_hashrate_ehs": ("float", lambda v: v > 0, "> 0"),
    "market.block_subsidy_btc": ("float", lambda v: v >= 0, ">= 0"),
    "market.fee_share": ("float", lambda v: v >= 0, ">= 0"),
    "market.hashprice_usd_th_day": ("float?", lambda v: v >= 0, ">= 0"),
    "market.hashprice_monthly_change": ("float", lambda v: v > -1, "> -1"),
    "horizon.months": ("int", lambda v: 1 <= v <= 600, "an integer from 1 to 600"),
    "horizon.discount_rate": ("float", lambda v: v > -1, "> -1"),
    "horizon.salvage_fraction": ("float", lambda v: v >= 0, ">= 0"),
    "logistics.ship_base_usd": ("float", lambda v: v >= 0, ">= 0"),
    "logistics.ship_usd_per_1000km": ("float", lambda v: v >= 0, ">= 0"),
    "logistics.lead_base_days": ("float", lambda v: v >= 0, ">= 0"),
    "logistics.lead_days_per_1000km": ("float", lambda v: v >= 0, ">= 0"),
    "policy.risk_aversion": ("float", lambda v: v >= 0, ">= 0"),
    "policy.max_jurisdiction_share": ("float", lambda v: 0 < v <= 1, "in (0, 1]"),
    "policy.budget_usd": ("float?", lambda v: v >= 0, ">= 0"),
    "policy.allow_sell": ("bool", lambda v: True, ""),
    "policy.allow_idle": ("bool", lambda v: True, ""),
    "policy.integer_rigs": ("bool", lambda v: True, ""),
    "policy.exclude_jurisdictions": ("strlist", lambda v: True, ""),
    "policy.power_price_multiplier": ("float", lambda v: v >= 0, ">= 0"),
    "solver.name": ("str", lambda v: v in ("highs", "cbc"), '"highs" or "cbc"'),
    "solver.mip_gap": ("float", lambda v: 0 <= v < 1, "in [0, 1)"),
    "solver.time_limit_s": ("float", lambda v: v > 0, "> 0"),
    "solver.backend": ("str", lambda v: v in ("auto", "pulp", "direct"), '"auto", "pulp" or "direct"'),
    "solver.lp_algorithm": (
        "str",
        lambda v: v in ("auto", "simplex", "ipm", "choose"),
        '"auto", "simplex", "ipm" or "choose"',
    ),
}

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
            problems.append(
                Problem(file, None, section, "unknown section", _did_you_mean(section, list(SECTIONS)))
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
    return settings


def read_toml(text: str, file: str = "scenario.toml") -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise ScenarioError(
            Problem(file, line, None, f"is not valid TOML: {exc}", "row here means the line in the file")
        ) from None


def get_value(settings: Settings, key: str) -> Any:
    section, name = key.split(".", 1)
    return getattr(getattr(settings, section), name)
