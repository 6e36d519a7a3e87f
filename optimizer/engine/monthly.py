"""``optimizer.solve`` for ``monthly.enabled = true`` (SPEC section 8): the plan's view at t0, the state
carried in (state.csv), economics, build, solve, the canonical tie-break, the guard and the tables."""
from __future__ import annotations

import time

import numpy as np

from optimizer import economics
from optimizer.economics import monthly as M
from optimizer.inputs.errors import InfeasibleError
from optimizer.inputs.scenario import Scenario
from optimizer.model.monthly import build
from optimizer.results import Result
from optimizer.results.monthly import assemble
from optimizer.solver import canonical
from optimizer.solver.backends import solve_model
from optimizer.solver.monthly_guard import check

def from_state(scn: Scenario, econ: economics.Economics) -> tuple[np.ndarray, list[M.Standing], float, np.ndarray]:
    """state.csv as (rigs at each origin (G,), rigs standing at sites, upfront already spent (USD,
    undiscounted), sites already opened (S,) bool). Sales at a site take the earliest shipments first."""
    S = len(econ.sites)
    remaining = econ.count.astype(float)
    standing: list[M.Standing] = []
    spent = 0.0
    opened = np.zeros(S, bool)
    state = scn.state
    if state is None or not len(state):
        return remaining, standing, spent, opened
    gkey = {k: g for g, k in enumerate(zip(np.asarray(econ.origins)[econ.group_origin],
                                           np.asarray(econ.models)[econ.group_model]))}
    sidx = {s: i for i, s in enumerate(econ.sites)}
    online = scn.sites["online_month"].to_numpy(float) if "online_month" in scn.sites.columns else np.zeros(S)
    lots: dict[tuple[int, int], list[list[float]]] = {}
    rows = state.sort_values(["month"], kind="stable")
    for action, o, m, s, month, rigs in zip(rows["action"], rows["origin"], rows["model"], rows["site"],
                                            rows["month"].astype(int), rows["rigs"].astype(float)):
        g = gkey.get((o, m))
        if g is None:
            continue  # a batch of count 0: nothing to account for
        if action in ("ship", "sell"):
            remaining[g] -= rigs
        if action == "ship":
            si = sidx[s]
            spent += rigs * float(econ.upfront_usd[g, si])
            opened[si] = True
            lots.setdefault((g, si), []).append([month, rigs])
        elif action == "sell_at_site":
            left = rigs
            for lot in lots.get((g, sidx[s]), []):
                take = min(left, lot[1])
                lot[1] -= take
                left -= take
    for (g, si), items in lots.items():
        lead = float(econ.lead_days[econ.group_origin[g], si])
        for month, rigs in items:
            if rigs > 1e-12:
                A = max(economics.DAYS_PER_MONTH * month + lead, economics.DAYS_PER_MONTH * online[si])
                standing.append(M.Standing(g, si, int(month), A, rigs))
    return np.maximum(remaining, 0.0), standing, spent, opened


# ---------------------------------------------------------------------------- solve


def outlook_of(scn: Scenario) -> M.Outlook:
    """The plan's view at t0 = monthly.replan_month: scenario paths, S_t from t0, known stops (bans.csv)."""
    return M.Outlook(t0=scn.settings.monthly.replan_month, stopped=M.stops_from_bans(scn, scn.bans))


def solve_plan(scn: Scenario, econ: economics.Economics, outlook: M.Outlook, remaining=None, standing=None,
               spent_usd: float = 0.0, open_sites=None):
    """(model, raw solution, columns) of the monthly plan from outlook.t0; canonical (LP) and guarded."""
    cols = M.plan_columns(scn, econ, outlook, remaining, standing)
    model = build(scn, econ, cols, remaining, spent_usd, open_sites)
    raw = canonical.canonical(model, solve_model(model, scn.settings.solver))
    check(scn, econ, model, raw, remaining)
    return model, raw, cols


def solve(scn: Scenario, details: bool = True) -> Result:
    """optimizer.solve for monthly.enabled = true (the engine calls this after its input checks)."""
    from optimizer.engine import check_finite  # the engine package imports this module

    t0 = time.perf_counter()
    econ = check_finite(economics.compute(scn))
    remaining, standing, spent, opened = from_state(scn, econ)
    outlook = outlook_of(scn)
    t1 = time.perf_counter()
    model, raw, cols = solve_plan(scn, econ, outlook, remaining, standing, spent, opened)
    t2 = time.perf_counter()
    if raw.status == "infeasible":
        raise InfeasibleError(["no monthly plan keeps every rule: the batches cannot all be accounted for within "
                               "the capacity, jurisdiction caps and budget (is selling or keeping switched off?)"])
    result = assemble(scn, econ, model, raw)
    result.timings = {"economics": t1 - t0, "build": raw.build_seconds, "solve": raw.seconds,
                      "results": time.perf_counter() - t2}
    return result
