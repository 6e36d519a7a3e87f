"""After the solve: shadow prices by label, entry power prices, payback, and the per-rig breakdown.

Every figure here reads the one month-by-month implementation of the economics
(``economics.margin_path``) and the labelled rows of the model; nothing re-derives a term.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer import economics as E
from optimizer.economics import Economics
from optimizer.model import LinearModel, allowed_sites, label, labels
from optimizer.inputs.scenario import Scenario
from optimizer.results import ZERO, PlanArrays, Result
from optimizer.solver.raw import RawSolution


@dataclass
class Duals:
    """The LP's shadow prices, d(objective)/d(rhs), clipped at 0 where a row can only bind one way."""

    fleet: np.ndarray  # (G,) what one more rig of each batch is worth at the margin, USD per rig
    capacity: np.ndarray  # (S,) USD per MW
    jurisdiction: dict[str, float]  # USD per TH/s of each jurisdiction's cap (share[J] rows)
    per_site_jurisdiction: np.ndarray  # (S,) the cap's dual of each site's jurisdiction
    budget: float  # USD per USD (0 when there is no budget)


def read_duals(scn: Scenario, econ: Economics, model: LinearModel, raw: RawSolution) -> Duals | None:
    """The row duals read by label (``fleet[o,m]``, ``capacity[s]``, ``share[J]``, ``budget``); None in MIP mode."""
    if raw.row_dual is None:
        return None
    y = np.asarray(raw.row_dual, float)
    row_of = {name: i for i, name in enumerate(model.row_labels())}  # a KeyError names a row the model lacks

    def at(names: tuple[str, ...] | list[str]) -> np.ndarray:
        return y[[row_of[name] for name in names]] if len(names) else np.zeros(0)

    fleet = at(labels("fleet", tuple((econ.origins[o], econ.models[m])
                                    for o, m in zip(econ.group_origin, econ.group_model))))
    capacity = np.maximum(at(labels("capacity", tuple((s,) for s in econ.sites))), 0.0)
    juris = {}
    share = model.block("share")
    if share is not None:
        for j in sorted(set(scn.sites["jurisdiction"].astype(str))):
            juris[j] = max(float(y[row_of[label("share", j)]]), 0.0)
    return Duals(
        fleet=fleet,
        capacity=capacity,
        jurisdiction=juris,
        per_site_jurisdiction=scn.sites["jurisdiction"].astype(str).map(juris).fillna(0.0).to_numpy(float),
        budget=max(float(y[row_of[label("budget")]]), 0.0) if model.block("budget") is not None else 0.0,
    )


def payback_months(scn: Scenario, econ: Economics, model: LinearModel, xv: np.ndarray, to_repay_usd: float) -> float | None:
    """Months until the relocated rigs' expected, discounted operating margin repays ``to_repay_usd`` (USD).

    Sums d_t a_t S_t margin_t x over the relocations month by month and interpolates within the
    month it crosses ``to_repay_usd``. 0 when there is nothing to repay, None when nothing is
    relocated or the margin never repays it within the horizon. The cash payback passes the
    upfront spend; the payback against selling also passes the resale value given up by not
    selling the relocated rigs today (``opportunity_cost_usd``).
    """
    used = np.nonzero(xv > 0)[0]
    if not len(used) or to_repay_usd <= 0:
        return 0.0 if len(used) else None
    path = econ.path(scn, model.x_group[used], model.x_site[used])
    monthly = path.weights() * path.margin()
    cum = np.cumsum((xv[used][:, None] * monthly).sum(axis=0))
    hit = np.nonzero(cum >= to_repay_usd)[0]
    if not len(hit):
        return None
    t = int(hit[0])
    before = cum[t - 1] if t > 0 else 0.0
    step = cum[t] - before
    return float(t + (to_repay_usd - before) / step) if step > 0 else float(t + 1)


def opportunity_cost_usd(econ: Economics, model: LinearModel, xv: np.ndarray) -> float:
    """USD: what the relocated rigs would fetch if sold today instead, sum of resale_usd x rigs relocated."""
    return float((xv * econ.resale_usd[model.x_group]).sum())


def risk_charge_usd(econ: Economics, model: LinearModel, xv: np.ndarray) -> float:
    """USD: the risk-aversion charge the plan's objective carries, sum of penalty[g,s] x rigs relocated.

    penalty = risk_aversion x P(ban within the horizon) x resale_usd (SPEC section 2). It is not an
    expected loss in money (the expected loss of a ban is already in ops through S_t): the objective
    is the expected value minus this charge.
    """
    return float((xv * econ.penalty_usd[model.x_group, model.x_site]).sum())


def ban_kpis(scn: Scenario, ths_at_site: np.ndarray) -> tuple[float | None, float | None]:
    """(expected share of relocated hashrate stopped by a ban within the horizon, chance that at least one
    jurisdiction the plan uses bans mining within the horizon), both None when nothing is relocated.

    The first is the hashrate-weighted mean of 1 - (1 - reg_risk)^(H/12) over the sites used. The
    second treats jurisdictions as independent (SPEC section 2 prices each site on its own) and a
    jurisdiction's ban chance as the highest of its used sites': 1 - prod_J (1 - P_J).
    """
    total = float(ths_at_site.sum())
    if total <= 0:
        return None, None
    ban = E.ban_probability(scn)
    share = float((ban * ths_at_site).sum() / total)
    used = ths_at_site > 0
    per_j = (pd.DataFrame({"j": scn.sites["jurisdiction"].astype(str).to_numpy()[used], "p": ban[used]})
             .groupby("j")["p"].max().to_numpy(float))
    return share, float(1 - np.prod(1 - per_j))


def entry_power_prices(scn: Scenario, econ: Economics, duals: Duals, mw_used: np.ndarray) -> np.ndarray:
    """For each unused site: the highest power price (USD/kWh, before the multiplier) at which some rig
    group would earn a place there, holding every other shadow price of the current plan fixed.

    A column x[g,s] enters when its reduced cost is positive:
    V[g,s](p) - u[g] - mw[g,s] * pi_cap[s] - hashrate[g] * pi_J(s) - upfront[g,s] * pi_budget > 0,
    and V falls as the power price p rises, so the price is found by bisection. NaN where the
    site is used, excluded or has no capacity; 0 < price; -1 where even free power would not do.
    """
    sites = scn.sites
    out = np.full(len(sites), np.nan)
    cap = sites["capacity_mw"].to_numpy(float)
    candidates = np.nonzero((mw_used <= ZERO) & allowed_sites(scn) & (cap > 0))[0]
    if not len(candidates) or econ.n_groups == 0:
        return out
    chunk = max(1, 200_000 // econ.n_groups)  # bounds memory: pairs x months arrays per chunk
    for first in range(0, len(candidates), chunk):
        out[candidates[first: first + chunk]] = _entry_prices_for(scn, econ, candidates[first: first + chunk], duals)
    return out


BISECTION_STEPS = 32  # the bracket [0, price now] shrinks 2^32-fold: ~1e-11 USD/kWh at 0.05 USD/kWh


def _entry_prices_for(scn: Scenario, econ: Economics, candidates: np.ndarray, duals: Duals) -> np.ndarray:
    G = econ.n_groups
    gi = np.repeat(np.arange(G), len(candidates))
    si = np.tile(candidates, G)
    per_kwh = econ.path(scn, gi, si, power_usd_kwh=np.ones(len(gi)))  # power at 1 USD/kWh, scaled below
    fixed_part = (econ.value_usd[gi, si] - econ.ops_usd[gi, si]  # V without its operating value
                  - duals.fleet[gi] - econ.mw_per_rig[gi, si] * duals.capacity[si]
                  - econ.hashrate_ths[gi] * duals.per_site_jurisdiction[si] - econ.upfront_usd[gi, si] * duals.budget)
    # MarginPath.ops at power price p, its p-independent parts taken out of the bisection:
    # sum_t w_t max(0, revenue_t - p power1_t) - hosting sum_t w_t
    shape = np.broadcast_shapes(per_kwh.revenue_usd.shape, per_kwh.power_usd.shape)
    w = np.broadcast_to(per_kwh.weights(), shape)
    revenue = np.broadcast_to(per_kwh.revenue_usd - per_kwh.fee_path(), shape)  # net of the management fee
    power1 = np.broadcast_to(per_kwh.power_usd, shape)
    fixed_part = fixed_part - np.broadcast_to(per_kwh.hosting_usd, shape[:-1]) * w.sum(axis=-1)

    def reduced_cost(fixed: np.ndarray, w: np.ndarray, revenue: np.ndarray, power1: np.ndarray,
                     price: np.ndarray) -> np.ndarray:
        return fixed + (w * np.maximum(revenue - price[:, None] * power1, 0.0)).sum(axis=-1)

    out = np.full(len(gi), -1.0)
    can = np.nonzero(reduced_cost(fixed_part, w, revenue, power1, np.zeros(len(gi))) > 1e-9)[0]  # enter with free power
    if len(can):
        args = (fixed_part[can], w[can], revenue[can], power1[can])
        lo = np.zeros(len(can))
        hi = np.maximum(scn.sites["power_usd_kwh"].to_numpy(float)[si[can]], 1e-6)
        for _ in range(BISECTION_STEPS):
            mid = (lo + hi) / 2
            ok = reduced_cost(*args, mid) > 1e-9
            lo = np.where(ok, mid, lo)
            hi = np.where(ok, hi, mid)
        out[can] = lo
    return out.reshape(G, len(candidates)).max(axis=0)


BREAKDOWN_TERMS = ("revenue_pv_usd", "power_pv_usd", "mgmt_fee_pv_usd", "hosting_pv_usd", "ops_usd", "terminal_usd", "freight_usd",
                   "duty_usd", "upfront_usd", "risk_penalty_usd", "value_relocate_usd")


def breakdown(scn: Scenario, origin: str, model: str, site: str) -> dict[str, object]:
    """The per-rig value of relocating one rig of ``model`` from ``origin`` to ``site``, term by term (USD).

    revenue_pv - power_pv - mgmt_fee_pv - hosting_pv = ops (revenue, power and fee counted in months the rig runs);
    ops + terminal - freight - duty - risk_penalty = value_relocate, which is the model's V.
    ``monthly`` holds the MarginPath's arrays for this pair (each of length H).
    Raises KeyError for an unknown origin, model or site.
    """
    origins, models, sites = list(scn.origins["origin"]), list(scn.rigs["model"]), list(scn.sites["site"])
    if model not in models or origin not in origins or site not in sites:
        raise KeyError(f"unknown model '{model}', origin '{origin}' or site '{site}'")
    oi, mi, si = origins.index(origin), models.index(model), sites.index(site)
    dist, ship_os, lead_os = E.freight(scn)
    path = E.margin_path(scn, np.array(mi), np.array(si), np.array(lead_os[oi, si]))
    terms = E.pair_terms(scn, np.array(mi), np.array(oi), np.array(si), path.ops(), (ship_os, lead_os))
    lane = bool(len(scn.lanes) and ((scn.lanes["origin"] == origin) & (scn.lanes["site"] == site)).any())
    return {
        "hashprice_usd_th_day": float(path.hashprice_usd_th_day[0]),
        "distance_km": float(dist[oi, si]),
        "freight_source": "lanes.csv" if lane else "distance formula",
        "lead_days": float(lead_os[oi, si]),
        **{key: float(v) for key, v in path.present_values().items()},
        "ops_usd": float(terms.ops_usd),
        "terminal_usd": float(terms.terminal_usd),
        "freight_usd": float(terms.freight_usd),
        "duty_usd": float(terms.duty_usd),
        "upfront_usd": float(terms.upfront_usd),
        "ban_probability": float(terms.ban_probability),
        "risk_penalty_usd": float(terms.penalty_usd),
        "value_relocate_usd": float(terms.value_usd),
        "value_sell_usd": float(terms.resale_usd),
        "value_idle_usd": float(terms.terminal_usd),
        "monthly": {
            "hashprice_usd_th_day": path.hashprice_usd_th_day,
            "revenue_usd": np.asarray(path.revenue_usd),
            "power_usd": np.asarray(path.power_usd),
            "mgmt_fee_usd": np.broadcast_to(path.fee_path(), path.discount.shape).astype(float),
            "hosting_usd": np.full(len(path.discount), float(path.hosting_usd)),
            "availability": np.asarray(path.availability),
            "survival": np.asarray(path.survival),
            "discount": path.discount,
            "margin_usd": path.margin(),
        },
    }


def analyse(result: Result, plan: PlanArrays, scn: Scenario, econ: Economics, model: LinearModel, raw: RawSolution,
            details: bool = True) -> Result:
    """Fill ``result``'s analysis columns and keys in place (and return it): shadow prices by label
    (LP mode), entry power prices and payback (``details``), ban exposure, the risk charge and the
    expected value, resale forgone. ``plan`` is what ``optimizer.results.assemble`` returned with it."""
    s = result.summary
    duals = read_duals(scn, econ, model, raw)
    if duals:
        result.sites["shadow_usd_per_mw"] = np.where(duals.capacity < 1e-9, 0.0, duals.capacity)
        if details:
            result.sites["entry_power_usd_kwh"] = entry_power_prices(scn, econ, duals, plan.mw_used)
        result.jurisdictions["shadow_usd_per_ths"] = [duals.jurisdiction.get(j, 0.0) + 0.0  # + 0.0: no -0.0
                                                      for j in result.jurisdictions["jurisdiction"]]
        if model.block("budget") is not None:
            s["budget_shadow_usd_per_usd"] = duals.budget
    s["expected_share_hashrate_banned"], s["prob_any_ban"] = ban_kpis(scn, plan.ths_at)
    charge = risk_charge_usd(econ, model, plan.xv)
    s["expected_value_usd"] = raw.objective + charge
    s["risk_charge_usd"] = charge
    s["value_vs_sell_all_usd"] = s["expected_value_usd"] - s["sell_all_usd"]
    forgone = opportunity_cost_usd(econ, model, plan.xv)
    if details:
        s["cash_payback_months"] = payback_months(scn, econ, model, plan.xv, plan.upfront_usd)
        s["payback_vs_selling_months"] = payback_months(scn, econ, model, plan.xv, plan.upfront_usd + forgone)
    s["resale_forgone_usd"] = forgone
    return result
