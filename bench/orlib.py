"""OR-Library capacitated warehouse location instances (Beasley 1988) written as Rigshift scenarios.

Customers become origins holding `demand` rigs of one model that draws exactly 1 MW, warehouses
become sites (capacity in MW, fixed opening cost), and the cost of serving all of a customer's
demand from a warehouse becomes a freight lane of cost/demand per rig. Hashprice, resale and
salvage are zero and selling and idling are off, so the plan's value is minus the total cost:
the published optimum must come out exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "orlib"


@dataclass
class Instance:
    name: str
    capacity: np.ndarray  # (m,)
    fixed: np.ndarray  # (m,)
    demand: np.ndarray  # (n,)
    cost: np.ndarray  # (n, m) cost of serving all of customer j's demand from warehouse i


def read(name: str, capacity_value: float | None = None) -> Instance:
    tokens = (DATA / f"{name}.txt").read_text().split()
    m, n = int(tokens[0]), int(tokens[1])
    pos = 2
    capacity, fixed = np.empty(m), np.empty(m)
    for i in range(m):
        cap = tokens[pos]
        capacity[i] = capacity_value if cap == "capacity" else float(cap)
        fixed[i] = float(tokens[pos + 1])
        pos += 2
    demand, cost = np.empty(n), np.empty((n, m))
    for j in range(n):
        demand[j] = float(tokens[pos])
        cost[j] = [float(t) for t in tokens[pos + 1: pos + 1 + m]]
        pos += 1 + m
    return Instance(name, capacity, fixed, demand, cost)


def published_optimum(key: str) -> float:
    for line in (DATA / "capopt.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            k, v = line.split()
            if k == key:
                return float(v)
    raise KeyError(key)


def write_scenario(inst: Instance, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    m, n = len(inst.capacity), len(inst.demand)
    (folder / "rigs.csv").write_text("model,hashrate_ths,power_w,resale_usd\nunit,1,1000000,0\n")
    (folder / "origins.csv").write_text("origin,country,lat,lon\n" + "".join(f"c{j},X,0,0\n" for j in range(n)))
    (folder / "fleet.csv").write_text("origin,model,count\n" + "".join(f"c{j},unit,{int(inst.demand[j])}\n" for j in range(n)))
    (folder / "sites.csv").write_text(
        "site,jurisdiction,lat,lon,capacity_mw,power_usd_kwh,fixed_cost_usd\n"
        + "".join(f"w{i},J,0,0,{float(inst.capacity[i])!r},0,{float(inst.fixed[i])!r}\n" for i in range(m)))
    lines = ["origin,site,ship_usd_per_rig,lead_days"]
    for j in range(n):
        for i in range(m):
            lines.append(f"c{j},w{i},{float(inst.cost[j, i] / inst.demand[j])!r},0")
    (folder / "lanes.csv").write_text("\n".join(lines) + "\n")
    (folder / "scenario.toml").write_text(
        "[market]\nhashprice_usd_th_day = 0.0\n[horizon]\nsalvage_fraction = 0.0\n"
        "[policy]\nallow_sell = false\nallow_idle = false\nrisk_aversion = 0.0\n"
        "[solver]\nmip_gap = 1e-9\ntime_limit_s = 600\n")
    return folder
