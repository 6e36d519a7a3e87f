"""Human labels for settings keys and table columns, as the screen shows them.

The engine's declarations (``optimizer.settings`` / ``optimizer.tables``) are the single
source when they carry a ``label``; the maps below are the fallback for declarations that
do not (yet). Nothing on screen should show a raw key such as ``policy.allow_sell`` or a
column name such as ``capacity_mw``.
"""
from __future__ import annotations

from typing import Any

from optimizer.tables import TABLES

SETTING_LABELS: dict[str, str] = {
    "market.btc_price_usd": "BTC price (USD)",
    "market.network_hashrate_ehs": "Network hashrate (EH/s)",
    "market.block_subsidy_btc": "Block subsidy (BTC)",
    "market.fee_share": "Fees (share of the subsidy)",
    "market.hashprice_usd_th_day": "Hashprice today (USD per TH/s per day)",
    "market.hashprice_monthly_change": "Hashprice change per month",
    "horizon.months": "Horizon (months)",
    "horizon.discount_rate": "Discount rate (per year)",
    "horizon.salvage_fraction": "Resale value left at the horizon",
    "logistics.ship_base_usd": "Freight per rig, fixed part (USD)",
    "logistics.ship_usd_per_1000km": "Freight per rig per 1,000 km (USD)",
    "logistics.lead_base_days": "Lead time, fixed part (days)",
    "logistics.lead_days_per_1000km": "Lead time per 1,000 km (days)",
    "policy.risk_aversion": "Caution about bans",
    "policy.max_jurisdiction_share": "Most of the fleet under one regulator",
    "policy.budget_usd": "Upfront budget (USD)",
    "policy.allow_sell": "Selling rigs now allowed",
    "policy.allow_idle": "Storing rigs allowed",
    "policy.integer_rigs": "Whole rigs only",
    "policy.exclude_jurisdictions": "Excluded places",
    "policy.exclude_sites": "Excluded sites",
    "policy.power_price_multiplier": "Power prices (x the tables)",
    "solver.name": "Solver engine",
    "solver.mip_gap": "Whole-rig search tolerance",
    "solver.time_limit_s": "Time limit (s)",
    "solver.backend": "Solver path",
    "solver.lp_algorithm": "Solver algorithm",
    "solver.prune_dominated": "Skip sites that can never win",
}

COLUMN_LABELS: dict[tuple[str, str], str] = {
    ("sites", "site"): "Site",
    ("sites", "jurisdiction"): "Place",
    ("sites", "lat"): "Latitude",
    ("sites", "lon"): "Longitude",
    ("sites", "capacity_mw"): "Capacity (MW)",
    ("sites", "power_usd_kwh"): "Power (USD/kWh)",
    ("sites", "hosting_usd_kw_month"): "Hosting (USD/kW/month)",
    ("sites", "pue"): "Cooling overhead (PUE)",
    ("sites", "uptime"): "Uptime (share)",
    ("sites", "reg_risk"): "Ban risk (per year)",
    ("sites", "import_duty"): "Import duty (share of resale)",
    ("sites", "fixed_cost_usd"): "Opening cost (USD)",
    ("sites", "min_mw"): "Least MW if opened",
    ("fleet", "origin"): "Now at",
    ("fleet", "model"): "Rig model",
    ("fleet", "count"): "Rigs",
    ("rigs", "model"): "Rig model",
    ("rigs", "hashrate_ths"): "Hashrate (TH/s)",
    ("rigs", "power_w"): "Power (W)",
    ("rigs", "resale_usd"): "Resale (USD)",
    ("origins", "origin"): "Origin",
    ("origins", "country"): "Country",
    ("lanes", "ship_usd_per_rig"): "Freight (USD per rig)",
    ("lanes", "lead_days"): "Lead time (days)",
}


def _declared_label(obj: Any) -> str | None:
    label = getattr(obj, "label", None)
    return label if isinstance(label, str) and label.strip() else None


def column_label(table: str, column: str) -> str:
    """The label of a column of a scenario table ("sites", "capacity_mw" -> "Capacity (MW)")."""
    spec = TABLES.get(table)
    if spec is not None:
        for col in spec.columns:
            if col.name == column and _declared_label(col):
                return _declared_label(col)  # type: ignore[return-value]
    return COLUMN_LABELS.get((table, column), column.replace("_", " "))


def setting_label(key: str) -> str:
    """The label of a scenario.toml key ("policy.allow_sell" -> "Selling rigs now allowed")."""
    try:
        from optimizer import settings as declared

        decl = getattr(declared, "DECLARATIONS", None) or getattr(declared, "SETTINGS", None)
        if isinstance(decl, dict) and key in decl and _declared_label(decl[key]):
            return _declared_label(decl[key])  # type: ignore[return-value]
    except ImportError:  # pragma: no cover - the engine is always importable
        pass
    return SETTING_LABELS.get(key, key.split(".")[-1].replace("_", " "))


def table_of_file(file: str) -> str | None:
    """"sites.csv" -> "sites"."""
    return next((name for name, spec in TABLES.items() if spec.file == file), None)
