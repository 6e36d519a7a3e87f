"""The risk-aware plan of SPEC section 7 by cutting planes over the sample rows (issue 23).

The full Rockafellar-Uryasev LP (``optimizer.risk.model``) has a column u_k and a row

    cvar[k]:  NPV_k(x) - eta + u_k >= 0

per sample, each dense over every relocation column: K x n_x nonzeros (1,000 samples on a
5,000-site marketplace: 10^8). Here the u_k are replaced by one column theta, the tail term
(1 / alpha) sum_k w_k max(0, eta - NPV_k), kept from below by cuts. For any set T of samples

    theta >= (1 / alpha) sum_{k in T} w_k (eta - NPV_k(x))                     (cut T)

is valid (max(0, a) >= a inside T, >= 0 outside), and the largest right-hand side over all T is
the tail term itself (T = the samples below eta). So the *master*

    maximise (1 - beta) E(x) + beta (eta - theta)
    s.t. section 3's rows, theta >= 0, the cuts found so far, [eta - theta >= cvar_floor_usd]

with E(x) = sum_k w_k NPV_k(x) (one objective vector) is a relaxation of the full LP with the
same optimum once the right cuts are in ("CVaR cutting planes": Kuenzi-Bay and Mayer 2006, an
L-shaped method with one aggregated cut per round). Each round:

1. solve the master (HiGHS, kept in one ``highspy.Highs`` between rounds: a new cut is a new row,
   after which dual simplex starts from the last basis);
2. evaluate the master's plan x* in every sample, NPV_k(x*) (``Oracle.npv``: the folded per-sample
   evaluator of ``optimizer.risk``, chunked over samples, on the Dask cluster when one is given);
3. its true objective, (1 - beta) E(x*) + beta CVaR(x*), is a lower bound and the master's an upper
   bound; stop when they agree to ``GAP_REL`` (and x* keeps the CVaR floor to ``GAP_REL``);
4. otherwise add the cut of T = {k : NPV_k(x*) < eta*}, which the master's point violates.

Cut rows are sums over samples, so their coefficients come from ``sample_weighted_values``:
sum_k omega_k V_k,p for every pair p without forming the K x P matrix (threshold form, below).

LP mode with many relocation columns (above ``COLUMNS_ABOVE``) also restricts the master's
columns (column generation as in ``optimizer.solver.transport``): every column outside is priced
against all rows, cuts included, and a round's cut is added only once none prices in, so every
upper bound is the full master's. MIP mode re-solves the MIP master after each cut (HiGHS has no
lazy-constraint hook here), starting from the last plan; the cuts are the same and the loop stops
on the same gap, so the optimum is the full MIP's to within ``solver.mip_gap``.

References: Rockafellar and Uryasev (2000), "Optimization of conditional value-at-risk", J. Risk
2(3); Kuenzi-Bay and Mayer (2006), "Computational aspects of minimizing conditional value-at-risk",
Computational Management Science 3(1) (the CVaRMin cutting-plane method); Van Slyke and Wets (1969),
the L-shaped method.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import highspy
import numpy as np
import scipy.sparse as sp

from optimizer.inputs.errors import SolverFailure
from optimizer.model import INF, LinearModel, RowBlock, label
from optimizer.solver import transport
from optimizer.solver.raw import RawSolution, highs_status

# risk.method = "auto" uses cuts when samples x relocation columns (the full LP's cvar nonzeros) exceed this.
CUTS_ABOVE = 2_000_000
# LP masters restrict their columns above this many relocation columns (as the engine's column generation).
COLUMNS_ABOVE = transport.COLUMNS_ABOVE
# Stop when upper and lower bound agree to this share of the objective (the target is 1e-6: margin for rounding).
GAP_REL = 1e-9
MAX_ROUNDS = 500
CUTS_PER_ROUND = 2  # the violated cut at the master's eta, and the cut exact at the plan's own VaR


def use_cuts(method: str, solver_name: str, n_samples: int, n_pairs: int, mode: str = "lp") -> bool:
    """Whether solve_risk takes this module's path: "cuts", or "auto" past CUTS_ABOVE with HiGHS in LP mode.

    A MIP (whole rigs, fixed costs, minimum loads) is left to the full model under "auto": re-solving the MIP
    master after each cut needed tolerances so tight that HiGHS stopped with numerical trouble on some random
    instances; an explicit "cuts" there is refused by the caller."""
    if method == "cuts":
        return True
    return method == "auto" and solver_name == "highs" and mode == "lp" and n_samples * n_pairs > CUTS_ABOVE


# ---------------------------------------------------------------------------- sums over samples, per pair


class SampleWeightedValues:
    """sum_k omega_k V_k,p for each of P pairs, (P,) USD, without the (K, P) matrix.

    ``terms`` is ``optimizer.risk.PairTerms`` (path, jurisdiction, fixed_usd); call with ``omega`` (K,)
    >= 0. With w = d_t a_t, revenue R, power P, hosting h and theta = P / R, a pair runs in a
    sample-month iff factor > theta, so per jurisdiction j and month t, over the samples k alive
    there (ban month > t), sorted by factor:
        sum_k omega_k max(0, R f_k - P) = R * sum_{f_k > theta} omega_k f_k - P * sum_{f_k > theta} omega_k
    (suffix sums, one search per pair): O(P T log K) instead of O(K P T). Equals
    ``omega @ relocation_values(terms, samples)`` to rounding (tested). The pairs' arrays are laid
    out once (by jurisdiction, month-major), so each call (one per cut) only sorts and searches.
    """

    def __init__(self, terms, samples):
        self.samples = samples
        P, H = len(terms.fixed_usd), samples.months
        self.n_pairs, self.fixed = P, np.asarray(terms.fixed_usd, float)
        path = terms.path
        w = path.discount * path.availability  # (P, H)
        rev = np.broadcast_to(path.revenue_usd, (P, H))
        power = np.broadcast_to(path.running_cost_usd(), (P, H))  # power and the management fee, paid while running
        with np.errstate(divide="ignore", invalid="ignore"):
            theta = np.where(rev > 0, power / rev, np.inf)
        self.order = np.argsort(terms.jurisdiction, kind="stable")
        juris = terms.jurisdiction[self.order]
        self.juris, starts = np.unique(juris, return_index=True)
        self.bounds = np.append(starts, P)
        o = self.order
        self.theta_t = np.ascontiguousarray(theta[o].T)  # (H, P) in jurisdiction order
        self.wrev_t = np.ascontiguousarray((w * rev)[o].T)
        self.wpow_t = np.ascontiguousarray((w * power)[o].T)
        self.whost = w[o] * np.broadcast_to(path.hosting_usd, (P,))[o][:, None]  # (P, H)

    def __call__(self, omega: np.ndarray) -> np.ndarray:
        omega = np.asarray(omega, float)
        smp, H = self.samples, self.samples.months
        out = self.fixed * omega.sum()
        keep = np.nonzero(omega > 0)[0]
        if self.n_pairs == 0 or not len(keep):
            return out
        om = omega[keep]
        ban = smp.ban_month[keep]
        ban_end = smp.ban_end[keep] if smp.ban_end is not None else None
        factor = smp.factor[keep] if smp.factor is not None else np.ones((len(keep), H))
        order = np.argsort(factor, axis=0, kind="stable")
        f_sorted = np.take_along_axis(factor, order, axis=0)  # (k, H)
        f_sorted_t = np.ascontiguousarray(f_sorted.T)  # (H, k)
        months = np.arange(H)
        zero = np.zeros((1, H))
        acc = np.zeros(self.n_pairs)  # in jurisdiction order
        for jj, j in enumerate(self.juris):
            a, b = self.bounds[jj], self.bounds[jj + 1]
            alive = ban[:, j][:, None] > months[None, :]  # (k, H)
            if ban_end is not None:  # a stop that ends: mining resumes from its end month (SPEC section 9)
                alive |= ban_end[:, j][:, None] <= months[None, :]
            om_t = np.take_along_axis(om[:, None] * alive, order, axis=0)
            # suffix sums over the sorted samples, (H, k + 1): entry i = sum over samples i.. (0 past the end)
            tail_w = np.ascontiguousarray(np.concatenate([np.cumsum(om_t[::-1], axis=0)[::-1], zero]).T)
            tail_wf = np.ascontiguousarray(np.concatenate([np.cumsum((om_t * f_sorted)[::-1], axis=0)[::-1], zero]).T)
            part = self.whost[a:b] @ -tail_w[:, 0]
            for t in range(H):
                i = np.searchsorted(f_sorted_t[t], self.theta_t[t, a:b], side="right")  # samples i.. have factor > theta
                part += self.wrev_t[t, a:b] * tail_wf[t, i] - self.wpow_t[t, a:b] * tail_w[t, i]
            acc[a:b] = part
        out[self.order] += acc
        return out


def sample_weighted_values(terms, samples, omega: np.ndarray) -> np.ndarray:
    """One-off ``SampleWeightedValues(terms, samples)(omega)``."""
    return SampleWeightedValues(terms, samples)(omega)


def value_upper_bound(terms, samples) -> np.ndarray:
    """(P,) an upper bound of max_k V_k,p: every month at the largest sampled factor, a banned month
    counted at max(0, margin). Pruning with it (``model.dominated``) is safe: it drops only pairs
    that never beat selling or storing in any sample."""
    path = terms.path
    fmax = samples.factor.max(axis=0) if samples.factor is not None else 1.0
    month = np.maximum(path.margin(fmax), 0.0)
    return terms.fixed_usd + (path.discount * path.availability * month).sum(axis=-1)


# ---------------------------------------------------------------------------- the cutting-plane loop


@dataclass
class Oracle:
    """What the loop asks of the economics, for the model's own columns (``model.n_cols``).

    values(omega (K,)) -> (n_cols,): sum_k omega_k N_k,c, N as ``risk.model.outcome_matrix``;
    npv(x (n_cols,)) -> (K,): NPV_k of a point; cvar(npv, weights, alpha) -> float: exact CVaR.
    """

    values: Callable[[np.ndarray], np.ndarray]
    npv: Callable[[np.ndarray], np.ndarray]
    cvar: Callable[[np.ndarray, np.ndarray, float], float]


@dataclass
class CutStats:
    rounds: int = 0
    cuts: int = 0
    columns_in_master: int = 0
    restricted: bool = False  # column generation on the master's relocation columns
    master_seconds: float = 0.0
    evaluate_seconds: float = 0.0  # NPV_k of each round's plan (Oracle.npv, the Dask part)
    cut_seconds: float = 0.0  # cut coefficients (Oracle.values)
    gap_usd: float = float("nan")
    history: list[tuple[float, float]] = field(default_factory=list)  # (upper, lower) per round


@dataclass
class CutSolution:
    model: LinearModel  # the master as a model: section 3 + eta, theta + cvar_cut (and cvar_floor) rows
    raw: RawSolution  # over model's columns and rows
    npv: np.ndarray  # (K,) NPV_k of the plan
    stats: CutStats


def _inf(a: np.ndarray) -> np.ndarray:
    return np.where(np.isposinf(a), highspy.kHighsInf, np.where(np.isneginf(a), -highspy.kHighsInf, a))


def solve_cuts(model: LinearModel, oracle: Oracle, weights: np.ndarray, alpha: float, beta: float,
               floor_usd: float | None, settings) -> CutSolution:
    """Maximise (1 - beta) E + beta CVaR_alpha (>= floor_usd when set) over section 3's model by cuts.

    ``model``: build_model's section-3 model (its cost is replaced by (1 - beta) E); ``weights`` (K,)
    sum to 1; ``settings``: SolverSettings (HiGHS only; time_limit_s bounds the whole loop). Returns the
    master as a model with columns eta and theta appended, the raw solution and NPV_k. The model is
    changed in place. Raises SolverFailure when HiGHS fails or the loop cannot close its gap.
    """
    t_start = time.perf_counter()
    deadline = t_start + float(settings.time_limit_s)
    stats = CutStats()
    K, n = len(weights), model.n_cols
    mean = oracle.values(np.asarray(weights, float))
    model.cost = (1 - beta) * mean
    mip = model.mode == "mip" or bool(model.integer.any())
    eta, theta = n, n + 1
    cost = np.concatenate([model.cost, [beta, -beta]])
    lower = np.concatenate([model.lower, [-INF, 0.0]])
    upper = np.concatenate([model.upper, [INF, INF]])
    A = model.matrix().tocsc()
    row_lo, row_up = model.row_bounds()
    # extra rows: [floor], then cuts; dense over all n + 2 columns
    extra: list[np.ndarray] = []
    extra_lo: list[float] = []
    extra_names: list[str] = []
    if floor_usd is not None:
        r = np.zeros(n + 2)
        r[eta], r[theta] = 1.0, -1.0
        extra.append(r), extra_lo.append(float(floor_usd)), extra_names.append(label("cvar_floor"))

    restricted = (not mip and model.n_x > COLUMNS_ABOVE and (model.sell_col is not None or model.idle_col is not None))
    stats.restricted = restricted
    options = {"output_flag": False, "threads": 1, "mip_rel_gap": float(settings.mip_gap)}
    if mip:
        # HiGHS accepts a MIP point within 1e-6 of each (scaled) row; on a cut row that can leave theta a
        # cent or more below the tail it bounds, more than the stopping rule allows: ask for 1e-9
        options.update({"mip_feasibility_tolerance": 1e-9, "primal_feasibility_tolerance": 1e-9})
    if not mip:
        big = (model.n_x > COLUMNS_ABOVE) if not restricted else False
        options.update({"solver": "ipm" if big else "choose", "run_crossover": "on"})
    h = highspy.Highs()
    for key, value in options.items():
        h.setOptionValue(key, value)
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    m = A.shape[0]
    if m:
        h.addRows(m, _inf(row_lo), _inf(row_up), 0, np.zeros(m, np.int32), np.zeros(0, np.int32), np.zeros(0))
    keys = np.zeros(0, np.int64)  # master column -> model column (n, n + 1: eta, theta)

    site = np.full(n, -1, np.int64)
    site[: model.n_x] = model.x_site
    if restricted:
        pricing = transport.model_pricing(model)
        pricing.cost = mean  # the expected value chooses the first columns (with beta = 1 the cost is 0)
        init = transport.initial_columns(pricing, row_lo, row_up, transport.capacity_rows(model),
                                         {"output_flag": False, "threads": 1})
        mw = pricing.mw
    else:
        init = np.arange(n)
        mw = np.ones(n)
    in_master = np.zeros(n + 2, bool)

    stacked: list[np.ndarray] = [np.zeros((0, n + 2))]  # np.array(extra), rebuilt when a row is added

    def extra_matrix() -> np.ndarray:
        if stacked[0].shape[0] != len(extra):
            stacked[0] = np.array(extra).reshape(len(extra), n + 2)
        return stacked[0]

    def add_columns(cols: np.ndarray) -> None:
        nonlocal keys
        cols = np.asarray(cols, np.int64)
        cols = np.concatenate([cols[cols < n], cols[cols >= n]])  # eta, theta last
        if not len(cols):
            return
        own = cols[cols < n]
        top = sp.hstack([A[:, own], sp.csc_matrix((m, len(cols) - len(own)))], format="csc")
        block = sp.vstack([top, sp.csc_matrix(extra_matrix()[:, cols])], format="csc") if extra else top
        block.sort_indices()
        h.addCols(len(cols), cost[cols], lower[cols], _inf(upper[cols]), block.nnz,
                  block.indptr[:-1].astype(np.int32), block.indices.astype(np.int32), block.data.astype(float))
        if mip:
            integ = np.nonzero(np.concatenate([model.integer, [False, False]])[cols])[0]
            if len(integ):
                h.changeColsIntegrality(len(integ), (len(keys) + integ).astype(np.int32),
                                        np.ones(len(integ), np.uint8))  # 1 = kInteger
        keys = np.concatenate([keys, cols])
        in_master[cols] = True

    def add_row(coef: np.ndarray, lo: float, name: str) -> None:
        extra.append(coef), extra_lo.append(lo), extra_names.append(name)
        vals = coef[keys]
        nz = np.nonzero(vals)[0]
        h.addRow(lo, highspy.kHighsInf, len(nz), nz.astype(np.int32), vals[nz].astype(float))

    # floor row first (if any) over no columns yet, then columns; the rows carry the dense coefficients
    if extra:
        h.addRow(extra_lo[0], highspy.kHighsInf, 0, np.zeros(0, np.int32), np.zeros(0))
    always = np.nonzero(site < 0)[0]
    add_columns(np.union1d(init, always))
    add_columns(np.array([eta, theta]))

    def cut(omega_tail: np.ndarray) -> np.ndarray:
        """Row of cut T: theta - (sum_T w / alpha) eta + (1 / alpha) sum_T w N_k . x >= 0."""
        t0 = time.perf_counter()
        r = np.zeros(n + 2)
        r[:n] = oracle.values(omega_tail) / alpha
        r[eta] = -omega_tail.sum() / alpha
        r[theta] = 1.0
        stats.cut_seconds += time.perf_counter() - t0
        return r

    # the cut of every sample (T = all) bounds eta from the start
    add_row(cut(np.asarray(weights, float)), 0.0, label("cvar_cut", 0))
    seen = {np.arange(K).tobytes()}
    tol_rc = transport.tolerance(cost[:n])
    movable = upper[:n] > lower[:n]
    status = "optimal"
    first = True
    x_model = np.zeros(n + 2)
    npv = np.zeros(K)
    # Restricted masters run their cut rounds on the columns at hand and price out against every column
    # only once those rounds close the gap (``price_now``): the big moves of the plan then happen on the
    # small master. A gap closed on a priced-out master is closed for the full master.
    price_now = False
    converged = False
    while True:
        stats.rounds += 1
        # ---- master to optimality (and priced out, in restricted mode when price_now)
        t0 = time.perf_counter()
        entered = 0
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                status = "time_limit"
                break
            h.setOptionValue("time_limit", left)
            h.run()
            ms = h.getModelStatus()
            if first and not mip:
                h.setOptionValue("solver", "simplex")
                first = False
            if ms in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible) \
                    and restricted and not in_master[:n].all():
                add_columns(np.nonzero(~in_master[:n])[0])  # a restricted master may lack a column the floor needs
                continue
            status = highs_status(h, "mip" if mip else "lp")[0]
            if status != "optimal" or not restricted or not price_now:
                break
            y = np.asarray(h.getSolution().row_dual, float)
            rc = cost[:n] - A.T @ y[:m] - extra_matrix()[:, :n].T @ y[m:]
            want = ~in_master[:n] & (rc > tol_rc) & movable
            if not want.any():
                break
            pick = np.union1d(transport.top_per_group(site, rc / mw, want & (site >= 0), transport.ADD_PER_SITE),
                              np.nonzero(want & (site < 0))[0])
            add_columns(pick)
            entered += len(pick)
            h.setOptionValue("simplex_strategy", 4)  # primal: new columns keep the basis primal feasible
        stats.master_seconds += time.perf_counter() - t0
        if status != "optimal":
            break
        if converged and price_now and not entered:
            break  # the plan the last round evaluated is optimal over every column
        sol = np.asarray(h.getSolution().col_value, float)
        x_model = np.zeros(n + 2)
        x_model[keys] = sol
        upper_bound = float(h.getInfo().objective_function_value)
        # ---- the plan in every sample
        t0 = time.perf_counter()
        npv = oracle.npv(x_model[:n])
        stats.evaluate_seconds += time.perf_counter() - t0
        cvar_true = oracle.cvar(npv, weights, alpha)
        lower_bound = (1 - beta) * float(weights @ npv) + beta * cvar_true
        stats.history.append((upper_bound, lower_bound))
        stats.gap_usd = upper_bound - lower_bound
        scale = max(1.0, abs(upper_bound))
        floor_ok = floor_usd is None or cvar_true >= floor_usd - GAP_REL * max(1.0, abs(floor_usd))
        converged = stats.gap_usd <= GAP_REL * scale and floor_ok
        if converged and (price_now or not restricted):
            break
        if converged:
            price_now = True  # closed on the columns at hand: price out, then evaluate again if any entered
            continue
        price_now = False
        # the violated cut (samples below the master's eta), and the cut that is exact at this plan
        # (samples below its own VaR, the lower alpha-quantile: supporting CVaR at x*) when it differs
        by_value = np.argsort(npv, kind="stable")
        at = min(int(np.searchsorted(np.cumsum(weights[by_value]), alpha * (1 - 1e-12))), K - 1)
        tails = [npv < x_model[eta], npv < npv[by_value[at]]][:CUTS_PER_ROUND]
        added = 0
        for tail in tails:
            key = np.nonzero(tail)[0].tobytes()
            if key in seen or not tail.any():
                continue
            seen.add(key)
            add_row(cut(np.where(tail, weights, 0.0)), 0.0, label("cvar_cut", len(seen) - 1))
            added += 1
        stats.cuts += added
        if not added or stats.rounds >= MAX_ROUNDS:
            # the master already holds these cuts: what is left is rounding in the sums
            if stats.gap_usd <= 1e-7 * scale and (floor_usd is None or cvar_true >= floor_usd - 1e-7 * max(1.0, abs(floor_usd))):
                break
            raise SolverFailure(f"the risk-aware plan's cutting planes stalled after {stats.rounds} rounds "
                                f"(gap ${stats.gap_usd:,.2f}); set risk.method = \"full\"")
        if mip:
            h.clearSolver()  # HiGHS keeps a MIP's last status and point after addRow: solve again from scratch
        else:
            h.setOptionValue("simplex_strategy", 1)  # dual: a new row keeps the basis dual feasible
    stats.columns_in_master = len(keys)
    seconds = time.perf_counter() - t_start
    gap, bound = (highs_status(h, "mip")[1:] if mip and status != "infeasible" else (None, None))

    # ---- the master as a LinearModel (for assemble, analyse, guard): eta, theta and the extra rows appended
    model.cost = cost
    model.lower, model.upper = lower, upper
    model.integer = np.concatenate([model.integer, [False, False]])
    model.extra_names = list(model.extra_names) + ["eta", "cvar_tail"]
    for block in model.blocks:
        c = block.matrix.tocoo()
        block.matrix = sp.coo_matrix((c.data, (c.row, c.col)), shape=(c.shape[0], n + 2))
    if extra:
        E = sp.coo_matrix(np.array(extra))
        has_floor = floor_usd is not None
        if has_floor:
            model.add(RowBlock("cvar_floor", [extra_names[0]], sp.coo_matrix(E.tocsr()[:1]), np.array([extra_lo[0]]),
                               np.array([INF])))
        cuts = E.tocsr()[1 if has_floor else 0:]
        model.add(RowBlock("cvar_cut", extra_names[1 if has_floor else 0:], cuts.tocoo(),
                           np.zeros(cuts.shape[0]), np.full(cuts.shape[0], INF)))
    if status == "infeasible":
        raw = RawSolution("infeasible", np.nan, np.zeros(n + 2), None, None, None, "highs", "cuts", seconds, 0.0)
        return CutSolution(model, raw, npv, stats)
    duals = None
    if not mip:
        y = np.asarray(h.getSolution().row_dual, float)
        duals = y  # rows in the master's order: section 3's, then floor, then cuts, as the model's blocks
    raw = RawSolution(status, float(h.getInfo().objective_function_value), x_model, duals, gap, bound, "highs", "cuts",
                      seconds - stats.evaluate_seconds - stats.cut_seconds, 0.0)
    return CutSolution(model, raw, npv, stats)
