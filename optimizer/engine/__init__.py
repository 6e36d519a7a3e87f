"""The pipeline in one screen: economics -> build model -> solve -> results."""
from __future__ import annotations

import dataclasses
import time
from typing import Sequence

import numpy as np

from optimizer.solver import canonical, guard

from optimizer import economics

from optimizer.inputs import names
from optimizer.inputs.check import check
from optimizer.solver.diagnose import explain_infeasible
from optimizer.inputs.errors import InfeasibleError, ScenarioError, SolverFailure
from optimizer.model import build_model
from optimizer.analysis import analyse
from optimizer.inputs.notes import InputWarning
from optimizer.model import LinearModel
from optimizer.results import Result, assemble
from optimizer.solver.raw import RawSolution
from optimizer.inputs.scenario import Scenario
from optimizer.solver.backends import solve_model


def prepare(scn: Scenario) -> tuple[Scenario, list]:
    """The checks before any solve: (the scenario with its names made canonical, its input warnings).

    Raises ScenarioError with the problems of ``optimizer.inputs.check.check`` (every named check once:
    an exclusion or market.csv that the settings or tables no longer fit, a physically impossible unit slip).
    """
    problems, warnings = check(scn)
    if problems:
        raise ScenarioError(problems)
    return dataclasses.replace(scn, settings=names.canonical_settings(scn.settings, scn.sites)), warnings


def check_finite(econ: economics.Economics) -> economics.Economics:
    """``econ`` itself; SolverFailure when a per-rig value or upfront cost is not a finite number."""
    if not (np.isfinite(econ.value_usd).all() and np.isfinite(econ.upfront_usd).all()):
        raise SolverFailure("the per-rig values overflow (non-finite numbers): check units of prices and counts")
    return econ


def solve(scn: Scenario, solver: str | None = None, details: bool = True) -> Result:
    """The optimal plan for a scenario. Never prints.

    ``details=False`` skips the entry power prices and payback (for sweeps of many solves).

    Raises ScenarioError (bad settings), InfeasibleError (no plan; reasons in business terms)
    or SolverFailure (the solver gave up without any plan). A time-limit stop with a plan
    returns normally with ``summary["status"] == "time_limit"``.
    """
    if solver is not None:
        scn = scn.with_overrides({"solver.name": solver})
    scn, warnings = prepare(scn)
    if scn.settings.monthly.enabled:  # SPEC section 8: the monthly plan (optimizer/engine/monthly.py)
        from optimizer.engine import monthly as monthly_model

        result = monthly_model.solve(scn, details=details)
        result.summary["warnings"] = [w.to_dict() for w in warnings]
        return result
    t0 = time.perf_counter()
    econ = check_finite(economics.compute(scn))
    t1 = time.perf_counter()
    model = build_model(scn, econ)
    t2 = time.perf_counter()
    result, _ = finish(scn, econ, model, solve_model(model, scn.settings.solver), warnings, details,
                       {"economics": t1 - t0, "build": t2 - t1})
    return result


def finish(scn: Scenario, econ: economics.Economics, model: LinearModel, raw: RawSolution,
           warnings: Sequence[InputWarning] = (), details: bool = True,
           timings: dict[str, float] | None = None) -> tuple[Result, RawSolution]:
    """The steps after every solve, shared by ``solve`` and the Planner: the canonical plan among ties,
    the invariant guard, the infeasibility diagnosis, the tables (results), the analysis, the input
    warnings and the timings (``timings`` given: economics and build seconds so far, extended here).
    Returns the result and the canonical solution it was read from.

    Raises InfeasibleError (reasons in business terms) or SolverFailure (a point that breaks the plan's
    rules is not a plan).
    """
    raw = canonical.canonical(model, raw)  # one plan (and duals) among ties
    guard.check(scn, econ, model, raw)  # a point that breaks the plan's rules is not a plan (SolverFailure)
    t3 = time.perf_counter()
    if raw.status == "infeasible":
        raise InfeasibleError(explain_infeasible(scn, econ, model))
    result, plan = assemble(scn, econ, model, raw)
    analyse(result, plan, scn, econ, model, raw, details=details)
    result.summary["warnings"] = [w.to_dict() for w in warnings]
    if timings is not None:
        result.timings = {**timings, "build": timings.get("build", 0.0) + raw.build_seconds, "solve": raw.seconds,
                          "results": time.perf_counter() - t3}
    return result, raw
