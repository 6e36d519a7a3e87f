"""Issue 23's rerun savings give what the slower code gave: the backtest's realised scenario reused across
what-ifs equals one validated from scratch, and the map's bundled flows equal a pandas group-by of the
allocation (the implementation they replaced, kept here as the reference)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import optimizer
from optimizer.inputs.errors import ScenarioError
from optimizer.risk import backtest
from tests.streamlit_server import ROOT

CHINA = ROOT / "datasets" / "china-2021"
pytestmark = pytest.mark.skipif(not (CHINA / "history" / "market.csv").is_file(), reason="china-2021 history missing")

WHATIFS = [{}, {"policy.power_price_multiplier": 1.3}, {"market.hashprice_monthly_change": 0.01},
           {"policy.exclude_jurisdictions": ["Texas"]}, {"policy.risk_aversion": 2.5, "market.btc_price_usd": 45000.0},
           {"horizon.months": 12}]


def _outcome(make):
    try:
        s = make()
    except ScenarioError as exc:
        return "error: " + str(exc)
    return s.fingerprint(), s.name, s.warnings, repr(s.settings), [len(getattr(s, t)) for t in ("market", "sites")]


def test_realised_scenario_reused_equals_validated_afresh():
    base = optimizer.load_scenario(CHINA)
    full = backtest.load_history(CHINA / "history", base)
    backtest._REALISED.clear()
    backtest.realised_scenario(base, full)  # the tables validated once, then reused by every what-if below
    for change in WHATIFS:
        scn = base.with_overrides(change)
        # a shorter horizon: the history's later months are refused, the same way both times
        reused = _outcome(lambda: backtest.realised_scenario(scn, full))
        assert len(backtest._REALISED) == 1  # a hit: the same tables, the same history
        saved = dict(backtest._REALISED)
        backtest._REALISED.clear()
        fresh = _outcome(lambda: backtest.realised_scenario(scn, full))
        backtest._REALISED.clear()
        backtest._REALISED.update(saved)
        assert reused == fresh, change
    # the app loads the history again on every what-if: the same content is a hit too
    backtest.realised_scenario(base.with_overrides({"policy.risk_aversion": 0.5}), backtest.load_history(CHINA / "history", base))
    assert len(backtest._REALISED) == 1
    # the realised path really is the history's (not the scenario's own hashprice trend)
    real = backtest.realised_scenario(base, full)
    assert len(real.market) == base.settings.horizon.months and real.settings.market.hashprice_monthly_change != \
        base.settings.market.hashprice_monthly_change


def _flows_reference(scn: optimizer.Scenario, res: optimizer.Result) -> pd.DataFrame:
    """The map's flows as ui/mapview.py computed them before issue 23 (pandas merges and per-group aggregation)."""
    from ui.mapview import _mean_lon

    reloc = res.allocation[(res.allocation["action"] == "relocate") & (res.allocation["rigs"] > 1e-6)]
    o = scn.origins[["origin", "country", "lat", "lon"]].rename(columns={"lat": "o_lat", "lon": "o_lon"})
    s = scn.sites[["site", "jurisdiction", "lat", "lon"]].rename(columns={"lat": "s_lat", "lon": "s_lon"})
    df = reloc.drop(columns=["jurisdiction"], errors="ignore").merge(o, on="origin").merge(s, on="site")
    out = []
    for (country, jur), g in df.groupby(["country", "jurisdiction"], sort=False):
        by_origin = g.groupby("origin").agg(rigs=("rigs", "sum"), lat=("o_lat", "first"), lon=("o_lon", "first"))
        by_site = g.groupby("site").agg(mw=("mw", "sum"), rigs=("rigs", "sum"), lat=("s_lat", "first"), lon=("s_lon", "first"))
        out.append({"country": country, "jurisdiction": jur, "rigs": float(g["rigs"].sum()), "mw": float(g["mw"].sum()),
                    "src_lon": _mean_lon(by_origin["lon"], by_origin["rigs"]),
                    "src_lat": float(np.average(by_origin["lat"], weights=by_origin["rigs"])),
                    "dst_lon": _mean_lon(by_site["lon"], by_site["mw"] + 1e-9),
                    "dst_lat": float(np.average(by_site["lat"], weights=by_site["mw"] + 1e-9)),
                    "origins": sorted(by_origin["rigs"].round(6).items()), "sites": sorted(by_site["rigs"].round(6).items())})
    return pd.DataFrame(out)


@pytest.mark.parametrize("change", [{}, {"policy.power_price_multiplier": 0.5}, {"policy.integer_rigs": True},
                                    {"policy.max_jurisdiction_share": 1.0, "market.btc_price_usd": 60000.0}])
def test_map_flows_match_a_pandas_group_by(change):
    from ui import mapview

    scn = optimizer.load_scenario(CHINA).with_overrides(change)
    res = optimizer.solve(scn)
    got = mapview.flows(scn, res)
    ref = _flows_reference(scn, res)
    assert len(got) == len(ref) > 0
    ref = ref.set_index(["country", "jurisdiction"])
    for row in got.itertuples():
        want = ref.loc[(row.country, row.jurisdiction)]
        for col in ("rigs", "mw", "src_lon", "src_lat", "dst_lon", "dst_lat"):
            assert getattr(row, col) == pytest.approx(want[col], rel=1e-9, abs=1e-9), col
        # the text names every origin and site with its rigs, most rigs first
        parts = [p.rsplit(" ", 1) for p in row.origins.split(", ")]
        assert sorted(name for name, _ in parts) == [name for name, _ in want["origins"]]
        assert [float(n.replace(",", "")) for _, n in parts] == sorted((float(n.replace(",", "")) for _, n in parts), reverse=True)
        assert sorted(p.rsplit(" ", 1)[0] for p in row.sites.split(", ")) == [name for name, _ in want["sites"]]
    assert list(got["rigs"]) == sorted(got["rigs"], reverse=True)
