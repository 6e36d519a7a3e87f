"""What a solver path returns, and how a HiGHS run's status reads: shared by every backend."""
from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from optimizer.inputs.errors import SolverFailure


@dataclass
class RawSolution:
    status: str  # optimal | time_limit | infeasible
    objective: float
    x: np.ndarray  # column values
    row_dual: np.ndarray | None  # LP mode only; d(obj)/d(rhs)
    mip_gap: float | None
    best_bound: float | None
    solver: str
    backend: str
    seconds: float
    build_seconds: float
    canonical: str = ""  # how optimizer.solver.canonical settled ties: unique | tie-broken | kept ("" not applied)
    canonical_seconds: float = 0.0


def highs_status(h: highspy.Highs, mode: str) -> tuple[str, float | None, float | None]:
    """(status, MIP gap, best bound) of a finished HiGHS run: optimal | time_limit | infeasible.

    Raises SolverFailure when HiGHS stopped without any plan. PuLP reports a time-limit stop as
    "Optimal" (SOLVERS.md), so every path reads HiGHS's own model status here.
    """
    ms = h.getModelStatus()
    info = h.getInfo()
    S = highspy.HighsModelStatus
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if ms == S.kModelEmpty:  # no columns (e.g. a fleet of zero rigs): doing nothing is the plan
        return "optimal", 0.0, None
    if ms == S.kOptimal:
        gap = float(info.mip_gap) if mode == "mip" else 0.0
        return "optimal", gap, (float(info.mip_dual_bound) if mode == "mip" else None)
    if ms in (S.kInfeasible, S.kUnboundedOrInfeasible):
        return "infeasible", None, None
    if ms in (S.kTimeLimit, S.kIterationLimit, S.kInterrupt, S.kSolutionLimit) and has_solution:
        gap = float(info.mip_gap) if mode == "mip" else None
        return "time_limit", gap, (float(info.mip_dual_bound) if mode == "mip" else None)
    if ms in (S.kTimeLimit, S.kIterationLimit):
        raise SolverFailure("HiGHS stopped at the time limit before finding any plan; raise solver.time_limit_s")
    raise SolverFailure(f"HiGHS stopped with status {h.modelStatusToString(ms)}")
