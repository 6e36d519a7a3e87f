"""``python -m optimizer replay``: five ways to act, valued in each future (SPEC section 8).

For every future (the realised history, or each sample of a sample set):

- ``sell_all_usd``: every rig sold now, sum resale_usd * count.
- ``static_usd``: section 3's plan (solved once) valued in that future: section 7's V_k per relocated
  rig (B_t from the future's stops, its hashprice factors, no S_t, no penalty), resale per sold rig,
  terminal per stored rig, less fixed costs.
- ``unchanged_usd``: the month-0 monthly plan (solved once) carried out unchanged, valued in the future
  (its sales at the realised resale factors).
- ``policy_usd``: the re-planning policy: at t0 = 0, k, 2k, ... (k = monthly.replan_every) the monthly
  plan is solved again from the decisions carried out so far, knowing the stops with ban_month <= t0
  (a stop that has begun lasts to the horizon until its end month is reached), the hashprice and
  resale factors of months < t0, and forecasting months >= t0 as the scenario's path times the last
  known factor (a martingale; factor 1 at t0 = 0); the decisions of months t0 .. t0+k-1 are carried out.
  Rigs standing at a site whose jurisdiction is stopped (known at t0) may be moved to another site.
- ``foresight_usd``: the best plan knowing the whole future (B_t and factors as realised, S_t = 1, no
  penalty), the upper bound of every policy: a time-expanded flow model (``foresight``) holding section
  8's plan plus moves of rigs off a site from the month its jurisdiction's stop begins (the only moves
  the policy makes), so that no carried-out policy is outside it.

Every value is the realised NPV of the decisions carried out (``Ledger.value``): per rig, running
months sum_t d_t a_t B_t margin_t (margin on the future's hashprice), freight and duty c_tau * upfront
at each dispatch or move, storage at the origin, the sale c_tau' * resale_usd * f_tau' (realised f)
or terminal at the horizon.

``replay.csv``: future, sell_all_usd, static_usd, unchanged_usd, policy_usd, foresight_usd.
``replay.json``: per column its weighted mean, P5/P50/P95 and CVaR (risk.alpha), the value of
re-planning (policy - unchanged) and of perfect information (foresight - policy), same statistics.
Futures run in chunks through ``scaleout.Runner`` (local cores, or a Dask cluster): same numbers.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import economics, monthly as M, monthly_model as MM
from . import tables as T
from .errors import InfeasibleError, Problem, ScenarioError
from .model import INF, LinearModel, RowBlock, allowed_sites, label
from .results import _jsonable, write_files
from .risk import cvar, weighted_lower_quantile
from .scenario import Scenario
from .solvers import solve_model

REPLAY_COLUMNS = ["future", "sell_all_usd", "static_usd", "unchanged_usd", "policy_usd", "foresight_usd"]
EPS = 1e-9


# ---------------------------------------------------------------------------- futures


@dataclass
class Future:
    """One future: hashprice factors (H,) on the scenario's path, the realised resale path f (H,),
    stops (jurisdiction, ban_month, end_month; end H = never resumes)."""

    name: str
    weight: float
    hp_factor: np.ndarray
    resale: np.ndarray
    stops: list[tuple[str, int, int]] = field(default_factory=list)

    def stopped(self, scn: Scenario, known_by: int | None = None) -> np.ndarray | None:
        bans = pd.DataFrame(self.stops, columns=["jurisdiction", "ban_month", "end_month"])
        return M.stops_from_bans(scn, bans, known_by)


def futures_from_history(scn: Scenario, folder: str | Path) -> list[Future]:
    """The realised history (backtest.load_history's market.csv and bans.csv; end_month when the loader
    gives one, else H; resale.csv when the folder has one, else the scenario's resale path)."""
    from .backtest import load_history

    history = load_history(folder, scn)
    H = scn.settings.horizon.months
    realised = history.market.sort_values("month")["hashprice_usd_th_day"].to_numpy(float)
    assumed = economics.hashprice(scn)
    if ((assumed <= 0) & (realised > 0)).any():
        raise ScenarioError(Problem(f"{Path(folder).name}/market.csv", None, "hashprice_usd_th_day",
                                    "the scenario's hashprice is 0 in a month where the realised one is not"))
    factor = np.divide(realised, assumed, out=np.ones(H), where=assumed > 0)
    ends = getattr(history, "end_months", None) or {}
    stops = [(j, int(b), int(ends.get(j, H) or H)) for j, b in history.bans.items()]
    resale = M.resale_path(scn)
    path = Path(folder) / T.RESALE.file
    if path.is_file():
        frame, problems = T.read_csv(path.read_bytes(), T.RESALE, f"{Path(folder).name}/{T.RESALE.file}")
        if frame is not None:
            frame, problems = T.validate_table(frame, T.RESALE)
        if problems:
            raise ScenarioError(problems)
        from .monthly_inputs import _resale_problems

        problems = _resale_problems(frame, H)
        if problems:
            raise ScenarioError(problems)
        resale = np.ones(H)
        resale[frame["month"].astype(int).to_numpy()] = frame["factor"].to_numpy(float)
    return [Future("history", 1.0, factor, resale, stops)]


def futures_from_samples(scn: Scenario, folder: str | Path) -> list[Future]:
    """Each sample of a sample set (samples.load_samples): its ban months (end months when the set has
    them, else H), hashprice factors, and resale factors when the set has them (else the scenario's path)."""
    from .samples import load_samples

    return futures_from_sample_set(scn, load_samples(folder, scn))


def futures_from_sample_set(scn: Scenario, ss) -> list[Future]:
    """The futures of a ``samples.SampleSet`` (see ``futures_from_samples``)."""
    H = scn.settings.horizon.months
    f = M.resale_path(scn)
    ends = getattr(ss, "end_month", None)
    resale = getattr(ss, "resale", None)
    out = []
    for k in range(ss.n):
        stops = [(j, int(ss.ban_month[k, i]), int(ends[k, i]) if ends is not None else H)
                 for i, j in enumerate(ss.jurisdictions) if ss.ban_month[k, i] < H]
        hp = ss.factor[k] if ss.factor is not None else np.ones(H)
        out.append(Future(str(int(ss.sample[k])), float(ss.weight[k]), np.asarray(hp, float),
                          np.asarray(resale[k], float) if resale is not None else f.copy(), stops))
    return out


def realised_outlook(scn: Scenario, future: Future) -> M.Outlook:
    """The future as it comes: B_t, hashprice and resale factors as realised; no S_t, no penalty."""
    return M.Outlook(t0=0, hp_factor=future.hp_factor, resale_factor=future.resale, stopped=future.stopped(scn),
                     survival=False, penalty=False)


def forecast_outlook(scn: Scenario, future: Future, t0: int) -> M.Outlook:
    """What the policy knows at t0: stops begun by t0, factors of months < t0, a martingale forecast after."""
    H = scn.settings.horizon.months
    hp = np.ones(H)
    f = M.resale_path(scn).copy()
    if t0 > 0:
        hp[:t0] = future.hp_factor[:t0]
        hp[t0:] = future.hp_factor[t0 - 1]
        base = M.resale_path(scn)
        ratio = future.resale[t0 - 1] / base[t0 - 1] if base[t0 - 1] > 0 else 1.0
        f[:t0] = future.resale[:t0]
        f[t0:] = base[t0:] * ratio
    return M.Outlook(t0=t0, hp_factor=hp, resale_factor=f, stopped=future.stopped(scn, known_by=t0))


# ---------------------------------------------------------------------------- what is carried out


@dataclass
class Piece:
    """Rigs of batch g that left their origin at ``dispatch``: legs (site, arrival days, from month,
    to month or None while there), dispatch and move costs (month, USD per rig undiscounted), and the
    month they are sold at a site (H: kept), None while open."""

    g: int
    rigs: float
    dispatch: int
    legs: list[list[Any]]
    costs: list[tuple[int, float]]
    until: int | None = None

    def split(self, share: float) -> "Piece":
        out = copy.deepcopy(self)
        out.rigs = self.rigs * share
        return out


@dataclass
class Ledger:
    """Decisions carried out: rigs left at each origin, origin sales (g, month, rigs), pieces."""

    remaining: np.ndarray
    sales: list[tuple[int, int, float]] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)
    opened: np.ndarray | None = None

    def spent_usd(self) -> float:
        return float(sum(p.rigs * up for p in self.pieces for _, up in p.costs))

    def units(self, scn: Scenario, econ, t0: int, movable_sites: np.ndarray | None):
        """Open pieces as re-planning units (pieces at the same site, arrival and leg start share one)."""
        groups: dict[tuple, list[Piece]] = {}
        for p in self.pieces:
            if p.until is None:
                site, arrival, start, _ = p.legs[-1]
                groups.setdefault((p.g, site, round(arrival, 9), start), []).append(p)
        standing, members, movable = [], [], []
        for (g, site, arrival, start), ps in sorted(groups.items()):
            standing.append(M.Standing(g, site, start, arrival, sum(p.rigs for p in ps)))
            members.append(ps)
            movable.append(bool(movable_sites[site]) if movable_sites is not None else True)
        return standing, members, np.array(movable, bool)

    def value(self, scn: Scenario, econ, outlook: M.Outlook, fixed_usd: float = 0.0) -> float:
        """Realised NPV of everything carried out (open pieces kept to the horizon, rigs left at the
        origin kept there), under ``outlook`` (a future: no S_t, no penalty)."""
        st = scn.settings
        H, rate = st.horizon.months, st.horizon.discount_rate
        d, c = M.discount_mid(H, rate), M.discount_start(H, rate)
        f = outlook.resale_factor
        store = st.monthly.store_usd_per_rig_month
        store_before = store * np.concatenate([[0.0], np.cumsum(d)])
        R, Tv = econ.resale_usd, econ.terminal_usd
        total = float(((Tv - store_before[H]) * self.remaining).sum())
        for g, tau, rigs in self.sales:
            total += rigs * (c[tau] * R[g] * f[tau] - store_before[tau])
        cache: dict[tuple[int, int], np.ndarray] = {}
        for p in self.pieces:
            v = -store_before[p.dispatch]
            until = H if p.until is None else p.until
            for i, (site, arrival, start, end) in enumerate(p.legs):
                end = until if end is None else end
                key = (p.g, site)
                if key not in cache:
                    cache[key] = M.weighted_margin(scn, econ, outlook, np.array([p.g]), np.array([site]))[0]
                a = M.availability(np.array(arrival), H)
                t = np.arange(H)
                v += float((cache[key] * a * ((t >= start) & (t < end))).sum())
            v -= sum(c[m] * up for m, up in p.costs)
            v += c[until] * R[p.g] * f[until] if until < H else Tv[p.g]
            total += p.rigs * v
        return total - fixed_usd


def execute(scn: Scenario, econ, ledger: Ledger, cols: M.Columns, x: np.ndarray, t1: int,
            members: list[list[Piece]]) -> None:
    """Carry out the decisions of ``cols`` (values ``x``) taken before month ``t1``."""
    H = scn.settings.horizon.months
    online = scn.sites["online_month"].to_numpy(float) if "online_month" in scn.sites.columns else np.zeros(len(econ.sites))
    ship_ss, lead_ss = M.site_freight(scn)
    juris = scn.sites["jurisdiction"].to_numpy()
    duty = scn.sites["import_duty"].to_numpy(float)
    per_unit: dict[int, list[int]] = {}
    for j in np.nonzero(x > EPS)[0]:
        k, g, s, tau, until = cols.kind[j], int(cols.g[j]), int(cols.site[j]), int(cols.tau[j]), int(cols.until[j])
        if k == M.SHIP and tau < t1:
            lead = float(econ.lead_days[econ.group_origin[g], s])
            A = max(economics.DAYS_PER_MONTH * tau + lead, economics.DAYS_PER_MONTH * online[s])
            p = Piece(g, float(x[j]), tau, [[s, A, tau, None]], [(tau, float(econ.upfront_usd[g, s]))])
            if until < t1 or until == H and t1 >= H:
                p.legs[-1][3], p.until = until, until
            ledger.pieces.append(p)
            ledger.remaining[g] -= x[j]
        elif k == M.SELL and tau < t1:
            ledger.sales.append((g, tau, float(x[j])))
            ledger.remaining[g] -= x[j]
        elif k in (M.STAY, M.MOVE):
            per_unit.setdefault(int(cols.unit[j]), []).append(j)
    for u, js in per_unit.items():
        q = cols.standing[u].rigs
        done = []
        for j in js:
            k, s, tau, until = cols.kind[j], int(cols.site[j]), int(cols.tau[j]), int(cols.until[j])
            if k == M.STAY and until < t1:
                done.append((j, "sell"))
            elif k == M.MOVE and tau < t1:
                done.append((j, "move"))
        if not done:
            continue
        shares = {j: float(x[j]) / q for j, _ in done}
        left = max(0.0, 1.0 - sum(shares.values()))
        for p in list(members[u]):
            for j, what in done:
                piece = p.split(shares[j])
                until = int(cols.until[j])
                if what == "sell":
                    piece.legs[-1][3], piece.until = until, until
                else:
                    s0, s1, tau = int(cols.from_site[j]), int(cols.site[j]), int(cols.tau[j])
                    piece.legs[-1][3] = tau
                    up = ship_ss[s0, s1] + (duty[s1] * econ.resale_usd[piece.g] if juris[s1] != juris[s0] else 0.0)
                    piece.costs.append((tau, float(up)))
                    A = max(economics.DAYS_PER_MONTH * tau + lead_ss[s0, s1], economics.DAYS_PER_MONTH * online[s1])
                    piece.legs.append([s1, A, tau, None])
                    if until < t1 or until == H and t1 >= H:
                        piece.legs[-1][3], piece.until = until, until
                ledger.pieces.append(piece)
            p.rigs *= left
        ledger.pieces = [p for p in ledger.pieces if p.rigs > EPS]


# ---------------------------------------------------------------------------- the five values


def _solve_columns(scn, econ, cols, remaining, spent, opened):
    model = MM.build(scn, econ, cols, remaining, spent, opened)
    from . import canonical

    raw = canonical.canonical(model, solve_model(model, scn.settings.solver))
    if raw.status == "infeasible":
        raise InfeasibleError(["the re-planning policy found no plan from the decisions carried out"])
    MM.check(scn, econ, model, raw, remaining)
    x = np.asarray(raw.x, float)
    opened_now = None
    if model.y_col is not None:
        opened_now = np.round(x[model.y_col]) > 0
    return x[: cols.n], opened_now


def carried_out(scn: Scenario, econ, future: Future | None, every: int) -> tuple[Ledger, float]:
    """The ledger of the re-planning policy with re-plans every ``every`` months (every >= H: the
    month-0 plan carried out unchanged; ``future`` None: the scenario's own forecast throughout),
    and the fixed costs it paid."""
    H = scn.settings.horizon.months
    S = len(econ.sites)
    ledger = Ledger(econ.count.astype(float), opened=np.zeros(S, bool))
    fixed = scn.sites["fixed_cost_usd"].to_numpy(float)
    for t0 in range(0, H, every):
        t1 = min(H, t0 + every)
        if future is None:
            outlook = M.Outlook(t0=t0)
        else:
            outlook = forecast_outlook(scn, future, t0)
        movable = None
        if outlook.stopped is not None:
            movable = outlook.stopped[:, t0]
        standing, members, mov = ledger.units(scn, econ, t0, movable)
        remaining = np.maximum(ledger.remaining, 0.0)
        cols = M.plan_columns(scn, econ, outlook, remaining, standing, movable=mov if movable is not None
                              else np.zeros(len(standing), bool) if t0 > 0 else None)
        x, opened_now = _solve_columns(scn, econ, cols, remaining, ledger.spent_usd(), ledger.opened)
        if opened_now is not None:
            # a site counts as opened once rigs are carried there
            pass
        before = len(ledger.pieces)
        execute(scn, econ, ledger, cols, x, t1, members)
        for p in ledger.pieces[before:]:
            for leg in p.legs:
                ledger.opened[leg[0]] = True
        for p in ledger.pieces:
            for leg in p.legs:
                ledger.opened[leg[0]] = True
    paid = float((fixed * ledger.opened).sum()) if MM.model_mode(scn) == "mip" else 0.0
    return ledger, paid


def static_ledger(scn: Scenario, econ) -> tuple[Ledger, float]:
    """Section 3's plan as a ledger: relocations dispatched at month 0 and kept, sales at month 0."""
    from .engine import solve

    res = solve(scn.with_overrides({"monthly.enabled": False}), details=False)
    H = scn.settings.horizon.months
    gkey = {k: g for g, k in enumerate(zip(np.asarray(econ.origins)[econ.group_origin],
                                           np.asarray(econ.models)[econ.group_model]))}
    sidx = {s: i for i, s in enumerate(econ.sites)}
    online = scn.sites["online_month"].to_numpy(float) if "online_month" in scn.sites.columns else np.zeros(len(sidx))
    ledger = Ledger(econ.count.astype(float))
    for r in res.allocation.itertuples():
        g = gkey[(r.origin, r.model)]
        ledger.remaining[g] -= r.rigs
        if r.action == "relocate":
            s = sidx[r.site]
            A = max(float(econ.lead_days[econ.group_origin[g], s]), economics.DAYS_PER_MONTH * online[s])
            ledger.pieces.append(Piece(g, float(r.rigs), 0, [[s, A, 0, H]], [(0, float(econ.upfront_usd[g, s]))], H))
        elif r.action == "sell":
            ledger.sales.append((g, 0, float(r.rigs)))
    ledger.remaining = np.maximum(ledger.remaining, 0.0)
    return ledger, float(res.summary.get("fixed_costs_usd") or 0.0)


def foresight(scn: Scenario, econ, future: Future) -> float:
    """The best plan knowing the whole future (module docstring): a time-expanded flow model.

    Columns: section 8's decisions that end before the rig settles (from ``plan_columns``), arrivals
    ``ship[o,m,s,tau]`` settling in node (g, s, m) (m: the first month with a_t = 1), inventory
    ``inv[o,m,s,t]`` (a rig running all of month t: d_t B_t margin_t), ``sale[o,m,s,t]`` (c_t R f_t),
    ``end[o,m,s]`` (terminal), and, from sites whose jurisdiction's stop has begun by month tau,
    ``move[o,m,s,tau,s2]`` (freight and lead by distance, duty if the jurisdiction differs) settling
    at s2, plus moves that end (sold or kept) before settling. Rows: batch accounting, flow balance per
    node, capacity and share per (site, month), budget; y and fixed costs in MIP mode.
    """
    st = scn.settings
    pol, H = st.policy, st.horizon.months
    outlook = realised_outlook(scn, future)
    G, S = econ.n_groups, len(econ.sites)
    D = economics.DAYS_PER_MONTH
    d, c = M.discount_mid(H, st.horizon.discount_rate), M.discount_start(H, st.horizon.discount_rate)
    f = outlook.resale_factor
    R, Tv = econ.resale_usd, econ.terminal_usd
    store = st.monthly.store_usd_per_rig_month
    store_before = store * np.concatenate([[0.0], np.cumsum(d)])
    dispatch, sells = M.plan_months(scn)
    sells = sells if pol.allow_sell else np.zeros(0, int)
    sites_on = np.nonzero(allowed_sites(scn))[0]
    online = scn.sites["online_month"].to_numpy(float) if "online_month" in scn.sites.columns else np.zeros(S)
    W = M.weighted_margin(scn, econ, outlook, np.arange(G)[:, None], np.arange(S)[None, :])  # (G, S, H)
    mw = econ.mw_per_rig
    ths = econ.hashrate_ths
    # columns as lists: value, upfront, kind label, running (site, month) cells, flow: (node_out, node_in)
    value, upfront, names, run_cells = [], [], [], []
    batch_of, node_in, node_out, is_end_of = [], [], [], []
    keys = [(econ.origins[o], econ.models[m]) for o, m in zip(econ.group_origin, econ.group_model)]

    group_of: list[int] = []

    def node(g, s, t):  # t in 0 .. H; node H is the horizon
        return (g * S + s) * (H + 1) + t

    def col(v, up, name, cells, g, batch=False, into=-1, out=-1):
        value.append(v); upfront.append(up); names.append(name); run_cells.append(cells); group_of.append(g)
        batch_of.append(g if batch else -1); node_in.append(into); node_out.append(out)

    # origin decisions and arrivals
    base = M.plan_columns(scn, econ, outlook, prune=False)
    settle_month = {}
    for g in range(G):
        o = econ.group_origin[g]
        for tau in sells:
            col(c[tau] * R[g] * f[tau] - store_before[tau], 0.0, label("sell", *keys[g], tau), [], g, batch=True)
        if pol.allow_idle:
            col(Tv[g] - store_before[H], 0.0, label("keep", *keys[g]), [], g, batch=True)
        for s in sites_on:
            for tau in dispatch:
                A = max(D * tau + econ.lead_days[o, s], D * online[s])
                a = M.availability(np.array(A), H)
                m = int(np.argmax(a >= 1.0)) if (a >= 1.0).any() else H
                settle_month[(g, s, tau)] = m
                pre = range(tau, m)
                cells = [(s, t) for t in pre if a[t] > 0]
                ops = float(sum(W[g, s, t] * a[t] for t in pre))
                cost = c[tau] * econ.upfront_usd[g, s] + store_before[tau]
                if m < H:
                    col(ops - cost, econ.upfront_usd[g, s], label("ship", *keys[g], econ.sites[s], tau), cells,
                        g, batch=True, into=node(g, s, m))
    # section 8's shipments that end before settling (sold in transit or before the first full month, or
    # never settling within the horizon)
    for j in range(base.n):
        if base.kind[j] != M.SHIP:
            continue
        g, s, tau, until = int(base.g[j]), int(base.site[j]), int(base.tau[j]), int(base.until[j])
        if until <= settle_month[(g, s, tau)]:
            cells = [(s, t) for r in np.nonzero(base.run_col == j)[0] for t in range(base.run_from[r], base.run_to[r])]
            col(float(base.value_usd[j]), float(base.upfront_usd[j]), label("shipend", *keys[g], econ.sites[s], tau, until),
                cells, g, batch=True)
    # inventory, sales at sites, ends
    for g in range(G):
        for s in sites_on:
            for t in range(H):
                col(float(W[g, s, t]), 0.0, label("inv", *keys[g], econ.sites[s], t), [(s, t)], g,
                    into=node(g, s, t + 1), out=node(g, s, t))
            for t in sells:
                col(c[t] * R[g] * f[t], 0.0, label("sale", *keys[g], econ.sites[s], t), [], g, out=node(g, s, t))
            col(float(Tv[g]), 0.0, label("end", *keys[g], econ.sites[s]), [], g, out=node(g, s, H))
    # moves off stopped sites
    stopped = outlook.stopped
    if stopped is not None:
        ship_ss, lead_ss = M.site_freight(scn)
        juris = scn.sites["jurisdiction"].to_numpy()
        duty = scn.sites["import_duty"].to_numpy(float)
        begun = np.maximum.accumulate(stopped, axis=1)  # the stop has begun by month t
        ends = np.concatenate([sells, [H]])
        for s0 in sites_on:
            for tau in dispatch:
                if tau < 1 or not begun[s0, tau]:
                    continue
                for s1 in sites_on:
                    if s1 == s0:
                        continue
                    A = max(D * tau + lead_ss[s0, s1], D * online[s1])
                    a = M.availability(np.array(A), H)
                    m = int(np.argmax(a >= 1.0)) if (a >= 1.0).any() else H
                    for g in range(G):
                        up = ship_ss[s0, s1] + (duty[s1] * R[g] if juris[s1] != juris[s0] else 0.0)
                        for until in [u for u in ends if tau < u <= m]:
                            cells = [(s1, t) for t in range(tau, until) if a[t] > 0]
                            ops = float(sum(W[g, s1, t] * a[t] for t in range(tau, until)))
                            sale = c[until] * R[g] * f[until] if until < H else Tv[g]
                            col(ops - c[tau] * up + sale, up, label("moveend", *keys[g], econ.sites[s0], tau,
                                                                    econ.sites[s1], until), cells, g,
                                out=node(g, s0, tau))
                        if m < H:
                            cells = [(s1, t) for t in range(tau, m) if a[t] > 0]
                            ops = float(sum(W[g, s1, t] * a[t] for t in range(tau, m)))
                            col(ops - c[tau] * up, up, label("move", *keys[g], econ.sites[s0], tau, econ.sites[s1]),
                                cells, g, into=node(g, s1, m), out=node(g, s0, tau))
    n = len(value)
    mode = MM.model_mode(scn)
    fixed = scn.sites["fixed_cost_usd"].to_numpy(float)
    n_all = n + (S if mode == "mip" else 0)
    cost = np.concatenate([np.array(value, float), -fixed if mode == "mip" else np.zeros(0)])
    lower, upper = np.zeros(n_all), np.full(n_all, INF)
    integer = np.zeros(n_all, bool)
    if mode == "mip":
        upper[n:] = allowed_sites(scn).astype(float)
        integer[n:] = True
    if pol.integer_rigs:
        integer[:n] = True
    model = LinearModel(mode, 0, np.zeros(0, int), np.zeros(0, int), None, None,
                        np.arange(n, n_all) if mode == "mip" else None, cost, lower, upper, integer,
                        group_keys=keys, site_names=list(econ.sites), extra_names=names + (
                            [label("y", s) for s in econ.sites] if mode == "mip" else []))
    model.column_labels = lambda: list(model.extra_names)  # type: ignore[method-assign]
    batch_of_a, node_in_a, node_out_a = np.array(batch_of), np.array(node_in), np.array(node_out)
    j = np.nonzero(batch_of_a >= 0)[0]
    count = econ.count.astype(float)
    model.add(RowBlock("batch", [label("batch", *k) for k in keys],
                       MM._coo(batch_of_a[j], j, np.ones(len(j)), G, n_all), count, count.copy()))
    # flow balance per node (g, s, t), t = 0 .. H: what settles or carries in = what carries, is sold or moves out
    rows, cols_, vals = [], [], []
    for jj in range(n):
        if node_in_a[jj] >= 0:
            rows.append(node_in_a[jj]); cols_.append(jj); vals.append(1.0)
        if node_out_a[jj] >= 0:
            rows.append(node_out_a[jj]); cols_.append(jj); vals.append(-1.0)
    used_rows, rr = np.unique(np.array(rows, np.int64), return_inverse=True)
    model.add(RowBlock("flow", [label("flow", *keys[r // ((H + 1) * S)], econ.sites[(r // (H + 1)) % S], r % (H + 1))
                                for r in used_rows],
                       MM._coo(rr, cols_, vals, len(used_rows), n_all), np.zeros(len(used_rows)), np.zeros(len(used_rows))))
    # capacity and share per (site, month)
    cap = scn.sites["capacity_mw"].to_numpy(float)
    cr, cc, cv, sr, sv = [], [], [], [], []
    for jj, cells in enumerate(run_cells):
        gg = group_of[jj]
        for s, t in cells:
            cr.append(s * H + t); cc.append(jj); cv.append(mw[gg, s]); sv.append(ths[gg])
    if cr:
        present, rr = np.unique(np.array(cr), return_inverse=True)
        ps = present // H
        r2, c2, v2 = [rr], [np.array(cc)], [np.array(cv)]
        up = cap[ps].copy()
        if mode == "mip":
            r2.append(np.arange(len(present))); c2.append(n + ps); v2.append(-cap[ps]); up = np.zeros(len(present))
        model.add(RowBlock("capacity", [label("capacity", econ.sites[s], t) for s, t in zip(ps, present % H)],
                           MM._coo(np.concatenate(r2), np.concatenate(c2), np.concatenate(v2), len(present), n_all),
                           np.full(len(present), -INF), up))
        share = pol.max_jurisdiction_share
        if share < 1:
            jn, sj = np.unique(scn.sites["jurisdiction"].to_numpy(), return_inverse=True)
            cell = sj[np.array(cr) // H] * H + np.array(cr) % H
            jp, jr = np.unique(cell, return_inverse=True)
            total = float((ths * econ.count).sum())
            model.add(RowBlock("share", [label("share", jn[q // H], q % H) for q in jp],
                               MM._coo(jr, cc, sv, len(jp), n_all), np.full(len(jp), -INF), np.full(len(jp), share * total)))
    if pol.budget_usd is not None:
        v = np.concatenate([np.array(upfront, float), fixed if mode == "mip" else np.zeros(0)])
        k = np.nonzero(v)[0]
        model.add(RowBlock("budget", ["budget"], MM._coo(np.zeros(len(k), int), k, v[k], 1, n_all),
                           np.array([-INF]), np.array([float(pol.budget_usd)])))
    raw = solve_model(model, st.solver)
    if raw.status == "infeasible":
        raise InfeasibleError(["perfect foresight finds no plan"])
    return float(raw.objective)


# ---------------------------------------------------------------------------- replay


def _one(future: Future, scn: Scenario, econ, static: tuple[Ledger, float], unchanged: tuple[Ledger, float],
         sell_all: float) -> dict[str, Any]:
    outlook = realised_outlook(scn, future)
    every = scn.settings.monthly.replan_every
    policy, paid = carried_out(scn, econ, future, every)
    return {
        "future": future.name,
        "sell_all_usd": sell_all,
        "static_usd": static[0].value(scn, econ, outlook, static[1]),
        "unchanged_usd": unchanged[0].value(scn, econ, outlook, unchanged[1]),
        "policy_usd": policy.value(scn, econ, outlook, paid),
        "foresight_usd": foresight(scn, econ, future),
    }


def _chunk(futures: list[Future], scn: Scenario, econ, static, unchanged, sell_all) -> list[dict[str, Any]]:
    return [_one(f, scn, econ, static, unchanged, sell_all) for f in futures]


@dataclass
class Replay:
    per_future: pd.DataFrame
    summary: dict[str, Any]

    def files(self) -> dict[str, str]:
        return {"replay.csv": self.per_future.to_csv(index=False, lineterminator="\n", float_format="%.17g"),
                "replay.json": json.dumps(_jsonable(self.summary), indent=2) + "\n"}

    def write(self, out_dir: str | Path) -> Path:
        return write_files(out_dir, self.files())


def _stats(values: np.ndarray, w: np.ndarray, alpha: float) -> dict[str, float]:
    return {"mean_usd": float(w @ values), "p5_usd": weighted_lower_quantile(values, w, 0.05),
            "p50_usd": weighted_lower_quantile(values, w, 0.50), "p95_usd": weighted_lower_quantile(values, w, 0.95),
            "cvar_usd": cvar(values, w, alpha)}


def replay(scn: Scenario, futures: list[Future], runner=None, chunk: int = 8) -> Replay:
    """The five values in every future and their summary (module docstring)."""
    from .engine import check_finite, prepare
    from .scaleout import Runner

    scn, _ = prepare(scn)
    scn = scn.with_overrides({"monthly.enabled": True})
    if scn.settings.monthly.replan_month != 0 or (scn.state is not None and len(scn.state)):
        raise ScenarioError(Problem("scenario.toml", None, "monthly.replan_month",
                                    "replay starts from month 0: remove state.csv and set monthly.replan_month = 0"))
    econ = check_finite(economics.compute(scn))
    sell_all = float((econ.resale_usd * econ.count).sum())
    static = static_ledger(scn, econ)
    unchanged = carried_out(scn, econ, None, scn.settings.horizon.months)
    parts = [futures[i: i + chunk] for i in range(0, len(futures), chunk)]
    own = runner is None
    runner = runner or Runner(None)
    try:
        if own:
            runner.__enter__()
        rows = [r for part in runner.map(_chunk, parts, scn=scn, econ=econ, static=static, unchanged=unchanged,
                                         sell_all=sell_all) for r in part]
    finally:
        if own:
            runner.__exit__(None, None, None)
    table = pd.DataFrame(rows, columns=REPLAY_COLUMNS)
    w = np.array([f.weight for f in futures], float)
    w = w / w.sum()
    alpha = scn.settings.risk.alpha
    summary: dict[str, Any] = {"n_futures": len(futures), "risk_alpha": alpha,
                               "replan_every": scn.settings.monthly.replan_every,
                               "horizon_months": scn.settings.horizon.months}
    for name in REPLAY_COLUMNS[1:]:
        summary[name.removesuffix("_usd")] = _stats(table[name].to_numpy(float), w, alpha)
    summary["value_of_replanning"] = _stats((table["policy_usd"] - table["unchanged_usd"]).to_numpy(float), w, alpha)
    summary["value_of_perfect_information"] = _stats((table["foresight_usd"] - table["policy_usd"]).to_numpy(float), w, alpha)
    return Replay(table, summary)


# ---------------------------------------------------------------------------- CLI


def add_command(sub: Any, common) -> None:
    r = sub.add_parser("replay", help="selling now, section 3's plan, the monthly plan unchanged, the re-planning "
                                      "policy and perfect foresight in each future: replay.csv, replay.json")
    common(r)
    r.add_argument("--out", required=True, help="output folder")
    which = r.add_mutually_exclusive_group(required=True)
    which.add_argument("--history", help="history folder: market.csv, bans.csv (optional end_month), resale.csv")
    which.add_argument("--samples", help="sample-set folder (from `sample`)")
    r.add_argument("--scheduler", help="Dask scheduler tcp://HOST:PORT (default: local cores)")
    r.set_defaults(handler=cmd_replay)


def cmd_replay(args) -> int:
    from .cli import _load, write_out
    from .scaleout import Runner

    scn = _load(args)
    futures = futures_from_history(scn, args.history) if args.history else futures_from_samples(scn, args.samples)
    with Runner(args.scheduler) as runner:
        rep = replay(scn, futures, runner)
    write_out(args.out, lambda: rep.write(args.out))
    s = rep.summary
    print(f"{s['n_futures']} future(s): sell all ${s['sell_all']['mean_usd']:,.0f}, static ${s['static']['mean_usd']:,.0f}, "
          f"monthly unchanged ${s['unchanged']['mean_usd']:,.0f}, re-planning ${s['policy']['mean_usd']:,.0f}, "
          f"foresight ${s['foresight']['mean_usd']:,.0f}; written to {args.out}")
    return 0
