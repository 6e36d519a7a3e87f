"""Per-rig economics of SPEC section 2, vectorised over (rig group, site, month). No solver here.

A *group* is one (origin, model) row of the fleet with a positive count. The month-by-month
operating economics of a rig at a site live in one place, ``margin_path``: the model's values
(``compute``), ``explain`` (``analysis.breakdown``), payback and entry power prices all read it.
Hashprice is computed in one place, ``hashprice_path``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.inputs.hashprice import halving_months, hashprice_path

if TYPE_CHECKING:
    from optimizer.inputs.scenario import Scenario

DAYS_PER_MONTH = 365.25 / 12
EARTH_RADIUS_KM = 6371.0
HOURS_PER_DAY = 24.0
# Pairs x months per chunk when computing V for every (group, site): bounds memory on large markets.
_CHUNK_ELEMENTS = 500_000


def hashprice(scn: "Scenario") -> np.ndarray:
    """The scenario's hp_t, shape (H,): its market.csv path when it has one, else ``hashprice_path``."""
    market = getattr(scn, "market", None)
    explicit = None
    if market is not None and len(market):
        explicit = market.sort_values("month")["hashprice_usd_th_day"].to_numpy(float)
    return hashprice_path(scn.settings, explicit)


def hashprice_source(scn: "Scenario") -> str:
    """Which of SPEC section 6's three paths the scenario's hashprice follows, in words."""
    m = scn.settings.market
    halvings = halving_months(scn.settings)
    extra = f", halvings in months {', '.join(map(str, halvings))}" if halvings else ""
    if getattr(scn, "market", None) is not None and len(scn.market):
        return "market.csv"
    if m.btc_price_monthly_change is not None or m.network_hashrate_monthly_change is not None:
        return (f"BTC price {m.btc_price_monthly_change or 0:+.1%}/month, network hashrate "
                f"{m.network_hashrate_monthly_change or 0:+.1%}/month{extra}")
    return f"changing {m.hashprice_monthly_change:+.1%}/month{extra}"


def hashprice_today(scn: "Scenario") -> float:
    """hp_0 in USD per TH/s per day (summary.json's hashprice_usd_th_day)."""
    return float(hashprice(scn)[0])


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km (broadcasting), Earth radius 6371 km."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(frozen=True, eq=False)
class MarginPath:
    """Month-by-month operating economics of one rig for each of a batch of (model, site, lead) pairs.

    Shapes: ``...`` is the broadcast shape of the pairs, T = horizon months. All money is USD
    per rig, undiscounted; the weights carry discounting, availability and survival.
    """

    revenue_usd: np.ndarray  # (..., T) per month if running all month: hashrate_ths * hp_t * (1 - pool_fee) * D * uptime
    power_usd: np.ndarray  # (..., T) per month if running: kW * pue * 24 * D * uptime * price * multiplier * (1+e)^t
    hosting_usd: np.ndarray  # (...) per month, owed whether or not the rig runs
    availability: np.ndarray  # (..., T) a_t, share of month t the rig is installed and running
    survival: np.ndarray  # (..., T) S_t, chance mining is still allowed in month t
    discount: np.ndarray  # (T,) d_t
    hashprice_usd_th_day: np.ndarray  # (T,) hp_t

    def margin(self, factor: np.ndarray | float | None = None) -> np.ndarray:
        """margin_t = max(0, revenue_t * factor - power_t) - hosting, shape (..., T).

        ``factor`` (broadcastable to (..., T)) multiplies revenue, i.e. the hashprice; None means 1.
        A rig is switched off in a month where power costs more than it earns; hosting is owed regardless.
        """
        revenue = self.revenue_usd if factor is None else self.revenue_usd * factor
        out = np.subtract(revenue, self.power_usd)
        np.maximum(out, 0.0, out=out)
        out -= self.hosting_usd[..., None]
        return out

    def running(self, factor: np.ndarray | float | None = None) -> np.ndarray:
        """(..., T) bool: the months in which the rig earns more than its power costs."""
        revenue = self.revenue_usd if factor is None else self.revenue_usd * factor
        return revenue > self.power_usd

    def weights(self) -> np.ndarray:
        """d_t * a_t * S_t, shape (..., T): what one USD of margin in month t is worth today."""
        return self.availability * (self.discount * self.survival)

    def ops(self, factor: np.ndarray | float | None = None) -> np.ndarray:
        """Operating value, shape (...): sum_t d_t a_t S_t margin_t."""
        out = self.weights()
        out *= self.margin(factor)
        return out.sum(axis=-1)

    def at_power_price(self, usd_kwh: np.ndarray | float) -> "MarginPath":
        """The same path at another power price, for a path computed with ``power_usd_kwh=1``."""
        return dataclasses.replace(self, power_usd=self.power_usd * np.asarray(usd_kwh, float)[..., None])


def margin_path(
    scn: "Scenario", mi: np.ndarray, si: np.ndarray, lead_days: np.ndarray, power_usd_kwh: np.ndarray | None = None
) -> MarginPath:
    """The MarginPath of rigs of model ``mi`` at site ``si`` arriving after ``lead_days`` (broadcastable).

    ``power_usd_kwh`` (broadcastable to the pairs) replaces the sites' power price, before the
    multiplier (used to find entry power prices).
    """
    rigs, sites, st = scn.rigs, scn.sites, scn.settings
    mi, si, lead = np.asarray(mi), np.asarray(si), np.asarray(lead_days, float)
    if "online_month" in sites.columns:  # SPEC section 8: running from A = max(lead, D * online_month) days
        online = sites["online_month"].to_numpy(float)
        if online.any():
            lead = np.maximum(lead, DAYS_PER_MONTH * online[si])
    H = st.horizon.months
    t = np.arange(H)
    hp = hashprice(scn)
    hash_ths = rigs["hashrate_ths"].to_numpy(float)[mi]
    kw = rigs["power_w"].to_numpy(float)[mi] / 1000
    uptime = sites["uptime"].to_numpy(float)[si]
    price = sites["power_usd_kwh"].to_numpy(float)[si] if power_usd_kwh is None else np.asarray(power_usd_kwh, float)
    power_month = kw * (sites["pue"].to_numpy(float)[si] * HOURS_PER_DAY * DAYS_PER_MONTH * uptime * price
                        * st.policy.power_price_multiplier)
    shape = np.broadcast(mi, si, lead).shape
    revenue = (hash_ths * (1 - st.market.pool_fee) * DAYS_PER_MONTH * uptime)[..., None] * hp
    change = sites["power_monthly_change"].to_numpy(float)[si]
    if np.any(change != 0):
        power_month = np.asarray(power_month)[..., None] * (1 + change[..., None]) ** t
    else:
        power_month = np.asarray(power_month)[..., None]
    availability = (DAYS_PER_MONTH * (t + 1) - lead[..., None]) / DAYS_PER_MONTH
    np.minimum(np.maximum(availability, 0.0, out=availability), 1.0, out=availability)  # clip, without its overhead
    risk = sites["reg_risk"].to_numpy(float)[si]
    survival = (1 - risk[..., None]) ** ((t + 0.5) / 12)
    discount = (1 + st.horizon.discount_rate) ** (-(t + 0.5) / 12)
    full = shape + (H,)
    return MarginPath(
        revenue_usd=np.broadcast_to(revenue, full),
        power_usd=np.broadcast_to(power_month, full),
        hosting_usd=np.broadcast_to(kw * sites["hosting_usd_kw_month"].to_numpy(float)[si], shape),
        availability=np.broadcast_to(availability, full),
        survival=np.broadcast_to(survival, full),
        discount=discount,
        hashprice_usd_th_day=hp,
    )


def ban_probability(scn: "Scenario") -> np.ndarray:
    """(S,) chance that mining at each site is forced to stop within the horizon: 1 - (1 - reg_risk)^(H/12)."""
    return 1 - (1 - scn.sites["reg_risk"].to_numpy(float)) ** (scn.settings.horizon.months / 12)


def terminal_value(scn: "Scenario", resale_usd: np.ndarray) -> np.ndarray:
    """Value of a rig sold at the horizon: salvage_fraction * resale_usd * (1 + discount_rate)^(-H/12)."""
    hz = scn.settings.horizon
    return hz.salvage_fraction * resale_usd * (1 + hz.discount_rate) ** (-hz.months / 12)


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
    penalty_usd: np.ndarray  # (G, S) risk_aversion * ban probability * resale
    ops_usd: np.ndarray  # (G, S) operating value, MarginPath.ops()
    value_usd: np.ndarray  # (G, S) V = ops + terminal - upfront - penalty
    lead_days: np.ndarray  # (O, S)
    hp0: float
    origins: list[str]
    models: list[str]
    sites: list[str]

    @property
    def n_groups(self) -> int:
        return len(self.count)

    def path(self, scn: "Scenario", gi: np.ndarray, si: np.ndarray, power_usd_kwh: np.ndarray | None = None) -> MarginPath:
        """The MarginPath of groups ``gi`` at sites ``si`` (broadcastable)."""
        gi, si = np.asarray(gi), np.asarray(si)
        return margin_path(scn, self.group_model[gi], si, self.lead_days[self.group_origin[gi], si], power_usd_kwh)


def freight(scn: "Scenario") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def groups(scn: "Scenario") -> pd.DataFrame:
    """Fleet rows with a positive count, with model and origin indices."""
    f = scn.fleet[scn.fleet["count"] > 0]
    return pd.DataFrame({
        "origin": f["origin"].to_numpy(),
        "model": f["model"].to_numpy(),
        "count": f["count"].to_numpy(np.int64),
        "oi": pd.Index(scn.origins["origin"]).get_indexer(f["origin"]),
        "mi": pd.Index(scn.rigs["model"]).get_indexer(f["model"]),
    })


def compute(scn: "Scenario") -> Economics:
    """V[g, s] and everything else the optimisation needs, for every group and site."""
    g = groups(scn)
    rigs, sites, st = scn.rigs, scn.sites, scn.settings
    G, S, H = len(g), len(sites), st.horizon.months
    mi, oi = g["mi"].to_numpy(), g["oi"].to_numpy()
    power_w = rigs["power_w"].to_numpy(float)[mi]
    resale = rigs["resale_usd"].to_numpy(float)[mi]
    terminal = terminal_value(scn, resale)
    _, ship_os, lead_os = freight(scn)
    upfront = ship_os[oi, :] + sites["import_duty"].to_numpy(float)[None, :] * resale[:, None]
    penalty = st.policy.risk_aversion * ban_probability(scn)[None, :] * resale[:, None]
    ops = np.zeros((G, S))
    step = max(1, _CHUNK_ELEMENTS // max(1, G * H))
    for first in range(0, S if G else 0, step):
        si = np.arange(first, min(S, first + step))
        ops[:, si] = margin_path(scn, mi[:, None], si[None, :], lead_os[oi[:, None], si[None, :]]).ops()
    value = ops + terminal[:, None] - upfront - penalty
    mw = power_w[:, None] * sites["pue"].to_numpy(float)[None, :] / 1e6
    return Economics(
        group_origin=oi, group_model=mi, count=g["count"].to_numpy(np.int64),
        hashrate_ths=rigs["hashrate_ths"].to_numpy(float)[mi], power_w=power_w, resale_usd=resale,
        terminal_usd=terminal, mw_per_rig=mw, upfront_usd=upfront, penalty_usd=penalty, ops_usd=ops, value_usd=value,
        lead_days=lead_os, hp0=hashprice_today(scn),
        origins=scn.origins["origin"].tolist(), models=rigs["model"].tolist(), sites=sites["site"].tolist(),
    )
