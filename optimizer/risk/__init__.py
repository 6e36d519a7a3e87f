"""Plans over sampled futures (SPEC section 7): per-sample values, summary statistics, the
risk-aware plan, its frontier and stress tests.

Value of relocating one rig (m, o) to site s in sample k:

    V_k = sum_t d_t * a_t * B_k,t * margin_k,t + terminal - upfront

B_k,t = 0 in months ban_month <= t < end_month of the site's jurisdiction in sample k (end_month
= H unless bans.csv gives one: SPEC sections 8-9), else 1; margin_k,t is
section 2's margin_t (section 6 where present) with hp_t * factor_k,t, the max(0, .) taken per
sample and month. No S_t and no risk penalty: the sample realises the risk. A plan's value in
sample k: NPV_k = sum V_k x + sum resale sell + sum terminal idle - sum fixed_cost y.

Work is chunked over samples (each chunk's arrays stay under ``CHUNK_BYTES``) and the chunks
run through an ``optimizer.risk.scaleout.Runner``: local cores or a Dask cluster, same numbers.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from optimizer.solver import guard

from optimizer import economics
from optimizer.inputs import tables as T
from optimizer.solver.diagnose import explain_infeasible
from optimizer.economics import Economics
from optimizer.engine import solve as solve_plan
from optimizer.inputs.errors import InfeasibleError, Problem, ScenarioError, SolverFailure
from optimizer.model import build_model, model_mode
from optimizer.analysis import analyse
from optimizer.engine import finish
from optimizer.results import Result, _jsonable, assemble, write_files
from optimizer.risk.model import define_cvar, outcome_matrix
from optimizer.risk.samples import SampleSet
from optimizer.risk import decomposed, scaleout
from optimizer.risk.scaleout import Runner
from optimizer.inputs.check import check
from optimizer.inputs.scenario import Scenario
from optimizer.inputs.values import is_missing
from optimizer.solver.backends import solve_model

CHUNK_BYTES = 128 * 2**20  # per chunk: a few (samples x pairs x months) float arrays of this size
FULL_MATRIX_BYTES = 512 * 2**20  # solve_risk keeps every pair's V_k in memory below this
RISK_JSON_KEYS = ["expected_npv_usd", "expected_npv_se_usd", "p5_usd", "p50_usd", "p95_usd", "prob_below_sell_all",
                  "cvar_usd", "risk_alpha", "n_samples"]


# ---------------------------------------------------------------------------- per-sample values


@dataclass(frozen=True)
class PairTerms:
    """What V_k needs for P (group, site) pairs: the month path, the jurisdiction, the fixed part."""

    path: economics.MarginPath  # arrays (P, T)
    jurisdiction: np.ndarray  # (P,) index into SampleSet.jurisdictions
    fixed_usd: np.ndarray  # (P,) terminal - upfront


def pair_terms(scn: Scenario, econ: Economics, samples: SampleSet, gi: np.ndarray, si: np.ndarray) -> PairTerms:
    """PairTerms for relocations of groups ``gi`` to sites ``si`` (1-D, same length P).

    Raises ScenarioError if a site's jurisdiction is not in the sample set (drawn for another scenario).
    """
    gi, si = np.asarray(gi, np.int64), np.asarray(si, np.int64)
    path = economics.margin_path(scn, econ.group_model[gi], si, econ.lead_days[econ.group_origin[gi], si])
    juris = pd.Index(samples.jurisdictions).get_indexer(scn.sites["jurisdiction"].to_numpy()[si])
    if (juris < 0).any():
        raise ScenarioError(Problem("bans.csv", None, "jurisdiction", "the sample set was drawn for other jurisdictions",
                                    "draw it again from this scenario with `python -m optimizer sample`"))
    return PairTerms(path, juris, econ.terminal_usd[gi] - econ.upfront_usd[gi, si])


def relocation_values(terms: PairTerms, samples: SampleSet) -> np.ndarray:
    """V_k per rig for every sample and pair, (K, P) USD. Memory-bounded: loops over sample chunks."""
    P = len(terms.fixed_usd)
    K, H = samples.n, samples.months
    out = np.empty((K, P))
    if P == 0 or K == 0:
        return out
    w = terms.path.discount * terms.path.availability  # (P, T): d_t a_t, no S_t
    if samples.factor is None:
        # Every factor is 1: margin_k,t = margin_t, and B_k,t keeps months t < ban month, so
        # V_k = fixed + C[p, ban_k] with C[p, b] = sum_{t < b} w m (prefix sums).
        cum = np.concatenate([np.zeros((P, 1)), np.cumsum(w * terms.path.margin(), axis=1)], axis=1)
        step = max(1, CHUNK_BYTES // (16 * P))
        for a in range(0, K, step):
            ban = samples.ban_month[a:a + step][:, terms.jurisdiction]  # (k, P)
            out[a:a + step] = terms.fixed_usd + cum[np.arange(P)[None, :], ban]
            if samples.ban_end is not None:  # a stop that ends: months end..H-1 count again
                end = samples.ban_end[a:a + step][:, terms.jurisdiction]
                out[a:a + step] += cum[:, -1][None, :] - cum[np.arange(P)[None, :], end]
        return out
    step = max(1, CHUNK_BYTES // (8 * P * (H + 1)))
    for a in range(0, K, step):
        f = samples.factor[a:a + step][:, None, :]  # (k, 1, T)
        m = w * terms.path.margin(f)  # (k, P, T)
        cum = np.concatenate([np.zeros(m.shape[:2] + (1,)), np.cumsum(m, axis=2)], axis=2)
        del m
        ban = samples.ban_month[a:a + step][:, terms.jurisdiction]  # (k, P)
        out[a:a + step] = terms.fixed_usd + np.take_along_axis(cum, ban[:, :, None], axis=2)[:, :, 0]
        if samples.ban_end is not None:  # a stop that ends: months end..H-1 count again
            end = samples.ban_end[a:a + step][:, terms.jurisdiction]
            out[a:a + step] += cum[:, :, -1] - np.take_along_axis(cum, end[:, :, None], axis=2)[:, :, 0]
    return out


@dataclass(frozen=True)
class Plan:
    """A plan as numbers: relocations per (group, site) pair and the value of everything else."""

    gi: np.ndarray  # (P,) group of each relocation
    si: np.ndarray  # (P,) site
    rigs: np.ndarray  # (P,)
    constant_usd: float  # sum resale * sell + terminal * idle - fixed costs of opened sites
    sell_all_usd: float  # value of selling the whole fleet now


def plan_from_allocation(scn: Scenario, econ: Economics, allocation: pd.DataFrame, file: str = "allocation.csv") -> Plan:
    """A Plan from an allocation table (the columns of allocation.csv); a site with rigs counts as opened."""
    problems: list[Problem] = []
    needed = ["action", "origin", "model", "site", "rigs"]
    missing = [c for c in needed if c not in allocation.columns]
    if missing:
        raise ScenarioError([Problem(file, 1, c, "required column is missing") for c in missing])
    groups = {(econ.origins[o], econ.models[m]): g for g, (o, m) in enumerate(zip(econ.group_origin, econ.group_model))}
    site_index = {s: i for i, s in enumerate(econ.sites)}
    rows = allocation["_row"].tolist() if "_row" in allocation.columns else list(range(2, len(allocation) + 2))
    gi, si, rigs = [], [], []
    sell = np.zeros(econ.n_groups)
    idle = np.zeros(econ.n_groups)
    for r, action, origin, model, site, n in zip(rows, allocation["action"], allocation["origin"], allocation["model"],
                                                 allocation["site"], allocation["rigs"]):
        action = str(action).strip()
        g = groups.get((str(origin).strip(), str(model).strip()))
        try:
            count = float(n)
        except (TypeError, ValueError):
            problems.append(Problem(file, int(r), "rigs", f"{n!r} is not a number"))
            continue
        if not math.isfinite(count) or count < 0:
            problems.append(Problem(file, int(r), "rigs", f"{n!r} is out of range: must be >= 0"))
            continue
        if g is None:
            problems.append(Problem(file, int(r), "origin", f"no fleet row for origin '{origin}' and model '{model}'"))
            continue
        if action == "relocate":
            s = site_index.get("" if is_missing(site) else str(site).strip())
            if s is None:
                problems.append(Problem(file, int(r), "site", f"unknown site '{site}': not in sites.csv"))
                continue
            gi.append(g), si.append(s), rigs.append(count)
        elif action == "sell":
            sell[g] += count
        elif action == "idle":
            idle[g] += count
        else:
            problems.append(Problem(file, int(r), "action", f"'{action}' is not relocate, sell or idle"))
    if problems:
        raise ScenarioError(problems[: T.MAX_PROBLEMS_PER_FILE])
    gi_a, si_a, rigs_a = np.array(gi, np.int64), np.array(si, np.int64), np.array(rigs, float)
    placed = np.bincount(gi_a, weights=rigs_a, minlength=econ.n_groups) + sell + idle
    # A solver's plan may exceed a count by its feasibility tolerance (about 1e-7 relative); a typo does not.
    over = np.nonzero(placed > econ.count * (1 + 1e-6) + 1e-6)[0]
    for g in over:
        problems.append(Problem(file, None, "rigs", f"the plan places {placed[g]:,.6f} rigs of {econ.models[econ.group_model[g]]} "
                                f"from {econ.origins[econ.group_origin[g]]}; the fleet has {econ.count[g]}"))
    if problems:
        raise ScenarioError(problems)
    opened = np.unique(si_a[rigs_a > 0])
    fixed = float(scn.sites["fixed_cost_usd"].to_numpy(float)[opened].sum())
    constant = float(sell @ econ.resale_usd + idle @ econ.terminal_usd) - fixed
    return Plan(gi_a, si_a, rigs_a, constant, float(econ.resale_usd @ econ.count))


def read_plan(scn: Scenario, econ: Economics, path: str | Path) -> Plan:
    """A Plan from an allocation.csv file, checked (exit 2 with file, row, column on bad input)."""
    path = Path(path)
    spec = T.TableSpec(path.name, (T.Column("action", "text", "", ""), T.Column("origin", "text", "", ""),
                                   T.Column("model", "text", "", ""), T.Column("rigs", "float", "rigs", "")), key=())
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(Problem(str(path), None, None, f"cannot be read: {exc.strerror or exc}")) from None
    text, problems = T.decode(data, path.name)
    frame = None
    if text is not None:
        frame, problems = T.parse_csv_text(text, spec)
    if frame is None:
        raise ScenarioError(problems)
    if "site" not in frame.columns:
        raise ScenarioError(Problem(path.name, 1, "site", "required column is missing"))
    return plan_from_allocation(scn, econ, frame, path.name)


def plan_from_result(scn: Scenario, econ: Economics, result: Result) -> Plan:
    return plan_from_allocation(scn, econ, result.allocation)


@dataclass(frozen=True)
class PlanTerms:
    """A plan's relocations folded by jurisdiction and month, for the threshold form of NPV_k.

    With weights x_p w_p,t (w = d_t a_t), revenue R, power P and hosting h per pair, a rig runs
    in a sample-month iff R f > P, i.e. f > theta = P / R. So, for jurisdiction j and month t,
        sum_p x_p w_p,t (max(0, R f - P) - h) = f * sum_{theta < f} x w R - sum_{theta < f} x w P - sum_p x w h,
    which prefix sums over the pairs sorted by theta give for every sample in O(log P): the
    max(0, .) still applies per pair, sample and month, exactly.
    """

    jurisdictions: np.ndarray  # (J',) indices into SampleSet.jurisdictions
    theta: list[np.ndarray]  # per jurisdiction, (P_j, T) thresholds sorted along pairs
    revenue_cum: list[np.ndarray]  # per jurisdiction, (P_j + 1, T) prefix sums of x w R in theta order
    power_cum: list[np.ndarray]  # likewise of x w P
    hosting: np.ndarray  # (J', T) sum_p x w h
    fixed_usd: float  # sum_p x_p (terminal - upfront) + the plan's constant part


def plan_terms(terms: PairTerms, rigs: np.ndarray, constant_usd: float) -> PlanTerms:
    path = terms.path
    w = rigs[:, None] * path.discount * path.availability  # (P, T)
    rev, power = path.revenue_usd, path.running_cost_usd()  # power and the management fee: paid only while running
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(rev > 0, power / rev, np.inf)
    juris = np.unique(terms.jurisdiction)
    thetas, rcum, pcum, host = [], [], [], []
    for j in juris:
        sel = terms.jurisdiction == j
        order = np.argsort(theta[sel], axis=0, kind="stable")
        thetas.append(np.take_along_axis(theta[sel], order, axis=0))
        zero = np.zeros((1, theta.shape[1]))
        rcum.append(np.concatenate([zero, np.cumsum(np.take_along_axis((w * rev)[sel], order, axis=0), axis=0)]))
        pcum.append(np.concatenate([zero, np.cumsum(np.take_along_axis((w * power)[sel], order, axis=0), axis=0)]))
        host.append((w[sel] * path.hosting_usd[sel][:, None]).sum(axis=0))
    H = theta.shape[1]
    return PlanTerms(juris, thetas, rcum, pcum, np.array(host).reshape(len(juris), H),
                     float(rigs @ terms.fixed_usd) + constant_usd)


def _monthly_by_jurisdiction(pt: PlanTerms, samples: SampleSet) -> np.ndarray:
    """(K, J', T): the plan's discounted operating margin per jurisdiction and month, before bans."""
    K, H = samples.n, samples.months
    factor = samples.factor if samples.factor is not None else np.ones((K, H))
    monthly = np.empty((K, len(pt.jurisdictions), H))
    for jj in range(len(pt.jurisdictions)):
        th, rc, pc = pt.theta[jj], pt.revenue_cum[jj], pt.power_cum[jj]
        for t in range(H):
            f = factor[:, t]
            idx = np.searchsorted(th[:, t], f, side="left")  # pairs running: theta < f
            monthly[:, jj, t] = f * rc[idx, t] - pc[idx, t] - pt.hosting[jj, t]
    return monthly


def npv_by_sample(pt: PlanTerms, samples: SampleSet) -> np.ndarray:
    """NPV_k of a plan (folded by ``plan_terms``) in each sample, (K,) USD."""
    monthly = _monthly_by_jurisdiction(pt, samples)
    cum = np.concatenate([np.zeros(monthly.shape[:2] + (1,)), np.cumsum(monthly, axis=2)], axis=2)
    ban = samples.ban_month[:, pt.jurisdictions]  # (K, J'): months t < ban count
    earned = np.take_along_axis(cum, ban[:, :, None], axis=2)[:, :, 0]
    if samples.ban_end is not None:  # and months t >= end, where a stop ends within the horizon
        end = samples.ban_end[:, pt.jurisdictions]
        earned = earned + (cum[:, :, -1] - np.take_along_axis(cum, end[:, :, None], axis=2)[:, :, 0])
    total = np.zeros(len(earned))
    for jj in range(earned.shape[1]):  # in order: the same bits for a sample whatever chunk it is in (numpy's
        total += earned[:, jj]  # sum(axis=1) takes another path for a single row)
    return pt.fixed_usd + total


def operating_paths(pt: PlanTerms, samples: SampleSet) -> np.ndarray:
    """(K, T): the plan's discounted operating value earned by the end of each month, bans applied.

    NPV_k = operating_paths[k, -1] + pt.fixed_usd (terminal - upfront, sales, storage, fixed costs).
    """
    monthly = _monthly_by_jurisdiction(pt, samples)
    t = np.arange(samples.months)[None, None, :]
    alive = t < samples.ban_month[:, pt.jurisdictions][:, :, None]
    if samples.ban_end is not None:
        alive |= t >= samples.ban_end[:, pt.jurisdictions][:, :, None]
    return np.cumsum((monthly * alive).sum(axis=1), axis=1)


def _npv_range(start: int, stop: int, samples: SampleSet, plan: PlanTerms) -> np.ndarray:
    return npv_by_sample(plan, samples.subset(start, stop))


def _chunks(samples: SampleSet, n_pairs: int, parts: int) -> list[SampleSet]:
    """Sample chunks: at least ``parts`` (for parallelism), each small enough for CHUNK_BYTES."""
    per = max(1, CHUNK_BYTES // max(1, 8 * n_pairs * (samples.months + 1)))
    size = max(1, min(per, math.ceil(samples.n / max(parts, 1))))
    return [samples.subset(a, min(a + size, samples.n)) for a in range(0, samples.n, size)]


def plan_npv(scn: Scenario, econ: Economics, plan: Plan, samples: SampleSet, runner: Runner | None = None) -> np.ndarray:
    """NPV_k of a plan in every sample, (K,) USD: the per-sample evaluator of SPEC section 7.

    Only the plan's used pairs are evaluated, folded by jurisdiction and month (``plan_terms``),
    so memory and time grow with samples x jurisdictions x months, not with the plan's size.
    Equals ``relocation_values(pair_terms(...), samples) @ rigs + plan.constant_usd`` (tested).
    """
    keep = plan.rigs > 0
    terms = pair_terms(scn, econ, samples, plan.gi[keep], plan.si[keep])
    folded = plan_terms(terms, plan.rigs[keep], plan.constant_usd)
    runner = runner or Runner()
    # the sample set goes to a cluster's workers once per Runner, tasks carry index ranges (scaleout.map_ranges)
    parts = scaleout.map_ranges(runner, _npv_range, samples.n, {"samples": samples},
                                16.0 * len(folded.jurisdictions) * (samples.months + 1), plan=folded)
    return np.concatenate(parts) if parts else np.zeros(0)


# ---------------------------------------------------------------------------- statistics


def weighted_lower_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The smallest v among the values with sum of weights of values <= v at least q."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    i = int(np.searchsorted(cum, q * cum[-1] * (1 - 1e-12), side="left"))
    return float(values[order][min(i, len(values) - 1)])


def cvar(values: np.ndarray, weights: np.ndarray, alpha: float) -> float:
    """Lower-tail CVaR_alpha = max_eta { eta - (1/alpha) sum w_k max(0, eta - v_k) } (Rockafellar-Uryasev).

    The maximum is reached at eta = the lower alpha-quantile (VaR), so this is exact: the
    weight-averaged worst alpha share of outcomes. Weights must sum to 1.
    """
    var = weighted_lower_quantile(values, weights, alpha)
    return float(var - (weights * np.maximum(0.0, var - values)).sum() / alpha)


def summarize(npv: np.ndarray, weights: np.ndarray, alpha: float, sell_all_usd: float) -> dict[str, float]:
    """risk.json's numbers for per-sample NPVs with weights summing to 1."""
    mean = float(weights @ npv)
    return {
        "expected_npv_usd": mean,
        # the sampling error of that mean: sqrt(sum w_k^2 (NPV_k - mean)^2), sd / sqrt(n) for equal weights
        "expected_npv_se_usd": float(np.sqrt((weights ** 2) @ (npv - mean) ** 2)),
        "p5_usd": weighted_lower_quantile(npv, weights, 0.05),
        "p50_usd": weighted_lower_quantile(npv, weights, 0.50),
        "p95_usd": weighted_lower_quantile(npv, weights, 0.95),
        # strictly below, beyond solver noise (an LP plan's rig counts come back as 8999.999999999995)
        "prob_below_sell_all": float(weights[npv < sell_all_usd - 1e-9 * max(1.0, abs(sell_all_usd))].sum()),
        "cvar_usd": cvar(npv, weights, alpha),
        "risk_alpha": float(alpha),
        "n_samples": int(len(npv)),
    }


@dataclass
class RiskReport:
    """A plan's outcomes over a sample set: risk.csv (per sample) and risk.json (summary)."""

    per_sample: pd.DataFrame  # sample, npv_usd
    summary: dict[str, Any]

    def files(self) -> dict[str, str]:
        return {"risk.csv": self.per_sample.to_csv(index=False, lineterminator="\n", float_format="%.17g"),
                "risk.json": json.dumps(_jsonable({k: self.summary[k] for k in RISK_JSON_KEYS}), indent=2) + "\n"}

    def write(self, out_dir: str | Path) -> Path:
        return write_files(out_dir, self.files())


def evaluate(scn: Scenario, samples: SampleSet, plan: Plan | None = None, runner: Runner | None = None,
             econ: Economics | None = None) -> RiskReport:
    """A plan's value in every sample and its summary (``plan`` None: the plan ``solve`` makes)."""
    econ = econ or economics.compute(scn)
    if plan is None:
        plan = plan_from_result(scn, econ, solve_plan(scn, details=False))
    npv = plan_npv(scn, econ, plan, samples, runner)
    summary = summarize(npv, samples.weight, scn.settings.risk.alpha, plan.sell_all_usd)
    summary["sell_all_usd"] = plan.sell_all_usd
    return RiskReport(pd.DataFrame({"sample": samples.sample, "npv_usd": npv}), summary)


# ---------------------------------------------------------------------------- risk-aware plan


def _values_chunk(chunk: SampleSet, terms: PairTerms, reduce: str) -> Any:
    v = relocation_values(terms, chunk)
    if reduce == "full":
        return v
    return v.max(axis=0), chunk.weight @ v


def _sample_values(scn: Scenario, econ: Economics, samples: SampleSet, gi: np.ndarray, si: np.ndarray,
                   runner: Runner, reduce: str) -> Any:
    terms = pair_terms(scn, econ, samples, gi, si)
    parts = runner.map(_values_chunk, _chunks(samples, len(gi), parts=8), terms=terms, reduce=reduce)
    if reduce == "full":
        return np.concatenate(parts) if parts else np.zeros((0, len(gi)))
    return np.max([p[0] for p in parts], axis=0), np.sum([p[1] for p in parts], axis=0)


def solve_risk(scn: Scenario, samples: SampleSet, runner: Runner | None = None) -> Result:
    """The risk-aware plan: maximise (1 - beta) E + beta CVaR_alpha s.t. section 3 (and the CVaR floor).

    Returns a Result like ``optimizer.solve``; ``value_usd`` in allocation.csv is rigs x the
    expected V_k; summary.json's objective_usd is the objective above and it adds
    expected_npv_usd, cvar_usd, risk_alpha, risk_weight, n_samples (and p5/p50/p95_usd,
    prob_below_sell_all). Raises ScenarioError, InfeasibleError or SolverFailure like solve.
    """
    problems, _ = check(scn, only=("exclusions",))
    if problems:
        raise ScenarioError(problems)
    if samples.months != scn.settings.horizon.months:
        raise ScenarioError(Problem("samples", None, None, f"the sample set covers {samples.months} months; "
                                    f"the scenario's horizon is {scn.settings.horizon.months}"))
    if scn.settings.concentration.breakpoints_share:  # issue 21's charge is section 3's only (docs/model.md)
        raise ScenarioError(Problem("scenario.toml", None, "concentration.breakpoints_share",
                                    "the concentration charge is priced in section 3's plan, not in the risk-aware plan",
                                    "set concentration.breakpoints_share = [] to solve with a sample set"))
    runner = runner or Runner()
    rs = scn.settings.risk
    econ = economics.compute(scn)
    G, S = econ.n_groups, len(econ.sites)
    if decomposed.use_cuts(rs.method, scn.settings.solver.name, samples.n, G * S, model_mode(scn)):
        return _solve_risk_cuts(scn, econ, samples, runner)
    gg, ss = np.divmod(np.arange(G * S), S)
    everything = None
    if G * S * samples.n * 8 <= FULL_MATRIX_BYTES:  # one pass: every pair's V_k, kept columns sliced out below
        everything = _sample_values(scn, econ, samples, gg, ss, runner, reduce="full")
        vmax, vmean = everything.max(axis=0), samples.weight @ everything
    else:  # two passes: max and mean per pair, then V_k of the columns the model keeps
        vmax, vmean = _sample_values(scn, econ, samples, gg, ss, runner, reduce="maxmean")
    # Pruning (model.dominated) drops x[g,s] whose value never beats selling or storing; in
    # every sample, so with the best sampled value: then NPV_k only rises in every sample.
    econ_max = dataclasses.replace(econ, value_usd=vmax.reshape(G, S))
    # allocation.csv's value_usd: rigs x the sampled expected V_k (no risk charge: the samples carry the risk)
    econ_mean = dataclasses.replace(econ, value_usd=vmean.reshape(G, S), penalty_usd=np.zeros((G, S)))
    model = build_model(scn, econ_max)
    if everything is not None:
        x_values = everything[:, model.x_group * S + model.x_site]
    else:
        x_values = _sample_values(scn, econ, samples, model.x_group, model.x_site, runner, reduce="full")
    outcomes = outcome_matrix(model, x_values, econ.resale_usd, econ.terminal_usd,
                              scn.sites["fixed_cost_usd"].to_numpy(float))
    define_cvar(model, outcomes, samples.weight, rs.alpha, rs.weight, rs.cvar_floor_usd,
                [str(s) for s in samples.sample])
    solver = scn.settings.solver
    if solver.name == "highs" and solver.backend == "auto" and outcomes.nnz > 200_000:
        solver = dataclasses.replace(solver, backend="direct")  # PuLP's per-term objects dominate past this
    raw = solve_model(model, solver)
    npv = np.asarray(outcomes @ raw.x[: outcomes.shape[1]]).ravel() if raw.status != "infeasible" else None
    return _risk_result(scn, econ, econ_mean, model, raw, npv, samples)


def _risk_result(scn: Scenario, econ: Economics, econ_mean: Economics, model, raw, npv: np.ndarray | None,
                 samples: SampleSet) -> Result:
    """The risk-aware plan's Result from either method's solution (``npv``: NPV_k of the plan)."""
    rs = scn.settings.risk
    guard.check(scn, econ, model, raw, check_objective=False)  # the plan's rules, re-derived (optimizer/solver/guard.py)
    if raw.status == "infeasible":
        reasons = explain_infeasible(scn, econ, build_model(scn, econ))
        if rs.cvar_floor_usd is not None:
            reasons = reasons + [f"or no plan reaches a CVaR_{rs.alpha:g} of ${rs.cvar_floor_usd:,.0f} "
                                 "(risk.cvar_floor_usd): lower the floor"]
        raise InfeasibleError(reasons)
    result, plan = assemble(scn, econ_mean, model, raw)
    analyse(result, plan, scn, econ_mean, model, raw, details=False)
    stats = summarize(npv, samples.weight, rs.alpha, float(econ.resale_usd @ econ.count))
    result.summary.update(stats)
    # section 2's KPIs restated for the sampled futures: the expected value is the samples' mean
    result.summary["expected_value_usd"] = stats["expected_npv_usd"]
    result.summary["risk_charge_usd"] = 0.0
    result.summary["value_vs_sell_all_usd"] = stats["expected_npv_usd"] - result.summary["sell_all_usd"]
    result.summary["risk_weight"] = rs.weight
    result.summary["cvar_floor_usd"] = rs.cvar_floor_usd
    return result


def _solve_risk_cuts(scn: Scenario, econ: Economics, samples: SampleSet, runner: Runner) -> Result:
    """solve_risk by cutting planes (``optimizer.risk.decomposed``): no per-sample rows, no (K, P) matrix."""
    rs = scn.settings.risk
    if scn.settings.solver.name != "highs":
        raise ScenarioError(Problem("scenario settings", None, "risk.method",
                                    "the cutting-plane method (risk.method = \"cuts\") solves with HiGHS only",
                                    "set solver.name = \"highs\" or risk.method = \"full\""))
    if model_mode(scn) == "mip":
        raise ScenarioError(Problem("scenario settings", None, "risk.method",
                                    "the cutting-plane method (risk.method = \"cuts\") is for LP mode; this plan is a "
                                    "MIP (whole rigs, fixed site costs or minimum loads)",
                                    "set risk.method = \"full\" (or \"auto\", which chooses it for a MIP)"))
    G, S = econ.n_groups, len(econ.sites)
    gg, ss = np.divmod(np.arange(G * S), S)
    every = pair_terms(scn, econ, samples, gg, ss)
    # pruning (model.dominated) with an upper bound of each pair's best sampled value: safe, as in solve_risk
    econ_max = dataclasses.replace(econ, value_usd=decomposed.value_upper_bound(every, samples).reshape(G, S))
    vmean = decomposed.sample_weighted_values(every, samples, samples.weight)
    econ_mean = dataclasses.replace(econ, value_usd=vmean.reshape(G, S), penalty_usd=np.zeros((G, S)))
    del every
    model = build_model(scn, econ_max)
    weighted = decomposed.SampleWeightedValues(pair_terms(scn, econ, samples, model.x_group, model.x_site), samples)
    per_column = np.zeros(model.n_cols)  # what a sell, idle or y column adds to NPV_k in every sample
    for cols, usd in ((model.sell_col, econ.resale_usd), (model.idle_col, econ.terminal_usd),
                      (model.y_col, -scn.sites["fixed_cost_usd"].to_numpy(float))):
        if cols is not None:
            per_column[cols] = usd
    n_x, sell_all = model.n_x, float(econ.resale_usd @ econ.count)

    def values(omega: np.ndarray) -> np.ndarray:
        out = per_column * omega.sum()
        out[:n_x] = weighted(omega)
        return out

    def npv(x: np.ndarray) -> np.ndarray:
        plan = Plan(model.x_group, model.x_site, x[:n_x], float(x[n_x:] @ per_column[n_x:]), sell_all)
        return plan_npv(scn, econ, plan, samples, runner)

    sol = decomposed.solve_cuts(model, decomposed.Oracle(values, npv, cvar), samples.weight, rs.alpha, rs.weight,
                                rs.cvar_floor_usd, scn.settings.solver)
    result = _risk_result(scn, econ, econ_mean, sol.model, sol.raw, sol.npv, samples)
    st = sol.stats
    result.timings.update({"risk_cut_rounds": st.rounds, "risk_cuts": st.cuts, "risk_master_columns": st.columns_in_master,
                           "risk_master_s": st.master_seconds, "risk_evaluate_s": st.evaluate_seconds,
                           "risk_cut_s": st.cut_seconds})
    return result


# ---------------------------------------------------------------------------- frontier


FRONTIER_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _frontier_point(weight: float, scn: Scenario, samples: SampleSet) -> Result | str:
    try:
        return solve_risk(scn.with_overrides({"risk.weight": float(weight)}), samples)
    except (InfeasibleError, SolverFailure) as exc:
        return f"{type(exc).__name__}: {exc}"


@dataclass
class Frontier:
    """Risk-aware plans along a sweep of risk.weight, and how often each site/jurisdiction is used."""

    table: pd.DataFrame  # one row per weight
    sites: pd.DataFrame  # site, jurisdiction, points_used, share_of_points, mean_rigs
    jurisdictions: pd.DataFrame  # jurisdiction, points_used, share_of_points, mean_rigs
    plans: dict[str, Result] = field(default_factory=dict)  # folder name -> plan

    def write(self, out_dir: str | Path) -> Path:
        """frontier.csv, frontier_sites.csv, frontier_jurisdictions.csv, frontier.json and one plan folder
        per weight, written whole or not at all (``optimizer.results.outdir``)."""
        files = {"frontier.csv": self.table.to_csv(index=False, lineterminator="\n"),
                 "frontier_sites.csv": self.sites.to_csv(index=False, lineterminator="\n"),
                 "frontier_jurisdictions.csv": self.jurisdictions.to_csv(index=False, lineterminator="\n"),
                 "frontier.json": json.dumps(_jsonable(self.table.to_dict("records")), indent=2) + "\n"}
        for name, res in self.plans.items():
            files.update({f"{name}/{file}": text for file, text in res.files().items()})
        return write_files(out_dir, files)


def frontier(scn: Scenario, samples: SampleSet, weights: Sequence[float] = FRONTIER_WEIGHTS,
             runner: Runner | None = None) -> Frontier:
    """One risk-aware plan per weight (beta), solved in parallel on the runner."""
    runner = runner or Runner()
    weights = [float(w) for w in weights]
    results = runner.map(_frontier_point, weights, scn=scn, samples=samples)
    rows, plans, used = [], {}, []
    for w, res in zip(weights, results):
        name = f"weight_{w:.2f}"
        if isinstance(res, str):
            rows.append({"risk_weight": w, "status": "infeasible", "folder": "", "note": res})
            continue
        s = res.summary
        plans[name] = res
        rows.append({"risk_weight": w, "status": s["status"], "objective_usd": s["objective_usd"],
                     "expected_npv_usd": s["expected_npv_usd"], "cvar_usd": s["cvar_usd"], "p5_usd": s["p5_usd"],
                     "p50_usd": s["p50_usd"], "p95_usd": s["p95_usd"], "prob_below_sell_all": s["prob_below_sell_all"],
                     "rigs_relocated": s["rigs_relocated"], "rigs_sold": s["rigs_sold"], "rigs_idle": s["rigs_idle"],
                     "sites_used": s["sites_used"], "folder": name, "note": ""})
        used.append(res.sites.set_index("site")["rigs"])
    table = pd.DataFrame(rows)
    sites = scn.sites[["site", "jurisdiction"]].reset_index(drop=True).copy()
    n = max(len(used), 1)
    rig_matrix = np.column_stack([u.reindex(sites["site"]).fillna(0.0).to_numpy() for u in used]) if used \
        else np.zeros((len(sites), 0))
    sites["points_used"] = (rig_matrix > 0).sum(axis=1)
    sites["share_of_points"] = sites["points_used"] / n
    sites["mean_rigs"] = rig_matrix.sum(axis=1) / n
    j_rigs = pd.DataFrame(rig_matrix, index=sites["jurisdiction"]).groupby(level=0).sum()
    juris = pd.DataFrame({"jurisdiction": j_rigs.index, "points_used": (j_rigs.to_numpy() > 0).sum(axis=1)})
    juris["share_of_points"] = juris["points_used"] / n
    juris["mean_rigs"] = j_rigs.to_numpy().sum(axis=1) / n
    return Frontier(table, sites, juris.reset_index(drop=True), plans)


# ---------------------------------------------------------------------------- stress tests


def stressed_economics(scn: Scenario, econ: Economics, jurisdiction: str, month: int) -> Economics:
    """Section 2's values with ``jurisdiction`` certainly banned from ``month`` on: its sites lose
    the expected margin of months >= month (the risk penalty stays, as it prices the unknown)."""
    sites = np.nonzero(scn.sites["jurisdiction"].to_numpy() == jurisdiction)[0]
    value = econ.value_usd.copy()
    if len(sites) and econ.n_groups:
        g = np.arange(econ.n_groups)[:, None]
        s = sites[None, :]
        path = economics.margin_path(scn, econ.group_model[g], s, econ.lead_days[econ.group_origin[g], s])
        monthly = path.weights() * path.margin()  # (G, S_J, T)
        value[:, sites] -= monthly[:, :, month:].sum(axis=2)
    return dataclasses.replace(econ, value_usd=value)


def _stress_point(jurisdiction: str, scn: Scenario, econ: Economics, month: int) -> Result | str:
    econ_j = stressed_economics(scn, econ, jurisdiction, month)
    model = build_model(scn, econ_j)
    try:
        return finish(scn, econ_j, model, solve_model(model, scn.settings.solver), details=False)[0]  # as the base plan
    except SolverFailure as exc:
        return f"solver failure: {exc}"
    except InfeasibleError as exc:
        return "infeasible: " + "; ".join(exc.reasons)


@dataclass
class Stress:
    table: pd.DataFrame  # one row per jurisdiction
    moves: pd.DataFrame  # jurisdiction, action, origin, model, site, rigs_base, rigs_stressed, change
    summary: dict[str, Any]

    def write(self, out_dir: str | Path) -> Path:
        """stress.csv, stress_moves.csv and stress.json, written whole or not at all (``optimizer.results.outdir``)."""
        doc = dict(self.summary, jurisdictions=self.table.to_dict("records"))
        return write_files(out_dir, {"stress.csv": self.table.to_csv(index=False, lineterminator="\n"),
                                     "stress_moves.csv": self.moves.to_csv(index=False, lineterminator="\n"),
                                     "stress.json": json.dumps(_jsonable(doc), indent=2) + "\n"})


def stress(scn: Scenario, month: int = 0, runner: Runner | None = None) -> Stress:
    """Each jurisdiction banned from ``month`` on, in turn: re-plan (section 3), value lost, rigs that move.

    value_lost_usd = base objective - re-planned objective; value_lost_if_kept_usd = what the
    base plan loses if it is kept as it is.
    """
    H = scn.settings.horizon.months
    if not 0 <= month <= H - 1:
        raise ScenarioError(Problem("--month", None, None, f"must be a month 0..{H - 1}, got {month}"))
    runner = runner or Runner()
    base = solve_plan(scn, details=False)
    econ = economics.compute(scn)
    names = sorted(set(scn.sites["jurisdiction"]))
    site_j = scn.sites.set_index("site")["jurisdiction"]
    relocated = base.allocation[base.allocation["action"] == "relocate"]
    hit = set(relocated.loc[relocated["rigs"] > 0, "site"].map(site_j))
    # A ban where the plan has no rigs only lowers values it does not use: the plan stays optimal
    # (re-solving could only return another optimum of a degenerate LP, i.e. spurious moves).
    todo = [j for j in names if j in hit]
    solved = dict(zip(todo, runner.map(_stress_point, todo, scn=scn, econ=econ, month=month)))
    results = [solved.get(j, base) for j in names]
    key = ["action", "origin", "model", "site"]
    base_alloc = base.allocation.groupby(key, dropna=False)["rigs"].sum()
    risk_by_j = scn.sites.groupby("jurisdiction")["reg_risk"].max()
    rows, moves = [], []
    base_obj = float(base.summary["objective_usd"])
    for j, res in zip(names, results):
        r = float(risk_by_j[j])
        in_j = base.allocation[(base.allocation["action"] == "relocate") & (base.allocation["site"].map(site_j) == j)]
        kept_loss = 0.0
        if len(in_j):
            econ_j = stressed_economics(scn, econ, j, month)
            gidx = {(econ.origins[o], econ.models[m]): g for g, (o, m) in enumerate(zip(econ.group_origin, econ.group_model))}
            sidx = {s: i for i, s in enumerate(econ.sites)}
            for _, a in in_j.iterrows():
                g, s = gidx[(a["origin"], a["model"])], sidx[a["site"]]
                kept_loss += a["rigs"] * (econ.value_usd[g, s] - econ_j.value_usd[g, s])
        row = {"jurisdiction": j, "ban_month": month, "reg_risk": r,
               "ban_probability_horizon": float(economics.ban_within(r, H)),
               "ban_probability_by_month": float(economics.ban_within(r, month + 0.5)),
               "rigs_in_jurisdiction_base": float(in_j["rigs"].sum()),
               "base_objective_usd": base_obj, "value_lost_if_kept_usd": kept_loss}
        if isinstance(res, str):
            row.update({"status": "infeasible", "stressed_objective_usd": np.nan, "value_lost_usd": np.nan,
                        "rigs_moved": np.nan, "note": res})
            rows.append(row)
            continue
        new_alloc = res.allocation.groupby(key, dropna=False)["rigs"].sum()
        both = pd.concat([base_alloc.rename("rigs_base"), new_alloc.rename("rigs_stressed")], axis=1).fillna(0.0)
        both["change"] = both["rigs_stressed"] - both["rigs_base"]
        changed = both[both["change"].abs() > 1e-6].reset_index()
        changed.insert(0, "jurisdiction", j)
        moves.append(changed)
        after = res.allocation
        in_j_after = after[(after["action"] == "relocate") & (after["site"].map(site_j) == j)]["rigs"].sum()
        row.update({"status": res.summary["status"], "stressed_objective_usd": res.summary["objective_usd"],
                    "rigs_leaving_jurisdiction": float(in_j["rigs"].sum() - in_j_after),
                    "value_lost_usd": base_obj - res.summary["objective_usd"],
                    "rigs_moved": float(changed.loc[changed["change"] < 0, "change"].abs().sum()), "note": ""})
        rows.append(row)
    table = pd.DataFrame(rows)
    cols = ["jurisdiction", "action", "origin", "model", "site", "rigs_base", "rigs_stressed", "change"]
    moves_df = pd.concat(moves, ignore_index=True)[cols] if moves else pd.DataFrame(columns=cols)
    summary = {"ban_month": month, "base_objective_usd": base_obj, "horizon_months": H, "n_jurisdictions": len(names)}
    return Stress(table, moves_df, summary)
