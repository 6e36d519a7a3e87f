"""Turn a raw solution into the plain tables users see, and write them out.

``assemble`` reads the plan off the solution: allocation, sites and jurisdictions tables and the
plan's own figures. What is derived from the plan afterwards (shadow prices by label, entry power
prices, payback, the risk charge) is the next stage's, ``optimizer.analysis.analyse``, which fills
the columns and summary keys left empty here.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.inputs import tables as T
from optimizer.economics import Economics
from optimizer.model import LinearModel, allowed_sites
from optimizer.inputs.scenario import Scenario
from optimizer.solver.raw import RawSolution
ZERO = 1e-6  # rigs below this are solver noise, not a decision
ALLOCATION_COLUMNS = ["action", "origin", "model", "site", "jurisdiction", "rigs", "mw", "hashrate_ths", "value_usd"]
SITES_COLUMNS = ["site", "jurisdiction", "capacity_mw", "mw_used", "utilization", "opened", "shadow_usd_per_mw",
                 "entry_power_usd_kwh", "rigs", "hashrate_ths", "excluded"]
JURIS_COLUMNS = ["jurisdiction", "sites", "capacity_mw", "mw_used", "rigs", "hashrate_ths", "share_of_fleet_hashrate",
                 "cap_ths", "shadow_usd_per_ths", "excluded"]


def write_files(out_dir: str | Path, files: dict[str, str]) -> Path:
    """Write {file name: text} into ``out_dir`` (created if missing), UTF-8, whole or not at all
    (``outdir.write_folder``: a full disk or a kill midway leaves the previous folder); returns the folder."""
    from optimizer.results.outdir import write_folder

    return write_folder(out_dir, files)


@dataclass
class Result:
    """A solved plan: plain DataFrames and a summary dict; picklable, no solver objects."""

    summary: dict[str, Any]
    allocation: pd.DataFrame
    sites: pd.DataFrame
    jurisdictions: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    schedule: pd.DataFrame | None = None  # SPEC section 8 (monthly plan): schedule.csv
    monthly: pd.DataFrame | None = None  # SPEC section 8: monthly.csv

    def write(self, out_dir: str | Path) -> Path:
        """allocation.csv, sites.csv, jurisdictions.csv and summary.json, as the CLI writes them."""
        return write_files(out_dir, self.files())

    def files(self) -> dict[str, str]:
        out = {
            "allocation.csv": T.to_csv_text(self.allocation, ["action", "origin", "model", "site", "jurisdiction"]),
            "sites.csv": T.to_csv_text(self.sites, ["site", "jurisdiction"]),
            "jurisdictions.csv": T.to_csv_text(self.jurisdictions, ["jurisdiction"]),
            "summary.json": json.dumps(_jsonable(self.summary), indent=2) + "\n",
        }
        if self.schedule is not None:
            out["schedule.csv"] = T.to_csv_text(self.schedule, ["action", "origin", "model", "site"])
        if self.monthly is not None:
            out["monthly.csv"] = T.to_csv_text(self.monthly, ["site", "jurisdiction"])
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _clean(values: np.ndarray, integer: bool) -> np.ndarray:
    v = np.where(np.abs(values) < ZERO, 0.0, values)
    return np.round(v) if integer else v


@dataclass
class PlanArrays:
    """The plan as arrays, for the analysis stage: no re-reading of the tables.

    xv: (n_x,) rigs per relocation column (model.x_group, model.x_site); sold, idle: (G,) rigs;
    mw_used, rigs_at, ths_at: (S,) MW, rigs and TH/s placed at each site; upfront_usd: freight, duty
    and fixed costs paid.
    """

    xv: np.ndarray
    sold: np.ndarray
    idle: np.ndarray
    mw_used: np.ndarray
    rigs_at: np.ndarray
    ths_at: np.ndarray
    upfront_usd: float


def assemble(scn: Scenario, econ: Economics, model: LinearModel, raw: RawSolution) -> tuple[Result, PlanArrays]:
    """The plan's tables and figures from a solution; analysis columns (shadow and entry prices) and keys
    (expected value, payback, ...) are left NaN/None for ``optimizer.analysis.analyse`` to fill."""
    pol = scn.settings.policy
    sites = scn.sites
    S, G = len(sites), econ.n_groups
    integer = pol.integer_rigs
    xv = _clean(raw.x[: model.n_x], integer)
    gi, si = model.x_group, model.x_site
    origins = np.array(econ.origins, dtype=object)[econ.group_origin]
    models = np.array(econ.models, dtype=object)[econ.group_model]
    juris = sites["jurisdiction"].to_numpy()
    site_names = sites["site"].to_numpy()
    mw_rig = econ.mw_per_rig[gi, si]
    used = np.nonzero(xv > 0)[0]
    # relocations sorted by site, origin, model (sell and idle follow in fleet order)
    used = used[np.lexsort((models[gi[used]].astype(str), origins[gi[used]].astype(str), site_names[si[used]].astype(str)))]
    reloc = pd.DataFrame({
        "action": "relocate", "origin": origins[gi[used]], "model": models[gi[used]],
        "site": site_names[si[used]], "jurisdiction": juris[si[used]], "rigs": xv[used],
        "mw": xv[used] * mw_rig[used], "hashrate_ths": xv[used] * econ.hashrate_ths[gi[used]],
        "value_usd": xv[used] * econ.value_usd[gi[used], si[used]],
    })
    frames = [reloc]
    sold = np.zeros(G)
    idle = np.zeros(G)
    for action, cols, per_rig in (("sell", model.sell_col, econ.resale_usd), ("idle", model.idle_col, econ.terminal_usd)):
        if cols is None:
            continue
        v = _clean(raw.x[cols], integer)
        if action == "sell":
            sold = v
        else:
            idle = v
        k = v > 0
        frames.append(pd.DataFrame({
            "action": action, "origin": origins[k], "model": models[k], "site": "", "jurisdiction": "",
            "rigs": v[k], "mw": 0.0, "hashrate_ths": v[k] * econ.hashrate_ths[k], "value_usd": v[k] * per_rig[k],
        }))
    allocation = pd.concat(frames, ignore_index=True)[ALLOCATION_COLUMNS]

    mw_used = np.bincount(si[used], weights=xv[used] * mw_rig[used], minlength=S)
    rigs_at = np.bincount(si[used], weights=xv[used], minlength=S)
    ths_at = np.bincount(si[used], weights=xv[used] * econ.hashrate_ths[gi[used]], minlength=S)
    cap = sites["capacity_mw"].to_numpy(float)
    if model.y_col is not None:
        opened = (np.round(raw.x[model.y_col]) > 0).astype(int)
    else:
        opened = (mw_used > 0).astype(int)
    shadow = np.full(S, np.nan)
    entry = np.full(S, np.nan)
    site_table = pd.DataFrame({
        "site": site_names, "jurisdiction": juris, "capacity_mw": cap, "mw_used": mw_used,
        "utilization": np.divide(mw_used, cap, out=np.zeros(S), where=cap > 0), "opened": opened,
        "shadow_usd_per_mw": shadow, "entry_power_usd_kwh": entry, "rigs": rigs_at, "hashrate_ths": ths_at,
        "excluded": ~allowed_sites(scn),
    })[SITES_COLUMNS]

    total_ths = float((econ.hashrate_ths * econ.count).sum())
    share = pol.max_jurisdiction_share
    names, j_of_site = np.unique(juris.astype(str), return_inverse=True)
    per_j = lambda w: np.bincount(j_of_site, weights=w, minlength=len(names))  # noqa: E731
    jt = pd.DataFrame({"jurisdiction": names, "sites": np.bincount(j_of_site, minlength=len(names)),
                       "capacity_mw": per_j(cap), "mw_used": per_j(mw_used), "rigs": per_j(rigs_at),
                       "hashrate_ths": per_j(ths_at)})
    jt["share_of_fleet_hashrate"] = jt["hashrate_ths"] / total_ths if total_ths > 0 else 0.0
    jt["cap_ths"] = share * total_ths if share < 1 else np.nan
    jt["shadow_usd_per_ths"] = np.nan
    jt["excluded"] = jt["jurisdiction"].isin(set(pol.exclude_jurisdictions))
    jt = jt[JURIS_COLUMNS]

    fixed = sites["fixed_cost_usd"].to_numpy(float)
    fixed_paid = float((fixed * opened).sum()) if model.y_col is not None else 0.0
    upfront = float((xv * econ.upfront_usd[gi, si]).sum()) + fixed_paid
    reloc_ths = float(ths_at.sum())
    sell_all = float((econ.resale_usd * econ.count).sum())
    price = sites["power_usd_kwh"].to_numpy(float) * pol.power_price_multiplier
    summary: dict[str, Any] = {
        "status": raw.status,
        "mode": model.mode,
        "objective_usd": raw.objective,
        "rigs_relocated": float(xv.sum()),
        "rigs_sold": float(sold.sum()),
        "rigs_idle": float(idle.sum()),
        "hashprice_usd_th_day": econ.hp0,
        "solver": raw.solver,
        "solve_seconds": raw.seconds,
        "backend": raw.backend,
        "mip_gap": raw.mip_gap,
        "best_bound_usd": raw.best_bound,
        "n_variables": model.n_cols,
        "n_constraints": model.n_rows,
        "rigs_total": float(econ.count.sum()),
        "fleet_hashrate_ths": total_ths,
        "hashrate_relocated_ths": reloc_ths,
        "mw_relocated": float(mw_used.sum()),
        "sites_used": int((mw_used > 0).sum()),
        "upfront_usd": upfront,
        "fixed_costs_usd": fixed_paid,
        "sell_all_usd": sell_all,
        "avg_power_usd_kwh": float((price * mw_used).sum() / mw_used.sum()) if mw_used.sum() > 0 else None,
        "expected_share_hashrate_banned": None,
        "prob_any_ban": None,
        "expected_value_usd": None,
        "risk_charge_usd": None,
        "value_vs_sell_all_usd": None,
        "objective_vs_sell_all_usd": raw.objective - sell_all,
        "cash_payback_months": None,
        "payback_vs_selling_months": None,
        "resale_forgone_usd": None,
        "budget_shadow_usd_per_usd": None,
        "horizon_months": scn.settings.horizon.months,
    }
    if getattr(model, "concentration_cols", None) is not None:  # the concentration charge (off: the key is absent)
        cols = model.concentration_cols
        summary["concentration_charge_usd"] = float(-(model.cost[cols] @ raw.x[cols]))
    return Result(summary, allocation, site_table, jt), PlanArrays(xv, sold, idle, mw_used, rigs_at, ths_at, upfront)
