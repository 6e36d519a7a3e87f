"""The inputs of tests/data/cases/ (copied from the project's shared cases folder, README there),
each with the behaviour a user expects: unit slips stopped or flagged, look-alike names unified
or refused, DMS coordinates converted, spreadsheet habits understood."""
from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

import pytest

import optimizer
from optimizer.cli import main as cli_main

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from rigshift_testkit import files_with, find, problems_of, tiny_files, tiny_text, write_folder  # noqa: E402

CASES = Path(__file__).resolve().parent / "data" / "cases"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = cli_main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def case_files(name: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (CASES / name).iterdir() if p.is_file()}


# ---------------------------------------------------------------- 01: Excel's sep= line


def test_01_excel_sep_line_is_understood(tmp_path, capsys):
    rc, out, err = cli(capsys, "solve", str(CASES / "01-excel-sep-line"), "--out", str(tmp_path / "o"))
    assert rc == 0, err
    with_line = optimizer.load_scenario(CASES / "01-excel-sep-line")
    files = case_files("01-excel-sep-line")
    files["rigs.csv"] = files["rigs.csv"].split(b"\n", 1)[1]  # the same file without its first line
    without = optimizer.scenario_from_files(files)
    assert with_line.rigs.drop(columns="_row").equals(without.rigs.drop(columns="_row"))
    # Rows are numbered as Excel shows them (it hides the sep= line): a bad cell is on row 3.
    bad = files["rigs.csv"].replace(b"Whatsminer M30S,88,", b"Whatsminer M30S,#N/A,")
    problems = problems_of({**case_files("01-excel-sep-line"), "rigs.csv": b"sep=,\n" + bad})
    find(problems, "rigs.csv", 3, "hashrate_ths", "spreadsheet error")


def test_na_marker_gets_its_own_hint():
    rigs = tiny_text("rigs.csv").replace("13.5,1350,90", "13.5,#N/A,90")
    p = find(problems_of(files_with(rigs_csv=rigs)), "rigs.csv", 4, "power_w", "#N/A")
    assert "spreadsheet" in p.hint and "lookup" in p.hint
    sites = tiny_text("sites.csv").replace("Quebec Hydro,Quebec", "Quebec Hydro,#REF!")
    p = find(problems_of(files_with(sites_csv=sites)), "sites.csv", 4, "jurisdiction", "is not a name")
    assert "spreadsheet" in p.hint


# ---------------------------------------------------------------- 02, 03: impossible efficiency, fleet out-hashes network


def test_02_jth_in_power_column_is_bad_input(tmp_path, capsys):
    rc, out, err = cli(capsys, "solve", str(CASES / "02-jth-in-power-column"), "--out", str(tmp_path / "o"))
    assert rc == 2
    assert not (tmp_path / "o").exists()
    line = next(x for x in err.splitlines() if "rigs.csv, row 2, column 'power_w'" in x)
    assert "34.2" in line and "J/TH" in line and "did you type J/TH" in line
    # 34.2 J/TH x 95 TH/s = 3,249 W: the hint gives the watts the user meant.
    assert "3,249 W" in line


def test_03_hashrate_in_ghs_is_bad_input(tmp_path, capsys):
    rc, out, err = cli(capsys, "solve", str(CASES / "03-hashrate-in-ghs"), "--out", str(tmp_path / "o"))
    assert rc == 2
    assert "GH/s" in err
    assert "out-hash the network" in err  # 2,000 rigs x 95,000 TH/s = 190 EH/s > 100 EH/s
    assert "rigs.csv, row 2, column 'hashrate_ths'" in err


# ---------------------------------------------------------------- 06: power prices in USD/MWh


def test_06_power_price_per_mwh_is_flagged_with_the_unit(tmp_path, capsys):
    rc, out, err = cli(capsys, "solve", str(CASES / "06-power-price-per-mwh"), "--out", str(tmp_path / "o"))
    assert rc == 0
    warned = [x for x in err.splitlines() if x.startswith("warning: sites.csv, row 2, column 'power_usd_kwh'")]
    assert warned and "35 USD/kWh" in warned[0] and "USD/MWh" in warned[0] and "0.035" in warned[0]
    assert "[checks] confirm" in warned[0]
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    rows = sorted(w["row"] for w in summary["warnings"] if w["column"] == "power_usd_kwh")
    assert rows == [2, 3, 4, 5]
    assert all(w["file"] == "sites.csv" and w["likely"] == "USD/MWh" for w in summary["warnings"])
    # Confirming the column (a documented per-scenario setting) silences it.
    folder = write_folder(tmp_path / "confirmed", case_files("06-power-price-per-mwh"))
    with open(folder / "scenario.toml", "a", encoding="utf-8") as fh:
        fh.write('\n[checks]\nconfirm = ["sites.csv:power_usd_kwh"]\n')
    rc, out, err = cli(capsys, "solve", str(folder), "--out", str(tmp_path / "o2"))
    assert rc == 0 and "warning" not in err
    assert json.loads((tmp_path / "o2" / "summary.json").read_text())["warnings"] == []


# ---------------------------------------------------------------- 07: names that differ only by case, spaces, Unicode form


def test_07_variant_site_names_are_refused_as_duplicates(tmp_path, capsys):
    rc, out, err = cli(capsys, "solve", str(CASES / "07-case-variant-names"), "--out", str(tmp_path / "o"))
    assert rc == 2
    assert "sites.csv, row 5, column 'site'" in err and "differ only in letter case" in err and "row 3" in err


def _case07_without_duplicate() -> dict[str, bytes]:
    files = case_files("07-case-variant-names")
    lines = files["sites.csv"].decode().splitlines(keepends=True)
    files["sites.csv"] = "".join(x for x in lines if not x.startswith("ekibastuz,")).encode()
    return files


def test_07_variant_jurisdictions_are_one_jurisdiction():
    scn = optimizer.scenario_from_files(_case07_without_duplicate())
    assert sorted(set(scn.sites["jurisdiction"])) == ["Georgia", "Kazakhstan", "Quebec", "Texas"]
    notes = [w for w in scn.warnings if w.kind == "name"]
    assert any(w.row == 4 and w.value == "kazakhstan" and "letter case" in w.message for w in notes)
    # Excluding Kazakhstan (any spelling) excludes both Kazakh sites.
    for spelling in ("Kazakhstan", "KAZAKHSTAN", " kazakhstan "):
        res = optimizer.solve(scn.with_overrides({"policy.exclude_jurisdictions": [spelling]}))
        rel = res.allocation[res.allocation["action"] == "relocate"]
        assert not rel["site"].isin(["Ekibastuz", "Ekibastuz 2"]).any(), spelling
    # A 25% cap counts Kazakhstan once: its two sites together stay within it.
    res = optimizer.solve(scn.with_overrides({"policy.max_jurisdiction_share": 0.25}))
    j = res.jurisdictions.set_index("jurisdiction")
    assert list(res.jurisdictions["jurisdiction"]).count("Kazakhstan") == 1
    total = 2000 * 95 + 3000 * 13.5 + 1500 * 88 + 2000 * 13.5
    rel = res.allocation[res.allocation["action"] == "relocate"]
    kz = rel[rel["site"].isin(["Ekibastuz", "Ekibastuz 2"])]["hashrate_ths"].sum()
    assert kz == pytest.approx(j.loc["Kazakhstan", "hashrate_ths"])
    assert kz <= 0.25 * total * (1 + 1e-9)


@pytest.mark.parametrize("variant", ["ekibastuz", "EKIBASTUZ", "EkiBastuz"])
def test_defining_names_refused_with_what_differs(variant):
    sites = tiny_text("sites.csv").replace("Georgia Tbilisi,", f"{variant},")
    p = find(problems_of(files_with(sites_csv=sites)), "sites.csv", 5, "site", "differ only in letter case")
    assert "row 3" in p.message and "one site, given twice" in p.message


def test_unicode_form_and_spaces_are_named():
    decomposed = unicodedata.normalize("NFD", "Québec Hydro")
    sites = tiny_text("sites.csv").replace("Quebec Hydro", "Québec Hydro").replace("Georgia Tbilisi,", f"{decomposed},")
    p = find(problems_of(files_with(sites_csv=sites)), "sites.csv", 5, "site", "Unicode form")
    assert "same letters" in p.message
    sites = tiny_text("sites.csv").replace("Georgia Tbilisi,", "Quebec  Hydro,")
    find(problems_of(files_with(sites_csv=sites)), "sites.csv", 5, "site", "extra spaces")


def test_fleet_and_lane_references_use_the_defining_spelling():
    fleet = tiny_text("fleet.csv").replace("Xinjiang,Antminer S9", "XINJIANG,antminer  s9")
    lanes = tiny_text("lanes.csv").replace("Xinjiang,Ekibastuz", "xinjiang,EKIBASTUZ")
    scn = optimizer.scenario_from_files(files_with(fleet_csv=fleet, lanes_csv=lanes))
    assert list(scn.fleet["origin"])[-1] == "Xinjiang" and list(scn.fleet["model"])[-1] == "Antminer S9"
    assert list(scn.lanes["site"]) == ["Ekibastuz"]
    base = optimizer.solve(optimizer.scenario_from_files(tiny_files())).summary["objective_usd"]
    assert optimizer.solve(scn).summary["objective_usd"] == pytest.approx(base, rel=1e-12)
    # The same fleet row in two spellings is a duplicate, and says why.
    fleet = tiny_text("fleet.csv") + "sichuan,Antminer S19,5\n"
    find(problems_of(files_with(fleet_csv=fleet)), "fleet.csv", 6, "model", "letter case")


# ---------------------------------------------------------------- 09: coordinates in DMS and with N/S/E/W


def test_09_dms_coordinates_are_converted():
    scn = optimizer.load_scenario(CASES / "09-dms-coordinates")
    got = dict(zip(scn.sites["site"], zip(scn.sites["lat"], scn.sites["lon"])))
    assert got["Texas West"] == pytest.approx((31 + 51 / 60, -(102 + 22 / 60)), abs=1e-6)
    assert got["Ekibastuz"] == pytest.approx((51.72, 75.32))
    assert got["Quebec Hydro"] == pytest.approx((46 + 48 / 60 + 36 / 3600, -(71 + 12 / 60 + 36 / 3600)), abs=1e-6)
    assert got["Georgia Tbilisi"] == (41.72, 44.79)
    # The plan is the one of the same scenario typed in decimal degrees (within rounding to 1e-6 degree).
    ref = optimizer.scenario_from_files(tiny_files())
    assert optimizer.solve(scn).summary["objective_usd"] == pytest.approx(
        optimizer.solve(ref).summary["objective_usd"], rel=1e-6)


@pytest.mark.parametrize("lat,lon,column,text", [
    ("31.85", "-102.37 W", "lon", "minus sign and the letter W"),
    ("31.85E", "-102.37", "lat", "longitude direction"),
    ("31°75′N", "-102.37", "lat", "below 60"),
])
def test_unreadable_coordinates_get_a_decimal_hint_with_the_sign_rule(lat, lon, column, text):
    sites = tiny_text("sites.csv").replace("31.85,-102.37", f"\"{lat}\",\"{lon}\"")
    p = find(problems_of(files_with(sites_csv=sites)), "sites.csv", 2, column, text)
    assert "south and west negative" in str(p)


def test_a_dropped_west_sign_is_warned_about():
    sites = tiny_text("sites.csv").replace("31.85,-102.37", "31.85,102.37")  # Texas West lands in China
    scn = optimizer.scenario_from_files(files_with(sites_csv=sites))
    res = optimizer.solve(scn)
    located = [w for w in res.summary["warnings"] if w["kind"] == "location"]
    assert len(located) == 1 and located[0]["row"] == 2 and "China" in located[0]["message"]
    assert "south and west negative" in located[0]["message"]
    # Far from the jurisdiction it names (Kazakhstan site moved to the southern hemisphere).
    sites = tiny_text("sites.csv").replace("51.72,75.32", "-51.72,75.32")
    res = optimizer.solve(optimizer.scenario_from_files(files_with(sites_csv=sites)))
    located = [w for w in res.summary["warnings"] if w["kind"] == "location"]
    assert len(located) == 1 and located[0]["row"] == 3 and "from Kazakhstan" in located[0]["message"]


def test_12_antimeridian_sites_raise_no_location_warning():
    scn = optimizer.load_scenario(CASES / "12-antimeridian-map")
    res = optimizer.solve(scn)
    assert [w for w in res.summary["warnings"] if w["kind"] == "location"] == []


# ---------------------------------------------------------------- 11 and formula-like names


def test_11_markup_in_names_is_kept_as_text_and_exported_as_text(tmp_path):
    scn = optimizer.load_scenario(CASES / "11-map-tooltip-markup")
    res = optimizer.solve(scn)
    assert "Garze hydro <b>2</b>" in set(res.allocation["site"])
    res.write(tmp_path)
    assert "Garze hydro <b>2</b>" in (tmp_path / "allocation.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["@Home Hosting", "+7 Energy", "=Hydro", "-40 Below"])
def test_formula_like_site_names_are_accepted_and_neutralised_on_export(name, tmp_path):
    sites = tiny_text("sites.csv").replace("Quebec Hydro,", f"{name},")
    lanes = tiny_text("lanes.csv")
    scn = optimizer.scenario_from_files(files_with(sites_csv=sites, lanes_csv=lanes))
    res = optimizer.solve(scn)
    res.write(tmp_path)
    for file in ("sites.csv", "allocation.csv"):
        text = (tmp_path / file).read_text(encoding="utf-8")
        assert f"'{name}" in text, file
        for line in text.splitlines():
            assert not line.startswith(name)
    # Numbers stay numbers.
    sites_out = (tmp_path / "sites.csv").read_text(encoding="utf-8").splitlines()[1]
    assert sites_out.split(",")[2].replace(".", "").isdigit()
    # The exported scenario reads back to the same names and the same plan.
    again = optimizer.scenario_from_files(scn.files())
    assert list(again.sites["site"]) == list(scn.sites["site"])
    assert optimizer.solve(again).summary["objective_usd"] == pytest.approx(res.summary["objective_usd"], rel=1e-12)


# ---------------------------------------------------------------- 19: spec-sheet headers


def test_19_missing_column_hint_names_the_column_and_its_meaning(tmp_path, capsys):
    rc, out, err = cli(capsys, "solve", str(CASES / "19-spec-sheet-headers"), "--out", str(tmp_path / "o"))
    assert rc == 2
    line = next(x for x in err.splitlines() if "column 'resale_usd'" in x)
    assert "second-hand" in line and "'price'" in line and "stray comma" not in line
    assert "did you mean 'hashrate(TH/s)'" in err and "did you mean 'power(W)'" in err


# ---------------------------------------------------------------- fractions typed as percents


def test_percent_in_a_fraction_column_says_so():
    sites = tiny_text("sites.csv").replace(",0.95,0.02,0\n", ",95,2,0\n")
    problems = problems_of(files_with(sites_csv=sites))
    find(problems, "sites.csv", 2, "uptime", "percent")
    find(problems, "sites.csv", 2, "reg_risk", "0.02")
    p = find(problems_of(files_with(), {"market.pool_fee": 2}), "--set", None, "market.pool_fee", "percent")
    assert "0.02" in p.hint
    sites = tiny_text("sites.csv").replace(",0.15,0.05\n", ",0.15,5\n")
    res = optimizer.solve(optimizer.scenario_from_files(files_with(sites_csv=sites)))
    w = [w for w in res.summary["warnings"] if w["column"] == "import_duty"]
    assert w and w[0]["row"] == 3 and "percent" in w[0]["message"] and "0.05" in w[0]["message"]


def test_explain_reads_names_as_the_loader_does(capsys):
    rc = cli_main(["explain", str(Path(__file__).resolve().parent / "fixtures" / "tiny"), "--site", "  ekibastuz ",
                   "--model", "ANTMINER S19"])
    out = capsys.readouterr().out
    assert rc == 0 and out.startswith("Site Ekibastuz (Kazakhstan)") and "Antminer S19 from Sichuan" in out


def test_market_csv_hashprice_per_ph_is_flagged():
    market = "month,hashprice_usd_th_day\n" + "".join(f"{t},{250 - t}\n" for t in range(24))
    scn = optimizer.scenario_from_files({**tiny_files(), "market.csv": market.encode()})
    flagged = [w for w in scn.warnings if w.file == "market.csv"]
    assert flagged and flagged[0].row == 2 and flagged[0].likely == "USD/PH/day" and "0.25" in flagged[0].message


def test_explain_unknown_site_suggests_the_close_one(capsys):
    rc = cli_main(["explain", str(Path(__file__).resolve().parents[1] / "datasets" / "china-2021"), "--site", "TX Rockdale"])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown site 'TX Rockdale'" in err and "did you mean 'TX Rockdale self-build'?" in err
