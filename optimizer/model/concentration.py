"""A convex, piecewise-linear charge on a jurisdiction's share of the relocated fleet's MW (issue 21).

One regulator's exposure grows with the load a plan sends there: Kazakhstan's 2021 power deficit was
caused by the miners who arrived from China (docs/model.md, Concentration). With breakpoints
b_1 < ... < b_K (``concentration.breakpoints_share``, shares of the relocated MW) and slopes
c_1 <= ... <= c_K (``concentration.charge_usd_per_mw``, USD per MW, present value over the horizon),
a jurisdiction J holding M_J MW of a relocation of M MW in all is charged

    charge_J = sum_k c_k * (MW of J between b_k M and b_(k+1) M)  =  sum_k (c_k - c_(k-1)) max(0, M_J - b_k M)

(c_0 = 0, b_(K+1) = infinity). It is convex in the plan because the slopes never fall. In the LP, for each
J and k with c_k > c_(k-1), one column z[J,k] >= 0 with objective -(c_k - c_(k-1)) and one row

    concentration[J,k]:  z[J,k] - sum_{s in J} mw[g,s] x[g,s] + b_k sum_{g,s} mw[g,s] x[g,s] >= 0

so that at the optimum z[J,k] = max(0, M_J - b_k M) (the objective pushes z down to its bound). MW is
mw[g,s] = power_w * pue / 1e6 per rig, the capacity rows' MW. Off (no breakpoints): no column, no row.
The charge is a planning price, not a cash flow: realised values (backtest, risk, replay) leave it out.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from optimizer.economics import Economics
from optimizer.inputs.scenario import Scenario

FAMILY = "concentration"


def segments(scn: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(b, delta): the breakpoints and the slope increments c_k - c_(k-1), both (K,)."""
    c = scn.settings.concentration
    b = np.asarray(c.breakpoints_share, float)
    slopes = np.asarray(c.charge_usd_per_mw, float)
    return b, np.diff(np.concatenate([[0.0], slopes]))


def charge_usd(scn: Scenario, mw_by_site: np.ndarray) -> float:
    """The charge of a plan that uses ``mw_by_site`` (S,) MW at each site, USD (the formula above)."""
    b, delta = segments(scn)
    if not len(b):
        return 0.0
    juris = scn.sites["jurisdiction"].to_numpy()
    _, j = np.unique(juris, return_inverse=True)
    mw_j = np.bincount(j, weights=mw_by_site)
    total = float(np.sum(mw_by_site))
    return float(sum(d * np.maximum(0.0, mw_j - bk * total).sum() for bk, d in zip(b, delta)))


def define_concentration(model, scn: Scenario, econ: Economics) -> None:
    """Columns z[J,k] and rows concentration[J,k] (module docstring); nothing when the charge is off."""
    from optimizer.model import INF, RowBlock, label

    b, delta = segments(scn)
    keep = np.flatnonzero(delta > 0)
    if not len(keep) or model.n_x == 0:
        if len(b):  # on, but nothing to charge: summary.json still says 0
            model.concentration_cols = np.zeros(0, np.int64)
        return
    names, site_j = np.unique(scn.sites["jurisdiction"].to_numpy(), return_inverse=True)
    J = len(names)
    pairs = [(j, k) for j in range(J) for k in keep]  # row r = column n + r
    n, R = model.n_cols, len(pairs)
    new_n = n + R
    model.cost = np.concatenate([model.cost, [-delta[k] for _, k in pairs]])
    model.lower = np.concatenate([model.lower, np.zeros(R)])
    model.upper = np.concatenate([model.upper, np.full(R, INF)])
    model.integer = np.concatenate([model.integer, np.zeros(R, bool)])
    model.extra_names = list(model.extra_names) + [label("z", names[j], k + 1) for j, k in pairs]
    model.concentration_cols = np.arange(n, new_n)
    for block in model.blocks:
        block.matrix = sp.coo_matrix((block.matrix.data, (block.matrix.row, block.matrix.col)),
                                     shape=(block.matrix.shape[0], new_n))
    mw = econ.mw_per_rig[model.x_group, model.x_site]
    xj = site_j[model.x_site]
    rows, cols, vals = [], [], []
    for r, (j, k) in enumerate(pairs):
        coef = b[k] * mw - np.where(xj == j, mw, 0.0)
        nz = np.flatnonzero(coef)
        rows += [np.full(len(nz) + 1, r)]
        cols += [np.concatenate([nz, [n + r]])]
        vals += [np.concatenate([coef[nz], [1.0]])]
    m = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(R, new_n))
    model.add(RowBlock(FAMILY, [label(FAMILY, names[j], k + 1) for j, k in pairs], m, np.zeros(R), np.full(R, INF)))
