"""An independent statement of SPEC section 8's monthly plan, for tests only.

Written from the section's formulas with scalar Python loops and a dense matrix for scipy's milp;
it shares no code with ``optimizer/`` (only tests/reference_model.py's hashprice and distance).
Scenarios are the plain dicts of tests/scenario_builder.py, with optional ``online_month`` per site,
``resale_path`` ({month: factor}) and ``monthly`` ({dispatch_months, sell_months, store_usd_per_rig_month}).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from tests.reference_model import D, hashprice, haversine


def decisions(sc: dict) -> list[dict]:
    """Every decision with its value, upfront spending and running months (site, month) pairs."""
    mk, hz, lg, pol = sc["market"], sc["horizon"], sc["logistics"], sc["policy"]
    mo = sc.get("monthly") or {}
    H, r = hz["months"], hz["discount_rate"]
    dispatch = mo.get("dispatch_months") or list(range(H))
    sells = (mo.get("sell_months") or list(range(H))) if pol["allow_sell"] else []
    store = mo.get("store_usd_per_rig_month", 0.0)
    path = sc.get("resale_path")
    f = [path[t] if path else hz["salvage_fraction"] ** (t / H) for t in range(H)]
    d = [(1 + r) ** (-(t + 0.5) / 12) for t in range(H)]
    c = [(1 + r) ** (-t / 12) for t in range(H + 1)]
    lanes = {(l["origin"], l["site"]): l for l in sc["lanes"]}
    excluded = set(pol["exclude_jurisdictions"])
    out = []
    for gi, fl in enumerate(f_ for f_ in sc["fleet"] if f_["count"] > 0):
        rig = next(x for x in sc["rigs"] if x["model"] == fl["model"])
        org = next(x for x in sc["origins"] if x["origin"] == fl["origin"])
        R = rig["resale_usd"]
        T = hz["salvage_fraction"] * R * (1 + r) ** (-H / 12)
        for tau in sells:
            out.append({"g": gi, "kind": "sell", "value": c[tau] * R * f[tau] - store * sum(d[:tau]), "up": 0.0, "run": []})
        if pol["allow_idle"]:
            out.append({"g": gi, "kind": "keep", "value": T - store * sum(d), "up": 0.0, "run": []})
        for s in sc["sites"]:
            if s["jurisdiction"] in excluded:
                continue
            dist = haversine(org["lat"], org["lon"], s["lat"], s["lon"])
            lane = lanes.get((fl["origin"], s["site"]))
            ship = lane["ship_usd_per_rig"] if lane else lg["ship_base_usd"] + lg["ship_usd_per_1000km"] * dist / 1000
            lead = lane["lead_days"] if lane else lg["lead_base_days"] + lg["lead_days_per_1000km"] * dist / 1000
            up = ship + s["import_duty"] * R
            pen = pol["risk_aversion"] * (1 - (1 - s["reg_risk"]) ** (H / 12)) * R
            margin = []
            for t in range(H):
                rev = rig["hashrate_ths"] * hashprice(sc, t) * (1 - mk.get("pool_fee", 0.0)) * D * s["uptime"]
                pw = (rig["power_w"] / 1000 * s["pue"] * 24 * D * s["uptime"] * s["power_usd_kwh"]
                      * pol["power_price_multiplier"] * (1 + s.get("power_monthly_change", 0.0)) ** t)
                host = rig["power_w"] / 1000 * s["hosting_usd_kw_month"]
                margin.append(max(0.0, rev - pw) - host)
            for tau in dispatch:
                A = max(D * tau + lead, D * s.get("online_month", 0))
                for until in [u for u in sells if u > tau] + [H]:
                    ops, run = 0.0, []
                    for t in range(tau, until):
                        a = min(1.0, max(0.0, (D * (t + 1) - A) / D))
                        surv = (1 - s["reg_risk"]) ** ((t + 0.5) / 12)
                        ops += d[t] * a * surv * margin[t]
                        if a > 0:
                            run.append((s["site"], t))
                    end = c[until] * R * f[until] if until < H else T
                    out.append({"g": gi, "kind": "ship", "site": s["site"], "tau": tau, "until": until,
                                "value": ops - c[tau] * up - pen - store * sum(d[:tau]) + end, "up": up, "run": run,
                                "mw": rig["power_w"] * s["pue"] / 1e6, "ths": rig["hashrate_ths"]})
    return out


def optimum(sc: dict) -> float | None:
    """The optimum of section 8's monthly plan (scipy milp on a dense matrix); None if infeasible."""
    pol, H = sc["policy"], sc["horizon"]["months"]
    fleet = [f for f in sc["fleet"] if f["count"] > 0]
    sites = sc["sites"]
    cols = decisions(sc)
    mip = any(s["fixed_cost_usd"] > 0 for s in sites) or pol["integer_rigs"]
    n_dec = len(cols)
    n = n_dec + len(sites)
    cost = np.array([x["value"] for x in cols] + [-s["fixed_cost_usd"] for s in sites])
    A, lo, hi = [], [], []
    for gi, f in enumerate(fleet):
        row = np.zeros(n)
        for j, x in enumerate(cols):
            if x["g"] == gi:
                row[j] = 1
        A.append(row); lo.append(f["count"]); hi.append(f["count"])
    for si, s in enumerate(sites):
        for t in range(H):
            row = np.zeros(n)
            for j, x in enumerate(cols):
                if (s["site"], t) in x["run"]:
                    row[j] = x["mw"]
            row[n_dec + si] = -s["capacity_mw"]
            A.append(row); lo.append(-np.inf); hi.append(0.0)
    share = pol["max_jurisdiction_share"]
    if share < 1:
        rigs = {r["model"]: r for r in sc["rigs"]}
        total = sum(rigs[f["model"]]["hashrate_ths"] * f["count"] for f in fleet)
        for J in sorted({s["jurisdiction"] for s in sites}):
            for t in range(H):
                row = np.zeros(n)
                for j, x in enumerate(cols):
                    if any(next(s for s in sites if s["site"] == site)["jurisdiction"] == J and tt == t
                           for site, tt in x["run"]):
                        row[j] = x["ths"]
                A.append(row); lo.append(-np.inf); hi.append(share * total)
    if pol.get("budget_usd") is not None:
        row = np.array([x["up"] for x in cols] + [s["fixed_cost_usd"] for s in sites])
        A.append(row); lo.append(-np.inf); hi.append(pol["budget_usd"])
    lb = np.array([0.0] * n_dec + [0.0 if mip else 1.0] * len(sites))
    ub = np.array([np.inf] * n_dec + [1.0] * len(sites))
    integ = np.array([int(pol["integer_rigs"])] * n_dec + [1] * len(sites)) * int(mip)
    res = milp(-cost, constraints=LinearConstraint(np.array(A), lo, hi), integrality=integ, bounds=Bounds(lb, ub),
               options={"mip_rel_gap": 1e-9})
    return -res.fun if res.status == 0 else None
