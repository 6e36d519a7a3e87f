"""The hashprice path the plan uses (halvings marked), and what happened for scenarios that ship a history.

Both read the engine: ``optimizer.economics.hashprice`` (SPEC section 6's path) and
``optimizer.backtest`` (the plan valued on the realised hashprice and bans).
"""
from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

import optimizer
from optimizer import backtest, economics
from optimizer.risk import plan_from_result

from . import charts, compute, fmt
from .trust import md_escape


def _month_labels(scn: optimizer.Scenario, months: int) -> list[str]:
    start = scn.settings.horizon.start_month
    if not start:
        return [str(t) for t in range(months)]
    first = pd.Period(str(start), freq="M")
    return [str(first + t) for t in range(months)]


def hashprice_frame(scn: optimizer.Scenario) -> pd.DataFrame:
    """month, hashprice_usd_th_day (the plan's path), and the calendar month when the scenario has a start month."""
    hp = economics.hashprice(scn)
    return pd.DataFrame({"month": range(len(hp)), "calendar": _month_labels(scn, len(hp)), "hashprice_usd_th_day": hp})


def hashprice_chart(scn: optimizer.Scenario, realised: pd.DataFrame | None = None, fp: str | None = None) -> None:
    """Line chart of hp_t over the horizon, each halving month marked; the realised path beside it if given.
    ``fp``: the scenario's fingerprint when the caller has it (the chart is then built once per scenario)."""
    halvings = list(economics.halving_months(scn.settings)) if not len(scn.market) else []
    key = (fp or compute.fingerprint(scn), None if realised is None else compute.frame_key(realised))
    charts.show("hashprice", key, lambda: _hashprice_layers(scn, realised, halvings), width="stretch", height=320)
    words = economics.hashprice_source(scn)
    st.caption(f"Hashprice path: {'from the scenario''s market.csv' if words == 'market.csv' else words}"
               + (f"; halving in month {', '.join(map(str, halvings))}" if halvings and "halving" not in words else "")
               + ". Revenue per rig also loses the pool fee "
               f"({fmt.pct(scn.settings.market.pool_fee)}).")


def _hashprice_layers(scn: optimizer.Scenario, realised: pd.DataFrame | None, halvings: list[int]) -> alt.LayerChart:
    frame = hashprice_frame(scn).assign(path="assumed by the plan")
    if realised is not None:
        r = realised.sort_values("month")
        frame = pd.concat([frame, pd.DataFrame({"month": r["month"].astype(int).to_numpy(),
                                                "calendar": _month_labels(scn, len(r)),
                                                "hashprice_usd_th_day": r["hashprice_usd_th_day"].to_numpy(float),
                                                "path": "what happened"})], ignore_index=True)
    last = int(frame["month"].max())
    line = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("month:Q", title="Month of the horizon", scale=alt.Scale(domain=[0, last], nice=False)),
        y=alt.Y("hashprice_usd_th_day:Q", title="USD per TH/s per day", scale=alt.Scale(zero=True)),
        color=alt.Color("path:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("calendar:N", title="Month"), alt.Tooltip("path:N", title="Path"),
                 alt.Tooltip("hashprice_usd_th_day:Q", title="USD/TH/day", format=".4f")])
    layers = [line]
    if halvings:
        marks = pd.DataFrame({"month": halvings, "label": ["halving"] * len(halvings)})
        layers.append(alt.Chart(marks).mark_rule(strokeDash=[4, 3], color="grey").encode(x="month:Q"))
        layers.append(alt.Chart(marks).mark_text(align="left", dx=4, dy=-6, color="grey").encode(
            x="month:Q", y=alt.value(10), text="label:N"))
    return alt.layer(*layers).properties(height=280)


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
    bans = md_escape(", ".join(f"{b['jurisdiction']} from month {b['ban_month']}" for b in s["bans"])) or "none"
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
    hashprice_chart(scn, realised, fp=fp)
