"""Property tests: random unit slips (x1000, /1000, a percent typed for a fraction) and random
name variants (letter case, spaces, Unicode NFD) injected into a valid scenario
(tests/fixtures/tiny) are each flagged (bad input or a warning naming the file and row or key)
or unified (the variant is read as the name it varies)."""
from __future__ import annotations

import csv
import io
import sys
import tomllib
import unicodedata
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import optimizer
from optimizer.inputs import plausibility
from optimizer.inputs.errors import ScenarioError
from optimizer.inputs.names import canon

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from rigshift_testkit import tiny_files  # noqa: E402


def _base() -> dict[str, bytes]:
    files = tiny_files()
    # An accented name, so that Unicode normal forms matter.
    files["sites.csv"] = files["sites.csv"].decode().replace("Quebec Hydro,Quebec", "Québec Hydro,Québec").encode()
    return files


BASE = _base()


def read_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def write_rows(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def with_cell(files: dict[str, bytes], file: str, row: int, column: str, value: str) -> dict[str, bytes]:
    """``row`` is a data row index (0 = spreadsheet row 2)."""
    rows = read_rows(files[file])
    rows[row + 1][rows[0].index(column)] = value
    return {**files, file: write_rows(rows)}


def cell(files: dict[str, bytes], file: str, row: int, column: str) -> str:
    rows = read_rows(files[file])
    return rows[row + 1][rows[0].index(column)]


def outcome(files: dict[str, bytes]):
    """("bad", problems) or ("ok", warnings, scenario)."""
    try:
        scn = optimizer.scenario_from_files(files)
    except ScenarioError as exc:
        return "bad", exc.problems, None
    problems, warnings = plausibility.review(scn)
    if problems:
        return "bad", problems, scn
    return "ok", warnings, scn


def test_the_base_scenario_is_clean():
    kind, found, _ = outcome(BASE)
    assert kind == "ok" and found == []


# ---------------------------------------------------------------- unit slips

NUMBER_SLIPS = [
    # (file, column, rows, factors)
    ("rigs.csv", "hashrate_ths", range(3), (1000.0, 0.001)),  # GH/s or PH/s typed as TH/s
    ("rigs.csv", "power_w", range(3), (1000.0, 0.001)),  # mW or kW typed as W
    ("sites.csv", "power_usd_kwh", range(4), (1000.0, 0.001)),  # USD/MWh, USD/Wh
    ("sites.csv", "capacity_mw", range(4), (1000.0,)),  # kW typed as MW
    ("sites.csv", "uptime", range(4), (100.0,)),  # percent for fraction
    ("sites.csv", "reg_risk", range(4), (100.0,)),
    ("sites.csv", "import_duty", (1, 3), (100.0,)),  # rows with a nonzero duty
]
SETTING_SLIPS = [
    ("market", "fee_share", 0.05, (100.0,)),
    ("horizon", "salvage_fraction", 0.25, (100.0,)),
    ("horizon", "discount_rate", 0.10, (100.0,)),
    ("market", "network_hashrate_ehs", 100.0, (1000.0, 0.001)),  # PH/s, ZH/s
    ("market", "btc_price_usd", 35000.0, (0.001,)),  # thousands of USD
    ("market", "hashprice_usd_th_day", 0.25, (1000.0, 0.001)),  # per PH/s, per GH/s
    ("market", "pool_fee", 0.02, (100.0,)),  # percent for fraction (bad input, with a percent hint)
]


@st.composite
def number_slip(draw):
    file, column, rows, factors = draw(st.sampled_from(NUMBER_SLIPS))
    return file, column, draw(st.sampled_from(list(rows))), draw(st.sampled_from(factors))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(number_slip())
def test_a_slipped_number_is_flagged(slip):
    file, column, row, factor = slip
    value = float(cell(BASE, file, row, column)) * factor
    files = with_cell(BASE, file, row, column, repr(value))
    kind, found, _ = outcome(files)
    named = [f for f in found if f.file == file and (f.row == row + 2 or f.row is None)]
    assert named, (slip, [str(f) for f in found])
    if kind == "ok":
        # A warning names the value and the unit it probably is.
        assert any(f.likely and f.confirm for f in named), [str(f) for f in named]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SETTING_SLIPS).flatmap(lambda s: st.tuples(st.just(s), st.sampled_from(s[3]))))
def test_a_slipped_setting_is_flagged(drawn):
    (section, key, typical, _), factor = drawn
    doc = tomllib.loads(BASE["scenario.toml"].decode())
    doc.setdefault(section, {})[key] = typical * factor
    files = {**BASE, "scenario.toml": tomli_w.dumps(doc).encode()}
    kind, found, _ = outcome(files)
    full = f"{section}.{key}"
    if kind == "bad":
        assert any(f.column == full or (key == "network_hashrate_ehs" and f.column == "hashrate_ths") for f in found), \
            (drawn, [str(f) for f in found])
        if key == "pool_fee":
            assert any("percent" in str(f) for f in found)
        return
    assert any(f.column == full or (key == "network_hashrate_ehs" and f.column == "hashrate_ths") for f in found), \
        (drawn, [str(f) for f in found])
    # Confirming it silences the warning, and only it.
    doc["checks"] = {"confirm": [full]}
    kind2, found2, _ = outcome({**BASE, "scenario.toml": tomli_w.dumps(doc).encode()})
    assert kind2 == "ok" and not any(f.column == full for f in found2)


# ---------------------------------------------------------------- name variants


def _variants(name: str) -> list[str]:
    out = [name.upper(), name.lower(), name.swapcase(), "  " + name + " ", name.replace(" ", "   "),
           unicodedata.normalize("NFD", name), unicodedata.normalize("NFD", name.upper())]
    return [v for v in out if v != name]


REFERENCES = [("fleet.csv", "origin", range(4)), ("fleet.csv", "model", range(4)), ("lanes.csv", "origin", (0,)),
              ("lanes.csv", "site", (0,)), ("sites.csv", "jurisdiction", range(4))]


@st.composite
def name_variant(draw):
    file, column, rows = draw(st.sampled_from(REFERENCES))
    row = draw(st.sampled_from(list(rows)))
    original = cell(BASE, file, row, column)
    variant = draw(st.sampled_from(_variants(original)))
    return file, column, row, original, variant


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name_variant())
def test_a_name_variant_in_a_reference_is_unified(drawn):
    file, column, row, original, variant = drawn
    files = with_cell(BASE, file, row, column, variant)
    scn = optimizer.scenario_from_files(files)
    table = {"fleet.csv": scn.fleet, "lanes.csv": scn.lanes, "sites.csv": scn.sites}[file]
    base = optimizer.scenario_from_files(BASE)
    if file == "sites.csv":  # the only spelling of its jurisdiction: kept (tidied), still one jurisdiction
        assert canon(table[column].iloc[row]) == canon(original)
        assert table[column].iloc[row] == table[column].iloc[row].strip()
        assert scn.sites["jurisdiction"].nunique() == base.sites["jurisdiction"].nunique()
        return
    assert table[column].iloc[row] == original, drawn
    for name in ("fleet", "lanes", "sites"):
        a, b = getattr(scn, name).drop(columns="_row"), getattr(base, name).drop(columns="_row")
        assert a.equals(b), (name, drawn)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["Kazakhstan", "Texas", "Québec", "Georgia"]).flatmap(
    lambda j: st.tuples(st.just(j), st.sampled_from(_variants(j)))))
def test_an_excluded_jurisdiction_acts_whatever_its_spelling(drawn):
    jurisdiction, variant = drawn
    scn = optimizer.scenario_from_files(BASE, {"policy.exclude_jurisdictions": [variant]})
    assert scn.settings.policy.exclude_jurisdictions == (jurisdiction,)
    res = optimizer.solve(scn)
    rel = res.allocation[res.allocation["action"] == "relocate"]
    assert not (rel["jurisdiction"] == jurisdiction).any()


DEFINING = [("rigs.csv", "model", "{v},95,3250,3200"), ("origins.csv", "origin", "{v},China,30.0,104.0"),
            ("sites.csv", "site", "{v},Texas,31.0,-102.0,1,0.04,0,1,1,0,0")]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(DEFINING).flatmap(lambda d: st.tuples(
    st.just(d), st.integers(0, 1), st.integers(0, 6))))
def test_a_name_variant_in_a_defining_column_is_refused_as_duplicate(drawn):
    (file, column, template), which, k = drawn
    original = cell(BASE, file, which, column)
    variants = _variants(original)
    variant = variants[k % len(variants)]
    assume(variant.strip() != original)
    data = BASE[file].decode().rstrip("\n") + "\n" + template.format(v=f'"{variant}"') + "\n"
    with pytest.raises(ScenarioError) as err:
        optimizer.scenario_from_files({**BASE, file: data.encode()})
    new_row = len(read_rows(BASE[file])) + 1
    hits = [p for p in err.value.problems if p.file == file and p.row == new_row and p.column == column]
    assert hits and any(w in hits[0].message for w in ("letter case", "Unicode form", "extra spaces")), \
        [str(p) for p in err.value.problems]


CHINA = Path(__file__).resolve().parents[1] / "datasets" / "china-2021"


@pytest.mark.skipif(not (CHINA / "sites.csv").is_file(), reason="datasets/china-2021 is not in this checkout")
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_slipped_number_in_china_2021_is_flagged(data):
    files = {p.name: p.read_bytes() for p in CHINA.iterdir() if p.is_file()}
    assert outcome(files)[0] == "ok"
    file, column, factors = data.draw(st.sampled_from([
        ("rigs.csv", "hashrate_ths", (1000.0, 0.001)), ("rigs.csv", "power_w", (1000.0, 0.001)),
        ("sites.csv", "power_usd_kwh", (1000.0, 0.001)), ("sites.csv", "uptime", (100.0,)),
        ("sites.csv", "reg_risk", (100.0,))]))
    n_rows = len(read_rows(files[file])) - 1
    row = data.draw(st.integers(0, n_rows - 1))
    value = float(cell(files, file, row, column) or "nan")
    assume(value > 0)
    factor = data.draw(st.sampled_from(factors))
    # Below 1% a percent typed as a number is itself a valid fraction: nothing could tell them apart.
    assume(not (factor == 100.0 and value * factor <= 1))
    kind, found, _ = outcome(with_cell(files, file, row, column, repr(value * factor)))
    assert any(f.file == file and f.row in (row + 2, None) for f in found), (file, column, row, factor)
