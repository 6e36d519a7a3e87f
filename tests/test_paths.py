"""SPEC section 6, paths over the horizon: hand-worked months (a halving, a pool fee, drifts,
escalating power, an explicit market.csv path, the real halving schedule), the rules on which
keys may be combined, and a Hypothesis property test against tests/reference_model.py."""
from __future__ import annotations

import datetime
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import optimizer
from optimizer import analysis, economics
from tests import reference_model, scenario_builder as sb
from tests.test_property import scenarios

ROOT = Path(__file__).resolve().parents[1]
D = 365.25 / 12
POWER = 3 * 24 * D * 0.05  # 3 kW at $0.05/kWh for a month: 109.575


def one_rig(months: int = 6, site: dict | None = None, **sections) -> dict:
    """One rig of 100 TH/s and 3,000 W at one site with $0.05/kWh power, arriving at once,
    no risk, no discounting: every month's terms can be written down by hand."""
    sections.setdefault("market", {})
    sections["market"] = {"hashprice_usd_th_day": 0.1, "hashprice_monthly_change": 0.0, **sections["market"]}
    sections["horizon"] = {"months": months, "discount_rate": 0.0, "salvage_fraction": 0.25, **sections.get("horizon", {})}
    return sb.scenario(
        rigs=[{"model": "A", "hashrate_ths": 100, "power_w": 3000, "resale_usd": 1000}],
        origins=[{"origin": "O", "country": "X", "lat": 0, "lon": 0}],
        fleet=[{"origin": "O", "model": "A", "count": 10}],
        sites=[{"site": "S", "jurisdiction": "J", "lat": 1, "lon": 1, "capacity_mw": 1, "power_usd_kwh": 0.05,
                **(site or {})}],
        lanes=[{"origin": "O", "site": "S", "ship_usd_per_rig": 100, "lead_days": 0}],
        **sections,
    )


def load(sc: dict, tmp_path: Path, **overrides) -> optimizer.Scenario:
    return optimizer.load_scenario(sb.write(sc, tmp_path / f"s{len(list(tmp_path.iterdir()))}"), overrides)


def value(scn) -> float:
    return float(economics.compute(scn).value_usd[0, 0])


# ---------------------------------------------------------------- hand-worked months


def test_halving_and_pool_fee_by_hand(tmp_path):
    # fee_share 0.25: after the halving in month 3 the reward is (0.5 + 0.25) / 1.25 = 0.6 of before,
    # so hp goes 0.1, 0.1, 0.1, 0.06, 0.06, 0.06; the pool keeps 2%.
    scn = load(one_rig(market={"fee_share": 0.25, "halving_months": [3], "pool_fee": 0.02}), tmp_path)
    rev_before, rev_after = 100 * 0.1 * 0.98 * D, 100 * 0.06 * 0.98 * D  # 298.2875, 178.9725
    ops = 3 * (rev_before - POWER) + 3 * (rev_after - POWER)  # 774.33
    assert ops == pytest.approx(774.33)
    assert value(scn) == pytest.approx(ops + 250 - 100, rel=1e-12)
    b = analysis.breakdown(scn, "O", "A", "S")
    assert list(b["monthly"]["hashprice_usd_th_day"]) == pytest.approx([0.1, 0.1, 0.1, 0.06, 0.06, 0.06], rel=1e-12)
    assert b["hashprice_usd_th_day"] == pytest.approx(0.1)
    res = optimizer.solve(scn)
    assert res.summary["hashprice_usd_th_day"] == pytest.approx(0.1)
    # V = 924.33 < 1,000 for selling: the halving and the pool fee tip all ten rigs into a sale
    assert res.summary["objective_usd"] == pytest.approx(10 * 1000, rel=1e-9) and res.summary["rigs_sold"] == 10
    # without them relocating is worth 6 * 194.8 + 150 = 1,318.8 a rig
    plain = load(one_rig(market={"fee_share": 0.25}), tmp_path)
    assert optimizer.solve(plain).summary["objective_usd"] == pytest.approx(10 * (6 * (100 * 0.1 * D - POWER) + 150))


def test_btc_drift_with_a_halving_by_hand(tmp_path):
    # 144 * 6.25 * (0.5^k + 0.5) * 40,000 * 1.1^t / (100 * 1e6): 0.54, 0.594, then halved to 0.4356, 0.47916
    market = {"hashprice_usd_th_day": None, "hashprice_monthly_change": -0.02, "btc_price_usd": 40000.0,
              "network_hashrate_ehs": 100.0, "block_subsidy_btc": 6.25, "fee_share": 0.5,
              "btc_price_monthly_change": 0.1, "halving_months": [2]}
    sc = one_rig(months=4, market=market)
    del sc["market"]["hashprice_monthly_change"]  # must be absent with a drift
    scn = load(sc, tmp_path)
    hp = [0.54, 0.594, 0.4356, 0.47916]
    assert list(economics.hashprice(scn)) == pytest.approx(hp, rel=1e-12)
    assert value(scn) == pytest.approx(sum(100 * h * D - POWER for h in hp) + 150, rel=1e-12)


def test_network_drift_alone_counts_btc_as_flat(tmp_path):
    market = {"hashprice_usd_th_day": None, "btc_price_usd": 50000.0, "network_hashrate_ehs": 200.0,
              "block_subsidy_btc": 3.125, "fee_share": 0.1, "network_hashrate_monthly_change": 0.25}
    sc = one_rig(months=3, market=market)
    del sc["market"]["hashprice_monthly_change"]
    scn = load(sc, tmp_path)
    hp0 = 144 * 3.125 * 1.1 * 50000 / (200 * 1e6)  # 0.12375
    assert list(economics.hashprice(scn)) == pytest.approx([hp0, hp0 / 1.25, hp0 / 1.25 ** 2], rel=1e-12)


def test_power_escalation_switches_the_rig_off_by_hand(tmp_path):
    # power x 1.5 each month: 109.575, 164.3625, 246.54375, 369.8 > revenue 304.375 from month 3 on
    scn = load(one_rig(months=5, site={"power_monthly_change": 0.5}), tmp_path)
    rev = 100 * 0.1 * D
    ops = (rev - POWER) + (rev - 1.5 * POWER) + (rev - 2.25 * POWER)
    assert ops == pytest.approx(392.64375)
    assert value(scn) == pytest.approx(ops + 150, rel=1e-12)
    b = analysis.breakdown(scn, "O", "A", "S")
    assert list(b["monthly"]["power_usd"]) == pytest.approx([POWER * 1.5 ** t for t in range(5)], rel=1e-12)
    assert list(b["monthly"]["margin_usd"]) == pytest.approx([rev - POWER * 1.5 ** t if t < 3 else 0.0 for t in range(5)])
    assert b["power_pv_usd"] == pytest.approx(POWER * (1 + 1.5 + 2.25))  # counted only in months it runs


def test_market_csv_path_by_hand(tmp_path):
    sc = one_rig(months=3, market={"hashprice_usd_th_day": None})
    del sc["market"]["hashprice_monthly_change"]
    sc["market_path"] = {0: 0.1, 1: 0.2, 2: 0.0}
    scn = load(sc, tmp_path)
    ops = (100 * 0.1 * D - POWER) + (100 * 0.2 * D - POWER) + 0.0  # month 2 earns nothing: switched off
    assert value(scn) == pytest.approx(ops + 150, rel=1e-12)
    assert optimizer.solve(scn).summary["hashprice_usd_th_day"] == pytest.approx(0.1)
    # the scenario writes market.csv back and loads to the same value; zips too
    again = optimizer.load_scenario(scn.write(tmp_path / "copy"))
    assert value(again) == pytest.approx(value(scn), rel=1e-15)
    assert value(optimizer.scenario_from_files(optimizer.read_zip(scn.to_zip()))) == pytest.approx(value(scn), rel=1e-15)
    # with_tables validates an edited path
    market = scn.market.copy()
    market.loc[market["month"] == 2, "hashprice_usd_th_day"] = 0.3
    assert value(scn.with_tables(market=market)) > value(scn)


def test_defaults_reproduce_section_2_exactly(tmp_path):
    """Written-out defaults of every new key give bit-for-bit the values of a scenario without them."""
    plain = load(one_rig(months=24, market={"hashprice_monthly_change": -0.02}), tmp_path)
    explicit = load(one_rig(months=24, site={"power_monthly_change": 0.0},
                            market={"hashprice_monthly_change": -0.02, "pool_fee": 0.0, "halving_months": []}), tmp_path)
    assert (economics.compute(plain).value_usd == economics.compute(explicit).value_usd).all()


# ---------------------------------------------------------------- the real halving schedule


@pytest.mark.parametrize("start, months, expected", [
    ("2024-01", 24, [3]),          # 20 April 2024, block 840,000
    ("2024-04", 12, [0]),          # the month that contains it
    ("2024-05", 12, []),
    ("2020-01", 12, [4]),          # 11 May 2020, block 630,000
    ("2021-07", 24, []),
    ("2021-07", 84, [33, 81]),     # 2024-04, then 1,458.33 days later: 17 April 2028
])
def test_start_month_follows_the_halving_schedule(start, months, expected):
    s = optimizer.inputs.settings.build_settings({"horizon": {"start_month": start, "months": months}})
    assert list(economics.halving_months(s)) == expected


def test_estimated_halvings_are_210000_blocks_of_10_minutes_apart():
    day = datetime.date(2024, 4, 20)
    for n, year in ((1, 2028), (2, 2032), (3, 2036)):
        estimate = day + datetime.timedelta(days=n * 210_000 * 10 / 1440)
        start = f"{year}-01"
        s = optimizer.inputs.settings.build_settings({"horizon": {"start_month": start, "months": 12}})
        assert list(economics.halving_months(s)) == [estimate.month - 1], (n, estimate)


def test_explicit_halving_months_win_over_start_month():
    s = optimizer.inputs.settings.build_settings({"horizon": {"start_month": "2024-01", "months": 24},
                                           "market": {"halving_months": [10]}})
    assert list(economics.halving_months(s)) == [10]


# ---------------------------------------------------------------- which keys go together: bad input names the key


def problems_of(tmp_path, sc: dict, **overrides) -> str:
    folder = sb.write(sc, tmp_path / f"bad{len(list(tmp_path.iterdir()))}")
    proc = subprocess.run([sys.executable, "-m", "optimizer", "validate", str(folder),
                           *[a for k, v in overrides.items() for a in ("--set", f"{k}={v}")]],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr


def test_market_csv_excludes_the_other_hashprice_keys(tmp_path):
    sc = one_rig(months=3)
    sc["market_path"] = {0: 0.1, 1: 0.1, 2: 0.1}
    err = problems_of(tmp_path, sc)  # one_rig sets hashprice_usd_th_day
    assert "scenario.toml" in err and "'market.hashprice_usd_th_day'" in err and "market.csv" in err
    sc["market"]["hashprice_usd_th_day"] = None
    sc["market"]["hashprice_monthly_change"] = -0.02  # the default: counts as absent
    for key, v in (("market.btc_price_monthly_change", "0.01"), ("market.network_hashrate_monthly_change", "0.01"),
                   ("market.halving_months", "[1]"), ("market.hashprice_monthly_change", "0.01")):
        err = problems_of(tmp_path, sc, **{key: v})
        assert f"'{key}'" in err and "market.csv" in err, (key, err)


def test_drifts_exclude_a_fixed_hashprice_and_its_drift(tmp_path):
    err = problems_of(tmp_path, one_rig(), **{"market.btc_price_monthly_change": "0.01"})
    assert "'market.hashprice_usd_th_day'" in err
    sc = one_rig(market={"hashprice_usd_th_day": None, "hashprice_monthly_change": -0.03})
    err = problems_of(tmp_path, sc, **{"market.network_hashrate_monthly_change": "0.02"})
    assert "'market.hashprice_monthly_change'" in err


@pytest.mark.parametrize("key, value, words", [
    ("market.halving_months", "[6]", "beyond the horizon"),
    ("market.halving_months", "[3, 1]", "ascending"),
    ("market.pool_fee", "1.0", "in [0, 1)"),
    ("market.btc_price_monthly_change", "-1", "> -1"),
    ("horizon.start_month", '"2021-13"', "YYYY-MM"),
    ("horizon.start_month", '"July 2021"', "YYYY-MM"),
])
def test_bad_path_settings_name_the_key(tmp_path, key, value, words):
    err = problems_of(tmp_path, one_rig(market={"hashprice_usd_th_day": None}), **{key: value})
    assert f"'{key}'" in err and words in err, err


def test_bad_market_csv_names_file_row_and_column(tmp_path):
    sc = one_rig(months=3, market={"hashprice_usd_th_day": None})
    del sc["market"]["hashprice_monthly_change"]
    sc["market_path"] = {0: 0.1, 1: -0.2, 2: 0.1}
    err = problems_of(tmp_path, sc)
    assert "market.csv, row 3, column 'hashprice_usd_th_day'" in err
    sc["market_path"] = {0: 0.1, 2: 0.1, 5: 0.1}
    err = problems_of(tmp_path, sc)
    assert "market.csv, row 4, column 'month'" in err and "beyond the horizon" in err
    assert "market.csv, column 'month'" in err and "1" in err  # month 1 is missing


def test_explain_monthly_prints_each_month(tmp_path):
    sc = one_rig(months=6, market={"fee_share": 0.25, "halving_months": [3], "pool_fee": 0.02})
    folder = sb.write(sc, tmp_path / "scn")
    proc = subprocess.run([sys.executable, "-m", "optimizer", "explain", str(folder), "--site", "S", "--monthly"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line.strip()[:1].isdigit() and len(line.split()) == 9]
    assert [int(r[0]) for r in rows] == list(range(6))
    assert [float(r[1]) for r in rows] == pytest.approx([0.1] * 3 + [0.06] * 3)
    assert float(rows[0][2].replace(",", "")) == pytest.approx(298.29, abs=0.005)  # revenue after the pool fee
    assert float(rows[3][8].replace(",", "")) == pytest.approx(178.9725 - POWER, abs=0.005)  # margin after the halving


# ---------------------------------------------------------------- property test against the independent model


@st.composite
def path_scenarios(draw):
    sc = draw(scenarios(mip=False))
    H = sc["horizon"]["months"]
    mode = draw(st.sampled_from(["g", "drift", "market"]))
    mk = sc["market"]
    mk["pool_fee"] = draw(st.sampled_from([0.0, 0.02, 0.3]))
    if draw(st.booleans()):
        mk["fee_share"] = draw(st.floats(0, 0.5))
    if mode != "market" and draw(st.booleans()):
        mk["halving_months"] = sorted(draw(st.sets(st.integers(0, H - 1), max_size=2)))
    if mode == "drift":
        del mk["hashprice_monthly_change"]
        mk["btc_price_monthly_change"] = draw(st.one_of(st.none(), st.floats(-0.1, 0.1)))
        mk["network_hashrate_monthly_change"] = draw(st.floats(-0.05, 0.1)) if mk["btc_price_monthly_change"] is None \
            else draw(st.one_of(st.none(), st.floats(-0.05, 0.1)))
    elif mode == "market":
        del mk["hashprice_monthly_change"]
        sc["market_path"] = {t: draw(st.floats(0, 0.5)) for t in range(H)}
    elif draw(st.booleans()):
        mk["hashprice_usd_th_day"] = draw(st.floats(0.01, 0.5))
    for s in sc["sites"]:
        s["power_monthly_change"] = draw(st.sampled_from([0.0, 0.0, -0.02, 0.01, 0.05]))
        s["mgmt_fee_usd_kwh"] = draw(st.sampled_from([0.0, 0.0, 0.004, 0.03]))  # a host's fee per kWh
    return sc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(sc=path_scenarios())
def test_section_6_values_and_optimum_match_the_independent_model(sc):
    expected = reference_model.per_rig_values(sc)
    with tempfile.TemporaryDirectory() as tmp:
        scn = optimizer.load_scenario(sb.write(sc, Path(tmp) / "s"))
    econ = economics.compute(scn)
    for g, (o, m) in enumerate(zip(economics.groups(scn)["origin"], economics.groups(scn)["model"])):
        for s, site in enumerate(econ.sites):
            assert econ.value_usd[g, s] == pytest.approx(expected["V"][(m, o, site)], rel=1e-9, abs=1e-7)
    assert econ.hp0 == pytest.approx(expected["hp0"], rel=1e-12)
    optimum = reference_model.optimum(sc)
    if optimum is None:
        with pytest.raises(optimizer.InfeasibleError):
            optimizer.solve(scn)
    else:
        assert optimizer.solve(scn).summary["objective_usd"] == pytest.approx(optimum, rel=1e-6, abs=1e-2)
