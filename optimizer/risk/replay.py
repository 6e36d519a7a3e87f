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

from optimizer import economics
from optimizer.economics import monthly as M
from optimizer.model import monthly as MM_model
from optimizer.solver import monthly_guard as MM_guard
from optimizer.inputs import tables as T
from optimizer.inputs.errors import InfeasibleError, Problem, ScenarioError
from optimizer.model import INF, LinearModel, RowBlock, allowed_sites, label
from optimizer.results import _jsonable, write_files
from optimizer.risk import cvar, weighted_lower_quantile
from optimizer.inputs.scenario import Scenario
from optimizer.solver.backends import solve_model

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
    # a history's realised power price path (site, month, multiplier; backtest.realised_power): values only
    power: pd.DataFrame | None = None

    def stopped(self, scn: Scenario, known_by: int | None = None) -> np.ndarray | None:
        bans = pd.DataFrame(self.stops, columns=["jurisdiction", "ban_month", "end_month"])
        return M.stops_from_bans(scn, bans, known_by)


def futures_from_history(scn: Scenario, folder: str | Path) -> list[Future]:
    """The realised history (backtest.load_history's market.csv and bans.csv; end_month when the loader
    gives one, else H; resale.csv when the folder has one, else the scenario's resale path)."""
    from optimizer.risk.backtest import load_history, realised_power

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
        from optimizer.inputs.monthly import _resale_problems

        problems = _resale_problems(frame, H)
        if problems:
            raise ScenarioError(problems)
        resale = np.ones(H)
        resale[frame["month"].astype(int).to_numpy()] = frame["factor"].to_numpy(float)
    return [Future("history", 1.0, factor, resale, stops, realised_power(scn, history))]


def futures_from_samples(scn: Scenario, folder: str | Path) -> list[Future]:
    """Each sample of a sample set (samples.load_samples): its ban months (end months when the set has
    them, else H), hashprice factors, and resale factors when the set has them (else the scenario's path)."""
    from optimizer.risk.samples import load_samples

    return futures_from_sample_set(scn, load_samples(folder, scn))


def futures_from_sample_set(scn: Scenario, ss) -> list[Future]:
    """The futures of a ``samples.SampleSet`` (see ``futures_from_samples``)."""
    H = scn.settings.horizon.months
    f = M.resale_path(scn)
    ends = getattr(ss, "end_month", None)  # (K, J), H = no end; a method on the sample sets of SPEC section 9
    ends = ends() if callable(ends) else ends
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
        seen: dict[tuple[int, int, int], int] = {}
        for (g, site, arrival, start), ps in sorted(groups.items()):
            n = seen[(g, site, start)] = seen.get((g, site, start), 0) + 1
            standing.append(M.Standing(g, site, start, arrival, sum(p.rigs for p in ps),
                                       tag=f"arrived day {arrival:.3f}" if n > 1 else ""))
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
    duty = economics.duty_share(scn)[econ.group_model]  # (G, S): by the rig's made_in where duty.csv says
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
                    up = ship_ss[s0, s1] + (duty[piece.g, s1] * econ.resale_usd[piece.g] if juris[s1] != juris[s0] else 0.0)
                    piece.costs.append((tau, float(up)))
                    A = max(economics.DAYS_PER_MONTH * tau + lead_ss[s0, s1], economics.DAYS_PER_MONTH * online[s1])
                    piece.legs.append([s1, A, tau, None])
                    if until < t1 or until == H and t1 >= H:
                        piece.legs[-1][3], piece.until = until, until
                ledger.pieces.append(piece)
            p.rigs *= left
        ledger.pieces = [p for p in ledger.pieces if p.rigs > EPS]


# ---------------------------------------------------------------------------- the five values


def _solve_columns(scn, econ, cols, remaining, spent, opened, warm=None):
    model = MM_model.build(scn, econ, cols, remaining, spent, opened)
    from optimizer.solver import canonical

    raw = warm.solve(model, model.column_keys()) if warm is not None else None  # the kept LP (engine/monthly_warm.py)
    if raw is None:
        raw = solve_model(model, _internal(scn.settings.solver))
    raw = canonical.canonical(model, raw)
    if raw.status == "infeasible":
        raise InfeasibleError(["the re-planning policy found no plan from the decisions carried out"])
    MM_guard.check(scn, econ, model, raw, remaining)
    x = np.asarray(raw.x, float)
    opened_now = None
    if model.y_col is not None:
        opened_now = np.round(x[model.y_col]) > 0
    return x[: cols.n], opened_now


def carried_out(scn: Scenario, econ, future: Future | None, every: int, warm: bool = False,
                first: dict | None = None) -> tuple[Ledger, float]:
    """The ledger of the re-planning policy with re-plans every ``every`` months (every >= H: the
    month-0 plan carried out unchanged; ``future`` None: the scenario's own forecast throughout),
    and the fixed costs it paid. ``warm``: the re-plans of months t0 >= 1 on one LP kept for this future
    (``optimizer.engine.monthly_warm.KeptLP``, re-solved from its last basis); False: every re-plan cold.
    The month-0 re-plan is always solved cold, so a future's values depend on nothing but the future
    (not on which other futures share its task). ``first``: a dict remembering the month-0 re-plan by
    what it knows (the stops begun at month 0): every future without such a stop makes the same one."""
    kept = None
    if warm and future is not None:
        from optimizer.engine.monthly_warm import KeptLP

        kept = KeptLP(scn.settings.solver.time_limit_s)
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
        memo = None
        if first is not None and t0 == 0 and future is not None:
            memo = (None if outlook.stopped is None else outlook.stopped.tobytes(), every)
        if memo is not None and memo in first:
            x, opened_now = first[memo]
        else:
            x, opened_now = _solve_columns(scn, econ, cols, remaining, ledger.spent_usd(), ledger.opened,
                                           kept if t0 > 0 else None)
            if memo is not None:
                first[memo] = (x, opened_now)
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
    paid = float((fixed * ledger.opened).sum()) if MM_model.model_mode(scn) == "mip" else 0.0
    return ledger, paid


def static_ledger(scn: Scenario, econ) -> tuple[Ledger, float]:
    """Section 3's plan as a ledger: relocations dispatched at month 0 and kept, sales at month 0."""
    from optimizer.engine import solve

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


PRUNE_IDLE_SHIPMENTS = True  # foresight: leave out shipments that end before they ever run (dominated; tested)


def foresight(scn: Scenario, econ, future: Future) -> float:
    """The best plan knowing the whole future (module docstring): a time-expanded flow model.

    Nodes (g, s, t), t = 0 .. H: rigs of batch g settled at site s in month t (running all month) and,
    t = H, at the horizon. Columns (maximise; USD per rig, realised: B_t, hashprice and resale factors
    of the future, no S_t, no penalty):
    - ``sell[o,m,tau]``, ``keep[o,m]`` at the origin (section 8's values);
    - ``ship[o,m,s,tau]``: dispatched at tau, running a_t of months tau .. m-1 (m: the first month with
      a_t = 1), settling into node (g, s, m); ``shipend[o,m,s,tau,until]``: section 8's shipment sold
      (or kept) before it settles;
    - ``inv[o,m,s,t]``: node t to node t+1, d_t B_t margin_t; ``sale[o,m,s,t]``: out of node t,
      c_t R f_t; ``end[o,m,s]``: out of node H, terminal;
    - from a site whose jurisdiction's stop has begun by month tau: ``move[o,m,s,tau,s2]`` out of node
      (g, s, tau) settling at s2 (freight and lead by distance, duty if the jurisdiction differs), and
      ``moveend[o,m,s,tau,s2,until]`` sold or kept before settling.
    Rows: batch[o,m]; flow[o,m,s,t] (in = out); capacity[s,t] and share[J,t] on the months a column
    runs; budget; y and fixed costs in MIP mode.
    """
    st = scn.settings
    pol, H = st.policy, st.horizon.months
    outlook = realised_outlook(scn, future)
    G, S = econ.n_groups, len(econ.sites)
    D = economics.DAYS_PER_MONTH
    d, c = M.discount_mid(H, st.horizon.discount_rate), M.discount_start(H, st.horizon.discount_rate)
    f = np.append(np.asarray(outlook.resale_factor, float), 1.0)  # f[H] unused (terminal instead)
    R, Tv = econ.resale_usd, econ.terminal_usd
    store = st.monthly.store_usd_per_rig_month
    store_before = store * np.concatenate([[0.0], np.cumsum(d)])
    dispatch, sells = M.plan_months(scn)
    sells = sells if pol.allow_sell else np.zeros(0, int)
    ends = np.concatenate([sells, [H]]).astype(int)
    sites_on = np.nonzero(allowed_sites(scn))[0]
    online = scn.sites["online_month"].to_numpy(float) if "online_month" in scn.sites.columns else np.zeros(S)
    W = M.weighted_margin(scn, econ, outlook, np.arange(G)[:, None], np.arange(S)[None, :])  # (G, S, H)
    t_all = np.arange(H)
    parts: list[dict[str, np.ndarray]] = []
    cells: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (column within part, site, month) per part
    n_cols = [0]

    def node(g, s, t):
        return (np.asarray(g) * S + np.asarray(s)) * (H + 1) + np.asarray(t)

    def add(kind, g, s, tau, s2, until, value, up, batch, into, out, cell=None):
        k = len(value)
        base = n_cols[0]
        parts.append({"kind": np.full(k, kind, dtype=object), "g": np.asarray(g, int), "s": np.asarray(s, int),
                      "tau": np.asarray(tau, int), "s2": np.asarray(s2, int), "until": np.asarray(until, int),
                      "value": np.asarray(value, float), "up": np.asarray(up, float), "batch": np.full(k, batch),
                      "into": np.asarray(into, np.int64), "out": np.asarray(out, np.int64)})
        if cell is not None:
            j, cs, ct = cell
            cells.append((base + np.asarray(j, np.int64), np.asarray(cs, np.int64), np.asarray(ct, np.int64)))
        n_cols[0] += k

    none = lambda k: np.full(k, -1)  # noqa: E731
    # origin: sell, keep
    if len(sells):
        gg, ii = np.meshgrid(np.arange(G), np.arange(len(sells)), indexing="ij")
        gg, tt = gg.ravel(), sells[ii.ravel()]
        add("sell", gg, none(len(gg)), tt, none(len(gg)), none(len(gg)), c[tt] * R[gg] * f[tt] - store_before[tt],
            np.zeros(len(gg)), True, none(len(gg)), none(len(gg)))
    if pol.allow_idle:
        add("keep", np.arange(G), none(G), none(G), none(G), none(G), Tv - store_before[H], np.zeros(G), True, none(G),
            none(G))

    def arrivals(gv, s0v, s1v, tau_v, A, up, pre_cost, kind_settle, kind_end, from_node):
        """Columns for rigs reaching site s1v[i] at A[i] days after leaving at tau_v[i] (vectors)."""
        a = M.availability(A, H)  # (n, H)
        full = a >= 1.0
        m = np.where(full.any(axis=1), full.argmax(axis=1), H)
        w = W[gv, s1v] * a  # (n, H)
        P = np.concatenate([np.zeros((len(gv), 1)), np.cumsum(w, axis=1)], axis=1)  # (n, H+1)
        running = a > 0
        # settle
        k = np.nonzero(m < H)[0]
        if len(k):
            pre = running[k] & (t_all[None, :] < m[k, None])
            j, tt = np.nonzero(pre)
            add(kind_settle, gv[k], s0v[k], tau_v[k], s1v[k], none(len(k)), P[k, m[k]] - P[k, tau_v[k]] - pre_cost[k],
                up[k], kind_settle == "ship", node(gv[k], s1v[k], m[k]), from_node[k], (j, s1v[k][j], tt))
        # end before settling: until in ends, tau < until <= m
        ok = (ends[None, :] > tau_v[:, None]) & (ends[None, :] <= m[:, None])
        i, u = np.nonzero(ok)
        if len(i):
            until = ends[u]
            sale = np.where(until < H, c[until] * R[gv[i]] * f[np.minimum(until, H)], Tv[gv[i]])
            span = running[i] & (t_all[None, :] < until[:, None])
            value = P[i, until] - P[i, tau_v[i]] - pre_cost[i] + sale
            if kind_end == "shipend" and PRUNE_IDLE_SHIPMENTS:
                # a shipment sold (or kept) before it ever runs uses no capacity: selling the rigs at the origin
                # in that month (keeping them there to the horizon) is worth at least as much and uses only the
                # batch row, so leaving such columns out changes no optimum (most of this model's columns)
                alt = np.where(until < H, c[until] * R[gv[i]] * f[np.minimum(until, H)] - store_before[until],
                               Tv[gv[i]] - store_before[H])
                has_alt = np.where(until < H, len(sells) > 0, pol.allow_idle)
                keep = span.any(axis=1) | ~has_alt | (alt < value)
                i, until, sale, span, value = i[keep], until[keep], sale[keep], span[keep], value[keep]
            j, tt = np.nonzero(span)
            add(kind_end, gv[i], s0v[i], tau_v[i], s1v[i], until, value,
                up[i], kind_end == "shipend", none(len(i)), from_node[i], (j, s1v[i][j], tt))

    # shipments from the origin
    if len(sites_on) and len(dispatch):
        gg, ss, ii = np.meshgrid(np.arange(G), sites_on, np.arange(len(dispatch)), indexing="ij")
        gg, ss, tau = gg.ravel(), ss.ravel(), dispatch[ii.ravel()]
        lead = econ.lead_days[econ.group_origin[gg], ss]
        A = np.maximum(D * tau + lead, D * online[ss])
        up = econ.upfront_usd[gg, ss]
        arrivals(gg, none(len(gg)), ss, tau, A, up, c[tau] * up + store_before[tau], "ship", "shipend", none(len(gg)))
    # inventory, sales at sites, the horizon
    if len(sites_on):
        gg, ss, tt = np.meshgrid(np.arange(G), sites_on, t_all, indexing="ij")
        gg, ss, tt = gg.ravel(), ss.ravel(), tt.ravel()
        add("inv", gg, ss, tt, none(len(gg)), none(len(gg)), W[gg, ss, tt], np.zeros(len(gg)), False,
            node(gg, ss, tt + 1), node(gg, ss, tt), (np.arange(len(gg)), ss, tt))
        if len(sells):
            gg, ss, ii = np.meshgrid(np.arange(G), sites_on, np.arange(len(sells)), indexing="ij")
            gg, ss, tt = gg.ravel(), ss.ravel(), sells[ii.ravel()]
            add("sale", gg, ss, tt, none(len(gg)), none(len(gg)), c[tt] * R[gg] * f[tt], np.zeros(len(gg)), False,
                none(len(gg)), node(gg, ss, tt))
        gg, ss = np.meshgrid(np.arange(G), sites_on, indexing="ij")
        gg, ss = gg.ravel(), ss.ravel()
        add("end", gg, ss, none(len(gg)), none(len(gg)), none(len(gg)), Tv[gg], np.zeros(len(gg)), False, none(len(gg)),
            node(gg, ss, H))
    # moves off sites whose stop has begun
    if outlook.stopped is not None and len(sites_on) > 1:
        begun = np.maximum.accumulate(outlook.stopped, axis=1)
        ship_ss, lead_ss = M.site_freight(scn)
        juris = scn.sites["jurisdiction"].to_numpy()
        duty = economics.duty_share(scn)[econ.group_model]  # (G, S): by the rig's made_in where duty.csv says
        s0, ti = np.nonzero(begun[sites_on][:, dispatch])
        s0, tau = sites_on[s0], dispatch[ti]
        if len(s0):
            gg, pi, s1 = np.meshgrid(np.arange(G), np.arange(len(s0)), sites_on, indexing="ij")
            gg, pi, s1 = gg.ravel(), pi.ravel(), s1.ravel()
            keep = s0[pi] != s1
            gg, pi, s1 = gg[keep], pi[keep], s1[keep]
            fs, ft = s0[pi], tau[pi]
            A = np.maximum(D * ft + lead_ss[fs, s1], D * online[s1])
            up = ship_ss[fs, s1] + np.where(juris[s1] != juris[fs], duty[gg, s1] * R[gg], 0.0)
            arrivals(gg, fs, s1, ft, A, up, c[ft] * up, "move", "moveend", node(gg, fs, ft))
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n = n_cols[0]
    mode = MM_model.model_mode(scn)
    fixed = scn.sites["fixed_cost_usd"].to_numpy(float)
    n_all = n + (S if mode == "mip" else 0)
    cost = np.concatenate([cat["value"], -fixed if mode == "mip" else np.zeros(0)])
    lower, upper = np.zeros(n_all), np.full(n_all, INF)
    integer = np.zeros(n_all, bool)
    y_col = None
    if mode == "mip":
        y_col = np.arange(n, n_all)
        upper[y_col] = allowed_sites(scn).astype(float)
        integer[y_col] = True
    if pol.integer_rigs:
        integer[:n] = True
    keys = [(econ.origins[o], econ.models[m]) for o, m in zip(econ.group_origin, econ.group_model)]
    sites = econ.sites

    def column_labels() -> list[str]:
        out = []
        for k, g, s, tau, s2, until in zip(cat["kind"], cat["g"], cat["s"], cat["tau"], cat["s2"], cat["until"]):
            parts_ = {"sell": (tau,), "keep": (), "ship": (sites[s2], tau), "shipend": (sites[s2], tau, until),
                      "inv": (sites[s], tau), "sale": (sites[s], tau), "end": (sites[s],),
                      "move": (sites[s], tau, sites[s2]), "moveend": (sites[s], tau, sites[s2], until)}[k]
            out.append(label(k, *keys[g], *parts_))
        return out + ([label("y", s) for s in sites] if mode == "mip" else [])

    model = LinearModel(mode, 0, np.zeros(0, int), np.zeros(0, int), None, None, y_col, cost, lower, upper, integer,
                        group_keys=keys, site_names=list(sites))
    model.column_labels = column_labels  # type: ignore[method-assign]
    b = np.nonzero(cat["batch"])[0]
    count = econ.count.astype(float)
    model.add(RowBlock("batch", [label("batch", *k) for k in keys], MM_model.coo(cat["g"][b], b, np.ones(len(b)), G, n_all),
                       count, count.copy()))
    jin, jout = np.nonzero(cat["into"] >= 0)[0], np.nonzero(cat["out"] >= 0)[0]
    nodes = np.concatenate([cat["into"][jin], cat["out"][jout]])
    used, rr = np.unique(nodes, return_inverse=True)
    flow_labels = [label("flow", *keys[q // ((H + 1) * S)], sites[(q // (H + 1)) % S], q % (H + 1)) for q in used]
    model.add(RowBlock("flow", flow_labels,
                       MM_model.coo(rr, np.concatenate([jin, jout]), np.concatenate([np.ones(len(jin)), -np.ones(len(jout))]),
                               len(used), n_all), np.zeros(len(used)), np.zeros(len(used))))
    cj = np.concatenate([x[0] for x in cells]) if cells else np.zeros(0, np.int64)
    cs = np.concatenate([x[1] for x in cells]) if cells else np.zeros(0, np.int64)
    ct = np.concatenate([x[2] for x in cells]) if cells else np.zeros(0, np.int64)
    if len(cj):
        cap = scn.sites["capacity_mw"].to_numpy(float)
        present, rr = np.unique(cs * H + ct, return_inverse=True)
        ps = present // H
        gj = cat["g"][cj]
        r2, c2, v2 = [rr], [cj], [econ.mw_per_rig[gj, cs]]
        upc = cap[ps].copy()
        if y_col is not None:
            r2.append(np.arange(len(present))); c2.append(y_col[ps]); v2.append(-cap[ps]); upc = np.zeros(len(present))
        model.add(RowBlock("capacity", [label("capacity", sites[s], t) for s, t in zip(ps, present % H)],
                           MM_model.coo(np.concatenate(r2), np.concatenate(c2), np.concatenate(v2), len(present), n_all),
                           np.full(len(present), -INF), upc))
        share = pol.max_jurisdiction_share
        if share < 1:
            jn, sj = np.unique(scn.sites["jurisdiction"].to_numpy(), return_inverse=True)
            jp, jr = np.unique(sj[cs] * H + ct, return_inverse=True)
            total = float((econ.hashrate_ths * econ.count).sum())
            model.add(RowBlock("share", [label("share", jn[q // H], q % H) for q in jp],
                               MM_model.coo(jr, cj, econ.hashrate_ths[gj], len(jp), n_all), np.full(len(jp), -INF),
                               np.full(len(jp), share * total)))
    if pol.budget_usd is not None:
        v = np.concatenate([cat["up"], fixed if y_col is not None else np.zeros(0)])
        k = np.nonzero(v)[0]
        model.add(RowBlock("budget", ["budget"], MM_model.coo(np.zeros(len(k), int), k, v[k], 1, n_all),
                           np.array([-INF]), np.array([float(pol.budget_usd)])))
    solver = _internal(st.solver)
    if solver.lp_algorithm == "auto":  # measured on china-2021's history: dual simplex 2.8 s, interior point 6 s
        import dataclasses

        solver = dataclasses.replace(solver, lp_algorithm="simplex")
    raw = solve_model(model, solver)
    if raw.status == "infeasible":
        raise InfeasibleError(["perfect foresight finds no plan"])
    return float(raw.objective)


def _internal(solver):
    """Solver settings for replay's own solves: HiGHS straight from the matrix (no PuLP objects: same
    optimum, tested) unless a path is asked for; CBC as asked."""
    import dataclasses

    if solver.name == "highs" and solver.backend == "auto":
        return dataclasses.replace(solver, backend="direct")
    return solver


# ---------------------------------------------------------------------------- replay


def _one(future: Future, scn: Scenario, econ, static: tuple[Ledger, float], unchanged: tuple[Ledger, float],
         sell_all: float, kept: dict | None = None) -> dict[str, Any]:
    outlook = realised_outlook(scn, future)
    every = scn.settings.monthly.replan_every
    kept = kept or {}
    # the policy plans on the scenario's power prices; its outcome is valued on the realised ones
    policy, paid = carried_out(scn, econ, future, every, bool(kept.get("warm")), kept.get("first"))
    real = scn if future.power is None else scn.with_tables(power=future.power)  # realised power prices
    return {
        "future": future.name,
        "sell_all_usd": sell_all,
        "static_usd": static[0].value(real, econ, outlook, static[1]),
        "unchanged_usd": unchanged[0].value(real, econ, outlook, unchanged[1]),
        "policy_usd": policy.value(real, econ, outlook, paid),
        "foresight_usd": foresight(real, econ, future),
    }


def _chunk(futures: list[Future], scn: Scenario, econ, static, unchanged, sell_all, warm: bool = True) -> list[dict[str, Any]]:
    """The futures of one task. ``warm``: each future's re-plans on one kept LP (``carried_out``) and the
    month-0 re-plan made once per stop pattern in the task; False: every solve cold (the reference path;
    the same values, tested). Foresight is solved cold: kept across futures its LP grows with every
    future's moves and re-solved no faster than a cold solve with presolve (china-2021, 8 futures: 9.8 s
    against 10.0 s CPU)."""
    kept = {"warm": True, "first": {}} if warm else None
    return [_one(f, scn, econ, static, unchanged, sell_all, kept) for f in futures]


PROCESS_START_S = 2.0  # a spawned worker process imports the engine before its first task (measured: 1-3 s)
PROCESS_TASK_S = 0.02  # one task's cost beyond its work in a running pool (its futures and rows pickled)


def process_ranges(n_futures: int, per_future_s: float, slots: int) -> list[tuple[int, int]]:
    """Index ranges (of futures 1..n_futures-1; future 0 ran here) for local worker processes.

    A worker's start (PROCESS_START_S) is paid once per worker and in parallel, not per task: the pool is
    worth it when the work spread over the slots plus one start beats doing it all here; then tasks are cut
    by ``scaleout.chunk_ranges`` with a task's own overhead (PROCESS_TASK_S). Else one range (one task, run
    here). (Charging the start to every task, as before, kept 40 futures of china-2021, 50 s of work, in
    one process on 2 cores.)"""
    from optimizer.risk import scaleout

    work = max(per_future_s, 0.0) * max(n_futures - 1, 0)
    if slots < 2 or work / slots + PROCESS_START_S >= work:
        return [(1, n_futures)] if n_futures > 1 else []
    return scaleout.chunk_ranges(1, n_futures, per_future_s, slots, PROCESS_TASK_S)


def plan_tasks(runner, futures: list[Future], chunk: int | None, shared: dict, processes: bool):
    """(rows done here, futures per task). With ``chunk`` given: tasks of that many futures. Else the
    first future runs here, timed, and the rest is cut by ``scaleout.chunk_ranges`` (issue 23): at most
    CHUNKS_PER_WORKER tasks per worker slot, fewer where a task's overhead (measured on a cluster) would be
    more than 5% of its work; local worker processes as ``process_ranges`` says."""
    from optimizer.risk import scaleout

    if chunk is not None:
        return [], [futures[i: i + chunk] for i in range(0, len(futures), max(1, int(chunk)))] or [[]]
    if len(futures) <= 1:
        return [], [futures]
    import time

    t = time.perf_counter()
    rows = _chunk(futures[:1], **shared)
    per_future = time.perf_counter() - t
    if runner._client is None and processes and runner.threads != 1:
        from optimizer.risk.local_pool import cores

        ranges = process_ranges(len(futures), per_future, runner.threads or cores())
    else:
        overhead = scaleout.task_overhead_s(runner) if runner._client is not None else 0.0
        ranges = scaleout.chunk_ranges(1, len(futures), per_future, scaleout.workers(runner), overhead)
    return rows, [futures[a:b] for a, b in ranges]


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


def replay(scn: Scenario, futures: list[Future], runner=None, chunk: int | None = None, warm: bool = True,
           processes: bool = False) -> Replay:
    """The five values in every future and their summary (module docstring).

    ``runner``: a ``scaleout.Runner`` (None: local cores); ``chunk``: futures per task (None: chosen from
    the work, ``plan_tasks``); ``warm`` False solves every re-plan cold (the reference path: the same
    numbers); ``processes``: local cores as worker processes (``local_pool``) instead of threads (the
    CLI's choice: replay's tasks hold the GIL; Python's "spawn" rule applies: a script that calls this
    must guard its entry point with ``if __name__ == "__main__":``). Every future's values depend on that future alone, so
    any runner, chunking or worker count gives the same files.
    """
    from optimizer.engine import check_finite, prepare
    from optimizer.risk.scaleout import Runner

    scn, _ = prepare(scn)
    scn = scn.with_overrides({"monthly.enabled": True})
    if scn.settings.monthly.replan_month != 0 or (scn.state is not None and len(scn.state)):
        raise ScenarioError(Problem("scenario.toml", None, "monthly.replan_month",
                                    "replay starts from month 0: remove state.csv and set monthly.replan_month = 0"))
    econ = check_finite(economics.compute(scn))
    sell_all = float((econ.resale_usd * econ.count).sum())
    static = static_ledger(scn, econ)
    unchanged = carried_out(scn, econ, None, scn.settings.horizon.months)
    shared = dict(scn=scn, econ=econ, static=static, unchanged=unchanged, sell_all=sell_all, warm=warm)
    own = runner is None
    runner = runner or Runner(None)
    try:
        if own:
            runner.__enter__()
        rows, parts = plan_tasks(runner, futures, chunk, shared, processes)
        if len(parts) == 1:
            done = [_chunk(parts[0], **shared)]
        elif runner._client is None and processes and runner.threads != 1:
            from optimizer.risk.local_pool import cores, map_processes

            done = map_processes(_chunk, parts, shared, runner.threads or cores())
        else:
            done = runner.map(_chunk, parts, **shared)  # a cluster: the shared arguments are scattered once
        rows += [r for part in done for r in part]
    finally:
        if own:
            runner.__exit__(None, None, None)
    runner.last_replay = {"tasks": len(parts), "futures_per_task": [len(p) for p in parts]}
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
