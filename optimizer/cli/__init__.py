"""Command line: ``rigshift COMMAND`` (or ``python -m optimizer COMMAND``). Exit codes: optimizer.cli.common.

One parser composes the engine's commands (solve, explain, validate, backtest), the risk commands
(sample, risk, frontier, stress), replay and the workspace's (library, report); each module adds its own
sub-commands with a ``handler``.
"""
from __future__ import annotations

import argparse
import gc
import sys
from typing import Sequence

from optimizer.cli import engine, library, replay, risk
from optimizer.cli.common import (EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_INTERNAL, EXIT_NOT_PROVEN, _Parser,
                                  scenario_args)
from optimizer.inputs.errors import InfeasibleError, ScenarioError, SolverFailure


EXIT_PIPE_CLOSED = 128 + 13  # what a shell reports for a command ended by SIGPIPE


def _stdout_closed() -> int:
    """Point stdout at /dev/null so that the interpreter's final flush does not complain again
    (the Python documentation's recipe, "Note on SIGPIPE", signal module)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced (tests) or already closed
        pass
    return EXIT_PIPE_CLOSED


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rigshift", description="Rigshift: where should the fleet go?")
    sub = p.add_subparsers(dest="command", required=True)
    for commands in (engine, risk, replay, library):
        commands.add_commands(sub, scenario_args)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.handler
    try:
        return command(args)
    except ScenarioError as exc:
        print(f"bad input in {args.scenario}:", file=sys.stderr)
        for p in exc.problems:
            print(f"  {p}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except InfeasibleError as exc:
        print("no feasible plan:", file=sys.stderr)
        for r in exc.reasons:
            print(f"  {r}", file=sys.stderr)
        return EXIT_INFEASIBLE
    except SolverFailure as exc:
        print(f"solver failure: {exc}", file=sys.stderr)
        return EXIT_NOT_PROVEN
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`explain ... | head -1`): end quietly, as `cat` would
        return _stdout_closed()
    except Exception as exc:  # noqa: BLE001 - a user never sees a traceback
        print(f"internal error: {type(exc).__name__}: {exc}. Please report it with the scenario.", file=sys.stderr)
        return EXIT_INTERNAL


def run() -> int:
    """The ``rigshift`` console script and ``python -m optimizer``: ``main`` in a short-lived process.

    What exists once the libraries are imported is moved out of the garbage collector's sight
    (``gc.freeze``), so its passes during the run skip them, and again before exiting, so the
    interpreter's shutdown does not walk the plan's objects (reference counting still frees everything).
    """
    gc.freeze()
    code = main()
    gc.freeze()
    return code
