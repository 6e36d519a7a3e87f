"""Monthly plan (SPEC section 8) benchmark: solve times and replay futures per second.

    .venv/bin/python -m bench.monthly [--futures 16] [--sites 2000] [--no-cluster]

- the monthly plan on china-2021 with every month open and on a generated marketplace with quarterly
  dispatch: the whole ``optimizer.solve`` (economics, build, solve, canonical, guard, files) through
  PuLP and straight into HiGHS, against HiGHS alone on the same matrix (``model.to_highs``, ``run``);
- replay on china-2021 over sampled futures: futures per second in one thread, on local cores, and on a
  local Dask cluster of two worker processes; peak memory of this process.
Prints markdown tables and writes bench/results/monthly.json. Ratios within one run; not a test.
"""
from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from . import marketplace

ROOT = Path(__file__).resolve().parents[1]


def plan_times(folder: Path, overrides: dict, backends=("pulp", "direct")) -> dict:
    import highspy

    import optimizer
    from optimizer import economics
    from optimizer.economics import monthly as M
    from optimizer.engine import monthly as MM
    from optimizer.model.monthly import build as build_monthly
    from optimizer.model import to_highs

    scn = optimizer.load_scenario(folder, {"monthly.enabled": True, **overrides})
    out = {"scenario": folder.name}
    for backend in backends:
        t = time.perf_counter()
        res = optimizer.solve(scn.with_overrides({"solver.backend": backend}), details=False)
        out[f"solve_{backend}_s"] = time.perf_counter() - t
        out["columns"], out["rows"] = res.summary["n_variables"], res.summary["n_constraints"]
        out["objective_usd"] = res.summary["objective_usd"]
    econ = economics.compute(scn)
    model = build_monthly(scn, econ, M.plan_columns(scn, econ, MM.outlook_of(scn)))
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(to_highs(model))
    t = time.perf_counter()
    h.run()
    out["highs_alone_s"] = time.perf_counter() - t
    return out


def replay_speed(n: int, cluster_address: str | None) -> dict:
    import optimizer
    from optimizer.risk import replay
    from optimizer.risk import samples
    from optimizer.risk.scaleout import Runner

    scn = optimizer.load_scenario(ROOT / "datasets" / "china-2021", {"monthly.enabled": True})
    futures = replay.futures_from_sample_set(scn, samples.draw(scn, n, 1))
    out = {"futures": n}
    ways = [("one_thread", Runner(threads=1)), ("local_cores", Runner())]
    if cluster_address:
        ways.append(("dask_2_workers", Runner(cluster_address)))
    for label, runner in ways:
        with runner:
            t = time.perf_counter()
            replay.replay(scn, futures, runner, chunk=max(1, n // 8))
            out[label] = n / (time.perf_counter() - t)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.monthly")
    ap.add_argument("--futures", type=int, default=16)
    ap.add_argument("--sites", type=int, default=2000)
    ap.add_argument("--no-cluster", action="store_true")
    args = ap.parse_args()
    plans = [plan_times(ROOT / "datasets" / "china-2021", {})]
    with tempfile.TemporaryDirectory() as tmp:
        market = marketplace.write(Path(tmp) / f"market-{args.sites}", args.sites, 4, 5)
        H = 24
        plans.append(plan_times(market, {"monthly.dispatch_months": list(range(0, H, 3)),
                                         "monthly.sell_months": list(range(0, H, 3))}, backends=("direct",)))
    cluster = None
    if not args.no_cluster:
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=40)
    try:
        speed = replay_speed(args.futures, cluster.scheduler_address if cluster else None)
    finally:
        if cluster:
            cluster.close()
    print("| scenario | columns | rows | solve via PuLP (s) | solve direct (s) | HiGHS alone (s) |")
    print("|---|---|---|---|---|---|")
    for r in plans:
        print(f"| {r['scenario']} | {r['columns']:,} | {r['rows']:,} | {r.get('solve_pulp_s', float('nan')):.2f} | "
              f"{r['solve_direct_s']:.2f} | {r['highs_alone_s']:.2f} |")
    print("\n| replay futures | one thread (futures/s) | local cores | Dask, 2 workers | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    print(f"| {speed['futures']} | {speed['one_thread']:.3f} | {speed['local_cores']:.3f} | "
          f"{speed.get('dask_2_workers', float('nan')):.3f} | {speed['peak_rss_mb']:.0f} |")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "monthly.json").write_text(json.dumps({"plans": plans, "replay": speed}, indent=2) + "\n")


if __name__ == "__main__":
    main()
