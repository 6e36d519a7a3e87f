"""Generated hosting marketplaces: thousands of listings, a fleet of many rig groups, capacity binding.

Deterministic for a seed. Numbers are synthetic but shaped like the built-in data: power
2-12 cents, PUE 1.02-1.35, a few dozen jurisdictions, rigs from S9-class to S19 XP-class.
The fleet draws about 1.6x the listed capacity, so capacity binds and the LP has real choices.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def generate(n_sites: int, n_origins: int, n_models: int, seed: int = 2021) -> dict[str, pd.DataFrame | str]:
    rng = np.random.default_rng(seed)
    eff_j_th = np.linspace(100, 21.5, n_models)  # S9-class to S19 XP-class
    hashrate = np.linspace(14, 140, n_models)
    rigs = pd.DataFrame({
        "model": [f"M{i:02d}" for i in range(n_models)],
        "hashrate_ths": hashrate.round(1),
        "power_w": (hashrate * eff_j_th).round(0),
        "resale_usd": (hashrate * np.linspace(4, 30, n_models)).round(0),
    })
    origins = pd.DataFrame({
        "origin": [f"O{i}" for i in range(n_origins)], "country": "CN",
        "lat": rng.uniform(22, 45, n_origins).round(3), "lon": rng.uniform(90, 122, n_origins).round(3),
    })
    fleet = pd.DataFrame([(o, m) for o in origins["origin"] for m in rigs["model"]], columns=["origin", "model"])
    fleet["count"] = rng.integers(200, 4000, len(fleet))
    fleet_mw = float((fleet.merge(rigs, on="model").eval("count * power_w")).sum() / 1e6)
    cap = rng.lognormal(mean=1.0, sigma=0.8, size=n_sites)
    cap *= fleet_mw / 1.6 / cap.sum() * 1.1
    n_j = 40
    sites = pd.DataFrame({
        "site": [f"L{i:05d}" for i in range(n_sites)],
        "jurisdiction": [f"J{j:02d}" for j in rng.integers(0, n_j, n_sites)],
        "lat": rng.uniform(-40, 65, n_sites).round(3), "lon": rng.uniform(-125, 150, n_sites).round(3),
        "capacity_mw": cap.round(4),
        "power_usd_kwh": rng.uniform(0.02, 0.12, n_sites).round(4),
        "hosting_usd_kw_month": rng.uniform(0, 10, n_sites).round(2),
        "pue": rng.uniform(1.02, 1.35, n_sites).round(3),
        "uptime": rng.uniform(0.85, 1.0, n_sites).round(3),
        "reg_risk": rng.uniform(0, 0.3, n_sites).round(3),
        "import_duty": rng.choice([0.0, 0.05, 0.25], n_sites),
    })
    toml = ("[market]\nbtc_price_usd = 35000.0\nnetwork_hashrate_ehs = 100.0\n"
            "[policy]\nmax_jurisdiction_share = 0.15\n[solver]\ntime_limit_s = 1800\n")
    return {"rigs": rigs, "origins": origins, "fleet": fleet, "sites": sites, "toml": toml}


def write(folder: Path, n_sites: int, n_origins: int, n_models: int, seed: int = 2021) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = generate(n_sites, n_origins, n_models, seed)
    for name in ("rigs", "origins", "fleet", "sites"):
        data[name].to_csv(folder / f"{name}.csv", index=False)
    (folder / "scenario.toml").write_text(data["toml"])
    return folder
