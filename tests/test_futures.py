"""SPEC section 9 (and section 8's end_month): stops that end, the sampler's stop durations and
resale factors, and the unit-slip review of sample sets and histories.

Values are checked against the scalar reference of section 7 (tests/reference_risk.py, which skips
the months ban_month <= t < end_month), identities that hold in the model whatever the code (a stop
of months [b, e) loses what a stop from b loses minus what a stop from e loses), and binomial bounds
derived from the sample size.
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import optimizer
from optimizer import backtest as B
from optimizer import risk, samples as S
from tests import reference_risk, scenario_builder as sb
from tests.test_risk import CHINA, ROOT, tiny

TINY = ROOT / "tests" / "fixtures" / "tiny"


def write_samples(folder: Path, samples: list[dict]) -> Path:
    """A sample-set folder from reference_risk's list-of-dicts form, with an end_month column."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "samples.csv").write_text("sample,weight\n" + "".join(f"{k},{s['weight']!r}\n" for k, s in enumerate(samples)))
    rows = [f"{k},{j},{m},{s.get('ends', {}).get(j, '')}" for k, s in enumerate(samples) for j, m in s["bans"].items()]
    (folder / "bans.csv").write_text("sample,jurisdiction,ban_month,end_month\n" + "".join(r + "\n" for r in rows))
    factors = [(k, t, f) for k, s in enumerate(samples) for t, f in s["factor"].items()]
    if factors:
        (folder / "hashprice.csv").write_text("sample,month,factor\n" + "".join(f"{k},{t},{f!r}\n" for k, t, f in factors))
    return folder


SAMPLES_WITH_ENDS = [
    {"weight": 0.3, "bans": {"JA": 3}, "ends": {"JA": 6}, "factor": {}},
    {"weight": 0.2, "bans": {"JB": 0, "JA": 8}, "ends": {"JB": 2}, "factor": {}},
    {"weight": 0.25, "bans": {"JA": 1, "JB": 4}, "ends": {"JB": 9}, "factor": {}},  # JB's end = H: lasts
    {"weight": 0.25, "bans": {}, "factor": {}},
]


def _load(sc: dict, smp: list[dict], tmp: Path):
    scn = optimizer.load_scenario(sb.write(sc, tmp / "s"))
    return scn, S.load_samples(write_samples(tmp / "k", smp), scn)


# ---------------------------------------------------------------------------- end_month


@pytest.mark.parametrize("with_factors", [False, True])
def test_stops_that_end_match_the_scalar_reference(tmp_path, with_factors):
    """Both paths of relocation_values (factor 1 / sampled factors) and the folded plan NPV."""
    sc = tiny(horizon={"months": 9})
    sc["sites"][1]["hosting_usd_kw_month"] = 4.0
    smp = [dict(s, factor=({1: 0.5, 2: 2.0, 7: 0.1} if with_factors and k % 2 == 0 else {})) for k, s in
           enumerate(SAMPLES_WITH_ENDS)]
    scn, loaded = _load(sc, smp, tmp_path)
    assert loaded.ban_end is not None and (loaded.factor is not None) == with_factors
    econ = optimizer.compute_economics(scn)
    terms = risk.pair_terms(scn, econ, loaded, np.array([0, 0]), np.array([0, 1]))
    got = risk.relocation_values(terms, loaded)
    for k, sample in enumerate(smp):
        ref = reference_risk.sample_values(sc, sample)
        assert got[k] == pytest.approx([ref[("S19", "Sichuan", "A")], ref[("S19", "Sichuan", "B")]], rel=1e-10)
    plan = risk.Plan(np.array([0, 0]), np.array([0, 1]), np.array([300.0, 500.0]), 1234.0, 0.0)
    npv = risk.plan_npv(scn, econ, plan, loaded)
    assert npv == pytest.approx(got @ plan.rigs + plan.constant_usd, rel=1e-10)
    folded = risk.plan_terms(terms, plan.rigs, plan.constant_usd)
    assert risk.operating_paths(folded, loaded)[:, -1] + folded.fixed_usd == pytest.approx(npv, rel=1e-10)
    # B_k,t itself: 0 exactly in months ban <= t < end
    b = loaded.ban_indicator(np.array([0, 1]))
    assert b[0, 0].tolist() == [t < 3 or t >= 6 for t in range(9)]
    assert b[1, 1].tolist() == [t >= 2 for t in range(9)] and b[2, 1].tolist() == [t < 4 for t in range(9)]


def test_risk_aware_plan_with_stops_that_end_matches_the_independent_lp(tmp_path):
    sc = tiny(horizon={"months": 9})
    for weight in (0.0, 0.7):
        expected = reference_risk.risk_optimum(sc, SAMPLES_WITH_ENDS, 0.25, weight, None)
        scn = optimizer.load_scenario(sb.write(sc, tmp_path / f"s{weight}"), {"risk.alpha": 0.25, "risk.weight": weight})
        smp = S.load_samples(write_samples(tmp_path / f"k{weight}", SAMPLES_WITH_ENDS), scn)
        res = risk.solve_risk(scn, smp)
        assert res.summary["objective_usd"] == pytest.approx(expected, rel=1e-6, abs=1e-2)
        # the stops' ends change the optimum: the same samples read as permanent stops give another one
        permanent = [{k: v for k, v in s.items() if k != "ends"} for s in SAMPLES_WITH_ENDS]
        assert reference_risk.risk_optimum(sc, permanent, 0.25, weight, None) < expected - 1.0


def test_end_month_absent_or_empty_changes_nothing(tmp_path):
    """An end_month column left empty (or equal to H) reads as no column at all: same risk.csv bytes."""
    from optimizer.cli import main

    scn = optimizer.load_scenario(CHINA)
    drawn = S.draw(scn, 300, 7)
    drawn.write(tmp_path / "plain")
    assert "end_month" not in (tmp_path / "plain" / "bans.csv").read_text()
    bans = pd.read_csv(tmp_path / "plain" / "bans.csv")
    withcol = tmp_path / "withcol"
    withcol.mkdir()
    for f in ("samples.csv", "hashprice.csv"):
        (withcol / f).write_bytes((tmp_path / "plain" / f).read_bytes())
    H = scn.settings.horizon.months
    ends = ["" if i % 2 else str(H) for i in range(len(bans))]
    (withcol / "bans.csv").write_text("sample,jurisdiction,ban_month,end_month\n" + "".join(
        f"{k},{j},{m},{e}\n" for (k, j, m), e in zip(bans.itertuples(index=False), ends)))
    assert S.load_samples(withcol, scn).ban_end is None
    for name in ("plain", "withcol"):
        assert main(["risk", str(CHINA), "--samples", str(tmp_path / name), "--out", str(tmp_path / f"o{name}")]) == 0
    assert (tmp_path / "oplain" / "risk.csv").read_bytes() == (tmp_path / "owithcol" / "risk.csv").read_bytes()


def test_end_months_round_trip_through_the_files(tmp_path):
    sc = tiny(horizon={"months": 9})
    scn, loaded = _load(sc, SAMPLES_WITH_ENDS, tmp_path)
    loaded.write(tmp_path / "again")
    text = (tmp_path / "again" / "bans.csv").read_text()
    assert text.splitlines()[0] == "sample,jurisdiction,ban_month,end_month"
    again = S.load_samples(tmp_path / "again", scn)
    assert np.array_equal(again.ban_month, loaded.ban_month) and np.array_equal(again.ban_end, loaded.ban_end)
    assert "2,JB,4,\n" in text  # a stop to the horizon is an empty cell


@pytest.mark.parametrize("end,message", [("3", "not after ban_month 3"), ("2", "not after ban_month 3"),
                                         ("25", "beyond the horizon"), ("-1", "out of range"),
                                         ("4.5", "not a whole number"), ("soon", "not a number")])
def test_bad_end_months_exit_2_with_file_row_column(tmp_path, capsys, end, message):
    from optimizer.cli import main

    folder = write_samples(tmp_path / "k", [{"weight": 1.0, "bans": {}, "factor": {}}])
    (folder / "bans.csv").write_text(f"sample,jurisdiction,ban_month,end_month\n0,Texas,3,{end}\n")
    code = main(["risk", str(CHINA), "--samples", str(folder), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "bans.csv, row 2, column 'end_month'" in err and message in err, err
    history = _history(tmp_path / "h", CHINA, bans="jurisdiction,ban_month,end_month\nTexas,3,{}\n".format(end))
    code = main(["backtest", str(CHINA), "--history", str(history), "--out", str(tmp_path / "o2")])
    err = capsys.readouterr().err
    assert code == 2 and "h/bans.csv, row 2, column 'end_month'" in err and message in err, err


def _history(folder: Path, scenario: Path, bans: str, market: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if market is None:
        market = (ROOT / "datasets" / "china-2021" / "history" / "market.csv").read_text()
    (folder / "market.csv").write_text(market)
    (folder / "bans.csv").write_text(bans)
    return folder


def test_backtest_stop_that_ends_loses_the_difference_of_two_permanent_stops(tmp_path):
    """Months [b, e) lost = months [b, H) lost - months [e, H) lost, so with R(.) the realised value:
    R(b..e) = R(from b) - R(from e) + R(none). Holds in the model exactly; computed here by three
    backtests without end_month against one with it."""
    scn = optimizer.load_scenario(CHINA)
    hist = lambda name, rows: B.load_history(_history(tmp_path / name, CHINA, rows), scn)  # noqa: E731
    plan = B.backtest(scn, hist("none", "jurisdiction,ban_month\n")).summary
    used = B.backtest(scn, hist("none", "jurisdiction,ban_month\n")).jurisdictions
    j = used.sort_values("realised_usd").iloc[-1]["jurisdiction"]  # the plan's largest jurisdiction
    r_none = plan["realised_npv_usd"]
    r_b = B.backtest(scn, hist("b", f"jurisdiction,ban_month\n{j},6\n")).summary["realised_npv_usd"]
    r_e = B.backtest(scn, hist("e", f"jurisdiction,ban_month\n{j},9\n")).summary["realised_npv_usd"]
    h = hist("be", f"jurisdiction,ban_month,end_month\n{j},6,9\n")
    assert h.end_months == {j: 9} and h.bans == {j: 6}
    out = B.backtest(scn, h)
    assert out.summary["realised_npv_usd"] == pytest.approx(r_b - r_e + r_none, rel=1e-12)
    assert r_b < out.summary["realised_npv_usd"] < r_none
    assert out.summary["bans"] == [{"jurisdiction": j, "ban_month": 6, "end_month": 9}]


def test_one_future_with_end_months_checks_them():
    scn = optimizer.load_scenario(CHINA)
    juris, _ = S.scenario_jurisdictions(scn)
    one = S.one_future(scn, {juris[0]: 2}, end_months={juris[0]: 5})
    assert one.ban_end[0, 0] == 5 and (one.ban_end[0, 1:] == scn.settings.horizon.months).all()
    with pytest.raises(optimizer.ScenarioError, match="end_month"):
        S.one_future(scn, {juris[0]: 2}, end_months={juris[0]: 2})
    with pytest.raises(optimizer.ScenarioError, match="no ban month"):
        S.one_future(scn, {}, end_months={juris[0]: 4})
