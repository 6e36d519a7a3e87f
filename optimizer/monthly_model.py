"""The monthly plan of SPEC section 8 as labelled rows and columns, solved like section 3's model.

``build`` turns ``monthly.plan_columns`` into a ``MonthlyModel`` (a ``model.LinearModel``: the same
PuLP and HiGHS paths, ``solvers.solve_model``, solve it). Families:

Columns (maximise the sum of value x; USD per rig, discounted to month 0):
- ``ship[origin,model,site,tau,until]``: dispatched at the start of month tau, sold at the site at
  the start of month ``until`` (H: kept to the horizon)
- ``sell[origin,model,tau]``: sold at the origin; ``keep[origin,model]``: kept at the origin
- ``stay[origin,model,site,since,until]``, ``move[origin,model,site,since,to_site,tau,until]``:
  re-planning only, rigs standing at ``site`` since dispatch month ``since`` (state.csv)
- ``y[site]`` (MIP mode): the site is opened (cost: fixed_cost_usd)

Rows:
- ``batch[origin,model]``: ship + sell + keep = rigs of the batch still at the origin
- ``standing[origin,model,site,since]``: stay + move = rigs standing there (re-planning)
- ``capacity[site,month]``: MW of the decisions running there in that month <= capacity_mw (* y)
- ``share[jurisdiction,month]``: their TH/s <= max_jurisdiction_share * the fleet's TH/s (share < 1)
- ``budget``: undiscounted freight + duty of ship and move, + fixed costs <= budget_usd (less what
  state.csv's shipments spent)
- ``link[origin,model,site]`` (MIP mode): rigs of a batch placed at a site <= batch * y[site]

``solve(scn)`` is ``optimizer.solve`` for ``monthly.enabled = true``: economics, build, solve,
canonical tie-break (LP), guard, then section 4's tables summed over months plus ``schedule`` and
``monthly`` (SPEC section 8's files).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import canonical, economics, monthly as M
from .errors import InfeasibleError, SolverFailure
from .model import INF, LinearModel, RowBlock, allowed_sites, label
from .results import ALLOCATION_COLUMNS, JURIS_COLUMNS, SITES_COLUMNS, Result
from .scenario import Scenario
from .solvers import RawSolution, solve_model

SCHEDULE_COLUMNS = ["action", "origin", "model", "site", "month", "until_month", "rigs", "mw", "value_usd"]
MONTHLY_COLUMNS = ["month", "site", "jurisdiction", "mw_running", "rigs_running", "capacity_mw", "shadow_usd_per_mw"]
RIG_TOL, REL_TOL, MW_TOL, INT_TOL = 1e-4, 1e-6, 1e-6, 1e-5


@dataclass
class MonthlyModel(LinearModel):
    """A LinearModel whose columns are ``monthly.Columns`` (first the ship columns, ``n_x`` of them)
    followed by y[site] in MIP mode. ``x_group``/``x_site`` describe the ship columns."""

    cols: M.Columns | None = None
    H: int = 0
    fixed_usd: float = 0.0  # constant: fixed costs of sites already open (re-planning), not in the objective

    def column_labels(self) -> list[str]:
        c, keys, sites = self.cols, self.group_keys, self.site_names
        out = []
        for k, g, u, s, fs, tau, until in zip(c.kind, c.g, c.unit, c.site, c.from_site, c.tau, c.until):
            o, m = keys[g]
            if k == M.SHIP:
                out.append(label("ship", o, m, sites[s], tau, until))
            elif k == M.SELL:
                out.append(label("sell", o, m, tau))
            elif k == M.KEEP:
                out.append(label("keep", o, m))
            elif k == M.STAY:
                out.append(label("stay", o, m, sites[s], _since(c.standing[u]), until))
            else:
                out.append(label("move", o, m, sites[fs], _since(c.standing[u]), sites[s], tau, until))
        if self.y_col is not None:
            out += [label("y", s) for s in sites]
        return out

    # --- the canonical tie-break's names and weights (optimizer/canonical.py) ---
    def canonical_keys(self, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(h in [1, 2), batch name, second name) of columns: as canonical.column_keys, with the
        decision's own label (site, months) as the second name."""
        names = self.column_labels()
        batch, second = [], []
        n = self.cols.n
        for j in np.asarray(cols, np.int64):
            if j < n:
                o, m = self.group_keys[self.cols.g[j]]
                batch.append(f"{o}\x1f{m}")
            else:
                batch.append("")
            second.append(names[j])
        batch_a, second_a = np.array(batch, dtype=object), np.array(second, dtype=object)
        bu, bi = np.unique(batch_a.astype(str), return_inverse=True)
        su, si = np.unique(second_a.astype(str), return_inverse=True)
        mix = canonical._mix(canonical._digest64(bu)[bi], canonical._digest64(su)[si])
        h = 1.0 + (mix >> np.uint64(11)).astype(float) / 2.0 ** 53
        return h, batch_a.astype(str), second_a.astype(str)

    def canonical_mw(self) -> np.ndarray:
        """(n_cols,) MW per unit: a placement's MW per rig at its site, a sale's or keep's the batch's
        MW per rig averaged over every site, 1 for y."""
        c = self.cols
        mw = np.ones(self.n_cols)
        gm = self.group_mw if self.group_mw is not None else np.full(len(self.group_keys), 1e-3)
        mw[: c.n] = gm[c.g]
        placed = c.site >= 0
        mw[: c.n][placed] = self.mw_per_rig[c.g[placed], c.site[placed]]
        return np.maximum(mw, 1e-12)

    mw_per_rig: np.ndarray | None = None
    share_juris: np.ndarray | None = None  # jurisdiction of each share[J,t] row


def _since(h: M.Standing) -> str:
    return f"{h.since}" + (f" {h.tag}" if h.tag else "")


def _coo(rows, cols, vals, n_rows, n_cols) -> sp.coo_matrix:
    return sp.coo_matrix((np.asarray(vals, float), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))),
                         shape=(n_rows, n_cols))


def expand_runs(cols: M.Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(column, site, month) for every month of every running interval."""
    lengths = np.maximum(cols.run_to - cols.run_from, 0)
    rep = np.repeat(np.arange(len(lengths)), lengths)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else np.zeros(0, int)
    months = cols.run_from[rep] + (np.arange(len(rep)) - offsets[rep])
    return cols.run_col[rep], cols.run_site[rep], months


def model_mode(scn: Scenario) -> str:
    s = scn.sites
    return "mip" if ((s["fixed_cost_usd"] > 0).any() or scn.settings.policy.integer_rigs) else "lp"


def build(scn: Scenario, econ: economics.Economics, cols: M.Columns, remaining: np.ndarray | None = None,
          spent_usd: float = 0.0, open_sites: np.ndarray | None = None) -> MonthlyModel:
    """The labelled model of ``cols``. ``remaining`` (G,) rigs at each origin (default: the fleet);
    ``spent_usd`` already spent (counts against the budget); ``open_sites`` (S,) bool: sites already
    opened (re-planning: y fixed at 1, their fixed cost sunk)."""
    st = scn.settings
    pol, H = st.policy, st.horizon.months
    mode = model_mode(scn)
    G, S, n = econ.n_groups, len(econ.sites), cols.n
    remaining = econ.count.astype(float) if remaining is None else np.asarray(remaining, float)
    site_ok = allowed_sites(scn)
    fixed = scn.sites["fixed_cost_usd"].to_numpy(float)
    open_sites = np.zeros(S, bool) if open_sites is None else np.asarray(open_sites, bool)
    cost = [cols.value_usd]
    next_col = n
    y_col = None
    if mode == "mip":
        y_col = np.arange(n, n + S)
        next_col += S
        cost.append(np.where(open_sites, 0.0, -fixed))
    cost_v = np.concatenate(cost)
    lower, upper = np.zeros(next_col), np.full(next_col, INF)
    integer = np.zeros(next_col, bool)
    if y_col is not None:
        upper[y_col] = np.where(site_ok | open_sites, 1.0, 0.0)
        lower[y_col] = open_sites.astype(float)
        integer[y_col] = True
    if pol.integer_rigs:
        integer[:n] = True
    ship = cols.kind == M.SHIP
    n_x = int(ship.sum())
    assert ship[:n_x].all(), "ship columns come first"
    keys = [(econ.origins[o], econ.models[m]) for o, m in zip(econ.group_origin, econ.group_model)]
    group_mw = econ.mw_per_rig.mean(axis=1) if S else np.full(G, 1e-3)
    model = MonthlyModel("mip" if mode == "mip" else "lp", n_x, cols.g[:n_x], cols.site[:n_x], None, None, y_col,
                         cost_v, lower, upper, integer, group_keys=keys, site_names=list(econ.sites),
                         group_mw=group_mw, cols=cols, H=H,
                         fixed_usd=float((fixed * open_sites).sum()) if mode == "mip" else 0.0,
                         mw_per_rig=econ.mw_per_rig)
    # batch[g]
    at_origin = np.isin(cols.kind, (M.SHIP, M.SELL, M.KEEP))
    j = np.nonzero(at_origin)[0]
    model.add(RowBlock("batch", [label("batch", *k) for k in keys], _coo(cols.g[j], j, np.ones(len(j)), G, next_col),
                       remaining.copy(), remaining.copy()))
    # standing[unit]
    if cols.standing:
        U = len(cols.standing)
        j = np.nonzero(cols.unit >= 0)[0]
        q = np.array([h.rigs for h in cols.standing], float)
        names = [label("standing", *keys[h.g], econ.sites[h.site], _since(h)) for h in cols.standing]
        model.add(RowBlock("standing", names, _coo(cols.unit[j], j, np.ones(len(j)), U, next_col), q, q.copy()))
    # capacity[s,t]
    rc, rs, rt = expand_runs(cols)
    cap = scn.sites["capacity_mw"].to_numpy(float)
    if len(rc):
        cell = rs * H + rt
        present, row = np.unique(cell, return_inverse=True)
        ps, pt = present // H, present % H
        vals = econ.mw_per_rig[cols.g[rc], rs]
        r, c, v = [row], [rc], [vals]
        if y_col is not None:
            r.append(np.arange(len(present)))
            c.append(y_col[ps])
            v.append(-cap[ps])
            up = np.zeros(len(present))
        else:
            up = cap[ps].copy()
        model.add(RowBlock("capacity", [label("capacity", econ.sites[s], t) for s, t in zip(ps, pt)],
                           _coo(np.concatenate(r), np.concatenate(c), np.concatenate(v), len(present), next_col),
                           np.full(len(present), -INF), up))
        # share[J,t]
        share = pol.max_jurisdiction_share
        if share < 1:
            juris = scn.sites["jurisdiction"].to_numpy()
            jn, sj = np.unique(juris, return_inverse=True)
            cell = sj[rs] * H + rt
            jp, jrow = np.unique(cell, return_inverse=True)
            total_ths = float((econ.hashrate_ths * econ.count).sum())
            model.share_juris = jn[jp // H]
            model.add(RowBlock("share", [label("share", jn[q // H], q % H) for q in jp],
                               _coo(jrow, rc, econ.hashrate_ths[cols.g[rc]], len(jp), next_col),
                               np.full(len(jp), -INF), np.full(len(jp), share * total_ths)))
    # budget
    if pol.budget_usd is not None:
        c = [np.arange(n)]
        v = [cols.upfront_usd]
        if y_col is not None:
            c.append(y_col)
            v.append(np.where(open_sites, 0.0, fixed))
        cc, vv = np.concatenate(c), np.concatenate(v)
        keep = vv != 0
        model.add(RowBlock("budget", ["budget"], _coo(np.zeros(int(keep.sum()), int), cc[keep], vv[keep], 1, next_col),
                           np.array([-INF]), np.array([float(pol.budget_usd) - spent_usd])))
    # link[g,s] (MIP): rigs of a batch running at a site <= count * y (implied by capacity[s,t] for whole y; a
    # tighter relaxation). Decisions that never run at the site (still in transit at the horizon) need no y.
    if y_col is not None and len(rc):
        pairs = np.unique(np.stack([rc, rs], axis=1), axis=0)
        placed, psite = pairs[:, 0], pairs[:, 1]
        pair = cols.g[placed] * S + psite
        pu, prow = np.unique(pair, return_inverse=True)
        pg, ps = pu // S, pu % S
        bound = econ.count.astype(float)[pg]
        r = np.concatenate([prow, np.arange(len(pu))])
        c = np.concatenate([placed, y_col[ps]])
        v = np.concatenate([np.ones(len(placed)), -bound])
        model.add(RowBlock("link", [label("link", *keys[g], econ.sites[s]) for g, s in zip(pg, ps)],
                           _coo(r, c, v, len(pu), next_col), np.full(len(pu), -INF), np.zeros(len(pu))))
    return model


# ---------------------------------------------------------------------------- guard


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


def from_state(scn: Scenario, econ: economics.Economics) -> tuple[np.ndarray, list[M.Standing], float, np.ndarray]:
    """state.csv as (rigs at each origin (G,), rigs standing at sites, upfront already spent (USD,
    undiscounted), sites already opened (S,) bool). Sales at a site take the earliest shipments first."""
    G, S = econ.n_groups, len(econ.sites)
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
    from .engine import check_finite

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


def _clean(v: np.ndarray, integer: bool) -> np.ndarray:
    v = np.where(np.abs(v) < 1e-9, 0.0, v)
    return np.round(v) if integer else v


def monthly_duals(model: MonthlyModel, raw: RawSolution, S: int) -> np.ndarray | None:
    """(S, H) capacity duals, USD per MW of that site in that month (0 where no row), or None (MIP)."""
    if raw.row_dual is None:
        return None
    out = np.zeros((S, model.H))
    site_of = {n: i for i, n in enumerate(model.site_names)}
    block = model.block("capacity")
    if block is None:
        return out
    y = np.asarray(raw.row_dual, float)[block.start: block.start + len(block.labels)]
    rc, rs, rt = expand_runs(model.cols)
    cell = np.unique(rs * model.H + rt)
    out[cell // model.H, cell % model.H] = np.maximum(y, 0.0)
    return out


def assemble(scn: Scenario, econ: economics.Economics, model: MonthlyModel, raw: RawSolution) -> Result:
    """Section 4's tables summed over months, plus ``schedule`` and ``monthly`` (SPEC section 8)."""
    st = scn.settings
    H, pol = st.horizon.months, st.policy
    cols = model.cols
    G, S = econ.n_groups, len(econ.sites)
    x = _clean(np.asarray(raw.x, float)[: cols.n], pol.integer_rigs)
    origins = np.asarray(econ.origins, dtype=object)[econ.group_origin]
    models = np.asarray(econ.models, dtype=object)[econ.group_model]
    site_names = np.asarray(econ.sites, dtype=object)
    juris = scn.sites["jurisdiction"].to_numpy()
    used = np.nonzero(x > 0)[0]
    # ---- schedule.csv
    rows: list[dict[str, Any]] = []
    for j in used:
        k, g, s, r = cols.kind[j], cols.g[j], cols.site[j], x[j]
        mw = r * econ.mw_per_rig[g, s] if s >= 0 else 0.0
        base = {"origin": origins[g], "model": models[g], "rigs": r}
        until = int(cols.until[j])
        if k == M.SHIP or k == M.MOVE:
            action = "ship" if k == M.SHIP else "move"
            rows.append(base | {"action": action, "site": site_names[s], "month": int(cols.tau[j]), "until_month": until,
                                "mw": mw, "value_usd": r * (cols.value_usd[j] - (cols.sale_usd[j] if until < H else 0.0))})
        elif k == M.STAY:
            rows.append(base | {"action": "stay", "site": site_names[s], "month": int(cols.standing[cols.unit[j]].since),
                                "until_month": until, "mw": mw,
                                "value_usd": r * (cols.value_usd[j] - (cols.sale_usd[j] if until < H else 0.0))})
        elif k == M.SELL:
            rows.append(base | {"action": "sell", "site": "", "month": int(cols.tau[j]), "until_month": np.nan, "mw": 0.0,
                                "value_usd": r * cols.value_usd[j]})
        else:
            rows.append(base | {"action": "keep", "site": "", "month": np.nan, "until_month": H, "mw": 0.0,
                                "value_usd": r * cols.value_usd[j]})
        if k in (M.SHIP, M.MOVE, M.STAY) and until < H:
            rows.append(base | {"action": "sell_at_site", "site": site_names[s], "month": until, "until_month": np.nan,
                                "mw": mw, "value_usd": r * cols.sale_usd[j]})
    order = {"ship": 0, "move": 1, "stay": 2, "sell_at_site": 3, "sell": 4, "keep": 5}
    schedule = pd.DataFrame(rows, columns=SCHEDULE_COLUMNS)
    if len(schedule):
        schedule["_o"] = schedule["action"].map(order)
        schedule = (schedule.sort_values(["month", "_o", "site", "origin", "model"], na_position="last", kind="stable")
                    .drop(columns="_o").reset_index(drop=True))
    for c in ("month", "until_month"):
        schedule[c] = schedule[c].astype("Int64")
    # ---- monthly.csv
    rc, rs, rt = expand_runs(cols)
    mw_st = np.zeros((S, H))
    rigs_st = np.zeros((S, H))
    ths_st = np.zeros((S, H))
    np.add.at(mw_st, (rs, rt), x[rc] * econ.mw_per_rig[cols.g[rc], rs])
    np.add.at(rigs_st, (rs, rt), x[rc])
    np.add.at(ths_st, (rs, rt), x[rc] * econ.hashrate_ths[cols.g[rc]])
    duals = monthly_duals(model, raw, S)
    cap = scn.sites["capacity_mw"].to_numpy(float)
    tt, ss = np.meshgrid(np.arange(H), np.arange(S), indexing="ij")
    monthly = pd.DataFrame({
        "month": tt.ravel(), "site": site_names[ss.ravel()], "jurisdiction": juris[ss.ravel()],
        "mw_running": mw_st.T.ravel(), "rigs_running": rigs_st.T.ravel(), "capacity_mw": cap[ss.ravel()],
        "shadow_usd_per_mw": duals.T.ravel() if duals is not None else np.nan,
    })[MONTHLY_COLUMNS]
    # ---- allocation.csv (section 4): each batch's decisions summed over months
    kinds = cols.kind[used]
    alloc = []
    place = used[np.isin(kinds, (M.SHIP, M.MOVE, M.STAY))]
    if len(place):
        df = pd.DataFrame({"g": cols.g[place], "s": cols.site[place], "rigs": x[place],
                           "value_usd": x[place] * cols.value_usd[place]})
        agg = df.groupby(["g", "s"], sort=False).sum().reset_index()
        alloc.append(pd.DataFrame({
            "action": "relocate", "origin": origins[agg["g"]], "model": models[agg["g"]],
            "site": site_names[agg["s"]], "jurisdiction": juris[agg["s"]], "rigs": agg["rigs"].to_numpy(),
            "mw": agg["rigs"].to_numpy() * econ.mw_per_rig[agg["g"], agg["s"]],
            "hashrate_ths": agg["rigs"].to_numpy() * econ.hashrate_ths[agg["g"]], "value_usd": agg["value_usd"].to_numpy()}))
    for kind, action in ((M.SELL, "sell"), (M.KEEP, "idle")):
        j = used[kinds == kind]
        if len(j):
            r = np.bincount(cols.g[j], weights=x[j], minlength=G)
            v = np.bincount(cols.g[j], weights=x[j] * cols.value_usd[j], minlength=G)
            k = r > 0
            alloc.append(pd.DataFrame({"action": action, "origin": origins[k], "model": models[k], "site": "",
                                       "jurisdiction": "", "rigs": r[k], "mw": 0.0,
                                       "hashrate_ths": r[k] * econ.hashrate_ths[k], "value_usd": v[k]}))
    allocation = (pd.concat(alloc, ignore_index=True) if alloc else pd.DataFrame(columns=ALLOCATION_COLUMNS))
    allocation = allocation[ALLOCATION_COLUMNS]
    if len(allocation):
        allocation = allocation.sort_values(["action", "site", "origin", "model"], kind="stable",
                                            key=lambda c: c.map({"relocate": 0, "sell": 1, "idle": 2}) if c.name == "action" else c
                                            ).reset_index(drop=True)
    # ---- sites.csv: peak MW over months; shadow = the sum over months of capacity[site,month]'s dual
    peak = mw_st.max(axis=1) if H else np.zeros(S)
    if model.y_col is not None:
        opened = (np.round(np.asarray(raw.x)[model.y_col]) > 0).astype(int)
    else:
        opened = (peak > 0).astype(int)
    rig_peak = rigs_st.max(axis=1)
    ths_peak = ths_st.max(axis=1)
    sites = pd.DataFrame({
        "site": site_names, "jurisdiction": juris, "capacity_mw": cap, "mw_used": peak,
        "utilization": np.divide(peak, cap, out=np.zeros(S), where=cap > 0), "opened": opened,
        "shadow_usd_per_mw": duals.sum(axis=1) if duals is not None else np.nan, "entry_power_usd_kwh": np.nan,
        "rigs": rig_peak, "hashrate_ths": ths_peak, "excluded": ~allowed_sites(scn),
    })[SITES_COLUMNS]
    total_ths = float((econ.hashrate_ths * econ.count).sum())
    names, j_of = np.unique(juris.astype(str), return_inverse=True)
    per_j = lambda w: np.bincount(j_of, weights=w, minlength=len(names))  # noqa: E731
    jt = pd.DataFrame({"jurisdiction": names, "sites": np.bincount(j_of, minlength=len(names)), "capacity_mw": per_j(cap),
                       "mw_used": per_j(peak), "rigs": per_j(rig_peak), "hashrate_ths": per_j(ths_peak)})
    jt["share_of_fleet_hashrate"] = jt["hashrate_ths"] / total_ths if total_ths > 0 else 0.0
    share = pol.max_jurisdiction_share
    jt["cap_ths"] = share * total_ths if share < 1 else np.nan
    jt["shadow_usd_per_ths"] = np.nan
    if raw.row_dual is not None and model.block("share") is not None:
        b = model.block("share")
        yv = np.maximum(np.asarray(raw.row_dual)[b.start: b.start + len(b.labels)], 0.0)
        by_j = pd.Series(yv).groupby(np.asarray(model.share_juris, dtype=str)).sum()  # summed over months
        jt["shadow_usd_per_ths"] = [float(by_j.get(j, 0.0)) + 0.0 for j in jt["jurisdiction"]]
    elif raw.row_dual is not None:
        jt["shadow_usd_per_ths"] = 0.0
    jt["excluded"] = jt["jurisdiction"].isin(set(pol.exclude_jurisdictions))
    jt = jt[JURIS_COLUMNS]
    fixed = scn.sites["fixed_cost_usd"].to_numpy(float)
    fixed_paid = float((fixed * opened).sum()) - model.fixed_usd if model.y_col is not None else 0.0
    upfront = float(x @ cols.upfront_usd) + fixed_paid
    sell_all = float((econ.resale_usd * econ.count).sum())
    at = lambda kind: float(x[cols.kind == kind].sum())  # noqa: E731
    budget_dual = None
    if raw.row_dual is not None and model.block("budget") is not None:
        budget_dual = max(float(np.asarray(raw.row_dual)[model.block("budget").start]), 0.0)
    summary: dict[str, Any] = {
        "status": raw.status, "mode": model.mode, "plan": "monthly", "objective_usd": raw.objective,
        "rigs_relocated": at(M.SHIP), "rigs_sold": at(M.SELL), "rigs_idle": at(M.KEEP),
        "rigs_sold_at_sites": float(x[(cols.until < H) & (cols.until >= 0)].sum()),
        "rigs_moved": at(M.MOVE),
        "hashprice_usd_th_day": econ.hp0, "solver": raw.solver, "solve_seconds": raw.seconds, "backend": raw.backend,
        "mip_gap": raw.mip_gap, "best_bound_usd": raw.best_bound, "n_variables": model.n_cols,
        "n_constraints": model.n_rows, "rigs_total": float(econ.count.sum()), "fleet_hashrate_ths": total_ths,
        "upfront_usd": upfront, "fixed_costs_usd": fixed_paid, "sell_all_usd": sell_all,
        "objective_vs_sell_all_usd": raw.objective - sell_all, "budget_shadow_usd_per_usd": budget_dual,
        "horizon_months": H, "replan_month": st.monthly.replan_month, "canonical": raw.canonical,
        "dispatch_months": [int(t) for t in M.plan_months(scn)[0]], "sell_months": [int(t) for t in M.plan_months(scn)[1]],
    }
    return Result(summary, allocation, sites, jt, schedule=schedule, monthly=monthly)
