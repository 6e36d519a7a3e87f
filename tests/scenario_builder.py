"""Build scenario folders from plain dicts for tests (CSV text written by hand, TOML by tomli_w)."""
from __future__ import annotations

import copy
import csv
from pathlib import Path

import tomli_w

# SPEC section 1's defaults, restated here so tests do not read them from the engine.
DEFAULTS = {
    "market": {"btc_price_usd": 35000.0, "network_hashrate_ehs": 100.0, "block_subsidy_btc": 6.25, "fee_share": 0.05,
               "hashprice_usd_th_day": None, "hashprice_monthly_change": -0.02},
    "horizon": {"months": 24, "discount_rate": 0.10, "salvage_fraction": 0.25},
    "logistics": {"ship_base_usd": 20.0, "ship_usd_per_1000km": 5.0, "lead_base_days": 14.0, "lead_days_per_1000km": 2.0},
    "policy": {"risk_aversion": 1.0, "max_jurisdiction_share": 1.0, "budget_usd": None, "allow_sell": True,
               "allow_idle": True, "integer_rigs": False, "exclude_jurisdictions": [], "power_price_multiplier": 1.0},
    "solver": {"name": "highs", "mip_gap": 1e-9, "time_limit_s": 60},
}
SITE_DEFAULTS = {"hosting_usd_kw_month": 0.0, "pue": 1.0, "uptime": 1.0, "reg_risk": 0.0, "import_duty": 0.0,
                 "fixed_cost_usd": 0.0, "min_mw": 0.0}
OPTIONAL_SITE_COLUMNS = {"power_monthly_change": 0.0, "mgmt_fee_usd_kwh": 0.0, "online_month": 0}  # column: default


def scenario(rigs, origins, fleet, sites, lanes=(), **sections) -> dict:
    sc = copy.deepcopy(DEFAULTS)
    for name, values in sections.items():
        sc[name].update(values)
    sc["rigs"] = [dict(r) for r in rigs]
    sc["origins"] = [dict(o) for o in origins]
    sc["fleet"] = [dict(f) for f in fleet]
    sc["sites"] = [SITE_DEFAULTS | dict(s) for s in sites]
    sc["lanes"] = [dict(l) for l in lanes]
    return sc


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for r in rows:
            w.writerow([repr(float(r[c])) if isinstance(r[c], float) else r[c] for c in columns])


def write(sc: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _write_csv(folder / "rigs.csv", sc["rigs"], ["model", "hashrate_ths", "power_w", "resale_usd"])
    _write_csv(folder / "origins.csv", sc["origins"], ["origin", "country", "lat", "lon"])
    _write_csv(folder / "fleet.csv", sc["fleet"], ["origin", "model", "count"])
    # optional columns beyond SPEC section 1 (power_monthly_change, mgmt_fee_usd_kwh, online_month): written when
    # some site has them, their default (0) for the others
    extra = [c for c in OPTIONAL_SITE_COLUMNS if any(c in s for s in sc["sites"])]
    sites = [{**{c: OPTIONAL_SITE_COLUMNS[c] for c in extra}, **s} for s in sc["sites"]]
    _write_csv(folder / "sites.csv", sites, ["site", "jurisdiction", "lat", "lon", "capacity_mw", "power_usd_kwh",
                                             *SITE_DEFAULTS, *extra])
    if sc["lanes"]:
        _write_csv(folder / "lanes.csv", sc["lanes"], ["origin", "site", "ship_usd_per_rig", "lead_days"])
    if sc.get("market_path"):  # SPEC section 6's market.csv: {month: hashprice}
        _write_csv(folder / "market.csv", [{"month": t, "hashprice_usd_th_day": float(v)} for t, v in sc["market_path"].items()],
                   ["month", "hashprice_usd_th_day"])
    if sc.get("resale_path"):  # SPEC section 8's resale.csv: {month: factor}
        _write_csv(folder / "resale.csv", [{"month": t, "factor": float(v)} for t, v in sc["resale_path"].items()],
                   ["month", "factor"])
    doc = {k: {kk: vv for kk, vv in sc[k].items() if vv is not None} for k in DEFAULTS}
    if sc.get("monthly"):
        doc["monthly"] = dict(sc["monthly"])
    (folder / "scenario.toml").write_text(tomli_w.dumps(doc), encoding="utf-8")
    return folder
