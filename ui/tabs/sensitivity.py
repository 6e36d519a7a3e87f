"""The Sensitivity tab: what moves the plan value most (a tornado of every driver, ``optimizer.analysis.sensitivity``),
two detailed sweeps (BTC price, power prices) and the BTC price below which nothing is relocated."""
from __future__ import annotations

import functools

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

import optimizer
from optimizer.analysis import sensitivity as drivers
from optimizer.results import fmt

from .. import compute, longjob
from .context import Context

SENS_RUN, SENS_AUTO = "sens_run", "sens_auto"  # the compute button; the keep-it-up-to-date toggle
SENS_LAST = "sens_last"  # the last sweeps computed: {"fp", "tornado", "btc", "power", "breakeven", "fixed_hp", "job"}
SENS_JOB = "sensitivity"  # its background job (a ui.longjob slot)

LABEL = "Sensitivity"
WIDGETS = (SENS_AUTO,)
NEEDS_PLAN = True


def render(ctx: Context) -> None:
    if ctx.stale:
        st.info("No plan for the current settings.")
    else:
        _sensitivity(ctx.scn, ctx.fp)


def btc_grid(current: float) -> list[float]:
    lo = max(1000.0, 0.2 * current)
    return sorted(set(np.round(np.linspace(lo, max(2.5 * current, lo + 1000), 16), 0).tolist()) | {float(current)})


def power_grid(current: float) -> list[float]:
    return sorted(set(np.round(np.linspace(0.25, 2.5, 10), 3).tolist()) | {float(current)})


def _sensitivity(scn: optimizer.Scenario, fp: str) -> None:
    st.markdown("How the plan value responds to each driver, every other setting as it is now. Each point is "
                "the best plan for the moved value (a full re-solve).")
    c1, c2 = st.columns([1, 3])
    c1.button("Compute sensitivity", key=SENS_RUN, type="primary")
    c2.toggle("Keep it up to date after every change (slower)", key=SENS_AUTO)
    whole = bool(scn.settings.policy.integer_rigs)
    if whole:  # ~50 whole-rig solves take minutes; their fractional twins seconds, and differ by a few rigs
        whole_value = compute.solve(scn, fp).summary["objective_usd"]
        scn = scn.with_overrides({"policy.integer_rigs": False})
        fp = compute.fingerprint(scn)
        frac_value = compute.solve(scn, fp).summary["objective_usd"]
        st.caption(f"Computed on fractional plans (rig counts not rounded): about 50 whole-rig plans would take "
                   f"minutes. Here the fractional plan is worth {fmt.usd(frac_value)} against {fmt.usd(whole_value)} "
                   f"in whole rigs.")
    job = longjob.current(SENS_JOB)
    if st.session_state.get(SENS_RUN) or (st.session_state.get(SENS_AUTO) and (job is None or job.key != fp)):
        n_btc = len(btc_grid(scn.settings.market.btc_price_usd))
        n_power = len(power_grid(scn.settings.policy.power_price_multiplier))
        steps = [("the driver tornado", 12, lambda: _tornado(fp, scn)),
                 ("the BTC price sweep", n_btc, lambda: compute.sweep(scn, "market.btc_price_usd",
                                                                  btc_grid(scn.settings.market.btc_price_usd), fp)),
                 ("the power price sweep", n_power, lambda: compute.sweep(
                     scn, "policy.power_price_multiplier", power_grid(scn.settings.policy.power_price_multiplier), fp))]
        if scn.settings.market.hashprice_usd_th_day is None:
            steps.append(("the sell-everything BTC price", 12, lambda: compute.breakeven_btc_price(scn, fp=fp)))
        job = longjob.start(SENS_JOB, fp, "the sensitivity", longjob.steps_work(steps))
    longjob.show(SENS_JOB, clears=(SENS_AUTO,))
    if job is not None and job.state == longjob.DONE and (st.session_state.get(SENS_LAST) or {}).get("job") is not job:
        done, fixed_hp = job.result, len(job.result) == 3
        st.session_state[SENS_LAST] = {"fp": job.key, "tornado": done[0], "btc": done[1], "power": done[2],
                                         "breakeven": None if fixed_hp else done[3], "fixed_hp": fixed_hp, "job": job}
    last = st.session_state.get(SENS_LAST)
    running = job is not None and job.state == longjob.RUNNING
    if not last:
        if running:
            return
        st.info("Press **Compute sensitivity** for the plan value over every driver and two detailed sweeps "
                "(about 50 solves, a few seconds).")
        return
    if last["fp"] != fp:
        st.warning("These charts are for earlier settings" + (": the new ones are being computed above."
                   if running and job.key == fp else ". Press **Compute sensitivity** to refresh them."))
    _tornado_view(last["tornado"])  # kept with the sweeps: a stale view keeps its tornado (issue 24)
    left, right = st.columns(2)
    with left:
        st.altair_chart(_sweep_chart(last["btc"], "BTC price (USD)", "$,.0f", last["breakeven"]), width="stretch",
                        key="sens_btc_chart")
        if last["fixed_hp"]:
            st.caption("Hashprice is fixed in the settings, so the BTC price does not move the plan.")
        elif last["breakeven"] is None:
            st.caption("Relocation does not pay at any BTC price up to 64 times today's.")
        else:
            st.markdown(f"Below **BTC ${last['breakeven']:,.0f}** the plan relocates nothing "
                        f"(it {'sells' if scn.settings.policy.allow_sell else 'stores'} the whole fleet). "
                        f"Today: ${last['btc'].current_value:,.0f}.")
    with right:
        st.altair_chart(_sweep_chart(last["power"], "power prices (x the tables)", ".2f", None), width="stretch",
                        key="sens_power_chart")
    with st.expander("Sweep data"):
        st.dataframe(pd.concat([last["btc"].frame.assign(axis="btc_price_usd"),
                                last["power"].frame.assign(axis="power_price_multiplier")]),
                     hide_index=True, key="sens_data")


def _sweep_chart(sw: compute.Sweep, title: str, axis_format: str, breakeven: float | None) -> alt.LayerChart:
    df = sw.frame.assign(value_musd=sw.frame["objective_usd"] / 1e6)
    x = alt.X("value:Q", title=title, axis=alt.Axis(format=axis_format), scale=alt.Scale(zero=False))
    y = alt.Y("value_musd:Q", title="plan value (USD million)")
    tip = [alt.Tooltip("value:Q", title=title, format=axis_format),
           alt.Tooltip("value_musd:Q", title="plan value ($M)", format=",.2f"),
           alt.Tooltip("rigs_relocated:Q", title="rigs relocated", format=",.0f"),
           alt.Tooltip("rigs_sold:Q", title="rigs sold", format=",.0f")]
    line = alt.Chart(df).mark_line(point=True).encode(x=x, y=y, tooltip=tip)
    now = df[np.isclose(df["value"], sw.current_value)]
    layers = [line, alt.Chart(now).mark_point(size=160, filled=True, color="#d62728").encode(x=x, y=y, tooltip=tip)]
    if breakeven is not None:
        rule = pd.DataFrame({"value": [breakeven], "label": [f"relocates nothing below ${breakeven:,.0f}"]})
        layers.append(alt.Chart(rule).mark_rule(strokeDash=[6, 4], color="#555").encode(x="value:Q"))
        layers.append(alt.Chart(rule).mark_text(align="left", dx=4, dy=-6, color="#555").encode(
            x="value:Q", y=alt.value(12), text="label:N"))
    return alt.layer(*layers).properties(height=320)


@st.cache_data(show_spinner=False, max_entries=32, ttl=3600)
def _tornado(fp: str, _scn: optimizer.Scenario) -> pd.DataFrame:
    return drivers.tornado(_scn, functools.partial(optimizer.solve, details=False))


def _tornado_chart(df: pd.DataFrame) -> alt.LayerChart:
    base = float(df["base_usd"].iloc[0])
    long = pd.concat([
        df.assign(side="down", end=df["low_usd"], text=df["low_text"]),
        df.assign(side="up", end=df["high_usd"], text=df["high_text"]),
    ])
    long["start_m"] = base / 1e6
    long["end_m"] = long["end"] / 1e6
    long["label"] = long["driver"] + " " + long["text"]
    order = df["driver"].tolist()
    y = alt.Y("driver:N", sort=order, title=None, axis=alt.Axis(labelLimit=200, labelOverlap=False))
    bars = alt.Chart(long).mark_bar(height=16).encode(
        y=y, x=alt.X("start_m:Q", title="plan value (USD million)", scale=alt.Scale(zero=False)), x2="end_m:Q",
        color=alt.Color("side:N", title=None, scale=alt.Scale(domain=["down", "up"], range=["#1f4788", "#e8710a"]),
                        legend=alt.Legend(orient="bottom", labelExpr="datum.label == 'down' ? 'driver moved down' "
                                                                     ": 'driver moved up'")),
        tooltip=[alt.Tooltip("label:N", title="driver"), alt.Tooltip("end_m:Q", title="plan value ($M)", format=",.2f")])
    rule = alt.Chart(pd.DataFrame({"x": [base / 1e6]})).mark_rule(color="black").encode(x="x:Q")
    return alt.layer(bars, rule).properties(height=max(180, 38 * len(df)))


def _tornado_view(df: pd.DataFrame) -> None:
    st.markdown(f"**What moves the plan value most** - each driver moved down (blue) and up (orange), "
                f"everything else as it is now; the black line is today's plan, {fmt.usd(df['base_usd'].iloc[0])}. "
                "Each end is the best plan for the moved driver.")
    st.altair_chart(_tornado_chart(df), width="stretch", key="tornado_chart")
    table = df.assign(low=df["low_usd"].map(fmt.usd), high=df["high_usd"].map(fmt.usd))
    st.dataframe(table[["driver", "low_text", "low", "high_text", "high"]], hide_index=True, key="tornado_table",
                 column_config={"driver": "driver", "low_text": "moved down", "low": "plan value",
                                "high_text": "moved up", "high": "plan value "})
