"""Property-based fuzzing of every input file (Hypothesis).

Whatever bytes a user brings as one of the scenario files (the others being the tiny valid
scenario), the outcome is either a plan whose invariants hold, or the documented errors:
ScenarioError (bad input) or InfeasibleError (no plan), each with non-empty messages.
Anything else (a KeyError, an IndexError from the solver wrapper, a plan over capacity) fails.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from rigshift_testkit import check_invariants, files_with, tiny_text  # noqa: E402

import optimizer  # noqa: E402
from optimizer import InfeasibleError, ScenarioError, SolverFailure  # noqa: E402
from optimizer.inputs.settings import ALL_KEYS  # noqa: E402
from optimizer.inputs.tables import TABLES  # noqa: E402

import os

# RIGSHIFT_FUZZ_EXAMPLES=2000 RIGSHIFT_FUZZ_RANDOM=1 for a longer, randomised bug hunt.
EXAMPLES = int(os.environ.get("RIGSHIFT_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("RIGSHIFT_FUZZ_RANDOM"),
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check_outcome(files: dict[str, bytes]) -> str:
    """Load and solve; assert the outcome is a valid plan or a documented error. Returns which."""
    outcome = _outcome(files)
    try:
        event(outcome)
    except Exception:  # noqa: BLE001 - outside a Hypothesis test
        pass
    return outcome


def _outcome(files: dict[str, bytes]) -> str:
    try:
        scn = optimizer.scenario_from_files(files)
    except ScenarioError as exc:
        assert exc.problems and all(p.file and p.message.strip() for p in exc.problems), exc.problems
        assert str(exc).strip()
        return "bad input"
    try:
        res = optimizer.solve(scn)
    except InfeasibleError as exc:
        assert exc.reasons and all(r.strip() for r in exc.reasons)
        return "infeasible"
    except ScenarioError as exc:
        assert exc.problems
        return "bad input"
    except SolverFailure as exc:
        # Only acceptable when the user asked for (almost) no solving time.
        assert scn.settings.solver.time_limit_s < 1.0, exc
        assert str(exc).strip()
        return "solver stopped"
    check_invariants(scn, res)
    assert math.isfinite(res.summary["objective_usd"])
    assert res.files()["allocation.csv"].startswith("action,")
    return "plan"


# ----------------------------------------------------------------------------- cells and CSV text

NUMBERS = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=0, max_value=1e4).map(lambda v: f"{v:.6g}"),
    st.floats(min_value=0, max_value=1).map(lambda v: f"{v:.3f}"),
    st.sampled_from(["0", "1", "-0", "1e-6", "1e-300", "1e300", "1e999", "nan", "NaN", "inf", "-inf", "Infinity",
                     "1,000", "0,5", "1.000,50", "1 000", "12%", "$5", "5 kW", "\u22125", "0x10", "1_000", "٣",
                     "", " ", "1e", ".", "+", "--1", "TRUE", "#N/A", "#DIV/0!"]),
)
TEXT = st.one_of(
    st.text(min_size=0, max_size=12),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    st.sampled_from(["=1+1", "+cmd", "-x", "@SUM(A1)", "\tx", "a\nb", 'q"uote', "a,b", "", "  ", "Sichuan",
                     "Antminer S9", "Texas West", "Ekibastuz", "\u200b", "x" * 250]),
)
CELL = st.one_of(NUMBERS, TEXT)


def _quote(cell: str, sep: str) -> str:
    if any(ch in cell for ch in (sep, '"', "\n", "\r")):
        return '"' + cell.replace('"', '""') + '"'
    return cell


@st.composite
def csv_bytes(draw, name: str) -> bytes:
    """CSV text for one table: the fixture with some cells, rows or columns mutated, or random rows."""
    spec = TABLES[name]
    base = tiny_text(spec.file) if name != "lanes" else tiny_text("lanes.csv")
    lines = [line.split(",") for line in base.strip().split("\n")]
    header, rows = lines[0], [list(r) for r in lines[1:]]
    mode = draw(st.sampled_from(["gentle", "gentle", "mutate", "mutate", "random"]))
    if mode == "gentle":
        # Plausible edits a user makes: other numbers (some extreme), blanks in optional cells, rows
        # copied under a new name, whitespace. Many of these are valid and reach the solver.
        for _ in range(draw(st.integers(1, 4))):
            r = draw(st.integers(0, len(rows) - 1))
            c = draw(st.integers(0, len(header) - 1))
            col = next((x for x in spec.columns if x.name == header[c]), None)
            if col is not None and col.kind != "text":
                factor = draw(st.one_of(st.floats(0.01, 100), st.sampled_from([0.0, 1e-6, 0.5, 1.0, 2.0, 1e3, 1e6])))
                value = float(rows[r][c].strip() or 1) * factor
                rows[r][c] = draw(st.sampled_from([f"{value:.6g}", str(round(value)), "", f" {value!r} "]))
            elif draw(st.booleans()):
                copy = list(rows[r])
                copy[0] = copy[0] + draw(st.sampled_from([" 2", "-b", " ", "é"]))
                rows.append(copy)
            else:
                rows[r][c] = " " + rows[r][c] + " "
        if draw(st.booleans()):
            body = "\n".join(",".join(_quote(cell, ",") for cell in row) for row in [header] + rows) + "\n"
            return body.encode("utf-8")
    elif mode == "random":
        names = [c.name for c in spec.columns] + ["note", "Model", "capacity", ""]
        header = draw(st.lists(st.sampled_from(names), min_size=0, max_size=len(spec.columns) + 2))
        n_rows = draw(st.integers(0, 6))
        rows = [draw(st.lists(CELL, min_size=max(0, len(header) - 1), max_size=len(header) + 1)) for _ in range(n_rows)]
    else:
        for _ in range(draw(st.integers(1, 4))):
            if not rows:
                break
            what = draw(st.sampled_from(["cell", "cell", "cell", "dup-row", "drop-row", "drop-col", "add-col",
                                         "rename-col", "numbers"]))
            r = draw(st.integers(0, len(rows) - 1))
            c = draw(st.integers(0, len(header) - 1))
            if what == "cell" and c < len(rows[r]):
                rows[r][c] = draw(CELL)
            elif what == "numbers" and c < len(rows[r]):
                rows[r][c] = draw(NUMBERS)
            elif what == "dup-row":
                rows.append(list(rows[r]))
            elif what == "drop-row":
                rows.pop(r)
            elif what == "drop-col" and len(header) > 1:
                header.pop(c)
                for row in rows:
                    if c < len(row):
                        row.pop(c)
            elif what == "add-col":
                header.append(draw(st.sampled_from(["pue", "uptime", "note", "reg_risk", "min_mw", "fixed_cost_usd",
                                                    "hosting_usd_kw_mnth", "count"])))
                for row in rows:
                    row.append(draw(NUMBERS))
            elif what == "rename-col":
                header[c] = draw(st.sampled_from([header[c].upper(), header[c] + " ", header[c][:-1], "x"]))
    sep = draw(st.sampled_from([",", ",", ",", ",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    body = newline.join(sep.join(_quote(cell, sep) for cell in row) for row in [header] + rows)
    if draw(st.booleans()):
        body += newline
    if draw(st.integers(0, 9)) == 7:
        body = newline + body
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16", "bytes"]))
    if encoding == "bytes":
        return draw(st.binary(max_size=200))
    return body.encode(encoding, errors="replace")


def _check_file(name: str, data: bytes) -> None:
    file = TABLES[name].file
    check_outcome(files_with(**{file.replace(".csv", "_csv"): data}))


@pytest.mark.parametrize("name", ["rigs", "origins", "fleet", "sites", "lanes"])
@FUZZ
@given(data=st.data())
def test_fuzz_csv(name, data):
    _check_file(name, data.draw(csv_bytes(name), label=f"{name}.csv"))


# ----------------------------------------------------------------------------- scenario.toml

TOML_VALUES = st.one_of(
    st.booleans(),
    st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-2, max_value=2),
    st.floats(min_value=0, max_value=1e5),
    st.text(max_size=10),
    st.sampled_from(["highs", "cbc", "HiGHS", "ipm", "direct", "pulp", "Texas", "Kazakhstan"]),
    st.lists(st.sampled_from(["Texas", "Kazakhstan", "Quebec", "Georgia", "Mars", ""]), max_size=3),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
KEYS = st.one_of(
    st.sampled_from(ALL_KEYS),
    st.sampled_from(ALL_KEYS).map(lambda k: k[:-1]),
    st.sampled_from(["market.btc", "polcy.allow_sell", "Market.btc_price_usd", "horizon", "solver.threads"]),
)
SAFE_VALUES = {  # values a user would plausibly write, so that many examples reach the solver
    "policy.allow_sell": st.booleans(), "policy.allow_idle": st.booleans(), "policy.integer_rigs": st.booleans(),
    "solver.name": st.sampled_from(["highs", "cbc"]), "solver.time_limit_s": st.sampled_from([5, 30, 60]),
    "horizon.months": st.integers(1, 120), "policy.max_jurisdiction_share": st.floats(0.1, 1.0),
    "policy.budget_usd": st.floats(0, 1e8), "market.btc_price_usd": st.floats(0, 1e6),
    "market.hashprice_monthly_change": st.floats(-0.5, 0.2), "policy.risk_aversion": st.floats(0, 10),
    "policy.exclude_jurisdictions": st.lists(st.sampled_from(["Texas", "Kazakhstan", "Quebec", "Georgia"]),
                                             max_size=4, unique=True),
    "solver.backend": st.sampled_from(["auto", "pulp", "direct"]),
    "solver.lp_algorithm": st.sampled_from(["auto", "simplex", "ipm", "choose"]),
}


@st.composite
def toml_bytes(draw) -> bytes:
    mode = draw(st.sampled_from(["plausible", "plausible", "wild", "text"]))
    if mode == "text":
        return draw(st.one_of(st.text(max_size=80), st.sampled_from(
            ["[market", "a = ", "[market]\nbtc_price_usd = 1\n[market]\n", "x = 1\n[[policy]]\n", "\x00", "[policy]\n"
             "allow_sell = True\n"]))).encode("utf-8", errors="replace")
    doc: dict = {}
    if mode == "plausible":
        keys = draw(st.lists(st.sampled_from(sorted(SAFE_VALUES)), max_size=5, unique=True))
        pairs = [(k, draw(SAFE_VALUES[k])) for k in keys]
    else:
        pairs = draw(st.lists(st.tuples(KEYS, TOML_VALUES), max_size=5))
    for key, value in pairs:
        section, _, name = key.partition(".")
        if not name:
            doc[section] = value
            continue
        if not isinstance(doc.get(section), dict):
            doc[section] = {}
        doc[section][name] = value
    try:
        return tomli_w.dumps(doc).encode()
    except (TypeError, ValueError):  # tomli_w refuses some structures: write the repr as text instead
        return repr(doc).encode()


@FUZZ
@given(data=toml_bytes())
def test_fuzz_scenario_toml(data):
    check_outcome(files_with(scenario_toml=data))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("RIGSHIFT_FUZZ_RANDOM"), database=None)
@given(overrides=st.dictionaries(KEYS, st.one_of(TOML_VALUES.map(lambda v: v), st.text(max_size=12)), max_size=4))
def test_fuzz_overrides(overrides):
    """--set values (strings in TOML syntax, or Python values from the app) on a valid scenario."""
    scn = optimizer.scenario_from_files(files_with())
    try:
        scn2 = scn.with_overrides(overrides)
    except ScenarioError as exc:
        assert exc.problems and all(p.column for p in exc.problems)
        return
    try:
        check_invariants(scn2, optimizer.solve(scn2))
    except InfeasibleError as exc:
        assert exc.reasons
    except SolverFailure:
        assert scn2.settings.solver.time_limit_s < 1.0


def test_the_fuzzers_reach_the_solver():
    """Guard against a fuzzer that only ever produces bad input: a fixed sample must reach every outcome."""
    outcomes = set()
    for name in ("rigs", "sites", "fleet"):
        for seed in range(40):
            outcomes.add(_sample_outcome(name, seed))
    assert "plan" in outcomes and "bad input" in outcomes, outcomes


def _sample_outcome(name: str, seed: int) -> str:
    import random

    rng = random.Random(seed)
    spec = TABLES[name]
    text = tiny_text(spec.file)
    lines = text.strip().split("\n")
    r = rng.randrange(1, len(lines))
    cells = lines[r].split(",")
    c = rng.randrange(len(cells))
    cells[c] = rng.choice(["", "abc", "-1", cells[c], cells[c], "1e9", "0"])
    lines[r] = ",".join(cells)
    return check_outcome(files_with(**{spec.file.replace(".csv", "_csv"): "\n".join(lines) + "\n"}))


@pytest.mark.parametrize("text", ["model,hashrate_ths,power_w,resale_usd\nA,1,1,1\n" + "B,1,1,1\n" * 3,
                                  "\x00\x00\x00", "model\n" + "a\n" * 1000])
def test_fuzz_regressions(text):
    """Inputs that once broke (or nearly broke) the loader."""
    check_outcome(files_with(rigs_csv=text))
