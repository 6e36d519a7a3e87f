"""The pipeline in one screen: economics -> build model -> solve -> results."""
from __future__ import annotations

import difflib
import time

from . import economics
from .diagnose import explain_infeasible
from .errors import InfeasibleError, Problem, ScenarioError
from .model import build_model
from .results import Result, assemble
from .scenario import Scenario
from .solvers import solve_model


def check_exclusions(scn: Scenario) -> None:
    """Exclusions must name jurisdictions and sites the scenario has: a typo is an error, not a no-op."""
    problems = []
    pol = scn.settings.policy
    for key, names, known in (("policy.exclude_jurisdictions", pol.exclude_jurisdictions, scn.sites["jurisdiction"]),
                              ("policy.exclude_sites", pol.exclude_sites, scn.sites["site"])):
        options = sorted(set(known))
        for name in names:
            if name not in options:
                close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
                problems.append(Problem("scenario settings", None, key, f"'{name}' is not in sites.csv",
                                        f"did you mean '{close[0]}'?" if close else None))
    if problems:
        raise ScenarioError(problems)


def solve(scn: Scenario, solver: str | None = None, details: bool = True) -> Result:
    """The optimal plan for a scenario. Never prints.

    ``details=False`` skips the entry power prices and payback (for sweeps of many solves).

    Raises ScenarioError (bad settings), InfeasibleError (no plan; reasons in business terms)
    or SolverFailure (the solver gave up without any plan). A time-limit stop with a plan
    returns normally with ``summary["status"] == "time_limit"``.
    """
    if solver is not None:
        scn = scn.with_overrides({"solver.name": solver})
    check_exclusions(scn)
    t0 = time.perf_counter()
    econ = economics.compute(scn)
    t1 = time.perf_counter()
    model = build_model(scn, econ)
    t2 = time.perf_counter()
    raw = solve_model(model, scn.settings.solver)
    t3 = time.perf_counter()
    if raw.status == "infeasible":
        raise InfeasibleError(explain_infeasible(scn, econ, model))
    result = assemble(scn, econ, model, raw, details=details)
    t4 = time.perf_counter()
    result.timings = {
        "economics": t1 - t0, "build": t2 - t1 + raw.build_seconds, "solve": raw.seconds, "results": t4 - t3,
    }
    return result
