"""The monthly plan of SPEC section 8 as labelled rows and columns, solved like section 3's model.

``build`` turns ``monthly.plan_columns`` into a ``MonthlyModel`` (a ``model.LinearModel``: the same
PuLP and HiGHS paths, ``solvers.solve_model``, solve it). Families:

Columns (maximise the sum of value x; USD per rig, discounted to month 0):
- ``ship[origin,model,site,tau,until]``: dispatched at the start of month tau, sold at the site at
  the start of month ``until`` (H: kept to the horizon)
- ``sell[origin,model,tau]``: sold at the origin; ``keep[origin,model]``: kept at the origin
- ``stay[origin,model,site,since,until]``, ``move[origin,model,site,since,to_site,tau,until]``:
  re-planning only, rigs standing at ``site`` since dispatch month ``since`` (state.csv)
- ``y[site]`` (MIP mode): the site is opened (cost: fixed_cost_usd)

Rows:
- ``batch[origin,model]``: ship + sell + keep = rigs of the batch still at the origin
- ``standing[origin,model,site,since]``: stay + move = rigs standing there (re-planning)
- ``capacity[site,month]``: MW of the decisions running there in that month <= capacity_mw (* y)
- ``share[jurisdiction,month]``: their TH/s <= max_jurisdiction_share * the fleet's TH/s (share < 1)
- ``budget``: undiscounted freight + duty of ship and move, + fixed costs <= budget_usd (less what
  state.csv's shipments spent)
- ``link[origin,model,site]`` (MIP mode): rigs of a batch placed at a site <= batch * y[site]

``optimizer.engine.monthly.solve`` is ``optimizer.solve`` for ``monthly.enabled = true``: economics, build, solve,
canonical tie-break (LP), guard, then section 4's tables summed over months plus ``schedule`` and
``monthly`` (SPEC section 8's files).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from optimizer import economics
from optimizer.economics import monthly as M
from optimizer.inputs.scenario import Scenario
from optimizer.model import INF, LinearModel, RowBlock, allowed_sites, label
from optimizer.model.tiebreak import digest64, mix64


@dataclass
class MonthlyModel(LinearModel):
    """A LinearModel whose columns are ``monthly.Columns`` (first the ship columns, ``n_x`` of them)
    followed by y[site] in MIP mode. ``x_group``/``x_site`` describe the ship columns."""

    cols: M.Columns | None = None
    H: int = 0
    fixed_usd: float = 0.0  # constant: fixed costs of sites already open (re-planning), not in the objective

    def column_labels(self, which: np.ndarray | None = None) -> list[str]:
        """Labels of every column, or of the columns ``which`` (in that order)."""
        c, keys, sites = self.cols, self.group_keys, self.site_names
        if which is not None:
            which = np.asarray(which, np.int64)
            d = which[which < c.n]
            out = self._labels(c.kind[d], c.g[d], c.unit[d], c.site[d], c.from_site[d], c.tau[d], c.until[d])
            if self.y_col is None:
                return out
            y = iter(out)
            return [next(y) if j < c.n else label("y", sites[j - c.n]) for j in which]
        out = self._labels(c.kind, c.g, c.unit, c.site, c.from_site, c.tau, c.until)
        if self.y_col is not None:
            out += [label("y", s) for s in sites]
        return out

    def _labels(self, kind, gs, unit, site, from_site, taus, untils) -> list[str]:
        c, keys, sites = self.cols, self.group_keys, self.site_names
        out = []
        for k, g, u, s, fs, tau, until in zip(kind, gs, unit, site, from_site, taus, untils):
            o, m = keys[g]
            if k == M.SHIP:
                out.append(label("ship", o, m, sites[s], tau, until))
            elif k == M.SELL:
                out.append(label("sell", o, m, tau))
            elif k == M.KEEP:
                out.append(label("keep", o, m))
            elif k == M.STAY:
                out.append(label("stay", o, m, sites[s], _since(c.standing[u]), until))
            else:
                out.append(label("move", o, m, sites[fs], _since(c.standing[u]), sites[s], tau, until))
        return out

    def column_keys(self) -> np.ndarray:
        """(n_cols, 8) int64 naming every column exactly, as its label does: kind, batch, site, site left,
        tau, until, and for rigs standing at a site their dispatch month and arrival day (float64 bits);
        y[site] as kind 99. For ``engine.monthly_warm.KeptLP`` (cheaper than the labels)."""
        c = self.cols
        since = np.full(c.n, -1, np.int64)
        arrival = np.zeros(c.n, np.int64)
        on = c.unit >= 0
        if on.any():
            since[on] = np.array([h.since for h in c.standing], np.int64)[c.unit[on]]
            arrival[on] = np.array([h.arrival_days for h in c.standing], np.float64).view(np.int64)[c.unit[on]]
        out = np.stack([c.kind, c.g, c.site, c.from_site, c.tau, c.until, since, arrival], axis=1).astype(np.int64)
        if self.y_col is not None:
            y = np.full((len(self.site_names), 8), -1, np.int64)
            y[:, 0], y[:, 2] = 99, np.arange(len(self.site_names))
            out = np.vstack([out, y])
        return out

    # --- the canonical tie-break's names and weights (optimizer/canonical.py) ---
    def canonical_keys(self, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(h in [1, 2), batch name, second name) of columns: as canonical.column_keys, with the
        decision's own label (site, months) as the second name."""
        cols = np.asarray(cols, np.int64)
        names = self.column_labels(cols)  # only the columns asked for (the ties: few)
        batch, second = [], []
        n = self.cols.n
        for i, j in enumerate(cols):
            if j < n:
                o, m = self.group_keys[self.cols.g[j]]
                batch.append(f"{o}\x1f{m}")
            else:
                batch.append("")
            second.append(names[i])
        batch_a, second_a = np.array(batch, dtype=object), np.array(second, dtype=object)
        bu, bi = np.unique(batch_a.astype(str), return_inverse=True)
        su, si = np.unique(second_a.astype(str), return_inverse=True)
        mix = mix64(digest64(bu)[bi], digest64(su)[si])
        h = 1.0 + (mix >> np.uint64(11)).astype(float) / 2.0 ** 53
        return h, batch_a.astype(str), second_a.astype(str)

    def canonical_mw(self) -> np.ndarray:
        """(n_cols,) MW per unit: a placement's MW per rig at its site, a sale's or keep's the batch's
        MW per rig averaged over every site, 1 for y."""
        c = self.cols
        mw = np.ones(self.n_cols)
        gm = self.group_mw if self.group_mw is not None else np.full(len(self.group_keys), 1e-3)
        mw[: c.n] = gm[c.g]
        placed = c.site >= 0
        mw[: c.n][placed] = self.mw_per_rig[c.g[placed], c.site[placed]]
        return np.maximum(mw, 1e-12)

    mw_per_rig: np.ndarray | None = None
    share_juris: np.ndarray | None = None  # jurisdiction of each share[J,t] row


def _since(h: M.Standing) -> str:
    return f"{h.since}" + (f" {h.tag}" if h.tag else "")


def coo(rows, cols, vals, n_rows, n_cols) -> sp.coo_matrix:
    return sp.coo_matrix((np.asarray(vals, float), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))),
                         shape=(n_rows, n_cols))


def expand_runs(cols: M.Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(column, site, month) for every month of every running interval."""
    lengths = np.maximum(cols.run_to - cols.run_from, 0)
    rep = np.repeat(np.arange(len(lengths)), lengths)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else np.zeros(0, int)
    months = cols.run_from[rep] + (np.arange(len(rep)) - offsets[rep])
    return cols.run_col[rep], cols.run_site[rep], months


def model_mode(scn: Scenario) -> str:
    s = scn.sites
    return "mip" if ((s["fixed_cost_usd"] > 0).any() or scn.settings.policy.integer_rigs) else "lp"


def build(scn: Scenario, econ: economics.Economics, cols: M.Columns, remaining: np.ndarray | None = None,
          spent_usd: float = 0.0, open_sites: np.ndarray | None = None) -> MonthlyModel:
    """The labelled model of ``cols``. ``remaining`` (G,) rigs at each origin (default: the fleet);
    ``spent_usd`` already spent (counts against the budget); ``open_sites`` (S,) bool: sites already
    opened (re-planning: y fixed at 1, their fixed cost sunk)."""
    st = scn.settings
    pol, H = st.policy, st.horizon.months
    mode = model_mode(scn)
    G, S, n = econ.n_groups, len(econ.sites), cols.n
    remaining = econ.count.astype(float) if remaining is None else np.asarray(remaining, float)
    site_ok = allowed_sites(scn)
    fixed = scn.sites["fixed_cost_usd"].to_numpy(float)
    open_sites = np.zeros(S, bool) if open_sites is None else np.asarray(open_sites, bool)
    cost = [cols.value_usd]
    next_col = n
    y_col = None
    if mode == "mip":
        y_col = np.arange(n, n + S)
        next_col += S
        cost.append(np.where(open_sites, 0.0, -fixed))
    cost_v = np.concatenate(cost)
    lower, upper = np.zeros(next_col), np.full(next_col, INF)
    integer = np.zeros(next_col, bool)
    if y_col is not None:
        upper[y_col] = np.where(site_ok | open_sites, 1.0, 0.0)
        lower[y_col] = open_sites.astype(float)
        integer[y_col] = True
    if pol.integer_rigs:
        integer[:n] = True
    ship = cols.kind == M.SHIP
    n_x = int(ship.sum())
    assert ship[:n_x].all(), "ship columns come first"
    keys = [(econ.origins[o], econ.models[m]) for o, m in zip(econ.group_origin, econ.group_model)]
    group_mw = econ.mw_per_rig.mean(axis=1) if S else np.full(G, 1e-3)
    model = MonthlyModel("mip" if mode == "mip" else "lp", n_x, cols.g[:n_x], cols.site[:n_x], None, None, y_col,
                         cost_v, lower, upper, integer, group_keys=keys, site_names=list(econ.sites),
                         group_mw=group_mw, cols=cols, H=H,
                         fixed_usd=float((fixed * open_sites).sum()) if mode == "mip" else 0.0,
                         mw_per_rig=econ.mw_per_rig)
    # batch[g]
    at_origin = np.isin(cols.kind, (M.SHIP, M.SELL, M.KEEP))
    j = np.nonzero(at_origin)[0]
    model.add(RowBlock("batch", [label("batch", *k) for k in keys], coo(cols.g[j], j, np.ones(len(j)), G, next_col),
                       remaining.copy(), remaining.copy()))
    # standing[unit]
    if cols.standing:
        U = len(cols.standing)
        j = np.nonzero(cols.unit >= 0)[0]
        q = np.array([h.rigs for h in cols.standing], float)
        names = [label("standing", *keys[h.g], econ.sites[h.site], _since(h)) for h in cols.standing]
        model.add(RowBlock("standing", names, coo(cols.unit[j], j, np.ones(len(j)), U, next_col), q, q.copy()))
    # capacity[s,t]
    rc, rs, rt = expand_runs(cols)
    cap = scn.sites["capacity_mw"].to_numpy(float)
    if len(rc):
        cell = rs * H + rt
        present, row = np.unique(cell, return_inverse=True)
        ps, pt = present // H, present % H
        vals = econ.mw_per_rig[cols.g[rc], rs]
        r, c, v = [row], [rc], [vals]
        if y_col is not None:
            r.append(np.arange(len(present)))
            c.append(y_col[ps])
            v.append(-cap[ps])
            up = np.zeros(len(present))
        else:
            up = cap[ps].copy()
        model.add(RowBlock("capacity", [label("capacity", econ.sites[s], t) for s, t in zip(ps, pt)],
                           coo(np.concatenate(r), np.concatenate(c), np.concatenate(v), len(present), next_col),
                           np.full(len(present), -INF), up))
        # share[J,t]
        share = pol.max_jurisdiction_share
        if share < 1:
            juris = scn.sites["jurisdiction"].to_numpy()
            jn, sj = np.unique(juris, return_inverse=True)
            cell = sj[rs] * H + rt
            jp, jrow = np.unique(cell, return_inverse=True)
            total_ths = float((econ.hashrate_ths * econ.count).sum())
            model.share_juris = jn[jp // H]
            model.add(RowBlock("share", [label("share", jn[q // H], q % H) for q in jp],
                               coo(jrow, rc, econ.hashrate_ths[cols.g[rc]], len(jp), next_col),
                               np.full(len(jp), -INF), np.full(len(jp), share * total_ths)))
    # budget
    if pol.budget_usd is not None:
        c = [np.arange(n)]
        v = [cols.upfront_usd]
        if y_col is not None:
            c.append(y_col)
            v.append(np.where(open_sites, 0.0, fixed))
        cc, vv = np.concatenate(c), np.concatenate(v)
        keep = vv != 0
        model.add(RowBlock("budget", ["budget"], coo(np.zeros(int(keep.sum()), int), cc[keep], vv[keep], 1, next_col),
                           np.array([-INF]), np.array([float(pol.budget_usd) - spent_usd])))
    # link[g,s] (MIP): rigs of a batch running at a site <= count * y (implied by capacity[s,t] for whole y; a
    # tighter relaxation). Decisions that never run at the site (still in transit at the horizon) need no y.
    if y_col is not None and len(rc):
        pairs = np.unique(np.stack([rc, rs], axis=1), axis=0)
        placed, psite = pairs[:, 0], pairs[:, 1]
        pair = cols.g[placed] * S + psite
        pu, prow = np.unique(pair, return_inverse=True)
        pg, ps = pu // S, pu % S
        bound = econ.count.astype(float)[pg]
        r = np.concatenate([prow, np.arange(len(pu))])
        c = np.concatenate([placed, y_col[ps]])
        v = np.concatenate([np.ones(len(placed)), -bound])
        model.add(RowBlock("link", [label("link", *keys[g], econ.sites[s]) for g, s in zip(pg, ps)],
                           coo(r, c, v, len(pu), next_col), np.full(len(pu), -INF), np.zeros(len(pu))))
    return model


# ---------------------------------------------------------------------------- guard
