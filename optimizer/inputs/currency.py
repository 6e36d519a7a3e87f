"""Power prices typed in a local currency (case 28): 0.30 "per kWh" copied from a Chinese tariff in RMB, or
22 from a Kazakh one in tenge, read as USD.

The check names a currency, it never converts: ``data/currencies.csv`` holds dated, sourced USD rates of
the currencies of mining jurisdictions and origins (a few per currency); a currency "fits" a price when
price / rate lands among the power prices miners pay (``MINING_POWER_USD_KWH``) for some rate within
the listed range widened by ``RATE_WIDEN`` (rates move; the table is not a rate feed). Currencies
without a sourced rate are never named.

Who may have typed the price: the site's own country (its jurisdiction, or the country its point lies
in) and the fleet's origins' countries (a team leaving China prices in RMB).
"""
from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

from optimizer.inputs import geo
from optimizer.inputs.names import canon

DATA = Path(__file__).resolve().parent / "data" / "currencies.csv"
# Power prices paid by miners: hosted and self-built sites 2019-2025 paid about 0.02-0.10 USD/kWh; the
# range is widened so that a fit means "plausible", not "typical".
MINING_POWER_USD_KWH = (0.01, 0.15)
RATE_WIDEN = 1.25


@dataclass(frozen=True)
class Currency:
    country: str
    code: str
    name: str
    per_usd_low: float  # widened
    per_usd_high: float

    def usd_range(self, price: float) -> tuple[float, float]:
        """The USD values of ``price`` units of this currency over the widened rate range."""
        return price / self.per_usd_high, price / self.per_usd_low


@functools.lru_cache(maxsize=1)
def currencies() -> dict[str, Currency]:
    """country (canonical name) -> Currency, from data/currencies.csv."""
    rates: dict[str, list[float]] = {}
    meta: dict[str, tuple[str, str, str]] = {}
    with DATA.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = canon(row["country"])
            rates.setdefault(key, []).append(float(row["per_usd"]))
            meta[key] = (row["country"], row["code"], row["currency"])
    return {k: Currency(*meta[k], min(v) / RATE_WIDEN, max(v) * RATE_WIDEN) for k, v in rates.items()}


def _country(jurisdiction: str, lat: float | None = None, lon: float | None = None) -> str | None:
    return geo.country_named(jurisdiction) or geo.subdivision_of(jurisdiction) or (
        geo.country_of(lat, lon) if lat is not None and lon is not None else None)


def fits(currency: Currency, price: float) -> bool:
    lo, hi = currency.usd_range(price)
    return hi >= MINING_POWER_USD_KWH[0] and lo <= MINING_POWER_USD_KWH[1]


def likely_currency(price: float, jurisdiction: str, lat: float | None, lon: float | None,
                    origin_countries: tuple[str, ...]) -> tuple[Currency, str] | None:
    """(the currency, whose it is in words) that ``price`` was probably typed in, or None.

    The site's own country first, then the origins' countries (in the order given)."""
    table = currencies()
    site_country = _country(jurisdiction, lat, lon)
    candidates = [(site_country, f"{site_country}'s currency, where the site is")] if site_country else []
    candidates += [(c, f"{c}'s currency, where the fleet stands (origins.csv)") for c in origin_countries]
    for country, why in candidates:
        cur = table.get(canon(country or ""))
        if cur is not None and cur.code != "USD" and fits(cur, price):
            return cur, why
    return None


def in_words(cur: Currency, price: float) -> str:
    lo, hi = cur.usd_range(price)
    return f"{price:g} {cur.code} is about {lo:.3f}-{hi:.3f} USD"
