"""The economics of SPEC section 8 (the monthly plan), vectorised over (batch, site, tau, tau').

No solver here: ``plan_columns`` lists every decision the monthly plan may take, with its value
(USD, discounted to the start of month 0), its undiscounted upfront spending and the months it
runs at which site; ``optimizer.model.monthly`` turns them into labelled rows and columns.

Notation (SPEC sections 2, 6, 8): D = 365.25/12 days, months t = 0 .. H-1, d_t = (1+r)^(-(t+0.5)/12),
c_t = (1+r)^(-t/12), S_t section 2's survival (from t0 when re-planning: (1-reg_risk)^((t-t0+0.5)/12)),
margin_t section 2's margin on section 6's paths (times a hashprice factor in a future), f_t the
resale path (resale.csv, else salvage_fraction^(t/H)).

Decisions (columns), per batch g = (origin, model) with resale value R and terminal value T:
- ship g to site s at dispatch month tau, sold there at sell month tau' > tau or kept (tau' = H):
    A = max(D*tau + lead[o,s], D*online_month[s]),  a_t = min(1, max(0, (D(t+1) - A)/D)) for tau <= t < tau'
    value = sum_t d_t a_t S_t B_t margin_t - c_tau (ship + duty R) - penalty - store sum_{t<tau} d_t
            + [tau' < H: c_tau' R f_tau', else T]
- sell at the origin at sell month tau: c_tau R f_tau - store sum_{t<tau} d_t
- keep at the origin to the horizon: T - store sum_{t<H} d_t
Re-planning at t0 adds, for rigs standing at a site s since arrival A0 (state.csv):
- stay: run at s in months t0 <= t < tau' (a_t from A0), then sell at tau' or keep to H
- move to s' at dispatch month tau >= t0: run at s in months t0 <= t < tau, then at s' from
  A' = max(D*tau + lead(s, s'), D*online_month[s']) to tau'; freight and lead by section 2's distance
  formula from s to s', import duty of s' if its jurisdiction differs, section 2's penalty at s'.
Months before t0 are past: their cash flows are not part of a re-plan's objective.

A *running interval* of a decision is (site, first month, end month): the months t in
[first, end) where a_t > 0 and the rig is not sold; capacity and jurisdiction-share rows count
the decision's MW and TH/s there.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimizer import economics
from optimizer.economics import DAYS_PER_MONTH as D
from optimizer.economics import Economics
from optimizer.inputs.scenario import allowed_sites
from optimizer.inputs.scenario import Scenario

SHIP, SELL, KEEP, STAY, MOVE = 0, 1, 2, 3, 4
KIND_NAMES = ("ship", "sell", "keep", "stay", "move")


def resale_path(scn: Scenario) -> np.ndarray:
    """f_t, shape (H,): resale.csv's factors by month, else salvage_fraction^(t/H)."""
    H = scn.settings.horizon.months
    if scn.resale is not None and len(scn.resale):
        f = np.ones(H)
        f[scn.resale["month"].astype(int).to_numpy()] = scn.resale["factor"].to_numpy(float)
        return f
    return scn.settings.horizon.salvage_fraction ** (np.arange(H) / H)


def plan_months(scn: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(dispatch months, sell months), ascending: [] in the settings means every month 0 .. H-1."""
    H, mo = scn.settings.horizon.months, scn.settings.monthly
    every = np.arange(H)
    return (np.asarray(mo.dispatch_months, int) if mo.dispatch_months else every,
            np.asarray(mo.sell_months, int) if mo.sell_months else every)


def stops_from_bans(scn: Scenario, bans: pd.DataFrame | None, known_by: int | None = None) -> np.ndarray | None:
    """(S, H) bool, True where a site's jurisdiction is stopped in month t, from a bans table
    (jurisdiction, ban_month, optional end_month: empty = H). ``known_by``: only stops with
    ban_month <= known_by count, and an end month not yet reached (end_month > known_by) is
    taken to be H (a stop that has begun lasts until its end is seen). None when nothing is stopped."""
    from optimizer.inputs.monthly import end_months

    if bans is None or not len(bans):
        return None
    H = scn.settings.horizon.months
    juris = scn.sites["jurisdiction"].to_numpy()
    out = np.zeros((len(juris), H), bool)
    ends = end_months(bans, H)
    for j, b, e in zip(bans["jurisdiction"], bans["ban_month"].astype(int), ends):
        if known_by is not None:
            if b > known_by:
                continue
            if e > known_by:
                e = H
        out[juris == j, b:e] = True
    return out if out.any() else None


@dataclass
class Outlook:
    """What a plan assumes about the future (defaults: section 8's plan at month 0).

    hp_factor (H,) multiplies hp_t; resale_factor (H,) replaces f_t; stopped (S, H) sets B_t = 0;
    survival: apply S_t (from t0); penalty: charge section 2's risk penalty on new placements.
    """

    t0: int = 0
    hp_factor: np.ndarray | None = None
    resale_factor: np.ndarray | None = None
    stopped: np.ndarray | None = None
    survival: bool = True
    penalty: bool = True


@dataclass
class Standing:
    """Rigs of batch g standing at site s since they arrived A0 days after the start of month 0."""

    g: int
    site: int
    since: int  # dispatch month (for the label)
    arrival_days: float
    rigs: float
    tag: str = ""  # tells apart units of one batch at one site since one month that arrived at different times


@dataclass
class Columns:
    """Every decision of the monthly plan. n columns; R running intervals."""

    kind: np.ndarray  # (n,) SHIP | SELL | KEEP | STAY | MOVE
    g: np.ndarray  # (n,) batch
    unit: np.ndarray  # (n,) standing unit index (STAY, MOVE) or -1
    site: np.ndarray  # (n,) destination site (SHIP, MOVE), the standing site (STAY), or -1
    from_site: np.ndarray  # (n,) MOVE: the site left; else -1
    tau: np.ndarray  # (n,) dispatch / move / origin-sale month; -1 for KEEP and STAY
    until: np.ndarray  # (n,) month sold at the site, or H (kept); -1 for SELL and KEEP
    value_usd: np.ndarray  # (n,) per rig
    sale_usd: np.ndarray  # (n,) per rig: the part of value_usd from the sale at the end (c R f or T)
    upfront_usd: np.ndarray  # (n,) per rig, undiscounted: freight + duty (SHIP, MOVE)
    run_col: np.ndarray  # (R,) column of each running interval
    run_site: np.ndarray  # (R,)
    run_from: np.ndarray  # (R,) first month running
    run_to: np.ndarray  # (R,) end month (exclusive)
    standing: list[Standing] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.kind)


def discount_mid(H: int, rate: float) -> np.ndarray:
    return (1 + rate) ** (-(np.arange(H) + 0.5) / 12)


def discount_start(H: int, rate: float) -> np.ndarray:
    """c_t for t = 0 .. H (c_H included)."""
    return (1 + rate) ** (-np.arange(H + 1) / 12)


def weighted_margin(scn: Scenario, econ: Economics, outlook: Outlook, gi: np.ndarray, si: np.ndarray) -> np.ndarray:
    """d_t S_t B_t margin_t for batches ``gi`` at sites ``si`` (broadcast), shape (..., H); 0 for t < t0."""
    H = scn.settings.horizon.months
    t = np.arange(H)
    path = _full_path(scn, econ)
    if path is None:
        path = margin_path_no_lead(scn, econ, gi, si)
    else:  # the (G, S) grid computed once, then indexed: the same elementwise values
        gi, si = np.broadcast_arrays(np.asarray(gi), np.asarray(si))
        path = dataclasses.replace(path, revenue_usd=path.revenue_usd[gi, si], power_usd=path.power_usd[gi, si],
                                   hosting_usd=path.hosting_usd[gi, si], fee_usd=path.fee_usd[gi, si])
    w = path.margin(outlook.hp_factor) * path.discount
    if outlook.survival:
        risk = _site_array(scn, "reg_risk")[np.asarray(si)]
        w = w * (1 - risk[..., None]) ** ((t - outlook.t0 + 0.5) / 12)
    if outlook.stopped is not None:
        w = w * ~outlook.stopped[np.asarray(si)]
    if outlook.t0 > 0:
        w = w * (t >= outlook.t0)
    return w


_PATHS: list[tuple[Scenario, Economics, object]] = []  # the last few (scenario, economics, (G, S) path), newest last
_PATHS_KEPT = 2
_PATHS_UP_TO = 1_000_000  # G * S * H cells (16 MB of paths): above this, paths are computed per call


_SITE_ARRAYS: list[tuple[Scenario, dict]] = []


def _site_array(scn: Scenario, column: str) -> np.ndarray:
    """sites.csv's ``column`` as floats, remembered for the last few scenario objects (replay reads it in
    every re-plan; a pandas column lookup costs more than the arithmetic)."""
    for held, arrays in _SITE_ARRAYS:
        if held is scn:
            break
    else:
        arrays = {}
        _SITE_ARRAYS.append((scn, arrays))
        del _SITE_ARRAYS[:-_PATHS_KEPT]
    if column not in arrays:
        arrays[column] = scn.sites[column].to_numpy(float)
    return arrays[column]


def _full_path(scn: Scenario, econ: Economics):
    """margin_path_no_lead over every (batch, site) pair, remembered for the same scenario and economics
    objects (replay re-plans hundreds of times on one of each); None for very large grids."""
    for held in _PATHS:
        if held[0] is scn and held[1] is econ:
            return held[2]
    G, S = econ.n_groups, len(econ.sites)
    if G * S * scn.settings.horizon.months > _PATHS_UP_TO:
        return None
    path = margin_path_no_lead(scn, econ, np.arange(G)[:, None], np.arange(S)[None, :])
    path = dataclasses.replace(path, revenue_usd=np.ascontiguousarray(path.revenue_usd),
                               power_usd=np.ascontiguousarray(path.power_usd),
                               hosting_usd=np.ascontiguousarray(path.hosting_usd),
                               fee_usd=np.ascontiguousarray(path.fee_usd))
    _PATHS.append((scn, econ, path))
    del _PATHS[:-_PATHS_KEPT]
    return path


def margin_path_no_lead(scn: Scenario, econ: Economics, gi, si):
    """Section 2's MarginPath for batches at sites; availability is not used here (section 8's a_t is)."""
    gi, si = np.asarray(gi), np.asarray(si)
    return economics.margin_path(scn, econ.group_model[gi], si, np.zeros(np.broadcast(gi, si).shape))


def availability(arrival_days: np.ndarray, H: int) -> np.ndarray:
    """a_t = min(1, max(0, (D (t+1) - A) / D)), shape (..., H)."""
    a = (D * (np.arange(H) + 1) - np.asarray(arrival_days, float)[..., None]) / D
    return np.clip(a, 0.0, 1.0)


def first_running(arrival_days: np.ndarray, H: int) -> np.ndarray:
    """The first month t with a_t > 0 (H if none)."""
    a = availability(arrival_days, H)
    on = a > 0
    return np.where(on.any(axis=-1), on.argmax(axis=-1), H)


def site_freight(scn: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(ship_usd, lead_days), each (S, S): section 2's distance formula between sites (moves)."""
    s, lg = scn.sites, scn.settings.logistics
    lat, lon = s["lat"].to_numpy(float), s["lon"].to_numpy(float)
    dist = economics.haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    return lg.ship_base_usd + lg.ship_usd_per_1000km * dist / 1000, lg.lead_base_days + lg.lead_days_per_1000km * dist / 1000


def plan_columns(scn: Scenario, econ: Economics, outlook: Outlook | None = None,
                 remaining: np.ndarray | None = None, standing: list[Standing] | None = None,
                 prune: bool | None = None, movable: np.ndarray | None = None) -> Columns:
    """Every decision of the monthly plan from month t0 = outlook.t0 on, with its value.

    ``remaining`` (G,) rigs still at each origin (default: the fleet); ``standing``: rigs already at
    sites; ``movable`` (len(standing),) bool: which of them may be moved (default: all). ``prune`` (default: solver.prune_dominated) leaves out shipments worth no more than the
    batch's best sale at the origin or keeping it (they use capacity for nothing: same optimum, as in
    section 3's ``model.dominated``).
    """
    outlook = outlook or Outlook()
    st = scn.settings
    pol, H, t0 = st.policy, st.horizon.months, outlook.t0
    standing = list(standing or [])
    G, S = econ.n_groups, len(econ.sites)
    prune = st.solver.prune_dominated if prune is None else prune
    d = discount_mid(H, st.horizon.discount_rate)
    c = discount_start(H, st.horizon.discount_rate)
    f = resale_path(scn) if outlook.resale_factor is None else np.asarray(outlook.resale_factor, float)
    store = st.monthly.store_usd_per_rig_month
    store_before = store * np.concatenate([[0.0], np.cumsum(d * (np.arange(H) >= t0))])  # (H+1,) sum_{t0<=t<tau} d_t
    dispatch, sells = plan_months(scn)
    dispatch = dispatch[dispatch >= t0]
    sells = sells[sells >= t0] if pol.allow_sell else np.zeros(0, int)
    resale, terminal = econ.resale_usd, econ.terminal_usd
    online = scn.sites["online_month"].to_numpy(float) if "online_month" in scn.sites.columns else np.zeros(S)
    penalty = econ.penalty_usd if outlook.penalty else np.zeros((G, S))

    def end_value(gs: np.ndarray, until: np.ndarray) -> np.ndarray:
        ui = np.minimum(until, H - 1)
        return np.where(until < H, c[np.minimum(until, H)] * resale[gs] * f[ui], terminal[gs])

    parts: list[dict[str, np.ndarray]] = []
    runs: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    n_cols = 0

    def add(kind, g, unit, site, from_site, tau, until, value, sale, upfront) -> np.ndarray:
        nonlocal n_cols
        k = len(value)
        parts.append(dict(kind=np.full(k, kind), g=g, unit=unit, site=site, from_site=from_site, tau=tau, until=until,
                          value_usd=value, sale_usd=sale, upfront_usd=upfront))
        cols = np.arange(n_cols, n_cols + k)
        n_cols += k
        return cols

    def add_runs(cols, site, first, end):
        keep = end > first
        runs.append((cols[keep], site[keep], first[keep], end[keep]))

    remaining = econ.count.astype(float) if remaining is None else np.asarray(remaining, float)
    # origin alternatives: sell at tau (each sell month), keep
    sell_value = c[sells][None, :] * resale[:, None] * f[sells][None, :] - store_before[sells][None, :]  # (G, nS)
    keep_value = terminal - store_before[H]
    alternatives = []
    if len(sells):
        alternatives.append(sell_value.max(axis=1))
    if pol.allow_idle:
        alternatives.append(keep_value)
    best_alt = np.maximum.reduce(alternatives) if (alternatives and prune) else None

    # ---- SHIP from the origin: (g, s, tau, tau')
    site_ok = allowed_sites(scn)
    sites_on = np.nonzero(site_ok)[0]
    ship_os = econ.upfront_usd  # (G, S) freight + duty, undiscounted
    if len(dispatch) and len(sites_on) and G:
        gi = np.arange(G)[:, None]
        si = sites_on[None, :]
        w = weighted_margin(scn, econ, outlook, gi, si)  # (G, S', H)
        lead = econ.lead_days[econ.group_origin][:, sites_on]  # (G, S')
        A = np.maximum(D * dispatch[None, None, :] + lead[:, :, None], D * online[sites_on][None, :, None])  # (G,S',nD)
        a = availability(A, H)  # (G, S', nD, H)
        P = np.concatenate([np.zeros(a.shape[:-1] + (1,)), np.cumsum(a * w[:, :, None, :], axis=-1)], axis=-1)
        first = first_running(A, H)  # (G, S', nD)
        ends = np.concatenate([sells, [H]])
        for i, tau in enumerate(dispatch):
            untils = ends[ends > tau]
            ops = P[:, :, i, :][:, :, untils]  # (G, S', nU)
            cost = c[tau] * ship_os[:, sites_on] + penalty[:, sites_on] + store_before[tau]  # (G, S')
            G3, S3, U3 = np.broadcast_arrays(np.arange(G)[:, None, None], sites_on[None, :, None], untils[None, None, :])
            sale = end_value(G3, U3)
            value = ops - cost[:, :, None] + sale
            ok = np.ones(value.shape, bool)
            if best_alt is not None:
                ok &= value > best_alt[:, None, None]
            ok &= remaining[:, None, None] > 0
            gg, ss, uu = G3[ok], S3[ok], U3[ok]
            cols = add(SHIP, gg, np.full(len(gg), -1), ss, np.full(len(gg), -1), np.full(len(gg), tau), uu, value[ok],
                       sale[ok], ship_os[gg, ss])
            fr = first[:, :, i][np.broadcast_to(np.arange(G)[:, None, None], ok.shape)[ok],
                                np.broadcast_to(np.arange(len(sites_on))[None, :, None], ok.shape)[ok]]
            add_runs(cols, ss, fr, uu)
    # ---- SELL at the origin, KEEP
    if len(sells):
        gg, ti = np.nonzero(np.broadcast_to(remaining[:, None] > 0, (G, len(sells))))
        add(SELL, gg, -np.ones(len(gg), int), -np.ones(len(gg), int), -np.ones(len(gg), int), sells[ti],
            -np.ones(len(gg), int), sell_value[gg, ti], sell_value[gg, ti] + store_before[sells[ti]], np.zeros(len(gg)))
    if pol.allow_idle:
        gg = np.nonzero(remaining > 0)[0]
        add(KEEP, gg, -np.ones(len(gg), int), -np.ones(len(gg), int), -np.ones(len(gg), int), -np.ones(len(gg), int),
            -np.ones(len(gg), int), keep_value[gg], terminal[gg], np.zeros(len(gg)))
    # ---- standing rigs: STAY, MOVE
    if standing:
        ship_ss, lead_ss = site_freight(scn)
        juris = scn.sites["jurisdiction"].to_numpy()
        duty = economics.duty_share(scn)[econ.group_model]  # (G, S): by the rig's made_in where duty.csv says
        ends_all = np.concatenate([sells, [H]])
        for u, h in enumerate(standing):
            g, s = h.g, h.site
            w_here = weighted_margin(scn, econ, outlook, np.array([g]), np.array([s]))[0]  # (H,)
            a_here = availability(np.array(h.arrival_days), H)
            P_here = np.concatenate([[0.0], np.cumsum(a_here * w_here)])
            first_here = max(int(first_running(np.array(h.arrival_days), H)), t0)
            untils = ends_all[ends_all >= t0]
            sale = end_value(np.full(len(untils), g), untils)
            cols = add(STAY, np.full(len(untils), g), np.full(len(untils), u), np.full(len(untils), s),
                       np.full(len(untils), -1), np.full(len(untils), -1), untils,
                       P_here[untils] - P_here[t0] + sale, sale, np.zeros(len(untils)))
            add_runs(cols, np.full(len(untils), s), np.full(len(untils), first_here), untils)
            targets = sites_on[sites_on != s]
            if not len(targets) or not len(dispatch) or (movable is not None and not movable[u]):
                continue
            w_to = weighted_margin(scn, econ, outlook, np.full(len(targets), g), targets)  # (T, H)
            Am = np.maximum(D * dispatch[None, :] + lead_ss[s, targets][:, None], D * online[targets][:, None])  # (T,nD)
            a_to = availability(Am, H)
            P_to = np.concatenate([np.zeros(a_to.shape[:-1] + (1,)), np.cumsum(a_to * w_to[:, None, :], axis=-1)], axis=-1)
            first_to = first_running(Am, H)
            move_up = ship_ss[s, targets] + np.where(juris[targets] != juris[s], duty[g, targets] * resale[g], 0.0)
            for i, tau in enumerate(dispatch):
                uu = ends_all[ends_all > tau]
                T2, U2 = np.broadcast_arrays(np.arange(len(targets))[:, None], uu[None, :])
                T2, U2 = T2.ravel(), U2.ravel()
                sale2 = end_value(np.full(len(U2), g), U2)
                value = (P_here[tau] - P_here[t0] + P_to[T2, i, U2] - c[tau] * move_up[T2] - penalty[g, targets[T2]]
                         + sale2)
                ok = np.isfinite(value)
                T2, U2 = T2[ok], U2[ok]
                k = len(T2)
                cols = add(MOVE, np.full(k, g), np.full(k, u), targets[T2], np.full(k, s), np.full(k, tau), U2, value[ok],
                           sale2[ok], move_up[T2])
                add_runs(cols, np.full(k, s), np.full(k, first_here), np.full(k, tau))
                add_runs(cols, targets[T2], first_to[T2, i], U2)
    if not parts:
        e = np.zeros(0, int)
        return Columns(e, e, e, e, e, e, e, np.zeros(0), np.zeros(0), np.zeros(0), e, e, e, e, standing)
    cat = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    ints = ("kind", "g", "unit", "site", "from_site", "tau", "until")
    for key in ints:
        cat[key] = cat[key].astype(np.int64)
    run = [np.concatenate([r[i] for r in runs]).astype(np.int64) if runs else np.zeros(0, np.int64) for i in range(4)]
    return Columns(**cat, run_col=run[0], run_site=run[1], run_from=run[2], run_to=run[3], standing=standing)
