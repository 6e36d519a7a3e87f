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


# ---------------------------------------------------------------------------- the sampler (SPEC 9)


def _outputs(tmp: Path, extra: list[str]) -> dict[str, str]:
    """The files of issue21-defaults.json, made by the current code through the CLI's main()."""
    import hashlib
    import json

    from optimizer.cli import main

    tiny_dir, hist = str(TINY), str(ROOT / "tests" / "fixtures" / "tiny-history")
    sets = [a for x in extra for a in ("--set", x)]
    assert main(["sample", tiny_dir, "--out", str(tmp / "k"), "--n", "500", "--seed", "2021", *sets]) == 0
    assert main(["risk", tiny_dir, "--samples", str(tmp / "k"), "--out", str(tmp / "r"), *sets]) == 0
    assert main(["solve", tiny_dir, "--samples", str(tmp / "k"), "--out", str(tmp / "s"), "--set", "risk.weight=0.5",
                 *sets]) == 0
    assert main(["backtest", tiny_dir, "--history", hist, "--out", str(tmp / "b"), *sets]) == 0
    out = {}
    for p in sorted(tmp.glob("*/*")):
        rel = f"{p.parent.name}/{p.name}"
        if p.parent.name == "s" and p.name not in ("allocation.csv", "summary.json"):
            continue
        data = p.read_bytes()
        if p.name == "summary.json":
            doc = json.loads(data)
            doc.pop("solve_seconds", None)
            data = json.dumps(doc, sort_keys=True).encode()
        out[rel] = hashlib.sha256(data).hexdigest()
    return out


@pytest.mark.parametrize("extra", [[], ["risk.stop_permanent_share=1", "risk.resale_beta=0", "risk.stop_months=7"]])
def test_defaults_give_byte_identical_sample_sets_risk_figures_plans_and_backtests(tmp_path, extra, capsys):
    """Hashes of the files the code made before issue 21 (tests/fixtures/issue21-defaults.json says how)."""
    import json

    golden = json.loads((ROOT / "tests" / "fixtures" / "issue21-defaults.json").read_text())["sha256"]
    assert _outputs(tmp_path, extra) == golden


def _stopped_share_law(reg: float, months: int, share: float, length: int) -> np.ndarray:
    """P(mining stopped in month t) for one jurisdiction: sum over ban months b <= t of P(ban = b) x
    P(the stop still runs at t) = share + (1 - share) [t < b + length]; P(ban = b) = S_{b-1} - S_b."""
    t = np.arange(months)
    surv = (1 - reg) ** ((t + 0.5) / 12)
    p_ban = np.concatenate([[1.0], surv[:-1]]) - surv
    return np.array([sum(p_ban[b] * (share + (1 - share) * (m < b + length)) for b in range(m + 1)) for m in t])


@pytest.mark.parametrize("share,length", [(0.4, 3), (0.0, 5)])
def test_sampled_stops_match_their_survival_and_duration_law(share, length):
    """Within 5 binomial standard deviations (+1/n for discreteness) for each jurisdiction and month:
    the ban month's survival is section 2's S_t whatever the share; among the stopped samples the
    permanent share is `share`; a stop that ends lasts exactly `length` months (capped at H); and the
    share of samples stopped in month t follows the law above."""
    scn = optimizer.load_scenario(CHINA, {"risk.stop_permanent_share": share, "risk.stop_months": length})
    n = 20000
    smp = S.draw(scn, n, 3)
    base = S.draw(optimizer.load_scenario(CHINA), n, 3)
    assert np.array_equal(smp.ban_month, base.ban_month) and np.array_equal(smp.factor, base.factor)
    H = smp.months
    t = np.arange(H)
    end = smp.end_month()
    _, reg = S.scenario_jurisdictions(scn)
    for j, r in enumerate(reg):
        surv = (1 - r) ** ((t + 0.5) / 12)
        got = (smp.ban_month[:, j][:, None] > t[None, :]).mean(axis=0)
        assert (np.abs(got - surv) <= 5 * np.sqrt(surv * (1 - surv) / n) + 1 / n).all()
        stopped = smp.ban_month[:, j] < H
        room = stopped & (smp.ban_month[:, j] + length < H)  # a stop that ends would end within the horizon
        if room.sum() >= 50:
            m = int(room.sum())
            permanent = (end[room, j] == H).mean()
            assert abs(permanent - share) <= 5 * math.sqrt(share * (1 - share) / m) + 1 / m
        temporary = room & (end[:, j] < H)
        assert (end[temporary, j] - smp.ban_month[temporary, j] == length).all()
        assert ((end[stopped & ~room, j]) == H).all() and (end[~stopped, j] == H).all()
        law = _stopped_share_law(r, H, share, length)
        got = ((smp.ban_month[:, j][:, None] <= t) & (t < end[:, j][:, None])).mean(axis=0)
        assert (np.abs(got - law) <= 5 * np.sqrt(law * (1 - law) / n) + 1 / n).all(), (j, got - law)


def test_sampled_stops_that_end_round_trip_and_change_only_their_samples(tmp_path):
    scn = optimizer.load_scenario(CHINA, {"risk.stop_permanent_share": 0.0})
    smp = S.draw(scn, 400, 5)
    assert smp.ban_end is not None
    smp.write(tmp_path / "k")
    again = S.load_samples(tmp_path / "k", scn)
    assert np.array_equal(again.end_month(), smp.end_month()) and np.array_equal(again.factor, smp.factor)
    perm = S.draw(optimizer.load_scenario(CHINA), 400, 5)
    a = risk.evaluate(scn, again).per_sample["npv_usd"].to_numpy()
    b = risk.evaluate(optimizer.load_scenario(CHINA), perm).per_sample["npv_usd"].to_numpy()
    ended = (smp.end_month() < smp.months).any(axis=1)
    # a sample whose stops all last is priced as before; one with a stop that ends is not (a month that runs
    # again may gain or, with hosting owed and a low hashprice, lose)
    assert a[~ended] == pytest.approx(b[~ended], rel=1e-12) and (np.abs(a - b)[ended] > 1.0).sum() > 20


def test_resale_factors_follow_hashprice_with_beta(tmp_path):
    """f_k,t = f_t x factor_k,t^beta with f_t = salvage_fraction^(t/H) (no resale.csv in the scenario);
    beta 0 or volatility 0 writes no resale.csv; the file round-trips; month 0 is 1."""
    scn = optimizer.load_scenario(CHINA, {"risk.resale_beta": 1.5})
    smp = S.draw(scn, 200, 6)
    H = smp.months
    f = scn.settings.horizon.salvage_fraction ** (np.arange(H) / H)
    assert np.allclose(smp.resale, f[None, :] * smp.factor ** 1.5, rtol=1e-14) and (smp.resale[:, 0] == 1).all()
    smp.write(tmp_path / "k")
    again = S.load_samples(tmp_path / "k", scn)
    assert np.array_equal(again.resale, smp.resale)
    assert S.draw(optimizer.load_scenario(CHINA), 20, 6).resale is None
    assert S.draw(scn.with_overrides({"risk.hashprice_volatility": 0.0}), 20, 6).resale is None
    S.draw(optimizer.load_scenario(CHINA), 20, 6).write(tmp_path / "k")  # a stale resale.csv goes
    assert not (tmp_path / "k" / "resale.csv").exists()
    # absent rows: the scenario's path; month 0 must be 1
    (tmp_path / "k" / "resale.csv").write_text("sample,month,factor\n3,5,0.5\n")
    part = S.load_samples(tmp_path / "k", scn)
    assert part.resale[3, 5] == 0.5 and part.resale[0].tolist() == pytest.approx(f.tolist(), rel=1e-15)
    (tmp_path / "k" / "resale.csv").write_text("sample,month,factor\n3,0,0.9\n")
    with pytest.raises(optimizer.ScenarioError, match=r"resale.csv, row 2, column 'factor'"):
        S.load_samples(tmp_path / "k", scn)


def test_same_seed_same_stop_and_resale_files_whatever_the_chunking(tmp_path):
    from optimizer.scaleout import Runner

    scn = optimizer.load_scenario(CHINA, {"risk.stop_permanent_share": 0.5, "risk.resale_beta": 1.0})
    a = S.draw(scn, 2500, 42)
    with Runner(threads=2) as runner:
        b = S.draw(scn, 2500, 42, mapper=lambda fn, items: runner.map(lambda item, fn: fn(*item), items, fn=fn))
    a.write(tmp_path / "a")
    b.write(tmp_path / "b")
    for name in ("samples.csv", "bans.csv", "hashprice.csv", "resale.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert "end_month" in (tmp_path / "a" / "bans.csv").read_text().splitlines()[0]
