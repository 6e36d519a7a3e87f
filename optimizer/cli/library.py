"""The CLI's ``library`` and ``report`` commands, hooked into ``python -m optimizer``.

Imports of the database and report libraries happen inside the commands, so the rest of the
CLI starts as fast as before. Bad input (an unknown name, a taken name, a database that
cannot be opened) exits 2 with a message, like every other CLI error.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any, Callable

from optimizer.results import fmt

EXIT_OK, EXIT_BAD_INPUT = 0, 2
ENV_USER = "RIGSHIFT_USER"


def default_user() -> str:
    """Who saves: RIGSHIFT_USER, else the login name."""
    if os.environ.get(ENV_USER, "").strip():
        return os.environ[ENV_USER].strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "user"


def add_commands(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``library ...`` and ``report`` to the CLI's subparsers; ``common`` adds SCENARIO, --set, --solver."""
    lib = sub.add_parser("library", help="the saved-scenario library: list|save|load|delete|rename|duplicate|versions|share|unshare")
    lsub = lib.add_subparsers(dest="library_command", required=True)

    def db_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--db", help="SQLAlchemy URL of the library (default: RIGSHIFT_DB_URL, the app's secrets, "
                                     "else a SQLite file in the data folder; see README, Workspace)")
        sp.add_argument("--user", default=None, help=f"who you are (default: ${ENV_USER}, else your login name)")
        sp.set_defaults(handler=_cmd_library)

    ls = lsub.add_parser("list", help="saved entries, newest first")
    ls.add_argument("--all", action="store_true", help="every entry you may open (yours and those shared with the "
                                                       "team; an admin's: all), not only yours")
    db_args(ls)
    sv = lsub.add_parser("save", help="save a scenario folder (with --set what-ifs applied) and its plan under a name")
    common(sv)
    sv.add_argument("--name", required=True, help="the entry's name; saving an existing name adds a version")
    sv.add_argument("--note", default="", help="a line kept with this version")
    sv.add_argument("--no-solve", action="store_true", help="save the scenario without solving it")
    db_args(sv)
    ld = lsub.add_parser("load", help="write a saved scenario back to a folder")
    ld.add_argument("name")
    ld.add_argument("--out", required=True, help="folder to write the scenario files into (created if missing)")
    ld.add_argument("--owner", help="whose entry (default: yours)")
    ld.add_argument("--version", type=int, help="which version (default: the newest)")
    db_args(ld)
    vs = lsub.add_parser("versions", help="every saved version of an entry")
    vs.add_argument("name")
    vs.add_argument("--owner", help="whose entry (default: yours)")
    db_args(vs)
    dl = lsub.add_parser("delete", help="delete one of your entries and all its versions")
    dl.add_argument("name")
    dl.add_argument("--owner", help="whose entry (default: yours; another's only for an admin, RIGSHIFT_ADMINS)")
    db_args(dl)
    rn = lsub.add_parser("rename", help="rename one of your entries")
    rn.add_argument("name")
    rn.add_argument("new_name")
    rn.add_argument("--owner", help="whose entry (default: yours; another's only for an admin, RIGSHIFT_ADMINS)")
    db_args(rn)
    for command, what in (("share", "let every user of the library open (read-only) one of your entries"),
                          ("unshare", "make one of your entries private again: only you (and admins) see it")):
        sh = lsub.add_parser(command, help=what)
        sh.add_argument("name")
        db_args(sh)
    dp = lsub.add_parser("duplicate", help="copy an entry (yours or --owner's) to a new name of yours")
    dp.add_argument("name")
    dp.add_argument("new_name")
    dp.add_argument("--owner", help="whose entry to copy (default: yours)")
    dp.add_argument("--version", type=int, help="which version (default: the newest)")
    db_args(dp)

    rp = sub.add_parser("report", help="the plan's decision report: report.html, report.pdf and plan.xlsx")
    common(rp)
    rp.add_argument("--out", required=True, help="output folder")
    rp.add_argument("--risk", help="a risk.json (python -m optimizer risk) to add the risk view")
    rp.add_argument("--replay", help="a replay output folder (python -m optimizer replay --samples) to add its "
                                     "comparison; the scenario's history/ is replayed on its own")
    rp.set_defaults(handler=_cmd_report)


def _cmd_library(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from workspace.errors import LibraryError

    try:
        from workspace.repository import Library

        missing = _missing_sqlite_file(args.db)
        if missing is not None and args.library_command != "save":
            print(f"library: no library at {missing} (the file does not exist; check the path in --db, or save "
                  "something there first with `library save`)", file=sys.stderr)
            return EXIT_BAD_INPUT
        from workspace.access import Viewer

        lib = Library(args.db)
        user = args.user or default_user()
        return _LIBRARY[args.library_command](_AsViewer(lib, Viewer.of(user)), args, user)
    except LibraryError as exc:
        print(f"library: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SQLAlchemyError as exc:
        from workspace.config import resolve_url

        from workspace.dburl import scrub

        url = resolve_url(args.db)
        print(f"library: cannot use the database {_safe(url)}: {type(exc).__name__}: "
              + scrub(str(exc).splitlines()[0] if str(exc) else "", url), file=sys.stderr)
        return EXIT_BAD_INPUT


def _missing_sqlite_file(explicit: str | None) -> Path | None:
    """The SQLite file an explicitly named library URL (--db) points at, when it does not exist.

    Only ``library save`` creates a library; reading commands on a mistyped path say so (exit 2)
    instead of creating an empty database there. The default library is created on first use."""
    if not explicit:
        return None
    from sqlalchemy.exc import ArgumentError

    from workspace.dburl import parse

    try:
        parsed = parse(explicit)
    except ArgumentError:
        return None  # Library() reports the bad URL
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database).expanduser()
    return None if path.exists() else path


def _safe(url: str) -> str:
    """The URL with its password and secret parameters masked, whatever its shape."""
    from workspace.dburl import mask

    return mask(url)


class _AsViewer:
    """The library with every call made for one viewer (workspace.access): the CLI acts for --user."""

    def __init__(self, lib: Any, viewer: Any) -> None:
        self._lib, self.viewer = lib, viewer

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._lib, name)
        if name in ("list", "load", "versions", "save", "rename", "duplicate", "delete", "share"):
            return lambda *a, **k: attr(*a, viewer=self.viewer, **k)
        return attr


def _list(lib: Any, args: argparse.Namespace, user: str) -> int:
    entries = lib.list(None if args.all else user)
    if not entries:
        others = 0 if args.all else len(lib.list(None))
        print(f"no saved entries{'' if args.all else f' of {user}'} in {lib.url}"
              + (f" ({others} of other people: --all lists them, --user NAME picks whose)" if others else ""))
        return EXIT_OK
    rows = [("owner", "name", "visibility", "version", "saved by", "saved at (UTC)", "scenario", "plan value")]
    for e in entries:
        rows.append((e.owner, e.name, e.visibility, str(e.version), e.saved_by, e.saved_at.strftime("%Y-%m-%d %H:%M"),
                     e.scenario_name, fmt.usd_exact(e.objective_usd, missing="-")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    return EXIT_OK


def scenario_record(folder: str | Path | None, scn: Any) -> dict[str, bytes]:
    """The files a library version keeps: the scenario's own (what-ifs in scenario.toml) plus the README."""
    files = dict(scn.files())
    if folder is not None:
        readme = Path(folder) / "README.md"
        if Path(folder).is_dir() and readme.is_file() and readme.stat().st_size < 1_000_000:
            files["README.md"] = readme.read_bytes()
    return files


def result_record(res: Any) -> dict[str, Any]:
    """A plan's result as kept in the library: its summary and its CSV/JSON files."""
    import json

    files = res.files()
    return {"summary": json.loads(files["summary.json"]), "files": files}


def _save(lib: Any, args: argparse.Namespace, user: str) -> int:
    from optimizer.cli.common import load_args
    from optimizer.engine import solve

    from optimizer.inputs.errors import InfeasibleError, SolverFailure

    scn = load_args(args)
    result = None
    if not args.no_solve:
        try:
            result = result_record(solve(scn))
        except (InfeasibleError, SolverFailure) as exc:  # work in progress is still worth keeping
            print(f"note: saved without a plan, it does not solve: {exc}", file=sys.stderr)
    info = lib.save(user, args.name, scenario_record(args.scenario, scn), scenario_name=scn.name, saved_by=user,
                    result=result, note=args.note)
    print(f"saved {info.owner}/{info.name} version {info.version} ({scn.name}; plan value {fmt.usd_exact(info.objective_usd, missing='-')}) "
          f"in {lib.url}")
    return EXIT_OK


def _load_cmd(lib: Any, args: argparse.Namespace, user: str) -> int:
    from optimizer.results.outdir import safe_relative, write_folder

    saved = lib.load(args.owner or user, args.name, args.version)
    out = Path(args.out)
    bad = []
    for name in saved.files:
        try:
            safe_relative(name)
        except ValueError as exc:
            bad.append(str(exc))
    if bad:  # stored names are data: never a path outside --out
        print(f"library: {saved.info.owner}/{saved.info.name} version {saved.info.version} holds file names that "
              f"would be written outside {out}: {'; '.join(bad)}. Nothing was written.", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        write_folder(out, saved.files)
    except OSError as exc:
        print(f"library: cannot write to {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    i = saved.info
    print(f"wrote {i.owner}/{i.name} version {i.version} (saved by {i.saved_by} at {i.saved_at:%Y-%m-%d %H:%M} UTC) "
          f"to {out}: {', '.join(sorted(saved.files))}")
    return EXIT_OK


def _versions(lib: Any, args: argparse.Namespace, user: str) -> int:
    for v in lib.versions(args.owner or user, args.name):
        print(f"v{v.version}  {v.saved_at:%Y-%m-%d %H:%M:%S} UTC  by {v.saved_by}  plan value {fmt.usd_exact(v.objective_usd, missing='-')}"
              + (f"  {v.note}" if v.note else ""))
    return EXIT_OK


def _delete(lib: Any, args: argparse.Namespace, user: str) -> int:
    owner = args.owner or user
    n = lib.delete(owner, args.name)
    print(f"deleted {owner}/{args.name} ({n} version{'s' if n != 1 else ''})")
    return EXIT_OK


def _rename(lib: Any, args: argparse.Namespace, user: str) -> int:
    owner = args.owner or user
    info = lib.rename(owner, args.name, args.new_name)
    print(f"renamed {owner}/{args.name} to {info.owner}/{info.name}")
    return EXIT_OK


def _share(lib: Any, args: argparse.Namespace, user: str) -> int:
    team = args.library_command == "share"
    info = lib.share(user, args.name, "team" if team else "private")
    print(f"{info.owner}/{info.name} is now " + ("shared with the team: every user of the library can open it "
                                                 "(read-only) and follow links to it" if team else
                                                 "private: only you (and the library's admins) see it"))
    return EXIT_OK


def _duplicate(lib: Any, args: argparse.Namespace, user: str) -> int:
    info = lib.duplicate(args.owner or user, args.name, args.new_name, new_owner=user, version=args.version)
    print(f"copied {args.owner or user}/{args.name} to {info.owner}/{info.name}")
    return EXIT_OK


_LIBRARY: dict[str, Callable[[Any, argparse.Namespace, str], int]] = {
    "list": _list, "save": _save, "load": _load_cmd, "versions": _versions, "delete": _delete, "rename": _rename,
    "duplicate": _duplicate, "share": _share, "unshare": _share,
}


def _board_sections(scn, res, risk, history: Path):
    """The report's decision (with the given risk.json's odds), why these sites, and the backtest when the scenario
    folder has a history/ (the app's decision card, same definitions: optimizer.risk.decision)."""
    from optimizer import economics
    from optimizer.inputs.errors import ScenarioError
    from optimizer.risk import backtest, plan_from_result
    from optimizer.risk.decision import decide

    from workspace.board import board_sections

    bt = None
    if (history / "market.csv").is_file():
        try:
            bt = backtest.backtest(scn, backtest.load_history(history, scn),
                                   plan_from_result(scn, economics.compute(scn), res))
        except ScenarioError as exc:
            print(f"report: the history is left out: {exc}", file=sys.stderr)
    odds = risk if risk and "prob_below_sell_all" in risk and "expected_npv_se_usd" in risk else None
    return board_sections(scn, res, decide(res.summary, res.allocation, odds, bt.summary if bt else None), bt)


def _cmd_report(args: argparse.Namespace) -> int:
    import json

    from optimizer.cli.common import load_args
    from optimizer.engine import solve

    from workspace.report import write_report

    scn = load_args(args)
    res = solve(scn)
    risk = None
    if args.risk:
        try:
            risk = json.loads(Path(args.risk).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"report: cannot read {args.risk}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    readme = Path(args.scenario) / "README.md"
    from workspace.report_monthly import cli_replays, is_monthly

    try:
        replays = cli_replays(scn, Path(args.scenario) / "history", args.replay)
    except ValueError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    board = None if is_monthly(res) else _board_sections(scn, res, risk, Path(args.scenario) / "history")
    try:
        paths = write_report(args.out, scn, res, readme=readme.read_text(encoding="utf-8") if readme.is_file() else None,
                             risk=risk, source=str(args.scenario), board=board, replays=replays)
    except OSError as exc:
        print(f"report: cannot write to {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    s = res.summary
    print(f"plan value ${s['objective_usd']:,.0f} against ${s['sell_all_usd']:,.0f} for selling everything; wrote "
          + ", ".join(str(p) for p in paths))
    return EXIT_OK
