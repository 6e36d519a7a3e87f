"""Issue 22's cases 21-33 (tests/data/cases/, copied from the shared cases folder without its
screenshots), each run the way its CMD runs it, with what a user expects.

Cases that need a server or a cluster have their own modules, named in CASE_TESTS below (a test here
checks that each named test still exists): 24 (a PostgreSQL password with ``@ : / # % ? &``:
tests/test_db_secrets.py against a real PostgreSQL), 25 (SQLite's write lock held by another
program: tests/test_db_never_blocks.py), 26 (an address-bar URL pasted to a colleague:
tests/test_workspace_sharing.py, tests/test_workspace_browser.py), 27 (Dask workers absent or dying:
tests/test_cluster_faults.py, tests/test_cluster_secure.py). The other cases also have unit tests
of their kind (tests/test_user_text.py, tests/test_futures.py, tests/test_cli_pipe.py).
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import optimizer
from optimizer.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "data" / "cases"
TINY = ROOT / "tests" / "fixtures" / "tiny"
CHINA = ROOT / "datasets" / "china-2021"

CASE_TESTS = {
    "24-db-url-password-chars": ["test_db_secrets.py::test_every_credential_form_works_and_is_never_printed",
                                 "test_db_secrets.py::test_password_given_apart_from_the_url",
                                 "test_db_secrets.py::test_a_bad_or_unreachable_url_never_shows_its_password"],
    "25-sqlite-lock-held-elsewhere": ["test_db_never_blocks.py::test_reads_go_on_while_another_program_holds_the_write_lock",
                                      "test_db_never_blocks.py::test_the_app_keeps_working_and_says_so_while_the_library_is_locked"],
    "26-address-bar-url-shared": ["test_workspace_sharing.py::test_a_pasted_address_bar_hands_over_no_workspace"],
    "27-dask-workers-die-mid-run": ["test_cluster_faults.py::test_the_cli_says_no_workers_with_exit_2",
                                    "test_cluster_faults.py::test_a_dead_scheduler_is_said",
                                    "test_cluster_secure.py::test_a_worker_killed_mid_run_costs_time_not_answers",
                                    "test_cluster_secure.py::test_a_task_that_kills_every_worker_is_exit_2_naming_memory"],
}


def cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = cli_main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def case(name: str) -> Path:
    return next(CASES.glob(f"{name}-*"))


def test_the_cases_with_a_server_or_a_cluster_have_their_tests():
    for name, tests in CASE_TESTS.items():
        for node in tests:
            module, function = node.split("::")
            tree = ast.parse((ROOT / "tests" / module).read_text(encoding="utf-8"))
            names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            assert function in names, f"case {name}: {node} is gone"


# ---------------------------------------------------------------- 21: formula-like names in the XLSX


def test_21_the_workbook_holds_every_formula_like_name_as_text(tmp_path, capsys):
    pytest.importorskip("weasyprint")
    import openpyxl

    rc, _, err = cli(capsys, "report", case("21"), "--out", tmp_path / "o")
    assert rc == 0, err
    wb = openpyxl.load_workbook(tmp_path / "o" / "plan.xlsx")
    cells = [c for ws in wb for row in ws.iter_rows() for c in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = {c.value for c in cells if isinstance(c.value, str)}
    scn = optimizer.load_scenario(case("21"))
    used = set(optimizer.solve(scn).sites.query("mw_used > 1e-6")["site"])
    formula_like = [s for s in scn.sites["site"] if s[:1] in "=+-@"]
    assert formula_like and any(s in used for s in formula_like)
    for name in formula_like:
        if name in used:
            assert name in texts, name  # the name as typed, shown as text


# ---------------------------------------------------------------- 22: Chinese names in the PDF


def test_22_the_pdf_holds_the_chinese_names_in_an_embedded_font(tmp_path, capsys):
    pytest.importorskip("weasyprint")
    import pypdf

    from workspace import mapimage

    if len(mapimage.label_fonts()) < 2:
        pytest.skip("no CJK font: run `make report-libs` (fonts-noto-cjk)")
    rc, _, err = cli(capsys, "report", case("22"), "--out", tmp_path / "o")
    assert rc == 0, err
    reader = pypdf.PdfReader(tmp_path / "o" / "report.pdf")
    text = " ".join(p.extract_text() for p in reader.pages)
    scn = optimizer.load_scenario(case("22"))
    chinese = [n for n in list(scn.origins["origin"]) + list(scn.sites["site"]) if any("\u4e00" <= ch <= "\u9fff" for ch in n)]
    assert chinese
    used = set(optimizer.solve(scn).sites.query("mw_used > 1e-6")["site"]) | set(scn.origins["origin"])
    for name in chinese:
        if name in used:
            assert name in text, name
    fonts = set()
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    assert any("CJK" in f for f in fonts), fonts


# ---------------------------------------------------------------- 23: "$" in names


def test_23_dollar_names_make_a_report_and_are_drawn_literally(tmp_path, capsys):
    pytest.importorskip("weasyprint")
    from workspace import mapimage

    for sub in ("a-crash", "b-label-altered"):
        folder = case("23") / sub
        rc, _, err = cli(capsys, "report", folder, "--out", tmp_path / sub)
        assert rc == 0 and "internal error" not in err, err
        html = (tmp_path / sub / "report.html").read_text(encoding="utf-8")
        scn = optimizer.load_scenario(folder)
        res = optimizer.solve(scn)
        dollars = [s for s in scn.sites["site"] if "$" in s]
        assert dollars
        fig = mapimage.map_figure(scn.origins, scn.sites, res.sites, res.allocation)
        labels = {t.get_text(): t for t in fig.axes[0].texts}
        for name in dollars:
            if name in set(res.sites.query("mw_used > 1e-6")["site"]):
                assert name in html, name  # the tables
                assert name in labels and labels[name].get_parse_math() is False, name  # the map: never maths


# ---------------------------------------------------------------- 28: power prices in a local currency


@pytest.mark.parametrize("sub, code", [("a-rmb", "CNY"), ("b-kzt", "KZT")])
def test_28_a_local_currency_power_price_is_warned_with_its_currency(tmp_path, capsys, sub, code):
    rc, _, err = cli(capsys, "solve", case("28") / sub, "--out", tmp_path / "o")
    assert rc == 0
    [line] = [w for w in err.splitlines() if w.startswith("warning:") and "power_usd_kwh" in w]
    assert "sites.csv, row 3" in line and f"is it in {code}" in line and "Ekibastuz" in line
    rc, _, err = cli(capsys, "solve", TINY, "--out", tmp_path / "base")
    assert rc == 0 and "power_usd_kwh" not in err


# ---------------------------------------------------------------- 29: sample factors as percents, or 1e308


def test_29_percent_and_overflowing_factors_are_stopped_before_anything_is_written(tmp_path, capsys):
    rc, _, err = cli(capsys, "risk", TINY, "--samples", case("29") / "base", "--out", tmp_path / "base")
    assert rc == 0, err
    risk_json = json.loads((tmp_path / "base" / "risk.json").read_text())
    assert all(v is None or abs(v) < 1e12 for v in risk_json.values() if isinstance(v, (int, float)))
    rc, _, err = cli(capsys, "risk", TINY, "--samples", case("29") / "a-factor-percent", "--out", tmp_path / "a")
    assert rc == 2 and "hashprice.csv" in err and "column 'factor'" in err and "divide every factor by 100" in err
    rc, _, err = cli(capsys, "risk", TINY, "--samples", case("29") / "b-factor-1e308", "--out", tmp_path / "b")
    assert rc == 2 and "hashprice.csv, row" in err and "1e+308" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# ---------------------------------------------------------------- 30: calendar months in a history


def _with_month_numbers(src: Path, dst: Path) -> Path:
    """The history with its month cells rewritten as months of the horizon (an independent reading:
    china-2021 starts in 2021-07, so 2021-07 and 7/1/2021 are month 0)."""
    shutil.copytree(src, dst)
    for name, col in (("market.csv", "month"), ("bans.csv", "ban_month")):
        frame = pd.read_csv(dst / name, dtype=str, keep_default_na=False)
        stamp = pd.to_datetime(frame[col], errors="coerce", format="mixed")
        months = (stamp.dt.year - 2021) * 12 + stamp.dt.month - 7
        frame[col] = [str(int(m)) if pd.notna(m) else v for m, v in zip(months, frame[col])]
        frame.to_csv(dst / name, index=False)
    return dst


@pytest.mark.skipif(not (CHINA / "sites.csv").is_file(), reason="datasets/china-2021 is not in this checkout")
@pytest.mark.parametrize("sub", ["h1-calendar-months", "h2-excel-dates", "h5-ban-date"])
def test_30_calendar_months_are_read_from_the_start_month(tmp_path, capsys, sub):
    assert optimizer.load_scenario(CHINA).settings.horizon.start_month == "2021-07"
    rc, _, err = cli(capsys, "backtest", CHINA, "--history", case("30") / sub, "--out", tmp_path / "cal")
    assert rc == 0, err
    assert "calendar months read as months of the horizon from horizon.start_month = 2021-07" in err
    numbered = _with_month_numbers(case("30") / sub, tmp_path / "numbered")
    rc, _, err = cli(capsys, "backtest", CHINA, "--history", numbered, "--out", tmp_path / "num")
    assert rc == 0, err
    assert (tmp_path / "cal" / "backtest.json").read_bytes() == (tmp_path / "num" / "backtest.json").read_bytes()


# ---------------------------------------------------------------- 31: a ban name in another letter case


def _recased(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    bans = pd.read_csv(dst / "bans.csv", dtype=str, keep_default_na=False)
    bans["jurisdiction"] = bans["jurisdiction"].replace({"kazakhstan": "Kazakhstan", "KAZAKHSTAN": "Kazakhstan"})
    bans.to_csv(dst / "bans.csv", index=False)
    return dst


def test_31_ban_names_follow_the_sites_csv_rules(tmp_path, capsys):
    rc, _, err = cli(capsys, "risk", TINY, "--samples", case("31") / "samples", "--out", tmp_path / "a")
    assert rc == 0 and "'kazakhstan' is read as 'Kazakhstan'" in err, err
    rc, _, err = cli(capsys, "risk", TINY, "--samples", _recased(case("31") / "samples", tmp_path / "s"),
                     "--out", tmp_path / "a2")
    assert rc == 0
    assert (tmp_path / "a" / "risk.csv").read_bytes() == (tmp_path / "a2" / "risk.csv").read_bytes()
    if (CHINA / "sites.csv").is_file():
        rc, _, err = cli(capsys, "backtest", CHINA, "--history", case("31") / "history", "--out", tmp_path / "b")
        assert rc == 0 and "'KAZAKHSTAN' is read as 'Kazakhstan'" in err, err
        rc, _, err = cli(capsys, "backtest", CHINA, "--history", _recased(case("31") / "history", tmp_path / "h"),
                         "--out", tmp_path / "b2")
        assert (tmp_path / "b" / "backtest.json").read_bytes() == (tmp_path / "b2" / "backtest.json").read_bytes()
    rc, _, err = cli(capsys, "validate", case("31") / "scenario-contrast")
    assert rc == 0 and "'kazakhstan' is read as 'Kazakhstan'" in err


# ---------------------------------------------------------------- 32: a quoted or capitalised boolean in --set


@pytest.mark.parametrize("typed, hint", [('"false"', "without quotes"), ("False", "in lower case")])
def test_32_a_quoted_boolean_gets_a_hint_about_what_was_typed(tmp_path, capsys, typed, hint):
    rc, _, err = cli(capsys, "solve", TINY, "--out", tmp_path / "o", "--set", f"policy.allow_sell={typed}")
    assert rc == 2 and "policy.allow_sell" in err and hint in err, err
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- 33: output piped into head


@pytest.mark.skipif(not (CHINA / "sites.csv").is_file(), reason="datasets/china-2021 is not in this checkout")
@pytest.mark.skipif(not shutil.which("head") or not shutil.which("bash"), reason="needs bash and head")
def test_33_output_piped_into_head_ends_quietly(tmp_path):
    py = f"'{sys.executable}' -m optimizer"
    script = (f"{py} explain '{CHINA}' --site 'TX Rockdale self-build' --model 'Antminer S9' | head -1; "
              "echo \"exit ${PIPESTATUS[0]}\" >&2; "
              f"{py} sample '{CHINA}' --out '{tmp_path / 'k'}' --n 10 | head -0; echo \"exit ${{PIPESTATUS[0]}}\" >&2")
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.startswith("Site TX Rockdale self-build") and done.stdout.count("\n") == 1
    exits = [line for line in done.stderr.splitlines()]
    assert all(line in ("exit 0", "exit 141") for line in exits), done.stderr  # nothing but the exit codes
    assert len(exits) == 2
    assert (tmp_path / "k" / "samples.csv").is_file()  # the files are written whatever became of stdout
