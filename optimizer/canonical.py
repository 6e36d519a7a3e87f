"""One plan among equal-value optima: the canonical plan of an LP (issue 13).

The relocation LP (SPEC section 3, LP mode) often has many optimal plans of exactly the same
value: per-MW values are close to separable in (rig batch, site), so two batches can swap sites
at no cost. Which optimal vertex a solver returns depends on the path (PuLP+HiGHS, the direct
path, column generation, CBC, a warm re-solve from the last basis, the order of the rows in the
CSVs). This module picks one by a rule, so the plan is a function of the scenario alone.

**The rule.** Among all optimal plans, the canonical plan is the one that minimises
``sum_j w_j * x_j`` with ``w_j = h_j * mw_j``: ``h_j`` in [1, 2) is a hash of the column's names
(the rig batch's origin and model, and the site, or "sell" / "idle"; ``column_keys``), and
``mw_j`` is the MW one unit of the column draws at its site (for selling and storing: the mean
MW per rig of that batch over its sites). The weights
depend on names only, never on row order or solve history; with weights spread over [1, 2) the
minimiser is a single vertex (a tie in the secondary objective would need an exact coincidence
of hash values).

**How.** Given any optimal duals ``y`` (d(objective)/d(rhs), maximisation) of the LP
``max c'x, lo <= Ax <= up, l <= x <= u``, the reduced costs ``d = c - A'y`` of *all* columns
(column generation included: every column of the model is priced, not only the master's)
describe the optimal face by complementary slackness, the same face for every optimal ``y``:
columns with ``d_j > tol`` sit at their upper bound, ``d_j < -tol`` at their lower bound; rows
with ``|y_i| * max_j |A_ij| > tol`` are held at their active bound (upper if ``y_i > 0``,
lower if ``y_i < 0``); the other rows keep their bounds. ``tol = 1e-9 * max(1, max |c|)`` USD
per unit (the column-generation tolerance, ``transport.tolerance``). A small secondary LP over
the columns with ``|d_j| <= tol`` (typically the basic columns plus the tied ones; every other
column is fixed) minimises the rule's objective. It is always solved with HiGHS (highspy,
dual simplex, one thread), whatever ``solver.name`` says, so CBC plans follow the same rule;
its columns and rows are sorted by name, so it is the same LP whatever the input order.

**Fast path.** When no column has ``|d_j| <= tol`` the point is the only one the duals allow
(it is kept as it is); this costs one pricing product ``A'y``. Otherwise the secondary LP is
solved: it has about as many columns as the plan has nonzero decisions plus the ties, and rows
only where those columns have entries.

**Duals.** The duals of the solve are kept: every optimal dual certifies every optimal plan
(complementary slackness), so they stay optimal for the canonical plan. Where the LP is dual
degenerate as well, different paths may return different optimal duals (shadow prices):
``canonical_duals`` picks one by the same kind of rule (see there).

**Scope.** LP mode only, section-3 models (no extension columns such as the risk model's CVaR
columns). MIPs (``policy.integer_rigs``, fixed costs, minimums) are returned as solved: a MIP
optimum's ties would need a second MIP, not done. If the secondary LP fails (numerical
trouble) the solver's point is kept and ``RawSolution.canonical`` says ``"kept"``.

Shapes: ``model.n_cols`` columns, ``model.n_rows`` rows; ``raw.x`` (n_cols,), ``raw.row_dual``
(n_rows,). Units: x in rigs, c in USD per rig, y in USD per row unit (per rig, MW, TH/s, USD).
"""
from __future__ import annotations

import dataclasses
import hashlib
import time

import highspy
import numpy as np
import scipy.sparse as sp

from .model import LinearModel

# Reduced costs (USD per unit) within this share of the largest |cost| count as zero.
REL_TOL = 1e-9
# Relative precision of the duals a path hands back: HiGHS's are doubles; PuLP reads CBC's from a
# text file with 8 significant digits, so a reduced cost c_j - A_j'y carries up to this share of
# |A_j|'|y| in rounding.
DUAL_PRECISION = {"cbc": 1e-7}
DEFAULT_DUAL_PRECISION = 1e-12
INF = highspy.kHighsInf


def applies(model: LinearModel, raw) -> bool:
    """Whether the canonical step runs: an optimal LP point with duals, section-3 columns only."""
    return (model.mode == "lp" and raw.status == "optimal" and raw.row_dual is not None
            and not model.integer.any() and not model.extra_names and model.n_cols > 0
            and len(raw.row_dual) == model.n_rows and np.isfinite(raw.row_dual).all())


def tolerance(cost: np.ndarray) -> float:
    """USD per unit: reduced costs within this of 0 are ties (``REL_TOL`` of the largest |cost|)."""
    return REL_TOL * max(1.0, float(np.abs(cost).max()) if len(cost) else 1.0)


def _digest64(texts) -> np.ndarray:
    """(n,) uint64: the first 8 bytes of each text's BLAKE2b digest (the same on any machine)."""
    return np.array([int.from_bytes(hashlib.blake2b(str(t).encode("utf-8"), digest_size=8).digest(), "big")
                     for t in texts], dtype=np.uint64)


def _mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser of a * golden + b (uint64, wrapping): one well-spread number per pair."""
    z = a * np.uint64(0x9E3779B97F4A7C15) + b
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def column_keys(model: LinearModel, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the given columns: (h in [1, 2), batch name, second name), from names only.

    The batch name is ``origin + "\\x1f" + model``; the second name is the site's name for a
    relocation and ``"\\x1fsell"`` / ``"\\x1fidle"`` for selling and storing (a control character:
    no site name collides). h = 1 + splitmix64(digest(batch) * golden + digest(second)) / 2^64 with
    BLAKE2b digests; only the batches and sites of ``cols`` are hashed (vectorised mixing).
    """
    G = len(model.group_keys)
    cols = np.asarray(cols, np.int64)
    group = np.zeros(len(cols), np.int64)
    second = np.full(len(cols), "\x1fidle", dtype=object)
    is_x = cols < model.n_x
    group[is_x] = model.x_group[cols[is_x]]
    second[is_x] = np.asarray(model.site_names, dtype=object)[model.x_site[cols[is_x]]]
    for tag, first in (("\x1fsell", model.sell_col), ("\x1fidle", model.idle_col)):
        if first is not None:
            on = (cols >= first[0]) & (cols < first[0] + G)
            group[on] = cols[on] - first[0]
            second[on] = tag
    batch = np.array(["\x1f".join(map(str, k)) for k in model.group_keys] + [""], dtype=object)
    used, g_inv = np.unique(group, return_inverse=True)
    s_uniq, s_inv = np.unique(second.astype(str), return_inverse=True)
    h = 1.0 + (_mix(_digest64(batch[used])[g_inv], _digest64(s_uniq)[s_inv]) >> np.uint64(11)).astype(float) / 2.0 ** 53
    return h, batch[group].astype(str), second.astype(str)


def column_mw(model: LinearModel) -> np.ndarray:
    """(n_cols,) MW per unit: the capacity row's coefficient for x; a batch's mean over its sites for sell/idle."""
    mw = np.ones(model.n_cols)
    cap = model.block("capacity")
    if cap is not None and model.n_x:
        coo = cap.matrix.tocoo()
        on = coo.col < model.n_x
        mw[coo.col[on]] = coo.data[on]
    G = len(model.group_keys)
    if G and model.n_x:
        total = np.bincount(model.x_group, weights=mw[: model.n_x], minlength=G)
        n = np.bincount(model.x_group, minlength=G)
        per_group = np.where(n > 0, total / np.maximum(n, 1), 1e-3)
    else:
        per_group = np.full(G, 1e-3)
    for cols in (model.sell_col, model.idle_col):
        if cols is not None:
            mw[cols] = per_group
    return np.maximum(mw, 1e-12)


def _is_plan(model: LinearModel, A: sp.spmatrix, raw) -> bool:
    """Whether the solver's point keeps the model's bounds and rows and is worth what it reports, to
    about the solver's tolerances (the guard re-derives the same from the tables, with its messages)."""
    x = np.asarray(raw.x, float)
    if x.shape != (model.n_cols,) or not np.isfinite(x).all() or not np.isfinite(raw.objective):
        return False
    slack = 1e-6 * (1.0 + np.abs(x))
    if (x < model.lower - slack).any() or (x > model.upper + slack).any():
        return False
    act = A @ x
    lo, up = model.row_bounds()
    row_tol = 1e-6 * (1.0 + abs(A) @ np.abs(x))
    if (act < lo - row_tol).any() or (act > up + row_tol).any():
        return False
    terms = np.abs(model.cost * x)
    return abs(float(model.cost @ x) - float(raw.objective)) <= 1e-6 * float(terms.sum()) + 1e-3


def canonical_plan(model: LinearModel, raw):
    """The canonical optimal plan (module docstring) as a RawSolution with the same duals.

    ``raw``: an optimal RawSolution of ``model`` (any path). Returns ``raw`` unchanged when the
    rule does not apply (MIP, not optimal, no duals), else a copy with ``x`` the canonical plan,
    ``canonical`` "unique" (fast path), "tie-broken" or "kept" (the solver's point stays: it is not
    a plan of the model, which the guard then reports, or the secondary LP failed) and
    ``canonical_seconds`` the time spent (also added to ``seconds``). ``objective`` stays the
    solver's optimum: the canonical plan is worth the same within the tolerance, and the guard
    still compares the two.
    """
    if not applies(model, raw):
        return raw
    t0 = time.perf_counter()
    A = model.matrix().tocsc()
    y = np.asarray(raw.row_dual, float)
    c, lower, upper = model.cost, model.lower, model.upper
    d = c - A.T @ y
    tol = tolerance(c)
    absA = abs(A)
    # per column: the rule's tolerance plus the rounding the path's duals carry
    tol_col = tol + DUAL_PRECISION.get(raw.solver, DEFAULT_DUAL_PRECISION) * (absA.T @ np.abs(y))
    free = (np.abs(d) <= tol_col) & (upper > lower)

    def done(x, how):
        spent = time.perf_counter() - t0
        return dataclasses.replace(raw, x=x, canonical=how, canonical_seconds=spent, seconds=raw.seconds + spent)

    if not _is_plan(model, A, raw):
        return done(raw.x, "kept")  # not a plan of this model: leave it to the guard, which says why

    if not free.any():
        return done(raw.x, "unique")
    at_upper = (d > tol_col) & ~free
    if np.isinf(upper[at_upper]).any():
        return done(raw.x, "kept")  # the duals are not optimal: leave the solver's point to the guard
    x_fixed = np.where(at_upper, upper, lower)
    x_fixed[free] = 0.0
    const = A @ x_fixed
    lo, up = model.row_bounds()
    row_scale = np.asarray(absA.tocsr().max(axis=1).todense()).ravel() if A.shape[0] else np.zeros(0)
    binding = np.abs(y) * row_scale > tol
    row_lo = np.where(binding & (y > 0), up, lo).astype(float)
    row_up = np.where(binding & (y < 0), lo, up).astype(float)
    if np.isinf(row_lo[binding & (y > 0)]).any() or np.isinf(row_up[binding & (y < 0)]).any():
        return done(raw.x, "kept")
    F = np.nonzero(free)[0]
    h, batch_name, second_name = column_keys(model, F)
    order = np.lexsort((second_name, batch_name))  # by names: the same LP whatever the input order
    F, h = F[order], h[order]
    AF = A[:, F].tocsr()
    rows = np.nonzero(np.diff(AF.indptr) > 0)[0]
    row_names = model.row_labels()
    rows = rows[np.argsort(np.array([row_names[i] for i in rows], dtype=object), kind="stable")]
    sub = AF[rows].tocsc()
    sub.sort_indices()
    weights = h * column_mw(model)[F]
    h = highspy.Highs()
    for key, value in {"output_flag": False, "threads": 1, "solver": "simplex", "random_seed": 0}.items():
        h.setOptionValue(key, value)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(F), len(rows)
    lp.sense_ = highspy.ObjSense.kMinimize
    lp.col_cost_ = weights
    lp.col_lower_ = lower[F].astype(float)
    lp.col_upper_ = np.where(np.isinf(upper[F]), INF, upper[F]).astype(float)
    rl, ru = row_lo[rows] - const[rows], row_up[rows] - const[rows]
    lp.row_lower_ = np.where(np.isneginf(rl), -INF, rl)
    lp.row_upper_ = np.where(np.isposinf(ru), INF, ru)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = sub.indptr.astype(np.int32)
    lp.a_matrix_.index_ = sub.indices.astype(np.int32)
    lp.a_matrix_.value_ = sub.data.astype(float)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return done(raw.x, "kept")
    x = x_fixed.copy()
    x[F] = np.clip(np.asarray(h.getSolution().col_value, float), lower[F], upper[F])
    # the face as described by rounded duals could hold a slightly worse point: give up no more value
    # than the tolerance that made those columns free
    scale = float(np.abs(c * x).sum()) + float(np.abs(c * raw.x).sum()) + 1.0
    if float(c @ x) < float(c @ raw.x) - 1e-9 * scale - float(tol_col[F] @ np.abs(x[F])):
        return done(raw.x, "kept")
    return done(x, "tie-broken")
