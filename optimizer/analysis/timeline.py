"""When a plan happens: the batches of moved rigs and the plan's cash month by month.

Each batch of moved rigs (origin -> site) ships at the start and starts hashing after its
door-to-door lead time (``economics.freight``: quoted lanes, else the distance formula). Every
per-rig term is read from ``economics.compute`` (upfront, penalty, terminal value) and the
month-by-month margin from ``Economics.path`` (``economics.margin_path``); nothing here solves.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer import economics as E
from optimizer.economics import Economics
from optimizer.inputs.availability import uptime_by_month
from optimizer.inputs.scenario import Scenario
from optimizer.results import Result

ZERO_RIGS = 1e-6  # rigs: allocation rows below this are rounding, not a batch

BATCH_COLUMNS = ["origin", "site", "jurisdiction", "rigs", "hashrate_ths", "lead_days", "ship_day", "hashing_day",
                 "distance_km", "freight"]


def relocations(econ: Economics, res: Result) -> pd.DataFrame:
    """The plan's relocate rows with more than ZERO_RIGS rigs, with ``gi`` (the economics' group index,
    -1 for an (origin, model) with no fleet) and ``si`` (site index) added; other columns as ``res.allocation``."""
    alloc = res.allocation
    reloc = alloc[(alloc["action"] == "relocate") & (alloc["rigs"] > ZERO_RIGS)].copy()
    group = {(econ.origins[o], econ.models[m]): g for g, (o, m) in enumerate(zip(econ.group_origin, econ.group_model))}
    reloc["gi"] = np.array([group.get((o, m), -1) for o, m in zip(reloc["origin"], reloc["model"])], dtype=np.int64)
    reloc["si"] = pd.Index(econ.sites).get_indexer(reloc["site"]).astype(np.int64)
    return reloc


def batches(scn: Scenario, res: Result) -> pd.DataFrame:
    """One row per (origin, site) of moved rigs, soonest hashing first.

    Columns: origin, site, jurisdiction, rigs, hashrate_ths (TH/s, the batch's total), lead_days,
    ship_day (0: the plan's start), hashing_day (= lead_days), distance_km, freight ("quoted" for a
    lanes.csv quote, else "estimated from distance"). Empty (these columns) when nothing moves.
    """
    alloc = res.allocation
    reloc = alloc[(alloc["action"] == "relocate") & (alloc["rigs"] > ZERO_RIGS)]
    if reloc.empty:
        return pd.DataFrame(columns=BATCH_COLUMNS)
    dist, _, lead = E.freight(scn)
    quoted = set(zip(scn.lanes["origin"], scn.lanes["site"])) if len(scn.lanes) else set()
    g = reloc.groupby(["origin", "site", "jurisdiction"], as_index=False).agg(rigs=("rigs", "sum"),
                                                                               hashrate_ths=("hashrate_ths", "sum"))
    o_idx = pd.Index(scn.origins["origin"]).get_indexer(g["origin"])
    s_idx = pd.Index(scn.sites["site"]).get_indexer(g["site"])
    g["lead_days"] = lead[o_idx, s_idx]
    g["ship_day"] = 0.0
    g["hashing_day"] = g["lead_days"]
    g["distance_km"] = dist[o_idx, s_idx]
    g["freight"] = ["quoted" if (o, s) in quoted else "estimated from distance" for o, s in zip(g["origin"], g["site"])]
    return g[BATCH_COLUMNS].sort_values(["hashing_day", "rigs"], ascending=[True, False]).reset_index(drop=True)


def monthly(scn: Scenario, res: Result, econ: Economics | None = None) -> pd.DataFrame:
    """Month by month, H rows: the hashrate online and the plan's cumulative cash against selling now.

    Columns: month (1..H); hashrate_online_ehs (EH/s, expected: after arrival, times uptime, times
    the chance mining is still allowed); margin_usd (the moved rigs' discounted, expected margin
    that month); plan_cum_usd (cumulative, discounted to today); sell_now_usd (summary's
    sell_all_usd); start_usd (month 0: sales less upfront freight, duty and site opening costs);
    risk_charge_usd (the ban-risk charge the plan value subtracts, which is not a cash flow).

    The plan's cash: at month 0 the sale of the rigs it sells less the moved rigs' upfront
    (``Economics.upfront_usd``) and the fixed site costs; each month the moved rigs' margin; in
    the last month the resale value left in moved (``Economics.terminal_usd``) and stored rigs.
    It ends at the plan value plus the risk charge (``Economics.penalty_usd`` per moved rig).
    ``econ``: ``economics.compute(scn)`` when the caller has it.
    """
    econ = econ if econ is not None else E.compute(scn)
    H = scn.settings.horizon.months
    reloc = relocations(econ, res)
    reloc = reloc[(reloc["gi"] >= 0) & (reloc["si"] >= 0)]
    online_ths = np.zeros(H)
    margin = np.zeros(H)
    upfront = terminal = risk_charge = 0.0
    if len(reloc):
        gi, si = reloc["gi"].to_numpy(), reloc["si"].to_numpy()
        n = reloc["rigs"].to_numpy(float)
        path = econ.path(scn, gi, si)
        margin = (path.weights() * path.margin() * n[:, None]).sum(axis=0)  # discounted, expected, USD
        uptime = scn.sites["uptime"].to_numpy(float)[si]
        seasonal = uptime_by_month(scn.sites, getattr(scn, "availability", None), H)  # availability.csv, if any
        if seasonal is None:
            online_ths = ((n * econ.hashrate_ths[gi] * uptime)[:, None] * path.availability * path.survival).sum(axis=0)
        else:
            online_ths = ((n * econ.hashrate_ths[gi])[:, None] * seasonal[si] * path.availability
                          * path.survival).sum(axis=0)
        upfront = float((n * econ.upfront_usd[gi, si]).sum())
        terminal = float((n * econ.terminal_usd[gi]).sum())
        risk_charge = float((n * econ.penalty_usd[gi, si]).sum())
    alloc = res.allocation
    sold = float(alloc.loc[alloc["action"] == "sell", "value_usd"].sum())
    stored = float(alloc.loc[alloc["action"] == "idle", "value_usd"].sum())
    fixed = float(res.summary.get("fixed_costs_usd") or 0.0)
    start = sold - upfront - fixed
    cum = start + np.cumsum(margin)
    cum[-1] += terminal + stored
    return pd.DataFrame({
        "month": np.arange(1, H + 1),
        "hashrate_online_ehs": online_ths / 1e6,
        "margin_usd": margin,
        "plan_cum_usd": cum,
        "sell_now_usd": np.full(H, float(res.summary["sell_all_usd"])),
        "start_usd": np.full(H, start),
        "risk_charge_usd": np.full(H, risk_charge),
    })
