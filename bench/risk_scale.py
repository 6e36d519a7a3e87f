"""Issue 23's risk rows: the risk-aware plan at marketplace scale, and a Dask cluster that pays.

    PYTHONPATH=$PWD .venv/bin/python -m bench.risk_scale [--sites 5000] [--samples 1000]
        [--value-sites 500] [--value-samples 20000] [--check-full] [--quick]

1. **Risk-aware plan vs section 3's plan.** A generated marketplace (``bench/marketplace.py``, 20 rig
   batches; 5,000 sites is about 100,000 relocation columns) and a sample set drawn from it
   (``risk.samples``-style sampler, seed 1). In this process, after a warm-up solve of a small
   instance: section 3's plan (``optimizer.solve``) and the risk-aware plan (``risk.solve_risk``,
   risk.weight 0.5, alpha 0.05, risk.method "cuts", which "auto" picks at full size), each timed once; the
   ratio is risk / section 3. With ``--check-full`` the full Rockafellar-Uryasev LP is solved too
   and the optima compared (only sensible at reduced sizes: the full LP is what does not scale).
2. **Cluster vs local cores.** NPV_k of section 3's plan in every sample (``risk.plan_npv``, the
   per-sample evaluator behind ``rigshift risk`` and the cutting planes) on a 500-site marketplace:
   one thread, local cores (Dask threads), a local Dask cluster of one worker process and one of
   two (1 thread each). For each cluster: the first call (the sample set is scattered to the
   workers) and the next calls (it is already there, as in every cutting-plane round, frontier
   point or repeated evaluation); best of three. The per-worker speed-up is 2 workers / 1 worker.
   The measured per-task overhead and the chunking the rule chose are printed with them.

Prints markdown tables, the machine and the load average at start and end, and writes
bench/results/risk_scale.json. Seconds are wall time on a shared machine: compare ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from . import marketplace

ROOT = Path(__file__).resolve().parents[1]


def load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def plan_vs_section3(folder: Path, n_samples: int, check_full: bool) -> dict:
    import optimizer
    from optimizer import risk
    from optimizer.risk import samples

    warm = optimizer.load_scenario(ROOT / "datasets" / "china-2021", {"risk.weight": 0.5, "risk.method": "cuts"})
    risk.solve_risk(warm, samples.draw(warm, 50, 1))  # imports, HiGHS and dask set-up out of the timings
    scn = optimizer.load_scenario(folder, {"risk.weight": 0.5, "risk.alpha": 0.05, "risk.method": "cuts"})
    smp = samples.draw(scn, n_samples, 1)
    t = time.perf_counter()
    base = optimizer.solve(scn, details=False)
    base_s = time.perf_counter() - t
    t = time.perf_counter()
    res = risk.solve_risk(scn, smp)
    risk_s = time.perf_counter() - t
    s = res.summary
    out = {"sites": len(scn.sites), "samples": n_samples, "section3_s": base_s, "section3_backend": base.summary["backend"],
           "section3_columns": base.summary["n_variables"], "risk_s": risk_s, "ratio": risk_s / base_s,
           "risk_backend": s["backend"], "risk_columns": s["n_variables"], "risk_rows": s["n_constraints"],
           "objective_usd": s["objective_usd"], "expected_npv_usd": s["expected_npv_usd"], "cvar_usd": s["cvar_usd"],
           "full_lp_cvar_nonzeros": int(n_samples * base.summary["n_variables"]), **res.timings}
    if check_full:
        t = time.perf_counter()
        full = risk.solve_risk(scn.with_overrides({"risk.method": "full"}), smp)
        out["full_s"] = time.perf_counter() - t
        out["full_objective_usd"] = full.summary["objective_usd"]
        out["relative_difference"] = abs(s["objective_usd"] - full.summary["objective_usd"]) / abs(full.summary["objective_usd"])
    return out


def values_speed(folder: Path, n_samples: int) -> dict:
    import optimizer
    from distributed import LocalCluster
    from optimizer import economics, risk
    from optimizer.risk import samples, scaleout
    from optimizer.risk.scaleout import Runner

    scn = optimizer.load_scenario(folder)
    econ = economics.compute(scn)
    plan = risk.plan_from_result(scn, econ, optimizer.solve(scn, details=False))
    smp = samples.draw(scn, n_samples, 1)
    out = {"sites": len(scn.sites), "samples": n_samples, "plan_pairs": int((plan.rigs > 0).sum())}
    reference = risk.plan_npv(scn, econ, plan, smp, Runner(threads=1))

    def timed(runner: Runner, label: str, repeats: int = 3) -> None:
        best = float("inf")
        first = None
        for i in range(repeats):
            t = time.perf_counter()
            got = risk.plan_npv(scn, econ, plan, smp, runner)
            dt = time.perf_counter() - t
            assert (got == reference).all(), "a runner changed a number"
            first = dt if first is None else first
            best = min(best, dt)
        out[label] = {"samples_per_s": n_samples / best, "first_call_samples_per_s": n_samples / first,
                      "chunks": runner.last_map.get("chunks"), "where": runner.last_map.get("where"),
                      "task_overhead_ms": 1e3 * runner.last_map.get("overhead_s", float("nan")),
                      "fixed_ms_per_task": 1e3 * runner.last_map.get("fixed_s", float("nan")),
                      "us_per_sample": 1e6 * runner.last_map.get("s_per_item", float("nan"))}

    timed(Runner(threads=1), "one_thread")
    timed(Runner(), "local_cores")
    for n_workers in (1, 2):
        with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                          silence_logs=40) as cluster, Runner(cluster.scheduler_address) as runner:
            scaleout.task_overhead_s(runner)  # measured once per Runner (part of the first call otherwise)
            timed(runner, f"dask_{n_workers}_worker{'s' if n_workers > 1 else ''}")
    out["dask_vs_local_cores"] = out["dask_2_workers"]["samples_per_s"] / out["local_cores"]["samples_per_s"]
    out["per_worker_speedup"] = out["dask_2_workers"]["samples_per_s"] / out["dask_1_worker"]["samples_per_s"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.risk_scale")
    ap.add_argument("--sites", type=int, default=5000)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--value-sites", type=int, default=500)
    ap.add_argument("--value-samples", type=int, default=20000)
    ap.add_argument("--check-full", action="store_true", help="also solve the full LP and compare optima")
    ap.add_argument("--quick", action="store_true", help="reduced sizes: 500 sites x 200 samples (full LP checked), "
                                                          "values over 3,000 samples")
    args = ap.parse_args()
    if args.quick:
        args.sites, args.samples, args.value_samples, args.check_full = 500, 200, 3000, True
    from .__main__ import machine

    start = load()
    with tempfile.TemporaryDirectory() as tmp:
        big = marketplace.write(Path(tmp) / f"market-{args.sites}", args.sites, 4, 5)
        small = marketplace.write(Path(tmp) / f"market-{args.value_sites}", args.value_sites, 4, 5)
        plan = plan_vs_section3(big, args.samples, args.check_full)
        speed = values_speed(small, args.value_samples)
    end = load()
    print(f"Machine: {machine()}; load average (1/5/15 min) {start} at start, {end} at end\n")
    print("| what | measured |")
    print("|---|---|")
    print(f"| risk-aware plan, {plan['sites']:,}-site marketplace, {plan['samples']:,} samples (weight 0.5, alpha 0.05), "
          f"vs section 3's plan | {plan['ratio']:.1f}x (risk {plan['risk_s']:.1f} s by {plan['risk_backend']}: "
          f"{plan['risk_cut_rounds']:.0f} rounds, {plan['risk_cuts']:.0f} cuts, master {plan['risk_master_s']:.1f} s over "
          f"{plan['risk_master_columns']:,.0f} of {plan['risk_columns']:,} columns, per-sample evaluation "
          f"{plan['risk_evaluate_s']:.1f} s, cut sums {plan['risk_cut_s']:.1f} s; section 3 {plan['section3_s']:.2f} s by "
          f"{plan['section3_backend']}) |")
    if "full_s" in plan:
        print(f"| the full LP on the same instance | {plan['full_s']:.1f} s; optima differ by {plan['relative_difference']:.1e} relative |")
    d2, lc = speed["dask_2_workers"], speed["local_cores"]
    print(f"| risk values, {speed['sites']}-site marketplace, {speed['samples']:,} samples: two-worker local Dask vs "
          f"local cores | {speed['dask_vs_local_cores']:.2f}x ({d2['samples_per_s']:,.0f} vs {lc['samples_per_s']:,.0f} "
          f"samples/s; per-worker speed-up {speed['per_worker_speedup']:.2f}x) |")
    print("\n| runner | samples/s (best of 3) | first call | chunks | where | task overhead ms | fixed ms/task | us/sample |")
    print("|---|---|---|---|---|---|---|---|")
    for label in ("one_thread", "local_cores", "dask_1_worker", "dask_2_workers"):
        r = speed[label]
        print(f"| {label} | {r['samples_per_s']:,.0f} | {r['first_call_samples_per_s']:,.0f} | {r['chunks']} | {r['where']} | "
              f"{r['task_overhead_ms']:.1f} | {r['fixed_ms_per_task']:.1f} | {r['us_per_sample']:.1f} |")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "risk_scale.json").write_text(json.dumps({"machine": machine(), "load_start": start, "load_end": end,
                                                     "plan": plan, "values": speed}, indent=2) + "\n")


if __name__ == "__main__":
    main()
