"""The monthly plan's invariant guard: a solver point that breaks SPEC section 8's rules is not a plan.

Every rule is re-derived from the columns and the solution alone (batches accounted for, capacity
and jurisdiction share month by month, budget, whole rigs in MIP mode), independent of the rows.
"""
from __future__ import annotations

import numpy as np

from optimizer import economics
from optimizer.economics import monthly as M
from optimizer.inputs.errors import SolverFailure
from optimizer.inputs.scenario import Scenario
from optimizer.model.monthly import MonthlyModel, expand_runs
from optimizer.solver.raw import RawSolution

RIG_TOL, REL_TOL, MW_TOL, INT_TOL = 1e-4, 1e-6, 1e-6, 1e-5


def violations(scn: Scenario, econ: economics.Economics, model: MonthlyModel, raw: RawSolution,
               remaining: np.ndarray | None = None) -> list[str]:
    """Every rule of section 8 the solver's point breaks, recomputed from the tables (empty: a plan)."""
    out: list[str] = []
    cols, H = model.cols, model.H
    x_all = np.asarray(raw.x, float)
    if x_all.shape != (model.n_cols,) or not np.isfinite(x_all).all():
        return ["the solution has missing, infinite or NaN values"]
    x = x_all[: cols.n]
    G, S = econ.n_groups, len(econ.sites)
    if (x < -RIG_TOL).any():
        out.append(f"{int((x < -RIG_TOL).sum())} decision(s) are negative")
    remaining = econ.count.astype(float) if remaining is None else np.asarray(remaining, float)
    at_origin = np.isin(cols.kind, (M.SHIP, M.SELL, M.KEEP))
    placed = np.bincount(cols.g[at_origin], weights=x[at_origin], minlength=G)
    off = np.abs(placed - remaining) > RIG_TOL + REL_TOL * remaining
    for g in np.nonzero(off)[0][:5]:
        out.append(f"batch {model.group_keys[g]}: {placed[g]:.6g} rigs accounted for, {remaining[g]:.6g} at the origin")
    if cols.standing:
        q = np.array([h.rigs for h in cols.standing])
        m = cols.unit >= 0
        got = np.bincount(cols.unit[m], weights=x[m], minlength=len(q))
        if (np.abs(got - q) > RIG_TOL + REL_TOL * q).any():
            out.append("rigs standing at a site are not all accounted for")
    if not scn.settings.policy.allow_sell and (x[(cols.kind == M.SELL) | (cols.until < H) & (cols.until >= 0)] > RIG_TOL).any():
        out.append("rigs are sold although selling is switched off")
    # capacity by site and month, MW from rigs.csv and sites.csv
    power_w = scn.rigs["power_w"].to_numpy(float)[econ.group_model]
    pue = scn.sites["pue"].to_numpy(float)
    rc, rs, rt = expand_runs(cols)
    mw = np.zeros((S, H))
    np.add.at(mw, (rs, rt), x[rc] * power_w[cols.g[rc]] * pue[rs] / 1e6)
    cap = scn.sites["capacity_mw"].to_numpy(float)
    if model.y_col is not None:
        y = x_all[model.y_col]
        if np.any(np.abs(y - np.round(y)) > INT_TOL):
            out.append("a site is neither opened nor closed")
        cap = np.where(np.round(y) > 0, cap, 0.0)
    over = mw > cap[:, None] + MW_TOL + REL_TOL * cap[:, None]
    for s, t in list(zip(*np.nonzero(over)))[:5]:
        out.append(f"site {econ.sites[s]} runs {mw[s, t]:.6g} MW in month {t}, capacity {cap[s]:.6g} MW")
    share = scn.settings.policy.max_jurisdiction_share
    if share < 1:
        ths = scn.rigs["hashrate_ths"].to_numpy(float)[econ.group_model]
        juris = scn.sites["jurisdiction"].to_numpy()
        jn, sj = np.unique(juris, return_inverse=True)
        per = np.zeros((len(jn), H))
        np.add.at(per, (sj[rs], rt), x[rc] * ths[cols.g[rc]])
        limit = share * float((ths * econ.count).sum())
        if (per > limit * (1 + REL_TOL) + 1e-6).any():
            j, t = np.argwhere(per > limit * (1 + REL_TOL) + 1e-6)[0]
            out.append(f"jurisdiction {jn[j]} holds {per[j, t]:.6g} TH/s in month {t}, over its cap of {limit:.6g}")
    budget = scn.settings.policy.budget_usd
    if budget is not None:
        b = model.block("budget")
        spend = float(cols.upfront_usd @ x)
        if model.y_col is not None:
            spend += float(b.matrix.tocsr()[0, model.y_col].toarray().ravel() @ x_all[model.y_col])
        if spend > float(b.upper[0]) * (1 + REL_TOL) + 1e-3:
            out.append(f"upfront spending {spend:,.2f} USD is over the budget {float(b.upper[0]):,.2f} USD")
    if scn.settings.policy.integer_rigs and np.any(np.abs(x - np.round(x)) > INT_TOL):
        out.append("a decision is not a whole number of rigs")
    value = float(model.cost @ x_all)
    if np.isfinite(raw.objective) and abs(value - raw.objective) > 1e-6 * (1 + abs(value)) + 1e-3:
        out.append(f"the solver reports {raw.objective:,.2f} USD but the plan is worth {value:,.2f} USD")
    return out


def check(scn, econ, model, raw, remaining=None) -> None:
    """SolverFailure when the point is not a plan of section 8 (infeasible claims pass through)."""
    if raw.status == "infeasible":
        return
    found = violations(scn, econ, model, raw, remaining)
    if found:
        raise SolverFailure("the solver stopped without a plan: " + "; ".join(found))


# ---------------------------------------------------------------------------- state (re-planning)
