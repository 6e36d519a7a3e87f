"""Break-even prices: where relocating stops beating selling.

Per site, for a mix of rigs there (``site_economics.site_mix``): the power price and today's
hashprice at which moving the mix is worth exactly what selling it now brings (bisection on
``economics.margin_path``, the rest of V read from ``economics.compute``). For the whole plan: the
BTC price below which the best plan relocates nothing (bisection on whole solves, through a
``relocates`` callable the caller builds from the engine, which comes after this stage).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from optimizer import economics as E
from optimizer.economics import Economics
from optimizer.inputs.scenario import Scenario

POWER_CEILING_USD_KWH = 10.0  # the power-price search stops here
HASHPRICE_RANGE = (0.01, 100.0)  # the hashprice search spans these multiples of today's


class _Curve:
    """Every (group, site) pair's value of relocating minus selling, as a function of the power
    price p (USD/kWh, before the multiplier) and a hashprice factor k (``MarginPath.ops(k)``)."""

    def __init__(self, scn: Scenario, w: np.ndarray, econ: Economics) -> None:
        G, S = w.shape
        gi, si = np.arange(G)[:, None], np.arange(S)[None, :]
        self.path = econ.path(scn, gi, si)
        self.unit = econ.path(scn, gi, si, power_usd_kwh=np.ones((G, S)))
        # V without its operating value, less the resale given up: terminal - upfront - penalty - resale
        self.fixed = econ.value_usd - econ.ops_usd - econ.resale_usd[:, None]
        self.weights = w

    def advantage(self, price: np.ndarray | None = None, scale: np.ndarray | float = 1.0) -> np.ndarray:
        """(S,) rigs-weighted value of relocating minus selling now (USD), at per-site power price (S,)
        and hashprice factor (S,)."""
        G, S = self.weights.shape
        path = self.path if price is None else self.unit.at_power_price(np.broadcast_to(price, (G, S)))
        factor = np.broadcast_to(np.asarray(scale, float), (S,))[None, :, None]
        return (self.weights * (path.ops(factor) + self.fixed)).sum(axis=0)


def breakeven_power(scn: Scenario, w: np.ndarray, econ: Economics | None = None, iterations: int = 40) -> np.ndarray:
    """(S,) the power price (USD/kWh, before the multiplier) at which moving the mix ``w`` ((G, S) rigs,
    ``Economics`` group order) to each site is worth exactly what selling it brings; NaN where it is
    not worth it even with free power, or still worth it at POWER_CEILING_USD_KWH."""
    curve = _Curve(scn, w, econ if econ is not None else E.compute(scn))
    S = w.shape[1]
    lo, hi = np.zeros(S), np.full(S, POWER_CEILING_USD_KWH)
    ok_lo, ok_hi = curve.advantage(price=lo) >= 0, curve.advantage(price=hi) >= 0
    for _ in range(iterations):
        mid = (lo + hi) / 2
        good = curve.advantage(price=mid) >= 0
        lo, hi = np.where(good, mid, lo), np.where(good, hi, mid)
    return np.where(ok_lo & ~ok_hi, (lo + hi) / 2, np.nan)


def breakeven_hashprice(scn: Scenario, w: np.ndarray, econ: Economics | None = None, iterations: int = 40) -> np.ndarray:
    """(S,) today's hashprice (USD per TH/s per day) at which moving the mix ``w`` to each site is worth
    exactly what selling it brings (the path's shape held as it is); NaN outside HASHPRICE_RANGE x today's."""
    curve = _Curve(scn, w, econ if econ is not None else E.compute(scn))
    S = w.shape[1]
    lo, hi = np.full(S, HASHPRICE_RANGE[0]), np.full(S, HASHPRICE_RANGE[1])
    ok_lo, ok_hi = curve.advantage(scale=lo) >= 0, curve.advantage(scale=hi) >= 0
    for _ in range(iterations):
        mid = np.sqrt(lo * hi)
        good = curve.advantage(scale=mid) >= 0
        lo, hi = np.where(good, lo, mid), np.where(good, mid, hi)
    return np.where(~ok_lo & ok_hi, E.hashprice_today(scn) * np.sqrt(lo * hi), np.nan)


BTC_SEARCH_LIMIT = 64  # multiples of today's BTC price (at least 1,000 USD) searched before giving up


def breakeven_btc_price(current_usd: float, relocates: Callable[[float], bool], tolerance_usd: float = 50.0) -> float | None:
    """The BTC price (USD) below which the best plan relocates nothing (sells or stores the whole fleet).

    ``relocates(price)`` says whether the best plan at that BTC price moves any rig (e.g. a warm
    ``Planner`` re-solve; a scenario that cannot be solved there counts as not relocating).
    Bisection to within ``tolerance_usd``: 0.0 when relocating pays even with a worthless coin (a
    fixed hashprice), None when it does not pay below BTC_SEARCH_LIMIT x max(today's, 1,000 USD).
    """
    if relocates(0.0):
        return 0.0
    lo, hi = 0.0, max(current_usd, 1000.0)
    while not relocates(hi):
        lo, hi = hi, hi * 2
        if hi > BTC_SEARCH_LIMIT * max(current_usd, 1000.0):
            return None
    while hi - lo > tolerance_usd:
        mid = (lo + hi) / 2
        if relocates(mid):
            hi = mid
        else:
            lo = mid
    return hi
