"""One definition of everything: each copy of a declaration (README tables, schema.csv files, the
app's texts, the dataclasses, explain's terms, solver names) is checked against its source."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

import optimizer
from optimizer import analysis, economics
from optimizer.cli import docs
from optimizer.model import label, label_of_solver_name, solver_name
from optimizer.inputs.settings import SECTIONS, SETTINGS, Settings, build_settings
from optimizer.inputs.tables import TABLES
from tests.conftest import SOLVERS

ROOT = Path(__file__).resolve().parents[1]
DATASETS = sorted(p.parent for p in (ROOT / "datasets").glob("*/scenario.toml"))


# ---------------------------------------------------------------- settings and columns


INPUTS_PAGE = ROOT / "docs" / "inputs.md"  # the documentation page holding the generated tables


def test_docs_hold_exactly_the_generated_tables():
    readme = INPUTS_PAGE.read_text(encoding="utf-8")
    for name in docs.GENERATED:
        assert docs.block(name) in readme, f"docs/inputs.md's {name} table is stale: run make docs"
    assert docs.replace_blocks(readme) == readme


def test_docs_check_fails_on_an_edited_copy():
    readme = INPUTS_PAGE.read_text(encoding="utf-8")
    edited = readme.replace("| `horizon.months` | integer | months | 24 |", "| `horizon.months` | integer | months | 36 |")
    assert edited != readme
    assert docs.block("settings") not in edited


@pytest.mark.parametrize("folder", DATASETS, ids=lambda p: p.name)
def test_dataset_schema_agrees_with_declarations(folder):
    assert docs.schema_mismatches((folder / "schema.csv").read_text(encoding="utf-8"), folder) == []


def test_schema_check_catches_each_kind_of_difference():
    text = (DATASETS[0] / "schema.csv").read_text(encoding="utf-8")
    wrong_unit = text.replace("sites.csv,capacity_mw,float,MW,", "sites.csv,capacity_mw,float,kW,")
    wrong_type = text.replace("fleet.csv,count,integer,", "fleet.csv,count,float,")
    wrong_default = text.replace("sites.csv,pue,float,ratio,1.0,", "sites.csv,pue,float,ratio,1.1,")
    missing = "\n".join(line for line in text.splitlines() if not line.startswith("rigs.csv,power_w,"))
    unknown = text + "scenario.toml,market.btc_price,float,USD,35000.0,typo\n"
    extra = "\n".join(line for line in text.splitlines() if not line.startswith("sites.csv,source,"))
    for broken, words in ((wrong_unit, "unit 'kW'"), (wrong_type, "type 'float'"), (wrong_default, "default '1.1'"),
                          (missing, "rigs.csv,power_w: missing"), (unknown, "no such setting"),
                          (extra, "sites.csv,source: missing")):
        assert broken != text
        assert any(words in p for p in docs.schema_mismatches(broken, DATASETS[0])), words


def test_dataclasses_are_built_from_the_declarations():
    declared = {}
    for s in SETTINGS.values():
        declared.setdefault(s.section, {})[s.name] = s.default
    assert list(declared) == list(SECTIONS) == [f.name for f in dataclasses.fields(Settings)]
    for section, cls in SECTIONS.items():
        assert {f.name: f.default for f in dataclasses.fields(cls)} == declared[section]
        assert cls.__dataclass_params__.frozen
    settings = Settings()
    hash(settings)
    changed = dataclasses.replace(settings, horizon=dataclasses.replace(settings.horizon, months=36))
    assert changed.horizon.months == 36 and settings.horizon.months == 24 and changed != settings


@pytest.mark.parametrize("key", [k for k, s in SETTINGS.items() if s.kind in ("float", "float?", "int") and s.rule])
def test_validation_applies_each_declared_rule(key):
    """A value just outside the declared range is refused with the declaration's own words."""
    s = SETTINGS[key]
    numbers = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?", s.rule)]
    outside = max(numbers) * 2 + 1
    assert not s.check(outside)
    with pytest.raises(optimizer.ScenarioError) as err:
        build_settings({}, {key: outside})
    assert s.rule in str(err.value)
    build_settings({}, {key: next(v for v in (s.default, 0.0, *numbers) if v is not None and s.check(v))})


def test_app_help_comes_from_the_declarations():
    """ui/ reads labels and help from SETTINGS and tables: no declared text is copied into the app's source."""
    from ui import controls

    for slider in controls.SLIDERS:
        assert slider.label == SETTINGS[slider.key].label
        assert SETTINGS[slider.key].meaning[1:] in controls.setting_help(slider.key)
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "ui").glob("*.py"))
    for s in SETTINGS.values():
        assert s.meaning[:40] not in source, s.key
    for spec in TABLES.values():
        for col in spec.columns:
            if col.kind != "text":
                assert f'"{col.description[:1].upper() + col.description[1:]}"' not in source, col.name


# ---------------------------------------------------------------- one implementation of the economics


@pytest.mark.parametrize("folder", DATASETS, ids=lambda p: p.name)
def test_explain_terms_add_up_to_the_models_value(folder):
    """For every (group, site) pair: explain's terms sum to V, and V is what the model optimises."""
    scn = optimizer.load_scenario(folder)
    econ = economics.compute(scn)
    groups = economics.groups(scn)
    res = optimizer.solve(scn)
    for g, row in groups.iterrows():
        for s, site in enumerate(econ.sites):
            b = analysis.breakdown(scn, row["origin"], row["model"], site)
            assert (b["revenue_pv_usd"] - b["power_pv_usd"] - b["mgmt_fee_pv_usd"] - b["hosting_pv_usd"]
                    == pytest.approx(b["ops_usd"], rel=1e-9, abs=1e-6))
            total = b["ops_usd"] + b["terminal_usd"] - b["freight_usd"] - b["duty_usd"] - b["risk_penalty_usd"]
            assert total == pytest.approx(b["value_relocate_usd"], rel=1e-12, abs=1e-9)
            assert b["value_relocate_usd"] == pytest.approx(econ.value_usd[g, s], rel=1e-9, abs=1e-6)
            assert b["value_sell_usd"] == econ.resale_usd[g] and b["value_idle_usd"] == pytest.approx(econ.terminal_usd[g])
    # the plan's relocation values are V: allocation value_usd / rigs for every relocation row
    reloc = res.allocation[res.allocation["action"] == "relocate"]
    key = {(o, m): g for g, (o, m) in enumerate(zip(groups["origin"], groups["model"]))}
    for r in reloc.itertuples():
        v = econ.value_usd[key[(r.origin, r.model)], econ.sites.index(r.site)]
        assert r.value_usd == pytest.approx(r.rigs * v, rel=1e-9)


def test_margin_path_shapes_and_methods():
    scn = optimizer.load_scenario(DATASETS[0])
    econ = economics.compute(scn)
    G, S, T = econ.n_groups, len(econ.sites), scn.settings.horizon.months
    gi, si = np.arange(G)[:, None], np.arange(S)[None, :]
    path = econ.path(scn, gi, si)
    for name in ("revenue_usd", "power_usd", "availability", "survival"):
        assert getattr(path, name).shape == (G, S, T), name
    assert path.hosting_usd.shape == (G, S) and path.discount.shape == (T,)
    assert path.margin().shape == path.weights().shape == (G, S, T)
    assert np.allclose(path.ops(), econ.ops_usd, rtol=1e-12, atol=1e-9)
    # factor multiplies revenue (the hashprice): a factor of 0 leaves only hosting, owed every month
    assert np.allclose(path.margin(0.0), -path.hosting_usd[..., None])
    factor = np.linspace(0.5, 1.5, T)
    by_hand = np.maximum(path.revenue_usd * factor - path.power_usd, 0) - path.hosting_usd[..., None]
    assert np.array_equal(path.margin(factor), by_hand)
    # power is linear in the price: the path at 1 USD/kWh scaled to today's prices is today's path
    unit = econ.path(scn, gi, si, power_usd_kwh=np.ones((1, S)))
    price = scn.sites["power_usd_kwh"].to_numpy(float)[None, :]
    assert np.allclose(unit.at_power_price(np.broadcast_to(price, (G, S))).ops(), econ.ops_usd, rtol=1e-12, atol=1e-9)


def test_no_second_implementation_of_the_month_loop():
    """The per-rig month terms are written once: no other module computes hashprice or availability."""
    for path in (ROOT / "optimizer").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.relative_to(ROOT).as_posix() in ("optimizer/economics/__init__.py", "optimizer/inputs/hashprice.py"):
            continue  # the month loop, and the hashprice path the settings check too
        assert "144 *" not in text and "block_subsidy_btc *" not in text, path
        assert "DAYS_PER_MONTH * (t + 1)" not in text and "operating_value" not in text, path


# ---------------------------------------------------------------- labels and solver names

HOSTILE = ["Quebec Hydro", "a,b", "x[1]", 'say "hi"', "O'Brien", "北京", "=SUM(A1)", "+1", "-", "a_b", "a_5F", "",
           " padded ", "back\\slash", "tab\there", "ümlaut é"]


@pytest.mark.parametrize("text", HOSTILE)
def test_solver_names_are_escaped_and_reversible(text):
    name = solver_name(text)
    assert re.fullmatch(r"[A-Za-z0-9_]*", name)
    assert label_of_solver_name(name) == text


def test_labels_and_solver_names_are_unique():
    labels = {label("fleet", a, b) for a in HOSTILE for b in HOSTILE}
    assert len(labels) == len(HOSTILE) ** 2
    assert len({solver_name(x) for x in labels}) == len(labels)
    assert label("capacity", "Quebec Hydro") == "capacity[Quebec Hydro]"
    assert label("fleet", "Sichuan", "Antminer S9") == "fleet[Sichuan,Antminer S9]"
    assert label("budget") == "budget"


def test_hostile_names_solve_with_both_solvers_and_label_the_rows(tmp_path):
    from optimizer.model import build_model, to_pulp
    from tests import scenario_builder as sb

    sc = sb.scenario(
        rigs=[{"model": 'S19 "j" [pro]', "hashrate_ths": 100, "power_w": 3000, "resale_usd": 1000}],
        origins=[{"origin": "Sichuan, 四川", "country": "CN", "lat": 30, "lon": 104}],
        fleet=[{"origin": "Sichuan, 四川", "model": 'S19 "j" [pro]', "count": 100}],
        sites=[{"site": "Québec = Hydro", "jurisdiction": "QC+", "lat": 46, "lon": -71, "capacity_mw": 0.15,
                "power_usd_kwh": 0.03},
               {"site": "a_5F b", "jurisdiction": "J'2", "lat": 50, "lon": 10, "capacity_mw": 1, "power_usd_kwh": 0.06}],
        market={"hashprice_usd_th_day": 0.1, "hashprice_monthly_change": 0.0},
        policy={"max_jurisdiction_share": 0.6},
    )
    scn = optimizer.load_scenario(sb.write(sc, tmp_path / "scn"))
    model = build_model(scn, economics.compute(scn))
    rows = model.row_labels()
    assert 'fleet["Sichuan, 四川","S19 \\"j\\" [pro]"]' in rows
    assert "capacity[Québec = Hydro]" in rows and "share[QC+]" in rows
    prob, variables, constraints = to_pulp(model)
    assert [label_of_solver_name(v.name) for v in variables] == model.column_labels()
    assert [label_of_solver_name(c.name) for c in constraints] == rows
    objs = [optimizer.solve(scn.with_overrides({"solver.name": s})).summary["objective_usd"] for s in SOLVERS]
    assert objs[0] == pytest.approx(objs[1], rel=1e-7)


def test_the_tests_solver_list_is_the_declared_one():
    """tests/conftest.py's SOLVERS (every solver-parametrised test runs over it) is solver.name's declared choice."""
    s = SETTINGS["solver.name"]
    assert s.rule == " or ".join(f'"{name}"' for name in SOLVERS)
    assert all(s.check(name) for name in SOLVERS) and not s.check("glpk")
