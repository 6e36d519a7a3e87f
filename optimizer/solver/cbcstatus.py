"""CBC's own words about how a run ended, read from its solution file.

PuLP 3.3.2 folds CBC's first solution-file line into two codes and loses what matters: a run
stopped by the time limit with a point in hand ("Stopped on time - objective value ...") is
reported as ``LpStatusOptimal``; an LP stopped mid-simplex writes its current (possibly
infeasible) point the same way; and CBC's "Integer infeasible" and "Infeasible" lines are only
proofs when CBC finished, which the codes do not say. ``StatusReadingCBC`` keeps the line, and
``classify`` turns it into one of the engine's words.
"""
from __future__ import annotations

import pulp


class StatusReadingCBC(pulp.COIN_CMD):
    """``pulp.COIN_CMD`` that remembers the first line of CBC's solution file (``status_line``)."""

    status_line: str = ""

    def get_status(self, filename):  # noqa: D401 - PuLP's hook, called once per solve
        try:
            with open(filename) as fh:
                self.status_line = fh.readline().strip()
        except OSError:
            self.status_line = ""
        return super().get_status(filename)


def classify(line: str) -> str:
    """CBC's first solution line -> "optimal" | "infeasible" | "unbounded" | "stopped_with_point" | "stopped".

    "stopped_with_point": CBC gave up (time, iterations, nodes, user) and wrote a point, which
    may or may not be feasible: only the invariant guard can tell. "stopped": nothing usable.
    CBC writes, e.g.:
      "Optimal - objective value 12.5"
      "Infeasible - objective value 0"               (LP proven infeasible)
      "Integer infeasible - objective value 0"       (MIP proven infeasible)
      "Stopped on time - objective value 12.5"       (a point; feasible for MIPs, not always for LPs)
      "Stopped on iterations - objective value ..." / "Stopped on nodes ..." / "Stopped on ctrl-c ..."
      "Stopped on time (no integer solution - continuous used) - objective value ..."
    """
    words = line.lower()
    if words.startswith("optimal"):
        return "optimal"
    if words.startswith("stopped"):
        if "no integer solution" in words or "objective value" not in words:
            return "stopped"
        return "stopped_with_point"
    if words.startswith(("infeasible", "integer infeasible", "primal infeasible")):
        return "infeasible"
    if words.startswith(("unbounded", "dual infeasible")):
        return "unbounded"
    return "stopped"


def stopped_by_limit(line: str) -> bool:
    """True when the line says CBC hit a limit (time, iterations, nodes, solutions) or was interrupted."""
    return line.lower().startswith("stopped")
