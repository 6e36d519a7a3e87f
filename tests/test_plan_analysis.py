"""The analyses the app, the CLI and the report read (``optimizer.analysis.timeline``, ``site_economics``,
``breakeven``, ``sensitivity``), each held against an independent path: the plan's own figures,
``optimizer.breakdown`` (one rig, term by term), and fresh solves."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import optimizer
from optimizer import economics as E
from optimizer.analysis import sensitivity, site_economics, timeline

CHINA = Path(__file__).resolve().parents[1] / "datasets" / "china-2021"


@pytest.fixture(scope="module")
def china() -> optimizer.Scenario:
    return optimizer.load_scenario(CHINA)


@pytest.fixture(scope="module")
def china_plan(china) -> optimizer.Result:
    return optimizer.solve(china)


def test_timeline_batches_and_cash_rederived_from_the_plan(china):
    res = optimizer.solve(china)
    b = timeline.batches(china, res)
    reloc = res.allocation[res.allocation["action"] == "relocate"]
    assert b["rigs"].sum() == pytest.approx(reloc["rigs"].sum())
    lanes = china.lanes.set_index(["origin", "site"])["lead_days"]
    for r in b.itertuples():  # a quoted lane's lead time, else the distance formula
        if (r.origin, r.site) in lanes.index:
            assert r.hashing_day == pytest.approx(lanes[(r.origin, r.site)])
        else:
            lg = china.settings.logistics
            assert r.hashing_day == pytest.approx(lg.lead_base_days + lg.lead_days_per_1000km * r.distance_km / 1000)
    m = timeline.monthly(china, res)
    assert len(m) == china.settings.horizon.months
    # the cash line ends at the plan value plus the ban-risk charge (a cost in the value, not a cash flow)
    penalty = sum(r.rigs * optimizer.breakdown(china, r.origin, r.model, r.site)["risk_penalty_usd"]
                  for r in reloc.itertuples())
    assert m["plan_cum_usd"].iloc[-1] == pytest.approx(res.summary["objective_usd"] + penalty, rel=1e-9)
    assert (m["sell_now_usd"] == res.summary["sell_all_usd"]).all()
    # nothing hashes before its batch lands
    first_day = b["hashing_day"].min()
    assert m.loc[m["month"] * E.DAYS_PER_MONTH <= first_day, "hashrate_online_ehs"].sum() == 0


def test_site_break_even_prices_make_relocating_worth_selling(china):
    res = optimizer.solve(china)
    se = site_economics.site_economics(china, res)
    mix = site_economics.site_mix(china, res)
    g = E.groups(china)
    finite = [j for j in range(len(se)) if pd.notna(se.loc[j, "breakeven_power_usd_kwh"])
              and pd.notna(se.loc[j, "breakeven_hashprice"])]
    assert len(finite) >= 2
    # a site not worth it even with free power has no break-even power price, and one above today's hashprice
    for j in set(range(len(se))) - set(finite):
        assert se.loc[j, "breakeven_hashprice"] > optimizer.hashprice_today(china)
    for j in (finite[0], finite[-1]):
        site = china.sites.loc[j, "site"]

        def advantage(scn: optimizer.Scenario) -> float:
            return sum(mix.weights[k, j] * (optimizer.breakdown(scn, g.origin[k], g.model[k], site)["value_relocate_usd"]
                                            - optimizer.breakdown(scn, g.origin[k], g.model[k], site)["value_sell_usd"])
                       for k in range(len(g)))

        sites = china.sites.copy()
        sites.loc[j, "power_usd_kwh"] = se.loc[j, "breakeven_power_usd_kwh"]
        scale = float(mix.weights[:, j].sum() * 1000)  # USD per thousand rigs is the tolerance
        assert abs(advantage(china.with_tables(sites=sites))) < 1e-3 * scale
        hp = china.with_overrides({"market.hashprice_usd_th_day": float(se.loc[j, "breakeven_hashprice"])})
        assert abs(advantage(hp)) < 1e-3 * scale
    # the cost stack per MW: revenue - costs + resale left = value, per MW of the rigs there
    costs = se[site_economics.COST_TERMS].sum(axis=1)
    assert (se["value"] - (se["revenue"] - costs + se["resale left"])).abs().max() < 1e-6


def test_tornado_moves_each_driver_and_resolves(china):
    df = sensitivity.tornado(china, functools.partial(optimizer.solve, details=False))
    assert set(df["driver"]) == {"BTC price", "Hashrate growth", "Power prices", "Lead times", "Resale prices", "Ban risk"}
    base = optimizer.solve(china).summary["objective_usd"]
    assert (df["base_usd"] == base).all()
    row = df.set_index("driver").loc["BTC price"]
    assert row["high_usd"] == pytest.approx(optimizer.solve(
        china.with_overrides({"market.btc_price_usd": china.settings.market.btc_price_usd * 1.3})).summary["objective_usd"])
    # dearer power and longer lead times can only lower the best plan's value
    assert df.set_index("driver").loc["Power prices", "high_usd"] <= base + 1e-6
    assert df.set_index("driver").loc["Lead times", "high_usd"] <= base + 1e-6
    assert list(df["swing_usd"]) == sorted(df["swing_usd"], reverse=True)


BREAKDOWN_OF = {"revenue": "revenue_pv_usd", "power": "power_pv_usd", "hosting": "hosting_pv_usd",
                "freight": "freight_usd", "duty": "duty_usd", "risk charge": "risk_penalty_usd",
                "resale left": "terminal_usd", "sell now": "value_sell_usd", "value": "value_relocate_usd"}


def test_a_site_economics_row_is_its_rigs_breakdowns_per_mw(china, china_plan):
    """Each term of a site's row = sum over its rigs of optimizer.breakdown's term / the MW those rigs draw,
    with the rigs read from the allocation (used site) or the fleet (unused site), not from site_mix."""
    se = site_economics.site_economics(china, china_plan).set_index("site")
    alloc = china_plan.allocation
    moved = alloc[(alloc["action"] == "relocate") & (alloc["rigs"] > 1e-6)]
    used_site = moved.groupby("site")["rigs"].sum().idxmax()
    unused_site = next(s for s in china.sites["site"] if s not in set(moved["site"]))
    fleet = china.fleet[china.fleet["count"] > 0]
    power_w = china.rigs.set_index("model")["power_w"]
    for site, rigs in ((used_site, moved[moved["site"] == used_site].groupby(["origin", "model"])["rigs"].sum()),
                       (unused_site, fleet.set_index(["origin", "model"])["count"].astype(float))):
        pue = float(china.sites.set_index("site").loc[site, "pue"])
        mw = sum(n * power_w[model] * pue / 1e6 for (_, model), n in rigs.items())
        expected = {term: 0.0 for term in BREAKDOWN_OF}
        for (origin, model), n in rigs.items():
            b = optimizer.breakdown(china, origin, model, site)
            for term, key in BREAKDOWN_OF.items():
                expected[term] += n * b[key] / mw
        row = se.loc[site]
        assert bool(row["used"]) == (site == used_site)
        for term, value in expected.items():
            assert row[term] == pytest.approx(value, rel=1e-9, abs=1e-6), (site, term)


def test_pair_terms_add_up_to_the_models_values(china):
    econ = E.compute(china)
    t = site_economics.pair_terms(china, econ)
    np.testing.assert_allclose(t["revenue"] - t["power"] - t["hosting"], econ.ops_usd, rtol=1e-9, atol=1e-6)
    value = t["revenue"] - sum(t[c] for c in site_economics.COST_TERMS) + t["resale left"]
    np.testing.assert_allclose(value, econ.value_usd, rtol=1e-9, atol=1e-6)


def test_a_plan_that_moves_nothing(china):
    """Nothing relocates below the break-even coin price: no batches, a flat cash line at selling now, and
    every site's figures for the whole fleet's mix."""
    scn = china.with_overrides({"market.btc_price_usd": 1000.0})
    res = optimizer.solve(scn)
    assert res.summary["rigs_relocated"] < 0.5
    assert timeline.batches(scn, res).empty
    m = timeline.monthly(scn, res)
    assert (m["hashrate_online_ehs"] == 0).all() and (m["risk_charge_usd"] == 0).all()
    assert m["plan_cum_usd"].iloc[-1] == pytest.approx(res.summary["objective_usd"], rel=1e-9)
    mix = site_economics.site_mix(scn, res)
    assert not mix.used.any()
    fleet = E.groups(scn)["count"].to_numpy(float)
    np.testing.assert_array_equal(mix.weights, np.repeat(fleet[:, None], len(scn.sites), axis=1))
    se = site_economics.site_economics(scn, res)
    assert len(se) == len(scn.sites) and se["value"].notna().all()
