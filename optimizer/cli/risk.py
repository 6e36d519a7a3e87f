"""CLI commands of SPEC section 7 and its extensions: sample, risk, frontier, stress (and solve --samples).

Kept apart from cli.py so that file's edits stay small; the heavy imports (dask) happen only
when one of these commands runs.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

from optimizer.cli.common import load_args, write_out
from optimizer.inputs.errors import Problem, ScenarioError
from optimizer.inputs.scenario import Scenario


def add_commands(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    def scheduler(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--scheduler", help="Dask scheduler tls://HOST:PORT (certificates: Dask's TLS settings, docs/risk.md) or tcp://127.0.0.1:PORT (default: local cores)")

    r = sub.add_parser("risk", help="a plan's value in every sampled future: risk.csv and risk.json")
    common(r)
    r.add_argument("--samples", required=True, help="sample-set folder (from `sample`)")
    r.add_argument("--out", required=True, help="output folder")
    r.add_argument("--plan", help="allocation.csv of the plan (default: the plan `solve` makes)")
    scheduler(r)
    s = sub.add_parser("sample", help="draw a sample set of bans and hashprice paths from a scenario")
    common(s)
    s.add_argument("--out", required=True, help="sample-set folder to write")
    s.add_argument("--n", type=int, help="number of samples (default: risk.samples)")
    s.add_argument("--seed", type=int, help="seed (default: risk.seed)")
    scheduler(s)
    f = sub.add_parser("frontier", help="risk-aware plans for a sweep of risk.weight: expected value vs CVaR")
    common(f)
    f.add_argument("--samples", required=True, help="sample-set folder (from `sample`)")
    f.add_argument("--out", required=True, help="output folder (one sub-folder per plan)")
    f.add_argument("--weights", default="0,0.25,0.5,0.75,1", help="comma-separated risk.weight values (default 0,0.25,0.5,0.75,1)")
    scheduler(f)
    t = sub.add_parser("stress", help="each jurisdiction banned in turn: re-plan, value lost, rigs that move")
    common(t)
    t.add_argument("--out", required=True, help="output folder")
    t.add_argument("--month", type=int, default=0, help="month the ban starts (default 0)")
    scheduler(t)
    for name, sp in (("risk", r), ("sample", s), ("frontier", f), ("stress", t)):
        sp.set_defaults(handler=COMMANDS[name])


def _runner(args: argparse.Namespace):
    from optimizer.risk.scaleout import Runner

    return Runner(getattr(args, "scheduler", None))


def _samples(args: argparse.Namespace, scn: Scenario):
    from optimizer.risk.samples import load_samples

    import sys

    samples = load_samples(args.samples, scn)
    for w in samples.warnings:  # calendar months converted, names matched, factors that look like slips
        print(f"warning: {w}", file=sys.stderr)
    return samples


def solve_with_samples(scn: Scenario, args: argparse.Namespace):
    """`solve --samples`: the risk-aware plan (a Result, written by cli._cmd_solve)."""
    from optimizer.risk import solve_risk

    samples = _samples(args, scn)
    with _runner(args) as runner:
        res = solve_risk(scn, samples, runner)
    s = res.summary
    print(f"risk-aware plan (weight {s['risk_weight']:g}, alpha {s['risk_alpha']:g}, {s['n_samples']:,} samples): "
          f"expected ${s['expected_npv_usd']:,.0f}, CVaR ${s['cvar_usd']:,.0f}")
    return res


def cmd_risk(args: argparse.Namespace) -> int:
    from optimizer import economics
    from optimizer.risk import evaluate, read_plan

    scn = load_args(args)
    samples = _samples(args, scn)
    econ = economics.compute(scn)
    plan = read_plan(scn, econ, args.plan) if args.plan else None
    with _runner(args) as runner:
        report = evaluate(scn, samples, plan, runner, econ)
    write_out(args.out, lambda: report.write(args.out))
    s = report.summary
    print(f"{s['n_samples']:,} samples: mean ${s['expected_npv_usd']:,.0f} (standard error "
          f"${s['expected_npv_se_usd']:,.0f}); P5 ${s['p5_usd']:,.0f}, "
          f"P50 ${s['p50_usd']:,.0f}, P95 ${s['p95_usd']:,.0f}; CVaR{s['risk_alpha']:g} ${s['cvar_usd']:,.0f}; "
          f"{s['prob_below_sell_all']:.1%} chance of ending below selling everything now "
          f"(${s['sell_all_usd']:,.0f}); written to {args.out}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from optimizer.risk.samples import draw

    scn = load_args(args)
    with _runner(args) as runner:
        samples = draw(scn, args.n, args.seed, mapper=lambda fn, items: runner.map(_star, items, fn=fn))
    write_out(args.out, lambda: samples.write(args.out))
    rs = scn.settings.risk
    banned = (samples.ban_month < samples.months).any(axis=1).mean()
    print(f"{samples.n:,} samples (seed {rs.seed if args.seed is None else args.seed}, ban correlation "
          f"{rs.ban_correlation:g}, hashprice volatility {rs.hashprice_volatility:g}/yr): some jurisdiction bans "
          f"within the horizon in {banned:.1%} of them"
          + (f"; stops last {rs.stop_months} months with probability {1 - rs.stop_permanent_share:g}"
             if samples.ban_end is not None else "")
          + (f"; resale.csv with resale_beta {rs.resale_beta:g}" if samples.resale is not None else "")
          + f"; written to {args.out}")
    return 0


def _star(item: tuple, fn: Callable) -> Any:
    return fn(*item)


def _weights(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(not 0 <= v <= 1 for v in values):
        raise ScenarioError(Problem("--weights", None, None, f"must be comma-separated numbers in [0, 1], got {text!r}"))
    return values


def cmd_frontier(args: argparse.Namespace) -> int:
    from optimizer.risk import frontier

    scn = load_args(args)
    weights = _weights(args.weights)
    samples = _samples(args, scn)
    with _runner(args) as runner:
        fr = frontier(scn, samples, weights, runner)
    write_out(args.out, lambda: fr.write(args.out))
    for _, row in fr.table.iterrows():
        if row["status"] == "infeasible":
            print(f"weight {row['risk_weight']:.2f}: {row['note']}")
            continue
        print(f"weight {row['risk_weight']:.2f}: expected ${row['expected_npv_usd']:,.0f}, CVaR ${row['cvar_usd']:,.0f}, "
              f"{row['sites_used']} sites -> {Path(args.out) / row['folder']}")
    return 0


def cmd_stress(args: argparse.Namespace) -> int:
    from optimizer.risk import stress

    scn = load_args(args)
    with _runner(args) as runner:
        st = stress(scn, args.month, runner)
    write_out(args.out, lambda: st.write(args.out))
    top = st.table.sort_values("value_lost_usd", ascending=False).head(5)
    print(f"ban from month {args.month}, base plan ${st.summary['base_objective_usd']:,.0f}; largest losses:")
    for _, row in top.iterrows():
        print(f"  {row['jurisdiction']}: lose ${row['value_lost_usd']:,.0f} after re-planning "
              f"(${row['value_lost_if_kept_usd']:,.0f} if the plan is kept), {row['rigs_moved']:,.0f} rigs move")
    print(f"written to {args.out}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "risk": cmd_risk, "sample": cmd_sample, "frontier": cmd_frontier, "stress": cmd_stress,
}
