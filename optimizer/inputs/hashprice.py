"""The hashprice path the market settings declare (SPEC sections 2 and 6): the one definition.

It lives with the inputs because checking the settings needs it (a path that overflows is bad
input); the economics reads it from here. Units: USD per TH/s per day, months t = 0 .. H-1.
"""
from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # settings.py imports this module to check the path
    from optimizer.inputs.settings import Settings


# Bitcoin's halvings: the blocks 210,000 apart, on the days they were mined (UTC), and after
# block 840,000 (20 April 2024) estimates at the target of one block per 10 minutes.
PAST_HALVINGS = (datetime.date(2012, 11, 28), datetime.date(2016, 7, 9), datetime.date(2020, 5, 11),
                 datetime.date(2024, 4, 20))
BLOCKS_PER_HALVING = 210_000
MINUTES_PER_BLOCK = 10.0
DAYS_PER_HALVING = BLOCKS_PER_HALVING * MINUTES_PER_BLOCK / (24 * 60)  # 1,458.33 days


def halving_schedule(start_month: str, months: int) -> tuple[int, ...]:
    """Months t in 0 .. months-1 (month 0 = ``start_month``, "YYYY-MM") holding a halving day.

    Past halvings are the days their blocks were mined; later ones are estimated every
    DAYS_PER_HALVING days after 20 April 2024. A halving counts from the month that contains it.
    """
    year, month = (int(x) for x in start_month.split("-"))
    first = year * 12 + month - 1
    days = list(PAST_HALVINGS)
    n = 1
    while True:
        day = PAST_HALVINGS[-1] + datetime.timedelta(days=n * DAYS_PER_HALVING)
        if day.year * 12 + day.month - 1 - first >= months:
            break
        days.append(day)
        n += 1
    ts = (d.year * 12 + d.month - 1 - first for d in days)
    return tuple(t for t in ts if 0 <= t < months)


def halving_months(settings: "Settings") -> tuple[int, ...]:
    """The months at which the subsidy halves: market.halving_months, else the schedule from horizon.start_month."""
    if settings.market.halving_months:
        return tuple(settings.market.halving_months)
    if settings.horizon.start_month:
        return halving_schedule(settings.horizon.start_month, settings.horizon.months)
    return ()


def hashprice_path(settings: "Settings", explicit: np.ndarray | None = None) -> np.ndarray:
    """hp_t, USD per TH/s per day, for months t = 0 .. H-1; shape (H,). SPEC section 6:

    1. ``explicit`` (market.csv, by month): hp_t as given.
    2. a BTC-price or network-hashrate drift set (the other counts as 0):
       hp_t = 144 * block_subsidy_btc * (0.5^k_t + fee_share) * btc_price_usd * (1+gb)^t
              / (network_hashrate_ehs * (1+gh)^t * 1e6)
    3. else hp_t = hp0 * (1+g)^t * (0.5^k_t + fee_share) / (1 + fee_share), where hp0 =
       hashprice_usd_th_day if given, else 144 * block_subsidy_btc * (1 + fee_share) * btc_price_usd
       / (network_hashrate_ehs * 1e6)  (section 2's path when there is no halving).
    k_t is the number of halving months <= t. Overflow gives inf (never a warning): settings
    validation reports it.
    """
    if explicit is not None:
        return np.asarray(explicit, float)
    m, H = settings.market, settings.horizon.months
    t = np.arange(H)
    k = np.searchsorted(np.asarray(halving_months(settings)), t, side="right")
    reward = 0.5 ** k + m.fee_share  # block reward in units of today's subsidy; fees do not halve
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if m.btc_price_monthly_change is not None or m.network_hashrate_monthly_change is not None:
            gb, gh = m.btc_price_monthly_change or 0.0, m.network_hashrate_monthly_change or 0.0
            return (144 * m.block_subsidy_btc * reward * m.btc_price_usd * (1 + gb) ** t
                    / (m.network_hashrate_ehs * (1 + gh) ** t * 1e6))
        if m.hashprice_usd_th_day is not None:
            hp0 = float(m.hashprice_usd_th_day)
        else:
            hp0 = 144 * m.block_subsidy_btc * (1 + m.fee_share) * m.btc_price_usd / (m.network_hashrate_ehs * 1e6)
        hp = hp0 * (1 + m.hashprice_monthly_change) ** t
        if k.any():
            hp = hp * np.where(k > 0, reward / (1 + m.fee_share), 1.0)
        return hp
