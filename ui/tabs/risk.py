"""The Risk tab: the current plan over sampled futures of bans and hashprice (SPEC section 7).

Outcome histogram, a fan of value earned over the months, P5/P50/P95, the chance of doing worse
than selling everything now, CVaR; the frontier of risk-aware plans with the current plan marked;
stress tests as likelihood against impact. Work runs on local cores, or on the Dask cluster named
by RIGSHIFT_DASK_SCHEDULER. Results are cached per scenario fingerprint and sampler settings.
"""
from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

import optimizer
from optimizer import economics, risk
from optimizer.risk import samples as sampler
from optimizer.risk.scaleout import Runner
from optimizer.results import fmt

from .. import charts, compute, longjob
from ..session import PINS
from ..trust import md_escape
from ..views import make_pin
from .context import Context

# the sampler's settings (the report reads the first five: ui.workspace.RISK_KEYS), the frontier pick, the stress month
N, SEED, ALPHA, RHO, VOL = "risk_n", "risk_seed", "risk_alpha", "risk_rho", "risk_vol"
FRONTIER_PICK, STRESS_MONTH = "risk_frontier_pick", "risk_stress_month"
FRONTIER_ON, STRESS_ON = "risk_frontier_on", "risk_stress_on"  # keep the frontier / stress tests up to date
FRONTIER_JOB, STRESS_JOB = "risk_frontier", "risk_stress"  # their background jobs (ui.longjob slots)

LABEL = "Risk"
WIDGETS = (N, SEED, ALPHA, RHO, VOL, FRONTIER_PICK, STRESS_MONTH, "replay_n")  # replay_n: ui.monthly_view.REPLAY_N
NEEDS_PLAN = True

FRONTIER_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
STRESS_LABELLED = 5  # the stress chart names this many places, those with the largest losses


@dataclass(frozen=True)
class Outcomes:
    npv: np.ndarray  # (K,)
    fan: pd.DataFrame  # month, p5, p50, p95 of value earned by then (USD)
    summary: dict


@st.cache_data(show_spinner=False, max_entries=32, ttl=3600)
def _samples(fp: str, n: int, seed: int, _scn: optimizer.Scenario) -> sampler.SampleSet:
    with Runner.from_env() as runner:
        return sampler.draw(_scn, n, seed, mapper=lambda fn, items: runner.map(_star, items, fn=fn))


def _star(item: tuple, fn):
    return fn(*item)


@st.cache_data(show_spinner=False, max_entries=32, ttl=3600)
def _outcomes(fp: str, n: int, seed: int, _scn: optimizer.Scenario, _res: optimizer.Result) -> Outcomes:
    smp = _samples(fp, n, seed, _scn)
    econ = economics.compute(_scn)
    plan = risk.plan_from_result(_scn, econ, _res)
    with Runner.from_env() as runner:
        npv = risk.plan_npv(_scn, econ, plan, smp, runner)
    keep = plan.rigs > 0
    folded = risk.plan_terms(risk.pair_terms(_scn, econ, smp, plan.gi[keep], plan.si[keep]), plan.rigs[keep],
                             plan.constant_usd)
    paths = risk.operating_paths(folded, smp)
    q = np.array([[risk.weighted_lower_quantile(paths[:, t], smp.weight, p) for p in (0.05, 0.5, 0.95)]
                  for t in range(smp.months)])
    fan = pd.DataFrame({"month": np.arange(1, smp.months + 1), "p5": q[:, 0], "p50": q[:, 1], "p95": q[:, 2]})
    summary = risk.summarize(npv, smp.weight, _scn.settings.risk.alpha, plan.sell_all_usd)
    summary["sell_all_usd"] = plan.sell_all_usd
    return Outcomes(npv, fan, summary)


@st.cache_data(show_spinner=False, max_entries=40, ttl=3600)
def _frontier_point(fp: str, n: int, seed: int, weight: float, _scn: optimizer.Scenario) -> risk.Frontier:
    smp = _samples(fp, n, seed, _scn)
    return risk.frontier(_scn, smp, (weight,), Runner())


@dataclass(frozen=True)
class FrontierPoints:
    """The frontier's points solved one at a time (for the progress bar): its table and plans, as risk.Frontier's."""

    table: pd.DataFrame
    plans: dict


def _frontier_steps(fp: str, n: int, seed: int, scn: optimizer.Scenario) -> list:
    """risk.frontier over FRONTIER_WEIGHTS as one step per weight (``ui.longjob``: progress, estimate, cancel)."""
    return [(f"the plan at CVaR weight {w:.2f}", 1, (lambda w=w: _frontier_point(fp, n, seed, w, scn)))
            for w in FRONTIER_WEIGHTS]


def _frontier_points(points: list) -> FrontierPoints:
    """The frontier from the points computed (all of them, or those before a cancel)."""
    plans: dict = {}
    for p in points:
        plans.update(p.plans)
    return FrontierPoints(pd.concat([p.table for p in points], ignore_index=True), plans)


def _pin_frontier_plan(scn: optimizer.Scenario, fr: "FrontierPoints", source: str, n: int, seed: int) -> None:
    """Pin a frontier plan for the Compare tab (and its exports), like the page's own Pin button."""
    name = st.session_state.get(FRONTIER_PICK)
    if name not in fr.plans:
        return
    weight = float(name.removeprefix("weight_"))
    scn_w = scn.with_overrides({"risk.weight": weight})
    label = f"risk-aware, CVaR weight {weight:.2f} ({n:,} samples, seed {seed})"
    pin = make_pin(label, source, scn_w, fr.plans[name], scn_w.fingerprint())
    pin["risk_aware"] = f"{n:,} sampled futures (seed {seed}) with CVaR weight {weight:.2f}"  # Compare says so
    st.session_state.setdefault(PINS, []).append(pin)


@st.cache_data(show_spinner=False, max_entries=8, ttl=3600)
def _stress(fp: str, month: int, _scn: optimizer.Scenario, _job: longjob.Job | None = None) -> pd.DataFrame:
    """risk.stress's table; with ``_job``, one re-plan per step of the job (progress, estimate, cancel)."""
    with Runner.from_env() as runner:
        if _job is not None:
            runner = longjob.StepRunner(_job, runner, name=lambda j: f"the plan with {j} banned")
        return risk.stress(_scn, month, runner).table


def _fractional(scn: optimizer.Scenario) -> tuple[optimizer.Scenario, str]:
    """The scenario with fractional rig counts (and its fingerprint): the frontier and the stress tests re-solve
    many plans, which in whole rigs take minutes (china-2021: 19 s per risk-aware plan against 3 s)."""
    if scn.settings.policy.integer_rigs:
        scn = scn.with_overrides({"policy.integer_rigs": False})
    return scn, compute.fingerprint(scn)


def _musd(v: float) -> str:
    return fmt.usd(v)


def render(ctx: Context) -> None:
    """The tab; any failure is shown in place (the rest of the page and the user's inputs stay)."""
    try:
        _render(ctx.scn, ctx.res, ctx.stale, ctx.source)
    except (optimizer.ScenarioError, optimizer.InfeasibleError, optimizer.SolverFailure) as exc:
        st.error(f"The risk view cannot be computed for these settings: {md_escape(str(exc))}", icon=":material/error:")
    except Exception as exc:  # noqa: BLE001 - an engine bug must not take the session down
        st.error(f"The risk view failed unexpectedly (please report this): {type(exc).__name__}: {md_escape(str(exc))}",
                 icon=":material/error:")


def _render(scn: optimizer.Scenario, res: optimizer.Result | None, stale: bool, source: str) -> None:
    if res is None or stale:
        st.info("No plan for the current settings: the risk view needs one.")
        return
    st.caption("The plan on the Plan tab, played out in sampled futures: each sample draws when (if ever) each "
               "jurisdiction bans mining, with bans clustered across jurisdictions, and a hashprice path around "
               "the scenario's. No risk penalty here: the samples are the risk.")
    rs = scn.settings.risk
    c1, c2, c3, c4, c5 = st.columns(5)
    n = int(c1.number_input("Samples", min_value=100, max_value=50_000, value=int(rs.samples), step=500, key=N))
    seed = int(c2.number_input("Seed", min_value=0, max_value=2**31 - 1, value=int(rs.seed), step=1, key=SEED))
    alpha = float(c3.slider("Worst share averaged (CVaR tail)", 0.01, 0.5, float(rs.alpha), 0.01, key=ALPHA,
                            help="The worst-outcomes average (CVaR) is taken over this share of the sampled futures."))
    rho = float(c4.slider("Ban correlation", 0.0, 0.95, float(rs.ban_correlation), 0.05, key=RHO,
                          help="How much one regulator's move raises the odds next door (Gaussian copula, one factor)."))
    vol = float(c5.slider("Hashprice volatility (/yr)", 0.0, 2.0, float(rs.hashprice_volatility), 0.001, format="%.3f",
                          key=VOL,
                          help="Annual volatility of the hashprice around the scenario's path; default 0.44 from monthly-mean "
                               "hashprice 2021-23 and 2024-25 (0.866 = BTC's own 25%/month)."))
    try:
        scn_r = scn.with_overrides({"risk.alpha": alpha, "risk.ban_correlation": rho, "risk.hashprice_volatility": vol})
    except optimizer.ScenarioError as exc:
        st.error("\n\n".join(md_escape(str(p)) for p in exc.problems))
        return
    fp = compute.fingerprint(scn_r)
    with st.spinner(f"Playing the plan out in {n:,} futures..."):
        out = compute.per_session("risk_outcomes", (fp, n, seed), lambda: _outcomes(fp, n, seed, scn_r, res), 2)
    s = out.summary
    # A table rather than st.metric: the page's headline metrics stay those of the plan.
    stats = pd.DataFrame([{
        "Mean of the sampled futures": f"{_musd(s['expected_npv_usd'])} ± {_musd(s['expected_npv_se_usd'])}",
        "P5": _musd(s["p5_usd"]), "P50": _musd(s["p50_usd"]),
        "P95": _musd(s["p95_usd"]), f"CVaR {alpha:.0%} (mean of the worst {alpha:.0%})": _musd(s["cvar_usd"]),
        f"Worse than selling now ({_musd(s['sell_all_usd'])})": f"{s['prob_below_sell_all']:.1%}",
    }])
    st.dataframe(stats, hide_index=True, key="risk_stats")
    st.caption(f"± is the sampling error of the mean (standard error, sd / sqrt({n:,})). The plan's **expected value** "
               f"(the decision card's, computed and not sampled: each month weighted by the chance mining is still "
               f"allowed) is {_musd(res.summary['expected_value_usd'])}. The sampled mean differs by its sampling error and "
               "because in a sampled future rigs switch off in the months power costs more than they earn, which the "
               "single planning path cannot do. With hashprice volatility 0 the two agree within the sampling error.")
    left, right = st.columns(2)
    with left:
        st.markdown("**Outcomes** (value of the plan in each future)")
        # The right tail is long (hashprice booms): bins span P0.5-P99.5, outliers are counted in the caption.
        lo, hi = np.quantile(out.npv, [0.005, 0.995])
        shown_npv = out.npv[(out.npv >= lo) & (out.npv <= hi)]

        def histogram() -> alt.LayerChart:
            hist = pd.DataFrame({"npv_musd": shown_npv / 1e6})
            marks = pd.DataFrame({"musd": [s["p5_usd"] / 1e6, s["p50_usd"] / 1e6, s["p95_usd"] / 1e6,
                                           s["sell_all_usd"] / 1e6],
                                  "what": ["P5", "P50", "P95", "sell everything now"]})
            chart = alt.Chart(hist).mark_bar(opacity=0.7).encode(
                x=alt.X("npv_musd:Q", bin=alt.Bin(maxbins=60), title="plan value (USD million)"),
                y=alt.Y("count():Q", title="samples"))
            rules = alt.Chart(marks).mark_rule(strokeDash=[4, 3]).encode(
                x="musd:Q", color=alt.Color("what:N", title=None), tooltip=["what", alt.Tooltip("musd:Q", format=",.1f")])
            return chart + rules

        charts.show("risk_hist", (fp, n, seed), histogram, width="stretch", key="risk_hist")
        st.caption(f"{len(out.npv) - len(shown_npv):,} of {len(out.npv):,} samples beyond the 0.5th-99.5th percentiles "
                   f"are not drawn (lowest {_musd(out.npv.min())}, highest {_musd(out.npv.max())}).")
    with right:
        st.markdown("**Value earned over the months** (discounted operating value, P5-P95 band and median)")

        def fan_chart() -> alt.LayerChart:
            fan = out.fan.assign(p5=out.fan["p5"] / 1e6, p50=out.fan["p50"] / 1e6, p95=out.fan["p95"] / 1e6)
            band = alt.Chart(fan).mark_area(opacity=0.3).encode(
                x=alt.X("month:Q", title="month"), y=alt.Y("p5:Q", title="USD million"), y2="p95:Q")
            return band + alt.Chart(fan).mark_line().encode(x="month:Q", y="p50:Q")

        charts.show("risk_fan", (fp, n, seed), fan_chart, width="stretch", key="risk_fan")

    st.markdown("#### Frontier: expected value against the bad tail")
    go = st.button("Compute the frontier (5 risk-aware plans)", key="risk_frontier_go", icon=":material/show_chart:")
    if go:
        st.session_state[FRONTIER_ON] = True
    job = longjob.current(FRONTIER_JOB)
    fr = None
    if st.session_state.get(FRONTIER_ON) or (job is not None and job.key == (fp, n, seed)):
        scn_f, fp_f = _fractional(scn_r)
        if scn_f is not scn_r:
            st.caption("The frontier's plans are fractional (rig counts not rounded): whole-rig risk-aware plans take "
                       "minutes each.")
        if st.session_state.get(FRONTIER_ON) and (go or job is None or job.key != (fp, n, seed)):
            job = longjob.start(FRONTIER_JOB, (fp, n, seed), "the frontier",
                                longjob.steps_work(_frontier_steps(fp_f, n, seed, scn_f)))
        longjob.show(FRONTIER_JOB, clears=(FRONTIER_ON,))
        if job.state == longjob.DONE:
            fr = _frontier_points(job.result)
        elif job.state == longjob.CANCELLED and job.partial:
            fr = _frontier_points(job.partial)
            st.caption(f"The frontier below has the {len(job.partial)} of {len(FRONTIER_WEIGHTS)} plans computed before "
                       "the cancel. Press **Compute the frontier** for all of them.")
    if fr is not None:
        table = fr.table
        ok = table[table["status"] != "infeasible"].copy()
        ok["E_musd"], ok["cvar_musd"] = ok["expected_npv_usd"] / 1e6, ok["cvar_usd"] / 1e6

        def frontier_chart() -> alt.LayerChart:
            current = pd.DataFrame({"E_musd": [s["expected_npv_usd"] / 1e6], "cvar_musd": [s["cvar_usd"] / 1e6],
                                    "label": ["current plan"]})
            pts = alt.Chart(ok).mark_line(point=True).encode(
                x=alt.X("cvar_musd:Q", title=f"CVaR {alpha:.0%} (USD million)", scale=alt.Scale(zero=False)),
                y=alt.Y("E_musd:Q", title="expected value (USD million)", scale=alt.Scale(zero=False)),
                tooltip=["risk_weight", alt.Tooltip("E_musd:Q", format=",.1f"), alt.Tooltip("cvar_musd:Q", format=",.1f"),
                         "sites_used"])
            cur = alt.Chart(current).mark_point(shape="diamond", size=160, filled=True, color="red").encode(
                x="cvar_musd:Q", y="E_musd:Q", tooltip=["label"])
            return pts + cur

        charts.show("risk_frontier", (fp, n, seed, len(ok)), frontier_chart, width="stretch", key="risk_frontier_chart")
        st.caption("Each point is the plan maximising (1 - w) x expected value + w x CVaR for a weight w; the red "
                   "diamond is the plan on the Plan tab. Pin a point below to set it beside your other plans on the Compare tab.")
        shown_table = pd.DataFrame({
            "CVaR weight": ok["risk_weight"], "expected value": ok["expected_npv_usd"].map(_musd),
            f"CVaR {alpha:.0%}": ok["cvar_usd"].map(_musd), "P5": ok["p5_usd"].map(_musd),
            "worse than selling": ok["prob_below_sell_all"].map(lambda v: f"{v:.1%}"),
            "rigs relocated": ok["rigs_relocated"].round(0), "rigs sold": ok["rigs_sold"].round(0),
            "sites used": ok["sites_used"]})
        st.dataframe(shown_table, hide_index=True, key="risk_frontier_table")
        pick, pin = st.columns([3, 1], vertical_alignment="bottom")
        pick.selectbox("Frontier plan", list(fr.plans), key=FRONTIER_PICK,
                       format_func=lambda k: f"CVaR weight {float(k.removeprefix('weight_')):.2f}")
        pin.button("Pin it for Compare", key="risk_frontier_pin", icon=":material/push_pin:",
                   on_click=_pin_frontier_plan, args=(scn_r, fr, source, n, seed),
                   help="Adds this plan to the Compare tab, beside your other pinned plans.")

    st.markdown("#### Stress tests: each jurisdiction banned in turn")
    month = int(st.number_input("Ban from month", min_value=0, max_value=scn.settings.horizon.months - 1, value=0,
                                key=STRESS_MONTH))
    go = st.button("Run the stress tests", key="risk_stress_go", icon=":material/bolt:")
    if go:
        st.session_state[STRESS_ON] = True
    scn_s, sfp = _fractional(scn)
    job = longjob.current(STRESS_JOB)
    table = None
    if st.session_state.get(STRESS_ON) or (job is not None and job.key == (sfp, month)):
        if st.session_state.get(STRESS_ON) and (go or job is None or job.key != (sfp, month)):
            job = longjob.start(STRESS_JOB, (sfp, month), "the stress tests",
                                lambda j: _stress(sfp, month, scn_s, j))
        longjob.show(STRESS_JOB, clears=(STRESS_ON,))
        if job.state == longjob.DONE:
            table = job.result
    if table is not None:
        def stress_chart() -> alt.LayerChart:
            data = table.assign(loss_musd=table["value_lost_usd"] / 1e6)
            chart = alt.Chart(data).mark_circle(size=120).encode(
                x=alt.X("ban_probability_horizon:Q", title="likelihood: ban within the horizon", axis=alt.Axis(format="%")),
                y=alt.Y("loss_musd:Q", title="impact: value lost after re-planning (USD million)"),
                tooltip=["jurisdiction", alt.Tooltip("ban_probability_horizon:Q", format=".1%"),
                         alt.Tooltip("loss_musd:Q", format=",.2f"),
                         alt.Tooltip("rigs_leaving_jurisdiction:Q", format=",.0f")])
            # names only on the largest losses (the rest crowd the corner where nothing is lost): tooltips name all
            named = data.nlargest(STRESS_LABELLED, "loss_musd")
            labels = alt.Chart(named).mark_text(dx=8, align="left").encode(
                x="ban_probability_horizon:Q", y="loss_musd:Q", text="jurisdiction:N")
            return chart + labels

        charts.show("risk_stress", (sfp, month), stress_chart, width="stretch", key="risk_stress_chart")
        st.dataframe(pd.DataFrame({
            "jurisdiction": table["jurisdiction"],
            "ban within horizon": table["ban_probability_horizon"].map(lambda v: f"{v:.1%}"),
            "value lost, re-planned": table["value_lost_usd"].map(_musd),
            "value lost, plan kept": table["value_lost_if_kept_usd"].map(_musd),
            "rigs there now": table["rigs_in_jurisdiction_base"].round(0),
            "rigs leaving": table["rigs_leaving_jurisdiction"].round(0)}).sort_values("jurisdiction"),
            hide_index=True, key="risk_stress_table")

    from .. import monthly_view  # SPEC section 8: what re-planning is worth over these sampled futures

    monthly_view.replay_samples(scn_r, n, seed)
