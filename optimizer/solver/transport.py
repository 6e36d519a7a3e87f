"""Column generation for the relocation LP: a restricted master kept in HiGHS, priced in numpy.

In MW units the LP is a transportation problem (fleet rows = supplies, capacity rows = demands)
plus a few side rows (jurisdiction caps, budget). Almost all of its million columns sit at zero
at the optimum: a rig batch goes to a handful of sites. So the LP is solved over a restricted set
of columns (the *master*), kept in one ``highspy.Highs`` object; every column outside it is
priced at once from the master's duals (reduced cost ``c - A^T y``, one sparse product), and the
ones that would improve the plan are added as a batch (``addCols``), after which HiGHS re-solves
from its last basis (a hot start). When no column outside the master has a positive reduced
cost, the master's optimum is the full LP's optimum and its duals are optimal duals of the full
LP (they price every column correctly), so the results and shadow prices are the same as from
one big solve.

Columns are identified by *keys* chosen by the caller (the engine uses column indices of the
model; ``planner.Planner`` uses (group, site) pairs so the master survives a rebuilt model).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from optimizer.solver.raw import RawSolution, highs_status

INF = highspy.kHighsInf
# The row families of the relocation LP (SPEC section 3) that column generation understands.
FAMILIES = {"fleet", "capacity", "share", "budget"}
# Below this many columns the plain solve is as fast; column generation pays above it.
COLUMNS_ABOVE = 20_000
# Columns a site may bring into the master per pricing round, and initially.
ADD_PER_SITE = 5
INITIAL_PER_SITE = 3
# A cold solve (the engine's) adds fewer per round: its master starts from estimated duals, and on the
# 5,000-site marketplace two per site price out in as many rounds as five, over a master half the size.
COLD_ADD_PER_SITE = 2
# A kept master (the planner's) is trimmed back to this many columns per row after each solve.
KEEP_COLUMNS_PER_ROW = 2
# Share of sites in the sample LP that estimates the duals the initial columns are chosen by.
SAMPLE_SHARE = 0.05
SAMPLE_MIN_SITES = 400


def _inf(a: np.ndarray) -> np.ndarray:
    return np.where(np.isposinf(a), INF, np.where(np.isneginf(a), -INF, a))


@dataclass
class MasterStats:
    rounds: int = 0
    columns_added: int = 0
    seconds: float = 0.0
    priced_out: bool = False  # the last master optimum was checked against every column


class Master:
    """A restricted master LP (maximise) over a fixed set of rows, with columns added by key.

    ``rows``: number of rows; ``row_lower``/``row_upper`` (rows,) with +-inf allowed.
    Columns are added with :meth:`add` as a CSC block over the same rows.
    """

    def __init__(self, row_lower: np.ndarray, row_upper: np.ndarray, options: dict[str, object]):
        self.h = highspy.Highs()
        for key, value in options.items():
            self.h.setOptionValue(key, value)
        n = len(row_lower)
        self.h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        if n:
            self.h.addRows(n, _inf(np.asarray(row_lower, float)), _inf(np.asarray(row_upper, float)), 0,
                           np.zeros(n, np.int32), np.zeros(0, np.int32), np.zeros(0))
        self.n_rows = n
        self.keys = np.zeros(0, np.int64)
        self.stats = MasterStats()

    @property
    def n_cols(self) -> int:
        return len(self.keys)

    def positions(self, keys: np.ndarray) -> np.ndarray:
        """Master column of each key, -1 where absent."""
        keys = np.asarray(keys, np.int64)
        if not self.n_cols:
            return np.full(len(keys), -1, np.int64)
        order = np.argsort(self.keys, kind="stable")
        sorted_keys = self.keys[order]
        at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
        return np.where(sorted_keys[at] == keys, order[at], -1)

    def add(self, keys: np.ndarray, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray, block: sp.csc_matrix) -> None:
        """Append columns (block: rows x len(keys), CSC)."""
        if not len(keys):
            return
        block = sp.csc_matrix(block)
        block.sort_indices()
        self.h.addCols(len(keys), np.asarray(cost, float), np.asarray(lower, float), _inf(np.asarray(upper, float)),
                       block.nnz, block.indptr[:-1].astype(np.int32), block.indices.astype(np.int32), block.data.astype(float))
        self.keys = np.concatenate([self.keys, np.asarray(keys, np.int64)])

    def set_costs(self, cols: np.ndarray, cost: np.ndarray) -> None:
        if len(cols):
            self.h.changeColsCost(len(cols), np.asarray(cols, np.int32), np.asarray(cost, float))

    def set_bounds(self, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        if len(cols):
            self.h.changeColsBounds(len(cols), np.asarray(cols, np.int32), np.asarray(lower, float),
                                    _inf(np.asarray(upper, float)))

    def set_row_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        if self.n_rows:
            self.h.changeRowsBounds(self.n_rows, np.arange(self.n_rows, dtype=np.int32),
                                    _inf(np.asarray(lower, float)), _inf(np.asarray(upper, float)))

    def purge(self, limit: int, protected: np.ndarray | None = None) -> int:
        """Delete nonbasic columns at zero, least attractive (most negative reduced cost) first, until
        at most ``limit`` remain; ``protected`` (bool per master column) are never deleted. The basis
        stays valid (only nonbasic columns go), so the next solve still starts hot. Returns how many."""
        if self.n_cols <= limit:
            return 0
        sol = self.h.getSolution()
        x = np.asarray(sol.col_value, float)
        rc = np.asarray(sol.col_dual, float)
        basic = np.array([s == highspy.HighsBasisStatus.kBasic for s in self.h.getBasis().col_status], bool)
        can = ~basic & (np.abs(x) <= 0.0)
        if protected is not None:
            can &= ~protected
        idx = np.nonzero(can)[0]
        idx = idx[np.argsort(rc[idx], kind="stable")][: self.n_cols - limit]
        if not len(idx):
            return 0
        idx = np.sort(idx)
        self.h.deleteCols(len(idx), idx.astype(np.int32))
        self.keys = np.delete(self.keys, idx)
        return len(idx)

    def run(self) -> highspy.HighsModelStatus:
        self.h.run()
        return self.h.getModelStatus()

    def duals(self) -> np.ndarray:
        # sense kMaximize: HiGHS's row duals are d(objective)/d(rhs) already.
        return np.asarray(self.h.getSolution().row_dual, float)

    def values(self) -> np.ndarray:
        return np.asarray(self.h.getSolution().col_value, float)


@dataclass
class Pricing:
    """The full column set the master draws from: costs, bounds, matrix (CSC) and a group per column.

    ``site[j]`` < 0 marks columns that are always in the master (sell, idle); x columns carry
    their site (each site brings its best columns) and ``mw[j]``, the MW one unit draws there.
    ``keys[j]`` names column j for the master.
    """

    keys: np.ndarray  # (n,) int64
    cost: np.ndarray  # (n,)
    lower: np.ndarray
    upper: np.ndarray
    matrix: sp.csc_matrix  # rows x n
    site: np.ndarray  # (n,) int, -1 for always-in columns
    mw: np.ndarray  # (n,) MW per unit (1 for always-in columns)


def top_per_group(group: np.ndarray, score: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest-scoring candidates (bool mask) within each value of ``group``."""
    idx = np.nonzero(candidates)[0]
    if not len(idx):
        return idx
    order = np.lexsort((-score[idx], group[idx]))
    idx = idx[order]
    g = group[idx]
    first = np.r_[0, np.nonzero(np.diff(g))[0] + 1]
    rank = np.arange(len(idx)) - np.repeat(first, np.diff(np.r_[first, len(idx)]))
    return idx[rank < k]


def generate(master: Master, pricing: Pricing, tol: float, per_site: int = ADD_PER_SITE,
             max_rounds: int = 500, deadline: float | None = None) -> highspy.HighsModelStatus:
    """Solve the master, price every column outside it, add each site's best, repeat to optimality.

    Returns HiGHS's model status of the last master solve (kOptimal when priced out: no column
    outside the master has a reduced cost above ``tol``). Re-solves after adding columns use
    primal simplex from the last basis (the basis stays primal feasible). Columns already in the
    master are left alone (the caller updates their costs and bounds).
    """
    t0 = time.perf_counter()
    AT = pricing.matrix.T  # CSC transposed is CSR without a copy: A^T y is one matvec
    outside = master.positions(pricing.keys) < 0
    movable = pricing.upper > pricing.lower
    master.stats.priced_out = False
    status = master.run()
    while True:
        master.stats.rounds += 1
        if status != highspy.HighsModelStatus.kOptimal:
            break
        y = master.duals()
        rc = pricing.cost - AT @ y
        want = outside & (rc > tol) & movable
        if not want.any():
            master.stats.priced_out = True
            break
        # each site's best entering columns by reduced cost per MW, and any always-in column
        pick = np.union1d(top_per_group(pricing.site, rc / pricing.mw, want & (pricing.site >= 0), per_site),
                          np.nonzero(want & (pricing.site < 0))[0])
        master.add(pricing.keys[pick], pricing.cost[pick], pricing.lower[pick], pricing.upper[pick],
                   pricing.matrix[:, pick])
        outside[pick] = False
        master.stats.columns_added += len(pick)
        if master.stats.rounds >= max_rounds or (deadline is not None and time.perf_counter() > deadline):
            status = master.run()
            break
        master.h.setOptionValue("solver", "simplex")
        master.h.setOptionValue("simplex_strategy", 4)  # primal: the basis stays primal feasible
        status = master.run()
    master.stats.seconds += time.perf_counter() - t0
    return status




# ---------------------------------------------------------------------------- choosing initial columns


def initial_columns(pricing: Pricing, row_lower: np.ndarray, row_upper: np.ndarray, capacity_rows: np.ndarray,
                    options: dict[str, object], per_site: int = INITIAL_PER_SITE) -> np.ndarray:
    """Always-in columns and each site's best columns by reduced cost per MW under estimated duals.

    The duals come from a sample LP: a random share of the sites with their capacity scaled up by
    the inverse share (so the sample competes for about the same total MW), solved by interior
    point without crossover. Deterministic (fixed seed). ``capacity_rows[s]`` is site s's row.
    """
    n_sites = len(capacity_rows)
    always = np.nonzero(pricing.site < 0)[0]
    x = pricing.site >= 0
    share = min(1.0, max(SAMPLE_SHARE, SAMPLE_MIN_SITES / max(n_sites, 1)))
    y = np.zeros(len(row_lower))
    if share < 1.0:
        sample = np.random.default_rng(0).random(n_sites) < share
        cols = np.nonzero(~x | (x & sample[np.maximum(pricing.site, 0)]))[0]
        up = np.asarray(row_upper, float).copy()
        up[capacity_rows[sample]] /= share
        probe = Master(row_lower, up, {**options, "solver": "ipm", "run_crossover": "off"})
        probe.add(pricing.keys[cols], pricing.cost[cols], pricing.lower[cols], pricing.upper[cols], pricing.matrix[:, cols])
        if probe.run() == highspy.HighsModelStatus.kOptimal:
            y = probe.duals()
            y[capacity_rows] = 0.0  # site prices are what the ranking below estimates, site by site
        del probe
    rc = pricing.cost - pricing.matrix.T.tocsr() @ y
    best = top_per_group(pricing.site, rc / pricing.mw, x & (rc > 0) & (pricing.upper > pricing.lower), per_site)
    return np.concatenate([always, best])


def tolerance(cost: np.ndarray) -> float:
    """Reduced costs above this enter the master: 1e-9 of the largest per-unit value (USD)."""
    return 1e-9 * max(1.0, float(np.abs(cost).max()) if len(cost) else 1.0)


# ---------------------------------------------------------------------------- the engine's path


def eligible(model, settings) -> bool:
    """Column generation applies to LPs (no integers) solved by HiGHS where selling or storing
    keeps every restricted master feasible (x = 0 is then a plan)."""
    return (model.mode == "lp" and settings.name == "highs" and not model.integer.any() and model.n_x > 0
            and (model.sell_col is not None or model.idle_col is not None)
            and model.block("capacity") is not None
            # only the section-3 families: rows or columns added by extensions (e.g. the risk model's CVaR
            # rows) could make a restricted master infeasible where the full LP is not
            and {b.family for b in model.blocks} <= FAMILIES and not getattr(model, "extra_names", None))


def model_pricing(model, keys: np.ndarray | None = None) -> Pricing:
    """The pricing view of a LinearModel (LP mode); keys default to column indices."""
    A = model.matrix().tocsc()
    n = model.n_cols
    site = np.full(n, -1, np.int64)
    site[: model.n_x] = model.x_site
    mw = np.ones(n)
    coo = model.block("capacity").matrix.tocoo()
    on = coo.col < model.n_x
    mw[coo.col[on]] = np.maximum(coo.data[on], 1e-12)
    return Pricing(np.arange(n, dtype=np.int64) if keys is None else np.asarray(keys, np.int64),
                   model.cost, model.lower, model.upper, A, site, mw)


def capacity_rows(model) -> np.ndarray:
    cap = model.block("capacity")
    return np.arange(cap.start, cap.start + len(cap.labels))


def master_options(settings, n_cols: int) -> dict[str, object]:
    """HiGHS options of a first master solve: interior point with crossover on large masters."""
    big = n_cols > COLUMNS_ABOVE
    return {"output_flag": False, "threads": 1, "time_limit": float(settings.time_limit_s),
            "solver": "ipm" if big else "choose", "run_crossover": "on"}


def solve_columns(model, settings):
    """The LP by column generation, as a RawSolution over all of the model's columns."""

    t0 = time.perf_counter()
    deadline = t0 + float(settings.time_limit_s)
    pricing = model_pricing(model)
    lo, up = model.row_bounds()
    options = master_options(settings, model.n_cols)
    init = initial_columns(pricing, lo, up, capacity_rows(model), options)
    master = Master(lo, up, options)
    master.add(pricing.keys[init], pricing.cost[init], pricing.lower[init], pricing.upper[init], pricing.matrix[:, init])
    build = time.perf_counter() - t0
    generate(master, pricing, tolerance(pricing.cost), per_site=COLD_ADD_PER_SITE, deadline=deadline)
    seconds = time.perf_counter() - t0 - build
    status, gap, bound = highs_status(master.h, "lp")
    if status == "optimal" and not master.stats.priced_out:
        status = "time_limit"  # stopped before every column was priced out: a plan, maybe not the best
    if status == "infeasible":
        return RawSolution("infeasible", np.nan, np.zeros(model.n_cols), None, None, None, "highs", "columns", seconds, build)
    x = np.zeros(model.n_cols)
    x[master.keys] = master.values()
    obj = float(master.h.getInfo().objective_function_value)
    return RawSolution(status, obj, x, master.duals(), gap, bound, "highs", "columns", seconds, build)
