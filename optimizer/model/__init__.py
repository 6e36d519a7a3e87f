"""The optimisation of SPEC section 3, defined once as a sparse matrix model.

``build_model`` is a list of ``define_*`` calls, one per family of constraints; each
states its algebra and adds a block of rows. The result feeds PuLP (the modeller of
record, ``to_pulp``) or HiGHS directly (``solve.py``); tests check both paths agree.

Columns, in order: x[g, s] for every allowed (group, site) pair, sell[g] (if allowed),
idle[g] (if allowed), y[s] (MIP mode only; in LP mode y is fixed at 1 and not a column).

Every row and column is labelled by what it is, e.g. ``capacity[Quebec Hydro]``,
``fleet[Sichuan,Antminer S9]``, ``share[Kazakhstan]``, ``budget``, ``x[Sichuan,Antminer S9,Quebec Hydro]``
(``label``). Duals are read back by label. Solver names are an escaped, reversible form of the
label (``solver_name``), so user text never reaches a solver as it is.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp

from optimizer.economics import Economics
from optimizer.inputs.scenario import Scenario, allowed_sites  # noqa: F401 - the model stage reads it from here too

from optimizer.model.concentration import define_concentration  # noqa: E402 (needs nothing defined here at import)

if TYPE_CHECKING:  # PuLP is imported where a PuLP model is made: a plain HiGHS solve never needs it
    import pulp

INF = np.inf
_BARE_PART = re.compile(r'[^\[\],"\\\s](?:[^\[\],"\\]*[^\[\],"\\\s])?')
_SOLVER_SAFE = re.compile(r"[A-Za-z0-9]")


def label(family: str, *parts: object) -> str:
    """A row's or column's label: ``family[part,part]``. A part holding a bracket, comma, quote,
    backslash or edge space is written as a JSON string, so labels stay unique and readable."""
    if not parts:
        return family
    text = [str(p) if _BARE_PART.fullmatch(str(p)) else json.dumps(str(p), ensure_ascii=False) for p in parts]
    return f"{family}[{','.join(text)}]"


@functools.lru_cache(maxsize=32)
def labels(family: str, parts: tuple[tuple[object, ...], ...]) -> tuple[str, ...]:
    """``label(family, *p)`` for each ``p`` of ``parts``, remembered: a warm re-solve builds and reads
    the same rows again (5,000 sites: about 10,000 labels a solve otherwise)."""
    return tuple(label(family, *p) for p in parts)


def solver_name(text: str) -> str:
    """An escaped, unique, reversible solver name: ASCII letters and digits stay, every other
    character becomes _XX per UTF-8 byte (hex). The result matches [A-Za-z0-9_]+."""
    return "".join(ch if _SOLVER_SAFE.fullmatch(ch) else "".join(f"_{b:02X}" for b in ch.encode("utf-8"))
                   for ch in text)


def label_of_solver_name(name: str) -> str:
    """The inverse of ``solver_name``."""
    out = bytearray()
    i = 0
    while i < len(name):
        if name[i] == "_":
            out.append(int(name[i + 1: i + 3], 16))
            i += 3
        else:
            out += name[i].encode()
            i += 1
    return out.decode("utf-8")


@dataclass
class RowBlock:
    family: str  # fleet | capacity | minimum | link | share | budget
    labels: list[str]  # one per row, e.g. capacity[site] (see ``label``)
    matrix: sp.coo_matrix  # rows x all columns
    lower: np.ndarray
    upper: np.ndarray
    start: int = 0  # first row index in the assembled model


@dataclass
class LinearModel:
    mode: str  # "lp" | "mip"
    n_x: int
    x_group: np.ndarray  # (n_x,) group of each x column
    x_site: np.ndarray  # (n_x,) site of each x column
    sell_col: np.ndarray | None  # (G,) column index or None
    idle_col: np.ndarray | None
    y_col: np.ndarray | None  # (S,) or None in LP mode
    cost: np.ndarray  # objective coefficients (maximise)
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray  # bool
    group_keys: list[tuple[str, str]] = field(default_factory=list)  # (G,) (origin, model) of each group
    site_names: list[str] = field(default_factory=list)  # (S,)
    blocks: list[RowBlock] = field(default_factory=list)
    extra_names: list[str] = field(default_factory=list)  # names of columns appended by extensions (risk_model)
    # (G,) MW one rig of each batch draws, averaged over every site of the tables (not only the columns
    # the model kept): the weight the canonical tie-break gives selling or storing a rig (canonical.py)
    group_mw: np.ndarray | None = None

    @property
    def n_cols(self) -> int:
        return len(self.cost)

    @property
    def n_rows(self) -> int:
        return sum(len(b.labels) for b in self.blocks)

    def block(self, family: str) -> RowBlock | None:
        return next((b for b in self.blocks if b.family == family), None)

    def matrix(self) -> sp.csr_matrix:
        return sp.vstack([b.matrix for b in self.blocks], format="csr") if self.blocks else sp.csr_matrix((0, self.n_cols))

    def row_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.blocks:
            return np.zeros(0), np.zeros(0)
        return np.concatenate([b.lower for b in self.blocks]), np.concatenate([b.upper for b in self.blocks])

    def add(self, block: RowBlock) -> None:
        block.start = self.n_rows
        self.blocks.append(block)

    def row_labels(self) -> list[str]:
        return [name for b in self.blocks for name in b.labels]

    def column_labels(self) -> list[str]:
        """x[origin,model,site], sell[origin,model], idle[origin,model], y[site], in column order."""
        keys, sites = self.group_keys, self.site_names
        names = [label("x", *keys[g], sites[s]) for g, s in zip(self.x_group, self.x_site)]
        for family, cols in (("sell", self.sell_col), ("idle", self.idle_col)):
            if cols is not None:
                names += [label(family, *keys[g]) for g in range(len(cols))]
        if self.y_col is not None:
            names += [label("y", site) for site in sites]
        return names + list(self.extra_names)

    def row_duals(self, row_dual: np.ndarray) -> pd.Series:
        """The solver's row duals labelled by row (``capacity[site]``, ``fleet[origin,model]``, ...)."""
        return pd.Series(np.asarray(row_dual, float), index=pd.Index(self.row_labels()))


def model_mode(scn: Scenario) -> str:
    s = scn.sites
    mip = (s["fixed_cost_usd"] > 0).any() or (s["min_mw"] > 0).any() or scn.settings.policy.integer_rigs
    return "mip" if mip else "lp"


def build_model(scn: Scenario, econ: Economics) -> LinearModel:
    """Columns and objective, then one block of rows per constraint family."""
    model = define_columns(scn, econ)
    define_fleet(model, econ)
    define_capacity(model, scn, econ)
    define_minimum(model, scn, econ)
    define_linking(model, econ)
    define_jurisdiction_share(model, scn, econ)
    define_budget(model, scn, econ)
    define_concentration(model, scn, econ)  # off by default: no column, no row (optimizer/model/concentration.py)
    return model


def dominated(scn: Scenario, econ: Economics) -> np.ndarray | None:
    """(G, S) mask of relocations that can never beat selling or storing the same rig, or None.

    x[g,s] with V[g,s] <= max(resale[g], terminal[g]) uses capacity, budget and cap room to earn
    no more than an action that uses none, so some optimal plan never uses it: dropping it keeps
    the optimum, and keeps the LP duals optimal too (the fleet row's dual is at least that
    alternative, so the dropped column's reduced cost stays <= 0). Not safe when a site minimum
    may need filling, or when neither selling nor storing is allowed.
    """
    pol = scn.settings.policy
    if not scn.settings.solver.prune_dominated or (scn.sites["min_mw"] > 0).any():
        return None
    alternatives = [v for v, on in ((econ.resale_usd, pol.allow_sell), (econ.terminal_usd, pol.allow_idle)) if on]
    if not alternatives:
        return None
    best = np.maximum.reduce(alternatives)
    return econ.value_usd <= best[:, None]


def define_columns(scn: Scenario, econ: Economics) -> LinearModel:
    """x >= 0 for allowed, undominated pairs (objective V), sell and idle (resale, terminal), y binary (-fixed cost)."""
    pol = scn.settings.policy
    mode = model_mode(scn)
    G, S = econ.n_groups, len(econ.sites)
    site_ok = allowed_sites(scn)
    usable = np.broadcast_to(site_ok[None, :], (G, S))
    drop = dominated(scn, econ)
    if drop is not None:
        usable = usable & ~drop
    gg, ss = np.nonzero(usable)
    n_x = len(gg)
    costs = [econ.value_usd[gg, ss]]
    next_col = n_x
    sell_col = idle_col = y_col = None
    if pol.allow_sell:
        sell_col = np.arange(next_col, next_col + G)
        next_col += G
        costs.append(econ.resale_usd)
    if pol.allow_idle:
        idle_col = np.arange(next_col, next_col + G)
        next_col += G
        costs.append(econ.terminal_usd)
    if mode == "mip":
        y_col = np.arange(next_col, next_col + S)
        next_col += S
        costs.append(-scn.sites["fixed_cost_usd"].to_numpy(float))
    cost = np.concatenate(costs) if costs else np.zeros(0)
    upper = np.full(next_col, INF)
    integer = np.zeros(next_col, bool)
    if y_col is not None:
        upper[y_col] = 1.0
        upper[y_col[~site_ok]] = 0.0
        integer[y_col] = True
    if pol.integer_rigs:
        integer[:n_x] = True
        for cols in (sell_col, idle_col):
            if cols is not None:
                integer[cols] = True
    keys = [(econ.origins[o], econ.models[m]) for o, m in zip(econ.group_origin, econ.group_model)]
    S = len(econ.sites)
    group_mw = econ.mw_per_rig.mean(axis=1) if S else np.full(econ.n_groups, 1e-3)
    return LinearModel(mode, n_x, gg, ss, sell_col, idle_col, y_col, cost, np.zeros(next_col), upper, integer,
                       group_keys=keys, site_names=list(econ.sites), group_mw=group_mw)


def _coo(rows, cols, vals, n_rows, n_cols) -> sp.coo_matrix:
    return sp.coo_matrix((np.asarray(vals, float), (np.asarray(rows), np.asarray(cols))), shape=(n_rows, n_cols))


def define_fleet(model: LinearModel, econ: Economics) -> None:
    """fleet[g]: sum_s x[g,s] + sell[g] + idle[g] = count[g]."""
    G = econ.n_groups
    rows = [model.x_group]
    cols = [np.arange(model.n_x)]
    for extra in (model.sell_col, model.idle_col):
        if extra is not None:
            rows.append(np.arange(G))
            cols.append(extra)
    r, c = np.concatenate(rows), np.concatenate(cols)
    fleet_labels = list(labels("fleet", tuple(tuple(key) for key in model.group_keys)))
    count = econ.count.astype(float)
    model.add(RowBlock("fleet", fleet_labels, _coo(r, c, np.ones(len(r)), G, model.n_cols), count, count))


def define_capacity(model: LinearModel, scn: Scenario, econ: Economics) -> None:
    """capacity[s]: sum mw[g,s] x[g,s] <= capacity_mw[s] * y[s]  (y = 1 in LP mode)."""
    S = len(econ.sites)
    cap = scn.sites["capacity_mw"].to_numpy(float)
    vals = econ.mw_per_rig[model.x_group, model.x_site]
    rows, cols = [model.x_site], [np.arange(model.n_x)]
    if model.y_col is not None:
        rows.append(np.arange(S))
        cols.append(model.y_col)
        vals = np.concatenate([vals, -cap])
        upper = np.zeros(S)
    else:
        upper = cap.copy()
    m = _coo(np.concatenate(rows), np.concatenate(cols), vals, S, model.n_cols)
    model.add(RowBlock("capacity", list(labels("capacity", tuple((site,) for site in econ.sites))), m, np.full(S, -INF),
                       upper))


def define_minimum(model: LinearModel, scn: Scenario, econ: Economics) -> None:
    """minimum[s]: sum mw[g,s] x[g,s] >= min_mw[s] * y[s], for sites with min_mw > 0 (MIP only)."""
    min_mw = scn.sites["min_mw"].to_numpy(float)
    sites = np.nonzero(min_mw > 0)[0]
    if model.y_col is None or not len(sites):
        return
    row_of = np.full(len(econ.sites), -1)
    row_of[sites] = np.arange(len(sites))
    keep = row_of[model.x_site] >= 0
    xs = np.nonzero(keep)[0]
    r = np.concatenate([row_of[model.x_site[xs]], np.arange(len(sites))])
    c = np.concatenate([xs, model.y_col[sites]])
    v = np.concatenate([econ.mw_per_rig[model.x_group[xs], model.x_site[xs]], -min_mw[sites]])
    m = _coo(r, c, v, len(sites), model.n_cols)
    model.add(RowBlock("minimum", [label("minimum", econ.sites[i]) for i in sites], m, np.zeros(len(sites)), np.full(len(sites), INF)))


def define_linking(model: LinearModel, econ: Economics) -> None:
    """link[g,s]: x[g,s] <= count[g] * y[s] (MIP with site decisions only).

    Implied by the capacity and fleet rows for integer y, but it makes the LP relaxation
    much tighter: the classic strengthening for capacitated facility location.
    """
    if model.y_col is None:
        return
    n = model.n_x
    r = np.concatenate([np.arange(n), np.arange(n)])
    c = np.concatenate([np.arange(n), model.y_col[model.x_site]])
    v = np.concatenate([np.ones(n), -econ.count[model.x_group].astype(float)])
    labels = [label("link", *model.group_keys[g], model.site_names[s]) for g, s in zip(model.x_group, model.x_site)]
    model.add(RowBlock("link", labels, _coo(r, c, v, n, model.n_cols), np.full(n, -INF), np.zeros(n)))


def define_jurisdiction_share(model: LinearModel, scn: Scenario, econ: Economics) -> None:
    """share[J]: sum_{s in J} hashrate[g] x[g,s] <= share * sum_g hashrate[g] count[g] (share < 1)."""
    share = scn.settings.policy.max_jurisdiction_share
    if share >= 1:
        return
    juris = scn.sites["jurisdiction"].to_numpy()
    names, site_j = np.unique(juris, return_inverse=True)
    total_ths = float((econ.hashrate_ths * econ.count).sum())
    m = _coo(site_j[model.x_site], np.arange(model.n_x), econ.hashrate_ths[model.x_group], len(names), model.n_cols)
    model.add(RowBlock("share", [label("share", n) for n in names], m, np.full(len(names), -INF),
                       np.full(len(names), share * total_ths)))


def define_budget(model: LinearModel, scn: Scenario, econ: Economics) -> None:
    """budget: sum upfront[g,s] x[g,s] + sum fixed_cost[s] y[s] <= budget_usd (when set)."""
    budget = scn.settings.policy.budget_usd
    if budget is None:
        return
    cols = [np.arange(model.n_x)]
    vals = [econ.upfront_usd[model.x_group, model.x_site]]
    if model.y_col is not None:
        cols.append(model.y_col)
        vals.append(scn.sites["fixed_cost_usd"].to_numpy(float))
    c, v = np.concatenate(cols), np.concatenate(vals)
    model.add(RowBlock("budget", ["budget"], _coo(np.zeros(len(c), int), c, v, 1, model.n_cols),
                       np.array([-INF]), np.array([float(budget)])))


# ---------------------------------------------------------------------------- PuLP


def to_pulp(model: LinearModel, name: str = "rigshift") -> tuple[pulp.LpProblem, list[pulp.LpVariable], list[pulp.LpConstraint]]:
    """The same model as a PuLP problem; names are ``solver_name(label)`` of each column and row."""
    import pulp

    prob = pulp.LpProblem(name, pulp.LpMaximize)
    variables = [
        prob.add_variable(n, lowBound=None if np.isinf(lo) else float(lo), upBound=None if np.isinf(up) else float(up),
                          cat=pulp.LpInteger if integ else pulp.LpContinuous)
        for n, lo, up, integ in zip(map(solver_name, model.column_labels()), model.lower, model.upper, model.integer)
    ]
    prob.setObjective(pulp.LpAffineExpression([(v, c) for v, c in zip(variables, model.cost) if c != 0]))
    constraints: list[pulp.LpConstraint] = []
    for block in model.blocks:
        csr = block.matrix.tocsr()
        names = [solver_name(text) for text in block.labels]
        for i in range(csr.shape[0]):
            lo, up = csr.indptr[i], csr.indptr[i + 1]
            expr = pulp.LpAffineExpression([(variables[j], v) for j, v in zip(csr.indices[lo:up], csr.data[lo:up])])
            lb, ub = block.lower[i], block.upper[i]
            if lb == ub:
                con = pulp.LpConstraint(expr, pulp.LpConstraintEQ, names[i], ub)
            elif np.isinf(lb):
                con = pulp.LpConstraint(expr, pulp.LpConstraintLE, names[i], ub)
            else:
                con = pulp.LpConstraint(expr, pulp.LpConstraintGE, names[i], lb)
            prob.addConstraint(con)
            constraints.append(con)
    return prob, variables, constraints


def to_highs(model: LinearModel, skip: tuple[str, ...] = ()) -> highspy.HighsLp:
    """The model as a HighsLp (maximise), integrality included, without the row families in ``skip``."""
    blocks = [b for b in model.blocks if b.family not in skip]
    csc = (sp.vstack([b.matrix for b in blocks], format="csc") if blocks else sp.csc_matrix((0, model.n_cols)))
    row_lo = np.concatenate([b.lower for b in blocks]) if blocks else np.zeros(0)
    row_up = np.concatenate([b.upper for b in blocks]) if blocks else np.zeros(0)
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = model.n_cols, csc.shape[0]
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = model.cost
    lp.col_lower_ = model.lower
    lp.col_upper_ = np.where(np.isinf(model.upper), inf, model.upper)
    lp.row_lower_ = np.where(np.isinf(row_lo), -inf, row_lo)
    lp.row_upper_ = np.where(np.isinf(row_up), inf, row_up)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data
    if model.integer.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in model.integer]
    return lp
