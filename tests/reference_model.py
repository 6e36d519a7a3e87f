"""An independent statement of SPEC sections 2, 3 and 6, for tests only.

Written from the formulas with scalar Python and a dense matrix for scipy's own solvers; it
shares no code with `optimizer/`. Scenarios are plain dicts of lists, so a test can build one
without touching the engine's loader.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

D = 365.25 / 12
R = 6371.0


def haversine(lat1, lon1, lat2, lon2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * R * math.asin(math.sqrt(min(1.0, max(0.0, a))))


def hashprice(sc: dict, t: int) -> float:
    """hp_t of SPEC section 6 (section 2's path when none of its keys is set)."""
    mk = sc["market"]
    path = sc.get("market_path")
    if path:  # market.csv: {month: hashprice}
        return path[t]
    halvings = mk.get("halving_months") or []
    k = sum(1 for h in halvings if h <= t)
    f = mk["fee_share"]
    gb, gh = mk.get("btc_price_monthly_change"), mk.get("network_hashrate_monthly_change")
    if gb is not None or gh is not None:
        gb, gh = gb or 0.0, gh or 0.0
        return (144 * mk["block_subsidy_btc"] * (0.5 ** k + f) * mk["btc_price_usd"] * (1 + gb) ** t
                / (mk["network_hashrate_ehs"] * (1 + gh) ** t * 1e6))
    if mk.get("hashprice_usd_th_day") is not None:
        hp0 = mk["hashprice_usd_th_day"]
    else:
        hp0 = 144 * mk["block_subsidy_btc"] * (1 + f) * mk["btc_price_usd"] / (mk["network_hashrate_ehs"] * 1e6)
    return hp0 * (1 + mk["hashprice_monthly_change"]) ** t * (0.5 ** k + f) / (1 + f)


def per_rig_values(sc: dict) -> dict:
    """V[(m,o,s)], resale[m], terminal[m], upfront[(m,o,s)] from the SPEC's formulas, one rig at a time."""
    mk, hz, lg, pol = sc["market"], sc["horizon"], sc["logistics"], sc["policy"]
    hp0 = hashprice(sc, 0)
    pool_fee = mk.get("pool_fee", 0.0)
    H = hz["months"]
    lanes = {(l["origin"], l["site"]): l for l in sc["lanes"]}
    V, upfront, terminal, resale = {}, {}, {}, {}
    for rig in sc["rigs"]:
        m = rig["model"]
        resale[m] = rig["resale_usd"]
        terminal[m] = hz["salvage_fraction"] * rig["resale_usd"] * (1 + hz["discount_rate"]) ** (-H / 12)
    for f in sc["fleet"]:
        m, o = f["model"], f["origin"]
        rig = next(r for r in sc["rigs"] if r["model"] == m)
        org = next(x for x in sc["origins"] if x["origin"] == o)
        for s in sc["sites"]:
            dist = haversine(org["lat"], org["lon"], s["lat"], s["lon"])
            lane = lanes.get((o, s["site"]))
            ship = lane["ship_usd_per_rig"] if lane else lg["ship_base_usd"] + lg["ship_usd_per_1000km"] * dist / 1000
            lead = lane["lead_days"] if lane else lg["lead_base_days"] + lg["lead_days_per_1000km"] * dist / 1000
            ops = 0.0
            for t in range(H):
                hp = hashprice(sc, t)
                a = min(1.0, max(0.0, (D * (t + 1) - lead) / D))
                surv = (1 - s["reg_risk"]) ** ((t + 0.5) / 12)
                disc = (1 + hz["discount_rate"]) ** (-(t + 0.5) / 12)
                rev = rig["hashrate_ths"] * hp * (1 - pool_fee) * D * s["uptime"]
                pw = (rig["power_w"] / 1000 * s["pue"] * 24 * D * s["uptime"] * s["power_usd_kwh"] * pol["power_price_multiplier"]
                      * (1 + s.get("power_monthly_change", 0.0)) ** t)
                fee = rig["power_w"] / 1000 * s["pue"] * 24 * D * s["uptime"] * s.get("mgmt_fee_usd_kwh", 0.0)
                host = rig["power_w"] / 1000 * s["hosting_usd_kw_month"]
                ops += disc * a * surv * (max(0.0, rev - pw - fee) - host)
            up = ship + s["import_duty"] * rig["resale_usd"]
            pen = pol["risk_aversion"] * (1 - (1 - s["reg_risk"]) ** (H / 12)) * rig["resale_usd"]
            key = (m, o, s["site"])
            V[key] = ops + terminal[m] - up - pen
            upfront[key] = up
    return {"V": V, "upfront": upfront, "terminal": terminal, "resale": resale, "hp0": hp0}


def optimum(sc: dict) -> float | None:
    """The optimum of SPEC section 3 by scipy.optimize.milp on a dense matrix; None if infeasible."""
    vals = per_rig_values(sc)
    pol = sc["policy"]
    sites = sc["sites"]
    rigs = {r["model"]: r for r in sc["rigs"]}
    fleet = [f for f in sc["fleet"] if f["count"] > 0]
    excluded = set(pol["exclude_jurisdictions"])
    mip = any(s["fixed_cost_usd"] > 0 or s["min_mw"] > 0 for s in sites) or pol["integer_rigs"]
    cols, cost, integ = [], [], []
    for gi, f in enumerate(fleet):
        for si, s in enumerate(sites):
            if s["jurisdiction"] in excluded:
                continue
            cols.append(("x", gi, si))
            cost.append(vals["V"][(f["model"], f["origin"], s["site"])])
            integ.append(pol["integer_rigs"])
        if pol["allow_sell"]:
            cols.append(("sell", gi, None)); cost.append(vals["resale"][f["model"]]); integ.append(pol["integer_rigs"])
        if pol["allow_idle"]:
            cols.append(("idle", gi, None)); cost.append(vals["terminal"][f["model"]]); integ.append(pol["integer_rigs"])
    for si, s in enumerate(sites):
        cols.append(("y", None, si)); cost.append(-s["fixed_cost_usd"]); integ.append(mip)
    n = len(cols)
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
                w = rigs[fleet[g]["model"]]["power_w"] * s["pue"] / 1e6
                cap[j] = w; mn[j] = w
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
    if pol.get("budget_usd") is not None:
        r = row()
        for j, (k, g, sj) in enumerate(cols):
            if k == "x":
                r[j] = vals["upfront"][(fleet[g]["model"], fleet[g]["origin"], sites[sj]["site"])]
            if k == "y":
                r[j] = sites[sj]["fixed_cost_usd"]
        A.append(r); lo.append(-np.inf); hi.append(pol["budget_usd"])
    c = -np.array(cost)
    ub = np.array([1.0 if k == "y" else np.inf for k, _, _ in cols])
    lb = np.array([1.0 if (k == "y" and not mip) else 0.0 for k, _, _ in cols])
    for j, (k, _, sj) in enumerate(cols):
        if k == "y" and sites[sj]["jurisdiction"] in excluded and mip:
            ub[j] = 0.0
    A = np.array(A) if A else np.zeros((0, n))
    # scipy's milp with no integer columns is a plain LP solve.
    res = milp(c, constraints=LinearConstraint(A, lo, hi), integrality=np.array(integ, int) * int(mip), bounds=Bounds(lb, ub),
               options={"mip_rel_gap": sc["solver"]["mip_gap"]})
    return -res.fun if res.status == 0 else None


def load_folder(folder, history=None) -> dict:
    """A scenario folder as the plain dict these functions take, read with csv and tomllib only.

    With ``history`` (a folder holding market.csv), its months become the explicit hashprice path.
    """
    import csv
    import tomllib
    from pathlib import Path

    from tests import scenario_builder as sb

    folder = Path(folder)

    def rows(name):
        path = folder / name
        if not path.exists():
            return []
        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))

    def num(row, keys):
        return {k: (float(v) if k in keys and v != "" else v) for k, v in row.items()}

    doc = tomllib.loads((folder / "scenario.toml").read_text(encoding="utf-8"))
    sc = sb.scenario(
        rigs=[num(r, {"hashrate_ths", "power_w", "resale_usd"}) for r in rows("rigs.csv")],
        origins=[num(r, {"lat", "lon"}) for r in rows("origins.csv")],
        fleet=[{**r, "count": int(r["count"])} for r in rows("fleet.csv")],
        sites=[{k: v for k, v in num(r, {"lat", "lon", "capacity_mw", "power_usd_kwh", *sb.SITE_DEFAULTS,
                                         "power_monthly_change", "mgmt_fee_usd_kwh"}).items() if v != ""} for r in rows("sites.csv")],
        lanes=[num(r, {"ship_usd_per_rig", "lead_days"}) for r in rows("lanes.csv")],
        **{k: v for k, v in doc.items() if k in sb.DEFAULTS},
    )
    sc["market"].setdefault("pool_fee", doc.get("market", {}).get("pool_fee", 0.0))
    if history is not None:
        with (Path(history) / "market.csv").open(encoding="utf-8", newline="") as fh:
            sc["market_path"] = {int(r["month"]): float(r["hashprice_usd_th_day"]) for r in csv.DictReader(fh)}
    return sc


def realised_value(sc: dict, plan: list[dict], bans: dict, ends: dict | None = None) -> float:
    """SPEC section 7's NPV of a plan in one future: ``sc`` carries the realised hashprice as market_path,
    ``bans`` maps jurisdiction -> ban month, ``ends`` jurisdiction -> the month mining resumes (SPEC 8/9;
    absent: never). ``plan`` rows: action, origin, model, site, rigs.
    No S_t and no risk penalty; fixed costs of the sites the plan uses are paid."""
    mk, hz, lg, pol = sc["market"], sc["horizon"], sc["logistics"], sc["policy"]
    H = hz["months"]
    lanes = {(l["origin"], l["site"]): l for l in sc["lanes"]}
    rig_of = {r["model"]: r for r in sc["rigs"]}
    site_of = {s["site"]: s for s in sc["sites"]}
    org_of = {o["origin"]: o for o in sc["origins"]}
    total, opened = 0.0, set()
    for row in plan:
        rig, n = rig_of[row["model"]], float(row["rigs"])
        terminal = hz["salvage_fraction"] * rig["resale_usd"] * (1 + hz["discount_rate"]) ** (-H / 12)
        if row["action"] == "sell":
            total += n * rig["resale_usd"]
            continue
        if row["action"] == "idle":
            total += n * terminal
            continue
        s, org = site_of[row["site"]], org_of[row["origin"]]
        opened.add(s["site"])
        dist = haversine(org["lat"], org["lon"], s["lat"], s["lon"])
        lane = lanes.get((row["origin"], s["site"]))
        ship = lane["ship_usd_per_rig"] if lane else lg["ship_base_usd"] + lg["ship_usd_per_1000km"] * dist / 1000
        lead = lane["lead_days"] if lane else lg["lead_base_days"] + lg["lead_days_per_1000km"] * dist / 1000
        ban = bans.get(s["jurisdiction"], H)
        end = (ends or {}).get(s["jurisdiction"], H)
        ops = 0.0
        for t in range(H):
            if ban <= t < end:
                continue
            a = min(1.0, max(0.0, (D * (t + 1) - lead) / D))
            disc = (1 + hz["discount_rate"]) ** (-(t + 0.5) / 12)
            rev = rig["hashrate_ths"] * hashprice(sc, t) * (1 - mk.get("pool_fee", 0.0)) * D * s["uptime"]
            pw = (rig["power_w"] / 1000 * s["pue"] * 24 * D * s["uptime"] * s["power_usd_kwh"] * pol["power_price_multiplier"]
                  * (1 + s.get("power_monthly_change", 0.0)) ** t)
            fee = rig["power_w"] / 1000 * s["pue"] * 24 * D * s["uptime"] * s.get("mgmt_fee_usd_kwh", 0.0)
            ops += disc * a * (max(0.0, rev - pw - fee) - rig["power_w"] / 1000 * s["hosting_usd_kw_month"])
        total += n * (ops + terminal - ship - s["import_duty"] * rig["resale_usd"])
    return total - sum(site_of[s]["fixed_cost_usd"] for s in opened)
