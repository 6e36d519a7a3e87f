"""Cross-field plausibility: unit slips caught by what they imply, not by one file's numbers.

Two outcomes:
- **impossible** (a ``Problem``, bad input, CLI exit 2): no SHA-256 ASIC could have these
  numbers, e.g. 0.3 J/TH (efficiency typed into power_w) or a fleet that out-hashes the
  whole network (hashrate typed in GH/s);
- **implausible** (an ``InputWarning``): possible, but far outside anything on record, e.g. a
  power price of 35 USD/kWh (typed in USD/MWh) or an import duty of 5 (a percent typed as a
  fraction would be 0.05). A warning says the likely unit and how to confirm the value:
  ``[checks] confirm = ["sites.csv:power_usd_kwh"]`` in scenario.toml.

The efficiency bounds come from the bundled CBECI hardware list (``data/``): the best and the
worst J/TH of any listed ASIC, widened as documented below.
"""
from __future__ import annotations

import csv
import functools
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.inputs import currency, geo
from optimizer.inputs.errors import Problem
from optimizer.inputs.names import canon
from optimizer.inputs.notes import InputWarning
from optimizer.inputs.values import is_missing

DATA = Path(__file__).resolve().parent / "data" / "cbeci_hardware_list.csv"

# Widening of the CBECI range. Below BEST/IMPOSSIBLE_BELOW_FACTOR J/TH no chip is physically
# plausible for years (CBECI's best, 29.55 J/TH in 2020, gives 4.9 J/TH; the best units sold in
# 2025 are about 10-13 J/TH): bad input. Below BEST/WARN_BELOW_FACTOR (14.8 J/TH) is newer than
# the list: a warning. Above WORST*WARN_ABOVE_FACTOR (1,531 J/TH) is older than any listed ASIC:
# a warning, not an error, because abstract "unit" rigs (benchmarks such as OR-Library's
# facility-location instances, bench/orlib.py) legitimately use such numbers; above
# WORST*IMPOSSIBLE_ABOVE_FACTOR (76,569 J/TH) the warning says it is not an ASIC at all.
IMPOSSIBLE_BELOW_FACTOR = 6.0
WARN_BELOW_FACTOR = 2.0
WARN_ABOVE_FACTOR = 2.0
IMPOSSIBLE_ABOVE_FACTOR = 100.0

# Ranges on record (warnings outside them). Power: all-in prices paid by industrial users and
# miners, 2014-2024, stayed below ~0.5 USD/kWh even in Europe's 2022 spike.
POWER_PRICE_MAX_USD_KWH = 0.5
POWER_PRICE_MIN_USD_KWH = 0.001  # below this (but above 0) reads like USD/Wh or a slip by 1000
HASHPRICE_MAX_USD_TH_DAY = 5.0  # above this since 2016 only if typed per PH/s (1 USD/TH/day = 1,000 USD/PH/day)
HASHPRICE_MIN_USD_TH_DAY = 0.005
NETWORK_MAX_EHS = 5_000.0  # about 1,000 EH/s in 2025
NETWORK_MIN_EHS = 1.0  # passed in 2016
BTC_MIN_USD = 100.0  # "35" for 35,000
FLEET_SHARE_WARN = 0.15  # of the network's hashrate: larger than any single miner's fleet on record
RIG_THS_MAX = 5_000.0  # the largest units (hydro, 2025) are about 1,000 TH/s
RIG_THS_MIN = 0.05  # the first ASICs (2013) were about 0.06 TH/s
CAPACITY_MAX_MW = 1_000.0  # the largest sites are a few hundred MW
HOSTING_MAX_USD_KW_MONTH = 500.0
RESALE_MAX_USD = 50_000.0
FAR_FROM_JURISDICTION_KM = 500.0


@functools.lru_cache(maxsize=1)
def efficiency_on_record() -> tuple[float, str, float, str]:
    """(best J/TH, its model, worst J/TH, its model) over the bundled CBECI hardware list."""
    with DATA.open(encoding="utf-8") as fh:
        rows = [(float(r["efficiency_j_th"]), r["model"]) for r in csv.DictReader(fh) if r["efficiency_j_th"]]
    best, worst = min(rows), max(rows)
    return best[0], best[1], worst[0], worst[1]


def efficiency_bounds() -> dict[str, float]:
    best, _, worst, _ = efficiency_on_record()
    return {"impossible_below": best / IMPOSSIBLE_BELOW_FACTOR, "warn_below": best / WARN_BELOW_FACTOR,
            "warn_above": worst * WARN_ABOVE_FACTOR, "impossible_above": worst * IMPOSSIBLE_ABOVE_FACTOR}


def _fmt(v: float) -> str:
    return f"{v:,.6g}"


def table_review(tables) -> tuple[list[Problem], list[InputWarning]]:
    """The checks that read only the tables (``tables``: anything with rigs, origins and sites frames).

    Run once when tables are loaded or edited (scenario.py); their warnings travel in
    ``Scenario.warnings`` so that a what-if solve does not repeat them.
    """
    problems: list[Problem] = []
    warnings: list[InputWarning] = []
    _rigs(tables, problems, warnings)
    _sites(tables, warnings)
    _locations(tables, warnings)
    _market_file(tables, warnings)
    return problems, warnings


def _market_file(tables, warnings) -> None:
    """market.csv hashprices typed per PH/s (1,000 times too large) or per GH/s."""
    frame = getattr(tables, "market", None)
    if frame is None or not len(frame) or "hashprice_usd_th_day" not in frame.columns:
        return
    hp = frame["hashprice_usd_th_day"].to_numpy(float)
    rows = frame["_row"].to_numpy() if "_row" in frame.columns else np.arange(2, len(frame) + 2)
    for i in np.nonzero((hp > HASHPRICE_MAX_USD_TH_DAY) | ((hp > 0) & (hp < HASHPRICE_MIN_USD_TH_DAY)))[0][:10]:
        v = float(hp[i])
        likely, meant = ("USD/PH/day", v / 1000) if v > HASHPRICE_MAX_USD_TH_DAY else ("USD/GH/day", v * 1000)
        warnings.append(InputWarning("market.csv", int(rows[i]), "hashprice_usd_th_day", _fmt(v),
                                     f"a hashprice of {_fmt(v)} USD per TH/s per day is far outside anything since "
                                     f"2016 (0.0459-0.5): is it in {likely} ({_fmt(meant)} USD per TH/s per day)?",
                                     likely, "market.csv:hashprice_usd_th_day"))


def review(scn) -> tuple[list[Problem], list[InputWarning]]:
    """(problems, warnings) for a scenario: its tables' warnings (``scn.warnings``, from loading) plus the
    checks that involve settings. Warnings confirmed in [checks] confirm are dropped."""
    problems: list[Problem] = []
    warnings: list[InputWarning] = list(getattr(scn, "warnings", ()) or ())
    _fleet_vs_network(scn, problems, warnings)
    _market(scn, warnings)
    confirmed = {canon(c) for c in confirmations(scn.settings)}
    kept = [w for w in warnings if not (w.confirm and canon(w.confirm) in confirmed)]
    return problems, _dedupe(kept)


def confirmations(settings) -> tuple[str, ...]:
    checks = getattr(settings, "checks", None)
    return tuple(getattr(checks, "confirm", ()) or ())


def _dedupe(items):
    seen, out = set(), []
    for w in items:
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def _rigs(scn, problems, warnings) -> None:
    b = efficiency_bounds()
    best, best_model, worst, worst_model = efficiency_on_record()
    for _, r in scn.rigs.iterrows():
        row, model, ths, w = r.get("_row"), r["model"], float(r["hashrate_ths"]), float(r["power_w"])
        row = int(row) if not is_missing(row) else None
        if ths <= 0 or w <= 0:
            continue
        eff = w / ths
        if eff < b["impossible_below"]:
            likely = _low_efficiency_reason(ths, w)
            problems.append(Problem("rigs.csv", row, "power_w",
                                    f"power_w {_fmt(w)} W for a {_fmt(ths)} TH/s rig ('{model}') is {eff:.3g} J/TH; no "
                                    f"SHA-256 ASIC comes near that (the best on the CBECI list, {best_model}, uses "
                                    f"{best:g} J/TH)", likely))
        elif eff < b["warn_below"]:
            warnings.append(InputWarning("rigs.csv", row, "power_w", _fmt(w),
                                         f"'{model}' at {_fmt(w)} W and {_fmt(ths)} TH/s is {eff:.3g} J/TH, more efficient "
                                         f"than any ASIC on the CBECI list (best {best:g} J/TH)",
                                         "power_w in W and hashrate_ths in TH/s per rig", "rigs.csv:power_w"))
        elif eff > b["warn_above"]:
            what = ("not an ASIC at all (GPUs are about 1e6 J/TH)" if eff > b["impossible_above"]
                    else f"less efficient than any ASIC on the CBECI list (worst {worst:g} J/TH, {worst_model})")
            warnings.append(InputWarning("rigs.csv", row, "hashrate_ths", _fmt(ths),
                                         f"'{model}' at {_fmt(w)} W and {_fmt(ths)} TH/s is {eff:,.0f} J/TH, {what}: is "
                                         f"hashrate_ths in PH/s ({_fmt(ths * 1000)} TH/s), or power_w in mW?", "PH/s",
                                         "rigs.csv:hashrate_ths"))
        if ths > RIG_THS_MAX:
            warnings.append(InputWarning("rigs.csv", row, "hashrate_ths", _fmt(ths),
                                         f"{_fmt(ths)} TH/s for one '{model}' is far beyond any rig (about 1,000 TH/s at "
                                         f"most): is it in GH/s ({_fmt(ths / 1000)} TH/s)?", "GH/s", "rigs.csv:hashrate_ths"))
        elif ths < RIG_THS_MIN:
            warnings.append(InputWarning("rigs.csv", row, "hashrate_ths", _fmt(ths),
                                         f"{_fmt(ths)} TH/s for one '{model}' is below the first ASICs (~0.06 TH/s): is "
                                         f"it in PH/s ({_fmt(ths * 1000)} TH/s)?", "PH/s", "rigs.csv:hashrate_ths"))
        resale = float(r["resale_usd"])
        if resale > RESALE_MAX_USD:
            warnings.append(InputWarning("rigs.csv", row, "resale_usd", _fmt(resale),
                                         f"{_fmt(resale)} USD for one second-hand '{model}' is above any rig's price on "
                                         "record: is it a lot price, or in cents?", "USD per rig", "rigs.csv:resale_usd"))


def _low_efficiency_reason(ths: float, w: float) -> str:
    eff = w / ths
    if 8 <= w <= 150:
        return f"did you type J/TH into power_w? power_w is watts per rig: {_fmt(w)} J/TH x {_fmt(ths)} TH/s = {_fmt(w * ths)} W"
    if w < 8:
        return f"is power_w in kW? {_fmt(w)} kW = {_fmt(w * 1000)} W"
    if eff * 1000 >= 5:
        return f"is hashrate_ths in GH/s? {_fmt(ths)} GH/s = {_fmt(ths / 1000)} TH/s"
    return "hashrate_ths is TH/s per rig (an Antminer S19: 95), power_w is watts per rig (3250)"


def _fleet_vs_network(scn, problems, warnings) -> None:
    fleet = scn.fleet
    if not len(fleet):
        return
    index = pd.Index(scn.rigs["model"]).get_indexer(fleet["model"])
    per_rig = scn.rigs["hashrate_ths"].to_numpy(float)
    total_ths = float((np.where(index >= 0, per_rig[index], 0.0) * fleet["count"].to_numpy(float)).sum())
    network_ths = float(scn.settings.market.network_hashrate_ehs) * 1e6
    if network_ths <= 0 or total_ths <= 0:
        return
    share = total_ths / network_ths
    if share <= FLEET_SHARE_WARN:
        return
    rigs = scn.rigs.set_index("model")
    ths_per = fleet["model"].map(rigs["hashrate_ths"]).astype(float).fillna(0.0)
    contrib = (ths_per * fleet["count"].astype(float)).groupby(fleet["model"]).sum().sort_values(ascending=False)
    top = contrib.index[0]
    top_row = scn.rigs.loc[scn.rigs["model"] == top]
    row = int(top_row["_row"].iloc[0]) if "_row" in top_row.columns and len(top_row) else None
    what = (f"the fleet's {total_ths / 1e6:,.4g} EH/s ({total_ths:,.0f} TH/s) is {share:.1%} of the whole network's "
            f"{network_ths / 1e6:,.4g} EH/s (market.network_hashrate_ehs)")
    hint = (f"is hashrate_ths in GH/s? '{top}' contributes the most at {_fmt(float(rigs.loc[top, 'hashrate_ths']))} "
            "TH/s per rig; or is market.network_hashrate_ehs in PH/s rather than EH/s?")
    market_file = getattr(scn, "market", None)
    derived = scn.settings.market.hashprice_usd_th_day is None and (market_file is None or not len(market_file))
    if share > 1 and derived:
        # The network's hashrate sets the hashprice here: a fleet larger than the network makes it meaningless.
        problems.append(Problem("rigs.csv", row, "hashrate_ths", what + ": a fleet cannot out-hash the network it mines on",
                                hint))
    else:
        beyond = ": a fleet cannot out-hash the network it mines on" if share > 1 else \
            ", more than any single miner's fleet on record"
        warnings.append(InputWarning("rigs.csv", row, "hashrate_ths", _fmt(float(rigs.loc[top, "hashrate_ths"])),
                                     what + beyond + "; " + hint, "TH/s", "rigs.csv:hashrate_ths"))


def _sites(scn, warnings) -> None:
    s = scn.sites
    rows = s["_row"].to_numpy() if "_row" in s.columns else np.arange(2, len(s) + 2)
    price_all = s["power_usd_kwh"].to_numpy(float)
    duty_all = s["import_duty"].to_numpy(float) if "import_duty" in s.columns else np.zeros(len(s))
    cap_all = s["capacity_mw"].to_numpy(float)
    host_all = s["hosting_usd_kw_month"].to_numpy(float)
    odd = ((price_all > currency.MINING_POWER_USD_KWH[1]) | ((price_all > 0) & (price_all < POWER_PRICE_MIN_USD_KWH))
           | (duty_all > 1) | (cap_all > CAPACITY_MAX_MW) | (host_all > HOSTING_MAX_USD_KW_MONTH))
    names_all = s["site"].to_numpy()
    local = _local_currencies(scn, price_all, odd)
    for i in np.nonzero(odd)[0]:
        r = int(rows[i])
        name = names_all[i]
        price = float(price_all[i])
        if i in local:  # case 28: a tariff in RMB, KZT, ... read as USD
            cur, whose = local[i]
            warnings.append(InputWarning("sites.csv", r, "power_usd_kwh", _fmt(price),
                                         f"{_fmt(price)} USD/kWh at '{name}' is above what miners pay (about "
                                         f"{currency.MINING_POWER_USD_KWH[0]:g}-{currency.MINING_POWER_USD_KWH[1]:g}): is "
                                         f"it in {cur.code} ({cur.name}, {whose})? {currency.in_words(cur, price)} per "
                                         "kWh; power_usd_kwh is in US dollars" + (
                                             f" (or USD/MWh: {_fmt(price / 1000)} USD/kWh)"
                                             if price > POWER_PRICE_MAX_USD_KWH else ""),
                                         cur.code, "sites.csv:power_usd_kwh"))
        elif price > POWER_PRICE_MAX_USD_KWH:
            warnings.append(InputWarning("sites.csv", r, "power_usd_kwh", _fmt(price),
                                         f"{_fmt(price)} USD/kWh at '{name}' is far above any power price on record "
                                         f"(~{POWER_PRICE_MAX_USD_KWH:g} at most): is this USD/MWh ({_fmt(price / 1000)} "
                                         f"USD/kWh) or US cents per kWh ({_fmt(price / 100)} USD/kWh)?",
                                         "USD/MWh", "sites.csv:power_usd_kwh"))
        elif 0 < price < POWER_PRICE_MIN_USD_KWH:
            warnings.append(InputWarning("sites.csv", r, "power_usd_kwh", _fmt(price),
                                         f"{_fmt(price)} USD/kWh at '{name}' is below any priced power on record: is it "
                                         f"in USD per Wh, or thousands of USD? ({_fmt(price * 1000)} USD/kWh?)",
                                         "USD/Wh", "sites.csv:power_usd_kwh"))
        v = float(duty_all[i])
        if v > 1:
            warnings.append(InputWarning("sites.csv", r, "import_duty", _fmt(v),
                                         f"import_duty {_fmt(v)} at '{name}' means {v:.0%} of the rig's resale value: "
                                         f"is it a percent ({_fmt(v / 100)} as a fraction)?", "percent",
                                         "sites.csv:import_duty"))
        cap = float(cap_all[i])
        if cap > CAPACITY_MAX_MW:
            warnings.append(InputWarning("sites.csv", r, "capacity_mw", _fmt(cap),
                                         f"{_fmt(cap)} MW at '{name}' is larger than any mining site on record "
                                         f"(a few hundred MW): is it in kW ({_fmt(cap / 1000)} MW)?", "kW",
                                         "sites.csv:capacity_mw"))
        host = float(host_all[i])
        if host > HOSTING_MAX_USD_KW_MONTH:
            warnings.append(InputWarning("sites.csv", r, "hosting_usd_kw_month", _fmt(host),
                                         f"{_fmt(host)} USD per kW per month at '{name}' is far above hosting rates "
                                         "(tens of USD): is it per MW, or per year?", "USD/MW/month",
                                         "sites.csv:hosting_usd_kw_month"))


def _local_currencies(scn, price_all: np.ndarray, odd: np.ndarray) -> dict:
    """Row index -> (Currency, whose) for prices that read as a local currency (optimizer/currency.py).

    Above POWER_PRICE_MAX_USD_KWH only when the other sites' prices look like USD (their median at most
    that): a whole column 1,000x too large is USD/MWh (case 06), one site's is its local tariff (case 28).
    """
    s = scn.sites
    origin_countries = tuple(dict.fromkeys(c for c in (geo.country_named(x) for x in scn.origins["country"]) if c))
    lat, lon, juris = s["lat"].to_numpy(float), s["lon"].to_numpy(float), s["jurisdiction"].to_numpy()
    out = {}
    for i in np.nonzero(odd)[0]:
        price = float(price_all[i])
        if price <= currency.MINING_POWER_USD_KWH[1]:
            continue
        if price > POWER_PRICE_MAX_USD_KWH:
            others = np.delete(price_all, i)
            if not len(others) or np.median(others) > POWER_PRICE_MAX_USD_KWH:
                continue
        found = currency.likely_currency(price, str(juris[i]), float(lat[i]), float(lon[i]), origin_countries)
        if found:
            out[int(i)] = found
    return out


def _market(scn, warnings) -> None:
    m, h = scn.settings.market, scn.settings.horizon

    def warn(key: str, value: float, message: str, likely: str) -> None:
        warnings.append(InputWarning("scenario.toml", None, key, _fmt(value), message, likely, key))

    if m.hashprice_usd_th_day is not None:
        hp = float(m.hashprice_usd_th_day)
        if hp > HASHPRICE_MAX_USD_TH_DAY:
            warn("market.hashprice_usd_th_day", hp, f"a hashprice of {_fmt(hp)} USD per TH/s per day is far above "
                 f"anything since 2016 (0.05-0.5): is it USD per PH/s per day ({_fmt(hp / 1000)} per TH/s)?", "USD/PH/day")
        elif 0 < hp < HASHPRICE_MIN_USD_TH_DAY:
            warn("market.hashprice_usd_th_day", hp, f"a hashprice of {_fmt(hp)} USD per TH/s per day is far below "
                 f"the record low (0.0459, June 2024): is it per GH/s ({_fmt(hp * 1000)} per TH/s)?", "USD/GH/day")
    else:
        if m.network_hashrate_ehs > NETWORK_MAX_EHS:
            warn("market.network_hashrate_ehs", m.network_hashrate_ehs,
                 f"network_hashrate_ehs {_fmt(m.network_hashrate_ehs)} EH/s is far above the network's size "
                 f"(about 1,000 EH/s in 2025): is it in PH/s ({_fmt(m.network_hashrate_ehs / 1000)} EH/s)?", "PH/s")
        elif m.network_hashrate_ehs < NETWORK_MIN_EHS:
            warn("market.network_hashrate_ehs", m.network_hashrate_ehs,
                 f"network_hashrate_ehs {_fmt(m.network_hashrate_ehs)} EH/s is below the network's size since 2016: "
                 f"is it in ZH/s ({_fmt(m.network_hashrate_ehs * 1000)} EH/s)?", "ZH/s")
        if 0 < m.btc_price_usd < BTC_MIN_USD:
            warn("market.btc_price_usd", m.btc_price_usd, f"a BTC price of {_fmt(m.btc_price_usd)} USD is below "
                 f"anything since 2013: is it in thousands of USD ({_fmt(m.btc_price_usd * 1000)})?", "kUSD")
    if m.fee_share > 1:
        warn("market.fee_share", m.fee_share, f"fee_share {_fmt(m.fee_share)} means fees are {m.fee_share:.0%} of the "
             f"subsidy: is it a percent ({_fmt(m.fee_share / 100)} as a fraction)?", "percent")
    if h.salvage_fraction > 1:
        warn("horizon.salvage_fraction", h.salvage_fraction, f"salvage_fraction {_fmt(h.salvage_fraction)} means a rig "
             f"is worth {h.salvage_fraction:.0%} of today's price at the horizon: is it a percent "
             f"({_fmt(h.salvage_fraction / 100)})?", "percent")
    if h.discount_rate > 1:
        warn("horizon.discount_rate", h.discount_rate, f"discount_rate {_fmt(h.discount_rate)} is {h.discount_rate:.0%} "
             f"a year: is it a percent ({_fmt(h.discount_rate / 100)})?", "percent")
    if abs(m.hashprice_monthly_change) > 0.5:
        warn("market.hashprice_monthly_change", m.hashprice_monthly_change,
             f"hashprice_monthly_change {_fmt(m.hashprice_monthly_change)} is {m.hashprice_monthly_change:+.0%} a month: "
             f"is it a percent ({_fmt(m.hashprice_monthly_change / 100)})?", "percent")


def _locations(scn, warnings) -> None:
    """A site whose point lies in an origin's country while naming another jurisdiction, or far from the
    country its jurisdiction names: a dropped minus sign or swapped lat/lon, usually."""
    s = scn.sites
    if not len(s):
        return
    lat, lon = s["lat"].to_numpy(float), s["lon"].to_numpy(float)
    rows = s["_row"].to_numpy() if "_row" in s.columns else np.arange(2, len(s) + 2)
    flagged = np.zeros(len(s), bool)
    origin_countries = {}
    for c in scn.origins["country"]:
        named = geo.country_named(c)
        if named:
            origin_countries.setdefault(named, c)
    juris = s["jurisdiction"].to_numpy()
    for country, typed in origin_countries.items():
        within = geo.inside(country, lat, lon)
        for i in np.nonzero(within)[0]:
            j = juris[i]
            if geo.country_named(j) == country or geo.subdivision_of(j) == country:
                continue  # a site that says it is there
            flagged[i] = True
            warnings.append(InputWarning(
                "sites.csv", int(rows[i]), "lon", f"{lat[i]:g}, {lon[i]:g}",
                f"'{s['site'].iloc[i]}' ({j}) at {lat[i]:g}, {lon[i]:g} lies in {typed}, the country the fleet leaves "
                "(origins.csv): is a minus sign missing? (decimal degrees, south and west negative)",
                "a sign slip", "sites.csv:location", "location"))
    by_country: dict[str, list[int]] = {}
    for i, j in enumerate(s["jurisdiction"]):
        if flagged[i]:
            continue
        candidates = {c for c in (geo.country_named(j), geo.subdivision_of(j)) if c}
        if candidates:
            by_country.setdefault(" | ".join(sorted(candidates)), []).append(i)
    for key, idx in by_country.items():
        idx_arr = np.array(idx)
        dist = np.min([geo.distance_km(c, lat[idx_arr], lon[idx_arr]) for c in key.split(" | ")], axis=0)
        for i, d in zip(idx_arr, dist):
            if d > FAR_FROM_JURISDICTION_KM:
                where = geo.country_of(lat[i], lon[i])
                warnings.append(InputWarning(
                    "sites.csv", int(rows[i]), "lon", f"{lat[i]:g}, {lon[i]:g}",
                    f"'{s['site'].iloc[i]}' at {lat[i]:g}, {lon[i]:g} is about {d:,.0f} km from {s['jurisdiction'].iloc[i]}, "
                    f"the jurisdiction it names" + (f" (the point is in {where})" if where else "")
                    + ": is a sign missing or are lat and lon swapped? (decimal degrees, south and west negative)",
                    "a sign slip", "sites.csv:location", "location"))


FRACTION_SETTINGS = ("market.pool_fee", "policy.max_jurisdiction_share")


def percent_hint(problem: Problem) -> Problem:
    """An out-of-range fraction (uptime 95, reg_risk 15, pool_fee 2) gets the hint that it looks like a percent."""
    import dataclasses
    import re

    if (problem.file in ("sites.csv", "availability.csv") and problem.column in ("uptime", "reg_risk")
            and "out of range" in problem.message):
        text = problem.message.split(" ", 1)[0]
    elif problem.column in FRACTION_SETTINGS and ", got " in problem.message:
        text = problem.message.rsplit(", got ", 1)[1]
    else:
        return problem
    if not re.fullmatch(r"[0-9.eE+-]+", text):
        return problem
    try:
        value = float(text)
    except ValueError:
        return problem
    if 1 < value <= 100:
        name = problem.column.split(".")[-1]
        return dataclasses.replace(problem, hint=f"is it a percent? {name} is a fraction: write "
                                                 f"{_fmt(value / 100)} for {_fmt(value)}%")
    return problem
