"""The app's share of issue 10: warnings next to the plan, an emptied optional cell says its
default applies, a partial upload combines with the tables as edited on screen, uploaded
scenario.toml files cannot hold a core for hours, and user text is shown, never run."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import optimizer
from tests.test_app import new_app
from ui import trust, views

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"
TINY = ROOT / "tests" / "fixtures" / "tiny"
CASES = ROOT / "tests" / "data" / "cases"

pytestmark = pytest.mark.skipif(not (CHINA / "sites.csv").is_file(), reason="datasets/china-2021 is not in this checkout")


def zipped(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def metrics(at: AppTest) -> dict[str, str]:
    """The plan's figures (under the decision card)."""
    from ui import views

    labels = {m.label for m in views.METRICS}
    return {m.label: m.value for m in at.metric if m.label in labels}


def expected(summary: dict) -> dict[str, str]:
    return {m.label: m.text(summary) for m in views.METRICS}


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_warnings_are_shown_next_to_the_plan():
    at = new_app()
    at.file_uploader(key="upload").set_value(("mwh.zip", zipped(folder_files(CASES / "06-power-price-per-mwh")),
                                              "application/zip")).run()
    assert not at.exception
    shown = "\n".join(w.value for w in at.warning)
    assert "USD/MWh" in shown and "power\\_usd\\_kwh" in shown and "row 2" in shown


def test_an_emptied_optional_cell_says_its_default_applies():
    at = new_app()
    china = optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True})  # as the app opens it
    at.session_state["sites_editor"] = {"edited_rows": {0: {"hosting_usd_kw_month": None}}, "added_rows": [],
                                        "deleted_rows": []}
    at.session_state["main_tabs"] = "Edit data"  # the notes sit under the grid, drawn while its tab is open
    at.run()
    assert not at.exception
    notes = "\n".join(i.value for i in at.info)
    assert "hosting\\_usd\\_kw\\_month is empty, so its default 0 applies" in notes
    site = trust.md_escape(china.sites.loc[0, "site"])
    assert site in notes
    sites = china.sites.copy()
    sites.loc[0, "hosting_usd_kw_month"] = 0.0
    assert metrics(at) == expected(optimizer.solve(china.with_tables(sites=sites)).summary)


def test_a_partial_upload_combines_with_the_tables_as_edited():
    at = new_app()
    china = optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True})  # as the app opens it
    at.session_state["fleet_editor"] = {"edited_rows": {0: {"count": 100}}, "added_rows": [], "deleted_rows": []}
    at.run()
    sites = china.sites.drop(columns=["_row"]).copy()
    sites["capacity_mw"] = sites["capacity_mw"] * 2
    at.file_uploader(key="upload").set_value(("sites.csv", sites.to_csv(index=False).encode(), "text/csv")).run()
    assert not at.exception
    fleet = china.fleet.copy()
    fleet.loc[0, "count"] = 100
    files = china.with_tables(fleet=fleet).files()
    files["sites.csv"] = sites.to_csv(index=False).encode()
    assert metrics(at) == expected(optimizer.solve(optimizer.scenario_from_files(files)).summary)


def test_uploaded_time_limit_is_capped_by_the_server(monkeypatch):
    monkeypatch.setenv(trust.ENV_MAX_TIME_LIMIT, "7")
    files = folder_files(TINY)
    files["scenario.toml"] += b"\n[solver]\ntime_limit_s = 36000\n"
    scn = optimizer.scenario_from_files(files)
    capped, note = trust.cap_time_limit(scn)
    assert capped.settings.solver.time_limit_s == 7 and "36000" in note
    assert trust.cap_time_limit(capped) == (capped, None)
    at = new_app()
    at.file_uploader(key="upload").set_value(("long.zip", zipped(files), "application/zip")).run()
    assert not at.exception
    assert any("36000" in w.value and "7 s" in w.value for w in at.warning)


@pytest.mark.parametrize("value", ["", "abc", "-3", "inf"])
def test_bad_cap_settings_fall_back_to_the_default(monkeypatch, value):
    monkeypatch.setenv(trust.ENV_MAX_TIME_LIMIT, value)
    assert trust.max_time_limit_s() == trust.DEFAULT_MAX_TIME_LIMIT_S


def test_formula_like_names_are_shown_neutralised_and_markdown_is_inert():
    files = folder_files(TINY)
    files["sites.csv"] = files["sites.csv"].replace(b"Texas West,", b"=Texas West,")
    at = new_app()
    at.file_uploader(key="upload").set_value(("formula.zip", zipped(files), "application/zip")).run()
    assert not at.exception
    alloc = next(df.value for df in at.dataframe if {"action", "site"} <= set(df.value.columns))
    assert "'=Texas West" in set(alloc["site"]) and "=Texas West" not in set(alloc["site"])
    assert pd.api.types.is_numeric_dtype(alloc["rigs"])
    assert trust.md_escape("**[x](javascript:alert(1))** <b>") == \
        "\\*\\*\\[x\\]\\(javascript\\:alert\\(1\\)\\)\\*\\* \\<b\\>"


def test_a_partial_upload_keeps_the_sites_ticked_exclude():
    at = new_app()
    china = optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True})  # as the app opens it
    used = optimizer.solve(china).sites
    row = int(used["mw_used"].idxmax())
    name = china.sites.loc[row, "site"]
    at.session_state["sites_editor"] = {"edited_rows": {row: {"exclude": True}}, "added_rows": [], "deleted_rows": []}
    at.run()
    fleet = china.fleet.drop(columns=["_row"]).copy()
    fleet["count"] = fleet["count"] // 2
    at.file_uploader(key="upload").set_value(("fleet.csv", fleet.to_csv(index=False).encode(), "text/csv")).run()
    assert not at.exception
    files = china.files()
    files["fleet.csv"] = fleet.to_csv(index=False).encode()
    expected_res = optimizer.solve(optimizer.scenario_from_files(files, {"policy.exclude_sites": [name]}))
    assert metrics(at) == expected(expected_res.summary)
