"""AppTest: drive the app's widgets and check what it shows against the engine's own results.

Every expected number here comes from ``optimizer.solve`` on the same scenario and settings,
formatted with the app's own formatters (``ui.views.METRICS``), so a wrong override, a lost
edit or a stale cache shows up as a mismatch.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

import optimizer
from optimizer.inputs.geo import DATA as GEO_DATA
from ui import mapview, views
from tests.apptest_jobs import finish_jobs
from optimizer.inputs.labels import setting_label

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
CHINA = ROOT / "datasets" / "china-2021"
TINY = ROOT / "tests" / "fixtures" / "tiny"

pytestmark = pytest.mark.skipif(not (CHINA / "sites.csv").is_file(), reason="datasets/china-2021 is not in this checkout")


# ---------------------------------------------------------------- helpers


def new_app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def at() -> AppTest:
    return new_app()


@pytest.fixture(scope="module")
def china() -> optimizer.Scenario:
    """china-2021 as the app opens it: whole rigs (the whole-rig plan solves in about a second, issue 24)."""
    return optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True})


def whole(scn: optimizer.Scenario) -> optimizer.Scenario:
    """A scenario as the app opens it when its whole-rig plan solves quickly (china-2021, tiny): whole rigs."""
    return scn.with_overrides({"policy.integer_rigs": True})


def shown_metrics(at: AppTest) -> dict[str, str]:
    """The plan's figures (the expander under the decision card; the card's own: tests/test_decision.py)."""
    labels = {m.label for m in views.METRICS}
    return {m.label: m.value for m in at.metric if m.label in labels}


def expected_metrics(summary: dict) -> dict[str, str]:
    return {m.label: m.text(summary) for m in views.METRICS}


def table_with(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first st.dataframe holding all these columns (read-only tables carry no key in AppTest)."""
    for df in at.dataframe:
        value = df.value
        if all(c in value.columns for c in columns):
            return value
    raise AssertionError(f"no table with columns {columns}")


def edit_cells(at: AppTest, table: str, rows: dict[int, dict[str, object]]) -> AppTest:
    """Type into a grid: the cell edits the browser would send for the grid as drawn now (its tab open)."""
    if at.session_state["main_tabs"] != "Edit data":
        open_tab(at, "Edit data")
    key = f"{table}_editor_{at.session_state['grid_version_' + table]}"
    at.session_state[key] = {"edited_rows": rows, "added_rows": [], "deleted_rows": []}
    return at


def grid_messages(at: AppTest) -> str:
    """What the message boxes under the grids say, one line each, markdown escapes removed."""
    lines = [m.value for m in at.markdown if m.value.startswith("- ")] + [c.value for c in at.caption]
    return "\n".join(re.sub(r"\\(.)", r"\1", line) for line in lines)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_tab(at: AppTest, label: str) -> AppTest:
    """Switch tabs as a user would: only the open tab runs and draws (issue 13)."""
    at.session_state["main_tabs"] = label
    return ok(at.run())


def zip_folder(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, f"{folder.name}/{p.name}")
    return buf.getvalue()


@pytest.fixture
def downloads(monkeypatch) -> dict[str, bytes]:
    """Bytes handed to every st.download_button, by the file id in its URL."""
    captured: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        captured[file_id] = path_or_data if isinstance(path_or_data, bytes) else str(path_or_data).encode()
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return captured


def download(at: AppTest, downloads: dict[str, bytes], key: str) -> bytes:
    button = at.get("download_button")
    url = next(b.proto.url for b in button if b.proto.id.endswith(key) or key in b.proto.id)
    file_id = re.search(r"/([0-9a-f]+)\.\w+$", url).group(1)
    return downloads[file_id]


# ---------------------------------------------------------------- the default plan


def test_opens_on_china_2021_and_shows_the_engines_plan(at, china):
    assert at.selectbox(key="source").value == "china-2021"
    assert not errors(at)
    res = optimizer.solve(china)
    assert shown_metrics(at) == expected_metrics(res.summary)
    assert any(c.value.startswith("The best plan in whole rigs, computed in") for c in at.caption)
    assert not any("variables" in c.value or "highs" in c.value.lower() for c in at.caption)
    assert any(m.value.startswith("**What to do:** Ship " + views.fmt.rigs(res.summary["rigs_relocated"]) + " rigs")
               for m in at.markdown), [m.value[:80] for m in at.markdown]
    assert any(c.value.startswith("The whole plan") and views.fmt.usd(res.summary["sell_all_usd"]) in c.value
               for c in at.caption)
    # the tables are the engine's tables
    alloc = table_with(at, "action", "origin", "model", "value_usd")
    pd.testing.assert_frame_equal(alloc.reset_index(drop=True), res.allocation.reset_index(drop=True),
                                  check_dtype=False, check_exact=False, rtol=1e-9)
    sites = table_with(at, "capacity_value", "shadow_usd_per_mw")
    assert sites["shadow_usd_per_mw"].round(6).equals(res.sites["shadow_usd_per_mw"].round(6))
    assert list(table_with(at, "share_of_fleet_hashrate")["jurisdiction"]) == list(res.jurisdictions["jurisdiction"])


def test_controls_start_at_the_scenarios_settings(at, china):
    s = china.settings
    assert at.number_input(key="ctl_market_btc_price_usd").value == s.market.btc_price_usd  # 31338, not 31500
    assert at.slider(key="ctl_horizon_months").value == s.horizon.months
    assert at.slider(key="ctl_policy_max_jurisdiction_share").value == pytest.approx(100 * s.policy.max_jurisdiction_share)
    assert at.toggle(key="ctl_policy_allow_sell").value is s.policy.allow_sell
    assert at.multiselect(key="ctl_policy_exclude_jurisdictions").value == list(s.policy.exclude_jurisdictions)


# ---------------------------------------------------------------- what-ifs


def test_typed_btc_price_resolves_to_the_engines_plan(at, china):
    before = shown_metrics(at)
    at.number_input(key="ctl_market_btc_price_usd").set_value(45123.0).run()
    ok(at)
    after = shown_metrics(at)
    assert after != before
    res = optimizer.solve(china.with_overrides({"market.btc_price_usd": 45123.0}))
    assert after == expected_metrics(res.summary)
    # headline numbers move the way the economics say they must
    assert res.summary["objective_usd"] > optimizer.solve(china).summary["objective_usd"]


def test_every_control_reaches_the_engine(at, china):
    jur = sorted(china.sites["jurisdiction"].unique())[0]
    at.slider(key="ctl_market_network_hashrate_ehs").set_value(120.0)
    at.slider(key="ctl_market_hashprice_monthly_change").set_value(-3.0)
    at.slider(key="ctl_horizon_months").set_value(36)
    at.slider(key="ctl_horizon_discount_rate").set_value(15.0)
    at.slider(key="ctl_policy_risk_aversion").set_value(2.0)
    at.slider(key="ctl_policy_max_jurisdiction_share").set_value(40.0)
    at.slider(key="ctl_policy_power_price_multiplier").set_value(1.2)
    at.slider(key="ctl_horizon_salvage_fraction").set_value(30.0)
    at.toggle(key="ctl_policy_allow_idle").set_value(False)
    at.multiselect(key="ctl_policy_exclude_jurisdictions").set_value([jur])
    at.checkbox(key="ctl_policy_budget_on").check()
    at.run()
    ok(at)
    at.number_input(key="ctl_policy_budget_musd").set_value(2.5).run()
    ok(at)
    overrides = {
        "market.network_hashrate_ehs": 120.0, "market.hashprice_monthly_change": -0.03, "horizon.months": 36,
        "horizon.discount_rate": 0.15, "policy.risk_aversion": 2.0, "policy.max_jurisdiction_share": 0.40,
        "policy.power_price_multiplier": 1.2, "horizon.salvage_fraction": 0.30, "policy.allow_idle": False,
        "policy.exclude_jurisdictions": [jur], "policy.budget_usd": 2.5e6,
    }
    res = optimizer.solve(china.with_overrides(overrides))
    assert shown_metrics(at) == expected_metrics(res.summary)
    assert res.summary["upfront_usd"] <= 2.5e6 + 1e-3
    assert not (res.allocation["jurisdiction"] == jur).any()


def test_fixed_hashprice(at, china):
    at.checkbox(key="ctl_market_hashprice_fixed").check().run()
    at.number_input(key="ctl_market_hashprice_usd_th_day").set_value(0.2).run()
    ok(at)
    res = optimizer.solve(china.with_overrides({"market.hashprice_usd_th_day": 0.2}))
    assert shown_metrics(at) == expected_metrics(res.summary)
    at.number_input(key="ctl_market_btc_price_usd").set_value(60000.0).run()  # no longer moves the plan
    assert shown_metrics(at) == expected_metrics(res.summary)


def test_integer_rigs_is_a_mip(at):
    # on the tiny scenario: a MIP on china-2021 takes seconds, too slow for this suite
    at.file_uploader(key="upload").set_value(("tiny.zip", zip_folder(TINY), "application/zip")).run()
    at.toggle(key="ctl_policy_integer_rigs").set_value(True).run()
    ok(at)
    res = optimizer.solve(optimizer.load_scenario(TINY, overrides={"policy.integer_rigs": True}))
    assert res.summary["mode"] == "mip"
    assert shown_metrics(at) == expected_metrics(res.summary)
    assert any("in whole rigs" in c.value for c in at.caption)
    assert (table_with(at, "capacity_value")["capacity_value"].isin(["", "not computed for whole-rig plans"])).all()


def test_reset_whatifs_restores_the_scenario(at, china):
    at.slider(key="ctl_policy_risk_aversion").set_value(3.0).run()
    at.button(key="reset_whatifs").click().run()
    ok(at)
    assert at.slider(key="ctl_policy_risk_aversion").value == pytest.approx(china.settings.policy.risk_aversion)
    assert shown_metrics(at) == expected_metrics(optimizer.solve(china).summary)


def test_infeasible_settings_explain_why_and_keep_the_last_plan(at, china):
    before = shown_metrics(at)
    at.toggle(key="ctl_policy_allow_sell").set_value(False)
    at.toggle(key="ctl_policy_allow_idle").set_value(False)
    at.run()
    ok(at)
    with pytest.raises(optimizer.InfeasibleError) as info:
        optimizer.solve(china.with_overrides({"policy.allow_sell": False, "policy.allow_idle": False}))
    shown = "\n".join(errors(at))
    assert "No plan satisfies these settings" in shown
    from ui.trust import md_escape

    assert md_escape(info.value.reasons[0]) in shown  # engine text may name sites: shown as text, escaped
    assert shown_metrics(at) == before  # the last plan that solved stays on screen
    at.toggle(key="ctl_policy_allow_idle").set_value(True).run()
    ok(at)
    assert not errors(at)


# ---------------------------------------------------------------- the map


def deck(at: AppTest) -> dict:
    return json.loads(at.get("deck_gl_json_chart")[0].proto.json)


def test_map_layers_plain_text_tooltips_and_a_camera_that_stays_put(at, china):
    spec = deck(at)
    types = {layer["id"]: layer for layer in spec["layers"]}
    assert {"countries", "flows", "sites", "origins"} <= set(types)
    # routes are straight lines on the map between the frame's copies of their ends (issue 24: none leave the frame)
    assert types["flows"]["@@type"] == "LineLayer"
    # no basemap server: Streamlit's "no style" sentinel, and the countries come from the app itself
    assert spec["mapStyle"] == mapview.NO_BASEMAP
    assert types["countries"]["data"] == mapview.COUNTRIES_URL and GEO_DATA.is_file()
    assert mapview.COUNTRIES_URL.startswith("app/static/")
    assert json.loads(at.get("deck_gl_json_chart")[0].proto.tooltip)["text"] == "{tip}"  # text, never html
    assert "html" not in json.loads(at.get("deck_gl_json_chart")[0].proto.tooltip)
    # markers keep a visible size whatever the zoom
    assert types["sites"]["radiusMinPixels"] >= 4 and types["origins"]["radiusMinPixels"] >= 4
    # one arc per (origin country, destination jurisdiction); rigs re-derived from the allocation
    res = optimizer.solve(china)
    reloc = res.allocation[res.allocation["action"] == "relocate"].merge(china.origins[["origin", "country"]], on="origin")
    pairs = reloc.groupby(["country", "jurisdiction"])["rigs"].sum()
    arcs = types["flows"]["data"]
    assert len(arcs) == len(pairs) < len(reloc.groupby(["origin", "site"]))
    for arc in arcs:
        head = arc["tip"].splitlines()
        country, jur = head[0].split(" to ", 1)
        assert head[1].startswith(f"{pairs[(country, jur)]:,.0f} rigs")
    tips = [d["tip"] for d in types["sites"]["data"]]
    # a whole-rig plan has no capacity duals: no tip claims one
    assert not any("One more MW here is worth" in t for t in tips) and res.summary["mode"] == "mip"
    assert not any("<" in t or "&" in t for layer in ("sites", "origins", "flows") for t in
                   (d["tip"] for d in types[layer]["data"]))
    view_before = spec["initialViewState"]
    at.number_input(key="ctl_market_btc_price_usd").set_value(15000.0).run()
    spec2 = deck(at)
    assert spec2["initialViewState"] == view_before  # the camera does not jump on a what-if
    assert len({la["id"]: la for la in spec2["layers"]}["flows"]["data"]) != len(arcs)


def test_first_view_frames_the_pacific_the_short_way():
    """Sites in Alaska, Chukotka and Kamchatka, fleet in China: the view centres over the Pacific."""
    from ui.mapview import lon_window, view_state

    scn = optimizer.load_scenario(ROOT / "tests" / "fixtures" / "antimeridian")
    lons = list(scn.origins["lon"]) + list(scn.sites["lon"])
    centre, span = lon_window(lons)
    # hand-worked: 87.62 (Xinjiang) eastward to -147.72 (Fairbanks) = 124.66 degrees, centred at 149.95
    assert span == pytest.approx(360 - 87.62 - 147.72, abs=1e-9)
    assert centre == pytest.approx(87.62 + span / 2, abs=1e-9)
    v = view_state(scn)
    assert v.longitude == pytest.approx(149.95, abs=0.01)
    # every point lies within the half-width the zoom shows (640 px map)
    half_deg = 640 / 2 / (512 * 2 ** v.zoom) * 360
    assert all(abs((lon - v.longitude + 540) % 360 - 180) <= half_deg for lon in lons)
    assert lon_window([170.0, -170.0]) == (pytest.approx(-180.0), pytest.approx(20.0))
    assert lon_window([0.0, 10.0]) == (pytest.approx(5.0), pytest.approx(10.0))


def test_markup_in_names_stays_text(at):
    at.file_uploader(key="upload").set_value(("markup.zip", zip_folder(ROOT / "tests" / "fixtures" / "markup-names"),
                                              "application/zip")).run()
    ok(at)
    spec = deck(at)
    tips = {la["id"]: [d["tip"] for d in la["data"]] for la in spec["layers"] if la["id"] != "countries"}
    assert tips["origins"][0].splitlines()[0] == "Garze <img src=x onerror=document.title='injected'> (China)"
    assert tips["sites"][0].startswith("Garze hydro <b>2</b> (Sichuan)")
    assert json.loads(at.get("deck_gl_json_chart")[0].proto.tooltip) == {"text": "{tip}", "style": mapview.TOOLTIP_STYLE}


# ---------------------------------------------------------------- table edits


def test_valid_site_and_fleet_edits_reach_the_engine(at, china):
    used = optimizer.solve(china).sites
    site_row = int(used["mw_used"].idxmax())
    edit_cells(at, "sites", {site_row: {"capacity_mw": "0.5", "power_usd_kwh": "0.02"}})
    edit_cells(at, "fleet", {0: {"count": "1e3"}}).run()  # 1e3 is a thousand rigs, not 13
    ok(at)
    assert not errors(at)
    sites = china.sites.copy()
    sites.loc[site_row, ["capacity_mw", "power_usd_kwh"]] = [0.5, 0.02]
    fleet = china.fleet.copy()
    fleet.loc[0, "count"] = 1000
    res = optimizer.solve(china.with_tables(sites=sites, fleet=fleet))
    assert shown_metrics(at) == expected_metrics(res.summary)
    assert "2 cell(s) edited" in grid_messages(at) and "1 cell(s) edited" in grid_messages(at)


@pytest.mark.parametrize("table,column,typed,message", [
    ("fleet", "count", "2.5", "'2.5' is not a whole number"),
    ("sites", "capacity_mw", "abc", "'abc' is not a number"),
    ("sites", "power_usd_kwh", "0,05", "'0,05' uses a decimal comma"),
    ("sites", "reg_risk", "1.5", "1.5 is out of range"),
    ("sites", "capacity_mw", "", "is empty"),  # a required cell typed empty: the user typed nothing
])
def test_a_refused_cell_names_the_row_the_column_and_what_was_typed(at, china, table, column, typed, message):
    good = shown_metrics(at)
    edit_cells(at, table, {2: {column: typed}}).run()
    ok(at)
    shown = grid_messages(at)
    who = china.sites.loc[2, "site"] if table == "sites" else f"{china.fleet.loc[2, 'origin']} / {china.fleet.loc[2, 'model']}"
    label = views_label(table, column)
    plain = next(line for line in shown.splitlines() if message in line)
    assert plain.startswith(f"- {who}, {label}: "), plain
    assert ("is empty" not in plain or typed == "") and ".csv" not in plain and "column '" not in plain, plain
    assert not re.search(rf"\b{column}\b", plain), plain  # the label, not the file's column name
    assert shown_metrics(at) == good  # the plan keeps the last valid tables
    assert any("refused" in w.value for w in at.warning)  # said in the sidebar, not above the grid
    check = next(df.value for df in at.dataframe if df.key == f"{table}_editor_{at.session_state['grid_version_' + table]}")
    assert check.loc[2, "check"] == f"refused: {label}"


def views_label(table: str, column: str) -> str:
    from optimizer.inputs.labels import column_label

    return column_label(table, column)


def test_undo_goes_one_edit_back(at, china):
    edit_cells(at, "sites", {0: {"capacity_mw": "5"}}).run()
    edit_cells(at, "sites", {0: {"capacity_mw": "5"}, 1: {"capacity_mw": "abc"}}).run()
    ok(at)
    assert "'abc' is not a number" in grid_messages(at).replace("\\", "")
    at.button(key="grid_undo").click().run()
    ok(at)
    assert "abc" not in grid_messages(at)
    assert at.session_state["grid_edits_sites"] == {(0, "capacity_mw"): "5"}
    sites = china.sites.copy()
    sites.loc[0, "capacity_mw"] = 5.0
    assert shown_metrics(at) == expected_metrics(optimizer.solve(china.with_tables(sites=sites)).summary)
    at.button(key="grid_undo").click().run()
    ok(at)
    assert at.session_state["grid_edits_sites"] == {}
    assert shown_metrics(at) == expected_metrics(optimizer.solve(china).summary)


def test_excluding_a_site_solves_it_excluded(at, china):
    used = optimizer.solve(china).sites
    site_row = int(used["mw_used"].idxmax())
    edit_cells(at, "sites", {site_row: {"exclude": True}}).run()
    ok(at)
    res = optimizer.solve(china.with_overrides({"policy.exclude_sites": [china.sites.loc[site_row, "site"]]}))
    assert res.sites.loc[site_row, "excluded"]
    assert shown_metrics(at) == expected_metrics(res.summary)
    assert res.sites.loc[site_row, "mw_used"] == 0
    assert any("1 site(s) excluded by you" in c.value for c in at.caption)


def test_bad_edit_keeps_the_last_plan_and_the_session_works_on(at, china):
    good = shown_metrics(at)
    edit_cells(at, "sites", {2: {"reg_risk": "1.5"}}).run()
    ok(at)
    assert "1.5 is out of range" in grid_messages(at).replace("\\", "")
    assert shown_metrics(at) == good
    at.slider(key="ctl_policy_risk_aversion").set_value(2.0).run()
    ok(at)
    assert shown_metrics(at) == expected_metrics(optimizer.solve(china.with_overrides({"policy.risk_aversion": 2.0})).summary)
    assert "1.5 is out of range" in grid_messages(at).replace("\\", "")


# ---------------------------------------------------------------- uploads


def test_upload_a_zipped_scenario(at):
    at.file_uploader(key="upload").set_value(("tiny.zip", zip_folder(TINY), "application/zip")).run()
    ok(at)
    assert at.selectbox(key="source").value.startswith("upload: tiny")
    tiny = optimizer.load_scenario(TINY)
    assert shown_metrics(at) == expected_metrics(optimizer.solve(whole(tiny)).summary)
    assert at.number_input(key="ctl_market_btc_price_usd").value == pytest.approx(tiny.settings.market.btc_price_usd)
    # and back to the built-in one
    at.selectbox(key="source").set_value("china-2021").run()
    ok(at)
    assert shown_metrics(at) == expected_metrics(optimizer.solve(whole(optimizer.load_scenario(CHINA))).summary)


def test_upload_individual_files(at):
    files = [(p.name, p.read_bytes(), "text/csv") for p in sorted(TINY.iterdir())]
    at.file_uploader(key="upload").set_value(files).run()
    ok(at)
    assert shown_metrics(at) == expected_metrics(optimizer.solve(whole(optimizer.load_scenario(TINY))).summary)


def test_broken_upload_shows_file_row_column_and_keeps_the_scenario(at, china):
    good = shown_metrics(at)
    at.slider(key="ctl_policy_risk_aversion").set_value(1.5).run()
    good = shown_metrics(at)
    text = (TINY / "sites.csv").read_text().replace("Texas West,Texas,31.85,-102.37,8,", "Texas West,Texas,31.85,-102.37,-8,")
    at.file_uploader(key="upload").set_value(("sites.csv", text.encode(), "text/csv")).run()
    ok(at)
    shown = "\n".join(errors(at)).replace("\\", "")  # user text is Markdown-escaped
    assert "sites.csv, row 2, column 'capacity_mw'" in shown
    assert at.selectbox(key="source").value == "china-2021"
    assert at.slider(key="ctl_policy_risk_aversion").value == pytest.approx(1.5)  # nothing the user set is lost
    assert shown_metrics(at) == good


def test_partial_upload_takes_the_other_tables_from_the_current_scenario(at, china):
    at.slider(key="ctl_policy_risk_aversion").set_value(0.5).run()
    sites = china.sites.drop(columns=["_row"]).copy()
    sites["capacity_mw"] = sites["capacity_mw"] * 2
    at.file_uploader(key="upload").set_value(("sites.csv", sites.to_csv(index=False).encode(), "text/csv")).run()
    ok(at)
    assert at.selectbox(key="source").value != "china-2021"
    files = china.files()
    files["sites.csv"] = sites.to_csv(index=False).encode()
    expected = optimizer.solve(optimizer.scenario_from_files(files, overrides={"policy.risk_aversion": 0.5}))
    assert shown_metrics(at) == expected_metrics(expected.summary)
    assert at.slider(key="ctl_policy_risk_aversion").value == pytest.approx(0.5)  # the what-ifs carried over


# ---------------------------------------------------------------- compare


def test_pin_then_compare_two_plans(at, china):
    at.button(key="pin").click().run()
    ok(at)
    assert len(at.session_state["pins"]) == 1
    at.slider(key="ctl_policy_max_jurisdiction_share").set_value(60.0).run()
    ok(at)
    base = optimizer.solve(china).summary
    now = optimizer.solve(china.with_overrides({"policy.max_jurisdiction_share": 0.6})).summary
    plan_value = next(m for m in at.metric if m.label == "Plan value")
    assert plan_value.value == views.fmt.usd(now["objective_usd"])
    assert plan_value.delta == ("+" if now["objective_usd"] > base["objective_usd"] else "-") + \
        views.fmt.usd(abs(now["objective_usd"] - base["objective_usd"]))
    open_tab(at, "Compare")
    table = table_with(at, "metric", "current")
    assert list(table.columns[-2:]) == ["current", "current vs baseline"]
    settings = table_with(at, "setting", "baseline")
    assert list(settings["setting"]) == [setting_label("policy.max_jurisdiction_share")]
    moves = table_with(at, "baseline_rigs", "current_rigs", "change")
    assert len(moves) and (moves["change"].abs() > 0.5).all()
    # a second pin is welcome
    at.button(key="pin").click().run()
    assert len(at.session_state["pins"]) == 2


# ---------------------------------------------------------------- sensitivity


def test_sensitivity_on_demand_with_the_sell_everything_price(at, china):
    open_tab(at, "Sensitivity")
    finish_jobs(at.button(key="sens_run").click().run())
    ok(at)
    last = at.session_state["sens_last"]
    btc = last["btc"].frame
    current = china.settings.market.btc_price_usd
    row = btc.loc[(btc["value"] - current).abs() < 1e-6].iloc[0]
    assert row["objective_usd"] == pytest.approx(optimizer.solve(china.with_overrides({"policy.integer_rigs": False})).summary["objective_usd"], rel=1e-9)
    b = last["breakeven"]
    assert b is not None and 0 < b < current
    below = optimizer.solve(china.with_overrides({"market.btc_price_usd": b - 100})).summary
    above = optimizer.solve(china.with_overrides({"market.btc_price_usd": b + 100})).summary
    assert below["rigs_relocated"] < 0.5 < above["rigs_relocated"]
    assert any(f"BTC ${b:,.0f}" in md.value for md in at.markdown)
    assert len(at.get("arrow_vega_lite_chart")) >= 2 or len(at.get("vega_lite_chart")) >= 2


# ---------------------------------------------------------------- export


def test_exports_match_the_cli_and_the_scenario_zip_round_trips(at, china, downloads):
    at.number_input(key="ctl_market_btc_price_usd").set_value(40000.0)
    at.slider(key="ctl_policy_risk_aversion").set_value(1.5)
    at.run()
    edit_cells(at, "sites", {1: {"capacity_mw": "4"}}).run()
    ok(at)
    open_tab(at, "Export")  # the grid's edit goes on with its tab closed
    sites = china.sites.copy()
    sites.loc[1, "capacity_mw"] = 4.0
    scn = china.with_tables(sites=sites).with_overrides({"market.btc_price_usd": 40000.0, "policy.risk_aversion": 1.5})
    res = optimizer.solve(scn)
    files = res.files()
    assert download(at, downloads, "dl_allocation.csv").decode() == files["allocation.csv"]
    assert download(at, downloads, "dl_sites.csv").decode() == files["sites.csv"]
    summary = json.loads(download(at, downloads, "dl_summary.json"))
    assert summary["objective_usd"] == pytest.approx(res.summary["objective_usd"], rel=1e-9)
    back = optimizer.scenario_from_files(optimizer.read_zip(download(at, downloads, "dl_scenario_zip")))
    again = optimizer.solve(back)
    assert again.summary["objective_usd"] == pytest.approx(res.summary["objective_usd"], rel=1e-9)
    assert shown_metrics(at) == expected_metrics(again.summary)


def test_engine_never_imports_the_ui():
    for path in (ROOT / "optimizer").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(streamlit|pydeck|altair|ui)\b", text, re.M), path


def test_switching_scenarios_keeps_edits_and_what_ifs(at, china):
    at.slider(key="ctl_policy_risk_aversion").set_value(2.5).run()
    edit_cells(at, "sites", {0: {"capacity_mw": "9"}}).run()
    edited_view = shown_metrics(at)
    at.file_uploader(key="upload").set_value(("tiny.zip", zip_folder(TINY), "application/zip")).run()
    ok(at)
    assert at.selectbox(key="source").value.startswith("upload: tiny")
    assert not at.session_state["grid_edits_sites"]  # the grid now shows the new scenario's own table
    key = f"sites_editor_{at.session_state['grid_version_sites']}"
    assert key not in at.session_state or not (at.session_state[key] or {}).get("edited_rows")
    kept = "upload: china-2021 (edited)"
    assert kept in at.selectbox(key="source").options
    at.selectbox(key="source").set_value(kept).run()
    ok(at)
    assert at.slider(key="ctl_policy_risk_aversion").value == pytest.approx(2.5)
    assert shown_metrics(at) == edited_view
    at.selectbox(key="source").set_value("china-2021").run()
    ok(at)
    assert at.slider(key="ctl_policy_risk_aversion").value == pytest.approx(2.5)  # what it was left with


def test_slider_moves_do_not_recompute_the_sweep(at, monkeypatch):
    from ui import compute

    calls = []
    original = compute._point
    monkeypatch.setattr(compute, "_point", lambda *a, **k: calls.append(a) or original(*a, **k))
    at.slider(key="ctl_horizon_months").set_value(30).run()
    open_tab(at, "Sensitivity")
    finish_jobs(at.button(key="sens_run").click().run())
    ok(at)
    n = len(calls)
    assert n >= 20
    at.slider(key="ctl_horizon_months").set_value(31).run()
    ok(at)
    assert len(calls) == n
    assert any("for earlier settings" in w.value for w in at.warning)


def test_partial_upload_with_fewer_sites_drops_their_freight_quotes(at, china):
    if china.lanes.empty:
        pytest.skip("china-2021 has no lanes.csv")
    gone = china.lanes["site"].iloc[0]
    sites = china.sites.drop(columns=["_row"])
    sites = sites[sites["site"] != gone]
    at.file_uploader(key="upload").set_value(("sites.csv", sites.to_csv(index=False).encode(), "text/csv")).run()
    ok(at)
    assert not errors(at)
    notice = "\n".join(s.value for s in at.success).replace("\\", "")  # Markdown-escaped
    assert "freight quote(s)" in notice
    lanes = china.lanes.drop(columns=["_row"])
    files = china.files()
    files["sites.csv"] = sites.to_csv(index=False).encode()
    files["lanes.csv"] = lanes[lanes["site"] != gone].to_csv(index=False).encode()
    assert shown_metrics(at) == expected_metrics(optimizer.solve(optimizer.scenario_from_files(files)).summary)


# ---------------------------------------------------------------- what analysts read


def test_scenario_in_plain_words_and_the_decision_in_one_line(at, china):
    res = optimizer.solve(china)
    text = "\n".join(m.value for m in at.markdown)
    rigs = int(china.fleet["count"].sum())
    mw = float((china.fleet.merge(china.rigs, on="model").eval("count * power_w")).sum() / 1e6)
    assert f"**{rigs:,} rigs**" in text and f"{mw:,.1f} MW at the wall" in text
    assert f"**{len(china.sites)} candidate sites**" in text and f"**{china.sites['capacity_mw'].sum():,.1f} MW**" in text
    s = res.summary
    # The card: the whole plan's expected money against selling all rigs now (tests/test_decision.py: its odds).
    card = "\n".join(c.value for c in at.caption)
    assert (f"The whole plan (what it ships, sells and stores) is expected to be worth "
            f"{views.fmt.usd(s['objective_usd'] + s['risk_charge_usd'])}, against "
            f"{views.fmt.usd(s['sell_all_usd'])} for selling all {rigs:,} rigs today") in card
    assert f"**What to do:** Ship {views.fmt.rigs(s['rigs_relocated'])} rigs" in text


def test_no_jargon_on_screen(at):
    from ui.main import TAB_LABELS

    shown = []
    for label in TAB_LABELS:  # only the open tab draws: visit each
        open_tab(at, label)
        if label == "Sensitivity":
            finish_jobs(at.button(key="sens_run").click().run())
            ok(at)
        shown += ([m.value for m in at.markdown] + [c.value for c in at.caption] + [m.label for m in at.metric]
                  + [w.label for w in at.slider] + [w.label for w in at.toggle] + [i.value for i in at.info]
                  + [w.value for w in at.warning] + [e.value for e in at.error] + [n.label for n in at.number_input])
    text = "\n".join(shown)
    for word in ("highs", "variables", "SPEC", "policy.", "market.", "lambda", "MIP", ".csv row", "value_usd",
                 "python -m", "[checks]", "(alpha)"):
        assert word not in text, word


def test_a_zero_change_shows_no_delta():
    m = next(m for m in views.METRICS if m.field == "avg_power_usd_kwh")
    assert views.delta(m, 0.04376, 0.043761) is None  # equal at the 4 decimals shown: no red "+0.0000"
    assert views.delta(m, 0.0450, 0.0438) == "+$0.0012/kWh"


def test_an_exported_scenario_name_does_not_grow():
    name = views.scenario_zip_name("china-2021")
    assert name == "china-2021-scenario.zip"
    for uploaded in (name, "china-2021-scenario (1).zip", "china-2021-scenario-scenario.zip"):
        assert views.scenario_zip_name(views.scenario_stem(Path(uploaded).stem)) == name


def test_explain_never_recommends_an_excluded_site(at, china):
    jur = "Norway"
    site = china.sites.loc[china.sites["jurisdiction"] == jur, "site"].iloc[0]
    at.multiselect(key="ctl_policy_exclude_jurisdictions").set_value([jur]).run()
    open_tab(at, "Explain")
    at.selectbox(key="explain_site").set_value(site).run()
    ok(at)
    caption = next(c.value for c in at.caption if "the best use of this rig is" in c.value)
    assert "relocate here" not in caption
    assert any(f"{jur} is excluded" in w.value for w in at.warning)


# ---------------------------------------------------------------- hashprice outlook and what happened (issue 11)


def _solve_with(china, overrides):
    return optimizer.solve(china.with_overrides(overrides)).summary


def test_pool_fee_and_separate_drifts_move_the_plan_as_the_engine_does(at, china):
    at.slider(key="ctl_market_pool_fee").set_value(5.0).run()
    assert not at.exception
    assert shown_metrics(at) == expected_metrics(_solve_with(china, {"market.pool_fee": 0.05}))
    at.checkbox(key="ctl_market_drifts_on").check().run()
    at.slider(key="ctl_market_btc_price_monthly_change").set_value(2.0).run()
    at.slider(key="ctl_market_network_hashrate_monthly_change").set_value(4.0).run()
    assert not at.exception and not [e.value for e in at.error]
    expected = _solve_with(china, {"market.pool_fee": 0.05, "market.btc_price_monthly_change": 0.02,
                                   "market.network_hashrate_monthly_change": 0.04,
                                   "market.hashprice_monthly_change": -0.02})
    assert shown_metrics(at) == expected_metrics(expected)


def test_what_happened_tab_shows_the_backtest_of_the_plan(china):
    from optimizer.risk import backtest

    at = new_app()
    assert "What happened" in [t.label for t in at.tabs]
    res = optimizer.solve(china)
    bt = backtest.backtest(china, backtest.load_history(CHINA / "history", china))
    text = "\n".join(m.value for m in at.markdown)
    if "would have realised" not in text:  # tabs that draw only while open: open it as a user would
        at.session_state["main_tabs"] = "What happened"
        at.run()
        text = "\n".join(m.value for m in at.markdown)
    assert not at.exception, [e.value for e in at.exception]
    places = table_with(at, "Place", "Banned from month")
    assert places.set_index("Place").loc["Kazakhstan", "Banned from month"] == "6"
    assert (places["Banned from month"] == "no ban").sum() == len(places) - 1
    assert (f"would have realised **{views.fmt.usd(bt.summary['realised_npv_usd'])}**, against "
            f"**{views.fmt.usd(bt.summary['expected_npv_usd'])}** expected") in text
    assert bt.summary["expected_npv_usd"] == pytest.approx(res.summary["expected_value_usd"], rel=1e-9)


def test_ticking_separate_drifts_starts_from_the_current_trend(at, china):
    # china-2021's outlook is -5%/month; ticking the box alone must not swap it for a flat one: the network
    # then grows by 1/0.95 - 1 = 5.263%/month (shown to 0.1%: 5.3%, kept exact), BTC flat: the same plan (issue 24).
    before = optimizer.solve(china).summary["objective_usd"]
    at.checkbox(key="ctl_market_drifts_on").check().run()
    assert not at.exception
    assert at.slider(key="ctl_market_network_hashrate_monthly_change").value == pytest.approx(100 * (1 / 0.95 - 1))
    assert at.slider(key="ctl_market_btc_price_monthly_change").value == pytest.approx(0.0)
    shown = at.session_state["last_plan"][2].summary
    assert shown_metrics(at) == expected_metrics(optimizer.solve(china).summary)  # every figure as before
    assert shown["objective_usd"] == pytest.approx(before, rel=1e-9)


def test_cleared_btc_box_keeps_its_last_value(at, china):
    """Clearing the BTC box (or typing letters, which leaves it empty) keeps the last number, not $1 (issue 24)."""
    at.number_input(key="ctl_market_btc_price_usd").set_value(45123.0).run()
    before = at.session_state["last_plan"][2].summary["objective_usd"]
    at.number_input(key="ctl_market_btc_price_usd").set_value(None).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="ctl_market_btc_price_usd").value == 45123.0
    res = at.session_state["last_plan"][2]
    assert res.summary["objective_usd"] == before
    assert res.summary["objective_usd"] == pytest.approx(
        optimizer.solve(china.with_overrides({"market.btc_price_usd": 45123.0})).summary["objective_usd"], rel=1e-9)


def test_engine_messages_in_the_apps_words(china):
    """An infeasible plan's reasons and a unit warning as the app shows them: labels, no keys, no scenario.toml."""
    from ui.words import plain

    with pytest.raises(optimizer.InfeasibleError) as info:
        optimizer.solve(china.with_overrides({"policy.allow_sell": False, "policy.allow_idle": False}))
    reasons = " ".join(info.value.reasons)
    assert "policy.allow_sell" in reasons  # the CLI's words
    shown = plain(reasons)
    assert "policy." not in shown and '"Allow selling rigs now"' in shown
    note = 'sites.csv, row 3, column power_usd_kwh: 45 (if 45 is right, confirm it in scenario.toml: [checks] confirm = ["x"])'
    assert "[checks]" not in plain(note) and "scenario.toml" not in plain(note)
