"""Each built-in history's numbers tie to their sources (issue 21).

- market.csv is the monthly mean of daily difficulty-implied hashprices; market_sources.csv holds the
  inputs of every month (days, blocks, fees, mean BTC price, mean difficulty, mean implied hashrate,
  the daily mean, min and max). The test recomputes the derived columns from the raw ones, the month's
  value from the monthly inputs (144 x subsidy x (1 + fee share) x BTC / hashrate, within the gap
  between a mean of products and a product of means), and holds the path to independent figures that
  Luxor's Hashrate Index published (annual averages, highs and lows, weekly values).
- resale.csv's factors are its $/TH prices over month 0's; each ESTIMATE is the log-linear
  interpolation it names; the published prices are the ones its sources quote.
- bans.csv's months are the months of its dates, and stops end inside the horizon.
- sites.csv's online_month never delays a month-0 dispatch (the default plan is unchanged).
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"
D = 365.25 / 12
DATA_END = "2025-12-29"   # the last complete day of the Coin Metrics file version read (README of each history)
HISTORIES = sorted(p for p in DATASETS.glob("*/history") if (p / "market_sources.csv").exists())
IDS = [p.parent.name for p in HISTORIES]


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def start_month(history: Path) -> tuple[int, int]:
    with (history.parent / "scenario.toml").open("rb") as fh:
        y, m = tomllib.load(fh)["horizon"]["start_month"].split("-")
    return int(y), int(m)


def horizon(history: Path) -> int:
    with (history.parent / "scenario.toml").open("rb") as fh:
        return int(tomllib.load(fh)["horizon"]["months"])


def month_index(history: Path, iso_date: str) -> int:
    y0, m0 = start_month(history)
    return (int(iso_date[:4]) - y0) * 12 + int(iso_date[5:7]) - m0


def f(x: str) -> float:
    return float(x)


def test_every_builtin_history_with_a_market_has_its_sources():
    for market in DATASETS.glob("*/history/market.csv"):
        assert (market.parent / "market_sources.csv").exists(), market
    assert "china-2021" in IDS


# ---------------------------------------------------------------- market.csv and market_sources.csv

@pytest.mark.parametrize("history", HISTORIES, ids=IDS)
def test_market_is_the_mean_recorded_in_its_sources(history):
    """Months with daily data are their recorded mean; months without (post-halving-2024 after the data set's
    last day) are ESTIMATE rows that say so and carry the last recorded mean forward, as their text states."""
    market, sources = rows(history / "market.csv"), rows(history / "market_sources.csv")
    H = horizon(history)
    assert [int(r["month"]) for r in market] == list(range(H))
    assert [int(r["month"]) for r in sources] == list(range(len(sources))) and len(sources) >= H - 6
    for m in market:
        if int(m["month"]) < len(sources):
            s = sources[int(m["month"])]
            assert f(m["hashprice_usd_th_day"]) == f(s["hashprice_mean_usd_th_day"]), m["month"]
            assert m["calendar_month"] == s["calendar_month"] and m["date"] == s["first_day"], m["month"]
            assert m["kind"] == "monthly mean" and s["source"].strip(), m["month"]
        else:
            last = sources[-1]
            assert m["kind"] == "ESTIMATE" and m["source"].startswith("ESTIMATE: not the record"), m["month"]
            assert f(m["hashprice_usd_th_day"]) == f(last["hashprice_mean_usd_th_day"]), m["month"]
            assert f"{last['hashprice_mean_usd_th_day']} on {last['last_day']}" in m["source"], m["month"]
        assert month_index(history, m["calendar_month"] + "-01") == int(m["month"])


@pytest.mark.parametrize("history", HISTORIES, ids=IDS)
def test_each_month_averages_its_own_days(history):
    """Month 0 runs from the scenario's decision day, every other month is the whole calendar month."""
    for s in rows(history / "market_sources.csv"):
        first, last = dt.date.fromisoformat(s["first_day"]), dt.date.fromisoformat(s["last_day"])
        assert int(s["days"]) == (last - first).days + 1, s["month"]
        assert first.strftime("%Y-%m") == last.strftime("%Y-%m") == s["calendar_month"], s["month"]
        # to the month's last day, except where the data set read ends (29 Dec 2025, post-halving-2024)
        assert (last + dt.timedelta(days=1)).day == 1 or s["last_day"] == DATA_END, s["month"]
        if int(s["month"]) > 0:
            assert first.day == 1, s["month"]
        # a whole day has ~144 blocks: the block count is of the right order for the day count
        assert 120 * int(s["days"]) <= int(s["blocks"]) <= 170 * int(s["days"]), s["month"]


@pytest.mark.parametrize("history", HISTORIES, ids=IDS)
def test_derived_columns_follow_from_the_raw_ones(history):
    for s in rows(history / "market_sources.csv"):
        subsidy, blocks, fees = f(s["subsidy_btc_per_block"]), int(s["blocks"]), f(s["fees_btc"])
        assert f(s["fee_share"]) == pytest.approx(fees / (subsidy * blocks), abs=1e-6), s["month"]
        # difficulty-implied hashrate = difficulty x 2^32 / 600 s (difficulty in T, hashrate in EH/s)
        implied = f(s["difficulty_mean"]) * 1e12 * 2**32 / 600 / 1e18
        assert f(s["hashrate_implied_mean_ehs"]) == pytest.approx(implied, rel=2e-4), s["month"]
        lo, mean, hi = (f(s[f"hashprice_{k}_usd_th_day"]) for k in ("min", "mean", "max"))
        assert 0 < lo <= mean <= hi, s["month"]


@pytest.mark.parametrize("history", HISTORIES, ids=IDS)
def test_monthly_inputs_reproduce_the_monthly_mean(history):
    """hashprice = 144 x subsidy x (1 + fee share) x BTC / hashrate on the month's mean inputs equals the
    mean of the daily hashprices to within 1.5 %: the gap between a mean of products and a product of
    means, which stays below 1 % in every month of both histories (the steepest rally, July 2021)."""
    for s in rows(history / "market_sources.csv"):
        hp = (144 * f(s["subsidy_btc_per_block"]) * (1 + f(s["fee_share"])) * f(s["btc_price_mean_usd"])
              / (f(s["hashrate_implied_mean_ehs"]) * 1e6))
        assert hp == pytest.approx(f(s["hashprice_mean_usd_th_day"]), rel=0.015), s["month"]


@pytest.mark.parametrize("history", HISTORIES, ids=IDS)
def test_subsidy_follows_the_halving_schedule(history):
    for s in rows(history / "market_sources.csv"):
        expected = 6.25 if s["last_day"] < "2024-04-20" else 3.125
        assert f(s["subsidy_btc_per_block"]) == expected, s["month"]


# Figures Luxor's Hashrate Index published, independent of the daily data the means come from:
# (month, kind, USD per TH/s per day, source). "low"/"high": the month's lowest/highest daily value is
# within 3 % (Luxor prices intraday, the daily data at the day close); "in": inside the month's range.
PUBLISHED = {
    "china-2021": [
        ("2021-07", "in", 0.2787, "weekly roundup 2021-07-17 (the scenario's hp0)"),
        ("2021-07", "in", 0.315, "weekly roundup 2021-07-24"),
        ("2021-08", "in", 0.3835, "weekly roundup 2021-08-07"),
        ("2021-09", "in", 0.29, "Q3-2021 report, 30 Sep"),
        ("2021-10", "in", 0.38, "weekly roundup 2021-10-24"),
        ("2022-01", "high", 0.24686, "2022 Year in Review: 2022 high on 1 Jan"),
        ("2022-10", "in", 0.072, "weekly roundup 2022-10-31"),
        ("2022-11", "low", 0.05594, "2022 Year in Review: all-time low (FTX)"),
        ("2023-01", "high", 0.078, "3-month high, 15 Jan 2023 (Wu Blockchain)"),
        ("2023-03", "in", 0.06672, "weekly roundup 2023-03-13"),
        ("2023-06", "low", 0.0625, "weekly roundup 2023-06-19: local low $62.50/PH/day"),
    ],
    "post-halving-2024": [
        ("2024-06", "in", 0.0459, "Cointelegraph (Luxor data), week of 24 Jun 2024 (the scenario's hp0)"),
        ("2024-07", "low", 0.04431, "Hashrate Index via thetraderstribune.com: all-time low $44.31/PH/day, early July 2024"),
        ("2024-07", "in", 0.044842, "Luxor hashprice index, 4 Jul 2024 6 a.m. EDT: $44.842/PH/s (morns.ca)"),
        ("2024-12", "in", 0.0651, "news.nbtc.finance: $65.10/PH/day on 15 Dec 2024"),
        ("2024-12", "in", 0.055, "news.nbtc.finance: $55/PH/day on 23 Dec 2024"),
        ("2025-01", "high", 0.06174, "noncer.info 2025-03-28 (Hashrate Index): peak $61.74 on 30 Jan 2025"),
        ("2025-03", "low", 0.04584, "noncer.info 2025-03-28 (Hashrate Index): low $45.84 on 10 Mar 2025"),
        ("2025-11", "low", 0.035, "issue 21 audit: all-time low near $35/PH/day in November 2025"),
        ("2025-11", "in", 0.0382, "CoinDesk via chaincatcher.com: Luxor, five-year low $38.2/PH/s, BTC ~$91,000 (Nov 2025)"),
    ],
}
ANNUAL_MEAN = {  # Hashrate Index 2022 Year in Review: 2022 average $123.88/PH/day
    "china-2021": [("2022", 0.12388)],
}


@pytest.mark.parametrize("history", HISTORIES, ids=IDS)
def test_path_agrees_with_what_hashrate_index_published(history):
    by = {s["calendar_month"]: s for s in rows(history / "market_sources.csv")}
    checks = PUBLISHED.get(history.parent.name, [])
    for month, kind, value, source in checks:
        s = by[month]
        lo, hi = f(s["hashprice_min_usd_th_day"]), f(s["hashprice_max_usd_th_day"])
        if kind == "low":
            assert lo == pytest.approx(value, rel=0.03), source
        elif kind == "high":
            assert hi == pytest.approx(value, rel=0.03), source
        else:
            assert lo * 0.97 <= value <= hi * 1.03, source
    market = rows(history / "market.csv")
    for year, value in ANNUAL_MEAN.get(history.parent.name, []):
        ours = [f(r["hashprice_usd_th_day"]) for r in market if r["calendar_month"].startswith(year)]
        assert len(ours) == 12 and sum(ours) / 12 == pytest.approx(value, rel=0.01), year
    assert checks or history.parent.name not in PUBLISHED


# ---------------------------------------------------------------- resale.csv

RESALE = [p for p in HISTORIES if (p / "resale.csv").exists()]


@pytest.mark.parametrize("history", RESALE, ids=[p.parent.name for p in RESALE])
def test_resale_factors_are_prices_over_month_0(history):
    table = rows(history / "resale.csv")
    assert [int(r["month"]) for r in table] == list(range(horizon(history)))
    assert table[0]["factor"] in {"1", "1.0"}
    base = f(table[0]["usd_per_th"])
    for r in table:
        assert f(r["factor"]) == pytest.approx(f(r["usd_per_th"]) / base, abs=5e-5), r["month"]
        assert 0 < f(r["factor"]) < 5, r["month"]                      # a factor, not a percent
        assert month_index(history, r["date"]) == int(r["month"]) == month_index(history, r["calendar_month"] + "-01")


@pytest.mark.parametrize("history", RESALE, ids=[p.parent.name for p in RESALE])
def test_resale_estimates_are_the_interpolation_they_state(history):
    table = rows(history / "resale.csv")
    published = {r["date"]: f(r["usd_per_th"]) for r in table if r["kind"] == "published"}
    estimates = [r for r in table if r["kind"] == "ESTIMATE"]
    assert estimates and len(published) >= 5
    for r in estimates:
        assert r["source"].startswith("ESTIMATE"), r["month"]
        (v1, d1), (v2, d2) = re.findall(r"([\d.]+) on (\d{4}-\d{2}-\d{2})", r["source"])[:2]
        assert published[d1] == float(v1) and published[d2] == float(v2), r["month"]   # anchors are rows
        t, a, b = (dt.date.fromisoformat(x) for x in (r["date"], d1, d2))
        assert a < t < b and not any(a < dt.date.fromisoformat(d) < b for d in published), r["month"]
        w = (t - a).days / (b - a).days
        expected = math.exp((1 - w) * math.log(float(v1)) + w * math.log(float(v2)))
        assert f(r["usd_per_th"]) == pytest.approx(expected, abs=0.006), r["month"]


def test_china_2021_resale_prices_are_the_quoted_ones():
    """Each published price is the one its source quotes (a midpoint where the source gives a range)."""
    table = {r["calendar_month"]: r for r in rows(DATASETS / "china-2021" / "history" / "resale.csv")}
    quoted = {"2021-07": 62.04, "2021-09": 93.68, "2022-04": 80.0, "2022-06": (22 + 28) / 2,
              "2022-07": (20 + 23) / 2, "2022-12": 15.71, "2023-06": 13.25}
    for month, value in quoted.items():
        assert table[month]["kind"] == "published" and f(table[month]["usd_per_th"]) == value, month
    assert sum(r["kind"] == "published" for r in table.values()) == len(quoted)
    # issue 20's "the second-hand price rose about 50 % between July and September 2021" ($62 -> $94)
    assert f(table["2021-09"]["factor"]) == pytest.approx(93.68 / 62.04, abs=1e-4)


# ---------------------------------------------------------------- bans.csv

@pytest.mark.parametrize("history", HISTORIES, ids=IDS)
def test_stops_are_dated_and_end_inside_the_horizon(history):
    H = horizon(history)
    jurisdictions = {s["jurisdiction"] for s in rows(history.parent / "sites.csv")}
    bans = rows(history / "bans.csv")
    assert len({b["jurisdiction"] for b in bans}) == len(bans)           # one row per jurisdiction (SPEC 7)
    for b in bans:
        assert b["jurisdiction"] in jurisdictions, b["jurisdiction"]
        assert int(b["ban_month"]) == month_index(history, b["date"]), b["jurisdiction"]
        end = int(b["end_month"]) if b.get("end_month", "").strip() else H
        assert int(b["ban_month"]) < end <= H, b["jurisdiction"]
        if b.get("end_date", "").strip():
            assert end == min(H, month_index(history, b["end_date"])), b["jurisdiction"]
        assert b["source"].strip() and b["note"].strip()


def test_china_2021_stops_are_the_recorded_ones():
    bans = {b["jurisdiction"]: b for b in rows(DATASETS / "china-2021" / "history" / "bans.csv")}
    assert (bans["Kazakhstan"]["date"], bans["Kazakhstan"]["end_date"]) == ("2022-01-24", "2022-02-01")  # KEGOC memo
    assert (int(bans["Kazakhstan"]["ban_month"]), int(bans["Kazakhstan"]["end_month"])) == (6, 7)
    assert (int(bans["Iran"]["ban_month"]), int(bans["Iran"]["end_month"])) == (5, 8)        # Dec 2021 - early Mar 2022


# ---------------------------------------------------------------- sites.csv online_month

def test_post_halving_2024_stops_are_the_recorded_ones():
    bans = {b["jurisdiction"]: b for b in rows(DATASETS / "post-halving-2024" / "history" / "bans.csv")}
    assert (int(bans["Russia"]["ban_month"]), bans["Russia"]["end_month"]) == (7, "")          # 1 Jan 2025, then all year
    assert (int(bans["Kyrgyzstan"]["ban_month"]), int(bans["Kyrgyzstan"]["end_month"])) == (17, 22)  # 12 Nov 2025 - Mar 2026


def test_china_2021_online_month_never_delays_a_month_0_dispatch():
    """A = max(lead, D x online_month) = lead for every lane and fallback pair: the default plan is unchanged."""
    folder = DATASETS / "china-2021"
    with (folder / "scenario.toml").open("rb") as fh:
        lg = tomllib.load(fh)["logistics"]
    lanes = rows(folder / "lanes.csv")
    origins = {o["origin"]: o for o in rows(folder / "origins.csv")}
    for s in rows(folder / "sites.csv"):
        om = int(s["online_month"])
        assert om == (5 if s["kind"] == "self-build" else 2), s["site"]
        for o in origins.values():
            lane = next((l for l in lanes if l["origin"] == o["origin"] and l["site"] == s["site"]), None)
            if lane:
                lead = f(lane["lead_days"])
            else:
                p1, p2 = math.radians(f(o["lat"])), math.radians(f(s["lat"]))
                dl = math.radians(f(s["lon"]) - f(o["lon"]))
                dist = 2 * 6371.0 * math.asin(math.sqrt(math.sin((p2 - p1) / 2) ** 2
                                                        + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2))
                lead = lg["lead_base_days"] + lg["lead_days_per_1000km"] * dist / 1000
            assert D * om <= lead, (s["site"], o["origin"])
