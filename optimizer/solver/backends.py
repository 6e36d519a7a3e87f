"""Solve a LinearModel with HiGHS or CBC and return raw primal/dual arrays.

Two paths feed the solver the same model:
- ``pulp``: through PuLP (HiGHS in-process via ``pulp.HiGHS``, CBC via ``pulp.COIN_CMD`` with
  PuLP's bundled binary). The modeller of record.
- ``direct``: the sparse matrix passed straight to highspy, for large models where PuLP's
  per-variable Python objects dominate.

Duals are returned in one convention whatever the path: d(objective)/d(rhs) of the
maximisation, so a binding capacity row has a dual >= 0. Solver conventions differ (PuLP's
HiGHS wrapper negates the objective of a maximisation), which tests pin down with finite
differences.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
from typing import TYPE_CHECKING

import highspy
import numpy as np

from optimizer.inputs.errors import SolverFailure
from optimizer.solver import mip_start, transport
from optimizer.model import LinearModel, to_highs, to_pulp
from optimizer.solver.raw import RawSolution, highs_status
from optimizer.inputs.settings import SolverSettings

if TYPE_CHECKING:  # PuLP (and cbcstatus, built on it) is imported by the paths that use it
    import pulp


def _silence_highs_banner() -> None:
    """HiGHS prints a copyright banner to fd 1 when the first Highs() is made; the engine never prints."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


_silence_highs_banner()

# Above this many columns the auto backend skips PuLP's Python objects (same optimum, tested).
DIRECT_ABOVE_COLUMNS = 20_000
# Above this many columns HiGHS's interior point (with crossover) beats its default dual simplex on this LP.
IPM_ABOVE_COLUMNS = 20_000


def choose_backend(model: LinearModel, settings: SolverSettings) -> str:
    if settings.name == "cbc":
        return "pulp"
    if settings.backend == "auto":
        return "direct" if model.n_cols > DIRECT_ABOVE_COLUMNS else "pulp"
    if settings.backend == "columns" and settings.name != "highs":
        return "pulp"
    return settings.backend


def _lp_algorithm(model: LinearModel, settings: SolverSettings) -> str:
    if settings.lp_algorithm != "auto":
        return settings.lp_algorithm
    return "ipm" if model.n_cols > IPM_ABOVE_COLUMNS else "choose"


def _highs_options(model: LinearModel, settings: SolverSettings) -> dict[str, object]:
    """HiGHS's options for this model, the same whether PuLP or the direct path hands them over."""
    options: dict[str, object] = {"output_flag": False, "time_limit": float(settings.time_limit_s),
                                  "mip_rel_gap": float(settings.mip_gap), "threads": 1}
    if model.mode == "lp":
        algo = _lp_algorithm(model, settings)
        options["solver"] = algo
        if algo == "ipm":
            options["run_crossover"] = "on"
    return options


def solve_model(model: LinearModel, settings: SolverSettings) -> RawSolution:
    backend = choose_backend(model, settings)
    if backend == "columns" or (backend == "direct" and settings.backend == "auto" and settings.lp_algorithm == "auto"
                                and model.n_cols > transport.COLUMNS_ABOVE and transport.eligible(model, settings)):
        if transport.eligible(model, settings):
            return transport.solve_columns(model, settings)  # issue 13: column generation, same optimum
        backend = "direct"
    if backend == "direct" and settings.name != "highs":
        raise SolverFailure("the direct backend feeds HiGHS only; use backend 'pulp' with CBC")
    start = None
    if mip_start.wanted(model, settings):  # issue 13: a good first plan, then HiGHS's search
        t0 = time.perf_counter()
        start, left = mip_start.prepare(model, settings)
        if mip_start.proven(start, settings):  # already within the gap of a proven bound: no search needed
            return mip_start.proven_solution(start, backend, time.perf_counter() - t0 - start.seconds)
        settings = dataclasses.replace(settings, time_limit_s=left)
    if backend == "direct":
        return _solve_direct(model, settings, start)
    return _solve_pulp(model, settings, start)


def _solve_direct(model: LinearModel, settings: SolverSettings, start: mip_start.Start | None = None) -> RawSolution:
    t0 = time.perf_counter()
    lp = to_highs(model)
    h = highspy.Highs()
    for key, value in _highs_options(model, settings).items():
        h.setOptionValue(key, value)
    h.passModel(lp)
    if mip_start.usable(model, start):
        mip_start.apply(h, start)
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - t1
    status, gap, bound = highs_status(h, model.mode)
    if status == "infeasible":
        return RawSolution("infeasible", np.nan, np.zeros(model.n_cols), None, None, None, "highs", "direct", seconds, build)
    if start is not None:
        gap, bound = mip_start.tighten(float(h.getInfo().objective_function_value), gap, bound, start)
    sol = h.getSolution()
    x = np.asarray(sol.col_value, float)
    # HiGHS reports duals of the problem as posed; with sense kMaximize they are d(obj)/d(rhs) already.
    duals = np.asarray(sol.row_dual, float) if model.mode == "lp" and sol.dual_valid else None
    if model.mode == "lp" and model.n_cols == 0:
        duals = np.zeros(model.n_rows)  # no column prices any row
    obj = float(h.getInfo().objective_function_value)
    return RawSolution(status, obj, x, duals, gap, bound, "highs", "direct", seconds, build)


def cbc_path() -> str | None:
    """The CBC binary PuLP 3.x ships (``pulp.apis.coin_api.pulp_cbc_path``), or None to let
    ``pulp.COIN_CMD`` find ``cbc`` on the PATH (PuLP 4 ships none: ``pip install pulp[cbc]``)."""
    import pulp

    bundled = getattr(pulp.apis.coin_api, "pulp_cbc_path", None)
    if bundled and os.path.isfile(bundled) and os.access(bundled, os.X_OK):
        return bundled
    return None


def _cbc_solver(model: LinearModel, settings: SolverSettings, tmp: str) -> pulp.LpSolver:
    # pulp.COIN_CMD is PuLP's supported CBC interface (PULP_CBC_CMD is deprecated, gone in 4.0); this
    # subclass also keeps CBC's own status line, which PuLP's status codes misreport (cbcstatus.py).
    from optimizer.solver import cbcstatus

    solver = cbcstatus.StatusReadingCBC(
        path=cbc_path(), msg=False, mip=model.mode == "mip",
        timeLimit=settings.time_limit_s, gapRel=settings.mip_gap, threads=1,
    )
    solver.tmpDir = tmp  # private folder: concurrent solves never share temp files
    return solver


def _run(prob: pulp.LpProblem, solver: pulp.LpSolver) -> None:
    """prob.solve, with any failure inside PuLP or the solver turned into a SolverFailure."""
    try:
        prob.solve(solver)
    except Exception as exc:  # noqa: BLE001 - a solver crash must reach the user as a message
        raise SolverFailure(f"{solver.name} failed: {type(exc).__name__}: {exc}") from exc


def _solve_pulp(model: LinearModel, settings: SolverSettings, start: mip_start.Start | None = None) -> RawSolution:
    import pulp

    from optimizer.solver import cbcstatus

    t0 = time.perf_counter()
    prob, variables, constraints = to_pulp(model)
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    if settings.name == "highs":
        solver = pulp.HiGHS(msg=False, mip=model.mode == "mip")
        solver.optionsDict.update(_highs_options(model, settings))  # applied by PuLP after it makes its Highs()
        if mip_start.usable(model, start):  # issue 13: a good first plan, then HiGHS's search
            solver = mip_start.started_pulp_highs(start, variables, solver)
        _run(prob, solver)
        seconds = time.perf_counter() - t1
        h = prob.solverModel
        # PuLP maps a HiGHS time-limit stop to "Optimal": read HiGHS's own status instead.
        status, gap, bound = highs_status(h, model.mode)
        if status == "infeasible":
            return RawSolution("infeasible", np.nan, np.zeros(model.n_cols), None, None, None, "highs", "pulp", seconds, build)
        x = np.array([v.varValue or 0.0 for v in variables])
        duals = None
        if model.mode == "lp":
            # pulp.HiGHS poses max c'x as min -c'x, so its duals come back negated.
            duals = -np.array([c.pi for c in constraints], float)
        obj = float(pulp.value(prob.objective) or 0.0)
        # HiGHS's gap/bound refer to the negated objective.
        if bound is not None:
            bound = -bound
        return RawSolution(status, obj, x, duals, gap, bound, "highs", "pulp", seconds, build)
    with tempfile.TemporaryDirectory(prefix="rigshift-cbc-") as tmp:
        cbc = _cbc_solver(model, settings, tmp)
        _run(prob, cbc)
    seconds = time.perf_counter() - t1
    # PuLP folds CBC's status line into codes that call a time-limit stop "Optimal" and some limit
    # stops "Infeasible": read CBC's own line. An infeasibility claim and any point are then checked
    # by the engine's guard (optimizer/solver/guard.py).
    kind = cbcstatus.classify(cbc.status_line)
    if kind == "infeasible":
        return RawSolution("infeasible", np.nan, np.zeros(model.n_cols), None, None, None, "cbc", "pulp", seconds, build)
    if kind == "stopped":
        raise SolverFailure("CBC stopped before finding any plan (time limit?); raise solver.time_limit_s")
    if kind != "optimal" and kind != "stopped_with_point":
        raise SolverFailure(f"CBC stopped with status '{cbc.status_line or pulp.LpStatus[prob.status]}'")
    status = "optimal" if kind == "optimal" else "time_limit"
    x = np.array([v.varValue or 0.0 for v in variables])
    duals = np.array([c.pi if c.pi is not None else 0.0 for c in constraints], float) if model.mode == "lp" else None
    obj = float(pulp.value(prob.objective) or 0.0)
    return RawSolution(status, obj, x, duals, 0.0 if status == "optimal" and model.mode == "mip" else None,
                       None, "cbc", "pulp", seconds, build)
