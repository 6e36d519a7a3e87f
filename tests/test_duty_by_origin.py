"""Import duty by the country a rig was made in (rigs.csv made_in, duty.csv), worked by hand.

Two models at one origin, two sites: "TX" in Texas (sites.csv import_duty 0.026, the general US duty)
and "NO" in Norway (0). duty.csv: Texas/China 0.576 and Texas/Malaysia 0.216 (the US rates from
7 August 2025). Model A (made in China, resale $1,000) pays 0.576 x 1000 = $576 arriving in Texas;
model B (made in Malaysia, resale $500) pays 0.216 x 500 = $108; in Norway both pay nothing; a third
model C with no made_in pays the site's 0.026.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import optimizer
from optimizer import economics
from optimizer.inputs.check import check
from tests import scenario_builder as sb
from tests.test_property import COMMON, scenarios

ROOT = Path(__file__).resolve().parents[1]


def two_models(months: int = 6) -> dict:
    return sb.scenario(
        rigs=[{"model": "A", "hashrate_ths": 100, "power_w": 3000, "resale_usd": 1000},
              {"model": "B", "hashrate_ths": 60, "power_w": 2000, "resale_usd": 500},
              {"model": "C", "hashrate_ths": 50, "power_w": 2500, "resale_usd": 300}],
        origins=[{"origin": "O", "country": "Kyrgyzstan", "lat": 42, "lon": 75}],
        fleet=[{"origin": "O", "model": m, "count": 10} for m in "ABC"],
        sites=[{"site": "TX", "jurisdiction": "Texas", "lat": 31, "lon": -100, "capacity_mw": 1, "power_usd_kwh": 0.05,
                "import_duty": 0.026},
               {"site": "NO", "jurisdiction": "Norway", "lat": 66, "lon": 14, "capacity_mw": 1, "power_usd_kwh": 0.05}],
        lanes=[{"origin": "O", "site": "TX", "ship_usd_per_rig": 60, "lead_days": 0},
               {"origin": "O", "site": "NO", "ship_usd_per_rig": 40, "lead_days": 0}],
        market={"hashprice_usd_th_day": 0.1, "hashprice_monthly_change": 0.0},
        horizon={"months": months, "discount_rate": 0.0, "salvage_fraction": 0.25},
    )


def write(sc: dict, folder: Path, made_in: dict | None = None, duty: list | None = None) -> Path:
    """The scenario folder, with a made_in column in rigs.csv (model -> country) and a duty.csv when given."""
    sb.write(sc, folder)
    if made_in is not None:
        rigs = pd.read_csv(folder / "rigs.csv", dtype=str, keep_default_na=False)
        rigs["made_in"] = [made_in.get(m, "") for m in rigs["model"]]
        rigs.to_csv(folder / "rigs.csv", index=False)
    if duty is not None:
        with (folder / "duty.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["jurisdiction", "made_in", "import_duty"])
            w.writerows(duty)
    return folder


MADE = {"A": "China", "B": "Malaysia"}
US_2025 = [("Texas", "China", "0.576"), ("Texas", "Malaysia", "0.216")]


def test_duty_by_country_of_manufacture_by_hand(tmp_path):
    plain = optimizer.load_scenario(write(two_models(), tmp_path / "plain"))
    made = optimizer.load_scenario(write(two_models(), tmp_path / "made", MADE, US_2025))
    ep, em = economics.compute(plain), economics.compute(made)
    # groups are the fleet rows A, B, C; sites TX, NO
    assert em.upfront_usd[:, 0] == pytest.approx([60 + 576.0, 60 + 108.0, 60 + 0.026 * 300], rel=1e-12)
    assert em.upfront_usd[:, 1] == pytest.approx([40.0, 40.0, 40.0], rel=1e-12)
    assert ep.upfront_usd[:, 0] == pytest.approx([60 + 26.0, 60 + 13.0, 60 + 7.8], rel=1e-12)
    # only the duty moved: V falls by exactly the extra duty, ops and the penalty are untouched
    assert em.value_usd - ep.value_usd == pytest.approx(np.array([[-550.0, 0], [-95.0, 0], [0, 0]]), abs=1e-9)
    assert np.array_equal(em.ops_usd, ep.ops_usd)
    terms = economics.pair_terms(made, np.array([0, 1]), np.array([0, 0]), np.array([0, 0]))
    assert terms.duty_usd == pytest.approx([576.0, 108.0], rel=1e-12)
    # the duty table the engine reads: (model, site)
    assert economics.duty_share(made) == pytest.approx(np.array([[0.576, 0.0], [0.216, 0.0], [0.026, 0.0]]))


def test_the_plan_pays_the_duty_of_each_rigs_country(tmp_path):
    """Texas has room for every rig; Norway for none. A Chinese-made rig is then worth less in Texas than sold,
    and the plan sells A while it keeps shipping B (Malaysian) to Texas: checked against V by hand."""
    sc = two_models(months=6)
    sc["sites"][1]["capacity_mw"] = 0.0
    made = optimizer.load_scenario(write(sc, tmp_path / "m", MADE, US_2025))
    # per month in Texas: A earns 100 x 0.1 x D - 3 x 24 x D x 0.05; B 60 x 0.1 x D - 2 x 24 x D x 0.05
    D = 365.25 / 12
    ops_a, ops_b = 6 * (10 * D - 3.6 * D), 6 * (6 * D - 2.4 * D)
    v_a = ops_a + 250 - 60 - 576  # 1168.83 + 250 - 636 = 782.83 < 1000: sell
    v_b = ops_b + 125 - 60 - 108  # 657.45 + 125 - 168 = 614.45 > 500: ship
    assert economics.compute(made).value_usd[:2, 0] == pytest.approx([v_a, v_b], rel=1e-12)
    res = optimizer.solve(made)
    alloc = res.allocation.set_index(["action", "model"])["rigs"]
    assert alloc[("sell", "A")] == pytest.approx(10) and alloc[("relocate", "B")] == pytest.approx(10)
    # without duty.csv (the site's 2.6%) A is worth 1168.83 + 250 - 86 = 1332.83 > 1000 and goes to Texas too
    plain = optimizer.load_scenario(write(sc, tmp_path / "p"))
    assert optimizer.solve(plain).allocation.set_index(["action", "model"])["rigs"][("relocate", "A")] == pytest.approx(10)


def test_monthly_plan_with_one_dispatch_month_equals_the_static_plan_with_duty(tmp_path):
    scn = optimizer.load_scenario(write(two_models(months=5), tmp_path / "m", MADE, US_2025))
    static = optimizer.solve(scn).summary["objective_usd"]
    monthly = optimizer.solve(scn.with_overrides({"monthly.enabled": True, "monthly.dispatch_months": [0],
                                                  "monthly.sell_months": [0]})).summary["objective_usd"]
    assert monthly == pytest.approx(static, rel=1e-9)


def run_cli(folder: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optimizer", "solve", str(folder), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize("row, column, words", [
    (("Texass", "China", "0.576"), "jurisdiction", "unknown jurisdiction 'Texass'"),
    (("Texas", "China", "57.6%"), "import_duty", "a fraction"),
    (("Texas", "China", "576"), "import_duty", "implausibly large"),
    (("Texas", "China", "-0.1"), "import_duty", "out of range"),
])
def test_bad_duty_csv_exits_2_naming_file_row_and_column(tmp_path, row, column, words):
    folder = write(two_models(), tmp_path / "bad", MADE, [US_2025[1], row])
    proc = run_cli(folder, tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    assert "duty.csv" in proc.stderr and "row 3" in proc.stderr and column in proc.stderr and words in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_percent_and_a_country_no_rig_has_are_warned(tmp_path):
    folder = write(two_models(), tmp_path / "w", MADE, [("Texas", "China", "57.6"), ("Texas", "Malaysa", "0.216")])
    _, warnings = check(optimizer.load_scenario(folder))
    text = "\n".join(map(str, warnings))
    assert "duty.csv" in text and "57.6 for rigs made in 'China'" in text and "0.576 as a fraction" in text
    assert "no rig of rigs.csv is made in 'Malaysa'" in text and "did you mean 'Malaysia'?" in text
    confirmed = optimizer.load_scenario(folder, {"checks.confirm": ["duty.csv:import_duty", "duty.csv:made_in"]})
    assert not [w for w in check(confirmed)[1] if w.file == "duty.csv"]


def test_names_match_as_everywhere_else(tmp_path):
    """Case and spaces do not matter (names.canon), as for jurisdictions elsewhere."""
    scn = optimizer.load_scenario(write(two_models(), tmp_path / "n", {"A": " china", "B": "MALAYSIA"},
                                        [("texas", "China", "0.576"), ("Texas ", "malaysia", "0.216")]))
    assert economics.duty_share(scn)[:2, 0] == pytest.approx([0.576, 0.216])


def _outputs(folder: Path, out: Path) -> tuple[str, str, dict]:
    proc = run_cli(folder, out)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    summary.pop("solve_seconds", None)
    summary.pop("wall_seconds", None)
    return (out / "allocation.csv").read_text(), (out / "sites.csv").read_text(), summary


def test_absent_is_today_on_the_cli(tmp_path):
    """made_in without duty.csv, or a duty.csv that matches no rig, changes no output file."""
    sc = two_models()
    today = _outputs(write(sc, tmp_path / "a"), tmp_path / "oa")
    assert _outputs(write(sc, tmp_path / "b", MADE), tmp_path / "ob") == today
    alloc, sites, summary = _outputs(write(sc, tmp_path / "c", MADE, [("Norway", "Vietnam", "0.3")]), tmp_path / "oc")
    warned = summary.pop("warnings")  # the row is reported as changing nothing; every number is today's
    assert [w["column"] for w in warned] == ["made_in"] and today[2].pop("warnings") == []
    assert (alloc, sites, summary) == today


@settings(max_examples=12, **COMMON)
@given(sc=scenarios(mip=False), countries=st.lists(st.sampled_from(["China", "Malaysia", ""]), min_size=3, max_size=3),
       rate=st.floats(0, 0.9))
def test_absent_is_today_on_random_scenarios(sc, countries, rate):
    made = {r["model"]: c for r, c in zip(sc["rigs"], countries)}
    with tempfile.TemporaryDirectory() as tmp:
        base = optimizer.load_scenario(write(sc, Path(tmp) / "a"))
        only_made = optimizer.load_scenario(write(sc, Path(tmp) / "b", made))
        nowhere = optimizer.load_scenario(write(sc, Path(tmp) / "c", made, [(sc["sites"][0]["jurisdiction"], "Nowhere", repr(rate))]))
        # a duty.csv row equal to the site's duty changes nothing either (one jurisdiction, one duty)
        sites = pd.DataFrame(sc["sites"])
        same = sites.groupby("jurisdiction")["import_duty"].nunique() == 1
        rows = [(j, c, repr(float(sites.loc[sites["jurisdiction"] == j, "import_duty"].iloc[0])))
                for j in same[same].index for c in ("China", "Malaysia")]
        equal = optimizer.load_scenario(write(sc, Path(tmp) / "d", made, rows))
        e0 = economics.compute(base)
        for other in (only_made, nowhere, equal):
            e1 = economics.compute(other)
            assert np.array_equal(e1.value_usd, e0.value_usd) and np.array_equal(e1.upfront_usd, e0.upfront_usd)
        r0, r1 = solve_or_reasons(base), solve_or_reasons(nowhere)
        if isinstance(r0, list):  # infeasible today: infeasible for the same reasons with the duty table
            assert r1 == r0
            return
        assert r1.summary["objective_usd"] == r0.summary["objective_usd"]
        pd.testing.assert_frame_equal(r1.allocation, r0.allocation)


def solve_or_reasons(scn):
    try:
        return optimizer.solve(scn)
    except optimizer.InfeasibleError as exc:
        return list(exc.reasons)


def test_a_move_between_jurisdictions_pays_the_duty_of_the_rigs_country(tmp_path):
    """Re-planning moves rigs standing at a site to another (SPEC section 8): the duty of the new
    jurisdiction, by the rig's made_in, as on arrival from the origin. Rigs standing in Norway (NO) move to
    Texas (TX): freight by the distance formula from NO to TX plus 0.576 x 1000 for A and 0.216 x 500 for B."""
    from optimizer.economics import monthly as M

    scn = optimizer.load_scenario(write(two_models(months=6), tmp_path / "m", MADE, US_2025))
    econ = economics.compute(scn)
    ship_ss, _ = M.site_freight(scn)
    no, tx = econ.sites.index("NO"), econ.sites.index("TX")
    standing = [M.Standing(g=g, site=no, since=0, arrival_days=0.0, rigs=10.0) for g in (0, 1, 2)]
    cols = M.plan_columns(scn, econ, M.Outlook(), remaining=np.zeros(econ.n_groups), standing=standing, prune=False)
    for g, duty in ((0, 576.0), (1, 108.0), (2, 0.026 * 300)):
        up = cols.upfront_usd[(cols.kind == M.MOVE) & (cols.g == g) & (cols.site == tx)]
        assert len(up) and up == pytest.approx(ship_ss[no, tx] + duty, rel=1e-12), g
