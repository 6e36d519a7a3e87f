"""The last check before a plan leaves the engine: its invariants, re-derived from the solution alone.

A solver's point is only a plan if it keeps the rules of SPEC section 3. Solvers stopped by a
limit (CBC's LP stopped mid-simplex, a MIP interrupted in preprocessing) can hand back points
that break them while their wrapper says "Optimal"; PuLP also reads some of CBC's time-limit
stops as "Infeasible". ``check`` catches both before anything is written, returned or shown:

- every rig of every fleet row accounted for exactly once (relocated + sold + stored = count);
- nothing negative, nothing infinite or NaN;
- no site over its capacity, none opened below its minimum, none used while closed;
- each jurisdiction within its share of the fleet's hashrate; spending within the budget;
- no rig in an excluded jurisdiction or site; no selling or storing where they are switched off;
- whole rigs (and whole site decisions) where asked;
- the objective the solver reports equals the plan's value recomputed from the point.

The quantities are recomputed from the scenario's tables (power_w, pue, hashrate, capacity),
not read back from the solver's rows, so a bug in building the model is caught as well.
Raises ``SolverFailure`` ("the solver stopped without a plan: ...", CLI exit 4).
"""
from __future__ import annotations

import numpy as np

from optimizer.economics import Economics
from optimizer.inputs.errors import SolverFailure
from optimizer.inputs.names import canon
from optimizer.inputs.scenario import Scenario
from optimizer.model.concentration import charge_usd

# Tolerances: solvers keep rows to about 1e-7 (absolute, scaled); these are looser than that
# and far tighter than anything a user would call "a different plan".
REL_TOL = 1e-6
RIG_TOL = 1e-4  # rigs
MW_TOL = 1e-6  # MW
INT_TOL = 1e-5  # distance from a whole number (HiGHS accepts 1e-6 as integral; results round)
# A CBC run that used at least this share of its time limit may have stopped on it, whatever it says.
LIMIT_SHARE = 0.9


def _within(value: float, limit: float, abs_tol: float) -> bool:
    return value <= limit + abs_tol + REL_TOL * abs(limit)


def violations(scn: Scenario, econ: Economics, model, raw, check_objective: bool = True) -> list[str]:
    """Every rule the solver's point breaks, in words (empty: it is a plan).

    ``model`` gives only the column layout (which column is x[g, s], sell[g], idle[g], y[s]; columns
    after those, such as the risk model's CVaR columns, are not part of the plan).
    ``check_objective``: compare the reported objective with section 3's value of the point (off for
    objectives that are not that value, e.g. the risk-aware plan's mean-CVaR).
    """
    pol = scn.settings.policy
    sites = scn.sites
    out: list[str] = []
    x_all = np.asarray(raw.x, float)
    if x_all.shape != (model.n_cols,):
        return [f"the solver returned {x_all.size} values for {model.n_cols} variables"]
    if not np.isfinite(x_all).all():
        return [f"{int((~np.isfinite(x_all)).sum())} variable(s) are not finite numbers"]
    G, S = econ.n_groups, len(sites)
    gi, si = np.asarray(model.x_group), np.asarray(model.x_site)
    x = x_all[: model.n_x]
    sell = x_all[model.sell_col] if model.sell_col is not None else np.zeros(G)
    idle = x_all[model.idle_col] if model.idle_col is not None else np.zeros(G)
    y = x_all[model.y_col] if model.y_col is not None else None
    origins = np.asarray(econ.origins, dtype=object)[econ.group_origin]
    models = np.asarray(econ.models, dtype=object)[econ.group_model]
    names = sites["site"].to_numpy()

    def group(g: int) -> str:
        return f"{origins[g]} / {models[g]}"

    # Nonnegativity.
    plan_cols = x_all[: model.n_cols - len(model.extra_names)]  # the risk model's eta is free: not a decision
    neg = np.nonzero(plan_cols < -RIG_TOL)[0]
    if len(neg):
        out.append(f"{len(neg)} decision(s) are negative (lowest {plan_cols[neg].min():.6g})")
    # Selling and storing only where allowed (the columns are absent otherwise; a caller may still pass them).
    if not pol.allow_sell and np.any(np.abs(sell) > RIG_TOL):
        out.append("rigs are sold although selling is switched off")
    if not pol.allow_idle and np.any(np.abs(idle) > RIG_TOL):
        out.append("rigs are stored although storing is switched off")
    # Every rig accounted for once per fleet row.
    placed = np.bincount(gi, weights=x, minlength=G) + sell + idle
    count = econ.count.astype(float)
    off = np.abs(placed - count) > RIG_TOL + REL_TOL * count
    for g in np.nonzero(off)[0][:5]:
        out.append(f"fleet row {group(g)}: {placed[g]:,.6g} rigs accounted for, the fleet has {count[g]:,.0f}")
    if off.sum() > 5:
        out.append(f"... and {int(off.sum()) - 5} more fleet rows")
    # Capacity and minimums, in MW recomputed from the tables.
    power_w = scn.rigs["power_w"].to_numpy(float)[econ.group_model]
    pue = sites["pue"].to_numpy(float)
    mw = np.bincount(si, weights=x * power_w[gi] * pue[si] / 1e6, minlength=S)
    cap = sites["capacity_mw"].to_numpy(float)
    min_mw = sites["min_mw"].to_numpy(float)
    if y is not None:
        if np.any((y < -INT_TOL) | (y > 1 + INT_TOL) | (np.abs(y - np.round(y)) > INT_TOL)):
            out.append("a site is neither opened nor closed (its open/close decision is not 0 or 1)")
        opened = np.round(y) > 0
    else:
        opened = np.ones(S, bool)
    limit = np.where(opened, cap, 0.0)  # the checks below, for all sites at once; the loop words the failures
    flagged = ~(mw <= limit + MW_TOL + REL_TOL * np.abs(limit))
    if y is not None:
        flagged |= opened & (min_mw > 0) & ~(min_mw <= mw + MW_TOL + REL_TOL * np.abs(mw))
    for s in np.nonzero(flagged)[0]:
        if not _within(mw[s], cap[s] if opened[s] else 0.0, MW_TOL):
            what = f"capacity {cap[s]:,.6g} MW" if opened[s] else "it is not opened"
            out.append(f"site {names[s]} uses {mw[s]:,.6g} MW but {what}")
        elif y is not None and opened[s] and min_mw[s] > 0 and not _within(min_mw[s], mw[s], MW_TOL):
            out.append(f"site {names[s]} is opened with {mw[s]:,.6g} MW, below its minimum of {min_mw[s]:,.6g} MW")
    # Exclusions (names compared as the loader does: case, spaces and Unicode form do not matter).
    ex_j = {canon(n) for n in pol.exclude_jurisdictions}
    ex_s = {canon(n) for n in getattr(pol, "exclude_sites", ())}
    if ex_j or ex_s:
        excluded = np.array([canon(j) in ex_j or canon(n) in ex_s for j, n in zip(sites["jurisdiction"].tolist(), names)], bool)
    else:
        excluded = np.zeros(S, bool)  # nothing excluded
    if excluded.any():
        sent = np.bincount(si, weights=np.abs(x), minlength=S)
        for s in np.nonzero(excluded & (sent > RIG_TOL))[0][:5]:
            out.append(f"{sent[s]:,.6g} rigs go to site {names[s]}, which is excluded")
    # Jurisdiction caps, in TH/s recomputed from the tables.
    hashrate = scn.rigs["hashrate_ths"].to_numpy(float)[econ.group_model]
    total_ths = float((hashrate * count).sum())
    share = pol.max_jurisdiction_share
    if share < 1:
        typed = sites["jurisdiction"].tolist()
        canon_of = {j: canon(j) for j in set(typed)}  # a few jurisdictions over thousands of sites
        juris = np.array([canon_of[j] for j in typed], dtype=object)
        ths_site = np.bincount(si, weights=x * hashrate[gi], minlength=S)
        for j in sorted(set(juris)):
            got = float(ths_site[juris == j].sum())
            if not _within(got, share * total_ths, 1e-6):
                shown = sites["jurisdiction"][juris == j].iloc[0]
                out.append(f"jurisdiction {shown} gets {got:,.6g} TH/s, above its cap of {share * total_ths:,.6g} TH/s")
    # Budget.
    fixed = sites["fixed_cost_usd"].to_numpy(float)
    fixed_paid = float((fixed * np.round(y)).sum()) if y is not None else 0.0
    if pol.budget_usd is not None:
        spend = float((x * econ.upfront_usd[gi, si]).sum()) + fixed_paid
        if not _within(spend, float(pol.budget_usd), 1e-3):
            out.append(f"upfront spending is ${spend:,.2f}, above the budget of ${pol.budget_usd:,.2f}")
    # Whole rigs.
    if pol.integer_rigs:
        frac = np.abs(np.concatenate([x, sell, idle]) - np.round(np.concatenate([x, sell, idle])))
        if (frac > INT_TOL).any():
            out.append(f"{int((frac > INT_TOL).sum())} decision(s) are not whole rigs although whole rigs are asked for")
    # The objective the solver reports is the value of this point.
    if check_objective and raw.objective is not None and np.isfinite(raw.objective):
        terms = np.concatenate([x * econ.value_usd[gi, si], sell * econ.resale_usd, idle * econ.terminal_usd])
        value = float(terms.sum()) - (float((fixed * y).sum()) if y is not None else 0.0)
        if scn.settings.concentration.breakpoints_share:  # the concentration charge, from the MW by site above
            value -= charge_usd(scn, mw)
        scale = float(np.abs(terms).sum()) + float(np.abs(fixed).sum()) + 1.0
        if abs(value - raw.objective) > 1e-6 * scale + 1e-3:
            out.append(f"the reported value ${raw.objective:,.2f} is not the value of the plan (${value:,.2f})")
    return out


def trivially_feasible(scn: Scenario) -> bool:
    """Whether doing nothing is a plan: selling or storing every rig breaks no rule (no site opened)."""
    pol = scn.settings.policy
    risk = getattr(scn.settings, "risk", None)
    if risk is not None and getattr(risk, "cvar_floor_usd", None) is not None:
        return False  # a CVaR floor can be out of reach of every plan, doing nothing included
    return bool(pol.allow_sell or pol.allow_idle or int(scn.fleet["count"].sum()) == 0)


def check(scn: Scenario, econ: Economics, model, raw, check_objective: bool = True) -> None:
    """Refuse a solver point that is not a plan, and an infeasibility claim that cannot be true.

    Returns None when ``raw`` may be reported: a plan that keeps every rule (status "optimal" or
    "time_limit"), or a credible proof of infeasibility. Raises SolverFailure otherwise.
    """
    limit = scn.settings.solver.time_limit_s
    if raw.status == "infeasible":
        if raw.seconds >= LIMIT_SHARE * limit:
            raise SolverFailure(f"the solver stopped without a plan: it ran into its time limit ({limit:g} s) "
                                "before finding one; raise solver.time_limit_s")
        if trivially_feasible(scn):
            raise SolverFailure(f"the solver stopped without a plan: {raw.solver} reported the scenario infeasible, "
                                "but selling or storing every rig is always a plan here (numerical trouble); "
                                "try the other solver (--solver highs|cbc)")
        return
    broken = violations(scn, econ, model, raw, check_objective)
    if broken:
        when = (f" (it stopped at its time limit, {limit:g} s)" if raw.status == "time_limit"
                or raw.seconds >= LIMIT_SHARE * limit else "")
        raise SolverFailure(f"the solver stopped without a plan{when}: the point it returned breaks the plan's own rules ("
                            + "; ".join(broken[:6]) + "); raise solver.time_limit_s or try the other solver")
