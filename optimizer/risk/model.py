"""The risk-aware plan of SPEC section 7 as an extension of section 3's LinearModel.

``define_cvar`` takes the model ``build_model`` made (its columns x, sell, idle, y and its rows
fleet, capacity, minimum, link, jurisdiction, budget) and turns its objective into

    maximise (1 - beta) * E + beta * CVaR_alpha,   E = sum_k w_k NPV_k,
    CVaR_alpha = eta - (1 / alpha) * sum_k w_k u_k   (Rockafellar-Uryasev),

by appending the columns eta (free) and u_k >= 0 and the rows

    cvar[k]:     NPV_k(x, sell, idle, y) - eta + u_k >= 0     (u_k >= eta - NPV_k)
    cvar_floor:  eta - (1 / alpha) * sum_k w_k u_k >= cvar_floor_usd   (when set)

where NPV_k = sum V_k x + sum resale sell + sum terminal idle - sum fixed_cost y. It stays a
linear program (a MIP where section 3's mode says so). With beta = 0 and no floor the CVaR
columns are left out: the objective is E alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from optimizer.model import INF, LinearModel, RowBlock, label


@dataclass(frozen=True)
class CvarColumns:
    eta_col: int | None  # None when the CVaR part is left out
    u_col: np.ndarray | None  # (K,)


def outcome_matrix(model: LinearModel, x_values: np.ndarray, resale_usd: np.ndarray, terminal_usd: np.ndarray,
                   fixed_cost_usd: np.ndarray) -> sp.csr_matrix:
    """(K, n_cols) matrix N with NPV_k = N[k] @ columns, for the model's original columns.

    ``x_values`` is (K, n_x): V_k of each x column in each sample.
    """
    K = x_values.shape[0]
    n = model.n_cols
    blocks = [sp.csr_matrix(x_values)]
    used = model.n_x
    for cols, per_col in ((model.sell_col, resale_usd), (model.idle_col, terminal_usd), (model.y_col, -fixed_cost_usd)):
        if cols is None:
            continue
        blocks.append(sp.csr_matrix(np.broadcast_to(per_col[None, :], (K, len(cols)))))
        used += len(cols)
    if used < n:
        blocks.append(sp.csr_matrix((K, n - used)))
    return sp.hstack(blocks, format="csr")


def _widen(block: RowBlock, n_cols: int) -> None:
    m = block.matrix.tocoo()
    block.matrix = sp.coo_matrix((m.data, (m.row, m.col)), shape=(m.shape[0], n_cols))


def define_cvar(model: LinearModel, outcomes: sp.csr_matrix, weights: np.ndarray, alpha: float, beta: float,
                floor_usd: float | None, labels: list[str] | None = None) -> CvarColumns:
    """Turn the model's objective into (1 - beta) E + beta CVaR_alpha (see the module docstring). In place.

    ``outcomes`` is outcome_matrix's (K, n_cols); ``weights`` (K,) sum to 1.
    """
    K, n = outcomes.shape
    assert n == model.n_cols, "outcomes must cover the model's columns"
    expected = np.asarray(outcomes.T @ weights).ravel()
    model.cost = (1 - beta) * expected
    if beta == 0 and floor_usd is None:
        return CvarColumns(None, None)
    eta = n
    u = np.arange(n + 1, n + 1 + K)
    new_n = n + 1 + K
    model.cost = np.concatenate([model.cost, [beta], -beta * weights / alpha])
    model.lower = np.concatenate([model.lower, [-INF], np.zeros(K)])
    model.upper = np.concatenate([model.upper, [INF], np.full(K, INF)])
    model.integer = np.concatenate([model.integer, np.zeros(1 + K, bool)])
    ids = labels or [str(k) for k in range(K)]
    model.extra_names = list(model.extra_names) + ["eta"] + [label("u", k) for k in ids]
    for block in model.blocks:
        _widen(block, new_n)
    rows = sp.hstack([outcomes, sp.csr_matrix(np.full((K, 1), -1.0)), sp.identity(K, format="csr")], format="coo")
    model.add(RowBlock("cvar", [label("cvar", k) for k in ids], rows, np.zeros(K), np.full(K, INF)))
    if floor_usd is not None:
        row = sp.coo_matrix((np.concatenate([[1.0], -weights / alpha]), (np.zeros(K + 1, int), np.concatenate([[eta], u]))),
                            shape=(1, new_n))
        model.add(RowBlock("cvar_floor", [label("cvar_floor")], row, np.array([float(floor_usd)]), np.array([INF])))
    return CvarColumns(eta, u)
