"""scenario.toml: every setting declared once, and the typed, frozen settings built from it.

``SETTINGS`` is the single declaration of each key (type, unit, default, accepted range,
meaning, and the short label the app shows). Everything else derives from it: the frozen
dataclasses (``Market``, ``Horizon``, ... made with ``dataclasses.make_dataclass``), the
validation of scenario.toml and of ``--set SECTION.KEY=VALUE`` overrides (one parser, so the
CLI, the API and the app accept exactly the same keys), the README's settings table
(``python -m optimizer.cli.docs``) and the app's help texts.

Unknown keys and values of the wrong type are rejected with the file, the key and (for
typos) a "did you mean".
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from optimizer.inputs.errors import Problem, ScenarioError
from optimizer.inputs.hashprice import hashprice_path

# How each kind of value is typed in the dataclasses, and how it is described to users.
_PY_TYPES: dict[str, Any] = {
    "float": float, "float?": float | None, "int": int, "bool": bool, "str": str, "str?": str | None,
    "strlist": tuple[str, ...], "intlist": tuple[int, ...], "floatlist": tuple[float, ...],
}
TOML_FILE = "scenario.toml"  # the file the settings are read from
TYPE_WORDS = {
    "float": "a number",
    "float?": "a number",
    "int": "a whole number",
    "bool": "true or false",
    "str": "a quoted string",
    "str?": "a quoted string",
    "strlist": "a list of strings, e.g. [\"Kazakhstan\"]",
    "intlist": "a list of whole numbers, e.g. [3, 12]",
    "floatlist": "a list of numbers, e.g. [0.3, 0.5]",
}


@dataclass(frozen=True)
class Setting:
    """One scenario.toml key: its declaration, read by validation, the docs and the app.

    ``default`` None (kinds ending in "?") means the key is absent unless given. ``rule`` is
    the accepted range in words; ``check`` tests a value of the right type against it.
    """

    key: str  # "section.name"
    kind: str  # float | float? | int | bool | str | str? | strlist | intlist | floatlist
    default: Any
    unit: str
    label: str  # short, for the app's controls
    meaning: str  # one sentence, for the README and the app's help
    check: Callable[[Any], bool] = field(default=lambda v: True, compare=False, repr=False)
    rule: str = ""

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]


def _between(lo: float, hi: float, lo_open: bool = False) -> dict[str, Any]:
    """A closed range (or half-open at lo) with the words that describe it."""
    if lo_open:
        return {"check": lambda v: lo < v <= hi, "rule": f"> {lo:g} and at most {hi:g}"}
    return {"check": lambda v: lo <= v <= hi, "rule": f"between {lo:g} and {hi:g}"}


def _one_of(*options: str) -> dict[str, Any]:
    return {"check": lambda v: v in options, "rule": " or ".join(f'"{o}"' for o in options)}


def _month_text(v: str | None) -> bool:
    return v is None or bool(re.fullmatch(r"(19|20|21)\d\d-(0[1-9]|1[0-2])", v))


# Upper limits are far beyond any real market; they keep the solver's numbers in the range it
# computes reliably (HiGHS treats costs above 1e20 as infinite) and catch unit slips.
_DECLARED: tuple[Setting, ...] = (
    # [market]
    Setting("market.btc_price_usd", "float", 35000.0, "USD", "BTC price (USD)",
            "BTC price today", **_between(0, 1e8)),
    Setting("market.network_hashrate_ehs", "float", 100.0, "EH/s", "Network hashrate (EH/s)",
            "total Bitcoin network hashrate today; more competition means less revenue per TH/s",
            **_between(0, 1e9, lo_open=True)),
    Setting("market.block_subsidy_btc", "float", 6.25, "BTC/block", "Block subsidy (BTC)",
            "new bitcoin paid per block today", **_between(0, 50)),
    Setting("market.fee_share", "float", 0.05, "share of subsidy", "Fee share",
            "transaction fees as a fraction of the subsidy", **_between(0, 100)),
    Setting("market.hashprice_usd_th_day", "float?", None, "USD/TH/s/day", "Hashprice today (USD per TH/s per day)",
            "if set, today's hashprice hp0, used instead of the one derived from the market keys",
            **_between(0, 1e5)),
    Setting("market.hashprice_monthly_change", "float", -0.02, "per month", "Hashprice drift (% per month)",
            "g: hashprice multiplies by (1 + g) every month of the horizon (section 2's path; absent, or at its "
            "default, when a drift or market.csv gives the path)", **_between(-1, 10, lo_open=True)),
    Setting("market.pool_fee", "float", 0.0, "share of revenue", "Pool fee (%)",
            "share of revenue the mining pool keeps", check=lambda v: 0 <= v < 1, rule="in [0, 1)"),
    Setting("market.btc_price_monthly_change", "float?", None, "per month", "BTC price drift (% per month)",
            "gb: the BTC price multiplies by (1 + gb) each month; with it (or the network drift) hashprice is "
            "derived month by month from the market keys", **_between(-1, 10, lo_open=True)),
    Setting("market.network_hashrate_monthly_change", "float?", None, "per month",
            "Network hashrate growth (% per month)",
            "gh: the network hashrate multiplies by (1 + gh) each month; absent counts as 0 when the BTC drift is set",
            **_between(-1, 10, lo_open=True)),
    Setting("market.halving_months", "intlist", (), "months", "Halving months",
            "months t (0-based, ascending, within the horizon) at which the block subsidy halves once more; "
            "transaction fees do not halve", check=lambda v: all(t >= 0 for t in v) and all(a < b for a, b in zip(v, v[1:])),
            rule="whole months >= 0 in ascending order"),
    # [horizon]
    Setting("horizon.months", "int", 24, "months", "Horizon (months)",
            "H: how long the plan runs; rigs are valued at their salvage value at the end",
            check=lambda v: 1 <= v <= 600, rule="an integer from 1 to 600"),
    Setting("horizon.discount_rate", "float", 0.10, "per year", "Discount rate (% per year)",
            "annual rate used to discount future margins to today", **_between(-1, 100, lo_open=True)),
    Setting("horizon.salvage_fraction", "float", 0.25, "share", "Salvage value at horizon (% of resale)",
            "share of today's resale value a rig still fetches at the end of the horizon", **_between(0, 100)),
    Setting("horizon.start_month", "str?", None, "YYYY-MM", "Start month",
            "calendar month of month 0, e.g. \"2021-07\"; when set and halving_months is absent, halvings follow "
            "Bitcoin's schedule (see the README)", check=_month_text, rule='a month written "YYYY-MM"'),
    # [logistics]
    Setting("logistics.ship_base_usd", "float", 20.0, "USD/rig", "Freight, fixed part (USD per rig)",
            "freight per rig where no lane is given, fixed part", **_between(0, 1e7)),
    Setting("logistics.ship_usd_per_1000km", "float", 5.0, "USD/rig/1000 km", "Freight per 1000 km (USD per rig)",
            "freight per rig where no lane is given, per 1000 km of great-circle distance", **_between(0, 1e7)),
    Setting("logistics.lead_base_days", "float", 14.0, "days", "Lead time, fixed part (days)",
            "lead time where no lane is given, fixed part", **_between(0, 1e5)),
    Setting("logistics.lead_days_per_1000km", "float", 2.0, "days/1000 km", "Lead time per 1000 km (days)",
            "lead time where no lane is given, per 1000 km of great-circle distance", **_between(0, 1e5)),
    # [policy]
    Setting("policy.risk_aversion", "float", 1.0, "", "Caution about bans",
            "lambda: penalty per rig = lambda x chance of a ban within the horizon x resale value",
            **_between(0, 1e6)),
    Setting("policy.max_jurisdiction_share", "float", 1.0, "share of fleet TH/s",
            "Max share per jurisdiction (% of fleet hashrate)",
            "no single regulator may host more than this share of the fleet's hashrate",
            check=lambda v: 0 < v <= 1, rule="in (0, 1]"),
    Setting("policy.budget_usd", "float?", None, "USD", "Upfront budget (USD)",
            "cap on upfront spending (freight, import duty and site opening costs); absent = no cap",
            **_between(0, 1e15)),
    Setting("policy.allow_sell", "bool", True, "", "Allow selling rigs now",
            "a rig may be sold at today's resale price instead of relocated"),
    Setting("policy.allow_idle", "bool", True, "", "Allow storing rigs",
            "a rig may be stored and sold at its salvage value at the horizon"),
    Setting("policy.integer_rigs", "bool", False, "", "Whole rigs only",
            "whole rig counts: a mixed-integer program, slower, and no shadow prices"),
    Setting("policy.exclude_jurisdictions", "strlist", (), "", "Excluded jurisdictions",
            "no rig may go to a site in these jurisdictions"),
    Setting("policy.exclude_sites", "strlist", (), "", "Excluded sites",
            "extension: these sites receive nothing (the app's exclude tick box)"),
    Setting("policy.power_price_multiplier", "float", 1.0, "", "Power-price multiplier",
            "scales every site's power price (1.0 = prices as in sites.csv)", **_between(0, 1e3)),
    # [solver]
    Setting("solver.name", "str", "highs", "", "Solver",
            "both run through PuLP; HiGHS is faster and gives shadow prices", **_one_of("highs", "cbc")),
    Setting("solver.mip_gap", "float", 1e-4, "", "MIP gap",
            "relative MIP gap at which to stop", check=lambda v: 0 <= v < 1, rule="in [0, 1)"),
    Setting("solver.time_limit_s", "float", 60.0, "s", "Time limit (s)",
            "the solver stops here and returns the best plan found", **_between(0, 1e6, lo_open=True)),
    Setting("solver.backend", "str", "auto", "", "Solver path",
            "extension: \"pulp\" (the modeller of record), \"direct\" (the same matrix straight into HiGHS), "
            "\"columns\" (column generation on the same matrix, for LPs where selling or storing is allowed), "
            "\"auto\" (above 20,000 columns: columns for such LPs when lp_algorithm is \"auto\", else direct; "
            "CBC always goes through PuLP)", **_one_of("auto", "pulp", "direct", "columns")),
    Setting("solver.lp_algorithm", "str", "auto", "", "LP algorithm",
            "extension: HiGHS's LP algorithm, \"simplex\", \"ipm\" (interior point with crossover), \"choose\" "
            "(HiGHS's own choice), \"auto\" (ipm above 20,000 columns, else choose)",
            **_one_of("auto", "simplex", "ipm", "choose")),
    Setting("solver.prune_dominated", "bool", True, "", "Leave out dominated relocations",
            "extension: leave out relocations no better than selling or storing (same optimum)"),
    # [risk]: SPEC section 7 (sampled futures, the risk-aware plan) and the sampler (optimizer/risk/samples.py)
    Setting("risk.alpha", "float", 0.05, "share", "CVaR tail (alpha)",
            "tail share for CVaR: the mean of the worst alpha share of sampled outcomes", **_between(0, 1, lo_open=True)),
    Setting("risk.weight", "float", 0.0, "", "CVaR weight",
            "w: the risk-aware plan maximises (1 - w) x expected value + w x CVaR", **_between(0, 1)),
    Setting("risk.cvar_floor_usd", "float?", None, "USD", "CVaR floor (USD)",
            "if set, the risk-aware plan's CVaR must be at least this", **_between(-1e15, 1e15)),
    Setting("risk.method", "str", "auto", "", "Risk-aware plan method",
            "extension: how the risk-aware plan is solved: \"full\" (the Rockafellar-Uryasev LP, one row per "
            "sample), \"cuts\" (cutting planes over the sample rows, HiGHS and LP mode only; same optimum), \"auto\" (cuts "
            "when samples x relocation columns exceed 2 million, the solver is HiGHS and the plan is an LP)",
            **_one_of("auto", "full", "cuts")),
    Setting("risk.hashprice_volatility", "float", 0.44, "per year", "Hashprice volatility (per year)",
            "annual volatility of log hashprice around the scenario's path in sampled futures; 0 = no hashprice "
            "noise (default: monthly-mean hashprice Jul 2021-Jun 2023 and Jun 2024-Dec 2025, "
            "tools/hashprice_volatility.py; BTC's own 25% a month would be 0.866)", **_between(0, 10)),
    Setting("risk.ban_correlation", "float", 0.3, "", "Ban correlation",
            "how bans cluster across jurisdictions (Gaussian copula, one common factor): one regulator's move "
            "raises the odds next door", check=lambda v: 0 <= v < 1, rule="in [0, 1)"),
    Setting("risk.stop_permanent_share", "float", 1.0, "share", "Share of stops that last",
            "extension (SPEC 9): the sampler makes each drawn stop permanent with this probability, else it "
            "lasts risk.stop_months months; 1 = every stop lasts to the horizon", **_between(0, 1)),
    Setting("risk.stop_months", "int", 3, "months", "Length of a stop that ends (months)",
            "extension (SPEC 9): how long a sampled stop that is not permanent lasts", **_between(1, 1200)),
    Setting("risk.resale_beta", "float", 0.0, "", "Resale follows hashprice (beta)",
            "extension (SPEC 9): sampled resale factor = the scenario's resale path x hashprice factor^beta "
            "(resale.csv of the sample set); 0 = resale does not move with hashprice", **_between(0, 5)),
    Setting("risk.samples", "int", 1000, "samples", "Samples",
            "the sample command's default number of sampled futures", **_between(1, 1e6)),
    Setting("risk.seed", "int", 2021, "", "Seed",
            "the sample command's default seed: the same seed gives the same files anywhere", **_between(0, 1e18)),
    # [monthly]: SPEC section 8, the monthly plan (optimizer/economics/monthly.py, model/monthly.py, engine/monthly.py, risk/replay.py)
    Setting("monthly.enabled", "bool", False, "", "Monthly plan",
            "solve section 8's monthly plan (waves, waiting, selling later, moving again) instead of section 3's "
            "one-shot plan"),
    Setting("monthly.dispatch_months", "intlist", (), "months", "Dispatch months",
            "months at which rigs may leave their origin (0-based, within the horizon); [] = every month",
            check=lambda v: all(t >= 0 for t in v) and all(a < b for a, b in zip(v, v[1:])),
            rule="whole months >= 0 in ascending order"),
    Setting("monthly.sell_months", "intlist", (), "months", "Sell months",
            "months at which rigs may be sold, at the origin or at a site (0-based, within the horizon); [] = every "
            "month", check=lambda v: all(t >= 0 for t in v) and all(a < b for a, b in zip(v, v[1:])),
            rule="whole months >= 0 in ascending order"),
    Setting("monthly.store_usd_per_rig_month", "float", 0.0, "USD/rig/month", "Storage (USD per rig per month)",
            "paid for every rig still at its origin, each month (discounted like power)", **_between(0, 1e6)),
    Setting("monthly.replan_every", "int", 1, "months", "Re-plan every (months)",
            "the re-planning policy of replay re-plans every this many months",
            check=lambda v: 1 <= v <= 600, rule="an integer from 1 to 600"),
    Setting("monthly.replan_month", "int", 0, "month", "Re-plan from (month)",
            "t0: solve from this month on, keeping state.csv's decisions (all of earlier months)",
            check=lambda v: 0 <= v <= 600, rule="an integer from 0 to 600"),
    # [concentration]: a convex charge on a jurisdiction's share of the relocated MW (issue 21; optimizer/model/concentration.py)
    Setting("concentration.breakpoints_share", "floatlist", (), "share of relocated MW", "Concentration breakpoints",
            "extension: shares b_1 < b_2 < ... of the relocated fleet's MW above which a jurisdiction's MW is charged; "
            "[] = no charge (docs/model.md, Concentration)",
            check=lambda v: all(0 <= b < 1 for b in v) and all(a < b for a, b in zip(v, v[1:])),
            rule="shares in [0, 1) in ascending order"),
    Setting("concentration.charge_usd_per_mw", "floatlist", (), "USD/MW", "Concentration charge (USD per MW)",
            "extension: c_k, the charge (present value, USD per MW over the horizon) on each MW a jurisdiction "
            "holds between breakpoint k and k+1 of the relocated MW; one per breakpoint, each at least the one "
            "before (a convex charge)",
            check=lambda v: all(0 <= c <= 1e12 for c in v) and all(a <= b for a, b in zip(v, v[1:])),
            rule="numbers from 0 to 1e12, each at least the one before (convex)"),
    # [checks]
    Setting("checks.confirm", "strlist", (), "", "Confirmed values",
            "extension: values confirmed despite a plausibility warning, as \"FILE:COLUMN\" (e.g. "
            "\"sites.csv:power_usd_kwh\", \"sites.csv:location\") or a setting's key (e.g. \"market.fee_share\"); "
            "each silences that column's or key's warnings"),
)
SETTINGS: dict[str, Setting] = {s.key: s for s in _DECLARED}
ALL_KEYS: tuple[str, ...] = tuple(SETTINGS)
# The dataclass of each [section], in file order; the section classes keep their historical names.
_CLASS_NAMES = {"market": "Market", "horizon": "Horizon", "logistics": "Logistics", "policy": "Policy",
                "solver": "SolverSettings", "risk": "Risk", "monthly": "Monthly", "concentration": "Concentration",
                "checks": "Checks"}


def _section_class(section: str) -> type:
    cls = dataclasses.make_dataclass(
        _CLASS_NAMES[section],
        [(s.name, _PY_TYPES[s.kind], field(default=s.default)) for s in _DECLARED if s.section == section],
        frozen=True,
    )
    cls.__module__ = __name__  # pickles and reprs as optimizer.inputs.settings.<Name>
    cls.__doc__ = f"[{section}] of scenario.toml; fields, defaults and rules: optimizer.inputs.settings.SETTINGS."
    return cls


SECTIONS: dict[str, type] = {section: _section_class(section) for section in _CLASS_NAMES}
Market = SECTIONS["market"]
Horizon = SECTIONS["horizon"]
Logistics = SECTIONS["logistics"]
Policy = SECTIONS["policy"]
SolverSettings = SECTIONS["solver"]
Risk = SECTIONS["risk"]
Monthly = SECTIONS["monthly"]
Concentration = SECTIONS["concentration"]
Checks = SECTIONS["checks"]


def _to_dict(self: Any) -> dict[str, dict[str, Any]]:
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


Settings = dataclasses.make_dataclass(
    "Settings", [(name, cls, field(default_factory=cls)) for name, cls in SECTIONS.items()],
    frozen=True, namespace={"to_dict": _to_dict},
)
Settings.__module__ = __name__
Settings.__doc__ = "All of scenario.toml: one frozen, hashable dataclass per [section] (see SECTIONS)."


# The derived hashprice (today's, and its peak over the horizon) and the largest discount factor
# must stay below these, for the same reason as the upper limits above.
MAX_HASHPRICE_USD_TH_DAY = 1e5
MAX_DISCOUNT_FACTOR = 1e6


def _did_you_mean(word: str, options: list[str]) -> str | None:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _coerce(key: str, value: Any, file: str) -> tuple[Any, Problem | None]:
    """A TOML or --set value checked against its declaration: (typed value, None) or (None, problem)."""
    decl = SETTINGS[key]
    kind = decl.kind
    bad = lambda msg: (None, Problem(file, None, key, msg))  # noqa: E731
    if kind in ("float", "float?"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return bad(f"must be {TYPE_WORDS[kind]}, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            return bad(f"must be a finite number, got {value!r}")
    elif kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return bad(f"must be {TYPE_WORDS[kind]}, got {value!r}")
    elif kind == "bool":
        if not isinstance(value, bool):
            return None, Problem(file, None, key, f"must be true or false, got {value!r}", _bool_hint(key, value, file))
    elif kind == "str":
        if not isinstance(value, str):
            return bad(f"must be {TYPE_WORDS[kind]}, got {value!r}")
        value = value.strip().lower()
    elif kind == "str?":
        if not isinstance(value, str):
            return bad(f"must be {TYPE_WORDS[kind]}, got {value!r}")
        value = value.strip()
    elif kind == "strlist":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            return bad(f"must be {TYPE_WORDS[kind]}, got {value!r}")
        value = tuple(v.strip() for v in value if v.strip())
    elif kind == "intlist":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer() for v in value):
            return bad(f"must be {TYPE_WORDS[kind]}, got {value!r}")
        value = tuple(int(v) for v in value)
    elif kind == "floatlist":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
            return bad(f"must be {TYPE_WORDS[kind]}, got {value!r}")
        value = tuple(float(v) for v in value)
    if not decl.check(value):
        return bad(f"must be {decl.rule}, got {value!r}")
    return value, None


def _bool_hint(key: str, value: Any, file: str) -> str | None:
    """Case 32: "false" in quotes, or False / FALSE / yes: TOML's booleans are true and false, bare, in lower case."""
    if not isinstance(value, str):
        return None
    word = value.strip()
    meant = {"true": "true", "false": "false", "yes": "true", "no": "false", "on": "true", "off": "false",
             "1": "true", "0": "false"}.get(word.lower())
    if meant is None:
        return None
    how = f"--set {key}={meant}" if file == "--set" else f"{key.split('.', 1)[1]} = {meant}"
    if word == meant:  # the right word, given as text: it was quoted
        return f"write {how} without quotes: \"{word}\" is text, {meant} (bare, lower case) is the boolean"
    return f"write {how}: booleans are true and false, in lower case and without quotes"


def _flatten(doc: Mapping[str, Any], file: str) -> tuple[dict[str, Any], list[Problem]]:
    flat: dict[str, Any] = {}
    problems: list[Problem] = []
    for section, body in doc.items():
        if section not in SECTIONS:
            owners = [k for k in SETTINGS if k.split(".", 1)[1] == section]
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


def _quoted(text: str) -> bool:
    """Whether ``text`` is written as a TOML string ("..." or '...'); bare words stay as typed."""
    s = text.strip()
    return len(s) >= 2 and s[0] in "\"'" and s[-1] == s[0]


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
        if isinstance(value, str) and key in SETTINGS and SETTINGS[key].kind not in ("str", "str?"):
            value = parse_override_value(value)
        elif isinstance(value, str) and _quoted(value):  # a text setting given as a TOML string: "cbc"
            value = parse_override_value(value)
        flat[key] = value
        sources[key] = overrides_file
    values: dict[str, Any] = {}
    for key, value in flat.items():
        if key not in SETTINGS:
            section = key.split(".", 1)[0]
            problems.append(
                Problem(sources[key], None, key, "unknown key", _did_you_mean(key, list(ALL_KEYS)))
            )
            continue
        if value is None and SETTINGS[key].kind.endswith("?"):
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

    hp = hashprice_path(settings)
    if m.hashprice_usd_th_day is not None:
        hp_keys: tuple[str, ...] = ("market.hashprice_usd_th_day",)
    else:
        hp_keys = ("market.btc_price_usd", "market.network_hashrate_ehs", "market.block_subsidy_btc", "market.fee_share")
    if not math.isfinite(hp[0]) or hp[0] > MAX_HASHPRICE_USD_TH_DAY:
        src, key = where(*hp_keys)
        problems.append(Problem(src, None, key, f"gives a hashprice of {hp[0]:.3g} USD per TH/s per day today; "
                                f"the tool accepts at most {MAX_HASHPRICE_USD_TH_DAY:g}",
                                "check the market keys' units: network_hashrate_ehs is in EH/s (about 100 in 2021)"))
    elif not (np.isfinite(hp).all() and hp.max() <= MAX_HASHPRICE_USD_TH_DAY):
        month = int(np.argmax(~np.isfinite(hp) | (hp > MAX_HASHPRICE_USD_TH_DAY)))
        drift_keys = [k for k in SETTINGS if k.startswith("market.") and k.endswith("_monthly_change")]
        src, key = where(*drift_keys, "horizon.months")
        problems.append(Problem(src, None, key, f"makes the hashprice grow above {MAX_HASHPRICE_USD_TH_DAY:g} USD per "
                                f"TH/s per day by month {month}, the most the tool accepts",
                                "a monthly change is a fraction per month: 0.02 means +2% a month"))
    problems += path_problems(settings, sources, file)
    problems += monthly_problems(settings, sources, file)
    problems += concentration_problems(settings, sources, file)
    if h.discount_rate < 0:
        log_factor = -(h.months / 12) * math.log10(1 + h.discount_rate)
        if log_factor > math.log10(MAX_DISCOUNT_FACTOR):
            src, key = where("horizon.discount_rate", "horizon.months")
            problems.append(Problem(src, None, key, f"a discount rate of {h.discount_rate:g} over {h.months} months "
                                    f"inflates future values 1e{log_factor:.0f}-fold; the tool accepts at most "
                                    f"{MAX_DISCOUNT_FACTOR:g}", "discount_rate is a fraction per year: 0.10 means 10%"))
    return problems


def is_set(settings: Settings, key: str) -> bool:
    """A key counts as given when its value differs from its declared default (absent = default)."""
    return get_value(settings, key) != SETTINGS[key].default


HASHPRICE_PATH_KEYS = ("market.hashprice_usd_th_day", "market.hashprice_monthly_change",
                       "market.btc_price_monthly_change", "market.network_hashrate_monthly_change",
                       "market.halving_months")
DRIFT_KEYS = ("market.btc_price_monthly_change", "market.network_hashrate_monthly_change")


def path_problems(settings: Settings, sources: Mapping[str, str], file: str,
                  market_csv: bool = False) -> list[Problem]:
    """SPEC section 6's rules on which hashprice keys go together.

    With market.csv, none of HASHPRICE_PATH_KEYS may be given; with a BTC or network drift,
    hashprice_usd_th_day and hashprice_monthly_change may not; halving months lie within the horizon.
    """
    problems: list[Problem] = []
    where = lambda key: sources.get(key, file)  # noqa: E731
    if market_csv:
        for key in HASHPRICE_PATH_KEYS:
            if is_set(settings, key):
                problems.append(Problem(where(key), None, key, "must be absent when market.csv gives the hashprice path",
                                        "remove it, or remove market.csv"))
        return problems
    drifts = [k for k in DRIFT_KEYS if is_set(settings, k)]
    if drifts:
        for key in ("market.hashprice_usd_th_day", "market.hashprice_monthly_change"):
            if is_set(settings, key):
                problems.append(Problem(where(key), None, key, f"must be absent when {drifts[0]} is set "
                                        "(hashprice is then derived month by month from the market keys)",
                                        f"remove it, or remove {' and '.join(drifts)}"))
    H = settings.horizon.months
    beyond = [t for t in settings.market.halving_months if t >= H]
    if beyond:
        key = "market.halving_months"
        problems.append(Problem(where(key), None, key, f"month {beyond[0]} is beyond the horizon (months 0 to {H - 1})",
                                "halving months are 0-based months of the horizon"))
    return problems


def monthly_problems(settings: Settings, sources: Mapping[str, str], file: str) -> list[Problem]:
    """SPEC section 8's months lie within the horizon (0 .. H-1)."""
    H = settings.horizon.months
    mo = settings.monthly
    problems: list[Problem] = []
    for key, months in (("monthly.dispatch_months", mo.dispatch_months), ("monthly.sell_months", mo.sell_months),
                        ("monthly.replan_month", (mo.replan_month,))):
        beyond = [t for t in months if t >= H]
        if beyond:
            problems.append(Problem(sources.get(key, file), None, key, f"month {beyond[0]} is beyond the horizon "
                                    f"(months 0 to {H - 1})", "months are 0-based months of the horizon"))
    return problems


def concentration_problems(settings: Settings, sources: Mapping[str, str], file: str) -> list[Problem]:
    """[concentration]: one charge per breakpoint, and the charge is section 3's (not the monthly plan's)."""
    c = settings.concentration
    problems: list[Problem] = []
    key = "concentration.charge_usd_per_mw"
    if len(c.charge_usd_per_mw) != len(c.breakpoints_share):
        problems.append(Problem(sources.get(key, file), None, key, f"gives {len(c.charge_usd_per_mw)} charges for "
                                f"{len(c.breakpoints_share)} breakpoints (concentration.breakpoints_share)",
                                "give one charge per breakpoint: the USD per MW above that share"))
    elif c.breakpoints_share and settings.monthly.enabled:
        problems.append(Problem(sources.get("monthly.enabled", file), None, "monthly.enabled",
                                "the concentration charge is priced in section 3's plan only, not in the monthly plan",
                                "set concentration.breakpoints_share = [] or monthly.enabled = false"))
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
