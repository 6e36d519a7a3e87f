"""The report of the monthly plan and the replay comparison (issue 24): its schedule tables sum to the engine's
schedule.csv read back on its own; the replay figures are the replay command's on the same history; the PDF's
text (pypdf) holds the sections; no engine words, rounded money.

The scenario is china-2021 with the record's resale path (history/resale.csv copied as resale.csv), so the monthly
plan ships in more than one month and sells in later months and at sites: sums with something to add up."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import optimizer
from optimizer.results import fmt
from tests.test_board_report import ENGINE_WORDS
from workspace import report_monthly as RM
from workspace.report import build_report

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"

pytestmark = pytest.mark.skipif(not (CHINA / "history" / "resale.csv").is_file(),
                                reason="datasets/china-2021 with its resale history is not in this checkout")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ds") / "china-2021"
    shutil.copytree(CHINA, out)
    shutil.copy(CHINA / "history" / "resale.csv", out / "resale.csv")
    return out


def cli(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "optimizer", *args], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def monthly(folder):
    scn = optimizer.load_scenario(folder).with_overrides({"monthly.enabled": True})
    res = optimizer.solve(scn)
    return scn, res, build_report(scn, res, readme=(folder / "README.md").read_text())


def test_schedule_tables_sum_to_schedule_csv(monthly):
    _, res, rep = monthly
    sched = pd.read_csv(io.StringIO(res.files()["schedule.csv"]))  # the engine's file, read back on its own
    sched = sched[sched["rigs"] > 1e-6]
    assert sched["action"].isin(["sell", "sell_at_site"]).any() and sched["action"].eq("ship").any()
    book = pd.read_excel(io.BytesIO(rep.xlsx()), sheet_name=None)
    shipped = book["Shipped by month"].set_index("site")
    ships = sched[sched["action"].isin(["ship", "move"])]
    want = ships.groupby(["site", "month"])["rigs"].sum()
    got = {(site, int(c.split()[1])): v for site, row in shipped.iterrows() for c, v in row.items()
           if c.startswith("month ") and v != 0}
    assert set(got) == set(want.index)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-9, abs=1e-6), k
    assert shipped["total"].sum() == pytest.approx(ships["rigs"].sum(), rel=1e-9)
    sales = book["Sales by month"].set_index("month")
    for action, col in (("sell", "sold at origin (rigs)"), ("sell_at_site", "sold at site (rigs)")):
        want = sched[sched["action"] == action].groupby("month")["rigs"].sum()
        assert sales[col].sum() == pytest.approx(want.sum(), rel=1e-9)
        for m, v in want.items():
            assert sales.loc[m, col] == pytest.approx(v, rel=1e-9), (action, m)
    fetched = sched[sched["action"].isin(["sell", "sell_at_site"])]["value_usd"].sum()
    assert sales["sales fetch (USD)"].sum() == pytest.approx(fetched, rel=1e-9)
    mw = pd.read_csv(io.StringIO(res.files()["monthly.csv"]))
    grid = book["MW by month"].set_index("site")
    for (site, month), v in mw[mw["mw_running"] > 1e-6].groupby(["site", "month"])["mw_running"].sum().items():
        assert grid.loc[site, f"month {month}"] == pytest.approx(v, rel=1e-9)


def test_monthly_report_in_board_words(monthly):
    _, res, rep = monthly
    html = rep.html
    for section in ('id="schedule"', 'id="why"', 'id="sources"'):
        assert section in html, section
    assert RM.monthly_sections(*monthly[:2])["action"] in html.replace("&#39;", "'")
    for word in ENGINE_WORDS + ("objective", "dual", " LP", "monthly.", "schedule.csv"):
        assert word not in html, word
    text = re.sub(r"<[^>]+>", " ", html)
    assert not re.findall(r"\$\d{1,3}(,\d{3}){2,}", text)  # money rounded: $98.97M, never $98,971,424


def test_report_replay_equals_the_replay_command_and_the_pdf_has_the_sections(folder, tmp_path):
    import pypdf

    cli("replay", str(folder), "--out", str(tmp_path / "replay"), "--history", str(folder / "history"),
        "--set", "monthly.enabled=true")
    cli("report", str(folder), "--out", str(tmp_path / "report"), "--set", "monthly.enabled=true")
    row = pd.read_csv(tmp_path / "replay" / "replay.csv").iloc[0]
    sheet = pd.read_excel(tmp_path / "report" / "plan.xlsx", sheet_name="Replay (history)")
    got = dict(zip(sheet["way to act"], sheet["realised (USD)"]))
    want = [row["sell_all_usd"], row["static_usd"], row["unchanged_usd"], row["policy_usd"], row["foresight_usd"],
            row["policy_usd"] - row["unchanged_usd"], row["foresight_usd"] - row["policy_usd"]]
    assert len(got) == len(want)
    for (label, value), w in zip(got.items(), want):
        assert value == pytest.approx(w, rel=1e-9, abs=1e-6), label
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(tmp_path / "report" / "report.pdf").pages).split())
    for heading in ("Month by month: what to ship when", "Rigs shipped, by site and month", "Sales by month",
                    "Why these sites and not others", "Re-planning month by month", "On the history", "Data sources"):
        assert heading in text, heading
    for w in want[:5]:
        assert fmt.usd(w) in text, w


def test_replay_over_samples_folder_is_read_as_written(folder, tmp_path):
    """--replay DIR: the report's sampled-futures table is replay.json's figures (mean, P5, P50, P95, tail)."""
    from optimizer.risk import replay as R
    from optimizer.risk import samples as sampler

    scn = optimizer.load_scenario(folder).with_overrides({"monthly.enabled": True})
    rep = R.replay(scn, R.futures_from_sample_set(scn, sampler.draw(scn, 3, 7)))
    rep.write(tmp_path / "rs")
    summary, n = RM.read_replay(tmp_path / "rs")
    sec = RM.replay_section(summary, n, "samples")
    means = sec["frame"]["mean (USD)"].to_numpy()
    w = np.full(3, 1 / 3)
    for i, col in enumerate(["sell_all_usd", "static_usd", "unchanged_usd", "policy_usd", "foresight_usd"]):
        assert means[i] == pytest.approx(float(w @ rep.per_future[col].to_numpy()), rel=1e-9)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "replay.json").write_text("{}")
    with pytest.raises(ValueError, match="replay.json"):
        RM.read_replay(tmp_path / "bad")


def test_why_lines_are_the_monthly_capacity_prices(monthly):
    """Each "is full" line names a site the plan runs rigs at, the months its capacity price is positive in
    monthly.csv (read back), and their sum."""
    _, res, _ = monthly
    mw = pd.read_csv(io.StringIO(res.files()["monthly.csv"]))
    lines, _ = RM.why_monthly(res)
    full = [line for line in lines if " is full in " in line]
    assert full
    names = sorted(mw["site"].unique(), key=len, reverse=True)
    for line in full:
        site = next(n for n in names if line.startswith(f"{n} ("))
        part = mw[(mw["site"] == site) & (mw["shadow_usd_per_mw"] > 1e-6)]
        assert mw.loc[mw["site"] == site, "mw_running"].max() > 1e-6
        assert fmt.usd(part["shadow_usd_per_mw"].sum()) in line
        months = sorted(part["month"].astype(int))
        assert f" {months[0]}" in line.split(" is full in ")[1].split(":")[0]


def test_site_names_stay_text_in_the_schedule(folder):
    """A site named like markup or a formula is escaped on the page and stored as text in the workbook."""
    import openpyxl

    scn = optimizer.load_scenario(folder).with_overrides({"monthly.enabled": True})
    res0 = optimizer.solve(scn)
    top = res0.schedule.loc[res0.schedule["action"] == "ship", "site"].iloc[0]
    evil = '=HYPERLINK("http://x","<b>hi</b>")'
    scn2 = scn.with_tables(sites=scn.sites.assign(site=scn.sites["site"].replace({top: evil})),
                           lanes=scn.lanes.assign(site=scn.lanes["site"].replace({top: evil})))
    rep = build_report(scn2, optimizer.solve(scn2))
    assert "<b>hi</b>" not in rep.html and "&lt;b&gt;hi&lt;/b&gt;" in rep.html
    book = openpyxl.load_workbook(io.BytesIO(rep.xlsx()))
    cells = [c for row in book["Shipped by month"].iter_rows() for c in row if c.value == evil]
    assert cells and all(c.data_type == "s" for c in cells)


def test_app_report_takes_the_replay_the_what_happened_tab_computed(folder, tmp_path, monkeypatch):
    """After the What happened tab replays the history, the report's lookup finds it (same scenario fingerprint)
    and its section holds the replay command's numbers on that history."""
    from collections import OrderedDict

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from ui import report_replays

    monkeypatch.setenv("RIGSHIFT_DATASETS_DIR", str(folder.parent))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.session_state["main_tabs"] = "What happened"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    store = at.session_state["_memo_replay_history"]
    assert len(store) == 1
    scn = optimizer.load_scenario(folder).with_overrides(
        {"policy.integer_rigs": bool(at.session_state["ctl_policy_integer_rigs"])})
    monkeypatch.setattr(st, "session_state", {"_memo_replay_history": store, "_memo_replay_samples": OrderedDict()})
    sections = report_replays.replay_lookup(scn)()
    assert [s["where"] for s in sections] == ["history"]
    other = report_replays.replay_lookup(scn.with_overrides({"market.btc_price_usd": 12345.0}))()
    assert other == []  # another scenario's replay is not this one's
    cli("replay", str(folder), "--out", str(tmp_path / "replay"), "--history", str(folder / "history"))
    row = pd.read_csv(tmp_path / "replay" / "replay.csv").iloc[0]
    got = sections[0]["frame"]["realised (USD)"].to_numpy()
    want = [row["sell_all_usd"], row["static_usd"], row["unchanged_usd"], row["policy_usd"], row["foresight_usd"]]
    assert got[:5] == pytest.approx(want, rel=1e-9)


def test_monthly_expected_value_is_the_decision_cards(monthly):
    """One definition (optimizer.risk.waves.headline_figures) for the report and the app's card, checked against
    an independent one: with dispatch and sell months [0] the monthly plan is section 3's plan, so its expected
    value (before the caution charge) and its caution charge must be the static plan's summary.json figures."""
    scn, res, rep = monthly
    s = RM.complete_summary(scn, res)
    assert s["risk_charge_usd"] > 0 and s["expected_value_usd"] > res.summary["objective_usd"]
    assert f"The plan is expected to bring <strong>{fmt.usd(s['expected_value_usd'])}</strong>" in rep.html
    one_shot = scn.with_overrides({"monthly.dispatch_months": [0], "monthly.sell_months": [0]})
    m = RM.complete_summary(one_shot, optimizer.solve(one_shot))
    static = optimizer.solve(scn.with_overrides({"monthly.enabled": False})).summary
    assert m["expected_value_usd"] == pytest.approx(static["expected_value_usd"], rel=1e-7)
    assert m["risk_charge_usd"] == pytest.approx(static["risk_charge_usd"], rel=1e-6)