"""The decision card at the top of the first screen (issue 24): what to do, the expected gain against
selling everything, the chance of ending below selling, the worst-5% average and, where the scenario
ships a history, what the advice realised. The figures and their definitions are
``optimizer.risk.decision``'s; the sampled ones are the Risk tab's own at the scenario's sampler
settings (same cache, same numbers). The rest of the headline cards sit behind it in an expander.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

import optimizer
from optimizer.results import fmt
from optimizer.risk import decision as D

from . import compute, monthly_view, views
from .tabs import risk as risk_tab
from .tabs import what_happened
from .tabs.context import Context

CARD_KEY = "decision_card"


def sampled(scn: optimizer.Scenario, res: optimizer.Result, fp: str) -> dict[str, Any] | None:
    """The plan over the scenario's own sample set (risk.samples, risk.seed): the Risk tab's figures at its
    default settings, from the same cache. None when the futures cannot be drawn (the reason is shown)."""
    rs = scn.settings.risk
    n, seed = int(rs.samples), int(rs.seed)
    try:
        out = compute.per_session("risk_outcomes", (fp, n, seed),
                                  lambda: risk_tab._outcomes(fp, n, seed, scn, res), 2)
    except Exception as exc:  # noqa: BLE001 - the card still says what to do and what it is expected to add
        st.caption(f"The odds could not be sampled for these settings ({type(exc).__name__}: {exc}).")
        return None
    return out.summary


def realised(source: str, scn: optimizer.Scenario, res: optimizer.Result, fp: str) -> dict[str, Any] | None:
    """The What happened tab's backtest summary, for a built-in scenario that ships a history."""
    folder = what_happened.history_dir(source)
    if folder is None:
        return None
    try:
        bt = compute.per_session("backtest_card", (fp, str(folder)),
                                 lambda: what_happened._backtest(fp, str(folder), scn, res), 2)
    except optimizer.ScenarioError:
        return None  # the What happened tab says why
    return bt.summary


def build(ctx: Context) -> D.Decision:
    """The decision of the plan on screen."""
    scn, res, fp = ctx.shown_scn, ctx.shown, ctx.shown_fp
    if monthly_view.is_monthly(res):  # SPEC section 8: its waves and expected value (ui/monthly_view.py)
        return monthly_view.decision(ctx)
    return decision(ctx.source, scn, res, fp)


def decision(source: str, scn: optimizer.Scenario, res: optimizer.Result, fp: str) -> D.Decision:
    """``optimizer.risk.decision.decide`` for the plan of ``scn`` (fingerprint ``fp``), made once per plan in this
    session: the card and the report's board sections read the same one."""
    return compute.per_session("decision", (fp, source, res.summary.get("objective_usd")),
                               lambda: D.decide(res.summary, res.allocation, sampled(scn, res, fp),
                                                realised(source, scn, res, fp)), 2)


def show(ctx: Context, baseline: dict[str, Any] | None) -> D.Decision:
    """Draw the card, then the other headline figures grouped in an expander."""
    d = build(ctx)
    with st.container(border=True, key=CARD_KEY):
        st.markdown("**What to do:** " + d.action_text()
                    + ("" if d.whole_rigs else " *Fractional plan: rig counts are an average the solver may split; "
                                               "tick \"Whole rigs only\" for counts to ship.*"))
        if d.schedule is not None:  # SPEC section 8: the waves, month by month (ship / hold / sell)
            monthly_view.card_waves(d)
        with st.container(horizontal=True, gap="small"):
            st.metric("Expected gain vs selling", f"{'+' if d.gain_usd >= 0 else '-'}{fmt.usd(abs(d.gain_usd))}",
                      help="The whole plan's expected value minus what selling the whole fleet today would fetch. "
                           "Expected value: each month weighted by the chance mining is still allowed there, before "
                           "the caution charge (not sampled).", border=True, width=200)
            r = d.risk
            if r:
                st.metric("Chance below selling", fmt.pct(r["prob_below_sell_all"], 0),
                          help=f"Share of {r['n_samples']:,} sampled futures of bans and hashprice (seed set by the "
                               "scenario; the Risk tab changes them) in which the plan ends worth less than selling "
                               "everything today.", border=True, width=200)
                st.metric(f"Worst {r['risk_alpha']:.0%} average", fmt.usd(r["cvar_usd"]),
                          help=f"The plan's average value over the worst {r['risk_alpha']:.0%} of the sampled futures "
                               f"(CVaR); selling everything today fetches {fmt.usd(d.sell_all_usd)}.",
                          border=True, width=200)
            if d.realised:
                v = d.realised["realised_vs_sell_all_usd"]
                st.metric("What it realised vs selling", f"{'+' if v >= 0 else '-'}{fmt.usd(abs(v))}",
                          help="Had this plan been followed: its value on the hashprice and the bans that actually "
                               "came (What happened tab), minus selling everything at the start.",
                          border=True, width=200)
        st.caption(" ".join(t for t in (d.value_text(), d.odds_text(), d.realised_text()) if t))
    with st.expander("All figures of this plan", expanded=False):
        views.metrics(ctx.shown.summary, baseline["summary"] if baseline else None, baseline["label"] if baseline else "")
    return d
