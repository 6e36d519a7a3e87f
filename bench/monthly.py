"""Monthly plan (SPEC section 8) benchmark: solve times, warm re-plans and replay futures per second.

    .venv/bin/python -m bench.monthly [--futures 24] [--sites 2000] [--market-sites 40] [--market-futures 8]
                                      [--no-cluster] [--quick]

1. **The monthly plan against an independent build.** china-2021 with every month open, and a
   generated marketplace (``bench/marketplace.py``) with quarterly dispatch and sales: the whole
   ``optimizer.solve`` (economics, labelled build, solve, canonical tie-break, guard, files) through
   PuLP and straight into HiGHS, against an independent build of the same LP straight into highspy
   (the decisions of ``economics.monthly.plan_columns`` written as one column-wise matrix here, no
   labels, blocks or PuLP objects; then ``Highs.run``), which must reach the same optimum.
2. **One warm re-plan against a cold solve.** The re-plans (months 1 .. H-1) of china-2021 futures
   with stops: each solved cold (``solve_model``: HighsLp built, passed, solved) and on the kept LP
   (``engine.monthly_warm.KeptLP``, re-solved from the last basis); CPU milliseconds per re-plan.
3. **Replay futures per second on china-2021** (sampled futures, monthly re-plans): one process cold
   (every re-plan cold), one process warm, local cores (worker processes, tasks sized from the work:
   what ``python -m optimizer replay`` does), a local Dask cluster of one worker and of two
   (``LocalCluster(n_workers=k, threads_per_worker=1)``), the per-worker speed-up (2 / 1 workers) and
   Dask / local cores; peak memory (RSS) per worker process. Every runner's files must be identical.
4. **Issue 23 on a marketplace**: the same runners on replay of a generated marketplace with
   quarterly dispatch, sales and re-plans (hashprice and resale paths sampled; stops left out: with
   stops on hundreds of sites perfect foresight's moves make one future take minutes).

Prints markdown tables (wall seconds on a shared machine: compare ratios within one run; CPU seconds
where said) and writes bench/results/monthly.json. Not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from . import marketplace

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"


# ---------------------------------------------------------------------------- 1. plan vs independent build


def bare_highs(scn, econ, cols):
    """The monthly plan's LP built straight into highspy from the decisions (no model layer): columns
    x_j (value, >= 0); rows batch[g] (= rigs), capacity[s,t] (MW <= capacity_mw), share[J,t] (TH/s <=
    share * fleet TH/s), budget. LP mode only. Returns (objective, build seconds, solve seconds)."""
    import highspy
    import numpy as np
    import scipy.sparse as sp

    t0 = time.perf_counter()
    st = scn.settings
    H, n = st.horizon.months, cols.n
    G = econ.n_groups
    juris = scn.sites["jurisdiction"].to_numpy()
    cap = scn.sites["capacity_mw"].to_numpy(float)
    lengths = np.maximum(cols.run_to - cols.run_from, 0)
    rep = np.repeat(np.arange(len(lengths)), lengths)
    month = cols.run_from[rep] + np.arange(len(rep)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    col, site = cols.run_col[rep], cols.run_site[rep]
    r, c, v, lo, up = [], [], [], [], []
    origin = cols.kind <= 2  # ship, sell, keep
    r.append(cols.g[origin]); c.append(np.nonzero(origin)[0]); v.append(np.ones(int(origin.sum())))
    lo.append(econ.count.astype(float)); up.append(econ.count.astype(float))
    base = G
    cells, row = np.unique(site * H + month, return_inverse=True)
    r.append(base + row); c.append(col); v.append(econ.mw_per_rig[cols.g[col], site])
    lo.append(np.full(len(cells), -highspy.kHighsInf)); up.append(cap[cells // H])
    base += len(cells)
    if st.policy.max_jurisdiction_share < 1:
        jn, sj = np.unique(juris, return_inverse=True)
        jcells, jrow = np.unique(sj[site] * H + month, return_inverse=True)
        r.append(base + jrow); c.append(col); v.append(econ.hashrate_ths[cols.g[col]])
        total = float((econ.hashrate_ths * econ.count).sum())
        lo.append(np.full(len(jcells), -highspy.kHighsInf)); up.append(np.full(len(jcells), st.policy.max_jurisdiction_share * total))
        base += len(jcells)
    if st.policy.budget_usd is not None:
        k = np.nonzero(cols.upfront_usd)[0]
        r.append(np.full(len(k), base)); c.append(k); v.append(cols.upfront_usd[k])
        lo.append([-highspy.kHighsInf]); up.append([float(st.policy.budget_usd)])
        base += 1
    A = sp.csc_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(base, n))
    A.sum_duplicates()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, base
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = cols.value_usd
    lp.col_lower_, lp.col_upper_ = np.zeros(n), np.full(n, highspy.kHighsInf)
    lp.row_lower_, lp.row_upper_ = np.concatenate(lo).astype(float), np.concatenate(up).astype(float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.passModel(lp)
    t1 = time.perf_counter()
    h.run()
    t2 = time.perf_counter()
    return float(h.getInfo().objective_function_value), t1 - t0, t2 - t1


def plan_times(folder: Path, overrides: dict, backends=("pulp", "direct")) -> dict:
    import optimizer
    from optimizer import economics
    from optimizer.economics import monthly as M
    from optimizer.engine import monthly as MM

    scn = optimizer.load_scenario(folder, {"monthly.enabled": True, **overrides})
    out = {"scenario": folder.name}
    for backend in backends:
        t = time.perf_counter()
        res = optimizer.solve(scn.with_overrides({"solver.backend": backend}), details=False)
        out[f"solve_{backend}_s"] = time.perf_counter() - t
        out["columns"], out["rows"] = res.summary["n_variables"], res.summary["n_constraints"]
        out["objective_usd"] = res.summary["objective_usd"]
    t = time.perf_counter()
    econ = economics.compute(scn)
    cols = M.plan_columns(scn, econ, MM.outlook_of(scn))
    t_econ = time.perf_counter() - t
    objective, build, solve = bare_highs(scn, econ, cols)
    out["independent_s"] = t_econ + build + solve
    out["independent_build_s"], out["independent_solve_s"] = build, solve
    out["independent_objective_usd"] = objective
    out["relative_difference"] = abs(objective - out["objective_usd"]) / max(1.0, abs(out["objective_usd"]))
    return out


# ---------------------------------------------------------------------------- 2. warm re-plan vs cold


def replan_times(n_futures: int) -> dict:
    import numpy as np

    import optimizer
    from optimizer import economics
    from optimizer.engine import check_finite, monthly_warm, prepare
    from optimizer.risk import replay, samples

    scn = optimizer.load_scenario(CHINA, {"monthly.enabled": True})
    scn, _ = prepare(scn)
    econ = check_finite(economics.compute(scn))
    futures = [f for f in replay.futures_from_sample_set(scn, samples.draw(scn, 24, 5)) if f.stops][:n_futures]
    models = []
    real = replay.solve_model
    replay.solve_model = lambda model, settings: (models.append(model), real(model, settings))[1]
    try:
        per_future = []
        for f in futures:
            before = len(models)
            replay.carried_out(scn, econ, f, 1)
            per_future.append(models[before + 1:])  # months 1 .. H-1: what the kept LP solves
    finally:
        replay.solve_model = real
    settings = replay._internal(scn.settings.solver)
    cold = warm = 0.0
    n = 0
    worst = 0.0
    for seq in per_future:
        kept = monthly_warm.KeptLP()
        for model in seq:
            labels = model.column_labels()
            t = time.process_time()
            a = real(model, settings)
            t1 = time.process_time()
            b = kept.solve(model, labels)
            t2 = time.process_time()
            cold += t1 - t
            warm += t2 - t1
            n += 1
            worst = max(worst, abs(a.objective - b.objective) / max(1.0, abs(a.objective)))
    return {"replans": n, "cold_ms": 1e3 * cold / n, "warm_ms": 1e3 * warm / n, "warm_over_cold": warm / cold,
            "columns_mean": float(np.mean([m.n_cols for s in per_future for m in s])),
            "max_relative_difference": worst}


# ---------------------------------------------------------------------------- 3, 4. replay futures per second


def _worker_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def replay_speed(scn, futures, cold_futures: int, with_cluster: bool) -> dict:
    from optimizer.risk import replay
    from optimizer.risk.local_pool import cores
    from optimizer.risk.scaleout import Runner

    n = len(futures)
    out: dict = {"futures": n, "cores": cores()}
    files = None

    def run(label, runner, **kw):
        nonlocal files
        items = futures[:cold_futures] if label == "one_process_cold" else futures
        with runner:
            if runner._client is not None:  # a cluster lives on: its workers import the engine once, not per run
                import importlib

                runner._client.run(importlib.import_module, "optimizer.risk.replay")
            t, cpu = time.perf_counter(), time.process_time()
            rep = replay.replay(scn, items, runner, **kw)
            dt, dcpu = time.perf_counter() - t, time.process_time() - cpu
        out[label] = {"futures_per_s": len(items) / dt, "seconds": dt,
                      "tasks": getattr(runner, "last_replay", {}).get("tasks")}
        if label.startswith("one_process"):  # CPU time too: on a shared machine wall time swings with the load
            out[label]["cpu_futures_per_s"] = len(items) / dcpu
        if label != "one_process_cold":
            if files is not None and rep.files() != files:
                raise AssertionError(f"{label} changed the files")
            files = rep.files()
        return runner

    run("one_process_cold", Runner(threads=1), chunk=n, warm=False)
    run("one_process", Runner(threads=1), chunk=n)
    out["one_process"]["peak_rss_mb"] = _worker_rss_mb()
    run("local_cores", Runner(), processes=True)
    out["local_cores"]["peak_rss_mb_per_worker"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if with_cluster:
        from distributed import LocalCluster

        for k in (1, 2):
            with LocalCluster(n_workers=k, threads_per_worker=1, processes=True, dashboard_address=":0",
                              silence_logs=40) as cluster:
                run(f"dask_{k}_worker{'s' if k > 1 else ''}", Runner(cluster.scheduler_address))
                with Runner(cluster.scheduler_address) as r2:
                    rss = r2._client.run(_worker_rss_mb)
                out[f"dask_{k}_worker{'s' if k > 1 else ''}"]["peak_rss_mb_per_worker"] = max(rss.values())
        out["per_worker_speedup"] = out["dask_2_workers"]["futures_per_s"] / out["dask_1_worker"]["futures_per_s"]
        out["dask_vs_local_cores"] = out["dask_2_workers"]["futures_per_s"] / out["local_cores"]["futures_per_s"]
    out["warm_vs_cold"] = out["one_process"]["futures_per_s"] / out["one_process_cold"]["futures_per_s"]
    return out


def china_replay(n: int, cold: int, with_cluster: bool) -> dict:
    import optimizer
    from optimizer.risk import replay, samples

    scn = optimizer.load_scenario(CHINA, {"monthly.enabled": True})
    futures = replay.futures_from_sample_set(scn, samples.draw(scn, n, 1))
    return {"scenario": "china-2021", **replay_speed(scn, futures, cold, with_cluster)}


def market_replay(sites: int, n: int, cold: int, with_cluster: bool, tmp: Path) -> dict:
    import optimizer
    from optimizer.risk import replay, samples

    H = 24
    quarters = list(range(0, H, 3))
    folder = marketplace.write(tmp / f"replay-market-{sites}", sites, 4, 5)
    scn = optimizer.load_scenario(folder, {"monthly.enabled": True, "monthly.dispatch_months": quarters,
                                           "monthly.sell_months": quarters, "monthly.replan_every": 3})
    futures = replay.futures_from_sample_set(scn, samples.draw(scn, n, 1))
    for f in futures:
        f.stops = []
    return {"scenario": f"marketplace-{sites}", **replay_speed(scn, futures, cold, with_cluster)}


# ---------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.monthly")
    ap.add_argument("--futures", type=int, default=24, help="sampled futures of china-2021 to replay")
    ap.add_argument("--cold-futures", type=int, default=6, help="of which replayed cold in one process")
    ap.add_argument("--sites", type=int, default=2000, help="marketplace size for the plan-vs-independent row")
    ap.add_argument("--market-sites", type=int, default=40, help="marketplace size for the replay rows (issue 23)")
    ap.add_argument("--market-futures", type=int, default=8)
    ap.add_argument("--no-cluster", action="store_true")
    ap.add_argument("--quick", action="store_true", help="8 china futures (3 cold), 500-site plan, 20-site market x 4")
    args = ap.parse_args()
    if args.quick:
        args.futures, args.cold_futures, args.sites, args.market_sites, args.market_futures = 8, 3, 500, 20, 4
    from .__main__ import machine

    header = machine()
    plans = [plan_times(CHINA, {})]
    with tempfile.TemporaryDirectory() as tmp:
        market = marketplace.write(Path(tmp) / f"market-{args.sites}", args.sites, 4, 5)
        H = 24
        plans.append(plan_times(market, {"monthly.dispatch_months": list(range(0, H, 3)),
                                         "monthly.sell_months": list(range(0, H, 3))}, backends=("direct",)))
        replans = replan_times(2)
        china = china_replay(args.futures, args.cold_futures, not args.no_cluster)
        market_r = market_replay(args.market_sites, args.market_futures, min(2, args.market_futures),
                                 not args.no_cluster, Path(tmp))
    print(f"Machine: {header}; load average at the end {os.getloadavg()[0]:.1f}\n")
    print("| scenario | columns | rows | solve via PuLP (s) | solve direct (s) | independent build + HiGHS (s) | direct / independent | optimum difference |")
    print("|---|---|---|---|---|---|---|---|")
    for r in plans:
        print(f"| {r['scenario']} | {r['columns']:,} | {r['rows']:,} | {r.get('solve_pulp_s', float('nan')):.2f} | "
              f"{r['solve_direct_s']:.2f} | {r['independent_s']:.2f} | {r['solve_direct_s'] / r['independent_s']:.2f}x | "
              f"{r['relative_difference']:.1e} |")
    print("\n| re-plans (china-2021, months 1-23) | mean columns | cold solve (CPU ms) | warm re-solve (CPU ms) | warm / cold | optimum difference |")
    print("|---|---|---|---|---|---|")
    print(f"| {replans['replans']} | {replans['columns_mean']:.0f} | {replans['cold_ms']:.1f} | {replans['warm_ms']:.1f} | "
          f"{replans['warm_over_cold']:.2f} | {replans['max_relative_difference']:.1e} |")
    print("\n| replay | futures | one process cold (futures/s) | one process warm | local cores (processes) | Dask 1 worker | Dask 2 workers | per-worker speed-up | Dask 2 / local cores | peak RSS per worker process (MB) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    nan = {"futures_per_s": float("nan"), "peak_rss_mb_per_worker": float("nan")}
    for r in (china, market_r):
        d1, d2 = r.get("dask_1_worker", nan), r.get("dask_2_workers", nan)
        rss = max(r["local_cores"]["peak_rss_mb_per_worker"], d2["peak_rss_mb_per_worker"])
        c0, c1 = r["one_process_cold"], r["one_process"]
        print(f"| {r['scenario']} | {r['futures']} | {c0['futures_per_s']:.3f} (CPU {c0['cpu_futures_per_s']:.3f}) | "
              f"{c1['futures_per_s']:.3f} (CPU {c1['cpu_futures_per_s']:.3f}) | {r['local_cores']['futures_per_s']:.3f} ({r['cores']} cores) | "
              f"{d1['futures_per_s']:.3f} | {d2['futures_per_s']:.3f} | {r.get('per_worker_speedup', float('nan')):.2f}x | "
              f"{r.get('dask_vs_local_cores', float('nan')):.2f}x | {rss:.0f} |")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "monthly.json").write_text(json.dumps({"machine": header, "plans": plans, "replans": replans,
                                                  "replay": [china, market_r]}, indent=2) + "\n")


if __name__ == "__main__":
    main()
