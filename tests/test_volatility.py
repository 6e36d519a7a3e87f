"""tools/hashprice_volatility.py: the sampler's volatility estimated from the sourced monthly-mean histories.

A hand-worked example (closed form), the run rules (ESTIMATE rows and halvings), and a recomputation of
every history in datasets/ with numpy, independently of the script's pure-Python arithmetic.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tools import hashprice_volatility as V

ROOT = Path(__file__).resolve().parents[1]


def _market(folder: Path, values: list[float], kinds: list[str] | None = None, start=(2021, 7)) -> Path:
    path = folder / "scn" / "history" / "market.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    kinds = kinds or ["monthly mean"] * len(values)
    y, m = start
    cal = [f"{y + (m - 1 + t) // 12}-{(m - 1 + t) % 12 + 1:02d}" for t in range(len(values))]
    pd.DataFrame({"month": range(len(values)), "hashprice_usd_th_day": values, "calendar_month": cal,
                  "kind": kinds}).to_csv(path, index=False)
    return path


def test_hand_worked_volatility(tmp_path):
    # hp 1, 2, 1, 2: r = ln2, -ln2, ln2; mean ln2/3; squared deviations (4 + 16 + 4)/9 ln2^2 over 2 = 4/3 ln2^2;
    # sigma_month = ln2 x 2/sqrt(3); x sqrt(12) = 4 ln2.
    w = V.read_window(_market(tmp_path, [1.0, 2.0, 1.0, 2.0]))
    assert w.n == 3 and w.volatility() == pytest.approx(4 * math.log(2), rel=1e-12)
    assert V.pooled([w]) == pytest.approx(w.volatility(), rel=1e-12)
    # a constant trend has no volatility: the drift belongs to the scenario's path
    assert V.read_window(_market(tmp_path, [1.0 * 0.9 ** t for t in range(12)])).volatility() == pytest.approx(0, abs=1e-12)


def test_estimate_rows_cut_the_run_and_halvings_are_refused(tmp_path):
    kinds = ["monthly mean"] * 3 + ["ESTIMATE"] + ["monthly mean"] * 5
    w = V.read_window(_market(tmp_path, [1, 2, 1, 5, 1, 2, 1, 2, 1], kinds))
    assert (w.first, w.last, w.n) == ("2021-11", "2022-03", 4)  # the longer run, after the ESTIMATE row
    with pytest.raises(ValueError, match="halving"):
        V.read_window(_market(tmp_path, [1, 2, 1, 2, 1], start=(2024, 2)))  # 2024-04 inside


def test_every_history_in_the_repository_recomputed_with_numpy():
    ws = V.windows(ROOT / "datasets")
    if not ws:
        pytest.skip("no history in datasets/ has monthly-mean rows (kind = 'monthly mean') yet")
    for w in ws:
        m = pd.read_csv(ROOT / "datasets" / w.name / "history" / "market.csv").sort_values("month")
        m = m[(m["calendar_month"] >= w.first) & (m["calendar_month"] <= w.last)]
        assert (m["kind"] == "monthly mean").all()
        r = np.diff(np.log(m["hashprice_usd_th_day"].to_numpy(float)))
        assert w.volatility() == pytest.approx(np.std(r, ddof=1) * np.sqrt(12), rel=1e-12)
    devs = np.concatenate([np.asarray(w.changes) - np.mean(w.changes) for w in ws])
    assert V.pooled(ws) == pytest.approx(np.sqrt(12 * (devs**2).sum() / sum(w.n - 1 for w in ws)), rel=1e-12)


def test_the_declared_default_is_the_pooled_estimate():
    """risk.hashprice_volatility's default is the repository's pooled monthly-mean estimate, to 2 decimals:
    a history that changes moves the estimate, and this test says the default must follow."""
    from optimizer.inputs.settings import SETTINGS

    ws = V.windows(ROOT / "datasets")
    assert ws, "no monthly-mean history to calibrate the default on"
    assert SETTINGS["risk.hashprice_volatility"].default == round(V.pooled(ws), 2)
