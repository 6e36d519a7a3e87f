"""Warnings about input that is possible but implausible, or that the loader read in a way the user
should know about (a name variant unified, a coordinate converted).

A warning never stops a solve. It names the file, the row (as a spreadsheet shows it, header =
row 1), the column and the value, says what was probably meant and how to confirm the value if it
is right: ``[checks] confirm = ["FILE:COLUMN"]`` in scenario.toml silences every warning on that
column (and ``"market.KEY"``-style keys silence warnings on a setting).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from optimizer.inputs.errors import location


@dataclass(frozen=True)
class InputWarning:
    """One warning. ``confirm`` is the [checks] confirm entry that silences it (None: not silenceable)."""

    file: str
    row: int | None
    column: str | None
    value: str
    message: str
    likely: str = ""  # what the value probably is, e.g. "USD/MWh"
    confirm: str | None = None
    kind: str = "unit"  # unit | name | coordinate | location

    def __str__(self) -> str:
        text = f"{location(self.file, self.row, self.column)}: {self.message}"
        if self.confirm:
            text += f" (if {self.value} is right, confirm it in scenario.toml: [checks] confirm = [\"{self.confirm}\"])"
        return text

    def to_dict(self) -> dict:
        out = asdict(self)
        out["text"] = str(self)
        return out
