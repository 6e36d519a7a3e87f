"""Warm re-plans (optimizer/engine/monthly_warm.py) give what cold solves give: the kept LP against a
cold HiGHS solve of every model, replay's five values warm against cold on china-2021 and random
scenarios, and the same files whatever the chunking or the local workers (threads or processes)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

import optimizer
from optimizer import economics
from optimizer.engine import check_finite, monthly_warm, prepare
from optimizer.model import RowBlock
from optimizer.risk import replay, samples
from optimizer.risk.scaleout import Runner
from optimizer.solver import backends, canonical
from tests.test_replay import COMMON, _hand, small_scenarios

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"


def _china():
    scn = optimizer.load_scenario(CHINA, {"monthly.enabled": True})
    scn, _ = prepare(scn)
    return scn, check_finite(economics.compute(scn))


def _futures_with_stops(scn, n, seed):
    futures = replay.futures_from_sample_set(scn, samples.draw(scn, 24, seed))
    stopped = [f for f in futures if f.stops]
    assert len(stopped) >= n  # the point: re-plans that move rigs off stopped sites
    return stopped[:n]


@pytest.fixture
def spy(monkeypatch):
    """Records what every KeptLP.solve handed back (None: declined, the caller solved cold)."""
    seen: list[str] = []
    real = monthly_warm.KeptLP.solve

    def solve(self, model, labels):
        raw = real(self, model, labels)
        seen.append("declined" if raw is None else raw.backend)
        return raw

    monkeypatch.setattr(monthly_warm.KeptLP, "solve", solve)
    return seen


def test_kept_lp_solves_each_replan_like_a_cold_solve(monkeypatch):
    """The re-plans of a china-2021 future, given in order to one KeptLP: each optimum equals HiGHS's
    cold optimum of the same model, and after the canonical step the plans and duals are the same."""
    scn, econ = _china()
    (future,) = _futures_with_stops(scn, 1, 5)
    models = []
    real = replay.solve_model

    def grab(model, settings_):
        models.append(model)
        return real(model, settings_)

    monkeypatch.setattr(replay, "solve_model", grab)
    replay.carried_out(scn, econ, future, 1)  # cold: every re-plan through solve_model
    assert len(models) == scn.settings.horizon.months
    kept = monthly_warm.KeptLP()
    settings_ = replay._internal(scn.settings.solver)
    for model in models[1:]:  # replay solves month 0 cold, then every re-plan on the kept LP
        cold = canonical.canonical(model, real(model, settings_))
        raw = kept.solve(model, model.column_labels())
        assert raw is not None and raw.backend == "warm"
        assert raw.objective == pytest.approx(cold.objective, rel=1e-9, abs=1e-6)
        warm = canonical.canonical(model, raw)
        assert warm.canonical in ("unique", "tie-broken")
        np.testing.assert_allclose(warm.x, cold.x, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(warm.row_dual, cold.row_dual, rtol=1e-6, atol=1e-6)
    assert kept.counts["warm"] == len(models) - 1
    assert kept.n_cols > models[-1].n_cols  # the union: columns of earlier re-plans are kept, fixed at 0


def _tiny(cap_coef: float, cost_b: float, bound: float):
    """max 3a + cost_b b, a + cap_coef b <= bound, a <= 1 (x-columns a, b; rows 'cap', 'one')."""
    from optimizer.model import LinearModel

    model = LinearModel("lp", 0, np.zeros(0, int), np.zeros(0, int), None, None, None, np.array([3.0, cost_b]),
                        np.zeros(2), np.array([np.inf, np.inf]), np.zeros(2, bool), group_keys=[], site_names=[])
    model.add(RowBlock("cap", ["cap"], sp.coo_matrix(np.array([[1.0, cap_coef]])), np.array([-np.inf]), np.array([bound])))
    model.add(RowBlock("one", ["one"], sp.coo_matrix(np.array([[1.0, 0.0]])), np.array([-np.inf]), np.array([1.0])))
    return model


def test_a_column_whose_coefficients_changed_is_a_new_column():
    """Same labels, other coefficients: the kept LP must not reuse the old column (its key holds the
    coefficients). max 3a + 2b, a + 0.5 b <= 2, a <= 1: 3a + 2 (2 - a) / 0.5 = 8 - a, so a = 0, b = 4: 8.
    Then b's coefficient is 2: 3a + (2 - a) = 2 + 2a, so a = 1, b = 0.5: 4; the old column would answer 8."""
    kept = monthly_warm.KeptLP()
    labels = ["a", "b"]
    settings_ = optimizer.load_scenario(CHINA).settings.solver
    for coef, want in ((0.5, 8.0), (2.0, 4.0), (0.5, 8.0)):
        model = _tiny(coef, 2.0, 2.0)
        raw = kept.solve(model, labels)
        cold = backends._solve_direct(model, dataclasses.replace(settings_, backend="direct"))
        assert raw.objective == pytest.approx(want) == cold.objective
    assert kept.n_cols == 3  # a, b with 0.5, b with 2


def _lp(cost, rows):
    """max cost'x, x >= 0, one row per (label, coefficients, upper bound)."""
    from optimizer.model import LinearModel

    n = len(cost)
    model = LinearModel("lp", 0, np.zeros(0, int), np.zeros(0, int), None, None, None, np.asarray(cost, float),
                        np.zeros(n), np.full(n, np.inf), np.zeros(n, bool), group_keys=[], site_names=[])
    for name, coefs, upper, *lower in rows:
        model.add(RowBlock(name, [name], sp.coo_matrix(np.array([coefs], float)), np.array([lower[0] if lower else -np.inf]),
                           np.array([upper])))
    return model


def test_rows_and_columns_missing_from_a_model_constrain_nothing():
    """A kept row the next model lacks is free and a kept column it lacks is fixed at 0.
    First: max 2b - 5c, b - c <= 1.5, 1 <= b + c <= 1 ('one'): b = 1, c = 0. Next: max 2b, b <= 10 ('cap'):
    20. Were c left free (cost 0) it would loosen 'cap' without end; were 'one' kept with its bounds, the
    next model (whose columns are new: their coefficients differ) would be infeasible."""
    kept = monthly_warm.KeptLP()
    first = kept.solve(_lp([2.0, -5.0], [("cap", [1.0, -1.0], 1.5), ("one", [1.0, 1.0], 1.0, 1.0)]), ["b", "c"])
    assert first.objective == pytest.approx(2.0)
    raw = kept.solve(_lp([2.0], [("cap", [1.0], 10.0)]), ["b"])
    assert raw is not None and raw.objective == pytest.approx(20.0) and raw.x.tolist() == pytest.approx([10.0])
    assert raw.row_dual.tolist() == pytest.approx([2.0])
    assert kept.n_cols == 3 and kept.n_rows == 2  # b has no coefficient in a row of its own now: a new column


def test_warm_replay_equals_cold_on_china_2021(spy):
    scn = optimizer.load_scenario(CHINA, {"monthly.enabled": True})
    futures = _futures_with_stops(scn, 3, 5)
    with Runner(threads=1) as runner:
        cold = replay.replay(scn, futures, runner, chunk=3, warm=False)
        assert not spy
        warm = replay.replay(scn, futures, runner, chunk=3, warm=True)
    assert spy.count("warm") >= 3 * (scn.settings.horizon.months - 1) - 3  # the re-plans of months >= 1 ran warm
    a, b = cold.per_future, warm.per_future
    assert list(a["future"]) == list(b["future"])
    for column in replay.REPLAY_COLUMNS[1:]:
        np.testing.assert_allclose(b[column], a[column], rtol=1e-6)
    assert (a["policy_usd"] != a["unchanged_usd"]).any()  # the futures make the policy act differently


@settings(max_examples=8, **COMMON)
@given(sc=small_scenarios(risky=True), seed=st.integers(0, 1000))
def test_warm_replay_equals_cold_on_random_scenarios(sc, seed, tmp_path_factory):
    import tempfile

    from tests import scenario_builder as sb

    with tempfile.TemporaryDirectory() as tmp:
        scn = optimizer.load_scenario(sb.write(sc, Path(tmp) / "s"),
                                      {"risk.hashprice_volatility": 0.9, "risk.ban_correlation": 0.5})
    futures = replay.futures_from_sample_set(scn, samples.draw(scn, 4, seed))
    try:
        cold = replay.replay(scn, futures, chunk=4, warm=False).per_future
    except optimizer.InfeasibleError:
        return
    warm = replay.replay(scn, futures, chunk=4, warm=True).per_future
    for column in replay.REPLAY_COLUMNS[1:]:
        np.testing.assert_allclose(warm[column], cold[column], rtol=1e-6, atol=1e-3)


def test_chunking_and_local_processes_give_the_same_files(tmp_path):
    """A future's values depend on it alone: one task per future, tasks sized from the work, and
    worker processes give byte-identical files."""
    scn = _hand(tmp_path)
    scn = scn.with_overrides({"risk.hashprice_volatility": 0.5})
    futures = replay.futures_from_sample_set(scn, samples.draw(scn, 7, 3))
    with Runner(threads=1) as one:
        base = replay.replay(scn, futures, one, chunk=7)
    by_one = replay.replay(scn, futures, chunk=1)
    with Runner(threads=2) as two:
        auto = replay.replay(scn, futures, two, processes=True)
        forced = replay.replay(scn, futures, two, chunk=3, processes=True)
    assert two.last_replay["tasks"] == 3
    assert base.files() == by_one.files() == auto.files() == forced.files()


def test_local_processes_are_used_when_they_pay_for_their_start():
    """The worker processes' start is paid once per worker: 40 futures of 1.3 s (china-2021's size) on 2 cores
    are spread (each task's own overhead under 5% of its work, at most two tasks per core); work that the
    start would outweigh stays in one task here; one core never spawns."""
    spread = replay.process_ranges(40, 1.3, 2)
    assert len(spread) == 4 and spread[0][0] == 1 and spread[-1][1] == 40
    assert all(b == a2 for (_, b), (a2, _) in zip(spread, spread[1:]))  # contiguous, in order
    # 2 s of start against 3 x 0.5 s of work on 2 cores: 0.75 s + 2 s is more than 1.5 s here
    assert replay.process_ranges(4, 0.5, 2) == [(1, 4)]
    assert replay.process_ranges(40, 1.3, 1) == [(1, 40)]
    # the break-even: work/2 + 2 s < work from work > 4 s
    assert len(replay.process_ranges(6, 1.0, 2)) > 1 and replay.process_ranges(5, 0.9, 2) == [(1, 5)]


def test_margin_paths_remembered_per_scenario_equal_paths_computed_per_call(monkeypatch):
    """economics.monthly keeps section 2's margin paths over every (batch, site) pair for the scenario it
    last saw; indexing them gives what computing the pairs asked for gives (survival, stops, t0)."""
    from optimizer.economics import monthly as M

    scn, econ = _china()
    G, S, H = econ.n_groups, len(econ.sites), scn.settings.horizon.months
    rng = np.random.default_rng(3)
    stopped = rng.random((S, H)) < 0.2
    outlooks = [M.Outlook(), M.Outlook(t0=5, hp_factor=rng.uniform(0.5, 2, H), stopped=stopped),
                M.Outlook(t0=2, survival=False, penalty=False)]
    gi, si = rng.integers(0, G, 40), rng.integers(0, S, 40)
    remembered = [M.weighted_margin(scn, econ, o, gi, si) for o in outlooks]
    assert any(held[0] is scn for held in M._PATHS)
    monkeypatch.setattr(M, "_PATHS", [])
    monkeypatch.setattr(M, "_PATHS_UP_TO", 0)  # computed per call, as before
    for o, got in zip(outlooks, remembered):
        np.testing.assert_array_equal(got, M.weighted_margin(scn, econ, o, gi, si))


def _foresight_both(scn, econ, future, monkeypatch):
    monkeypatch.setattr(replay, "PRUNE_IDLE_SHIPMENTS", False)
    full = replay.foresight(scn, econ, future)
    monkeypatch.setattr(replay, "PRUNE_IDLE_SHIPMENTS", True)
    return full, replay.foresight(scn, econ, future)


def test_foresight_without_idle_shipments_has_the_same_optimum_on_china_2021(monkeypatch):
    scn, econ = _china()
    futures = replay.futures_from_sample_set(scn, samples.draw(scn, 3, 11)) + _futures_with_stops(scn, 2, 5)
    for future in futures:
        full, pruned = _foresight_both(scn, econ, future, monkeypatch)
        assert pruned == pytest.approx(full, rel=1e-9)


@settings(max_examples=10, **COMMON)
@given(sc=small_scenarios(risky=True), seed=st.integers(0, 1000), store=st.sampled_from([0.0, 5.0, 400.0]))
def test_foresight_without_idle_shipments_has_the_same_optimum_on_random_scenarios(sc, seed, store, monkeypatch_module):
    import tempfile

    from tests import scenario_builder as sb

    sc["monthly"] = {**sc.get("monthly", {}), "store_usd_per_rig_month": store}
    for lane in sc["lanes"]:
        lane["lead_days"] = lane.get("lead_days", 0.0) + 45.0  # rigs in transit across month ends
    with tempfile.TemporaryDirectory() as tmp:
        scn = optimizer.load_scenario(sb.write(sc, Path(tmp) / "s"),
                                      {"risk.hashprice_volatility": 0.9, "risk.ban_correlation": 0.5,
                                       "monthly.enabled": True})
    scn, _ = prepare(scn)
    econ = check_finite(economics.compute(scn))
    for future in replay.futures_from_sample_set(scn, samples.draw(scn, 2, seed)):
        try:
            full, pruned = _foresight_both(scn, econ, future, monkeypatch_module)
        except optimizer.InfeasibleError:
            return
        assert pruned == pytest.approx(full, rel=1e-9, abs=1e-6)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_a_shipment_that_never_runs_stays_when_nothing_else_can_take_the_rigs(tmp_path):
    """hand_example with selling and keeping switched off and the S9's lanes 40 days long: X and Y hold
    one S19 each all along, so the S9 (0.001 MW) can only be shipped in month 2, arriving after the
    horizon (61 + 40 days > 91.3): a shipment that never runs, worth 0 - 0 freight + 10 terminal.
    Foresight = the hand-worked unchanged-plan S19 values at f = 1, 1, 1 with both S19s kept running
    to the horizon: X 3 x 304.375 - 10 + 500, Y 2 x 273.9375 - 10 + 500, plus the S9's 10."""
    from tests import scenario_builder as sb
    from tests.test_monthly import hand_example

    sc = hand_example()
    sc["policy"] = {**sc["policy"], "allow_sell": False, "allow_idle": False}
    sc["resale_path"] = {0: 1.0, 1: 1.0, 2: 1.0}
    for lane in sc["lanes"]:
        if lane["origin"] == "O2":
            lane["lead_days"] = 40.0
    scn = optimizer.load_scenario(sb.write(sc, tmp_path / "s"))
    scn, _ = prepare(scn)
    econ = check_finite(economics.compute(scn))
    future = replay.Future("flat", 1.0, np.ones(3), np.ones(3), [])
    want = (3 * 304.375 - 10 + 500) + (2 * 273.9375 - 10 + 500) + 10
    assert replay.foresight(scn, econ, future) == pytest.approx(want, abs=1e-6)
