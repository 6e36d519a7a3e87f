"""Quick risk benchmark: samples evaluated per second and the risk-aware LP's solve time.

    .venv/bin/python -m bench.risk [--samples 10000] [--lp 100,1000,5000] [--no-cluster]

- samples/s: the section 3 plan's NPV in every sample (``optimizer.risk.plan_npv``), on
  china-2021 and a generated 500-site marketplace, three ways: one thread in this process,
  all local cores (Dask threads), and a local Dask cluster of two worker processes.
- the risk-aware LP (``optimizer.risk.solve_risk``, weight 0.5) on china-2021 at 100, 1,000
  and 5,000 samples: total seconds and the solver's own seconds.
Prints a markdown table and writes bench/results/risk.json.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from . import marketplace

ROOT = Path(__file__).resolve().parents[1]


def samples_per_second(scenario: Path, n: int, cluster_address: str | None) -> dict:
    import optimizer
    from optimizer import economics, risk
    from optimizer.risk import samples
    from optimizer.risk.scaleout import Runner

    scn = optimizer.load_scenario(scenario)
    econ = economics.compute(scn)
    plan = risk.plan_from_result(scn, econ, optimizer.solve(scn, details=False))
    smp = samples.draw(scn, n, 1)
    out = {"scenario": scenario.name, "samples": n, "pairs": int((plan.rigs > 0).sum())}
    ways = [("one_thread", Runner(threads=1)), ("local_cores", Runner())]
    if cluster_address:
        ways.append(("dask_2_workers", Runner(cluster_address)))
    for label, runner in ways:
        with runner:
            risk.plan_npv(scn, econ, plan, smp.subset(0, min(n, 200)), runner)  # warm-up (imports, scatter)
            t = time.perf_counter()
            risk.plan_npv(scn, econ, plan, smp, runner)
            out[label] = n / (time.perf_counter() - t)
    return out


def lp_times(scenario: Path, sizes: list[int]) -> list[dict]:
    import optimizer
    from optimizer import risk
    from optimizer.risk import samples

    scn = optimizer.load_scenario(scenario, {"risk.weight": 0.5})
    rows = []
    for n in sizes:
        smp = samples.draw(scn, n, 1)
        t = time.perf_counter()
        res = risk.solve_risk(scn, smp)
        rows.append({"samples": n, "total_s": time.perf_counter() - t, "solver_s": res.summary["solve_seconds"],
                     "columns": res.summary["n_variables"], "rows": res.summary["n_constraints"],
                     "backend": res.summary["backend"]})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.risk")
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--lp", default="100,1000,5000")
    ap.add_argument("--no-cluster", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        market = marketplace.write(Path(tmp) / "market-500", 500, 4, 5)
        scenarios = [ROOT / "datasets" / "china-2021", market]
        cluster = None
        if not args.no_cluster:
            from distributed import LocalCluster

            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",  # any free port: 8787 may be taken
                                   silence_logs=40)
        try:
            speed = [samples_per_second(s, args.samples, cluster.scheduler_address if cluster else None) for s in scenarios]
        finally:
            if cluster:
                cluster.close()
    lp = lp_times(ROOT / "datasets" / "china-2021", [int(v) for v in args.lp.split(",") if v])
    print("| scenario | samples | plan pairs | one thread (samples/s) | local cores | Dask, 2 workers |")
    print("|---|---|---|---|---|---|")
    for r in speed:
        print(f"| {r['scenario']} | {r['samples']:,} | {r['pairs']} | {r['one_thread']:,.0f} | {r['local_cores']:,.0f} | "
              f"{r.get('dask_2_workers', float('nan')):,.0f} |")
    print("\n| samples | risk LP total (s) | solver (s) | columns | rows | backend |")
    print("|---|---|---|---|---|---|")
    for r in lp:
        print(f"| {r['samples']:,} | {r['total_s']:.2f} | {r['solver_s']:.2f} | {r['columns']:,} | {r['rows']:,} | {r['backend']} |")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "risk.json").write_text(json.dumps({"samples_per_second": speed, "risk_lp": lp}, indent=2) + "\n")


if __name__ == "__main__":
    main()
