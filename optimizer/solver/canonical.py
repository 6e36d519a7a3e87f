"""One plan (and one set of shadow prices) among equal-value optima: the canonical plan (issue 13).

The relocation LP (SPEC section 3, LP mode) often has many optimal plans of exactly the same
value: per-MW values are close to separable in (rig batch, site), so two batches can swap sites
at no cost. Which optimal vertex a solver returns depends on the path (PuLP+HiGHS, the direct
path, column generation, CBC, a warm re-solve from the last basis, the order of the rows in the
CSVs). ``canonical(model, raw)``, called by the engine after every LP solve and by the planner
after every warm one (both before the guard, which checks the final point), replaces it by the
one a rule picks, so the plan is a function of the scenario alone.

**The rule (plan).** Among all optimal plans, the one that minimises ``sum_j w_j * x_j`` with
``w_j = h_j * mw_j``: ``h_j`` in [1, 2) is a hash of the column's names (the rig batch's origin
and model, and the site, or "sell" / "idle"; ``column_keys``: BLAKE2b digests mixed by
splitmix64; exactly as in ``column_keys``), ``mw_j`` the MW one unit of the column draws at its
site (for selling and storing: the batch's MW per rig averaged over every site of sites.csv, so it
does not depend on which relocations pruning kept). "Fewest name-weighted MW": no economic meaning
beyond the value, which all candidates share; it only has to be unique and independent of row
order and history. With weights spread over [1, 2) the minimiser is one vertex (another would
need an exact coincidence of hash sums).

**The rule (shadow prices).** Among all optimal duals, the one that minimises the name-weighted
sum of |shadow prices| (``canonical_duals``): the value of one *more* MW, TH/s of cap or USD of
budget where the left and right values differ.

**How (plan).** Given any optimal duals ``y`` (d(objective)/d(rhs), maximisation) of
``max c'x, lo <= Ax <= up, l <= x <= u``, the reduced costs ``d = c - A'y`` of *all* columns
(column generation included: every column of the model is priced, not only the master's)
describe the optimal face by complementary slackness, the same face for every optimal ``y``:
columns with ``d_j > tol_j`` sit at their upper bound, ``d_j < -tol_j`` at their lower bound;
rows whose dual moves some column's reduced cost by more than that column's ``tol_j`` are held
at their active limit (upper if ``y_i > 0``, lower if ``y_i < 0``); the other rows keep their
bounds. ``tol_j = max(1e-9 * (|c_j| + |A_j|'|y|), 1e-7)`` USD per unit: the scale of the two
terms ``d_j`` is the difference of (so scenarios with values from 1e-6 to 1e13 USD keep their
small columns' differences), at least HiGHS's dual feasibility tolerance, plus the rounding the duals carry (``DUAL_PRECISION``: 1e-7 of ``|A_j|'|y|`` for
CBC, whose duals PuLP reads with 8 digits). A
small secondary LP over the columns with ``|d_j| <= tol_j`` (the columns the plan uses plus the
tied ones; every other column fixed) minimises the rule's objective. It is always solved with
HiGHS (highspy, dual simplex, one thread, presolve), also when ``solver.name = "cbc"``, so CBC
plans follow the same rule; its columns and rows are sorted by name, so it is the same LP
whatever the input order.

**Fast paths and cost.** If the solver's point is a nondegenerate vertex whose free columns and
held rows form a square system (``_only_point``), the optimum is unique and the point is kept
(cost: one pricing product ``A'y`` and one ``Ax``). Otherwise the secondary LP is solved (about
as many columns as the plan has nonzero decisions plus the ties). Measured in all: about 2 ms
per slider move on china-2021, 10 ms on the 5,000-site marketplace (88,000 columns), 0.16-0.26 s
on the 20,000-site one (1M columns, a 5.5 s solve). For the duals: if the
canonical plan is a nondegenerate vertex (as many columns strictly inside their bounds as active
rows) the optimal dual is unique and is solved from the plan (one sparse square solve; every
path then reports it to machine precision); otherwise a dual LP over the active rows.

**Scope and failures.** LP mode only, section-3 models (no extension columns such as the risk
model's CVaR columns). MIPs (``policy.integer_rigs``, fixed costs, minimums) keep the solver's
plan: a MIP optimum's ties would need a second MIP, not done. A point that is not a plan of the
model (the guard then says why) or a secondary LP that fails (numerical trouble) leaves the
solver's point; ``RawSolution.canonical`` says "unique", "tie-broken" or "kept" ("" when the
step does not apply) and ``canonical_seconds`` the time spent (also in ``seconds``).

Shapes: ``model.n_cols`` columns, ``model.n_rows`` rows; ``raw.x`` (n_cols,), ``raw.row_dual``
(n_rows,). Units: x in rigs, c in USD per rig, y in USD per row unit (per rig, MW, TH/s, USD).
"""
from __future__ import annotations

import dataclasses
import time
import warnings

import highspy
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from optimizer.model import LinearModel
from optimizer.model.tiebreak import digest64, mix64

# Reduced costs (USD per unit) within this share of the column's own scale count as zero ...
REL_TOL = 1e-9
# ... and within this many USD per rig in any case: HiGHS accepts reduced costs of about this size
# (its dual feasibility tolerance) as optimal, so smaller differences are not told apart by any path.
ABS_TOL = 1e-7
# Relative precision of the duals a path hands back: HiGHS's are doubles; PuLP reads CBC's from a
# text file with 8 significant digits, so a reduced cost c_j - A_j'y carries up to this share of
# |A_j|'|y| in rounding.
DUAL_PRECISION = {"cbc": 1e-7}
DEFAULT_DUAL_PRECISION = 1e-12
INF = highspy.kHighsInf


def canonical(model: LinearModel, raw):
    """``canonical_plan`` then ``canonical_duals``: the plan and shadow prices every path agrees on.

    ``raw``: a RawSolution of ``model`` from any path; returns a RawSolution of the same shapes.
    Never raises: where the rule does not apply or a step fails, the solver's values stay (see
    ``RawSolution.canonical``) and the engine's guard judges the point as before.
    """
    if not applies(model, raw):
        return raw
    mats = _Matrices(model)
    return canonical_duals(model, canonical_plan(model, raw, mats), mats)


class _Matrices:
    """The model's matrix in the forms both steps need, each made once: A (CSC), A' (CSR, no copy),
    |A| (also as coordinates), and per row its largest |coefficient| and largest column |cost|."""

    def __init__(self, model: LinearModel):
        self.model = model
        self.A = model.matrix().tocsc()
        self.AT = self.A.T  # CSR view of the same arrays
        self.absA = self.A if (self.A.data >= 0).all() else abs(self.A)  # section 3's rows: no copy
        coo = self.absA.tocoo()
        self.coo_row, self.coo_col, self.coo_abs = coo.row, coo.col, coo.data
        self._row_scale = None
        self._row_cost = None

    def col_tolerance(self, y: np.ndarray, precision: float = 0.0) -> np.ndarray:
        """(n_cols,) USD per unit: reduced costs within this of 0 are ties, column by column:
        ``max(REL_TOL * (|c_j| + |A_j|'|y|), ABS_TOL)`` (the scale of the two terms d_j is the
        difference of) plus ``precision * |A_j|'|y|`` for duals handed back rounded."""
        ay = self.absA.T @ np.abs(y)
        return np.maximum(REL_TOL * (np.abs(self.model.cost) + ay), ABS_TOL) + precision * ay

    def rows_moving(self, y: np.ndarray, col_tol: np.ndarray) -> np.ndarray:
        """(n_rows,) bool: rows whose dual moves some column's reduced cost by more than its tolerance."""
        out = np.zeros(self.A.shape[0], bool)
        hit = self.coo_abs * np.abs(y[self.coo_row]) > col_tol[self.coo_col]
        out[self.coo_row[hit]] = True
        return out

    @property
    def row_cost(self) -> np.ndarray:
        """(n_rows,) the largest |c_j| among each row's columns (USD per unit)."""
        if self._row_cost is None:
            self._row_cost = np.zeros(self.A.shape[0])
            np.maximum.at(self._row_cost, self.coo_row, np.abs(self.model.cost)[self.coo_col])
        return self._row_cost

    @property
    def row_scale(self) -> np.ndarray:
        """(n_rows,) the largest |A_ij| of each row (0 for a row without columns)."""
        if self._row_scale is None:
            n = self.A.shape[0]
            self._row_scale = np.zeros(n)
            np.maximum.at(self._row_scale, self.coo_row, self.coo_abs)
        return self._row_scale


def _solve_min(cost, col_lo, col_up, row_lo, row_up, mat: sp.csc_matrix) -> np.ndarray | None:
    """HiGHS (dual simplex, one thread, presolve) on min cost'v, col_lo <= v <= col_up,
    row_lo <= mat v <= row_up (infinities allowed); the optimal v or None."""
    mat = sp.csc_matrix(mat)
    mat.sort_indices()
    fix = lambda a: np.where(np.isposinf(a), INF, np.where(np.isneginf(a), -INF, a)).astype(float)  # noqa: E731
    h = highspy.Highs()
    for key, value in {"output_flag": False, "threads": 1, "solver": "simplex", "random_seed": 0}.items():
        h.setOptionValue(key, value)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = mat.shape[1], mat.shape[0]
    lp.sense_ = highspy.ObjSense.kMinimize
    lp.col_cost_ = np.asarray(cost, float)
    lp.col_lower_, lp.col_upper_ = fix(col_lo), fix(col_up)
    lp.row_lower_, lp.row_upper_ = fix(row_lo), fix(row_up)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = mat.indptr.astype(np.int32)
    lp.a_matrix_.index_ = mat.indices.astype(np.int32)
    lp.a_matrix_.value_ = mat.data.astype(float)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return np.asarray(h.getSolution().col_value, float)


def applies(model: LinearModel, raw) -> bool:
    """Whether the canonical step runs: an optimal LP point with duals, section-3 columns only."""
    return (model.mode == "lp" and raw.status == "optimal" and raw.row_dual is not None
            and not model.integer.any() and not model.extra_names and model.n_cols > 0
            and len(raw.row_dual) == model.n_rows and np.isfinite(raw.row_dual).all())


def column_keys(model: LinearModel, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the given columns: (h in [1, 2), batch name, second name), from names only.

    The batch name is ``origin + "\\x1f" + model``; the second name is the site's name for a
    relocation and ``"\\x1fsell"`` / ``"\\x1fidle"`` for selling and storing (a control character:
    no site name collides). h = 1 + (splitmix64(digest(batch) * golden + digest(second)) >> 11) / 2^53
    (uint64 arithmetic wrapping, golden = 0x9E3779B97F4A7C15, ``digest64`` for digest, ``mix64`` for
    splitmix64's finaliser); only the batches and sites of ``cols`` are hashed (vectorised mixing).
    Which of two tied plans wins can be recomputed from this and ``column_mw``.
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
    h = 1.0 + (mix64(digest64(batch[used])[g_inv], digest64(s_uniq)[s_inv]) >> np.uint64(11)).astype(float) / 2.0 ** 53
    return h, batch[group].astype(str), second.astype(str)


def column_mw(model: LinearModel) -> np.ndarray:
    """(n_cols,) MW per unit: the capacity row's coefficient for x; for sell/idle, the batch's MW per rig
    averaged over every site of the scenario's tables (``model.group_mw``), so the weight does not depend
    on which relocations pruning kept (models built without it: the mean over the batch's columns)."""
    mw = np.ones(model.n_cols)
    cap = model.block("capacity")
    if cap is not None and model.n_x:
        coo = cap.matrix.tocoo()
        on = coo.col < model.n_x
        mw[coo.col[on]] = coo.data[on]
    G = len(model.group_keys)
    if model.group_mw is not None and len(model.group_mw) == G:
        per_group = np.asarray(model.group_mw, float)
    elif G and model.n_x:
        total = np.bincount(model.x_group, weights=mw[: model.n_x], minlength=G)
        n = np.bincount(model.x_group, minlength=G)
        per_group = np.where(n > 0, total / np.maximum(n, 1), 1e-3)
    else:
        per_group = np.full(G, 1e-3)
    for cols in (model.sell_col, model.idle_col):
        if cols is not None:
            mw[cols] = per_group
    return np.maximum(mw, 1e-12)


def _is_plan(model: LinearModel, mats: "_Matrices", raw) -> bool:
    """Whether the solver's point keeps the model's bounds and rows and is worth what it reports, to
    about the solver's tolerances (the guard re-derives the same from the tables, with its messages)."""
    x = np.asarray(raw.x, float)
    if x.shape != (model.n_cols,) or not np.isfinite(x).all() or not np.isfinite(raw.objective):
        return False
    slack = 1e-6 * (1.0 + np.abs(x))
    if (x < model.lower - slack).any() or (x > model.upper + slack).any():
        return False
    act = mats.A @ x
    lo, up = model.row_bounds()
    row_tol = 1e-6 * (1.0 + mats.absA @ np.abs(x))
    if (act < lo - row_tol).any() or (act > up + row_tol).any():
        return False
    terms = np.abs(model.cost * x)
    return abs(float(model.cost @ x) - float(raw.objective)) <= 1e-6 * float(terms.sum()) + 1e-3


def _only_point(model: LinearModel, mats: "_Matrices", x: np.ndarray, free: np.ndarray, binding: np.ndarray,
                lo: np.ndarray, up: np.ndarray) -> bool:
    """Whether the optimal face is the point x alone (the fast path).

    With x a basic solution (every path here returns one: simplex, or interior point with
    crossover): if every column free to move on the face lies strictly inside its bounds, every
    row not held by the duals has slack, and there are as many such columns as held rows, then
    near x the face is {A_EF x_F = b_E}, a square system whose columns are independent at a
    vertex: x is the only optimal plan.
    """
    F = np.nonzero(free)[0]
    if not len(F):
        return True
    xf = x[F]
    gap = 1e-9 + 1e-12 * float(np.abs(x).max())
    if ((xf <= model.lower[F] + gap) | (xf >= model.upper[F] - gap)).any():
        return False
    touched = np.zeros(model.n_rows, bool)
    touched[mats.A[:, F].indices] = True
    other = touched & ~binding
    if other.any():
        act = (mats.A @ x)[other]
        slack = 1e-7 * (1.0 + np.abs(np.where(np.isfinite(up[other]), up[other], 0.0)))
        if ((act >= up[other] - slack) | (act <= lo[other] + slack)).any():
            return False
    return len(F) == int(binding.sum())


def canonical_plan(model: LinearModel, raw, mats: "_Matrices | None" = None):
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
    mats = mats or _Matrices(model)
    A = mats.A
    y = np.asarray(raw.row_dual, float)
    c, lower, upper = model.cost, model.lower, model.upper
    d = c - mats.AT @ y
    # per column: the rule's tolerance plus the rounding the path's duals carry
    tol_col = mats.col_tolerance(y, DUAL_PRECISION.get(raw.solver, DEFAULT_DUAL_PRECISION))
    free = (np.abs(d) <= tol_col) & (upper > lower)

    def done(x, how):
        spent = time.perf_counter() - t0
        return dataclasses.replace(raw, x=x, canonical=how, canonical_seconds=spent, seconds=raw.seconds + spent)

    if not _is_plan(model, mats, raw):
        return done(raw.x, "kept")  # not a plan of this model: leave it to the guard, which says why

    lo, up = model.row_bounds()
    binding = mats.rows_moving(y, tol_col)
    if _only_point(model, mats, raw.x, free, binding, lo, up):
        return done(raw.x, "unique")
    at_upper = (d > tol_col) & ~free
    if np.isinf(upper[at_upper]).any():
        return done(raw.x, "kept")  # the duals are not optimal: leave the solver's point to the guard
    x_fixed = np.where(at_upper, upper, lower)
    x_fixed[free] = 0.0
    const = A @ x_fixed
    row_lo = np.where(binding & (y > 0), up, lo).astype(float)
    row_up = np.where(binding & (y < 0), lo, up).astype(float)
    if np.isinf(row_lo[binding & (y > 0)]).any() or np.isinf(row_up[binding & (y < 0)]).any():
        return done(raw.x, "kept")
    F = np.nonzero(free)[0]
    keys = getattr(model, "canonical_keys", None)  # models with other column families name their own (optimizer.model.monthly)
    h, batch_name, second_name = keys(F) if keys else column_keys(model, F)
    order = np.lexsort((second_name, batch_name))  # by names: the same LP whatever the input order
    F, h = F[order], h[order]
    AF = A[:, F].tocsr()
    rows = np.nonzero(np.diff(AF.indptr) > 0)[0]
    row_names = model.row_labels()
    rows = rows[np.argsort(np.array([row_names[i] for i in rows], dtype=object), kind="stable")]
    weights = model.canonical_mw() if hasattr(model, "canonical_mw") else column_mw(model)
    v = _solve_min(h * weights[F], lower[F], upper[F], row_lo[rows] - const[rows],
                   row_up[rows] - const[rows], AF[rows].tocsc())
    if v is None:
        return done(raw.x, "kept")
    x = x_fixed.copy()
    x[F] = np.clip(v, lower[F], upper[F])
    # the face as described by rounded duals could hold a slightly worse point: give up no more value
    # than the tolerance that made those columns free
    scale = float(np.abs(c * x).sum()) + float(np.abs(c * raw.x).sum()) + 1.0
    if float(c @ x) < float(c @ raw.x) - 1e-9 * scale - float(tol_col[F] @ np.abs(x[F])):
        return done(raw.x, "kept")
    return done(x, "tie-broken")


# ---------------------------------------------------------------------------- duals

# Weight of the equality rows' duals (fleet rows, USD per rig) beside the inequality rows' (the
# reported shadow prices): small, so the shadow prices are chosen first and the fleet duals only
# separate what is still tied.
EQUALITY_WEIGHT = 1e-6
DUAL_ROUNDS = 20


def _square_duals(model, mats, active, inside, at_lower, at_upper, on_lo, on_up) -> np.ndarray | None:
    """y with A_j'y = c_j on the columns strictly inside their bounds, y = 0 on rows with slack;
    None if that system is singular or its y is not an optimal dual (sign or reduced cost off)."""
    c = model.cost
    y = np.zeros(model.n_rows)
    if len(active):
        square = mats.AT[np.nonzero(inside)[0]][:, active].tocsc()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a singular system is answered below, not by a warning
            try:
                ya = spla.spsolve(square, c[inside]) if len(active) > 1 else np.array([c[inside][0] / square[0, 0]])
            except (RuntimeError, ZeroDivisionError, FloatingPointError):
                return None
        ya = np.atleast_1d(np.asarray(ya, float))
        if not np.isfinite(ya).all():
            return None
        y[active] = ya
    tol = mats.col_tolerance(y)
    d = c - mats.AT @ y
    movable = model.upper > model.lower
    scale = np.maximum(mats.row_scale, 1e-12)
    if (np.abs(d[inside]) > tol[inside]).any() or (d[at_lower & movable] > tol[at_lower & movable]).any() \
            or (d[at_upper & movable] < -tol[at_upper & movable]).any():
        return None
    sign_tol = REL_TOL * mats.row_cost
    if (y[~on_lo] * scale[~on_lo] < -sign_tol[~on_lo]).any() or (y[~on_up] * scale[~on_up] > sign_tol[~on_up]).any():
        return None
    return y


def canonical_duals(model: LinearModel, raw, mats: "_Matrices | None" = None):
    """The canonical optimal duals for the (canonical) plan ``raw.x``, as a RawSolution.

    Where the plan is degenerate (e.g. the fleet exactly fills the sites it uses) many duals are
    optimal, and paths return different ones (one path says an extra MW is worth nothing, another
    that it is worth the whole margin of a rig). The rule: among all optimal duals, the one that
    minimises ``sum_i v_i * s_i * |y_i|`` over the inequality rows (capacity, share, budget: the
    reported shadow prices) plus ``EQUALITY_WEIGHT`` times ``sum_i v_i * s_i * y_i`` over the
    equality rows (fleet: USD per rig, at least the resale or stored value), where
    ``s_i = max_j |A_ij|`` (so ``s_i * y_i`` is USD per unit of a column) and ``v_i`` in [1, 2) is a
    BLAKE2b hash of the row's label (``capacity[site]``, ``share[J]``, ``budget``,
    ``fleet[origin,model]``). Where one shadow price is in question this is the value of one *more*
    MW, TH/s of cap or USD of budget (the right derivative); where several trade off against each
    other, the name weights decide.

    The optimal duals are those complementary to the plan: ``y_i = 0`` on rows with slack, the
    sign of the active bound elsewhere; ``c_j - A_j'y = 0`` for columns strictly between their
    bounds, ``<= 0`` at the lower bound, ``>= 0`` at the upper bound. The dual LP is solved by
    HiGHS over the rows (variables) and a working set of columns (constraints): the columns the
    plan uses and those with zero reduced cost first, then any column whose reduced cost the new
    duals make positive, until none does (at most ``DUAL_ROUNDS`` rounds; else the solver's duals
    are kept). Skipped like ``canonical_plan`` (MIP, not optimal) and when that step kept the
    solver's point.
    """
    if not applies(model, raw) or raw.canonical not in ("unique", "tie-broken"):
        return raw
    t0 = time.perf_counter()
    mats = mats or _Matrices(model)
    A, AT = mats.A, mats.AT
    c, lower, upper = model.cost, model.lower, model.upper
    x = np.asarray(raw.x, float)
    lo, up = model.row_bounds()
    x_tol = 1e-9 + 1e-12 * (float(np.abs(x).max()) if len(x) else 0.0)
    movable = upper > lower
    at_lower = (x <= lower + x_tol) & movable
    at_upper = (x >= upper - x_tol) & movable & ~at_lower
    inside = movable & ~at_lower & ~at_upper
    act = A @ x
    row_tol = 1e-7 * (1.0 + np.abs(np.where(np.isfinite(up), up, 0.0)) + np.abs(np.where(np.isfinite(lo), lo, 0.0)))
    on_up = np.isfinite(up) & (act >= up - row_tol)
    on_lo = np.isfinite(lo) & (act <= lo + row_tol)
    # rows with slack have y = 0: only the active rows are variables of the dual LP
    active = np.nonzero(on_up | on_lo)[0]
    if inside.sum() == len(active):
        # a nondegenerate vertex (x is one: canonical_plan's point): the active rows and the columns
        # strictly inside their bounds form a square nonsingular system, so the optimal dual is unique;
        # solved here from the plan, so every path reports it to machine precision (CBC's are rounded)
        y = _square_duals(model, mats, active, inside, at_lower, at_upper, on_lo, on_up)
        if y is not None:  # else (e.g. an active row without columns: its dual is free) the dual LP below
            spent = time.perf_counter() - t0
            return dataclasses.replace(raw, row_dual=y, canonical_seconds=raw.canonical_seconds + spent,
                                       seconds=raw.seconds + spent)
    labels = model.row_labels()
    active = active[np.argsort(np.array([labels[i] for i in active], dtype=object), kind="stable")]  # by label
    y_lo = np.where(on_lo, -INF, 0.0)[active]
    y_up = np.where(on_up, INF, 0.0)[active]
    equality = (on_up & on_lo)[active]
    sign = np.where((on_lo & ~on_up)[active], -1.0, 1.0)
    v = 1.0 + (digest64([labels[i] for i in active]) >> np.uint64(11)).astype(float) / 2.0 ** 53
    weight = v * np.maximum(mats.row_scale[active], 1e-12) * np.where(equality, EQUALITY_WEIGHT, 1.0)
    ATa = AT[:, active].tocsr() if len(active) else sp.csr_matrix((model.n_cols, 0))  # columns x active rows
    y0 = np.asarray(raw.row_dual, float)
    work = inside | (np.abs(c - AT @ y0) <= mats.col_tolerance(y0, 1e-7))
    for _ in range(DUAL_ROUNDS):
        cols = np.nonzero(work & movable)[0]
        # c_j - A_j'y = 0 inside, <= 0 at the lower bound, >= 0 at the upper bound
        ya = _solve_min(sign * weight, y_lo, y_up, np.where(inside | at_lower, c, -np.inf)[cols],
                        np.where(inside | at_upper, c, np.inf)[cols], ATa[cols].tocsc())
        if ya is None:
            return raw
        y = np.zeros(model.n_rows)
        y[active] = ya
        d = c - AT @ y
        tol = mats.col_tolerance(y)
        bad = ~work & movable & ((at_lower & (d > tol)) | (at_upper & (d < -tol)))
        if not bad.any():
            spent = time.perf_counter() - t0
            return dataclasses.replace(raw, row_dual=y, canonical_seconds=raw.canonical_seconds + spent,
                                       seconds=raw.seconds + spent)
        work |= bad
    return raw
