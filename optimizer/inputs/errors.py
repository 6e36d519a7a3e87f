"""Typed errors the engine raises. None of them carries a traceback to the user."""
from __future__ import annotations

from dataclasses import dataclass


def location(file: str, row: int | None, column: str | None) -> str:
    """Where in the input, as a spreadsheet user finds it: "sites.csv, row 3, column 'capacity_mw'"."""
    where = file
    if row is not None:
        where += f", row {row}"
    if column:
        where += f", column '{column}'"
    return where


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as a spreadsheet user would find it.

    ``row`` is the spreadsheet row (the header is row 1), or None for a whole-file or
    whole-column problem. ``column`` is the column name or scenario.toml key.
    """

    file: str
    row: int | None
    column: str | None
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{location(self.file, self.row, self.column)}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class ScenarioError(ValueError):
    """Bad input: one or more problems, all reported at once (CLI exit code 2)."""

    def __init__(self, problems: list[Problem] | Problem):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class InfeasibleError(RuntimeError):
    """No plan satisfies the constraints (CLI exit code 3). The message is in business terms."""

    def __init__(self, reasons: list[str]):
        self.reasons = list(reasons)
        super().__init__("\n".join(self.reasons))


class SolverFailure(RuntimeError):
    """The solver failed without a usable plan (crash, numerical trouble, time limit with nothing found)."""
