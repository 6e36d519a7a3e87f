"""Why a plan is infeasible, in business terms (which capacity, cap, budget or minimum cannot be met)."""
from __future__ import annotations

import numpy as np

from optimizer.economics import Economics
from optimizer.model import LinearModel, allowed_sites
from optimizer.inputs.scenario import Scenario


def _fmt_mw(v: float) -> str:
    return f"{v:,.1f} MW" if v >= 1 else f"{v:,.4g} MW"


def explain_infeasible(scn: Scenario, econ: Economics, model: LinearModel) -> list[str]:
    """Reasons the fleet cannot be placed. Only possible when neither selling nor idling is allowed
    (otherwise selling everything is always a plan)."""
    pol = scn.settings.policy
    sites = scn.sites
    reasons: list[str] = []
    ok = allowed_sites(scn)
    cap = sites["capacity_mw"].to_numpy(float)
    rigs = float(econ.count.sum())
    # Say only what the settings in force say (the engine's guard refuses infeasibility claims
    # when selling or storing is on: then doing nothing is always a plan).
    off = [w for w, on in (("selling", pol.allow_sell), ("storing", pol.allow_idle)) if not on]
    if len(off) == 2:
        prefix = "selling and storing are both switched off, so every rig must be relocated, but "
    elif off:
        prefix = f"{off[0]} is switched off, and "
    else:
        prefix = ""
    if ok.sum() == 0:
        return [prefix + "every site is in an excluded jurisdiction"]
    pue_min = sites["pue"].to_numpy(float)[ok].min()
    need_mw = float((econ.count * econ.power_w).sum() * pue_min / 1e6)
    open_mw = float(cap[ok].sum())
    if need_mw > open_mw * (1 + 1e-9):
        reasons.append(f"the fleet needs at least {_fmt_mw(need_mw)} but only {_fmt_mw(open_mw)} are open to it")
    share = pol.max_jurisdiction_share
    if share < 1:
        n_open = len(set(sites["jurisdiction"][ok]))
        needed = int(np.ceil(1 / share - 1e-9))
        if n_open < needed:
            reasons.append(f"with at most {share:.0%} of the fleet's hashrate per jurisdiction the fleet needs "
                           f"at least {needed} jurisdictions, but only {n_open} are open")
        else:
            # MW each jurisdiction can take, versus its hashrate cap.
            total_ths = float((econ.hashrate_ths * econ.count).sum())
            best_ths_per_mw = float((econ.hashrate_ths / (econ.power_w * pue_min / 1e6)).max())
            placeable = 0.0
            for j in sorted(set(sites["jurisdiction"][ok])):
                jcap = float(cap[ok & (sites["jurisdiction"] == j).to_numpy()].sum())
                placeable += min(share * total_ths, jcap * best_ths_per_mw)
            if placeable < total_ths * (1 - 1e-9):
                reasons.append(f"jurisdiction caps of {share:.0%} and site capacities together take at most "
                               f"{placeable / 1e6:,.3f} of the fleet's {total_ths / 1e6:,.3f} EH/s")
    if pol.budget_usd is not None:
        cheapest = econ.upfront_usd[:, ok].min(axis=1)
        need_usd = float((econ.count * cheapest).sum())
        if need_usd > pol.budget_usd * (1 + 1e-9):
            reasons.append(f"relocating all {rigs:,.0f} rigs costs at least ${need_usd:,.0f} upfront "
                           f"(freight and duty) but the budget is ${pol.budget_usd:,.0f}")
    if pol.integer_rigs or model.mode == "mip":
        min_mw = sites["min_mw"].to_numpy(float)
        if (min_mw > cap).any() and not reasons:
            bad = sites["site"][min_mw > cap].tolist()
            reasons.append(f"site(s) {', '.join(bad[:5])} demand a minimum above their capacity")
    if not reasons:
        reasons.append("capacity, jurisdiction caps, budget and site minimums together cannot take the "
                       f"whole fleet of {rigs:,.0f} rigs; allow selling or storing (policy.allow_sell / "
                       "policy.allow_idle), or relax a limit")
    else:
        reasons[0] = prefix + reasons[0]
        reasons.append("allow selling or storing (policy.allow_sell / policy.allow_idle), or relax the limit above")
    return reasons
