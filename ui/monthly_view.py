"""The monthly plan in the app (SPEC section 8): the plan switch beside the what-ifs, the re-planning state
("re-plan from here"), the static twin the static-only tabs read, the decision card's waves, and the
replay comparison (What happened: the scenario's history; Risk: sampled futures).

The switch is a what-if like the others (``ctl_monthly_enabled``, remembered per scenario and reset with
them): it sets ``monthly.enabled``, so the monthly plan is solved, cached and pinned by the same path as
the static plan (``ui.compute.solve``, keyed by the scenario's fingerprint). What has been done (state.csv)
and the re-plan month are kept per scenario in this session (``REPLANS``) and applied to the tables
before the what-ifs (``with_state``): the scenario on screen then carries state.csv and
``monthly.replan_month``, so the library saves and loads them with it like any scenario file.
"""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

import optimizer
from optimizer.inputs import tables as T
from optimizer.inputs.scenario import empty_table
from optimizer.results import fmt
from optimizer.risk import decision as D
from optimizer.risk import waves

from . import compute, controls
from .tabs.context import Context
from .trust import md_escape

SWITCH = controls.widget_key("monthly.enabled")  # the plan switch (a what-if): False static, True monthly
REPLANS = "monthly_replans"  # source label -> Replan: what has been done, applied to that scenario's tables
STATE_COLUMNS = [c.name for c in T.STATE.columns]  # action, origin, model, site, month, rigs
PLAN_LABELS = {False: "one decision now", True: "month by month"}
STATIC_NOTE = ("This tab shows the **static plan** (one decision now) of the same settings: "
               "it values decisions taken at month 0. The month-by-month plan is in the decision card and on the "
               "Plan, Schedule, Compare and Export tabs.")

SUMMED_NOTE = ("The month-by-month plan, each batch's decisions summed over the months (section 4's files): a "
               "site's MW is its busiest month. The Schedule tab has them month by month.")


@dataclass(frozen=True)
class Replan:
    """What has been done before ``month`` (state.csv's rows), to re-plan the rest from ``month``."""

    month: int  # monthly.replan_month (0 with no rows: the plan from the start)
    state: pd.DataFrame  # STATE_COLUMNS

    @property
    def key(self) -> str:
        text = self.state[STATE_COLUMNS].to_csv(index=False) + f"|{self.month}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- the switch and the state


def is_monthly(res: optimizer.Result | None) -> bool:
    return res is not None and getattr(res, "schedule", None) is not None


def switch(base: optimizer.Scenario) -> dict[str, Any]:
    """The plan switch, drawn in the current container (the sidebar's what-ifs); its override."""
    ss = st.session_state
    if SWITCH not in ss:
        ss[SWITCH] = bool(base.settings.monthly.enabled)
    # No help icon: it would be one more tab stop before the what-ifs (keyboard users: tests/test_browser_board.py)
    on = st.radio("Plan", [False, True], key=SWITCH, format_func=PLAN_LABELS.get, horizontal=True)
    st.caption("Month by month: waves as sites come online, later sales, re-planning (Schedule tab).")
    return {"monthly.enabled": bool(on)}


def replan_of(source: str) -> Replan | None:
    return st.session_state.get(REPLANS, {}).get(source)


def replans_to_json() -> dict[str, Any]:
    """This session's re-planning states, JSON-able (the workspace's autosave keeps them): source -> month, rows."""
    return {source: {"month": int(rp.month), "state": rp.state[STATE_COLUMNS].to_dict("records")}
            for source, rp in (st.session_state.get(REPLANS) or {}).items()}


def replans_from_json(items: dict[str, Any] | None) -> None:
    """Restore ``replans_to_json``'s states into this session (each is checked again when applied)."""
    for source, item in (items or {}).items():
        try:
            rows = pd.DataFrame(item.get("state") or [], columns=STATE_COLUMNS)
            st.session_state.setdefault(REPLANS, {})[source] = Replan(int(item["month"]), rows)
        except (KeyError, TypeError, ValueError):
            continue  # an autosave from another version: the plan starts from month 0


def with_state(source: str, tables: optimizer.Scenario) -> optimizer.Scenario:
    """``tables`` with this session's re-planning state for ``source`` (state.csv and monthly.replan_month), or
    as they are when there is none. A state the tables no longer fit (a batch or site edited away) is dropped,
    and the page says why."""
    rp = replan_of(source)
    if rp is None:
        return tables
    try:
        return compute.per_session("replan_tables", (compute.fingerprint(tables), rp.key),
                                   lambda: apply(tables, rp), 8)
    except optimizer.ScenarioError as exc:
        st.session_state[REPLANS].pop(source, None)
        st.warning("What you marked as done no longer fits the scenario's tables, so the plan starts from month 0 "
                   "again: " + md_escape("; ".join(str(p) for p in exc.problems)), icon=":material/warning:")
        return tables


def apply(scn: optimizer.Scenario, rp: Replan) -> optimizer.Scenario:
    """``scn`` re-planned from ``rp``: monthly.replan_month and state.csv (checked by the engine: ScenarioError)."""
    state = rp.state[STATE_COLUMNS].copy() if len(rp.state) else empty_table(T.STATE)
    if len(state):
        state["site"] = state["site"].fillna("").astype(str)
    if rp.month < scn.settings.monthly.replan_month:  # lower the month after the rows it must follow are gone
        return scn.with_tables(state=state).with_overrides({"monthly.replan_month": rp.month})
    return scn.with_overrides({"monthly.replan_month": rp.month}).with_tables(state=state)


# ---------------------------------------------------------------- tabs that show the static plan


def static_scenario(scn: optimizer.Scenario) -> optimizer.Scenario:
    """``scn`` with the static plan (monthly.enabled = false), kept as one object per session and fingerprint."""
    if not scn.settings.monthly.enabled:
        return scn
    return compute.per_session("static_twin", compute.fingerprint(scn),
                               lambda: scn.with_overrides({"monthly.enabled": False}), 8)


def static_context(ctx: Context) -> Context | None:
    """``ctx`` with the static plan of the same settings in place of the monthly one (None, with the reason shown,
    when the static plan does not solve)."""
    def twin(scn: optimizer.Scenario, res: optimizer.Result | None) -> tuple[optimizer.Scenario, str, Any]:
        s = static_scenario(scn)
        if s is scn:
            return scn, compute.fingerprint(scn), res
        fp = compute.fingerprint(s)
        return s, fp, (compute.solve(s, fp) if res is not None else None)

    try:
        scn, fp, res = twin(ctx.scn, ctx.res)
        shown_scn, shown_fp, shown = (scn, fp, res) if ctx.shown_scn is ctx.scn else twin(ctx.shown_scn, ctx.shown)
    except (optimizer.ScenarioError, optimizer.InfeasibleError, optimizer.SolverFailure) as exc:
        st.error(f"The static plan of these settings does not solve: {md_escape(str(exc))}", icon=":material/error:")
        return None
    return dataclasses.replace(ctx, scn=scn, fp=fp, res=res, shown_scn=shown_scn, shown_fp=shown_fp, shown=shown)


def for_tab(tab: Any, ctx: Context) -> Context | None:
    """The context a tab renders: ``ctx`` itself, or for a tab that values decisions taken at month 0 only
    (no ``MONTHLY``) while the monthly plan is on, the static plan's, said so at the top of the tab. A tab with
    ``MONTHLY = "summed"`` shows the monthly plan's section 4 files, and says they are summed over months."""
    if not ctx.scn.settings.monthly.enabled:
        return ctx
    if getattr(tab, "MONTHLY", False):
        if tab.MONTHLY == "summed" and is_monthly(ctx.shown):
            st.caption(SUMMED_NOTE)
        return ctx
    done = " It starts from month 0: what you marked as done is the month-by-month plan's." if (
        ctx.scn.settings.monthly.replan_month or len(ctx.scn.state)) else ""
    st.info(STATIC_NOTE + done, icon=":material/info:")
    return static_context(ctx)


# ---------------------------------------------------------------- the decision card


def complete(scn: optimizer.Scenario, fp: str, res: optimizer.Result) -> optimizer.Result:
    """A monthly plan's Result with the headline figures the page reads that its summary.json does not carry
    (SPEC section 8 writes none of them): sites_used, hashrate_relocated_ths and mw_relocated (from its
    allocation.csv), expected_value_usd, risk_charge_usd and value_vs_sell_all_usd (``expected_value_usd``).
    The figures of decisions taken at month 0 only (paybacks, ban odds of the moved hashrate, average power
    price) stay absent: the page shows them as n/a. The static plan's Result is returned as it is."""
    if not is_monthly(res) or "expected_value_usd" in res.summary:
        return res
    res.summary.update(compute.per_session("monthly_headline", fp, lambda: waves.headline_figures(scn, res), 8))
    return res


def decision(ctx: Context) -> D.Decision:
    """The decision card's figures for the monthly plan on screen: its schedule in waves and its expected value;
    the sampled odds and the hindsight are the static plan's (Risk, What happened), so they are left out here."""
    res = complete(ctx.shown_scn, ctx.shown_fp, ctx.shown)
    return D.decide(res.summary, res.allocation, None, None, schedule=res.schedule)


def card_waves(d: D.Decision) -> None:
    """Under the card's "What to do": the waves of the monthly plan, a short list (the Schedule tab has them all)."""
    lines = waves.wave_lines(d.schedule, d.whole_rigs, limit=6)
    if lines:
        st.markdown("\n".join(f"- {md_escape(line)}" for line in lines))
    st.caption("Month-by-month plan. Its odds over sampled futures and what re-planning is worth: "
               "the replay on the Risk and What happened tabs.")


# ---------------------------------------------------------------- schedule figures (the Schedule tab's)


# ---------------------------------------------------------------- replay (What happened, Risk)


def replay_scenario(scn: optimizer.Scenario) -> optimizer.Scenario:
    """The scenario replay values: these settings from month 0 (replay starts at month 0, no state.csv), in
    fractional rigs (the policy re-plans every month: a whole-rig plan each time takes minutes)."""
    out = scn if scn.settings.monthly.enabled else scn.with_overrides({"monthly.enabled": True})
    if len(out.state) or out.settings.monthly.replan_month:
        out = out.with_overrides({"monthly.replan_month": 0}) if not len(out.state) else \
            out.with_tables(state=empty_table(T.STATE)).with_overrides({"monthly.replan_month": 0})
    if out.settings.policy.integer_rigs:
        out = out.with_overrides({"policy.integer_rigs": False})
    return out


REPLAY_LABELS = {"sell_all_usd": "Sell everything now", "static_usd": "Static plan (one decision now)",
                 "unchanged_usd": "Monthly plan, carried out unchanged", "policy_usd": "Re-planning every month(s)",
                 "foresight_usd": "Perfect foresight"}


def replay_table(summary: dict[str, Any]) -> pd.DataFrame:
    """replay.json's figures as a table: one row per way to act (mean, P5, P50, P95, CVaR; USD), then the value of
    re-planning and of perfect information."""
    rows = []
    every = summary.get("replan_every", 1)
    for key, label in REPLAY_LABELS.items():
        s = summary[key.removesuffix("_usd")]
        if key == "policy_usd":
            label = f"Re-planning every {every} month{'s' if every != 1 else ''}"
        rows.append({"way to act": label, **{k: s[k] for k in ("mean_usd", "p5_usd", "p50_usd", "p95_usd", "cvar_usd")}})
    for key, label in (("value_of_replanning", "Value of re-planning (re-planning - unchanged)"),
                       ("value_of_perfect_information", "Value of perfect information (foresight - re-planning)")):
        s = summary[key]
        rows.append({"way to act": label, **{k: s[k] for k in ("mean_usd", "p5_usd", "p50_usd", "p95_usd", "cvar_usd")}})
    return pd.DataFrame(rows)


def show_replay(rep: Any, n_futures: int, where: str) -> None:
    """The replay's table (numbers, formatted as USD) and its one-line reading."""
    s = rep.summary
    table = replay_table(s)
    alpha = s.get("risk_alpha", 0.05)
    labels = {"mean_usd": "mean (USD)", "p5_usd": "P5 (USD)", "p50_usd": "P50 (USD)", "p95_usd": "P95 (USD)",
              "cvar_usd": f"CVaR {alpha:.0%}: mean of the worst {alpha:.0%} (USD)"}
    money = {c: st.column_config.NumberColumn(label, format="dollar") for c, label in labels.items()}
    if n_futures == 1:
        table = table[["way to act", "mean_usd"]].rename(columns={"mean_usd": "realised_usd"})
        money = {"realised_usd": st.column_config.NumberColumn("realised (USD)", format="dollar")}
    st.dataframe(table, hide_index=True, width="stretch", column_config=money, key=f"replay_table_{where}")
    best = max(("sell_all", "static", "unchanged", "policy"), key=lambda k: s[k]["mean_usd"])
    st.caption(f"{'On the history' if n_futures == 1 else f'Mean over {n_futures:,} futures'}: re-planning adds "
               f"{fmt.usd(s['value_of_replanning']['mean_usd'])} to the monthly plan carried out unchanged; knowing the "
               f"future would add {fmt.usd(s['value_of_perfect_information']['mean_usd'])} more. Best of the four that "
               f"can be carried out: {REPLAY_LABELS[best + '_usd'].lower()}. Values are the realised NPV of the "
               "decisions carried out (no ban-risk weighting, no caution charge; the same numbers as "
               "the command-line tool's replay). Fractional rig counts.")


@st.cache_data(show_spinner=False, max_entries=8, ttl=compute.CACHE_TTL_S)
def _replay_history(fp: str, folder: str, _scn: optimizer.Scenario) -> Any:
    from optimizer.risk import replay as R

    return R.replay(_scn, R.futures_from_history(_scn, folder))


def replay_history(ctx: Context, folder: Path) -> None:
    """The What happened tab's replay: the five ways to act on the scenario's history."""
    st.markdown("##### Month by month: what re-planning would have realised")
    st.caption("Five ways to act, each valued on what came: sell everything now, the static plan, "
               "the month-by-month plan carried out unchanged, re-planning it every month as the hashprice, the "
               "resale prices and the bans are revealed, and the best plan knowing the whole history.")
    try:
        scn = replay_scenario(ctx.scn)
        fp = compute.fingerprint(scn)
        with st.spinner("Replaying the history month by month (the re-planning policy re-solves every month)..."):
            rep = compute.per_session("replay_history", (fp, str(folder)),
                                      lambda: _replay_history(fp, str(folder), scn), 2)
    except (optimizer.ScenarioError, optimizer.InfeasibleError, optimizer.SolverFailure) as exc:
        st.warning("The replay cannot be computed for these settings: " + md_escape(str(exc)), icon=":material/warning:")
        return
    show_replay(rep, 1, "history")


REPLAY_N, REPLAY_GO = "replay_n", "replay_go"
REPLAY_DEFAULT_N = 24


class ProgressRunner:
    """A ``scaleout.Runner`` stand-in for ``replay``: its chunks of futures run a few at a time on the configured
    runner (local cores, or RIGSHIFT_DASK_SCHEDULER's cluster) under a progress bar with the time left, estimated
    from the seconds per chunk so far. The numbers are ``replay``'s own whatever the grouping."""

    def __init__(self, inner: Any, group: int, label: str) -> None:
        self.inner, self.group, self.label = inner, max(1, group), label

    def __getattr__(self, name: str) -> Any:
        """Everything else (the cluster client, the thread count) is the configured runner's."""
        return getattr(self.inner, name)

    def map(self, fn: Any, items: list[Any], /, **shared: Any) -> list[Any]:
        items = list(items)
        groups = [items[i: i + self.group] for i in range(0, len(items), self.group)]
        steps = [(f"{self.label} {i + 1} of {len(groups)}", len(g), (lambda g=g: self.inner.map(fn, g, **shared)))
                 for i, g in enumerate(groups)]
        return [r for part in compute.run_with_progress(steps, key="replay_progress") for r in part]


@st.cache_data(show_spinner=False, max_entries=8, ttl=compute.CACHE_TTL_S)
def _replay_samples(fp: str, n: int, seed: int, n_replay: int, _scn: optimizer.Scenario) -> Any:
    """``replay`` over the first ``n_replay`` futures of the sample set (n, seed) of the scenario ``fp``."""
    from optimizer.risk import replay as R
    from optimizer.risk import samples as sampler
    from optimizer.risk.scaleout import Runner, workers

    futures = R.futures_from_sample_set(_scn, sampler.draw(_scn, n, seed).subset(0, n_replay))
    with Runner.from_env() as inner:
        return R.replay(_scn, futures, ProgressRunner(inner, workers(inner), "group of futures"))


def replay_samples(scn_r: optimizer.Scenario, n: int, seed: int) -> None:
    """The Risk tab's replay over its sampled futures (the tab's sampler settings), on demand, with a progress bar,
    cached per scenario fingerprint and settings (st.cache_data, bounded)."""
    st.markdown("#### Month by month: what re-planning is worth over sampled futures")
    st.caption("Each sampled future (the sampler and seed above) valued five ways: sell everything now, the static "
               "plan, the month-by-month plan carried out unchanged, re-planning every month as the future is "
               "revealed, and perfect foresight (the command-line tool's replay with samples). The "
               "re-planning policy solves a plan every month of every future, so it runs on demand, on the first "
               "futures of the sample set.")
    n_replay = int(st.number_input("Futures to replay", min_value=1, max_value=max(1, n),
                                   value=min(REPLAY_DEFAULT_N, max(1, n)), step=10, key=REPLAY_N,
                                   help="The first futures of the sample set above (same seed)."))
    if st.button(f"Replay {n_replay:,} futures", key=REPLAY_GO, icon=":material/replay:"):
        st.session_state["replay_on"] = True
    if not st.session_state.get("replay_on"):
        return
    try:
        scn = replay_scenario(scn_r)
        fp = compute.fingerprint(scn)
        rep = compute.per_session("replay_samples", (fp, n, seed, n_replay),
                                  lambda: _replay_samples(fp, n, seed, n_replay, scn), 2)
    except (optimizer.ScenarioError, optimizer.InfeasibleError, optimizer.SolverFailure) as exc:
        st.warning("The replay cannot be computed for these settings: " + md_escape(str(exc)), icon=":material/warning:")
        return
    show_replay(rep, n_replay, "samples")
