"""What every command shares: exit codes, the parser's error rule, --set parsing, loading, writing."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Sequence

from optimizer.inputs.errors import Problem, ScenarioError
from optimizer.inputs.scenario import Scenario, load_scenario

EXIT_OK, EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_NOT_PROVEN, EXIT_INTERNAL = 0, 2, 3, 4, 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors are bad input too: exit 2, no traceback
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def scenario_args(sp: argparse.ArgumentParser) -> None:
    """The arguments every scenario command takes: the folder, --set and --solver."""
    sp.add_argument("scenario", help="scenario folder (or a zip of one)")
    sp.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="override a scenario.toml key, value in TOML syntax (repeatable)")
    sp.add_argument("--solver", choices=["highs", "cbc"], help="same as --set solver.name=...")


def write_out(out: str, write: Callable[[], Any]) -> None:
    """Run ``write``; an unwritable --out is a usage error (exit 2 with a message), not an internal one."""
    try:
        write()
    except OSError as exc:
        raise ScenarioError(Problem("--out", None, None, f"cannot write to {out}: {exc.strerror or exc}",
                                    "give a folder you can write to (it is created if missing)")) from None


def parse_overrides(items: Sequence[str], solver: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    problems = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            problems.append(Problem("--set", None, item, "must look like SECTION.KEY=VALUE", "e.g. --set policy.risk_aversion=2"))
            continue
        out[key.strip()] = value.strip()
    if solver:
        out["solver.name"] = solver
    if problems:
        raise ScenarioError(problems)
    return out


def load_args(args: argparse.Namespace) -> Scenario:
    return load_scenario(args.scenario, parse_overrides(args.overrides, args.solver))


def print_warnings(scn: Scenario) -> None:
    """The scenario's consistency check (``optimizer.inputs.check``): its problems raise ScenarioError (exit 2),
    its warnings (possible but unlikely values, names unified, coordinates converted) go to stderr."""
    from optimizer.inputs.check import check

    problems, warnings = check(scn)
    if problems:
        raise ScenarioError(problems)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
