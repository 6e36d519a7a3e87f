"""A good first plan for MIPs with site decisions, handed to HiGHS as its starting incumbent (issue 13).

HiGHS's branch and bound, stopped by a time limit on a large facility-location MIP, can end with a
poor incumbent (its own heuristics had not found a good one yet). This module finds a good plan
first, within a share of the time limit, and passes it with ``Highs.setSolution``:

1. a first plan with every allowed site open (the LP with y fixed at 1);
2. a Lagrangian relaxation of the fleet rows: for prices u (one per rig group) each site is a
   continuous knapsack (its MW filled with the groups of highest value - u per MW, each up to its
   count, the linking rows), opened when that beats its fixed cost; subgradient steps of Polyak's
   size lower the bound, and the site sets met at the best bounds are candidates;
3. every candidate is evaluated exactly: the LP with y fixed, all rows but the linking ones (fixed y
   makes them redundant, so every plan satisfies them), re-solved from the last basis in one HiGHS
   object; the best plan so far sharpens the subgradient steps;
4. drop and add moves from the best plan (close the dearest open sites, open the cheapest closed
   ones per MW), kept when the plan value rises.

Only the start is ours: HiGHS then searches as before. The reported best bound is HiGHS's, or the
Lagrangian bound where that is tighter (both are proven bounds), and the gap is taken against it.
With whole rigs (integer x) the best fixed-y plan is rounded to whole rigs (``whole_rigs``: every
count rounded down, then each batch's remaining rigs placed greedily, dearest use first, where every
row still holds), so HiGHS starts within a few rigs of the LP bound and usually stops at its root.
60% of the time limit goes to the start.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from optimizer.model import to_highs

# Share of the time limit the start may use; HiGHS gets the rest.
START_SHARE = 0.6


@dataclass
class Start:
    x: np.ndarray  # (n_cols,) a feasible plan, y in {0, 1}
    objective: float  # its value (maximise)
    relaxation: float  # the best Lagrangian bound: an upper bound on the MIP optimum (maximise)
    seconds: float
    trials: int


def _dense(model):
    """(G, S) per-rig value and MW of x columns (-inf / 1 where no column), counts, capacities, fixed costs."""
    G = len(model.block("fleet").labels)
    y = np.asarray(model.y_col)
    S = len(y)
    value = np.full((G, S), -np.inf)
    mw = np.ones((G, S))
    value[model.x_group, model.x_site] = model.cost[: model.n_x]
    cap_block = model.block("capacity").matrix.tocoo()
    on_x = cap_block.col < model.n_x
    mw[model.x_group[cap_block.col[on_x]], model.x_site[cap_block.col[on_x]]] = np.maximum(cap_block.data[on_x], 1e-12)
    col_site = np.full(model.n_cols, -1)
    col_site[y] = np.arange(S)
    cap = np.zeros(S)
    on_y = col_site[cap_block.col] >= 0
    cap[col_site[cap_block.col[on_y]]] = -cap_block.data[on_y]
    count = np.asarray(model.block("fleet").lower, float)
    fixed = -np.asarray(model.cost, float)[y]
    floor = np.full(G, -np.inf)  # what a rig is worth without a site (sell or store)
    for cols in (model.sell_col, model.idle_col):
        if cols is not None:
            floor = np.maximum(floor, np.asarray(model.cost, float)[cols])
    return value, mw, count, cap, fixed, floor


def lagrangian_sites(model, deadline: float, target: float, iterations: int = 400,
                     evaluate=None, every: int = 50) -> tuple[list[np.ndarray], float]:
    """Candidate sets of sites to open, from a Lagrangian relaxation of the fleet rows.

    For fleet prices u (one per rig group), each site's best use is a continuous knapsack: fill its
    MW with the groups of highest (value - u) per MW, up to each group's count (the linking rows),
    and open it when that beats its fixed cost. The bound L(u) >= optimum is pushed down by
    subgradient steps of Polyak's size towards ``target`` (a known plan's value). Side rows (caps,
    budget, minimum loads) are left to the exact LP that evaluates each candidate:
    ``evaluate(open_mask)`` (optional) is called on the newest candidate every ``every`` steps and
    returns the best plan value known so far, which becomes the new target.
    Returns (distinct open masks (S,) seen at the best bounds, newest first; the best bound).
    """
    value, mw, count, cap, fixed, floor = _dense(model)
    G, S = value.shape
    allowed = np.asarray(model.upper, float)[np.asarray(model.y_col)] > 0
    full_mw = count[:, None] * mw  # MW of a whole group at a site
    best_site = np.where(np.isfinite(value), value, -np.inf).max(axis=1)
    u = np.maximum(np.where(np.isfinite(best_site), best_site, 0.0), np.where(np.isfinite(floor), floor, -np.inf))
    lam, best_bound, stall = 1.0, np.inf, 0
    candidates: list[np.ndarray] = []
    seen: set[bytes] = set()
    pending: np.ndarray | None = None
    for it in range(iterations):
        if time.perf_counter() > deadline:
            break
        if evaluate is not None and pending is not None and it % every == every - 1:
            target = max(target, evaluate(pending))
            pending = None
        ratio = (value - u[:, None]) / mw
        order = np.argsort(-ratio, axis=0)
        r_sorted = np.take_along_axis(ratio, order, axis=0)
        amount = np.take_along_axis(full_mw, order, axis=0) * (r_sorted > 0)
        before = np.cumsum(amount, axis=0) - amount
        take_mw = np.clip(cap[None, :] - before, 0.0, amount)
        gain = (np.where(take_mw > 0, r_sorted, 0.0) * take_mw).sum(axis=0) - fixed
        opened = (gain > 0) & allowed
        bound = float((u * count).sum() + gain[opened].sum())
        if bound < best_bound - 1e-9 * abs(best_bound if np.isfinite(best_bound) else 1.0):
            best_bound, stall = bound, 0
            key = opened.tobytes()
            if key not in seen:
                seen.add(key)
                candidates.append(opened.copy())
                pending = opened.copy()
        else:
            stall += 1
            if stall >= 15:
                lam, stall = lam / 2, 0
        taken = np.zeros((G, S))
        np.put_along_axis(taken, order, take_mw / np.take_along_axis(mw, order, axis=0), axis=0)
        sub = count - (taken * opened[None, :]).sum(axis=1)  # dL/du
        norm2 = float(sub @ sub)
        if norm2 == 0 or lam < 1e-4:
            break
        step = lam * max(bound - target, 1e-9 * max(1.0, abs(bound))) / norm2
        u = np.maximum(u - step * sub, floor)
    return candidates[::-1], best_bound


def find_start(model, settings, deadline: float) -> Start | None:
    """A feasible plan for ``model`` (MIP with y columns): Lagrangian site choice, then local search.

    Every candidate set of open sites is evaluated exactly: the LP with y fixed (all rows but the
    linking ones, which fixed y makes redundant), re-solved from the last basis in one HiGHS object.
    Returns None when no candidate (not even every allowed site open) is feasible before
    ``deadline`` (a time.perf_counter() value).
    """
    t0 = time.perf_counter()
    if model.y_col is None or model.block("fleet") is None or model.block("capacity") is None:
        return None
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    relaxed = to_highs(model, skip=("link",))
    relaxed.integrality_ = []
    h.passModel(relaxed)
    ycols = np.asarray(model.y_col, np.int32)
    allowed = np.asarray(model.upper, float)[ycols] > 0
    trials = 0

    def evaluate(open_: np.ndarray) -> float | None:
        nonlocal trials
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        v = (open_ & allowed).astype(float)
        h.changeColsBounds(len(ycols), ycols, v, v)
        h.setOptionValue("time_limit", float(left))
        h.run()
        trials += 1
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return float(h.getInfo().objective_function_value)

    best_open = allowed.copy()
    best = evaluate(best_open)
    if best is None:
        return None
    best_x = np.asarray(h.getSolution().col_value, float)
    if _nothing_to_close(model):  # every allowed site open is an optimal y: skip the search, and this LP's
        return _finish(model, best_x, best_open, ycols, best, t0, trials)  # optimum is the relaxation's bound

    def consider(open_: np.ndarray) -> bool:
        nonlocal best, best_x, best_open
        value = evaluate(open_)
        if value is not None and value > best + 1e-9 * max(1.0, abs(best)):
            best, best_x, best_open = value, np.asarray(h.getSolution().col_value, float), open_.copy()
            return True
        return False

    # 1. Lagrangian candidates (half of the time left), the ones at the best bounds first
    lag_deadline = time.perf_counter() + 0.7 * (deadline - time.perf_counter())
    def evaluate_candidate(open_: np.ndarray) -> float:
        consider(open_)
        return best

    candidates, bound = lagrangian_sites(model, lag_deadline, best, evaluate=evaluate_candidate)
    for cand in candidates[:6]:
        if time.perf_counter() >= deadline:
            break
        consider(cand)
    # 2. local search from the best: drop an open site, or open a closed one, while it pays
    value_dense, mw, count, cap, fixed, floor = _dense(model)
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        for site in np.nonzero(best_open)[0][np.argsort(fixed[best_open] * -1)]:  # dearest first
            if time.perf_counter() >= deadline:
                break
            trial = best_open.copy()
            trial[site] = False
            improved |= consider(trial)
        for site in np.nonzero(~best_open & allowed)[0][np.argsort(fixed[~best_open & allowed] / np.maximum(cap[~best_open & allowed], 1e-9))]:
            if time.perf_counter() >= deadline:
                break
            trial = best_open.copy()
            trial[site] = True
            improved |= consider(trial)
    return _finish(model, best_x, best_open, ycols, min(bound, relaxation_bound(model)), t0, trials)


def _finish(model, best_x: np.ndarray, best_open: np.ndarray, ycols: np.ndarray, bound: float, t0: float,
            trials: int) -> Start | None:
    """The start from the best fixed-y plan: y set, rig columns made whole where they must be."""
    x = best_x.copy()
    x[ycols] = best_open.astype(float)
    ints = np.asarray(model.integer, bool)
    if np.allclose(x[ints], np.round(x[ints]), atol=1e-9):
        x[ints] = np.round(x[ints])  # whole already, up to the LP's last digits
    else:
        x = whole_rigs(model, x)
        if x is None:
            return None
    best = float(np.asarray(model.cost, float) @ x)
    return Start(x, best, bound, time.perf_counter() - t0, trials)


def _nothing_to_close(model) -> bool:
    """True when opening a site never costs anything (no fixed cost, no minimum load): then every allowed
    site open is an optimal y, since an open site only loosens its capacity and linking rows, and the LP with
    y fixed there has the LP relaxation's optimum (a proven bound)."""
    return model.block("minimum") is None and bool((np.asarray(model.cost, float)[np.asarray(model.y_col)] >= 0).all())


def relaxation_bound(model) -> float:
    """The LP relaxation's optimum (every integer column continuous): an upper bound on the MIP optimum
    (maximise), the bound HiGHS's own search starts from. +inf when that LP does not solve to optimality."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    lp = to_highs(model)
    lp.integrality_ = []
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return np.inf
    return float(h.getInfo().objective_function_value)


def relative_gap(objective: float, bound: float) -> float:
    """(bound - objective) / max(|objective|, 1e-9): HiGHS's relative gap of a plan against a proven bound."""
    return (bound - objective) / max(abs(objective), 1e-9)


def proven(start: Start | None, settings) -> bool:
    """Whether the start is already within ``solver.mip_gap`` of a proven bound (the LP relaxation or the
    Lagrangian one): the test HiGHS itself stops on, met before its search begins, so there is nothing
    for the search to do (HiGHS spends about 0.2 s at its root on china-2021 proving what this shows)."""
    if start is None or not np.isfinite(start.relaxation):
        return False
    return relative_gap(start.objective, start.relaxation) <= float(settings.mip_gap)


def proven_solution(start: Start, backend: str, build_seconds: float):
    """The RawSolution of a proven start: status optimal (within the gap), its gap and bound, backend
    ``<backend>+start`` so the summary says where the plan came from."""
    from optimizer.solver.raw import RawSolution

    return RawSolution("optimal", start.objective, start.x.copy(), None,
                       max(0.0, relative_gap(start.objective, start.relaxation)), start.relaxation, "highs",
                       f"{backend}+start", start.seconds, build_seconds)


def whole_rigs(model, x: np.ndarray) -> np.ndarray | None:
    """``x`` (a plan with y in {0, 1}, rig columns maybe fractional) made whole: every integer column rounded
    down, then each batch's missing rigs (its fleet row, an equality) put back one column at a time, the
    column of highest value per rig first (a site with room, selling, storing), as many as every other row
    allows. None when some batch cannot be completed (then HiGHS starts from its own incumbent).

    Rows are read from the model (any family), so a share, budget or minimum row is respected as written.
    """
    ints = np.asarray(model.integer, bool)
    out = x.copy()
    out[ints] = np.floor(out[ints] + 1e-9)
    out = np.clip(out, model.lower, model.upper)
    A = model.matrix().tocsc()
    lo, up = model.row_bounds()
    act = A @ out
    fleet = model.block("fleet")
    fleet_rows = np.arange(fleet.start, fleet.start + len(fleet.labels))
    is_fleet = np.zeros(len(lo), bool)
    is_fleet[fleet_rows] = True
    cost = np.asarray(model.cost, float)
    tol = 1e-7
    for g, row in enumerate(fleet_rows):
        missing = round(lo[row] - act[row])
        if missing <= 0:
            continue
        cols = [j for j in np.nonzero(model.x_group == g)[0]]
        cols += [int(c[g]) for c in (model.sell_col, model.idle_col) if c is not None]
        for j in sorted(cols, key=lambda j: -cost[j]):
            if missing <= 0:
                break
            room = model.upper[j] - out[j]
            lo_j, hi_j = A.indptr[j], A.indptr[j + 1]
            rows, coef = A.indices[lo_j:hi_j], A.data[lo_j:hi_j]
            keep = ~is_fleet[rows]
            rows, coef = rows[keep], coef[keep]
            pos, neg = coef > 0, coef < 0
            if pos.any():
                room = min(room, np.min((up[rows[pos]] - act[rows[pos]] + tol) / coef[pos]))
            if neg.any():
                room = min(room, np.min((act[rows[neg]] - lo[rows[neg]] + tol) / -coef[neg]))
            k = min(missing, int(np.floor(room + 1e-9))) if np.isfinite(room) else missing
            if k <= 0:
                continue
            out[j] += k
            act[A.indices[lo_j:hi_j]] += k * A.data[lo_j:hi_j]
            missing -= k
        if missing > 0:
            return None
    if np.any(act < lo - 1e-6 * np.maximum(1.0, np.abs(lo))) or np.any(act > up + 1e-6 * np.maximum(1.0, np.abs(up))):
        return None
    return out


def apply(h: highspy.Highs, start: Start, order: np.ndarray | None = None) -> None:
    """Hand the start to HiGHS; ``order[j]`` is HiGHS's column of model column j (default: same)."""
    if order is not None and not np.array_equal(np.sort(order), np.arange(h.getNumCol())):
        return  # PuLP left a column out of HiGHS's model (one in no row and no objective): no start, not a wrong one
    values = start.x if order is None else _reorder(start.x, order)
    sol = highspy.HighsSolution()
    sol.col_value = list(values)
    sol.value_valid = True
    h.setSolution(sol)


def _reorder(x: np.ndarray, order: np.ndarray) -> np.ndarray:
    out = np.zeros(len(x))
    out[order] = x
    return out


def wanted(model, settings) -> bool:
    """Starts are for HiGHS MIPs with site decisions (fixed costs or minimum loads)."""
    return (model.mode == "mip" and settings.name == "highs" and model.y_col is not None
            and {b.family for b in model.blocks} <= {"fleet", "capacity", "minimum", "link", "share", "budget"}
            and not getattr(model, "extra_names", None))


def prepare(model, settings) -> tuple[Start | None, float]:
    """(start or None, seconds left of the time limit for HiGHS's own search)."""
    t0 = time.perf_counter()
    limit = float(settings.time_limit_s)
    start = find_start(model, settings, t0 + START_SHARE * limit)
    return start, max(limit - (time.perf_counter() - t0), 1.0)


def usable(model, start: Start | None) -> bool:
    """Integer x columns need an integral start (HiGHS would reject a fractional one anyway)."""
    if start is None:
        return False
    ints = np.asarray(model.integer, bool)
    return bool(np.allclose(start.x[ints], np.round(start.x[ints]), atol=1e-9))


def started_pulp_highs(start: Start, variables, solver):
    """``solver`` (a pulp.HiGHS) made to hand HiGHS ``start`` after PuLP builds its model.

    PuLP orders HiGHS's columns its own way (``var.index``), so the start is reordered by it.
    """
    build = solver.buildSolverModel

    def build_and_start(lp):
        build(lp)
        order = np.array([v.index for v in variables])
        apply(lp.solverModel, start, order)

    solver.buildSolverModel = build_and_start
    return solver


def tighten(objective: float, gap: float | None, bound: float | None, start: Start) -> tuple[float | None, float | None]:
    """HiGHS's (gap, bound) with the Lagrangian bound where that is tighter (both are proven upper
    bounds of the maximisation); gap = (bound - objective) / max(|objective|, 1e-9), HiGHS's own
    convention, so a plan proven optimal keeps a gap of (about) 0."""
    if not np.isfinite(start.relaxation):
        return gap, bound
    best = start.relaxation if bound is None else min(bound, start.relaxation)
    if bound is not None and best >= bound:
        return gap, bound
    return max(0.0, relative_gap(objective, best)), best
