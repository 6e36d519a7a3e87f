"""MIP starts (optimizer/solver/mip_start.py) on OR-Library capacitated facility location instances with
published optima: the start is a feasible plan of the full model (linking rows included), its value
is what the plan's columns say, no better than the optimum, and the Lagrangian bound is a true bound."""
from __future__ import annotations

import time

import numpy as np
import pytest

import optimizer
from bench import orlib
from optimizer import economics, model as M
from optimizer.solver import mip_start


def _model(tmp_path, name: str):
    scn = optimizer.load_scenario(orlib.write_scenario(orlib.read(name), tmp_path / name))
    return scn, M.build_model(scn, economics.compute(scn))


@pytest.mark.parametrize("name", ["cap41", "cap71", "cap101", "cap131"])
def test_start_is_feasible_and_bounded(tmp_path, name):
    scn, lm = _model(tmp_path, name)
    assert lm.mode == "mip" and lm.block("link") is not None
    start = mip_start.find_start(lm, scn.settings.solver, time.perf_counter() + 60)
    assert start is not None
    x = start.x
    # feasible for every row of the model, linking rows included; y binary; x within bounds
    lo, up = lm.row_bounds()
    ax = lm.matrix() @ x
    tol = 1e-6 * np.maximum(1.0, np.abs(np.where(np.isfinite(up), up, lo)))
    assert (ax <= up + tol).all() and (ax >= lo - tol).all()
    assert set(np.unique(x[lm.y_col])) <= {0.0, 1.0}
    assert (x >= lm.lower - 1e-9).all() and (x <= lm.upper + 1e-9).all()
    assert float(lm.cost @ x) == pytest.approx(start.objective, rel=1e-9)
    # costs are minimised (value = -cost): the start costs at least the optimum, the bound at most
    optimum = orlib.published_optimum(name)
    assert -start.objective >= optimum * (1 - 1e-9)
    assert -start.relaxation <= optimum * (1 + 1e-9)
    assert -start.objective <= optimum * 1.05  # a good start, not just a feasible one


def test_gap_uses_the_tighter_bound():
    start = mip_start.Start(np.zeros(1), -110.0, -100.0, 0.0, 1)
    assert mip_start.tighten(-110.0, 1.0, 0.0, start) == pytest.approx((10 / 110, -100.0))  # |bound - plan| / |plan|
    assert mip_start.tighten(-110.0, 0.05, -104.5, start) == (0.05, -104.5)  # HiGHS's bound is tighter
