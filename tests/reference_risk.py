"""An independent statement of SPEC section 7, for tests only: per-sample values V_k written
from the formulas with scalar Python loops, and the risk-aware plan as a dense matrix for
scipy.optimize.milp. Shares no code with `optimizer/` (scenarios are tests/scenario_builder dicts).

A sample set here is a list of dicts: {"weight": w, "bans": {jurisdiction: ban_month},
"factor": {month: factor}, optionally "ends": {jurisdiction: end_month}} (missing entries: no ban,
factor 1, the stop lasts to the horizon); weights sum to 1.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from tests.reference_model import D, haversine


def sample_values(sc: dict, sample: dict) -> dict:
    """V_k[(m, o, s)] for one sample: sum_t d_t a_t B_t margin_t(hp_t * factor_t) + terminal - upfront."""
    mk, hz, lg, pol = sc["market"], sc["horizon"], sc["logistics"], sc["policy"]
    if mk.get("hashprice_usd_th_day") is not None:
        hp0 = mk["hashprice_usd_th_day"]
    else:
        hp0 = 144 * mk["block_subsidy_btc"] * (1 + mk["fee_share"]) * mk["btc_price_usd"] / (mk["network_hashrate_ehs"] * 1e6)
    H = hz["months"]
    lanes = {(l["origin"], l["site"]): l for l in sc["lanes"]}
    out = {}
    for f in sc["fleet"]:
        m, o = f["model"], f["origin"]
        rig = next(r for r in sc["rigs"] if r["model"] == m)
        org = next(x for x in sc["origins"] if x["origin"] == o)
        terminal = hz["salvage_fraction"] * rig["resale_usd"] * (1 + hz["discount_rate"]) ** (-H / 12)
        for s in sc["sites"]:
            dist = haversine(org["lat"], org["lon"], s["lat"], s["lon"])
            lane = lanes.get((o, s["site"]))
            ship = lane["ship_usd_per_rig"] if lane else lg["ship_base_usd"] + lg["ship_usd_per_1000km"] * dist / 1000
            lead = lane["lead_days"] if lane else lg["lead_base_days"] + lg["lead_days_per_1000km"] * dist / 1000
            ban = sample["bans"].get(s["jurisdiction"], H)
            end = sample.get("ends", {}).get(s["jurisdiction"], H)  # SPEC 8/9: mining resumes at end
            ops = 0.0
            for t in range(H):
                if ban <= t < end:
                    continue
                hp = hp0 * (1 + mk["hashprice_monthly_change"]) ** t * sample["factor"].get(t, 1.0)
                a = min(1.0, max(0.0, (D * (t + 1) - lead) / D))
                disc = (1 + hz["discount_rate"]) ** (-(t + 0.5) / 12)
                rev = rig["hashrate_ths"] * hp * D * s["uptime"]
                pw = rig["power_w"] / 1000 * s["pue"] * 24 * D * s["uptime"] * s["power_usd_kwh"] * pol["power_price_multiplier"]
                fee = rig["power_w"] / 1000 * s["pue"] * 24 * D * s["uptime"] * s.get("mgmt_fee_usd_kwh", 0.0)
                host = rig["power_w"] / 1000 * s["hosting_usd_kw_month"]
                ops += disc * a * (max(0.0, rev - pw - fee) - host)
            out[(m, o, s["site"])] = ops + terminal - ship - s["import_duty"] * rig["resale_usd"]
    return out


def risk_optimum(sc: dict, samples: list[dict], alpha: float, beta: float, floor: float | None) -> float | None:
    """max (1 - beta) sum_k w_k NPV_k + beta (eta - 1/alpha sum_k w_k u_k) s.t. section 3; None if infeasible."""
    pol, hz = sc["policy"], sc["horizon"]
    sites = sc["sites"]
    rigs = {r["model"]: r for r in sc["rigs"]}
    fleet = [f for f in sc["fleet"] if f["count"] > 0]
    excluded = set(pol["exclude_jurisdictions"])
    mip = any(s["fixed_cost_usd"] > 0 or s["min_mw"] > 0 for s in sites) or pol["integer_rigs"]
    values = [sample_values(sc, smp) for smp in samples]
    K = len(samples)
    w = np.array([smp["weight"] for smp in samples])
    cols, outcome, integ = [], [], []  # outcome: per column, its (K,) contribution to NPV_k
    for gi, f in enumerate(fleet):
        rig = rigs[f["model"]]
        terminal = hz["salvage_fraction"] * rig["resale_usd"] * (1 + hz["discount_rate"]) ** (-hz["months"] / 12)
        for si, s in enumerate(sites):
            if s["jurisdiction"] in excluded:
                continue
            cols.append(("x", gi, si))
            outcome.append([v[(f["model"], f["origin"], s["site"])] for v in values])
            integ.append(pol["integer_rigs"])
        if pol["allow_sell"]:
            cols.append(("sell", gi, None)); outcome.append([rig["resale_usd"]] * K); integ.append(pol["integer_rigs"])
        if pol["allow_idle"]:
            cols.append(("idle", gi, None)); outcome.append([terminal] * K); integ.append(pol["integer_rigs"])
    for si, s in enumerate(sites):
        cols.append(("y", None, si)); outcome.append([-s["fixed_cost_usd"]] * K); integ.append(mip)
    n_plan = len(cols)
    N = np.array(outcome).T  # (K, n_plan)
    n = n_plan + 1 + K  # + eta + u
    cost = np.concatenate([(1 - beta) * (w @ N), [beta], -beta * w / alpha])
    A, lo, hi = [], [], []

    def row():
        return np.zeros(n)

    for gi, f in enumerate(fleet):
        r = row()
        for j, (k, g, _) in enumerate(cols):
            if k in ("x", "sell", "idle") and g == gi:
                r[j] = 1
        A.append(r); lo.append(f["count"]); hi.append(f["count"])
    for si, s in enumerate(sites):
        cap, mn = row(), row()
        for j, (k, g, sj) in enumerate(cols):
            if k == "x" and sj == si:
                mw = rigs[fleet[g]["model"]]["power_w"] * s["pue"] / 1e6
                cap[j] = mw; mn[j] = mw
            if k == "y" and sj == si:
                cap[j] = -s["capacity_mw"]; mn[j] = -s["min_mw"]
        A.append(cap); lo.append(-np.inf); hi.append(0.0)
        A.append(mn); lo.append(0.0); hi.append(np.inf)
    share = pol["max_jurisdiction_share"]
    if share < 1:
        total = sum(rigs[f["model"]]["hashrate_ths"] * f["count"] for f in fleet)
        for J in sorted({s["jurisdiction"] for s in sites}):
            r = row()
            for j, (k, g, sj) in enumerate(cols):
                if k == "x" and sites[sj]["jurisdiction"] == J:
                    r[j] = rigs[fleet[g]["model"]]["hashrate_ths"]
            A.append(r); lo.append(-np.inf); hi.append(share * total)
    for k in range(K):  # NPV_k - eta + u_k >= 0
        r = row()
        r[:n_plan] = N[k]
        r[n_plan] = -1.0
        r[n_plan + 1 + k] = 1.0
        A.append(r); lo.append(0.0); hi.append(np.inf)
    if floor is not None:
        r = row()
        r[n_plan] = 1.0
        r[n_plan + 1:] = -w / alpha
        A.append(r); lo.append(floor); hi.append(np.inf)
    lb = np.array([1.0 if (k == "y" and not mip) else 0.0 for k, _, _ in cols] + [-np.inf] + [0.0] * K)
    ub = np.array([1.0 if k == "y" else np.inf for k, _, _ in cols] + [np.inf] * (1 + K))
    integrality = np.array([int(i and mip) for i in integ] + [0] * (1 + K))
    res = milp(-cost, constraints=LinearConstraint(np.array(A), lo, hi), integrality=integrality, bounds=Bounds(lb, ub),
               options={"mip_rel_gap": 1e-9})
    return -res.fun if res.status == 0 else None
