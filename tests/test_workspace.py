"""The workspace: the library database (SQLite and a real PostgreSQL server), the CLI's
``library`` and ``report`` commands, concurrent writers, and the decision report's files.

Checks are independent of the code under test where they can be: a loaded scenario is
solved again and compared with a solve of the original folder; concurrent saves are
checked against the payloads each writer sent; the PDF's text is read back with pypdf and
the workbook with openpyxl.
"""
from __future__ import annotations

import io
import json
import multiprocessing
import sys
import threading
import types
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest

import optimizer
from optimizer.cli import main as cli
from tests import postgres_server

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"
TINY = ROOT / "tests" / "fixtures" / "tiny"


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'lib' / 'rigshift.db'}"


@pytest.fixture(scope="module")
def postgres_url():
    reason = postgres_server.missing_reason()
    if reason:
        pytest.skip(reason)
    with postgres_server.running_postgres() as url:
        yield url
    from workspace import db

    db.dispose_all()


def test_migration_creates_exactly_the_models(sqlite_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from workspace import db
    from workspace.models import Base

    engine = db.create(sqlite_url)
    try:
        assert db.current_revision(engine) == db.head_revision()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        db.migrate(engine)  # a second open is a no-op
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()


def _solve_objective(folder: Path, overrides: dict | None = None) -> float:
    return optimizer.solve(optimizer.load_scenario(folder, overrides)).summary["objective_usd"]


def test_cli_round_trip_same_optimum(tmp_path, sqlite_url, capsys):
    args = ["--db", sqlite_url, "--user", "ann"]
    assert cli(["library", "save", str(TINY), "--name", "tiny what-if", "--set", "market.btc_price_usd=42000",
                "--set", "policy.risk_aversion=2", *args]) == 0
    assert cli(["library", "list", *args]) == 0
    listed = capsys.readouterr().out
    assert "tiny what-if" in listed and "ann" in listed
    out = tmp_path / "loaded"
    assert cli(["library", "load", "tiny what-if", "--out", str(out), *args]) == 0
    assert cli(["solve", str(out), "--out", str(tmp_path / "plan")]) == 0
    solved = json.loads((tmp_path / "plan" / "summary.json").read_text())["objective_usd"]
    expected = _solve_objective(TINY, {"market.btc_price_usd": 42000.0, "policy.risk_aversion": 2.0})
    assert solved == pytest.approx(expected, rel=1e-9)
    assert expected != pytest.approx(_solve_objective(TINY), rel=1e-6)  # the what-ifs were kept, not dropped
    from workspace.repository import Library

    saved = Library(sqlite_url).load("ann", "tiny what-if")
    assert saved.result["summary"]["objective_usd"] == pytest.approx(expected, rel=1e-9)
    assert saved.info.saved_by == "ann"


def test_cli_rename_duplicate_delete_and_errors(tmp_path, sqlite_url, capsys):
    ann = ["--db", sqlite_url, "--user", "ann"]
    bob = ["--db", sqlite_url, "--user", "bob"]
    assert cli(["library", "save", str(TINY), "--name", "a", "--no-solve", *ann]) == 0
    assert cli(["library", "save", str(TINY), "--name", "b", "--no-solve", *ann]) == 0
    assert cli(["library", "rename", "a", "b", *ann]) == 2  # taken
    assert "already has an entry named 'b'" in capsys.readouterr().err
    assert cli(["library", "rename", "a", "c", *ann]) == 0
    assert cli(["library", "duplicate", "c", "mine", "--owner", "ann", *bob]) == 2  # private: not bob's to open
    assert cli(["library", "share", "c", *ann]) == 0
    assert cli(["library", "duplicate", "c", "mine", "--owner", "ann", *bob]) == 0  # a colleague takes a copy
    assert cli(["library", "delete", "c", *bob]) == 2  # not bob's to delete
    assert "no entry 'c' of bob" in capsys.readouterr().err
    assert cli(["library", "load", "nope", "--out", str(tmp_path / "x"), *ann]) == 2
    assert cli(["library", "list", "--db", "not a url"]) == 2
    assert cli(["library", "delete", "c", *ann]) == 0
    capsys.readouterr()
    assert cli(["library", "list", "--all", *ann]) == 0
    out = capsys.readouterr().out
    assert "mine" not in out and "bob" not in out and " c " not in out  # bob's copy is private to bob
    assert cli(["library", "list", "--all", *bob]) == 0
    out = capsys.readouterr().out
    assert "mine" in out and "bob" in out and " c " not in out
    assert cli(["library", "save", str(tmp_path / "missing"), "--name", "x", *ann]) == 2
    # a scenario that does not solve is still saved (work in progress), without a plan
    assert cli(["library", "save", str(TINY), "--name", "stuck", "--set", "policy.allow_sell=false",
                "--set", "policy.allow_idle=false", "--set", "policy.max_jurisdiction_share=0.05", *ann]) == 0
    from workspace.repository import Library

    stuck = Library(sqlite_url).load("ann", "stuck")
    assert stuck.result is None and stuck.info.objective_usd is None


def test_reading_a_library_that_is_not_there_says_so_and_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "typo" / "rigshift.db"
    for command in (["list"], ["versions", "a"], ["load", "a", "--out", str(tmp_path / "o")], ["delete", "a"]):
        assert cli(["library", *command, "--db", f"sqlite:///{missing}"]) == 2, command
        assert str(missing) in capsys.readouterr().err
    assert not missing.exists() and not missing.parent.exists()
    assert cli(["library", "save", str(TINY), "--name", "a", "--no-solve", "--db", f"sqlite:///{missing}"]) == 0
    assert missing.is_file()  # saving is what creates a library
    assert cli(["library", "list", "--all", "--db", f"sqlite:///{missing}"]) == 0
    capsys.readouterr()
    assert cli(["library", "list", "--user", "somebody-else", "--db", f"sqlite:///{missing}"]) == 0
    assert "(1 of other people" not in capsys.readouterr().out  # another's private entry is not even counted
    assert cli(["library", "share", "a", "--db", f"sqlite:///{missing}"]) == 0
    capsys.readouterr()
    assert cli(["library", "list", "--user", "somebody-else", "--db", f"sqlite:///{missing}"]) == 0
    assert "(1 of other people: --all lists them" in capsys.readouterr().out


def test_owners_never_mix(sqlite_url):
    from workspace.errors import NotFound
    from workspace.repository import Library

    lib = Library(sqlite_url)
    lib.save("ann", "plan", {"x.csv": b"ann's"})
    lib.save("bob", "plan", {"x.csv": b"bob's"})
    lib.rename("bob", "plan", "bob plan")
    assert lib.load("ann", "plan").files == {"x.csv": b"ann's"}
    assert lib.load("bob", "bob plan").files == {"x.csv": b"bob's"}
    with pytest.raises(NotFound):
        lib.delete("bob", "plan")
    assert [e.name for e in lib.list("ann")] == ["plan"]


# ---------------------------------------------------------------- concurrent writers

THREADS, PROCESSES, SAVES = 4, 2, 5
SHARED = "shared plan"


def _concurrent(url: str, tag: str) -> None:
    """Writers in spawned processes and in threads start on a database nobody has opened yet:
    they race to create the schema, then save into their own names and into one shared entry."""
    # Spawned children re-run the parent's __main__; after an AppTest in this process that is the
    # app script's temporary copy, which they cannot run. Give them a bare __main__ instead.
    saved_main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        _race(url, tag)
    finally:
        sys.modules["__main__"] = saved_main


def _race(url: str, tag: str) -> None:
    from tests.library_writer import write
    from workspace import db
    from workspace.repository import Library

    threads = [f"{tag}-t{i}" for i in range(THREADS)]
    procs = [f"{tag}-p{i}" for i in range(PROCESSES)]
    start = threading.Barrier(THREADS)

    def run(owner: str) -> str | None:
        start.wait()
        return write(url, owner, SHARED, SAVES)

    with ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn")) as pp:
        from_procs = [pp.submit(write, url, o, SHARED, SAVES) for o in procs]
        with ThreadPoolExecutor(THREADS) as tp:
            revisions = list(tp.map(run, threads))
        revisions += [f.result() for f in from_procs]
    assert revisions == [db.head_revision()] * (THREADS + PROCESSES)

    owners = threads + procs
    lib = Library(url)
    team = lib.versions("team", SHARED)
    assert [v.version for v in team] == list(range(1, len(owners) * SAVES + 1))  # nothing lost, no gaps
    got = [(v.saved_by, lib.load("team", SHARED, v.version).files["x.csv"]) for v in team]
    assert sorted(b for _, b in got) == sorted(f"{o}:{i}".encode() for o in owners for i in range(SAVES))
    assert all(b.startswith(who.encode() + b":") for who, b in got)  # each version is its saver's payload
    for o in owners:
        own = lib.versions(o, SHARED)
        assert [lib.load(o, SHARED, v.version).files["x.csv"] for v in own] == [f"{o}:{i}".encode() for i in range(SAVES)]
        assert {e.name for e in lib.list(o)} == {SHARED} | {f"{o}-{i}" for i in range(SAVES)}
        assert lib.restore(f"ws-{o}")[2] == {"step": SAVES - 1}


def test_concurrent_writers_sqlite(tmp_path):
    _concurrent(f"sqlite:///{tmp_path / 'race' / 'rigshift.db'}", "sqlite")


def test_concurrent_writers_postgres(postgres_url):
    _concurrent(postgres_url, "pg")


# ---------------------------------------------------------------- the report


@pytest.mark.skipif(not (CHINA / "sites.csv").is_file(), reason="datasets/china-2021 is not in this checkout")
def test_report_cli_files_hold_the_plans_numbers(tmp_path):
    import openpyxl
    import pypdf

    out = tmp_path / "report"
    assert cli(["report", str(CHINA), "--out", str(out), "--set", "policy.risk_aversion=1.5"]) == 0
    res = optimizer.solve(optimizer.load_scenario(CHINA, {"policy.risk_aversion": 1.5}))
    s = res.summary
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(out / "report.pdf").pages)
    text = " ".join(text.split())
    expected = s.get("expected_value_usd", s["objective_usd"])
    usd = optimizer.results.fmt.usd  # money rounded as a board reads it (issue 24); the workbook keeps exact numbers
    for number in (usd(s['objective_usd']), usd(expected), usd(s['sell_all_usd']),
                   f"{s['rigs_relocated']:,.0f}", f"{usd(expected - s['sell_all_usd'])} more"):
        assert number in text, number
    top = res.jurisdictions.sort_values("mw_used", ascending=False).iloc[0]
    assert top["jurisdiction"] in text
    assert "17 July 2021" in text  # the decision date, from the dataset's README
    assert "Hashrate Index weekly roundup" in text  # its first source
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "risk aversion 1.5" in html

    wb = openpyxl.load_workbook(out / "plan.xlsx")
    assert {"Summary", "Jurisdictions", "Sites", "Allocation", "Settings", "Sources"} <= set(wb.sheetnames)
    summary = {r[0].value: r[1] for r in wb["Summary"].iter_rows(min_row=2)}
    optimum = summary["Plan value after the caution charge (what the plan maximises)"]
    assert optimum.value == pytest.approx(s["objective_usd"])
    assert optimum.number_format.startswith('"$"#,##0')
    assert summary["Selling the whole fleet now"].value == pytest.approx(s["sell_all_usd"])
    alloc = wb["Allocation"]
    head = [c.value for c in alloc[1]]
    rigs = sum(r[head.index("rigs")].value for r in alloc.iter_rows(min_row=2) if r[0].value == "relocate")
    assert rigs == pytest.approx(s["rigs_relocated"])
    # settings read by their labels, each with the scenario.toml key that sets it and its value
    from optimizer.inputs.settings import SETTINGS

    rows = {r[2].value.split(" = ")[0]: (r[0].value, r[1].value, r[2].value) for r in wb["Settings"].iter_rows(min_row=2)}
    assert set(rows) == set(optimizer.ALL_KEYS)
    label = SETTINGS["policy.risk_aversion"].label
    assert rows["policy.risk_aversion"] == (label[:1].upper() + label[1:], "1.5", "policy.risk_aversion = 1.5")
    fee = optimizer.load_scenario(CHINA).settings.market.pool_fee  # a fraction in scenario.toml, percent on screen
    assert rows["market.pool_fee"][1:] == (f"{100 * fee:g}%", f"market.pool_fee = {fee!r}")


def test_report_risk_section_only_when_computed(tmp_path):
    from workspace.report import build_report

    scn = optimizer.load_scenario(TINY)
    res = optimizer.solve(scn)
    assert "Risk over sampled futures" not in build_report(scn, res).html
    risk = {"expected_npv_usd": 1234567.0, "p5_usd": 1000000.0, "p50_usd": 1200000.0, "p95_usd": 1400000.0,
            "prob_below_sell_all": 0.125, "cvar_usd": 950000.0, "risk_alpha": 0.05, "n_samples": 1000}
    rep = build_report(scn, res, risk=risk)
    assert "Risk over sampled futures" in rep.html and "$1.23M" in rep.html and "12.5%" in rep.html
    assert "Risk" in rep.tables
    wb_bytes = rep.xlsx()
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(wb_bytes))
    assert wb["Risk"]["B2"].value == pytest.approx(1234567.0)


def test_database_url_order(tmp_path, monkeypatch):
    """--db, then RIGSHIFT_DB_URL, then the app's secrets, then a SQLite file in the data folder."""
    from workspace import config

    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[connections.rigshift]\nurl = "postgresql+psycopg://u@h/db"\n', encoding="utf-8")
    monkeypatch.delenv(config.ENV_URL, raising=False)
    monkeypatch.setenv(config.ENV_DATA_DIR, str(tmp_path / "data"))
    monkeypatch.setattr(config, "secrets_url", lambda paths=None: None)
    assert config.resolve_url() == f"sqlite:///{tmp_path / 'data' / 'rigshift.db'}"
    monkeypatch.undo()
    assert config.secrets_url([tmp_path / "missing.toml", secrets]) == "postgresql+psycopg://u@h/db"
    monkeypatch.setattr(config, "secrets_url", lambda paths=None: "postgresql+psycopg://u@h/db")
    monkeypatch.delenv(config.ENV_URL, raising=False)
    assert config.resolve_url() == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv(config.ENV_URL, "sqlite:///env.db")
    assert config.resolve_url() == "sqlite:///env.db"
    assert config.resolve_url("sqlite:///flag.db") == "sqlite:///flag.db"
