"""The monthly plan (SPEC section 8) in words: what to ship when, what to hold, what to sell.

Read from a Result's ``schedule`` (schedule.csv: action, origin, model, site, month, until_month, rigs,
mw, value_usd). A *wave* is every decision of one kind in one month: the ships of month 3 (to any
site), the sales at the origins of month 8, the sales at the sites of month 12, the moves of month 5.
"Hold" is what waits: rigs still at their origin after the first month of the plan (shipped or sold in
a later wave) and rigs kept at their origin to the horizon.

``waves(schedule)``: one row per wave (month, kind, rigs, sites, top_sites), by month then kind;
``action_text(schedule, whole)``: one sentence for the decision card;
``wave_lines(schedule, whole, limit)``: the waves as short lines ("Month 3: ship 2,400 rigs to 2 sites
(TX Panhandle hosted 1,600, ...)").
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.results import fmt

KIND_ORDER = ("ship", "move", "sell_at_site", "sell")
WAVE_COLUMNS = ["month", "kind", "rigs", "sites", "top_sites"]
TINY_RIGS = 1e-6  # rig counts below this are solver noise, not a decision


def _rows(schedule: pd.DataFrame) -> pd.DataFrame:
    if schedule is None or not len(schedule):
        return pd.DataFrame(columns=list(schedule.columns) if schedule is not None else [])
    return schedule[schedule["rigs"].astype(float) > TINY_RIGS]


def waves(schedule: pd.DataFrame) -> pd.DataFrame:
    """One row per (month, kind) of ship, move, sell_at_site and sell rows: rigs (sum), sites (distinct
    sites; 0 for sales at the origin) and top_sites (up to three (site, rigs) pairs, most rigs first).
    Sorted by month, then ship, move, sell_at_site, sell."""
    rows = _rows(schedule)
    rows = rows[rows["action"].isin(KIND_ORDER)] if len(rows) else rows
    out = []
    for (month, kind), part in (rows.groupby(["month", "action"], sort=False) if len(rows) else []):
        by_site = (part[part["site"].astype(str) != ""].groupby("site")["rigs"].sum()
                   .sort_values(ascending=False, kind="stable"))
        out.append({"month": int(month), "kind": str(kind), "rigs": float(part["rigs"].sum()),
                    "sites": int(len(by_site)),
                    "top_sites": tuple((str(s), float(r)) for s, r in by_site.head(3).items())})
    frame = pd.DataFrame(out, columns=WAVE_COLUMNS)
    if len(frame):
        frame["_k"] = frame["kind"].map({k: i for i, k in enumerate(KIND_ORDER)})
        frame = frame.sort_values(["month", "_k"], kind="stable").drop(columns="_k").reset_index(drop=True)
    return frame


def _count(v: float, whole: bool) -> str:
    return fmt.rigs(v) if whole else f"{v:,.1f}"


def held(schedule: pd.DataFrame) -> tuple[float, float]:
    """(rigs waiting at their origin past the plan's first month and then shipped or sold, rigs kept at
    their origin to the horizon)."""
    rows = _rows(schedule)
    if not len(rows):
        return 0.0, 0.0
    leave = rows[rows["action"].isin(("ship", "sell"))]
    first = int(np.nanmin(rows["month"].to_numpy(float))) if rows["month"].notna().any() else 0
    later = float(leave.loc[leave["month"].astype(float) > first, "rigs"].sum())
    kept = float(rows.loc[rows["action"] == "keep", "rigs"].sum())
    return later, kept


def wave_lines(schedule: pd.DataFrame, whole: bool = True, limit: int | None = None) -> list[str]:
    """The waves in words, one line each, in month order; past ``limit`` lines, one line saying how many more."""
    lines = []
    for w in waves(schedule).itertuples():
        rigs = _count(w.rigs, whole)
        if w.kind == "sell":
            text = f"sell {rigs} rigs at their origins"
        else:
            where = ", ".join(f"{s} {_count(r, whole)}" for s, r in w.top_sites)
            more = w.sites - len(w.top_sites)
            where += f" and {more} more" if more > 0 else ""
            verb = {"ship": "ship", "move": "move", "sell_at_site": "sell"}[w.kind]
            place = "at" if w.kind == "sell_at_site" else "to"
            text = f"{verb} {rigs} rigs {place} {w.sites} site{'s' if w.sites != 1 else ''} ({where})"
        lines.append(f"Month {w.month}: {text}")
    _, kept = held(schedule)
    if kept > TINY_RIGS:
        lines.append(f"Keep {_count(kept, whole)} rigs at their origins to the end of the horizon")
    if limit is not None and len(lines) > limit:
        rest = len(lines) - (limit - 1)
        lines = lines[: limit - 1] + [f"... and {rest} more (the Schedule tab lists every wave)"]
    return lines


def _when(part: pd.DataFrame, whole: bool, unit: str = "") -> str:
    """"8,122 in month 0", "30,878 in month 2 and 8,122 in month 9", or "39,000 over 5 months (months 2 to 9)";
    ``unit`` (" rigs") follows the first count."""
    by_month = part.groupby(part["month"].astype(int))["rigs"].sum()
    if len(by_month) <= 3:
        return " and ".join(f"{_count(float(r), whole)}{unit if i == 0 else ''} in month {m}"
                            for i, (m, r) in enumerate(by_month.items()))
    m = by_month.index.tolist()
    return f"{_count(float(by_month.sum()), whole)}{unit} over {len(m)} months (months {m[0]} to {m[-1]})"


def action_text(schedule: pd.DataFrame, whole: bool = True) -> str:
    """One sentence: "Ship 8,122 rigs in month 0; hold 30,878 at their origins for now; sell 30,878 in month 2 and
    8,122 in month 9 (8,122 of them at their sites); keep 500 at their origins to the end."."""
    rows = _rows(schedule)
    if not len(rows):
        return "Nothing to do: the fleet has no rigs."
    parts = []
    ships = rows[rows["action"] == "ship"]
    if len(ships):
        parts.append(f"ship {_when(ships, whole, ' rigs')}")
    moves = rows[rows["action"] == "move"]
    if len(moves):
        parts.append(f"move {_when(moves, whole)} to other sites")
    later, kept = held(schedule)
    if later > TINY_RIGS:
        parts.append(f"hold {_count(later, whole)} at their origins for now")
    sales = rows[rows["action"].isin(("sell", "sell_at_site"))]
    if len(sales):
        at_sites = float(sales.loc[sales["action"] == "sell_at_site", "rigs"].sum())
        text = f"sell {_when(sales, whole)}"
        if at_sites > TINY_RIGS:
            text += (" at their sites" if at_sites >= float(sales["rigs"].sum()) - TINY_RIGS
                     else f" ({_count(at_sites, whole)} of them at their sites)")
        parts.append(text)
    if kept > TINY_RIGS:
        parts.append(f"keep {_count(kept, whole)} at their origins to the end")
    if not parts:
        return "Nothing new to do: the rigs already at sites stay."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def headline_figures(scn, res) -> dict[str, float]:
    """The headline figures of a monthly plan's Result that its summary.json does not carry (SPEC section 8
    writes none of them), with one definition for the app's decision card and the report:

    - ``expected_value_usd``: the optimum plus section 2's caution charge of every new placement (ship and move
      rows: rigs x penalty_usd[batch, site]), so that, as for the static plan, the expected value is before the
      caution charge (each month weighted by S_t; fixed costs paid); ``risk_charge_usd`` that charge;
      ``value_vs_sell_all_usd`` the expected value less selling everything now;
    - ``sites_used`` (sites with a ship, move or stay row above TINY_RIGS), ``hashrate_relocated_ths`` and
      ``mw_relocated`` (allocation.csv's relocate rows, summed over months). USD, TH/s, MW.
    """
    from optimizer.economics import compute

    econ = compute(scn)
    origins = np.asarray(econ.origins, dtype=object)[econ.group_origin]
    models = np.asarray(econ.models, dtype=object)[econ.group_model]
    g_of = {(o, m): g for g, (o, m) in enumerate(zip(origins, models))}
    s_of = {site: i for i, site in enumerate(econ.sites)}
    placed = res.schedule[res.schedule["action"].isin(("ship", "move"))]
    charge = float(sum(r * econ.penalty_usd[g_of[(o, m)], s_of[site]]
                       for o, m, site, r in zip(placed["origin"], placed["model"], placed["site"], placed["rigs"])))
    ev = float(res.summary["objective_usd"]) + charge
    running = res.schedule[res.schedule["action"].isin(("ship", "move", "stay")) & (res.schedule["rigs"] > TINY_RIGS)]
    moved = res.allocation[res.allocation["action"] == "relocate"] if len(res.allocation) else res.allocation
    return {"expected_value_usd": ev, "risk_charge_usd": charge,
            "value_vs_sell_all_usd": ev - float(res.summary["sell_all_usd"]),
            "sites_used": int(running["site"].nunique()),
            "hashrate_relocated_ths": float(moved["hashrate_ths"].sum()) if len(moved) else 0.0,
            "mw_relocated": float(moved["mw"].sum()) if len(moved) else 0.0}


def shipped_by_site_month(schedule: pd.DataFrame) -> pd.DataFrame:
    """Rigs dispatched (ship and move rows of schedule.csv) per site (rows, most rigs first) and dispatch month
    (columns "month N"), with a "total" column. Shape: (sites dispatched to) x (1 + months with a dispatch + 1)."""
    part = _rows(schedule)
    part = part[part["action"].isin(("ship", "move"))] if len(part) else part
    if not len(part):
        return pd.DataFrame(columns=["site", "total"])
    table = part.pivot_table(index="site", columns="month", values="rigs", aggfunc="sum", fill_value=0.0)
    table.columns = [f"month {int(c)}" for c in table.columns]
    table["total"] = table.sum(axis=1)
    return table.sort_values("total", ascending=False, kind="stable").reset_index()


SALES_COLUMNS = ["month", "sold_at_origin_rigs", "sold_at_site_rigs", "sales_value_usd"]


def sales_by_month(schedule: pd.DataFrame) -> pd.DataFrame:
    """Per sale month (SALES_COLUMNS): rigs sold at their origin, rigs sold at a site, and what those sales fetch
    (USD, discounted: schedule.csv's value_usd of the sale rows)."""
    part = _rows(schedule)
    part = part[part["action"].isin(("sell", "sell_at_site"))] if len(part) else part
    if not len(part):
        return pd.DataFrame(columns=SALES_COLUMNS)
    part = part.assign(month=part["month"].astype(int),
                       origin=np.where(part["action"] == "sell", part["rigs"].astype(float), 0.0),
                       at_site=np.where(part["action"] == "sell_at_site", part["rigs"].astype(float), 0.0))
    g = part.groupby("month").agg(origin=("origin", "sum"), at_site=("at_site", "sum"), value=("value_usd", "sum"))
    out = g.reset_index()
    out.columns = SALES_COLUMNS
    return out
