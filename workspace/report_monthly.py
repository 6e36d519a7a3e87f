"""The report's month-by-month sections (issue 24): the monthly plan's decision in words, its schedule and its
value against selling; and the replay comparison (selling now, the static plan, the monthly plan unchanged,
re-planning, perfect foresight) over the scenario's history and over sampled futures.

``monthly_sections(scn, res)``: for a monthly plan (``res.summary["plan"] == "monthly"``, SPEC section 8), a dict
with ``action`` (one sentence: what to ship when, hold, sell), ``waves`` (one line per wave), ``value`` (its value
against selling everything, a sentence), ``why`` (sites whose capacity binds, from the monthly capacity prices;
empty for a whole-rig plan) and the tables ``shipped`` (rigs dispatched per site and month), ``running`` (MW running
per site and month against capacity) and ``sales`` (rigs sold per month at the origins and at the sites, and what
the sales fetch); None for a static plan.

``replay_section(summary, n_futures, where)``: replay.json's figures (``optimizer.risk.replay``) as a report table
(USD; one "realised" column for one future, mean/P5/P50/P95/worst-share average for several) and a reading.

``read_replay(folder)``: the (summary, n_futures) of a replay output folder (replay.json), or a ``ValueError``
naming the file.

All money is rounded for the page (``fmt.usd``) and kept exact in the workbook; user text (site names) is data:
the template escapes it and the workbook stores it as text.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from optimizer.results import fmt
from optimizer.risk import waves as W

REPLAY_WAYS = (  # replay.json key, the row's label
    ("sell_all", "Sell everything now"),
    ("static", "One decision now (the static plan)"),
    ("unchanged", "Month-by-month plan, carried out unchanged"),
    ("policy", "Re-planning"),  # completed with its interval
    ("foresight", "Perfect foresight (an upper bound, not a plan)"),
)
REPLAY_GAINS = (
    ("value_of_replanning", "What re-planning adds (re-planning less the plan unchanged)"),
    ("value_of_perfect_information", "What knowing the future would add (foresight less re-planning)"),
)
WHY_SHOWN = 5


def is_monthly(res: Any) -> bool:
    return res.summary.get("plan") == "monthly" and getattr(res, "schedule", None) is not None


def _whole(res: Any) -> bool:
    return res.summary.get("mode") == "mip"


def sales_by_month(schedule: pd.DataFrame) -> pd.DataFrame:
    """``optimizer.risk.waves.sales_by_month`` with the report's column titles."""
    out = W.sales_by_month(schedule)
    out.columns = ["month", "sold at origin (rigs)", "sold at site (rigs)", "sales fetch (USD)"]
    return out


def running_by_site_month(monthly: pd.DataFrame) -> pd.DataFrame:
    """MW running per used site (rows) and month (columns "month N"), with the site's capacity (monthly.csv)."""
    if monthly is None or not len(monthly):
        return pd.DataFrame(columns=["site", "capacity (MW)"])
    used = monthly.groupby("site")["mw_running"].max()
    used = used[used > 1e-6].index
    part = monthly[monthly["site"].isin(used)]
    if not len(part):
        return pd.DataFrame(columns=["site", "capacity (MW)"])
    table = part.pivot_table(index="site", columns="month", values="mw_running", aggfunc="sum", fill_value=0.0)
    table.columns = [f"month {int(c)}" for c in table.columns]
    cap = part.groupby("site")["capacity_mw"].first()
    table.insert(0, "capacity (MW)", cap.reindex(table.index))
    return table.reset_index()


def running_spans(monthly: pd.DataFrame) -> pd.DataFrame:
    """Per used site: its capacity, the most MW running in any month, and the first and last month running
    (the page's short form of ``running_by_site_month``; the workbook keeps every month)."""
    cols = ["site", "capacity (MW)", "most MW running", "first month running", "last month running"]
    if monthly is None or not len(monthly):
        return pd.DataFrame(columns=cols)
    on = monthly[monthly["mw_running"] > 1e-6]
    if not len(on):
        return pd.DataFrame(columns=cols)
    g = on.groupby("site").agg(cap=("capacity_mw", "first"), peak=("mw_running", "max"), first=("month", "min"),
                               last=("month", "max"))
    out = g.sort_values(["peak", "first"], ascending=[False, True], kind="stable").reset_index()
    out.columns = cols
    return out


def _months(ms: list[int]) -> str:
    """[2, 3, 4, 7] -> "months 2-4 and 7"."""
    runs: list[list[int]] = []
    for m in sorted(ms):
        if runs and m == runs[-1][-1] + 1:
            runs[-1].append(m)
        else:
            runs.append([m])
    parts = [f"{r[0]}-{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs]
    word = "month" if len(ms) == 1 else "months"
    return f"{word} " + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0])


def why_monthly(res: Any, used: set[str] | None = None) -> tuple[list[str], str]:
    """Sites whose capacity binds in some months, by what one more MW in those months would add (the monthly
    plan's capacity prices, monthly.csv's shadow_usd_per_mw summed over the months it binds), and a note.
    ``used``: the sites of the plan explained (default: the sites ``res`` runs rigs at)."""
    m = getattr(res, "monthly", None)
    if m is None or not len(m) or m["shadow_usd_per_mw"].isna().all():
        return [], ("No capacity prices: the plan is in whole rigs, which have none; its schedule above says what "
                    "it does month by month.")
    used = set(m.loc[m["mw_running"] > 1e-6, "site"]) if used is None else used
    binding = m[(m["shadow_usd_per_mw"].fillna(0) > 1e-6) & m["site"].isin(used)]
    lines = []
    if len(binding):
        per = binding.groupby(["site", "jurisdiction"]).agg(value=("shadow_usd_per_mw", "sum"),
                                                            months=("month", lambda s: sorted(int(v) for v in s)))
        per = per.sort_values("value", ascending=False).head(WHY_SHOWN).reset_index()
        for r in per.itertuples():
            lines.append(f"{r.site} ({r.jurisdiction}) is full in {_months(r.months)}: one more MW there in "
                         f"{'that month' if len(r.months) == 1 else 'those months'} would add {fmt.usd(r.value)}.")
    unused = sorted(set(m["site"]) - used)
    if unused:
        shown = ", ".join(unused[:WHY_SHOWN])
        more = len(unused) - WHY_SHOWN
        lines.append(f"Left out in every month: {shown}" + (f" and {more} more" if more > 0 else "")
                     + " (what a rig earns there does not cover freight, duty, ban risk and hosting while the "
                       "sites above have room).")
    return lines, "What one more MW would add, month by month, with every other price held."


def monthly_sections(scn: Any, res: Any) -> dict[str, Any] | None:
    """The monthly plan's report sections (module docstring), or None for a static plan."""
    if not is_monthly(res):
        return None
    s = complete_summary(scn, res)
    whole = _whole(res)
    sched = res.schedule
    ev = s.get("expected_value_usd", s.get("objective_usd"))
    sell = s.get("sell_all_usd")
    value = None
    if ev is not None and sell is not None:
        d = float(ev) - float(sell)
        value = (f"Carried out as scheduled, the plan is expected to bring {fmt.usd(ev)} against {fmt.usd(sell)} "
                 f"for selling the whole fleet now: {fmt.usd(abs(d))} {'more' if d >= 0 else 'less'}"
                 + (f" ({100 * abs(d) / sell:.0f}%)" if sell else "") + ".")
    why, why_note = why_monthly(res)
    if whole:  # a whole-rig plan has no prices: read them from the same plan with rig counts not rounded
        try:
            import optimizer

            twin = optimizer.solve(scn.with_overrides({"policy.integer_rigs": False}))
        except Exception:  # noqa: BLE001 - the section says it cannot explain rather than failing the report
            twin = None
        if twin is not None and is_monthly(twin) and twin.summary.get("mode") == "lp":
            mine = res.monthly
            why, _ = why_monthly(twin, set(mine.loc[mine["mw_running"] > 1e-6, "site"]))
            why_note = ("Prices from the same plan with rig counts not rounded (whole-rig plans have none); its value "
                        f"is {fmt.usd(twin.summary['objective_usd'])} against {fmt.usd(s['objective_usd'])}.")
    later, kept = W.held(sched)
    return {"action": W.action_text(sched, whole), "waves": W.wave_lines(sched, whole), "value": value,
            "held_rigs": later, "kept_rigs": kept, "why": why, "why_note": why_note,
            "shipped": W.shipped_by_site_month(sched), "running": running_by_site_month(getattr(res, "monthly", None)),
            "spans": running_spans(getattr(res, "monthly", None)),
            "sales": sales_by_month(sched), "whole": whole,
            "horizon": s.get("horizon_months", scn.settings.horizon.months)}


def replay_section(summary: Mapping[str, Any], n_futures: int, where: str) -> dict[str, Any]:
    """replay.json's figures as the report shows them: ``title``, ``frame`` (way to act, then USD columns),
    ``kinds`` and ``text`` (a reading). ``where``: "history" or "samples"."""
    every = int(summary.get("replan_every", 1))
    alpha = float(summary.get("risk_alpha", 0.05))
    rows = []
    for key, label in REPLAY_WAYS + REPLAY_GAINS:
        if key == "policy":
            label = f"Re-planning every {every} month{'s' if every != 1 else ''} as prices and bans come"
        rows.append({"way to act": label, **{k: summary[key][k] for k in ("mean_usd", "p5_usd", "p50_usd", "p95_usd",
                                                                           "cvar_usd")}})
    frame = pd.DataFrame(rows)
    if n_futures == 1:
        frame = frame[["way to act", "mean_usd"]].rename(columns={"mean_usd": "realised (USD)"})
    else:
        frame = frame.rename(columns={"mean_usd": "mean (USD)", "p5_usd": "P5 (USD)", "p50_usd": "P50 (USD)",
                                      "p95_usd": "P95 (USD)", "cvar_usd": f"worst {alpha:.0%} average (USD)"})
    kinds = {c: ("text" if c == "way to act" else "usd") for c in frame.columns}
    best = max(("sell_all", "static", "unchanged", "policy"), key=lambda k: summary[k]["mean_usd"])
    best_label = dict(REPLAY_WAYS)[best] if best != "policy" else "re-planning"
    rp, pi = summary["value_of_replanning"]["mean_usd"], summary["value_of_perfect_information"]["mean_usd"]
    on = ("On the scenario's history" if where == "history"
          else f"Averaged over {n_futures:,} sampled future{'s' if n_futures != 1 else ''}")
    text = (f"{on}, re-planning {'adds' if rp >= 0 else 'loses'} {fmt.usd(abs(rp))} against the month-by-month plan "
            f"carried out unchanged, and knowing the future would add {fmt.usd(pi)} more. Best of the ways that "
            f"can be carried out: {best_label[0].lower() + best_label[1:]}. Each figure is what the decisions carried "
            "out would have brought on the prices and bans that came, in today's money (rig counts not rounded).")
    title = ("On the history" if where == "history"
             else f"Over {n_futures:,} sampled future{'s' if n_futures != 1 else ''}")
    return {"title": title, "frame": frame, "kinds": kinds, "text": text, "where": where, "n_futures": n_futures}


def read_replay(folder: str | Path) -> tuple[dict[str, Any], int]:
    """(replay.json's summary, its number of futures) from a replay output folder; ValueError naming the file."""
    path = Path(folder) / "replay.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    need = [k for k, _ in REPLAY_WAYS + REPLAY_GAINS] + ["n_futures"]
    missing = [k for k in need if k not in summary]
    if missing:
        raise ValueError(f"{path} is not a replay summary: no {', '.join(missing)}")
    return summary, int(summary["n_futures"])


# ---------------------------------------------------------------- for build_report

HEADLINE_MONTHLY = {"Rigs sold now": "Rigs sold (in any month, at their origins or sites)",
                    "Rigs stored (sold at the horizon)": "Rigs kept at their origins to the end"}
MONTHLY_SHEETS = ("Shipped by month", "MW by month", "Sales by month")


def replay_sheet(section: Mapping[str, Any]) -> str:
    return "Replay (history)" if section["where"] == "history" else "Replay (sampled futures)"


def _count_kinds(frame: pd.DataFrame, whole: bool, usd: tuple[str, ...] = (), mw: tuple[str, ...] = ()) -> dict[str, str]:
    count = "int" if whole else "num"
    return {c: ("text" if c == "site" else "int" if c == "month" else "usd" if c in usd
                else "mw" if c in mw or "(MW)" in c else count) for c in frame.columns}


def tables(monthly: Mapping[str, Any] | None, replays: list[Mapping[str, Any]] | None) -> dict[str, tuple[pd.DataFrame, dict[str, str]]]:
    """The workbook sheets of these sections: sheet name -> (frame, column kinds of workspace.report.KINDS)."""
    out: dict[str, tuple[pd.DataFrame, dict[str, str]]] = {}
    if monthly is not None:
        whole = monthly["whole"]
        out["Shipped by month"] = (monthly["shipped"], _count_kinds(monthly["shipped"], whole))
        running = monthly["running"]
        out["MW by month"] = (running, {c: ("text" if c == "site" else "mw") for c in running.columns})
        sales = monthly["sales"]
        out["Sales by month"] = (sales, _count_kinds(sales, whole, usd=("sales fetch (USD)",)))
    for r in replays or []:
        out[replay_sheet(r)] = (r["frame"], r["kinds"])
    return out


def cli_replays(scn: Any, history: Path, replay_dir: str | Path | None, warn: Any = None) -> list[dict[str, Any]]:
    """The report's replay sections for ``python -m optimizer report``: the scenario's history replayed (when
    ``history``/market.csv exists; the same numbers as ``replay --history``), then the replay output folder
    ``replay_dir`` (replay.json) when given. A history that cannot be replayed is left out with a line to ``warn``
    (default: stderr); an unreadable ``replay_dir`` raises ValueError naming the file."""
    import sys

    from optimizer.inputs.errors import InfeasibleError, ScenarioError

    warn = warn or (lambda text: print(text, file=sys.stderr))
    out = []
    if (Path(history) / "market.csv").is_file():
        from optimizer.risk import replay as R

        try:
            rep = R.replay(scn, R.futures_from_history(scn, history))
            out.append(replay_section(rep.summary, int(rep.summary["n_futures"]), "history"))
        except (ScenarioError, InfeasibleError) as exc:
            warn(f"report: the replay on the history is left out: {exc}")
    if replay_dir:
        summary, n = read_replay(replay_dir)
        out.append(replay_section(summary, n, "history" if n == 1 and not out else "samples"))
    return out


def complete_summary(scn: Any, res: Any) -> dict[str, Any]:
    """The summary the report reads: a monthly plan's gets the figures its summary.json does not carry
    (``optimizer.risk.waves.headline_figures``, the definitions of the app's decision card). Other plans'
    summaries are returned as they are."""
    s = dict(res.summary)
    if not is_monthly(res) or "expected_value_usd" in s:
        return s
    s.update(W.headline_figures(scn, res))
    return s