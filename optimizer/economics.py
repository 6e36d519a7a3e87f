"""Per-rig economics of SPEC section 2, vectorised over (rig group, site). No solver here.

A *group* is one (origin, model) row of the fleet with a positive count. Arrays are indexed
[group, site]; nothing here depends on which sites the optimisation later uses.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .scenario import Scenario

DAYS_PER_MONTH = 365.25 / 12
EARTH_RADIUS_KM = 6371.0


def hashprice_today(scn: Scenario) -> float:
    """hp0 in USD per TH/s per day: given, or derived from the block reward and network hashrate."""
    m = scn.settings.market
    if m.hashprice_usd_th_day is not None:
        return float(m.hashprice_usd_th_day)
    return 144 * m.block_subsidy_btc * (1 + m.fee_share) * m.btc_price_usd / (m.network_hashrate_ehs * 1e6)


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km (broadcasting), Earth radius 6371 km."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(frozen=True)
class Economics:
    """Everything the model needs, as arrays. Shapes: G groups, S sites, O origins."""

    group_origin: np.ndarray  # (G,) origin index
    group_model: np.ndarray  # (G,) model index
    count: np.ndarray  # (G,)
    hashrate_ths: np.ndarray  # (G,) per rig
    power_w: np.ndarray  # (G,) per rig
    resale_usd: np.ndarray  # (G,) value of selling one rig now
    terminal_usd: np.ndarray  # (G,) value of idling one rig (sold at the horizon)
    mw_per_rig: np.ndarray  # (G, S) power_w * pue / 1e6
    upfront_usd: np.ndarray  # (G, S) ship + duty
    value_usd: np.ndarray  # (G, S) V, value of relocating one rig
    lead_days: np.ndarray  # (O, S)
    hp0: float
    origins: list[str]
    models: list[str]
    sites: list[str]

    @property
    def n_groups(self) -> int:
        return len(self.count)


def freight(scn: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distance_km, ship_usd, lead_days), each (O, S): lanes where quoted, else the distance formula."""
    o, s, lg = scn.origins, scn.sites, scn.settings.logistics
    dist = haversine_km(o["lat"].to_numpy()[:, None], o["lon"].to_numpy()[:, None],
                        s["lat"].to_numpy()[None, :], s["lon"].to_numpy()[None, :])
    ship = lg.ship_base_usd + lg.ship_usd_per_1000km * dist / 1000
    lead = lg.lead_base_days + lg.lead_days_per_1000km * dist / 1000
    if len(scn.lanes):
        oi = pd.Index(o["origin"]).get_indexer(scn.lanes["origin"])
        si = pd.Index(s["site"]).get_indexer(scn.lanes["site"])
        ship[oi, si] = scn.lanes["ship_usd_per_rig"].to_numpy(float)
        lead[oi, si] = scn.lanes["lead_days"].to_numpy(float)
    return dist, ship, lead


def month_weights(scn: Scenario, lead_days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per month t: hp_t (T,), availability a_t (..., T), survival S_t (S, T), discount d_t (T,)."""
    H = scn.settings.horizon.months
    t = np.arange(H)
    hp = hashprice_today(scn) * (1 + scn.settings.market.hashprice_monthly_change) ** t
    avail = np.clip((DAYS_PER_MONTH * (t + 1) - lead_days[..., None]) / DAYS_PER_MONTH, 0.0, 1.0)
    risk = scn.sites["reg_risk"].to_numpy(float)
    survival = (1 - risk[:, None]) ** ((t + 0.5) / 12)
    discount = (1 + scn.settings.horizon.discount_rate) ** (-(t + 0.5) / 12)
    return hp, avail, survival, discount


def groups(scn: Scenario) -> pd.DataFrame:
    """Fleet rows with a positive count, with model and origin indices."""
    f = scn.fleet[scn.fleet["count"] > 0]
    return pd.DataFrame({
        "origin": f["origin"].to_numpy(),
        "model": f["model"].to_numpy(),
        "count": f["count"].to_numpy(np.int64),
        "oi": pd.Index(scn.origins["origin"]).get_indexer(f["origin"]),
        "mi": pd.Index(scn.rigs["model"]).get_indexer(f["model"]),
    })


def operating_value(
    scn: Scenario, mi: np.ndarray, si: np.ndarray, lead: np.ndarray,
    power_usd_kwh: np.ndarray | None = None, breakdown: bool = False, monthly: bool = False,
):
    """ops for rigs of model mi[k] at site si[k] with lead time lead[k] (broadcastable), month by month.

    ``power_usd_kwh`` replaces the sites' power price, per pair (used to find entry prices).
    With ``breakdown`` returns (revenue, power, hosting) present values whose difference is ops,
    counting revenue and power only in months where the rig runs (revenue > power); with
    ``monthly`` the discounted expected margin of each month, shape (..., T).
    """
    rigs, sites = scn.rigs, scn.sites
    hash_ths = rigs["hashrate_ths"].to_numpy(float)[mi]
    kw = rigs["power_w"].to_numpy(float)[mi] / 1000
    uptime = sites["uptime"].to_numpy(float)[si]
    price = sites["power_usd_kwh"].to_numpy(float)[si] if power_usd_kwh is None else power_usd_kwh
    power_month = kw * (sites["pue"].to_numpy(float)[si] * 24 * DAYS_PER_MONTH * uptime * price
                        * scn.settings.policy.power_price_multiplier)
    host = kw * sites["hosting_usd_kw_month"].to_numpy(float)[si]
    hp, avail, survival, discount = month_weights(scn, lead)
    shape = np.broadcast(mi, si, lead).shape
    ops = np.zeros(shape)
    per_month = np.zeros(shape + (len(hp),)) if monthly else None
    rev_pv, pow_pv, host_pv = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for t in range(len(hp)):
        w = discount[t] * avail[..., t] * survival[si, t]
        rev = hash_ths * hp[t] * DAYS_PER_MONTH * uptime
        running = rev > power_month
        term = w * (np.where(running, rev - power_month, 0.0) - host)
        ops += term
        if monthly:
            per_month[..., t] = term
        if breakdown:
            rev_pv += w * np.where(running, rev, 0.0)
            pow_pv += w * np.where(running, power_month, 0.0)
            host_pv += w * host
    if breakdown:
        return rev_pv, pow_pv, host_pv
    if monthly:
        return per_month
    return ops


def operating_curve(scn: Scenario, mi: np.ndarray, si: np.ndarray, lead: np.ndarray):
    """The pieces of ops as a function of the power price p, for 1-D pairs:
    ops(p) = sum_t w[:, t] * max(0, rev[:, t] - c * p) - hosting_pv.

    Returns (w, rev, c, hosting_pv); w and rev are (n, T). Used to find entry power prices.
    """
    rigs, sites = scn.rigs, scn.sites
    hash_ths = rigs["hashrate_ths"].to_numpy(float)[mi]
    kw = rigs["power_w"].to_numpy(float)[mi] / 1000
    uptime = sites["uptime"].to_numpy(float)[si]
    hp, avail, survival, discount = month_weights(scn, lead)
    w = discount[None, :] * avail * survival[si, :]
    rev = (hash_ths * DAYS_PER_MONTH * uptime)[:, None] * hp[None, :]
    c = kw * sites["pue"].to_numpy(float)[si] * 24 * DAYS_PER_MONTH * uptime * scn.settings.policy.power_price_multiplier
    hosting_pv = w.sum(axis=1) * kw * sites["hosting_usd_kw_month"].to_numpy(float)[si]
    return w, rev, c, hosting_pv


def compute(scn: Scenario) -> Economics:
    """V[g, s] and everything else the optimisation needs, for every group and site."""
    g = groups(scn)
    rigs, sites, st = scn.rigs, scn.sites, scn.settings
    G, S = len(g), len(sites)
    mi, oi = g["mi"].to_numpy(), g["oi"].to_numpy()
    hash_ths = rigs["hashrate_ths"].to_numpy(float)[mi]
    power_w = rigs["power_w"].to_numpy(float)[mi]
    resale = rigs["resale_usd"].to_numpy(float)[mi]
    H = st.horizon.months
    terminal = st.horizon.salvage_fraction * resale * (1 + st.horizon.discount_rate) ** (-H / 12)
    _, ship_os, lead_os = freight(scn)
    risk = sites["reg_risk"].to_numpy(float)
    ban_prob = 1 - (1 - risk) ** (H / 12)
    upfront = ship_os[oi, :] + sites["import_duty"].to_numpy(float)[None, :] * resale[:, None]
    penalty = st.policy.risk_aversion * ban_prob[None, :] * resale[:, None]
    si_grid = np.arange(S)[None, :]
    ops = operating_value(scn, mi[:, None], si_grid, lead_os[oi, :]) if G and S else np.zeros((G, S))
    value = ops + terminal[:, None] - upfront - penalty
    mw = power_w[:, None] * sites["pue"].to_numpy(float)[None, :] / 1e6
    return Economics(
        group_origin=oi, group_model=mi, count=g["count"].to_numpy(np.int64),
        hashrate_ths=hash_ths, power_w=power_w, resale_usd=resale, terminal_usd=terminal,
        mw_per_rig=mw, upfront_usd=upfront, value_usd=value,
        lead_days=lead_os, hp0=hashprice_today(scn),
        origins=list(scn.origins["origin"]), models=list(rigs["model"]), sites=list(sites["site"]),
    )


def breakdown(scn: Scenario, origin: str, model: str, site: str) -> dict[str, float]:
    """The per-rig value of relocating one rig of ``model`` from ``origin`` to ``site``, term by term."""
    origins, models, sites = list(scn.origins["origin"]), list(scn.rigs["model"]), list(scn.sites["site"])
    if model not in models or origin not in origins:
        raise KeyError(f"unknown model '{model}' or origin '{origin}'")
    si = sites.index(site)
    oi = origins.index(origin)
    rig = scn.rigs.iloc[models.index(model)]
    row = scn.sites.iloc[si]
    st = scn.settings
    dist, ship_os, lead_os = freight(scn)
    H = st.horizon.months
    mi = models.index(model)
    rev, pw, host = operating_value(scn, np.array(mi), np.array(si), np.array(lead_os[oi, si]), breakdown=True)
    resale = float(rig["resale_usd"])
    terminal = st.horizon.salvage_fraction * resale * (1 + st.horizon.discount_rate) ** (-H / 12)
    ban = 1 - (1 - float(row["reg_risk"])) ** (H / 12)
    duty = float(row["import_duty"]) * resale
    penalty = st.policy.risk_aversion * ban * resale
    ops = float(rev - pw - host)
    ship = float(ship_os[oi, si])
    lane = bool(len(scn.lanes) and ((scn.lanes["origin"] == origin) & (scn.lanes["site"] == site)).any())
    return {
        "hashprice_usd_th_day": hashprice_today(scn),
        "distance_km": float(dist[oi, si]),
        "freight_source": "lanes.csv" if lane else "distance formula",
        "lead_days": float(lead_os[oi, si]),
        "revenue_pv_usd": float(rev),
        "power_pv_usd": float(pw),
        "hosting_pv_usd": float(host),
        "ops_usd": ops,
        "terminal_usd": terminal,
        "freight_usd": ship,
        "duty_usd": duty,
        "upfront_usd": ship + duty,
        "ban_probability": ban,
        "risk_penalty_usd": penalty,
        "value_relocate_usd": ops + terminal - ship - duty - penalty,
        "value_sell_usd": resale,
        "value_idle_usd": terminal,
    }
