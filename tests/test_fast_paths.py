"""Every fast path (direct HiGHS matrix, interior point, pruned dominated columns) returns the same
optimum as the plain PuLP model, on a generated marketplace big enough for the paths to differ."""
from __future__ import annotations

import numpy as np
import pytest

import optimizer
from bench import marketplace

PLAIN = {"solver.backend": "pulp", "solver.lp_algorithm": "choose", "solver.prune_dominated": False}
FAST = [
    {"solver.backend": "direct", "solver.lp_algorithm": "ipm", "solver.prune_dominated": True},
    {"solver.backend": "direct", "solver.lp_algorithm": "simplex", "solver.prune_dominated": True},
    {"solver.backend": "direct", "solver.lp_algorithm": "ipm", "solver.prune_dominated": False},
    {"solver.backend": "pulp", "solver.lp_algorithm": "ipm", "solver.prune_dominated": True},
    {"solver.backend": "auto", "solver.lp_algorithm": "auto", "solver.prune_dominated": True},
    {"solver.name": "cbc", "solver.prune_dominated": True},
]


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    folder = marketplace.write(tmp_path_factory.mktemp("m") / "market-400", 400, 3, 6, seed=7)
    return optimizer.load_scenario(folder)


@pytest.fixture(scope="module")
def plain(market):
    return optimizer.solve(market.with_overrides(PLAIN))


@pytest.mark.parametrize("fast", FAST, ids=lambda f: "-".join(str(v) for v in f.values()))
def test_fast_path_same_optimum(market, plain, fast):
    res = optimizer.solve(market.with_overrides({**PLAIN, **fast}))
    assert res.summary["status"] == "optimal"
    assert res.summary["objective_usd"] == pytest.approx(plain.summary["objective_usd"], rel=1e-7)
    # the plan itself is feasible: every rig accounted for, no site over capacity
    assert res.allocation["rigs"].sum() == pytest.approx(market.fleet["count"].sum(), rel=1e-8)
    cap = res.sites.set_index("site")["capacity_mw"]
    used = res.allocation.groupby("site")["mw"].sum().drop("", errors="ignore")
    assert (used <= cap[used.index] * (1 + 1e-6) + 1e-9).all()


def test_pruning_keeps_binding_shadow_prices(market, plain):
    """Dropped columns never price capacity: the shadow prices of sites the plan fills agree."""
    pruned = optimizer.solve(market.with_overrides({**PLAIN, "solver.prune_dominated": True}))
    assert pruned.summary["n_variables"] < plain.summary["n_variables"]
    a = plain.sites.set_index("site")["shadow_usd_per_mw"]
    b = pruned.sites.set_index("site")["shadow_usd_per_mw"]
    assert np.allclose(a, b, rtol=1e-6, atol=1e-3), (a - b).abs().max()
