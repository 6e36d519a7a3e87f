"""`make bench`: where time and memory go, against two baselines, on the built-in scenario and
generated marketplaces of 500 to 20,000 sites. Prints a markdown table and writes
bench/results/latest.{md,json}.

Each measured run is a fresh process (``bench.worker``), so peak memory is its own and imports
count in end-to-end times, as they do for a user of the CLI. Ratios compare runs on the same
instance in the same sitting; seconds alone are noisy on shared machines.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from . import marketplace

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
# (label, sites, origins, models): 20 rig groups up to 5,000 sites; 55 groups x 20,000 sites passes a million.
MARKETPLACES = [("market-500", 500, 4, 5), ("market-2000", 2000, 4, 5), ("market-5000", 5000, 4, 5),
                ("market-20000", 20000, 5, 11)]
CBC_MAX_SITES = 5000  # PuLP + CBC at a million columns needs tens of minutes and several GB; not run there


def run_worker(path: str, scenario: Path, out: Path, timeout_s: float) -> dict:
    cmd = [sys.executable, "-m", "bench.worker", path, str(scenario), str(out)]
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"path": path, "error": f"over {timeout_s:.0f} s"}
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        return {"path": path, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


def whatif_latency(scenario: Path, moves: int) -> dict:
    """Warm re-solves of the built-in scenario after slider-like moves, through the API, in this process."""
    import optimizer

    scn = optimizer.load_scenario(scenario)
    optimizer.solve(scn)  # warm-up
    rng = np.random.default_rng(0)
    times = []
    for _ in range(moves):
        change = {
            "market.btc_price_usd": float(rng.uniform(20000, 60000)),
            "policy.risk_aversion": float(rng.uniform(0, 3)),
            "policy.power_price_multiplier": float(rng.uniform(0.7, 1.5)),
            "policy.max_jurisdiction_share": float(rng.uniform(0.2, 1.0)),
        }
        key = list(change)[rng.integers(0, len(change))]
        t = time.perf_counter()
        optimizer.solve(scn.with_overrides({key: change[key]}))
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    return {"moves": moves, "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "max_ms": float(ms.max())}


def fmt_s(v) -> str:
    return "" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.1f}")


def machine() -> str:
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, Python {platform.python_version()}, load average {load:.1f} at start"


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--sizes", default="500,2000,5000,20000", help="marketplace sizes to run")
    ap.add_argument("--baseline-timeout", type=float, default=1800)
    ap.add_argument("--moves", type=int, default=200)
    ap.add_argument("--served-clients", default="1,5,10,20",
                    help="websocket clients for the served-app rows (bench.served); empty: not run")
    args = ap.parse_args()
    sizes = {int(s) for s in args.sizes.split(",") if s}
    RESULTS.mkdir(parents=True, exist_ok=True)
    instances = [("china-2021", ROOT / "datasets" / "china-2021")]
    for label, n_sites, n_origins, n_models in MARKETPLACES:
        if n_sites in sizes:
            instances.append((label, marketplace.write(RESULTS / "instances" / label, n_sites, n_origins, n_models)))
    header = machine()
    print(f"Machine: {header}\n", flush=True)
    rows = []
    for label, folder in instances:
        n_sites = sum(1 for _ in open(folder / "sites.csv")) - 1
        out = RESULTS / "out" / label
        runs = {"engine": run_worker("engine", folder, out / "engine", args.baseline_timeout)}
        runs["highs-default"] = run_worker("highs-default", folder, out / "a", args.baseline_timeout)
        runs["pulp-cbc"] = (run_worker("pulp-cbc", folder, out / "b", args.baseline_timeout) if n_sites <= CBC_MAX_SITES
                            else {"path": "pulp-cbc", "error": "not run (PuLP+CBC at this size takes tens of minutes)"})
        rows.append({"instance": label, "sites": n_sites, **runs})
        e = runs["engine"]
        print(f"{label}: engine {fmt_s(e.get('wall_s'))} s, baseline a {fmt_s(runs['highs-default'].get('wall_s'))} s, "
              f"baseline b {fmt_s(runs['pulp-cbc'].get('wall_s'))} s", flush=True)
    latency = whatif_latency(ROOT / "datasets" / "china-2021", args.moves)
    md = render(header, rows, latency)
    if args.served_clients:  # the served app as a browser drives it (issue 23), in its own process
        served = subprocess.run([sys.executable, "-m", "bench.served", "--clients", args.served_clients], cwd=ROOT,
                                capture_output=True, text=True, timeout=3600)
        md += "\n" + ((RESULTS / "served.md").read_text() if served.returncode == 0 and (RESULTS / "served.md").is_file()
                      else f"Served app: bench.served failed: {served.stderr.strip()[-500:]}\n")
    print("\n" + md)
    (RESULTS / "latest.md").write_text(md)
    (RESULTS / "latest.json").write_text(json.dumps({"machine": header, "rows": rows, "whatif": latency}, indent=2))


def render(header: str, rows: list[dict], latency: dict) -> str:
    lines = [f"Machine: {header}", "",
             "| instance | variables (engine / full LP) | constraints | load | economics | build | solve | results+write | "
             "engine end-to-end s | peak MB | baseline a (HiGHS default) s | ratio a | baseline b (PuLP+CBC) s | ratio b | objectives agree |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        e, a, b = r["engine"], r["highs-default"], r["pulp-cbc"]
        if "error" in e:
            lines.append(f"| {r['instance']} | engine failed: {e['error']} |")
            continue
        t = e["timings"]
        agree = []
        for base in (a, b):
            if "objective" in base and base.get("objective") is not None:
                agree.append(abs(base["objective"] - e["objective"]) <= 1e-6 * max(1.0, abs(e["objective"])))
        ratio = lambda base: f"{e['wall_s'] / base['wall_s']:.2f}" if "wall_s" in base else "-"  # noqa: E731
        lines.append(
            f"| {r['instance']} ({r['sites']:,} sites) | {e['variables']:,} / {a.get('variables', 0):,} | {e['constraints']:,} | "
            f"{fmt_s(t['load'])} | {fmt_s(t['economics'])} | {fmt_s(t['build'])} | {fmt_s(t['solve'])} | "
            f"{fmt_s(t['results'] + t['write'])} | {fmt_s(e['wall_s'])} | {e['peak_mb']:,.0f} | "
            f"{fmt_s(a.get('wall_s')) or a.get('error', '')} | {ratio(a)} | {fmt_s(b.get('wall_s')) or b.get('error', '')} | {ratio(b)} | "
            f"{'yes' if agree and all(agree) else ('no' if agree else '-')} |")
    lines += ["", f"What-if re-solve of china-2021 through the API, warm, {latency['moves']} random slider moves: "
              f"p50 {latency['p50_ms']:.1f} ms, p95 {latency['p95_ms']:.1f} ms, max {latency['max_ms']:.1f} ms.", "",
              "Ratio = engine end-to-end / baseline end-to-end on the same instance in the same run (below 1: the engine is faster). "
              "End-to-end = a fresh process: imports, load, economics, build, solve, results (engine also writes its files). "
              "Baseline a = the same LP with no pruning, built straight into HiGHS from numpy arrays, HiGHS's default settings; "
              "baseline b = the same LP through PuLP and CBC."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
