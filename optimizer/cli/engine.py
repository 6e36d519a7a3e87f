"""The engine's commands: solve, explain, validate, backtest (SPEC section 4)."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from optimizer import analysis, economics
from optimizer.cli.common import EXIT_NOT_PROVEN, EXIT_OK, load_args, print_warnings, write_out
from optimizer.engine import solve
from optimizer.inputs.errors import Problem, ScenarioError
from optimizer.inputs.tables import _did_you_mean


def add_commands(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    s = sub.add_parser("solve", help="solve a scenario and write allocation.csv, sites.csv, summary.json")
    common(s)
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--samples", help="sample-set folder: solve the risk-aware plan (SPEC section 7)")
    s.add_argument("--scheduler", help="Dask scheduler tcp://HOST:PORT (default: local cores)")
    s.set_defaults(handler=_cmd_solve)
    e = sub.add_parser("explain", help="per-rig value breakdown for one site (and model/origin)")
    common(e)
    e.add_argument("--site", required=True)
    e.add_argument("--model", help="rig model (default: every model in the fleet)")
    e.add_argument("--origin", help="origin (default: every origin holding the model)")
    e.add_argument("--monthly", action="store_true",
                   help="also print each month's terms: hp_t, revenue, power, hosting, a_t, S_t, d_t, margin")
    e.set_defaults(handler=_cmd_explain)
    v = sub.add_parser("validate", help="check a scenario folder and report every problem")
    common(v)
    v.set_defaults(handler=_cmd_validate)
    b = sub.add_parser("backtest", help="a plan valued on the history that came: backtest.json")
    common(b)
    b.add_argument("--history", required=True, help="history folder: market.csv (realised hashprice) and bans.csv")
    b.add_argument("--out", required=True, help="output folder")
    b.add_argument("--plan", help="allocation.csv of the plan (default: the plan `solve` makes)")
    b.set_defaults(handler=_cmd_backtest)


def _cmd_solve(args: argparse.Namespace) -> int:
    scn = load_args(args)
    print_warnings(scn)
    if args.samples:
        if scn.settings.monthly.enabled:  # the risk-aware plan (SPEC section 7) is section 3's one-shot plan
            raise ScenarioError(Problem("--samples", None, None, "the risk-aware plan is section 3's one-shot plan; "
                                        "it cannot be combined with monthly.enabled = true",
                                        "drop --samples, or set monthly.enabled = false; `replay --samples` values "
                                        "the monthly plan over sampled futures"))
        from optimizer.cli.risk import solve_with_samples

        res = solve_with_samples(scn, args)
    else:
        res = solve(scn)
    write_out(args.out, lambda: res.write(args.out))
    s = res.summary
    print(f"{s['status']} ({s['mode']}, {s['solver']}): plan value ${s['objective_usd']:,.0f}; "
          f"relocate {s['rigs_relocated']:,.0f}, sell {s['rigs_sold']:,.0f}, store {s['rigs_idle']:,.0f} rigs; "
          + (f"expected value ${s['expected_value_usd']:,.0f} (before the caution charge) against "
             f"${s['sell_all_usd']:,.0f} for selling everything now; " if s.get("expected_value_usd") is not None else "")
          + f"written to {args.out}")
    if s["status"] != "optimal":
        gap = s.get("mip_gap")
        how_far = f"the plan is within {gap:.2%} of the best possible" if gap is not None else "its distance from the optimum is unknown"
        print(f"solver stopped at the time limit ({scn.settings.solver.time_limit_s:g} s) without proving optimality; "
              f"{how_far}. The best plan found was written.", file=sys.stderr)
        return EXIT_NOT_PROVEN
    return EXIT_OK


def _cmd_explain(args: argparse.Namespace) -> int:
    scn = load_args(args)
    from optimizer.inputs.names import match_names  # names as the loader reads them: case, spaces and Unicode form ignored

    for attr, column, table in (("site", "site", scn.sites), ("model", "model", scn.rigs), ("origin", "origin", scn.origins)):
        given = getattr(args, attr)
        if given:
            found, _ = match_names([given], table[column])
            setattr(args, attr, found[0] if found else given)
    if args.site not in set(scn.sites["site"]):
        raise ScenarioError(Problem("--site", None, None, f"unknown site '{args.site}'",
                                    _did_you_mean(args.site, scn.sites["site"].astype(str).tolist()) or "see sites.csv"))
    g = economics.groups(scn)
    if args.model:
        g = g[g["model"] == args.model]
    if args.origin:
        g = g[g["origin"] == args.origin]
    if not len(g):
        raise ScenarioError(Problem("--model/--origin", None, None, "no fleet rows match", "see fleet.csv"))
    site = scn.sites[scn.sites["site"] == args.site].iloc[0]
    print(f"Site {args.site} ({site['jurisdiction']}): power ${site['power_usd_kwh']:.4f}/kWh x "
          f"{scn.settings.policy.power_price_multiplier:g}, PUE {site['pue']:g}, uptime {site['uptime']:g}, "
          f"hosting ${site['hosting_usd_kw_month']:g}/kW/month, reg_risk {site['reg_risk']:g}/yr, "
          f"import duty {site['import_duty']:.0%}"
          + (" (duty.csv's by the rig's made_in where it has a row)"
             if scn.duty is not None and len(scn.duty) and site["jurisdiction"] in set(scn.duty["jurisdiction"]) else "")
          + (f", management fee ${site['mgmt_fee_usd_kwh']:g}/kWh" if site["mgmt_fee_usd_kwh"] else "")
          + "".join(f"; {file} gives its {what} month by month" for file, frame, what in
                    (("availability.csv", scn.availability, "uptime"), ("power.csv", scn.power, "power price"))
                    if frame is not None and (frame["site"] == args.site).any()))
    hp = economics.hashprice(scn)
    print(f"Horizon {scn.settings.horizon.months} months, discount {scn.settings.horizon.discount_rate:.1%}/yr, "
          f"hashprice ${hp[0]:.4f}/TH/day in month 0 and ${hp[-1]:.4f} in month {len(hp) - 1} "
          f"({economics.hashprice_source(scn)}), pool fee {scn.settings.market.pool_fee:.1%}. "
          "Values per rig, USD, present value:")
    labels = [
        ("revenue_pv_usd", "  revenue (months running, x availability x survival x discount)"),
        ("power_pv_usd", "- power"),
        ("mgmt_fee_pv_usd", "- management fee"),
        ("hosting_pv_usd", "- hosting"),
        ("ops_usd", "= operating value (ops)"),
        ("terminal_usd", "+ terminal (salvage at horizon)"),
        ("freight_usd", "- freight"),
        ("duty_usd", "- import duty"),
        ("risk_penalty_usd", "- risk penalty"),
        ("value_relocate_usd", "= value of relocating one rig (V)"),
        ("value_sell_usd", "  value of selling it now"),
        ("value_idle_usd", "  value of storing it (sold at horizon)"),
    ]
    for _, row in g.iterrows():
        b = analysis.breakdown(scn, row["origin"], row["model"], args.site)
        print(f"\n{row['model']} from {row['origin']} ({row['count']:,} rigs): {b['distance_km']:,.0f} km, "
              f"freight from {b['freight_source']}, lead {b['lead_days']:.1f} days, "
              f"ban probability within horizon {b['ban_probability']:.1%}")
        for key, label in labels:
            if key == "mgmt_fee_pv_usd" and not site["mgmt_fee_usd_kwh"]:
                continue  # no fee at this site: the lines of section 2
            print(f"  {label:<68} {b[key]:>12,.2f}")
        if args.monthly:
            _print_months(b["monthly"])
        best = max(("relocate", b["value_relocate_usd"]), ("sell", b["value_sell_usd"]), ("store", b["value_idle_usd"]),
                   key=lambda kv: kv[1])
        print(f"  best on its own: {best[0]} (capacity, caps and budget may change that in the plan)")
    return EXIT_OK


def _print_months(m: dict) -> None:
    """One line per month: the MarginPath terms of this pair (USD per rig per month, undiscounted)."""
    fee = bool(m["mgmt_fee_usd"].any())  # the fee column only where the site charges one
    print(f"  {'month':>5} {'hp_usd_th_day':>13} {'revenue':>10} {'power':>10} {'fee' if fee else '':>{9 if fee else 0}}"
          f"{'hosting':>9} {'a_t':>6} {'S_t':>6} {'d_t':>6} {'margin':>10}")
    for t in range(len(m["discount"])):
        print(f"  {t:>5} {m['hashprice_usd_th_day'][t]:>13.6f} {m['revenue_usd'][t]:>10,.2f} {m['power_usd'][t]:>10,.2f} "
              + (f"{m['mgmt_fee_usd'][t]:>8,.2f} " if fee else "")
              + f"{m['hosting_usd'][t]:>9,.2f} {m['availability'][t]:>6.3f} {m['survival'][t]:>6.3f} "
              f"{m['discount'][t]:>6.3f} {m['margin_usd'][t]:>10,.2f}")
    print(f"  (margin = max(0, revenue - power{' - fee' if fee else ''}) - hosting; ops = sum of a_t x S_t x d_t x margin)")


def _cmd_backtest(args: argparse.Namespace) -> int:
    from optimizer.risk.backtest import run

    bt = run(load_args(args), args.history, args.plan)
    for w in bt.warnings:  # the history's: calendar months converted, names matched
        print(f"warning: {w}", file=sys.stderr)
    write_out(args.out, lambda: bt.write(args.out))
    s = bt.summary
    print(f"realised ${s['realised_npv_usd']:,.0f} against ${s['expected_npv_usd']:,.0f} expected; "
          f"selling everything now: ${s['sell_all_usd']:,.0f}; written to {args.out}")
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    scn = load_args(args)
    print_warnings(scn)
    print(f"{args.scenario}: valid ({len(scn.rigs)} models, {len(scn.origins)} origins, "
          f"{int(scn.fleet['count'].sum()):,} rigs, {len(scn.sites)} sites, {len(scn.lanes)} lanes)")
    return EXIT_OK
