"""Per-rig economics of SPEC section 2, vectorised over (rig group, site, month). No solver here.

A *group* is one (origin, model) row of the fleet with a positive count. The month-by-month
operating economics of a rig at a site live in one place, ``margin_path``: the model's values
(``compute``), ``explain`` (``analysis.breakdown``), payback and entry power prices all read it.
Every per-rig term of V (ops, terminal, freight, duty, upfront, ban probability, penalty, V
itself) is computed in one place, ``pair_terms`` -> ``Terms``: ``compute`` (the model, the
planner, the risk stage, the report) and ``analysis.breakdown`` (explain) read it.
Hashprice is computed in one place, ``hashprice_path``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.inputs.duty import duty_share
from optimizer.inputs.geo import EARTH_RADIUS_KM, haversine_km  # noqa: F401 (SPEC section 2's dist, R)
from optimizer.inputs.availability import power_by_month, uptime_by_month
from optimizer.inputs.hashprice import halving_months, hashprice_path

if TYPE_CHECKING:
    from optimizer.inputs.scenario import Scenario

DAYS_PER_MONTH = 365.25 / 12
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


@dataclass(frozen=True, eq=False)
class MarginPath:
    """Month-by-month operating economics of one rig for each of a batch of (model, site, lead) pairs.

    Shapes: ``...`` is the broadcast shape of the pairs, T = horizon months. All money is USD
    per rig, undiscounted; the weights carry discounting, availability and survival.
    """

    revenue_usd: np.ndarray  # (..., T) per month if running all month: hashrate_ths * hp_t * (1 - pool_fee) * D * uptime
    power_usd: np.ndarray  # (..., T) per month if running: kW * pue * 24 * D * uptime * price * multiplier * (1+e)^t
    hosting_usd: np.ndarray  # (...) per month, owed whether or not the rig runs
    fee_usd: np.ndarray  # (...) per month if running all month: kW * pue * 24 * D * uptime * mgmt_fee_usd_kwh;
    # (..., T) when availability.csv gives the uptime month by month (``fee_path`` is (..., T) either way)
    availability: np.ndarray  # (..., T) a_t, share of month t the rig is installed and running
    survival: np.ndarray  # (..., T) S_t, chance mining is still allowed in month t
    discount: np.ndarray  # (T,) d_t
    hashprice_usd_th_day: np.ndarray  # (T,) hp_t

    def margin(self, factor: np.ndarray | float | None = None) -> np.ndarray:
        """margin_t = max(0, revenue_t * factor - power_t - fee) - hosting, shape (..., T).

        ``factor`` (broadcastable to (..., T)) multiplies revenue, i.e. the hashprice; None means 1.
        A rig is switched off in a month where power and the management fee cost more than it earns;
        hosting is owed regardless.
        """
        revenue = self.revenue_usd if factor is None else self.revenue_usd * factor
        out = np.subtract(revenue, self.power_usd)
        if np.any(self.fee_usd):
            out -= self.fee_path()
        np.maximum(out, 0.0, out=out)
        out -= self.hosting_usd[..., None]
        return out

    def running(self, factor: np.ndarray | float | None = None) -> np.ndarray:
        """(..., T) bool: the months in which the rig earns more than its power and management fee cost."""
        revenue = self.revenue_usd if factor is None else self.revenue_usd * factor
        return revenue > self.running_cost_usd()

    def running_cost_usd(self) -> np.ndarray:
        """(..., T) what a month of running costs: power_t + the management fee (hosting apart)."""
        return self.power_usd + self.fee_path() if np.any(self.fee_usd) else self.power_usd

    def fee_path(self) -> np.ndarray:
        """(..., T) or (..., 1) broadcastable to it: the management fee per month if running all month."""
        return self.fee_usd if self.fee_usd.ndim == self.revenue_usd.ndim else self.fee_usd[..., None]

    def weights(self) -> np.ndarray:
        """d_t * a_t * S_t, shape (..., T): what one USD of margin in month t is worth today."""
        return self.availability * (self.discount * self.survival)

    def ops(self, factor: np.ndarray | float | None = None) -> np.ndarray:
        """Operating value, shape (...): sum_t d_t a_t S_t margin_t."""
        out = self.weights()
        out *= self.margin(factor)
        return out.sum(axis=-1)

    def present_values(self) -> dict[str, np.ndarray]:
        """The discounted parts of ``ops()``, each shape (...), USD per rig: revenue_pv_usd and power_pv_usd
        (counted in the months the rig runs), mgmt_fee_pv_usd (likewise) and hosting_pv_usd;
        revenue - power - mgmt_fee - hosting = ops."""
        w, running = self.weights(), self.running()
        return {"revenue_pv_usd": (w * np.where(running, self.revenue_usd, 0.0)).sum(axis=-1),
                "power_pv_usd": (w * np.where(running, self.power_usd, 0.0)).sum(axis=-1),
                "mgmt_fee_pv_usd": (w * np.where(running, self.fee_path(), 0.0)).sum(axis=-1),
                "hosting_pv_usd": (w * self.hosting_usd[..., None]).sum(axis=-1)}

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
    fee_month = kw * (sites["pue"].to_numpy(float)[si] * HOURS_PER_DAY * DAYS_PER_MONTH * uptime
                      * sites["mgmt_fee_usd_kwh"].to_numpy(float)[si])
    shape = np.broadcast(mi, si, lead).shape
    revenue = (hash_ths * (1 - st.market.pool_fee) * DAYS_PER_MONTH * uptime)[..., None] * hp
    change = sites["power_monthly_change"].to_numpy(float)[si]
    if np.any(change != 0):
        power_month = np.asarray(power_month)[..., None] * (1 + change[..., None]) ** t
    else:
        power_month = np.asarray(power_month)[..., None]
    stepped = power_by_month(sites, getattr(scn, "power", None), H)
    if stepped is not None:  # power.csv: a multiplier on the power price by site and month
        power_month = power_month * stepped[si]
    seasonal = uptime_by_month(sites, getattr(scn, "availability", None), H)
    if seasonal is not None:  # availability.csv: u[s, t] / uptime[s] rescales what sites.csv's uptime gave (uptime > 0)
        scale = seasonal[si] / uptime[..., None]
        revenue, power_month = revenue * scale, power_month * scale
        fee_month = np.broadcast_to(fee_month, np.broadcast_shapes(np.shape(fee_month), shape))[..., None] * scale
    availability = (DAYS_PER_MONTH * (t + 1) - lead[..., None]) / DAYS_PER_MONTH
    np.minimum(np.maximum(availability, 0.0, out=availability), 1.0, out=availability)  # clip, without its overhead
    survival = survival_path(sites["reg_risk"].to_numpy(float)[si], H)
    discount = (1 + st.horizon.discount_rate) ** (-(t + 0.5) / 12)
    full = shape + (H,)
    return MarginPath(
        revenue_usd=np.broadcast_to(revenue, full),
        power_usd=np.broadcast_to(power_month, full),
        hosting_usd=np.broadcast_to(kw * sites["hosting_usd_kw_month"].to_numpy(float)[si], shape),
        fee_usd=np.broadcast_to(fee_month, shape if seasonal is None else full),
        availability=np.broadcast_to(availability, full),
        survival=np.broadcast_to(survival, full),
        discount=discount,
        hashprice_usd_th_day=hp,
    )


def survival_path(reg_risk: np.ndarray, months: int) -> np.ndarray:
    """S_t = (1 - reg_risk)^((t + 0.5) / 12), shape (..., months) for ``reg_risk`` of shape (...)."""
    return (1 - np.asarray(reg_risk, float)[..., None]) ** ((np.arange(months) + 0.5) / 12)


def ban_probability(scn: "Scenario") -> np.ndarray:
    """(S,) chance that mining at each site is forced to stop within the horizon: 1 - (1 - reg_risk)^(H/12)."""
    return ban_within(scn.sites["reg_risk"].to_numpy(float), scn.settings.horizon.months)


def ban_within(reg_risk: np.ndarray | float, months: float) -> np.ndarray:
    """Chance that a ban with annual probability ``reg_risk`` comes within ``months``: 1 - (1 - reg_risk)^(months/12)."""
    return 1 - (1 - np.asarray(reg_risk, float)) ** (months / 12)


def terminal_value(scn: "Scenario", resale_usd: np.ndarray) -> np.ndarray:
    """Value of a rig sold at the horizon: salvage_fraction * resale_usd * (1 + discount_rate)^(-H/12)."""
    hz = scn.settings.horizon
    return hz.salvage_fraction * resale_usd * (1 + hz.discount_rate) ** (-hz.months / 12)


def risk_penalty(scn: "Scenario", resale_usd: np.ndarray, si: np.ndarray) -> np.ndarray:
    """USD per rig: risk_aversion * ban probability of site ``si`` * resale_usd (broadcasting)."""
    return scn.settings.policy.risk_aversion * ban_probability(scn)[si] * resale_usd


def relocation_value(ops_usd: np.ndarray, terminal_usd: np.ndarray, upfront_usd: np.ndarray,
                     penalty_usd: np.ndarray) -> np.ndarray:
    """V = ops + terminal - upfront - penalty, USD per rig (SPEC section 2; broadcasting)."""
    return ops_usd + terminal_usd - upfront_usd - penalty_usd


@dataclass(frozen=True, eq=False)
class Terms:
    """Every per-rig term of SPEC sections 2 and 6 for a batch of (rig group, site) pairs, USD per rig,
    present values. Shapes broadcast over the pairs: (G, S) for a whole market, with the terms that
    do not depend on the site (terminal, resale) as (G, 1).

    The model's objective (V), ``analysis.breakdown`` (explain), the planner, the risk stage and the
    report read these; each term is computed here only (``pair_terms``).
    """

    ops_usd: np.ndarray  # sum_t d_t a_t S_t margin_t (MarginPath.ops)
    terminal_usd: np.ndarray  # salvage_fraction * resale * (1 + discount_rate)^(-H/12): also the value of storing
    freight_usd: np.ndarray  # lane's ship_usd_per_rig, else the distance formula
    duty_usd: np.ndarray  # import_duty * resale_usd (duty.csv's import_duty for the rig's made_in, if any)
    upfront_usd: np.ndarray  # freight + duty
    ban_probability: np.ndarray  # 1 - (1 - reg_risk)^(H/12)
    penalty_usd: np.ndarray  # risk_aversion * ban_probability * resale_usd
    value_usd: np.ndarray  # V = ops + terminal - upfront - penalty
    resale_usd: np.ndarray  # the value of selling the rig now


def pair_terms(scn: "Scenario", mi: np.ndarray, oi: np.ndarray, si: np.ndarray, ops_usd: np.ndarray | None = None,
               freight_os: tuple[np.ndarray, np.ndarray] | None = None) -> Terms:
    """The Terms of rigs of model ``mi`` from origin ``oi`` relocated to site ``si`` (broadcastable index arrays).

    ``ops_usd`` (the pairs' MarginPath.ops, when the caller computed it in chunks) and ``freight_os``
    ((ship_usd, lead_days), each (O, S), from ``freight``) save recomputing them.
    """
    mi, oi, si = np.asarray(mi), np.asarray(oi), np.asarray(si)
    ship_os, lead_os = freight_os if freight_os is not None else freight(scn)[1:]
    resale = scn.rigs["resale_usd"].to_numpy(float)[mi]
    if ops_usd is None:
        ops_usd = margin_path(scn, mi, si, lead_os[oi, si]).ops()
    terminal = terminal_value(scn, resale)
    ship = ship_os[oi, si]
    duty = duty_share(scn)[mi, si] * resale  # sites.csv's import_duty, or duty.csv's for the rig's made_in
    upfront = ship + duty
    penalty = risk_penalty(scn, resale, si)
    return Terms(ops_usd=ops_usd, terminal_usd=terminal, freight_usd=ship, duty_usd=duty, upfront_usd=upfront,
                 ban_probability=ban_probability(scn)[si], penalty_usd=penalty,
                 value_usd=relocation_value(ops_usd, terminal, upfront, penalty), resale_usd=resale)


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

    def with_risk_aversion(self, scn: "Scenario") -> "Economics":
        """The same economics under ``scn``'s risk aversion (the only setting that differs): the penalty
        and V again, from the same functions ``compute`` uses, so the result equals ``compute(scn)``."""
        penalty = risk_penalty(scn, self.resale_usd[:, None], np.arange(len(self.sites))[None, :])
        return dataclasses.replace(self, penalty_usd=penalty, value_usd=relocation_value(
            self.ops_usd, self.terminal_usd[:, None], self.upfront_usd, penalty))

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
    """V[g, s] and everything else the optimisation needs, for every group and site (``pair_terms`` over the grid)."""
    g = groups(scn)
    rigs, sites, st = scn.rigs, scn.sites, scn.settings
    G, S, H = len(g), len(sites), st.horizon.months
    mi, oi = g["mi"].to_numpy(), g["oi"].to_numpy()
    power_w = rigs["power_w"].to_numpy(float)[mi]
    _, ship_os, lead_os = freight(scn)
    ops = np.zeros((G, S))
    step = max(1, _CHUNK_ELEMENTS // max(1, G * H))
    for first in range(0, S if G else 0, step):
        si = np.arange(first, min(S, first + step))
        ops[:, si] = margin_path(scn, mi[:, None], si[None, :], lead_os[oi[:, None], si[None, :]]).ops()
    terms = pair_terms(scn, mi[:, None], oi[:, None], np.arange(S)[None, :], ops, (ship_os, lead_os))
    mw = power_w[:, None] * sites["pue"].to_numpy(float)[None, :] / 1e6
    return Economics(
        group_origin=oi, group_model=mi, count=g["count"].to_numpy(np.int64),
        hashrate_ths=rigs["hashrate_ths"].to_numpy(float)[mi], power_w=power_w, resale_usd=terms.resale_usd[:, 0],
        terminal_usd=terms.terminal_usd[:, 0], mw_per_rig=mw, upfront_usd=terms.upfront_usd,
        penalty_usd=terms.penalty_usd, ops_usd=ops, value_usd=terms.value_usd,
        lead_days=lead_os, hp0=hashprice_today(scn),
        origins=scn.origins["origin"].tolist(), models=rigs["model"].tolist(), sites=sites["site"].tolist(),
    )
