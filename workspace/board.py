"""The board's pages of the decision report (issue 24): the decision with its odds and hindsight, and a short
"why these sites and not others" from the shadow and entry prices. Plain words, rounded money, no setting keys.

``board_sections(scn, res, decision, backtest)`` returns what ``workspace.report.build_report(board=...)``
renders (HTML and PDF sections, XLSX sheets). No streamlit here: the app and the CLI call it alike.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

import optimizer
from optimizer.results import fmt
from optimizer.risk.decision import Decision

WHY_SITES_SHOWN = 5  # sites named in each list of the "why" section


def decision_rows(d: Decision) -> list[tuple[str, str, str]]:
    """(figure, value, how it is defined) for the report's decision table, the card's figures."""
    gain = ("+" if d.gain_usd >= 0 else "-") + fmt.usd(abs(d.gain_usd))
    rows = [
        ("What to do", d.action_text(), "Whole rigs." if d.whole_rigs else "A fractional plan: rig counts not rounded."),
        ("Expected value of the whole plan", fmt.usd(d.expected_value_usd),
         "Each month weighted by the chance mining is still allowed there; before the caution charge. Computed, "
         "not sampled."),
        ("Selling the whole fleet today", fmt.usd(d.sell_all_usd), "Every rig at its second-hand price now."),
        ("Expected gain against selling", gain, "The two lines above: what the whole plan (its moves, sales and "
                                                "storage) is expected to add."),
    ]
    r = d.risk
    if r:
        rows += [
            ("Chance of ending below selling", fmt.pct(r["prob_below_sell_all"], 0),
             f"Share of {r['n_samples']:,} sampled futures of bans and hashprice."),
            (f"Worst {r['risk_alpha']:.0%} average", fmt.usd(r["cvar_usd"]),
             f"The plan's mean value over the worst {r['risk_alpha']:.0%} of those futures."),
            ("Mean of the sampled futures", f"{fmt.usd(r['expected_npv_usd'])} ± {fmt.usd(r['expected_npv_se_usd'])}",
             "± one standard error (sd / sqrt(n)). Not the expected value above: it carries sampling error, and in "
             "a sampled future rigs switch off in months when power costs more than they earn."),
        ]
    if d.realised:
        v = d.realised["realised_vs_sell_all_usd"]
        rows.append(("What it realised against selling", ("+" if v >= 0 else "-") + fmt.usd(abs(v)),
                     f"On the hashprice and bans that came: {fmt.usd(d.realised['realised_npv_usd'])}."))
    return rows


def _duals_plan(scn: optimizer.Scenario, res: optimizer.Result) -> tuple[optimizer.Result | None, str]:
    """The plan whose shadow prices explain the choice, and a note: the plan itself when it has duals (a linear
    program), else its fractional twin (same settings, rig counts not rounded) when that is a linear program."""
    if res.summary.get("mode") == "lp":
        return res, ""
    twin_scn = scn.with_overrides({"policy.integer_rigs": False})
    try:
        twin = optimizer.solve(twin_scn)
    except Exception:  # noqa: BLE001 - the section says it cannot explain rather than failing the report
        return None, "No shadow prices: the plan's fractional twin did not solve."
    if twin.summary.get("mode") != "lp":
        return None, ("No shadow prices: sites with opening costs or minimum loads make every version of this plan a "
                      "whole-number choice.")
    return twin, ("Prices from the same plan with rig counts not rounded (whole-rig plans have none); its value is "
                  f"{fmt.usd(twin.summary['objective_usd'])} against {fmt.usd(res.summary['objective_usd'])}.")


def why_sites(scn: optimizer.Scenario, res: optimizer.Result) -> tuple[list[str], str]:
    """A few sentences on why the plan uses its sites and not the others, and a note on where the prices come from.

    Used sites whose capacity binds, by what one more MW would add; unused sites nearest to entering, by how far
    their power price would have to fall (the entry price holds every other shadow price fixed)."""
    plan, note = _duals_plan(scn, res)
    if plan is None:
        return [], note
    mult = scn.settings.policy.power_price_multiplier
    sites = plan.sites.merge(scn.sites[["site", "power_usd_kwh"]], on="site", how="left")
    used_here = set(res.sites.loc[res.sites["mw_used"] > 1e-6, "site"])  # the plan's own sites (the twin's may differ)
    sites["mw_used"] = sites["mw_used"].where(sites["site"].isin(used_here), 0.0)
    lines: list[str] = []
    full = sites[(sites["mw_used"] > 1e-6) & (sites["shadow_usd_per_mw"].fillna(0) > 1e-6)]
    full = full.sort_values("shadow_usd_per_mw", ascending=False).head(WHY_SITES_SHOWN)
    for r in full.itertuples():
        lines.append(f"{r.site} ({r.jurisdiction}) is full: one more MW there would add {fmt.usd(r.shadow_usd_per_mw)}.")
    unused = sites[(sites["mw_used"] <= 1e-6) & ~sites["site"].isin(used_here) & sites["entry_power_usd_kwh"].notna()].copy()
    if len(unused):
        unused["today"] = unused["power_usd_kwh"] * mult
        never = unused[unused["entry_power_usd_kwh"] < 0]
        could = unused[unused["entry_power_usd_kwh"] >= 0].assign(
            fall=lambda f: 1 - f["entry_power_usd_kwh"] / f["today"]).sort_values("fall").head(WHY_SITES_SHOWN)
        for r in could.itertuples():
            lines.append(f"{r.site} ({r.jurisdiction}) is left out: it would enter if power cost under "
                         f"${r.entry_power_usd_kwh:.3f}/kWh, against ${r.today:.3f} today "
                         f"({r.fall:.0%} cheaper).")
        if len(never):
            names = ", ".join(never["site"].head(WHY_SITES_SHOWN))
            more = len(never) - WHY_SITES_SHOWN
            lines.append(f"Not worth using even with free power: {names}" + (f" and {more} more" if more > 0 else "")
                         + " (freight, duty, ban risk or hosting outweigh what a rig earns there).")
    return lines, note


def board_sections(scn: optimizer.Scenario, res: optimizer.Result, decision: Decision | None,
                   backtest: Any | None = None) -> dict[str, Any]:
    """What ``build_report(board=...)`` shows: decision rows, the "why" lines and note, the backtest (summary text
    and a per-place table of rounded dollars). ``backtest``: an ``optimizer.risk.backtest.Backtest`` or None."""
    why, why_note = why_sites(scn, res)
    out: dict[str, Any] = {"decision": decision_rows(decision) if decision is not None else [],
                           "why": why, "why_note": why_note, "backtest_text": None, "backtest": None}
    if backtest is not None:
        s = backtest.summary
        bans = ", ".join(f"{b['jurisdiction']} from month {b['ban_month']}" for b in s["bans"]) or "none"
        d = s["realised_vs_sell_all_usd"]
        out["backtest_text"] = (f"Followed from the start, the plan would have realised {fmt.usd(s['realised_npv_usd'])} "
                                f"on the hashprice and bans that came, against {fmt.usd(s['expected_npv_usd'])} expected "
                                f"and {fmt.usd(s['sell_all_usd'])} for selling everything at the start "
                                f"({'+' if d >= 0 else '-'}{fmt.usd(abs(d))}). Bans that came: {bans}.")
        t = backtest.jurisdictions
        out["backtest"] = pd.DataFrame({
            "place": t["jurisdiction"],
            "banned from month": ["no ban" if pd.isna(m) else str(int(m)) for m in t["ban_month"]],
            "rigs moved there": t["rigs"].round(0), "expected (USD)": t["expected_usd"].round(0),
            "realised (USD)": t["realised_usd"].round(0)})
    return out
