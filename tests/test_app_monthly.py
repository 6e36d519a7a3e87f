"""The monthly plan in the app (SPEC section 8, issue 20): the plan switch, the Schedule tab, re-plan from here,
the library round trip of state.csv and the replay comparison, each against the engine or the CLI run on its own.

The scenario is china-2021 with the record's ASIC price index as its resale path (history/resale.csv copied to
resale.csv), so the monthly plan holds rigs, sells in later months and sells at sites: waves to sum.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import defaultdict
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import optimizer
from optimizer.results import fmt
from tests.test_app import download, downloads  # noqa: F401 - the fixture
from ui import monthly_view

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
CHINA = ROOT / "datasets" / "china-2021"

pytestmark = pytest.mark.skipif(not (CHINA / "history" / "resale.csv").is_file(),
                                reason="datasets/china-2021 with its resale history is not in this checkout")


@pytest.fixture
def datasets(tmp_path, monkeypatch) -> Path:
    """A datasets folder holding china-2021 with the record's resale path; the app lists it."""
    folder = tmp_path / "datasets" / "china-2021"
    shutil.copytree(CHINA, folder)
    shutil.copy(CHINA / "history" / "resale.csv", folder / "resale.csv")
    monkeypatch.setenv("RIGSHIFT_DATASETS_DIR", str(folder.parent))
    return folder


def new_app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.run()
    return ok(at)


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def monthly_app() -> AppTest:
    at = new_app()
    at.radio(key=monthly_view.SWITCH).set_value(True).run()
    return ok(at)


def open_tab(at: AppTest, label: str) -> AppTest:
    at.session_state["main_tabs"] = label
    return ok(at.run())


def app_scenario(folder: Path, at: AppTest, **overrides) -> optimizer.Scenario:
    """The scenario as the app has it: its whole-rig switch, the monthly plan, plus ``overrides``."""
    return optimizer.load_scenario(folder).with_overrides(
        {"policy.integer_rigs": bool(at.session_state["ctl_policy_integer_rigs"]), "monthly.enabled": True, **overrides})


def plan_value(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "Plan value")


def table_with(at: AppTest, *columns: str) -> pd.DataFrame:
    for df in at.dataframe:
        if all(c in df.value.columns for c in columns):
            return df.value
    raise AssertionError(f"no table with columns {columns}")


def cli(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "optimizer", *args], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------- the switch and the Schedule tab


def test_switch_gives_the_monthly_plan_and_the_schedule_sums_the_engines_files(datasets, downloads):  # noqa: F811
    at = new_app()
    assert at.radio(key=monthly_view.SWITCH).value is False  # the scenario's own setting: section 3's plan
    static = optimizer.solve(app_scenario(datasets, at, **{"monthly.enabled": False}))
    assert plan_value(at) == fmt.usd(static.summary["objective_usd"])
    at.radio(key=monthly_view.SWITCH).set_value(True).run()
    ok(at)
    res = optimizer.solve(app_scenario(datasets, at))
    assert res.summary["plan"] == "monthly" and res.summary["objective_usd"] != pytest.approx(static.summary["objective_usd"])
    assert plan_value(at) == fmt.usd(res.summary["objective_usd"])
    card = " ".join(m.value for m in at.markdown if m.value.startswith("**What to do:**") or m.value.startswith("- Month"))
    assert "hold" in card and "Month 0" in card  # the card says what to ship when, what to hold, what to sell

    open_tab(at, "Schedule")
    # independently: the engine's files as a spreadsheet would read them, summed with plain loops
    sched = pd.read_csv(StringIO(res.files()["schedule.csv"]), keep_default_na=False)
    monthly = pd.read_csv(StringIO(res.files()["monthly.csv"]))
    shipped, at_origin, at_site = defaultdict(float), defaultdict(float), defaultdict(float)
    for row in sched.itertuples():
        if row.action in ("ship", "move"):
            shipped[(row.site, int(row.month))] += float(row.rigs)
        elif row.action == "sell":
            at_origin[int(row.month)] += float(row.rigs)
        elif row.action == "sell_at_site":
            at_site[int(row.month)] += float(row.rigs)
    assert at_origin and at_site  # the data has both kinds of sale: the sums below are not vacuous

    waves = table_with(at, "site", "month 0")
    months = [c for c in waves.columns[1:] if c != "total"]
    got = {(r["site"], int(c.split()[1])): float(r[c]) for _, r in waves.iterrows() for c in months if r[c] != 0}
    assert np.allclose(waves["total"], waves[months].sum(axis=1), rtol=1e-12)
    assert got.keys() == shipped.keys()
    assert all(got[k] == pytest.approx(v, rel=1e-9) for k, v in shipped.items())

    sales = table_with(at, "sold_at_origin_rigs", "sold_at_site_rigs")
    assert set(sales["month"]) == set(at_origin) | set(at_site)
    for _, r in sales.iterrows():
        assert r["sold_at_origin_rigs"] == pytest.approx(at_origin.get(int(r["month"]), 0.0), abs=1e-9)
        assert r["sold_at_site_rigs"] == pytest.approx(at_site.get(int(r["month"]), 0.0), abs=1e-9)

    mw = table_with(at, "site", "month 0 (MW)")
    for _, r in mw.iterrows():
        for c in mw.columns[1:]:
            month = int(c.split()[1])
            want = monthly.loc[(monthly["site"] == r["site"]) & (monthly["month"] == month), "mw_running"].sum()
            assert r[c] == pytest.approx(want, abs=1e-9)
    used = set(monthly.loc[monthly["mw_running"] > 1e-9, "site"])
    assert set(mw["site"]) == used

    assert download(at, downloads, "dl_schedule.csv") == res.files()["schedule.csv"].encode()
    assert download(at, downloads, "dl_monthly.csv") == res.files()["monthly.csv"].encode()

    open_tab(at, "Timeline")  # a tab of month-0 decisions reads the static plan and says so
    assert any("static plan" in i.value for i in at.info)


# ---------------------------------------------------------------- re-plan from here, and the library


def test_replan_from_here_equals_the_cli_with_the_same_state(datasets, tmp_path, db):
    at = open_tab(monthly_app(), "Schedule")
    t0 = 3
    at.number_input(key="replan_month_pick").set_value(t0).run()
    ok(at)
    first = optimizer.solve(app_scenario(datasets, at))
    # what has been done, from the engine's month-0 plan: its ship and sell rows before t0
    done = first.schedule[first.schedule["action"].isin(("ship", "sell", "sell_at_site")) & (first.schedule["month"] < t0)]
    assert len(done) and (done["action"] == "sell").any()
    at.button(key="replan_go").click().run()
    ok(at)
    app_res = at.session_state["last_plan"][2]
    assert app_res.summary["replan_month"] == t0

    folder = tmp_path / "mid-move"
    shutil.copytree(datasets, folder)
    done[["action", "origin", "model", "site", "month", "rigs"]].to_csv(folder / "state.csv", index=False)
    integer = str(bool(at.session_state["ctl_policy_integer_rigs"])).lower()
    cli("solve", str(folder), "--out", str(tmp_path / "out"), "--set", "monthly.enabled=true",
        "--set", f"monthly.replan_month={t0}", "--set", f"policy.integer_rigs={integer}")
    want = json.loads((tmp_path / "out" / "summary.json").read_text())["objective_usd"]
    assert app_res.summary["objective_usd"] == pytest.approx(want, rel=1e-9)
    assert app_res.summary["objective_usd"] != pytest.approx(first.summary["objective_usd"], rel=1e-6)
    assert plan_value(at) == fmt.usd(want)

    # saved in the library like any scenario: state.csv and the re-plan month go with it and come back
    from workspace.repository import Library

    at.text_input(key="ws_save_name").set_value("mid-move").run()
    at.button(key="ws_save").click().run()
    ok(at)
    saved = Library(db).load("guest", "mid-move")
    state = pd.read_csv(StringIO(saved.files["state.csv"].decode()), keep_default_na=False)
    assert len(state) == len(done) and state["rigs"].sum() == pytest.approx(done["rigs"].sum())
    back = optimizer.scenario_from_files(saved.files)
    assert back.settings.monthly.replan_month == t0 and back.settings.monthly.enabled
    assert optimizer.solve(back).summary["objective_usd"] == pytest.approx(want, rel=1e-9)
    assert at.selectbox(key="source").value.startswith("library: mid-move")  # the app opened what it saved
    assert plan_value(at) == fmt.usd(want)


def test_library_round_trip_of_state_csv(datasets, db):
    from workspace.repository import Library

    scn = optimizer.load_scenario(datasets).with_overrides({"monthly.enabled": True, "monthly.replan_month": 2})
    res = optimizer.solve(scn.with_overrides({"monthly.replan_month": 0}))
    done = res.schedule[res.schedule["action"].isin(("ship", "sell")) & (res.schedule["month"] < 2)]
    state = done[["action", "origin", "model", "site", "month", "rigs"]].reset_index(drop=True)
    with_state = scn.with_tables(state=state)
    assert "state.csv" in with_state.files()
    lib = Library(db)
    lib.save("ann", "mid", with_state.files(), scenario_name=with_state.name)
    back = optimizer.scenario_from_files(lib.load("ann", "mid").files)
    cols = ["action", "origin", "model", "site", "month", "rigs"]
    pd.testing.assert_frame_equal(back.state[cols].reset_index(drop=True), with_state.state[cols].reset_index(drop=True),
                                  check_dtype=False)
    assert back.settings.monthly.replan_month == 2
    assert optimizer.solve(back).summary["objective_usd"] == pytest.approx(
        optimizer.solve(with_state).summary["objective_usd"], rel=1e-12)


# ---------------------------------------------------------------- replay


def test_replay_on_the_history_equals_the_cli(datasets, tmp_path):
    at = open_tab(new_app(), "What happened")
    table = table_with(at, "way to act", "realised_usd")
    cli("replay", str(datasets), "--out", str(tmp_path / "replay"), "--history", str(datasets / "history"))
    row = pd.read_csv(tmp_path / "replay" / "replay.csv").iloc[0]
    got = dict(zip(table["way to act"], table["realised_usd"]))
    for key, label in monthly_view.REPLAY_LABELS.items():
        label = "Re-planning every 1 month" if key == "policy_usd" else label
        assert got[label] == pytest.approx(row[key], rel=1e-9), key
    assert got["Value of re-planning (re-planning - unchanged)"] == pytest.approx(
        row["policy_usd"] - row["unchanged_usd"], rel=1e-9, abs=1e-6)
    assert got["Value of perfect information (foresight - re-planning)"] == pytest.approx(
        row["foresight_usd"] - row["policy_usd"], rel=1e-9, abs=1e-6)


def test_replay_over_sampled_futures_on_the_risk_tab(datasets):
    """The Risk tab's replay (progress bar, chunks run a few at a time) gives replay's own numbers on the same
    futures: the first ones of the tab's sample set."""
    from optimizer.risk import replay as R
    from optimizer.risk import samples as sampler

    at = open_tab(new_app(), "Risk")
    at.number_input(key=monthly_view.REPLAY_N).set_value(3).run()
    at.button(key=monthly_view.REPLAY_GO).click().run()
    ok(at)
    table = table_with(at, "way to act", "mean_usd", "cvar_usd")
    n, seed = int(at.number_input(key="risk_n").value), int(at.number_input(key="risk_seed").value)
    scn = optimizer.load_scenario(datasets).with_overrides({"monthly.enabled": True})
    want = R.replay(scn, R.futures_from_sample_set(scn, sampler.draw(scn, n, seed).subset(0, 3))).summary
    got = dict(zip(table["way to act"], table["mean_usd"]))
    for key, label in monthly_view.REPLAY_LABELS.items():
        label = "Re-planning every 1 month" if key == "policy_usd" else label
        assert got[label] == pytest.approx(want[key.removesuffix("_usd")]["mean_usd"], rel=1e-9), key
    assert want["n_futures"] == 3


def test_a_reload_keeps_what_was_marked_as_done(datasets, db, monkeypatch):
    from ui import workspace as ui_ws

    at = open_tab(monthly_app(), "Schedule")
    at.number_input(key="replan_month_pick").set_value(2).run()
    at.button(key="replan_go").click().run()
    ok(at)
    replanned = at.session_state["last_plan"][2].summary["objective_usd"]
    assert at.session_state["last_plan"][2].summary["replan_month"] == 2
    ws = at.session_state["ws_id"]
    monkeypatch.setattr(ui_ws, "_browser_workspace_key", lambda: ws)  # a reload: the browser sends its cookie
    again = new_app()
    res = again.session_state["last_plan"][2]
    assert res.summary["replan_month"] == 2 and res.summary["objective_usd"] == pytest.approx(replanned, rel=1e-12)


def test_no_jargon_on_the_monthly_screens(datasets):
    at = monthly_app()
    shown = []
    for label in ("Schedule", "What happened", "Timeline", "Plan"):
        open_tab(at, label)
        shown += ([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
                  + [w.value for w in at.warning] + [n.label for n in at.number_input] + [b.label for b in at.button])
    text = "\n".join(shown)
    for word in ("SPEC", "python -m", "monthly.", "replan_month", "state.csv", "value_usd", "policy."):
        assert word not in text, word


def test_names_in_the_schedule_and_the_card_are_text(db):
    """A site named like a Markdown link is shown as text in the card's waves and on the Schedule tab."""
    from tests.test_app_user_text import LINK, TINY, _assert_inert, _markdown_texts, _zip

    files = {p.name: p.read_bytes() for p in TINY.iterdir() if p.is_file()}
    files["sites.csv"] = files["sites.csv"].replace(b"Texas West,", f'"{LINK}",'.encode())
    at = new_app()
    at.file_uploader(key="upload").set_value(("names.zip", _zip(files), "application/zip")).run()
    at.radio(key=monthly_view.SWITCH).set_value(True).run()
    ok(at)
    assert any(t.startswith("- Month 0") and "Session expired" in t for t in _markdown_texts(at))  # shipped there
    _assert_inert(at)
    open_tab(at, "Schedule")
    assert "Session expired" in "\n".join(table_with(at, "site", "month 0")["site"])
    _assert_inert(at)
