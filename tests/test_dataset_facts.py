"""The built-in scenarios: SPEC section 1 rules, the issue's structural requirements, and
figures tied back to the reference rows they came from.

Reads only files (csv, tomllib, pandas); it does not import the engine.
"""

from __future__ import annotations

import csv
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"
# The reference files the datasets cite, kept in the repository (tests/data/reference/COPIED.txt).
REFERENCE = ROOT / "tests" / "data" / "reference"
SHARED_REFERENCE = ROOT.parent / "shared" / "reference"
CHINA = DATASETS / "china-2021"
HALVING = DATASETS / "post-halving-2024"
WORLD = DATASETS / "world-2025"
SCENARIOS = sorted(p for p in DATASETS.iterdir() if (p / "scenario.toml").is_file())
SCENARIO_IDS = [p.name for p in SCENARIOS]

CNY_PER_USD = 6.4601  # CFETS central parity, 30 Jun 2021 (china-2021 README, S5)
BANNED_PROVINCES = ["Xinjiang", "Sichuan", "Inner Mongolia", "Yunnan", "Qinghai"]

REQUIRED = {
    "rigs.csv": ["model", "hashrate_ths", "power_w", "resale_usd"],
    "origins.csv": ["origin", "country", "lat", "lon"],
    "fleet.csv": ["origin", "model", "count"],
    "sites.csv": ["site", "jurisdiction", "lat", "lon", "capacity_mw", "power_usd_kwh"],
    "lanes.csv": ["origin", "site", "ship_usd_per_rig", "lead_days"],
}
SITE_DEFAULTS = {"hosting_usd_kw_month": 0.0, "pue": 1.0, "uptime": 1.0, "reg_risk": 0.0,
                 "import_duty": 0.0, "fixed_cost_usd": 0.0, "min_mw": 0.0}
TOML_KEYS = {
    "market": {"btc_price_usd", "network_hashrate_ehs", "block_subsidy_btc", "fee_share",
               "hashprice_usd_th_day", "hashprice_monthly_change", "pool_fee", "halving_months"},
    "horizon": {"months", "discount_rate", "salvage_fraction", "start_month"},
    "logistics": {"ship_base_usd", "ship_usd_per_1000km", "lead_base_days", "lead_days_per_1000km"},
    "policy": {"risk_aversion", "max_jurisdiction_share", "budget_usd", "allow_sell", "allow_idle",
               "integer_rigs", "exclude_jurisdictions", "power_price_multiplier"},
    "solver": {"name", "mip_gap", "time_limit_s"},
}


# ---------------------------------------------------------------- helpers

def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def num(cell: str | None, default: float | None = None) -> float:
    if cell is None or cell.strip() == "":
        assert default is not None, "required number is empty"
        return default
    return float(cell)


def toml(folder: Path) -> dict:
    return tomllib.loads((folder / "scenario.toml").read_text(encoding="utf-8"))


def ref_csv(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / name, dtype=str, keep_default_na=False)


def ref_rig(model_prefix: str) -> dict[str, str]:
    """Reference rigs.csv has a malformed line; csv copes, pandas does not."""
    found = [r for r in rows(REFERENCE / "rigs.csv") if r["model"].startswith(model_prefix + " (")]
    assert len(found) == 1, f"reference rig {model_prefix!r}: {len(found)} rows"
    return found[0]


def ref_jur(name: str) -> pd.Series:
    """Reference jurisdictions.csv row whose name, without its bracketed area, matches ours."""
    j = ref_csv("jurisdictions.csv")
    base = name.split(" (")[0]
    hit = j[j["name"].str.split(" (", regex=False).str[0] == base]
    assert len(hit) == 1, f"reference jurisdiction {base!r}: {len(hit)} rows"
    return hit.iloc[0]


def ref_market(date: str, metric: str) -> float:
    m = ref_csv("market.csv")
    hit = m[(m["date"] == date) & (m["metric"] == metric)]
    assert len(hit) == 1, f"reference market {date} {metric}: {len(hit)} rows"
    return float(hit.iloc[0]["value"].replace(",", ""))


def site(folder: Path, name: str) -> dict[str, str]:
    hit = [r for r in rows(folder / "sites.csv") if r["site"] == name]
    assert len(hit) == 1, f"{folder.name} site {name!r}"
    return hit[0]


def derived_hashprice(market: dict) -> float:
    return (144 * market["block_subsidy_btc"] * (1 + market["fee_share"]) * market["btc_price_usd"]
            / (market["network_hashrate_ehs"] * 1e6))


def pue_rule(temp_c: float) -> float:
    return round(1.03 + 0.006 * max(0.0, temp_c - 5.0), 3)


def test_reference_copies_match_the_shared_pack() -> None:
    assert sorted(p.name for p in REFERENCE.iterdir()) == sorted(
        ["COPIED.txt", "README.md", "jurisdictions.csv", "logistics.md", "market.csv", "rigs.csv"])
    if not SHARED_REFERENCE.is_dir():
        pytest.skip(f"no shared reference pack beside the clone ({SHARED_REFERENCE}) to compare the copies with")
    for path in REFERENCE.iterdir():
        if path.name != "COPIED.txt":
            assert path.read_bytes() == (SHARED_REFERENCE / path.name).read_bytes(), path.name


# ---------------------------------------------------------------- SPEC section 1, every scenario

def test_builtin_scenarios_exist() -> None:
    assert {"china-2021", "post-halving-2024", "world-2025"} <= set(SCENARIO_IDS)


@pytest.mark.parametrize("folder", SCENARIOS, ids=SCENARIO_IDS)
def test_files_and_required_columns(folder: Path) -> None:
    for name in ["README.md", "schema.csv", "scenario.toml", *REQUIRED]:
        assert (folder / name).is_file(), f"{folder.name}/{name} missing"
    for name, cols in REQUIRED.items():
        with open(folder / name, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh))
        assert len(header) == len(set(header)), f"{name}: duplicate column"
        assert set(cols) <= set(header), f"{name}: missing {set(cols) - set(header)}"


@pytest.mark.parametrize("folder", SCENARIOS, ids=SCENARIO_IDS)
def test_spec_rules_rigs_origins_fleet(folder: Path) -> None:
    rigs = rows(folder / "rigs.csv")
    models = [r["model"] for r in rigs]
    assert all(m.strip() for m in models) and len(models) == len(set(models))
    for r in rigs:
        assert num(r["hashrate_ths"]) > 0 and num(r["power_w"]) > 0 and num(r["resale_usd"]) >= 0, r["model"]

    origins = rows(folder / "origins.csv")
    names = [o["origin"] for o in origins]
    assert all(n.strip() for n in names) and len(names) == len(set(names))
    for o in origins:
        assert o["country"].strip()
        assert -90 <= num(o["lat"]) <= 90 and -180 <= num(o["lon"]) <= 180, o["origin"]

    fleet = rows(folder / "fleet.csv")
    keys = [(f["origin"], f["model"]) for f in fleet]
    assert len(keys) == len(set(keys)), "(origin, model) must be unique"
    for f in fleet:
        assert f["origin"] in names, f"fleet origin {f['origin']!r} not in origins.csv"
        assert f["model"] in models, f"fleet model {f['model']!r} not in rigs.csv"
        assert re.fullmatch(r"\d+", f["count"].strip()), f"count {f['count']!r} is not a non-negative integer"


@pytest.mark.parametrize("folder", SCENARIOS, ids=SCENARIO_IDS)
def test_spec_rules_sites_lanes(folder: Path) -> None:
    sites = rows(folder / "sites.csv")
    names = [s["site"] for s in sites]
    assert all(n.strip() for n in names) and len(names) == len(set(names))
    for s in sites:
        assert s["jurisdiction"].strip(), s["site"]
        assert -90 <= num(s["lat"]) <= 90 and -180 <= num(s["lon"]) <= 180, s["site"]
        assert num(s["capacity_mw"]) >= 0 and num(s["power_usd_kwh"]) >= 0, s["site"]
        v = {k: num(s.get(k), d) for k, d in SITE_DEFAULTS.items()}
        assert v["hosting_usd_kw_month"] >= 0 and v["import_duty"] >= 0, s["site"]
        assert v["pue"] >= 1, s["site"]
        assert 0 < v["uptime"] <= 1, s["site"]
        assert 0 <= v["reg_risk"] < 1, s["site"]
        assert v["fixed_cost_usd"] >= 0 and v["min_mw"] >= 0, s["site"]

    origins = {o["origin"] for o in rows(folder / "origins.csv")}
    lanes = rows(folder / "lanes.csv")
    pairs = [(l["origin"], l["site"]) for l in lanes]
    assert len(pairs) == len(set(pairs)), "(origin, site) must be unique"
    for l in lanes:
        assert l["origin"] in origins and l["site"] in names, (l["origin"], l["site"])
        assert num(l["ship_usd_per_rig"]) >= 0 and num(l["lead_days"]) >= 0


@pytest.mark.parametrize("folder", SCENARIOS, ids=SCENARIO_IDS)
def test_scenario_toml_keys_and_ranges(folder: Path) -> None:
    cfg = toml(folder)
    for section, kv in cfg.items():
        assert section in TOML_KEYS, f"unknown section [{section}]"
        assert set(kv) <= TOML_KEYS[section], f"[{section}] unknown keys {set(kv) - TOML_KEYS[section]}"
    m, h, p = cfg["market"], cfg["horizon"], cfg["policy"]
    assert m["btc_price_usd"] > 0 and m["network_hashrate_ehs"] > 0 and m["block_subsidy_btc"] > 0
    assert 0 <= m["fee_share"] < 1 and -1 < m["hashprice_monthly_change"] < 1
    assert isinstance(h["months"], int) and h["months"] >= 1
    assert h["discount_rate"] >= 0 and 0 <= h["salvage_fraction"] <= 1
    assert p["risk_aversion"] >= 0 and 0 < p["max_jurisdiction_share"] <= 1
    assert cfg["solver"]["name"] in {"highs", "cbc"}


@pytest.mark.parametrize("folder", SCENARIOS, ids=SCENARIO_IDS)
def test_default_is_a_pure_lp(folder: Path) -> None:
    """The app's shadow prices need LP mode: no fixed costs, no minimum loads, no integer rigs."""
    for s in rows(folder / "sites.csv"):
        assert num(s.get("fixed_cost_usd"), 0.0) == 0 and num(s.get("min_mw"), 0.0) == 0, s["site"]
    assert toml(folder)["policy"].get("integer_rigs", False) is False


@pytest.mark.parametrize("folder", SCENARIOS, ids=SCENARIO_IDS)
def test_schema_describes_every_column(folder: Path) -> None:
    schema = rows(folder / "schema.csv")
    assert schema and set(schema[0]) == {"file", "column", "type", "unit", "default", "description"}
    described: dict[str, set[str]] = {}
    for r in schema:
        assert r["description"].strip(), (r["file"], r["column"])
        described.setdefault(r["file"], set()).add(r["column"])
    cfg = toml(folder)
    for file, cols in described.items():
        if file == "scenario.toml":
            for key in cols:
                section, name = key.split(".")
                assert name in cfg.get(section, {}), f"schema.csv describes {key}, absent from scenario.toml"
            continue
        with open(folder / file, newline="", encoding="utf-8") as fh:
            header = set(next(csv.reader(fh)))
        assert cols <= header, f"schema.csv describes {file} columns {cols - header} that do not exist"
        assert header <= cols, f"{file} columns {header - cols} have no schema.csv entry"


@pytest.mark.parametrize("folder", SCENARIOS, ids=SCENARIO_IDS)
def test_reg_risk_follows_the_documented_scoring(folder: Path) -> None:
    base = {"A": 0.02, "B": 0.03, "C": 0.05, "D": 0.08, "E": 0.20}
    points = {"pts_tariff": 0.02, "pts_moratorium": 0.04, "pts_shutdown": 0.08, "pts_hostile": 0.01}
    scoring = {r["jurisdiction"]: r for r in rows(folder / "reg_risk_scoring.csv")}
    for j, r in scoring.items():
        assert num(r["base"]) == base[r["stance_class"]], j
        for col, pts in points.items():
            assert num(r[col]) in (0.0, pts), (j, col)
        total = base[r["stance_class"]] + sum(num(r[c]) for c in points)
        assert num(r["reg_risk"]) == pytest.approx(total), j
    for s in rows(folder / "sites.csv"):
        assert s["jurisdiction"] in scoring, f"{s['jurisdiction']} has no reg_risk_scoring.csv row"
        assert num(s["reg_risk"]) == pytest.approx(num(scoring[s["jurisdiction"]]["reg_risk"])), s["site"]


@pytest.mark.parametrize("folder", SCENARIOS, ids=SCENARIO_IDS)
def test_readme_marks_estimates_and_explains_the_plan(folder: Path) -> None:
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert "ESTIMATE" in text and "## Sources" in text
    assert "What the default plan recommends" in text


# ---------------------------------------------------------------- issue 6: china-2021 structure

def test_china_2021_is_big_enough() -> None:
    sites = rows(CHINA / "sites.csv")
    assert len(sites) >= 25
    assert len({s["jurisdiction"] for s in sites}) >= 12
    assert len(rows(CHINA / "rigs.csv")) >= 5
    total = sum(int(f["count"]) for f in rows(CHINA / "fleet.csv"))
    assert 10_000 <= total < 100_000, f"{total} rigs is not 'tens of thousands'"


def test_china_2021_origins_are_the_banned_provinces() -> None:
    origins = rows(CHINA / "origins.csv")
    assert len(origins) == 5 and {o["country"] for o in origins} == {"China"}
    for province in BANNED_PROVINCES:
        assert sum(o["origin"].startswith(province) for o in origins) == 1, province
    used = {f["origin"] for f in rows(CHINA / "fleet.csv") if int(f["count"]) > 0}
    assert used == {o["origin"] for o in origins}, "every banned province holds part of the fleet"


def test_china_2021_models_span_old_to_current() -> None:
    eff = {r["model"]: num(r["power_w"]) / num(r["hashrate_ths"]) for r in rows(CHINA / "rigs.csv")}
    assert max(eff.values()) > 68, "an S9-class (>68 J/TH) model"
    assert any(38 <= e <= 68 for e in eff.values()), "a mid-gen (S17/M20S class) model"
    assert min(eff.values()) < 31, "an S19 Pro / S19j Pro class model"


def test_china_2021_capacity_is_scarce() -> None:
    """The good sites must bind: the fleet needs more power than all sites together offer."""
    rigs = {r["model"]: r for r in rows(CHINA / "rigs.csv")}
    fleet_mw = sum(int(f["count"]) * num(rigs[f["model"]]["power_w"]) for f in rows(CHINA / "fleet.csv")) / 1e6
    capacity = sum(num(s["capacity_mw"]) for s in rows(CHINA / "sites.csv"))
    assert capacity < fleet_mw, (capacity, fleet_mw)
    assert toml(CHINA)["policy"]["max_jurisdiction_share"] < 1


# ---------------------------------------------------------------- facts tied to the reference pack

# Models released after the reference pack (2021 list): the spec source each must cite.
NOT_IN_REFERENCE = {"Antminer S21": "17.5 J/TH (BTCWire via hackernoon.com, 2024-03-11)"}


@pytest.mark.parametrize("folder", SCENARIOS, ids=SCENARIO_IDS)
def test_rig_specs_match_reference(folder: Path) -> None:
    for r in rows(folder / "rigs.csv"):
        if r["model"] in NOT_IN_REFERENCE:  # a model newer than the reference pack: its own source
            assert NOT_IN_REFERENCE[r["model"]] in r["spec_source"], r["model"]
            continue
        ref = ref_rig(r["model"])
        assert num(r["hashrate_ths"]) == float(ref["hashrate_ths"]), r["model"]
        assert num(r["power_w"]) == float(ref["power_w"]), r["model"]


DIFFICULTY_17_JUL_2021 = 14_363_025_673_659   # difficulty from the 3 Jul 2021 adjustment until 17 Jul (CoinDesk 2021-07-03)


def test_china_2021_market_reproduces_luxors_17_july_2021_hashprice() -> None:
    """Luxor's hashprice uses the difficulty-implied hashrate: with the 24-hour fee share of the same roundup
    the derived hp0 must equal the published $0.2787 to its four digits."""
    m = toml(CHINA)["market"]
    readme = (CHINA / "README.md").read_text(encoding="utf-8")
    assert m["btc_price_usd"] == ref_market("2021-07-17", "btc_price")
    assert m["block_subsidy_btc"] == ref_market("2020-05 to 2024-04-20", "block_subsidy")
    assert f"{DIFFICULTY_17_JUL_2021:,}" in readme
    implied_ehs = DIFFICULTY_17_JUL_2021 * 2**32 / 600 / 1e18
    assert m["network_hashrate_ehs"] == pytest.approx(implied_ehs, abs=5e-5)
    # the 7-day average of the same roundup is a different estimator, within a few percent
    assert m["network_hashrate_ehs"] == pytest.approx(ref_market("2021-07-17", "network_hashrate_7d"), rel=0.05)
    assert "1.57%" in readme                                   # fees in the block reward, 24 h, 17 Jul 2021
    assert m["fee_share"] == pytest.approx(0.0157 / (1 - 0.0157), abs=5e-6)
    published = ref_market("2021-07-17", "hashprice")
    assert round(derived_hashprice(m), 4) == published


def test_post_halving_market_is_late_june_2024() -> None:
    m = toml(HALVING)["market"]
    ref = ref_csv("market.csv")
    row = ref[(ref["date"] == "2024-06-24") & (ref["metric"] == "hashprice")].iloc[0]
    assert m["block_subsidy_btc"] == ref_market("2024-04-20 onward", "block_subsidy")
    assert f"{m['btc_price_usd']:,.0f}" in row["note"]                       # "BTC $60,590"
    difficulty_t = float(re.search(r"difficulty ([\d.]+) T", row["note"]).group(1))
    assert m["network_hashrate_ehs"] == pytest.approx(difficulty_t * 1e12 * 2**32 / 600 / 1e18, rel=2e-3)
    assert derived_hashprice(m) == pytest.approx(float(row["value"]), rel=0.005)


def test_china_2021_resale_is_the_seed_articles_used_price_by_tier() -> None:
    """New-gen rigs at the 21CBR used price of an S19j Pro 100T per TH; mid- and old-gen scaled by the
    Hashrate Index 2021 tier highs; the chosen price lies between the two sources it was weighed against."""
    s19jpro = ref_rig("Antminer S19j Pro")
    used_cny = float(re.search(r"([\d,]+)\+", s19jpro["price_used_mid2021"]).group(1).replace(",", ""))
    newgen = used_cny / 100 / CNY_PER_USD                                     # 100 TH
    s19_ref = ref_rig("Antminer S19")["other_price_points"]
    bloomberg = float(re.search(r"\(~\$(\d+)/TH\)", s19_ref).group(1))        # ~$23/TH, late June 2021
    luxor_low = float(re.search(r"summer-2021 low \$([\d.]+)/TH", s19_ref).group(1))  # $62.04/TH
    assert bloomberg < newgen < luxor_low
    rigs = {r["model"]: r for r in rows(CHINA / "rigs.csv")}
    for model in ["Antminer S19", "Antminer S19 Pro", "Antminer S19j Pro", "Whatsminer M30S"]:
        per_th = num(rigs[model]["resale_usd"]) / num(rigs[model]["hashrate_ths"])
        assert per_th == pytest.approx(newgen, rel=0.005), model
    mid_high = float(re.search(r"2021 high \$([\d.]+)/TH", ref_rig("Antminer S17 Pro")["other_price_points"]).group(1))
    old_high = float(re.search(r"2021 high \$([\d.]+)/TH", ref_rig("Antminer S9")["other_price_points"]).group(1))
    newgen_high_2021 = 101.04   # same Hashrate Index series (2022 review), ref README "ASIC Price Index tiers"
    assert "$101.04/TH" in (REFERENCE / "README.md").read_text(encoding="utf-8")
    for model, high in [("Antminer S17 Pro", mid_high), ("Whatsminer M20S", mid_high), ("Antminer S9", old_high)]:
        per_th = num(rigs[model]["resale_usd"]) / num(rigs[model]["hashrate_ths"])
        assert per_th == pytest.approx(newgen * high / newgen_high_2021, rel=0.01), model


def test_china_2021_lead_times_are_months_not_weeks() -> None:
    """Reuters (7 Jul 2021): relocated machines would take many months to run again. Hosted lanes wait
    ~3 months for booked capacity; self-build lanes ~6 months; no lane is faster than 90 days."""
    sites = {s["site"]: s["kind"] for s in rows(CHINA / "sites.csv")}
    for l in rows(CHINA / "lanes.csv"):
        lead = num(l["lead_days"])
        assert lead >= 90, (l["origin"], l["site"])
        if sites[l["site"]] == "self-build":
            assert lead == 180, (l["origin"], l["site"])
    assert toml(CHINA)["logistics"]["lead_base_days"] >= 150   # fallback pairs are all self-build sites


def test_reg_risk_scores_only_what_was_known_at_the_decision_date() -> None:
    """Kazakhstan's rationing (Oct 2021) and cut-off (Jan 2022) came after 17 Jul 2021: they are listed as
    hindsight and leave the score at the stance class; the backtest's bans.csv holds what happened."""
    scoring = {r["jurisdiction"]: r for r in rows(CHINA / "reg_risk_scoring.csv")}
    for j, r in scoring.items():
        if r["hindsight_events"].strip():
            assert num(r["reg_risk"]) == num(r["base"]), j
    kz = scoring["Kazakhstan"]
    assert "Jan 2022" in kz["hindsight_events"] and num(kz["reg_risk"]) == 0.05
    for s in rows(CHINA / "sites.csv"):
        if s["jurisdiction"] == "Kazakhstan":
            assert num(s["uptime"]) == 0.97, s["site"]


def test_china_2021_origins_use_reference_coordinates() -> None:
    for o in rows(CHINA / "origins.csv"):
        ref = ref_jur(o["origin"])
        assert ref["level"] == "origin_province"
        assert num(o["lat"]) == float(ref["latitude"]) and num(o["lon"]) == float(ref["longitude"]), o["origin"]


def test_china_2021_site_power_prices_match_reference_rows() -> None:
    cases = [  # (site, reference jurisdiction, reference column)
        ("TX Rockdale self-build", "Texas", "miner_power_price_usd_kwh"),          # Riot 2.9 c
        ("GA Sandersville self-build", "Georgia", "miner_power_price_usd_kwh"),    # Mawson 4 c
        ("KY Paducah self-build", "Kentucky", "elec_price_low_usd_kwh"),           # EIA 2023
        ("WA Wenatchee self-build", "Washington", "miner_power_price_usd_kwh"),    # 4.13 c
        ("RU Bratsk", "Russia", "elec_price_low_usd_kwh"),                         # ~4 c (2019)
    ]
    for name, jur, col in cases:
        assert num(site(CHINA, name)["power_usd_kwh"]) == float(ref_jur(jur)[col]), name
    # Kazakhstan: HASHR8 range (+ the 1 tenge/kWh fee from 2022, ~$0.0022)
    kz = ref_jur("Kazakhstan")
    lo, hi = float(kz["elec_price_low_usd_kwh"]), float(kz["elec_price_high_usd_kwh"])
    for s in rows(CHINA / "sites.csv"):
        if s["jurisdiction"] == "Kazakhstan" and s["kind"] == "hosted":
            assert lo <= num(s["power_usd_kwh"]) <= hi + 0.0025, s["site"]


MFN_DUTY_8543_70_99 = 0.026   # CBP NY N297495 (8 Jun 2018): Antminer S9 under HTSUS 8543.70.9960, 2.6% ad valorem


@pytest.mark.parametrize("folder", SCENARIOS, ids=SCENARIO_IDS)
def test_us_sites_pay_the_mfn_and_section_301_duties(folder: Path) -> None:
    us_states = set(ref_csv("jurisdictions.csv").query("level == 'us_state'")["name"])
    us_sites = [s for s in rows(folder / "sites.csv") if s["jurisdiction"] in us_states]
    assert us_sites
    for s in us_sites:
        note = ref_jur(s["jurisdiction"])["import_duty_note"]
        section_301 = float(re.search(r"\+(\d+)% Section 301", note).group(1)) / 100
        assert num(s["import_duty"]) == pytest.approx(MFN_DUTY_8543_70_99 + section_301), s["site"]
        assert "N297495" in s["source"], s["site"]


@pytest.mark.parametrize("folder", SCENARIOS, ids=SCENARIO_IDS)
def test_pue_follows_the_climate_rule(folder: Path) -> None:
    """An all-in hosting rate already pays for cooling: PUE 1 there, the climate rule elsewhere."""
    kinds = set()
    for s in rows(folder / "sites.csv"):
        kinds.add(s["kind"])
        if s["kind"] == "hosted":
            assert num(s["pue"]) == 1.0, s["site"]
        else:
            ref = ref_jur(s["jurisdiction"])
            assert num(s["pue"]) == pue_rule(float(ref["mean_annual_temp_c"])), s["site"]
    assert "hosted" in kinds


def test_curtailment_uptimes_come_from_the_reference_rules() -> None:
    quebec = ref_jur("Quebec")["stance_2021"]
    hours = float(re.search(r"curtailment up to (\d+) h/yr", quebec).group(1))
    for s in rows(CHINA / "sites.csv"):
        if s["jurisdiction"] == "Quebec":
            assert num(s["uptime"]) == pytest.approx(1 - hours / 8766, abs=5e-4), s["site"]
    iran = ref_jur("Iran")["stance_2021"]
    assert "26 May - 22 Sep 2021" in iran
    ban_days = (pd.Timestamp("2021-09-22") - pd.Timestamp("2021-05-26")).days
    assert num(site(CHINA, "IR Tehran licensed")["uptime"]) == pytest.approx(1 - ban_days / 365, abs=5e-4)


def test_air_lane_is_the_latepost_quote() -> None:
    logistics = (REFERENCE / "logistics.md").read_text(encoding="utf-8")
    cny = float(re.search(r'"nearly (\d+) CNY" per unit', logistics).group(1))
    air = [l for l in rows(CHINA / "lanes.csv") if l["note"].startswith("air")]
    assert len(air) >= 5 * 12
    for l in air:
        assert num(l["ship_usd_per_rig"]) == round(cny / CNY_PER_USD) + 16, (l["origin"], l["site"])


def test_post_halving_power_prices_match_reference_rows() -> None:
    assert num(site(HALVING, "KZ Ekibastuz")["power_usd_kwh"]) == float(ref_jur("Kazakhstan")["miner_power_price_usd_kwh"])
    assert num(site(HALVING, "TX Rockdale self-build")["power_usd_kwh"]) == float(ref_jur("Texas")["elec_price_low_usd_kwh"])
    assert num(site(HALVING, "SE Boden")["power_usd_kwh"]) == float(ref_jur("Sweden")["elec_price_low_usd_kwh"])
    ethiopia_ppa = float(ref_jur("Ethiopia")["elec_price_low_usd_kwh"])
    for s in rows(HALVING / "sites.csv"):
        if s["jurisdiction"] == "Ethiopia":  # the 3.14 c PPA tariff plus taxes (3.6 c after taxes)
            assert ethiopia_ppa <= num(s["power_usd_kwh"]) <= ethiopia_ppa * 1.2, s["site"]


def test_post_halving_rig_prices_tie_to_the_june_2023_rfq() -> None:
    rigs = {r["model"]: r for r in rows(HALVING / "rigs.csv")}
    ref_xp = float(re.search(r"S19 XP 141T \$(\d+)/TH", ref_rig("Antminer S19 XP")["other_price_points"]).group(1))
    ref_pro = float(re.search(r"S19 Pro 104T \$([\d.]+)/TH", ref_rig("Antminer S19 Pro")["other_price_points"]).group(1))
    xp = num(rigs["Antminer S19 XP"]["resale_usd"]) / 140
    s19 = num(rigs["Antminer S19"]["resale_usd"]) / 95
    assert xp / s19 == pytest.approx(ref_xp / ref_pro, rel=0.01)
    assert num(rigs["Antminer S19"]["resale_usd"]) == 356   # Bloomberg, expected post-halving price (README P4)


# ---------------------------------------------------------------- china-2021/history (the backtest's realised path)

HISTORY = CHINA / "history"
START = (2021, 7)   # month 0 = July 2021, the decision month (README)


def month_index(iso_date: str) -> int:
    y, m = int(iso_date[:4]), int(iso_date[5:7])
    return (y - START[0]) * 12 + (m - START[1])


def test_history_market_covers_the_horizon_once() -> None:
    h = toml(CHINA)["horizon"]["months"]
    hist = rows(HISTORY / "market.csv")
    assert [int(r["month"]) for r in hist] == list(range(h))
    for r in hist:
        assert num(r["hashprice_usd_th_day"]) > 0 and r["source"].strip(), r["month"]
        assert month_index(r["calendar_month"] + "-01") == int(r["month"]), r["month"]
        assert month_index(r["date"]) == int(r["month"]), r["month"]
        assert r["kind"] in {"monthly mean", "published spot value", "ESTIMATE"}
        assert (r["kind"] == "ESTIMATE") == r["source"].startswith("ESTIMATE"), r["month"]


def test_history_market_agrees_with_the_reference_pack() -> None:
    """Every hashprice of the reference pack dated inside the horizon lies within its month's range of daily
    values (market_sources.csv, 3 % for intraday against day-close prices); the 2022 rows average to Hashrate
    Index's published 2022 average. tests/test_history_sources.py ties the means to their inputs."""
    sources = {r["calendar_month"]: r for r in rows(HISTORY / "market_sources.csv")}
    ref = ref_csv("market.csv")
    matched = 0
    for _, row in ref[ref["metric"] == "hashprice"].iterrows():
        if len(row["date"]) == 10 and row["date"][:7] in sources:
            value = float(row["value"].replace(",", ""))
            value = value / 1000 if row["unit"] == "USD/PH/day" else value
            src = sources[row["date"][:7]]
            assert num(src["hashprice_min_usd_th_day"]) * 0.97 <= value <= num(src["hashprice_max_usd_th_day"]) * 1.03, row["date"]
            matched += 1
    assert matched >= 5
    avg_2022 = ref_market("2022", "hashprice_avg") / 1000                      # $123.88/PH/day
    ours = [num(r["hashprice_usd_th_day"]) for r in rows(HISTORY / "market.csv") if r["calendar_month"].startswith("2022")]
    assert len(ours) == 12 and sum(ours) / 12 == pytest.approx(avg_2022, rel=0.02)


def test_history_estimates_are_the_interpolation_they_state() -> None:
    """Each ESTIMATE row names two dated values; its value is their log-linear interpolation at its own date."""
    import datetime as dt
    import math
    estimates = [r for r in rows(HISTORY / "market.csv") if r["kind"] == "ESTIMATE"]
    assert len(estimates) <= 12
    for r in estimates:
        (v1, d1), (v2, d2) = re.findall(r"([\d.]+) on (\d{4}-\d{2}-\d{2})", r["source"])[:2]
        t, a, b = (dt.date.fromisoformat(x) for x in (r["date"], d1, d2))
        assert a <= t <= b, r["month"]
        w = (t - a).days / (b - a).days
        expected = math.exp((1 - w) * math.log(float(v1)) + w * math.log(float(v2)))
        assert num(r["hashprice_usd_th_day"]) == pytest.approx(expected, abs=5e-5), r["month"]


def test_history_bans_are_dated_sourced_and_in_the_scenario() -> None:
    h = toml(CHINA)["horizon"]["months"]
    jurisdictions = {s["jurisdiction"] for s in rows(CHINA / "sites.csv")}
    bans = rows(HISTORY / "bans.csv")
    assert bans and len({b["jurisdiction"] for b in bans}) == len(bans)
    for b in bans:
        assert b["jurisdiction"] in jurisdictions, b["jurisdiction"]
        assert 0 <= int(b["ban_month"]) < h
        assert int(b["ban_month"]) == month_index(b["date"]), b["jurisdiction"]
        assert b["source"].strip() and b["note"].strip()
    by = {b["jurisdiction"]: int(b["ban_month"]) for b in bans}
    assert by["Kazakhstan"] == 6                     # KEGOC cut-off of registered miners, 24 Jan 2022
    assert "New York" not in by                       # the Nov 2022 moratorium only covers new fossil-fuel permits
    assert "New York" in (HISTORY / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("folder", SCENARIOS, ids=SCENARIO_IDS)
def test_readme_headline_is_the_golden_plan(folder: Path) -> None:
    """The README's "Value of the plan" is the saved golden optimum (rounded to $0.01 M), so the text
    cannot drift from what the engine computes for the files beside it."""
    import json
    golden = json.loads((ROOT / "tests" / "examples" / folder.name / "expected" / "summary.json").read_text(encoding="utf-8"))
    text = (folder / "README.md").read_text(encoding="utf-8")
    stated = float(re.search(r"Value of the plan:\s*\*\*\$([\d.]+) M\*\*", text).group(1))
    assert stated == round(golden["objective_usd"] / 1e6, 2)
    assert f"${golden['sell_all_usd'] / 1e6:.2f} M" in text


# ---------------------------------------------------------------- world-2025: figures tied to their sources

DIFFICULTY_RECORD_NOV_2025 = 156e12      # the 3 Nov 2025 adjustment's record difficulty (W3)
ADJUSTMENT_12_NOV_2025 = -0.0237         # Luxor, November 2025 lookback (W2)
HASHPRICE_ATL_22_NOV_2025 = 0.03506      # USD/TH/day, Luxor (W2)
HASHPRICE_INDEX_23_NOV_2025 = 0.03449    # USD/TH/day, AMBCrypto citing the Hashprice Index (W3)
FEES_SHARE_OF_REWARDS = 0.0062           # week to 3 Nov 2025 (W13)
EEP_TARIFF_C = [("2025-12-01", 4.0), ("2026-07-08", 5.0), ("2027-07-08", 6.5)]   # daily-average c/kWh (W6)
EEP_FLAT_C = 3.14                        # the PPA flat rate before (W7, ref jurisdictions.csv Ethiopia)
US_DUTY_2025 = {"China": 0.576, "Indonesia": 0.216, "Malaysia": 0.216, "Thailand": 0.216}   # from 7 Aug 2025 (W4, W5)


def _world_month(t: int) -> tuple[int, int]:
    y, m = divmod(11 + t, 12)    # month 0 = December 2025
    return 2025 + y, m + 1


def test_world_market_reproduces_the_november_2025_hashprice_low() -> None:
    m = toml(WORLD)["market"]
    difficulty = DIFFICULTY_RECORD_NOV_2025 * (1 + ADJUSTMENT_12_NOV_2025)
    assert m["network_hashrate_ehs"] == pytest.approx(difficulty * 2**32 / 600 / 1e18, abs=0.05)
    assert m["fee_share"] == pytest.approx(FEES_SHARE_OF_REWARDS, abs=1e-4)
    assert m["block_subsidy_btc"] == 3.125
    hp = derived_hashprice(m)
    assert hp == pytest.approx(HASHPRICE_INDEX_23_NOV_2025, rel=0.005)
    assert hp == pytest.approx(HASHPRICE_ATL_22_NOV_2025, rel=0.02)
    assert "hashprice_usd_th_day" not in m


def test_world_halving_is_april_2028_inside_the_horizon() -> None:
    cfg = toml(WORLD)
    assert cfg["horizon"]["start_month"] == "2025-12" and cfg["horizon"]["months"] == 36
    (t,) = cfg["market"]["halving_months"]
    assert _world_month(t) == (2028, 4) and t < cfg["horizon"]["months"]


def test_world_ethiopia_power_path_is_eeps_tariff_by_the_day() -> None:
    import datetime as dt
    site_row = site(WORLD, "ET Bishoftu")
    base = num(site_row["power_usd_kwh"])
    assert base * 100 == pytest.approx(EEP_TARIFF_C[0][1])
    steps = [(dt.date.fromisoformat(d), c) for d, c in EEP_TARIFF_C]
    given = {int(r["month"]): num(r["multiplier"]) for r in rows(WORLD / "power.csv") if r["site"] == "ET Bishoftu"}
    for t in range(36):
        y, m = _world_month(t)
        days = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.date(y, m, 1)).days
        mean_c = sum(next(c for d, c in reversed(steps) if dt.date(y, m, k) >= d) for k in range(1, days + 1)) / days
        assert given.get(t, 1.0) == pytest.approx(mean_c / EEP_TARIFF_C[0][1], abs=1e-6), (t, y, m)
    # the steps as reported: about +30%, +24%, +28% (shega.co, W7)
    c = [EEP_FLAT_C] + [c for _, c in EEP_TARIFF_C]
    for (a, b), reported in zip(zip(c, c[1:]), (0.30, 0.24, 0.28)):
        assert b / a - 1 == pytest.approx(reported, abs=0.035)


def test_world_seasonal_stops_are_the_decreed_days() -> None:
    """Ulan-Ude: stopped 15 Nov - 15 Mar; Kemin: from 12 Nov to the end of March; uptime 0.97 otherwise."""
    got = {(r["site"], int(r["month"])): num(r["uptime"]) for r in rows(WORLD / "availability.csv")}
    for r in rows(WORLD / "availability.csv"):
        assert r["calendar_month"] == "%d-%02d" % _world_month(int(r["month"]))
    for name in ("RU Ulan-Ude", "KG Kemin"):
        base = num(site(WORLD, name)["uptime"])
        for t in range(36):
            y, m = _world_month(t)
            if name == "RU Ulan-Ude":
                share = {11: 14 / 30, 12: 0, 1: 0, 2: 0, 3: 16 / 31}.get(m, 1.0)
            else:
                share = {11: 11 / 30, 12: 0, 1: 0, 2: 0, 3: 0}.get(m, 1.0)
            assert got.get((name, t), base) == pytest.approx(base * share, abs=1e-4), (name, y, m)
    assert "15 Nov" in (WORLD / "README.md").read_text(encoding="utf-8")


def test_world_us_duty_by_country_of_manufacture() -> None:
    duty = rows(WORLD / "duty.csv")
    us_states = set(ref_csv("jurisdictions.csv").query("level == 'us_state'")["name"])
    us_in_scenario = {s["jurisdiction"] for s in rows(WORLD / "sites.csv")} & us_states
    assert {(r["jurisdiction"], r["made_in"]) for r in duty} == {(j, c) for j in us_in_scenario for c in US_DUTY_2025}
    for r in duty:
        assert num(r["import_duty"]) == pytest.approx(US_DUTY_2025[r["made_in"]]), r
        assert "7 Aug 2025" in r["source"]
    assert US_DUTY_2025["Malaysia"] == pytest.approx(MFN_DUTY_8543_70_99 + 0.19)   # 2.6% + 19% reciprocal (W5)
    made = {r["model"]: r["made_in"] for r in rows(WORLD / "rigs.csv")}
    assert set(made.values()) <= set(US_DUTY_2025) and all("ESTIMATE" in r["made_in_note"] for r in rows(WORLD / "rigs.csv"))


def test_world_rig_prices_are_the_per_th_quotes_they_state() -> None:
    per_th = {"Antminer S19j Pro": 3.0, "Whatsminer M30S++": 3.0, "Antminer S19 XP": 4.0, "Antminer S21": 7.5}
    for r in rows(WORLD / "rigs.csv"):
        assert num(r["resale_usd"]) == pytest.approx(per_th[r["model"]] * num(r["hashrate_ths"])), r["model"]
        assert f"${per_th[r['model']]:.2f}/TH" in r["resale_note"], r["model"]
        assert num(r["efficiency_j_th"]) == pytest.approx(num(r["power_w"]) / num(r["hashrate_ths"]), abs=0.05)
    s21 = next(r for r in rows(WORLD / "rigs.csv") if r["model"] == "Antminer S21")
    assert num(s21["power_w"]) == 200 * 17.5 and num(s21["hashrate_ths"]) == 200


def test_world_stay_sites_hold_their_own_fleet_and_closed_doors_are_shut() -> None:
    fleet = rows(WORLD / "fleet.csv")
    watts = {r["model"]: num(r["power_w"]) for r in rows(WORLD / "rigs.csv")}
    for s in rows(WORLD / "sites.csv"):
        parts = s["source"]
        for key in ("power:", "uptime:", "pue:", "reg_risk:", "duty:", "coords:", "capacity:"):
            assert key in parts, (s["site"], key)
        if s["kind"] == "stay":
            mw = sum(num(f["count"]) * watts[f["model"]] for f in fleet if f["origin"] == s["site"]) / 1e6 * num(s["pue"])
            assert mw <= num(s["capacity_mw"]) <= mw * 1.01 + 0.05, s["site"]
    assert num(site(WORLD, "NO Mo i Rana")["capacity_mw"]) == 0 and "2025-06-20" in site(WORLD, "NO Mo i Rana")["source"]
    # the south of Irkutsk is banned all year: no site to stay at
    assert "RU Irkutsk (south)" not in {s["site"] for s in rows(WORLD / "sites.csv")}


def test_world_readme_cites_every_source_it_lists() -> None:
    text = (WORLD / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| (W\d+) \|", text, flags=re.M))
    assert listed == {f"W{i}" for i in range(1, len(listed) + 1)}
    body = text.split("## Sources")[0] + text.split("## rigs.csv")[1]
    assert listed <= set(re.findall(r"\bW\d+\b", body)), listed - set(re.findall(r"\bW\d+\b", body))
