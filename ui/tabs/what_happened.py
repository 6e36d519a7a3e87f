"""The What happened tab: for a scenario that ships a history (datasets/NAME/history), the plan valued on
the hashprice and the bans that came (``optimizer.risk.backtest``)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

import optimizer
from optimizer.risk import backtest, plan_from_result
from optimizer.results import fmt

from .. import compute, outlook
from ..trust import md_escape
from .context import Context

LABEL = "What happened"
WIDGETS: tuple[str, ...] = ()
NEEDS_PLAN = True


def render(ctx: Context) -> None:
    history = history_dir(ctx.source)  # built-in scenarios that ship what happened
    if history is None:
        st.info("This scenario ships no record of what came after its start (a history/ folder with the "
                "realised hashprice and the bans beside its tables), so there is nothing to hold the plan "
                "against. The built-in china-2021 has one.", icon=":material/history:")
    else:
        what_happened(ctx.shown_scn, ctx.shown, ctx.shown_fp, history)
        from .. import monthly_view  # SPEC section 8: the five ways to act on this history

        monthly_view.replay_history(ctx, history)


def history_dir(source: str) -> Path | None:
    """The history folder of a built-in scenario (datasets/NAME/history), if it ships one."""
    folder = compute.datasets_dir() / source / "history"
    return folder if (folder / "market.csv").is_file() and (folder / "bans.csv").is_file() else None


@st.cache_data(show_spinner=False, max_entries=32, ttl=compute.CACHE_TTL_S)
def _backtest(fp: str, folder: str, _scn: optimizer.Scenario, _res: optimizer.Result) -> backtest.Backtest:
    history = backtest.load_history(folder, _scn)
    econ = optimizer.compute_economics(_scn)
    return backtest.backtest(_scn, history, plan_from_result(_scn, econ, _res))


def what_happened(scn: optimizer.Scenario, res: optimizer.Result, fp: str, folder: Path) -> None:
    """The current plan valued on what actually came: realised against expected against selling now."""
    try:
        bt, realised = compute.per_session(
            "backtest", (fp, str(folder)),
            lambda: (_backtest(fp, str(folder), scn, res), backtest.load_history(folder, scn).market), 2)
    except optimizer.ScenarioError as exc:
        st.warning("The scenario's history cannot be read: " + md_escape("; ".join(str(p) for p in exc.problems)))
        return
    s = bt.summary
    st.markdown(
        f"Had this plan been followed, it would have realised **{fmt.usd(s['realised_npv_usd'])}**, against "
        f"**{fmt.usd(s['expected_npv_usd'])}** expected and **{fmt.usd(s['sell_all_usd'])}** for selling everything "
        f"at the start ({'+' if s['realised_vs_sell_all_usd'] >= 0 else '-'}{fmt.usd(abs(s['realised_vs_sell_all_usd']))} "
        "against selling).")
    bans = md_escape(", ".join(f"{b['jurisdiction']} from month {b['ban_month']}"
                               + (f" to month {b['end_month']}" if "end_month" in b else "") for b in s["bans"])) or "none"
    st.caption(f"Bans that came within the horizon: {bans}. The realised value uses the hashprice that came "
               "and stops every rig in a place from its ban month on; expected is the plan's value before the caution "
               "charge. One history, not a forecast: the Risk tab shows how often such outcomes come up.")
    table = bt.jurisdictions.assign(ban_month=["no ban" if pd.isna(m) else str(int(m)) for m in bt.jurisdictions["ban_month"]])
    table = table.rename(columns={
        "jurisdiction": "Place", "ban_month": "Banned from month", "rigs": "Rigs moved there",
        "hashrate_ths": "Hashrate (TH/s)", "expected_usd": "Expected (USD)", "realised_usd": "Realised (USD)",
        "realised_minus_expected_usd": "Realised - expected (USD)"})
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%,.0f") for c in table.columns[2:]})
    st.markdown("##### Hashprice: assumed and realised")
    outlook.hashprice_chart(scn, realised)
