"""Warm re-plans for replay (SPEC section 8, issue 20): one HiGHS LP kept across related solves.

The re-planning policy solves the monthly plan again at every t0 of every future. Consecutive
re-plans share most of their columns (a shipment ``ship[o,m,site,tau,until]`` with tau >= t0, a
rig's ``stay`` at its site, its moves) and rows (``capacity[site,month]``, ``share[J,month]``, the
budget); what changes is the objective (the forecast moves with the future's hashprice and resale
factors, survival counts from t0), the right-hand sides (rigs still at the origin or standing at a
site, the budget left) and which columns exist (decisions of past months are gone, new standing
units appear). ``KeptLP`` keeps one ``highspy.Highs`` model holding the union of every column and
row it has been given, and for each new model:

- rows are matched by label; a kept row the new model does not have is made free (-inf, inf), so
  it constrains nothing and its dual is 0;
- columns are matched by label *and* their coefficients: a column's key is its label with a 64-bit
  hash of its (kept row, value) pairs over the rows of the new model (``column_hashes``), so a
  column whose coefficients changed (a stay whose first running month moved with t0, a unit whose
  name now belongs to other rigs) is a new column; a kept column the new model does not have is
  fixed at 0 (bounds [0, 0]), so it changes neither the optimum nor the duals (a fixed column
  constrains no dual); coefficients a kept column has on rows that are now free do not matter;
- new columns are appended (nonbasic at their lower bound), objective coefficients and bounds of
  every kept column and bounds of every kept row are set, and HiGHS re-solves by simplex from the
  basis of the last solve.

The restriction of the kept LP to the new model's rows and columns is therefore the new model
itself: its optimal point and duals, mapped back by position, are an optimal point and optimal duals
of the new model, and the caller applies ``canonical.canonical`` and the guard to them exactly as
after a cold solve, so the plan carried out is the canonical plan of that model whichever path
solved it (tested: warm == cold on china-2021 and random scenarios). MIPs, non-optimal stops and
models whose labels repeat are not solved here (``solve`` returns None: the caller solves cold).

Bounded memory: when the kept model holds more than ``GROW_FACTOR`` times the new model's columns
(plus ``GROW_SLACK``) it is rebuilt from the new model alone (a cold start).
"""
from __future__ import annotations

import time

import highspy
import numpy as np
import scipy.sparse as sp

from optimizer.model import LinearModel
from optimizer.solver.raw import RawSolution, highs_status

GROW_FACTOR = 4
GROW_SLACK = 4000
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, vectorised (uint64, wrapping)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def column_hashes(csc: sp.csc_matrix, kept_rows: np.ndarray) -> np.ndarray:
    """(n_cols,) uint64: a hash of each column's (kept row index, coefficient bits) pairs, order-free
    (a wrapping sum of mixed pairs). ``kept_rows`` maps the matrix's row indices to kept indices."""
    if csc.nnz == 0:
        return np.zeros(csc.shape[1], np.uint64)
    rows = kept_rows[csc.indices].astype(np.uint64)
    bits = np.ascontiguousarray(csc.data, dtype=np.float64).view(np.uint64)
    with np.errstate(over="ignore"):
        pair = _mix64(_mix64(rows * _GOLDEN + np.uint64(1)) ^ bits)
        csum = np.concatenate([np.zeros(1, np.uint64), np.cumsum(pair, dtype=np.uint64)])
        return csum[csc.indptr[1:]] - csum[csc.indptr[:-1]]


class KeptLP:
    """One HiGHS LP kept across solves of related models (module docstring). Not thread-safe: one per
    worker thread (``replay`` makes one per chunk of futures).

    ``solve(model, labels)``: ``model`` a ``LinearModel`` (maximise), ``labels`` its column labels
    (``model.column_labels()``) or an (n_cols, k) integer array that names each column as exactly; returns a RawSolution of ``model`` (x and duals in its column and
    row order, backend "warm") or None when this path does not apply or did not reach the optimum.
    ``counts``: solves done warm, cold starts of the kept model, solves handed back (None).
    """

    def __init__(self, time_limit_s: float = 60.0):
        self.time_limit_s = float(time_limit_s)
        self.counts = {"warm": 0, "rebuilt": 0, "declined": 0}
        self._reset()

    def _reset(self) -> None:
        self.h = highspy.Highs()
        for key, value in {"output_flag": False, "threads": 1, "solver": "simplex", "random_seed": 0,
                           "time_limit": self.time_limit_s}.items():
            self.h.setOptionValue(key, value)
        self.h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        self.rows: dict[str, int] = {}
        self.cols: dict[tuple[str, int], int] = {}
        self.n_rows = self.n_cols = 0

    def solve(self, model: LinearModel, labels) -> RawSolution | None:
        if model.mode != "lp" or model.integer.any() or model.n_cols == 0:
            self.counts["declined"] += 1
            return None
        t0 = time.perf_counter()
        row_labels = model.row_labels()
        if len(set(row_labels)) != len(row_labels):
            self.counts["declined"] += 1
            return None
        if self.n_cols > GROW_FACTOR * model.n_cols + GROW_SLACK:
            self._reset()
            self.counts["rebuilt"] += 1
        inf = highspy.kHighsInf
        # rows: by label; new ones added free (their bounds are set below)
        ridx = np.fromiter((self.rows.get(r, -1) for r in row_labels), np.int64, len(row_labels))
        new_r = np.nonzero(ridx < 0)[0]
        if len(new_r):
            ridx[new_r] = np.arange(self.n_rows, self.n_rows + len(new_r))
            self.rows.update(zip((row_labels[i] for i in new_r), ridx[new_r].tolist()))
            self.h.addRows(len(new_r), np.full(len(new_r), -inf), np.full(len(new_r), inf), 0,
                           np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
            self.n_rows += len(new_r)
        # columns: by label and coefficients over this model's rows
        csc = sp.csc_matrix(model.matrix())
        csc.sort_indices()
        hashes = column_hashes(csc, ridx).tolist()
        if isinstance(labels, np.ndarray):  # (n_cols, k) integers naming the columns exactly (cheaper than labels)
            keys = list(zip(*(np.asarray(labels[:, i]).tolist() for i in range(labels.shape[1])), hashes))
        else:
            keys = list(zip(labels, hashes))
        if len(set(keys)) != len(keys):
            self.counts["declined"] += 1
            return None
        cidx = np.fromiter((self.cols.get(k, -1) for k in keys), np.int64, len(keys))
        new_c = np.nonzero(cidx < 0)[0]
        cost = np.asarray(model.cost, float)
        lower = np.asarray(model.lower, float)
        upper = np.where(np.isinf(model.upper), inf, model.upper).astype(float)
        if len(new_c):
            sub = csc[:, new_c]
            self.h.addCols(len(new_c), cost[new_c], lower[new_c], upper[new_c], sub.nnz,
                           sub.indptr[:-1].astype(np.int32), ridx[sub.indices].astype(np.int32),
                           sub.data.astype(float))
            cidx[new_c] = np.arange(self.n_cols, self.n_cols + len(new_c))
            self.cols.update(zip((keys[j] for j in new_c), cidx[new_c].tolist()))
            self.n_cols += len(new_c)
        # every kept column: this model's cost and bounds, or fixed at 0
        all_cost = np.zeros(self.n_cols)
        all_lo = np.zeros(self.n_cols)
        all_up = np.zeros(self.n_cols)
        all_cost[cidx], all_lo[cidx], all_up[cidx] = cost, lower, upper
        every = np.arange(self.n_cols, dtype=np.int32)
        self.h.changeColsCost(self.n_cols, every, all_cost)
        self.h.changeColsBounds(self.n_cols, every, all_lo, all_up)
        lo, up = model.row_bounds()
        row_lo = np.full(self.n_rows, -inf)
        row_up = np.full(self.n_rows, inf)
        row_lo[ridx] = np.where(np.isinf(lo), -inf, lo)
        row_up[ridx] = np.where(np.isinf(up), inf, up)
        self.h.changeRowsBounds(self.n_rows, np.arange(self.n_rows, dtype=np.int32), row_lo, row_up)
        build = time.perf_counter() - t0
        t1 = time.perf_counter()
        self.h.run()
        seconds = time.perf_counter() - t1
        try:
            status, _, _ = highs_status(self.h, "lp")
        except Exception:  # noqa: BLE001 - any stop without a plan: the caller's cold solve decides
            status = "failed"
        if status != "optimal":
            self._reset()  # its basis is of no use to the next solve
            self.counts["declined"] += 1
            return None
        sol = self.h.getSolution()
        if not sol.dual_valid:
            self.counts["declined"] += 1
            return None
        x = np.asarray(sol.col_value, float)[cidx]
        duals = np.asarray(sol.row_dual, float)[ridx]
        obj = float(self.h.getInfo().objective_function_value)
        self.counts["warm"] += 1
        return RawSolution("optimal", obj, x, duals, 0.0, None, "highs", "warm", seconds, build)
