"""The canonical plan (optimizer/solver/canonical.py): among equal-value optima every path returns the same plan.

Checked against things computed here: a hand-worked tie whose winner follows from the rule's hash
(recomputed in pure Python below), the warm planner against cold solves after random slider moves
on the shipped datasets, the same scenario with its CSV rows shuffled, and every solver path.
"""
from __future__ import annotations

import csv
import hashlib
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import optimizer
from optimizer.solver import canonical
from optimizer import economics, model as M
from tests import scenario_builder as sb
from tests.test_property import scenarios

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ["china-2021", "post-halving-2024", "world-2025"]
# where the moves start: after the 2024 halving relocating pays nowhere at June 2024's BTC price (no
# relocation is worth more than selling, the model has no relocation column and the planner hands it
# to the engine), so its moves start from twice that price; world-2025's at $120,000 (it sells everything below
# about $108,000: its README)
START = {"china-2021": {}, "post-halving-2024": {"market.btc_price_usd": 121180.0},
         "world-2025": {"market.btc_price_usd": 120000.0}}
KEYS = ["action", "origin", "model", "site"]
# china-2021 with a jurisdiction cap at which the LP has many optimal plans (a warm re-solve and a
# cold one returned different plans of the same value before the canonical step)
TIED = {"policy.max_jurisdiction_share": 0.4088752549241112}


def _sorted(allocation: pd.DataFrame) -> pd.DataFrame:
    return allocation.sort_values(KEYS).reset_index(drop=True)


def assert_same_plan(got: optimizer.Result, want: optimizer.Result) -> None:
    """Same allocation rows (by names) with the same numbers, and the same shadow prices."""
    a, b = _sorted(got.allocation), _sorted(want.allocation)
    assert a[KEYS].values.tolist() == b[KEYS].values.tolist()
    for col in ("rigs", "mw", "hashrate_ths", "value_usd"):
        np.testing.assert_allclose(a[col].to_numpy(float), b[col].to_numpy(float), rtol=1e-6, atol=1e-6, err_msg=col)
    sa, sb_ = (s.sort_values("site").reset_index(drop=True) for s in (got.sites, want.sites))
    assert sa["site"].tolist() == sb_["site"].tolist()
    for col in ("mw_used", "shadow_usd_per_mw", "entry_power_usd_kwh"):
        np.testing.assert_allclose(sa[col].to_numpy(float), sb_[col].to_numpy(float), rtol=1e-6, atol=1e-6,
                                   equal_nan=True, err_msg=col)
    np.testing.assert_allclose(got.jurisdictions["shadow_usd_per_ths"].to_numpy(float),
                               want.jurisdictions["shadow_usd_per_ths"].to_numpy(float), rtol=1e-6, atol=1e-9,
                               equal_nan=True)
    for key in ("objective_usd", "budget_shadow_usd_per_usd", "rigs_relocated", "mw_relocated"):
        g, w = got.summary[key], want.summary[key]
        assert (g is None) == (w is None), key
        if g is not None:
            assert g == pytest.approx(w, rel=1e-7, abs=1e-6), key


# ---------------------------------------------------------------- the rule's weights, recomputed


def _h(batch: str, second: str) -> float:
    """The rule's hash in plain Python integers (independent of the module's numpy version)."""
    def digest(text: str) -> int:
        return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")
    m = 2 ** 64
    z = (digest(batch) * 0x9E3779B97F4A7C15 + digest(second)) % m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % m
    z ^= z >> 31
    return 1.0 + (z >> 11) / 2.0 ** 53


def _tiny(tmp_path: Path, capacity_alpha_mw: float, reverse: bool = False, capacity_bravo_mw: float = 1.0,
          **policy) -> optimizer.Scenario:
    """One batch (1000 rigs of 1,000 W = 1 MW), two sites alike in every number but the name."""
    rigs = [{"model": "R0", "hashrate_ths": 100.0, "power_w": 1000.0, "resale_usd": 1000.0}]
    origins = [{"origin": "O0", "country": "CN", "lat": 30.0, "lon": 100.0}]
    fleet = [{"origin": "O0", "model": "R0", "count": 1000}]
    sites = [{"site": name, "jurisdiction": "J0", "lat": 40.0, "lon": 70.0, "capacity_mw": cap, "power_usd_kwh": 0.03}
             for name, cap in (("Alpha", capacity_alpha_mw), ("Bravo", capacity_bravo_mw))]
    if reverse:
        sites.reverse()
    sc = sb.scenario(rigs, origins, fleet, sites, policy=policy)
    return optimizer.load_scenario(sb.write(sc, tmp_path / ("rev" if reverse else "fwd")))


def test_weights_follow_the_documented_hash(tmp_path):
    scn = _tiny(tmp_path, 1.0)
    lm = M.build_model(scn, economics.compute(scn))
    h, batch, second = canonical.column_keys(lm, np.arange(lm.n_cols))
    want = {"Alpha": _h("O0\x1fR0", "Alpha"), "Bravo": _h("O0\x1fR0", "Bravo"),
            "sell": _h("O0\x1fR0", "\x1fsell"), "idle": _h("O0\x1fR0", "\x1fidle")}
    got = dict(zip([s.lstrip("\x1f") for s in second], h))
    assert got == pytest.approx(want, rel=1e-15)
    assert all(1 <= v < 2 for v in h) and set(batch) == {"O0\x1fR0"}


@pytest.mark.parametrize("overrides", [{}, {"solver.name": "cbc"}, {"solver.backend": "direct"},
                                       {"solver.backend": "columns"}])
@pytest.mark.parametrize("reverse", [False, True])
def test_hand_worked_tie(tmp_path, overrides, reverse):
    """Alpha and Bravo are worth the same per rig, so every split of the 1 MW batch is optimal.
    The rule minimises sum h * MW: h(O0/R0, Alpha) = 1.318... < h(O0/R0, Bravo) = 1.812..., so
    all 1000 rigs go to Alpha when it has room, and Alpha is filled first (400 rigs at 0.4 MW,
    600 to Bravo) when it has not, whichever site comes first in sites.csv and whatever the path."""
    assert _h("O0\x1fR0", "Alpha") < _h("O0\x1fR0", "Bravo")
    for cap, want in ((1.0, {"Alpha": 1000.0}), (0.4, {"Alpha": 400.0, "Bravo": 600.0})):
        scn = _tiny(tmp_path / str(cap), cap, reverse).with_overrides(overrides)
        res = optimizer.solve(scn)
        reloc = res.allocation[res.allocation["action"] == "relocate"]
        assert dict(zip(reloc["site"], reloc["rigs"])) == pytest.approx(want, rel=1e-9)
        assert res.summary["rigs_sold"] == 0 and res.summary["rigs_idle"] == 0
        planner = optimizer.Planner(_tiny(tmp_path / f"p{cap}", 1.0 if cap < 1 else 0.4, reverse))
        planner.solve({})  # another plan first: the warm path starts from another basis
        assert_same_plan(planner.solve_scenario(scn), res)


# ---------------------------------------------------------------- the planner equals a cold solve


def _random_moves(scn: optimizer.Scenario, rng: np.random.Generator, n: int, start: dict) -> list[dict]:
    jur = sorted(set(scn.sites["jurisdiction"]))
    base = scn.with_overrides(start).settings
    out, acc = [], dict(start)
    for _ in range(n):
        k = int(rng.integers(6))
        if k == 0:
            acc["market.btc_price_usd"] = float(base.market.btc_price_usd * rng.uniform(0.5, 2.0))
        elif k == 1:
            acc["policy.risk_aversion"] = float(rng.uniform(0, 3))
        elif k == 2:
            acc["policy.power_price_multiplier"] = float(rng.uniform(0.5, 2.0))
        elif k == 3:
            acc["policy.max_jurisdiction_share"] = float(rng.uniform(0.15, 1.0))
        elif k == 4:
            acc["policy.exclude_jurisdictions"] = [str(j) for j in rng.choice(jur, size=int(rng.integers(0, 3)), replace=False)]
        else:
            acc["policy.budget_usd"] = float(rng.uniform(1e5, 5e6))
        out.append(dict(acc))
    return out


@pytest.mark.parametrize("dataset", DATASETS)
def test_planner_equals_cold_solve_after_random_moves(dataset):
    scn = optimizer.load_scenario(ROOT / "datasets" / dataset)
    planner = optimizer.Planner(scn)
    assert_same_plan(planner.solve({}), optimizer.solve(scn))
    how = []
    for overrides in [TIED | START[dataset]] + _random_moves(scn, np.random.default_rng(7), 14, START[dataset]):
        try:
            want = optimizer.solve(scn.with_overrides(overrides))
        except optimizer.InfeasibleError:
            with pytest.raises(optimizer.InfeasibleError):
                planner.solve(overrides)
            continue
        got = planner.solve(overrides)
        if got.summary["backend"] == "planner":  # else the planner handed the scenario to the engine
            how.append(planner.last_raw.canonical)
        assert_same_plan(got, want)
    assert planner.counts["warm"] >= 8 and set(how) <= {"unique", "tie-broken"}
    if dataset == "china-2021":  # its jurisdiction caps and near-separable values tie often
        assert how.count("tie-broken") >= 5


# ---------------------------------------------------------------- row order and solver paths


def _shuffled_copy(src: Path, dst: Path, seed: int) -> Path:
    shutil.copytree(src, dst)
    rng = np.random.default_rng(seed)
    for name in ("sites.csv", "fleet.csv", "lanes.csv", "availability.csv", "power.csv", "duty.csv"):
        path = dst / name
        if not path.exists():
            continue
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        body = [rows[1:][i] for i in rng.permutation(len(rows) - 1)]
        with path.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([rows[0], *body])
    return dst


@pytest.mark.parametrize("dataset", DATASETS)
def test_row_order_does_not_change_the_plan(dataset, tmp_path):
    src = ROOT / "datasets" / dataset
    base = optimizer.load_scenario(src).with_overrides(TIED | START[dataset])
    want = optimizer.solve(base)
    assert want.summary["rigs_relocated"] > 0
    for seed in (1, 2):
        shuffled = optimizer.load_scenario(_shuffled_copy(src, tmp_path / f"s{seed}", seed)).with_overrides(TIED | START[dataset])
        assert shuffled.sites["site"].tolist() != base.sites["site"].tolist()  # the shuffle did something
        assert_same_plan(optimizer.solve(shuffled), want)


@pytest.mark.parametrize("overrides", [
    {"solver.backend": "pulp"},
    {"solver.backend": "direct", "solver.lp_algorithm": "simplex"},
    {"solver.backend": "direct", "solver.lp_algorithm": "ipm"},
    {"solver.backend": "columns"},
    {"solver.name": "cbc"},
    {"solver.prune_dominated": False},
])
def test_solver_paths_agree_on_the_plan(overrides):
    scn = optimizer.load_scenario(ROOT / "datasets" / "china-2021").with_overrides(TIED)
    want = optimizer.solve(scn)
    got = optimizer.solve(scn.with_overrides(overrides))
    assert_same_plan(got, want)


def test_without_the_step_the_paths_differ(monkeypatch):
    """The scenario used above really has ties: without the canonical step warm and cold plans differ."""
    scn = optimizer.load_scenario(ROOT / "datasets" / "china-2021")
    monkeypatch.setattr(canonical, "canonical", lambda model, raw: raw)
    planner = optimizer.Planner(scn)
    planner.solve({})
    warm, cold = planner.solve(TIED), optimizer.solve(scn.with_overrides(TIED))
    assert warm.summary["objective_usd"] == pytest.approx(cold.summary["objective_usd"], rel=1e-9)
    with pytest.raises(AssertionError):
        assert_same_plan(warm, cold)


@pytest.mark.parametrize("overrides", [{}, {"solver.name": "cbc"}, {"solver.backend": "direct"},
                                       {"solver.backend": "direct", "solver.lp_algorithm": "ipm"},
                                       {"solver.backend": "columns"}])
def test_degenerate_duals_follow_the_rule(tmp_path, overrides):
    """Alpha (0.4 MW) and Bravo (0.6 MW) hold the 1 MW batch exactly: every shadow price from 0 to
    (value - resale) / MW per site is optimal (before the canonical step HiGHS's simplex said 0,
    its interior point the whole margin). The rule takes the smallest: one more MW is worth
    nothing, as no rig is left to fill it; the fleet row's dual is then the whole per-rig value."""
    from tests.test_transport import assert_certified

    scn = _tiny(tmp_path, 0.4, capacity_bravo_mw=0.6).with_overrides(overrides)
    res = optimizer.solve(scn)
    assert res.sites["shadow_usd_per_mw"].tolist() == [0.0, 0.0]
    assert res.summary["rigs_relocated"] == pytest.approx(1000.0, rel=1e-9)
    # the duals are optimal for the plain LP: dual feasible, dual objective = optimum
    lm = M.build_model(scn, economics.compute(scn))
    raw = canonical.canonical(lm, optimizer.solver.backends.solve_model(lm, scn.settings.solver))
    assert_certified(scn, raw.row_dual, res.summary["objective_usd"])
    value = economics.compute(scn).value_usd[0, 0]
    assert raw.row_dual[0] == pytest.approx(value, rel=1e-9)  # fleet[O0,R0]: an extra rig is worth V


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(mip=False))
def test_solver_paths_agree_on_random_scenarios(sc):
    """Random small scenarios (ties arise where values or capacities coincide): every solver path
    and a shuffled copy of the rows give the same plan and shadow prices as the default path."""
    sc["policy"]["allow_sell"] = sc["policy"]["allow_sell"] or not sc["policy"]["allow_idle"]  # columns' eligibility
    with tempfile.TemporaryDirectory() as tmp:
        scn = optimizer.load_scenario(sb.write(sc, Path(tmp) / "s"))
        sc["sites"].reverse()
        sc["fleet"].reverse()
        reversed_scn = optimizer.load_scenario(sb.write(sc, Path(tmp) / "r"))
    try:
        want = optimizer.solve(scn)
    except optimizer.InfeasibleError:
        return
    for other in (scn.with_overrides({"solver.backend": "pulp", "solver.prune_dominated": False}),
                  scn.with_overrides({"solver.backend": "direct", "solver.lp_algorithm": "ipm"}),
                  scn.with_overrides({"solver.backend": "columns"}),
                  scn.with_overrides({"solver.name": "cbc"}),
                  reversed_scn):
        assert_same_plan(optimizer.solve(other), want)


@pytest.mark.parametrize("overrides", [{"policy.risk_aversion": 0.0}, {}, {"market.btc_price_usd": 45000.0}])
def test_pruning_does_not_change_which_tied_plan_wins(overrides):
    """Selling a batch is weighted by its MW per rig over every site of the tables, not over the
    relocations pruning kept (which move with prices): with pruning on or off, the same plan.
    A reviewer's case: at risk aversion 0 two M20S batches swapped selling for relocating."""
    scn = optimizer.load_scenario(ROOT / "datasets" / "china-2021", overrides)
    assert_same_plan(optimizer.solve(scn), optimizer.solve(scn.with_overrides({"solver.prune_dominated": False})))
