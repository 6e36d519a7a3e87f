"""The replay command of SPEC section 8: each future's value of selling now, section 3's plan, the
month-0 monthly plan carried out unchanged, the re-planning policy and perfect foresight."""
from __future__ import annotations

import argparse
from typing import Any, Callable

from optimizer.cli.common import load_args, write_out


def add_commands(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    r = sub.add_parser("replay", help="selling now, section 3's plan, the monthly plan unchanged, the re-planning "
                                      "policy and perfect foresight in each future: replay.csv, replay.json")
    common(r)
    r.add_argument("--out", required=True, help="output folder")
    which = r.add_mutually_exclusive_group(required=True)
    which.add_argument("--history", help="history folder: market.csv, bans.csv (optional end_month), resale.csv")
    which.add_argument("--samples", help="sample-set folder (from `sample`)")
    r.add_argument("--scheduler", help="Dask scheduler tls://HOST:PORT (certificates: Dask's TLS settings, docs/risk.md) or tcp://127.0.0.1:PORT (default: local cores)")
    r.set_defaults(handler=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    from optimizer.risk.replay import futures_from_history, futures_from_samples, replay
    from optimizer.risk.scaleout import Runner

    scn = load_args(args)
    futures = futures_from_history(scn, args.history) if args.history else futures_from_samples(scn, args.samples)
    with Runner(args.scheduler) as runner:
        rep = replay(scn, futures, runner, processes=True)  # local cores as processes: replay holds the GIL
    write_out(args.out, lambda: rep.write(args.out))
    s = rep.summary
    print(f"{s['n_futures']} future(s): sell all ${s['sell_all']['mean_usd']:,.0f}, static ${s['static']['mean_usd']:,.0f}, "
          f"monthly unchanged ${s['unchanged']['mean_usd']:,.0f}, re-planning ${s['policy']['mean_usd']:,.0f}, "
          f"foresight ${s['foresight']['mean_usd']:,.0f}; written to {args.out}")
    return 0
