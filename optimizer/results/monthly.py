"""The monthly plan's tables: section 4's files summed over months, plus ``schedule`` and ``monthly``
(SPEC section 8), with the capacity shadow prices of each site and month read by label (LP mode)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from optimizer import economics
from optimizer.economics import monthly as M
from optimizer.inputs.scenario import Scenario
from optimizer.inputs.scenario import allowed_sites
from optimizer.model.monthly import MonthlyModel, expand_runs
from optimizer.results import ALLOCATION_COLUMNS, JURIS_COLUMNS, SITES_COLUMNS, Result
from optimizer.solver.raw import RawSolution

SCHEDULE_COLUMNS = ["action", "origin", "model", "site", "month", "until_month", "rigs", "mw", "value_usd"]
MONTHLY_COLUMNS = ["month", "site", "jurisdiction", "mw_running", "rigs_running", "capacity_mw", "shadow_usd_per_mw"]


def _clean(v: np.ndarray, integer: bool) -> np.ndarray:
    v = np.where(np.abs(v) < 1e-9, 0.0, v)
    return np.round(v) if integer else v


def monthly_duals(model: MonthlyModel, raw: RawSolution, S: int) -> np.ndarray | None:
    """(S, H) capacity duals, USD per MW of that site in that month (0 where no row), or None (MIP)."""
    if raw.row_dual is None:
        return None
    out = np.zeros((S, model.H))
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
