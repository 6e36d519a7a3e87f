"""The plan on a world map: origins, candidate sites as columns, arcs for the rigs moved.

Works offline: no map tiles are needed because the countries are drawn from a bundled
Natural Earth GeoJSON (see ui/assets/README.md). The camera's starting view depends only on
the scenario's coordinates, so moving a slider never moves the map.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pydeck as pdk
from pydeck.bindings.json_tools import default_serialize

import optimizer

from . import compute, fmt

COUNTRIES = Path(__file__).parent / "assets" / "world-countries-110m.geojson"
COLUMN_RADIUS_M = 70_000
TALLEST_COLUMN_M = 1_800_000  # the largest site at full capacity
TOOLTIP_STYLE = {"backgroundColor": "#1f2430", "color": "white", "fontSize": "12px", "maxWidth": "360px"}


COUNTRIES_PLACEHOLDER = "__rigshift_countries__"
# The basemap as a static file (Streamlit static serving, .streamlit/config.toml; static/ is a copy of
# ui/assets' file): the browser fetches and caches it once instead of receiving it with every rerun.
COUNTRIES_URL = "app/static/world-countries-110m.geojson"
STATIC_COUNTRIES = Path(__file__).resolve().parents[1] / "static" / COUNTRIES.name


@lru_cache(maxsize=1)
def countries() -> dict[str, Any]:
    with COUNTRIES.open(encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def _countries_json() -> str:
    return json.dumps(countries(), separators=(",", ":"))


class _Deck(pdk.Deck):
    """A Deck whose JSON is compact and reuses the basemap's serialised GeoJSON.

    pydeck pretty-prints (about 1 MB and 150 ms per rerun with the countries); this keeps a
    slider move cheap. The countries layer carries a placeholder swapped for the cached text.
    """

    def to_json(self) -> str:
        cached = self.__dict__.get("_rigshift_json")
        if cached is None:
            text = json.dumps(self, sort_keys=True, default=default_serialize, separators=(",", ":"))
            cached = text.replace(json.dumps(COUNTRIES_PLACEHOLDER), _countries_json(), 1)
            self.__dict__["_rigshift_json"] = cached
        return cached


def risk_colour(reg_risk: float, alpha: int) -> list[int]:
    """Green (safe) through amber to red (reg_risk 0.30 a year or more)."""
    t = min(max(float(reg_risk) / 0.30, 0.0), 1.0)
    if t < 0.5:
        r, g, b = 46 + (245 - 46) * 2 * t, 160 + (180 - 160) * 2 * t, 67 - 67 * 2 * t
    else:
        r, g, b = 245 - (245 - 211) * (2 * t - 1), 180 - 150 * (2 * t - 1), 0 + 40 * (2 * t - 1)
    return [int(r), int(g), int(b), int(alpha)]


def view_state(scn: optimizer.Scenario) -> pdk.ViewState:
    """A camera that frames every origin and site; a function of coordinates only."""
    lat = np.concatenate([scn.origins["lat"].to_numpy(float), scn.sites["lat"].to_numpy(float)])
    lon = np.concatenate([scn.origins["lon"].to_numpy(float), scn.sites["lon"].to_numpy(float)])
    if not len(lat):
        return pdk.ViewState(latitude=20.0, longitude=0.0, zoom=1.0, pitch=35, bearing=0)
    lon_span = float(lon.max() - lon.min()) or 1.0
    lat_span = float(lat.max() - lat.min()) or 1.0
    zoom = max(0.6, min(6.0, math.log2(min(360 / (lon_span * 1.3), 170 / (lat_span * 1.6))) + 0.6))
    return pdk.ViewState(latitude=round(float(lat.mean()), 2), longitude=round(float((lon.max() + lon.min()) / 2), 2),
                         zoom=round(zoom, 2), pitch=35, bearing=0)


def _site_tip(row: pd.Series, mult: float) -> str:
    lines = [f"<b>{row['site']}</b> ({row['jurisdiction']})",
             f"MW used: {row['mw_used']:.2f} of {row['capacity_mw']:.2f} ({100 * row['utilization']:.0f}%)",
             f"Rigs: {row['rigs']:,.0f}, {row['hashrate_ths'] / 1e3:,.1f} PH/s",
             f"Power: ${row['power_usd_kwh'] * mult:.4f}/kWh, PUE {row['pue']:.2f}, uptime {100 * row['uptime']:.0f}%",
             f"Regulatory risk: {100 * row['reg_risk']:.1f}% a year"]
    shadow = row.get("shadow_usd_per_mw")
    if shadow is not None and not pd.isna(shadow) and row["mw_used"] > 0:
        lines.append(f"One more MW here is worth {fmt.usd(shadow)}")
    entry = row.get("entry_power_usd_kwh")
    if entry is not None and not pd.isna(entry):
        lines.append("Not worth using even with free power" if entry < 0
                     else f"Would enter the plan at power below ${entry:.4f}/kWh")
    if row.get("excluded_by_user"):
        lines.append("<i>Excluded (capacity set to 0)</i>")
    return "<br/>".join(lines)


_BUILT: dict[tuple, pdk.Deck] = {}  # the last few map specifications, by what they show (issue 13)
_BUILT_MAX = 16


def build(scn: optimizer.Scenario, res: optimizer.Result, initial_view: pdk.ViewState,
          excluded_sites: list[str] | tuple[str, ...] = ()) -> pdk.Deck:
    """The map for a plan; the same (scenario, plan, view, exclusions) reuses the built Deck and its JSON."""
    key = (compute.fingerprint(scn), res.summary.get("objective_usd"), res.summary.get("status"),
           json.dumps(initial_view.__dict__, sort_keys=True, default=str), tuple(excluded_sites))
    deck = _BUILT.get(key)
    if deck is None:
        deck = _build(scn, res, initial_view, excluded_sites)
        if len(_BUILT) >= _BUILT_MAX:
            _BUILT.pop(next(iter(_BUILT)))
        _BUILT[key] = deck
    return deck


def _build(scn: optimizer.Scenario, res: optimizer.Result, initial_view: pdk.ViewState,
           excluded_sites: list[str] | tuple[str, ...] = ()) -> pdk.Deck:
    mult = scn.settings.policy.power_price_multiplier
    sites = scn.sites.drop(columns=["_row"], errors="ignore")[
        ["site", "lat", "lon", "power_usd_kwh", "pue", "uptime", "reg_risk"]
    ].merge(res.sites, on="site", how="left")
    sites["excluded_by_user"] = sites["site"].isin(set(excluded_sites))
    cap_max = float(sites["capacity_mw"].max() or 1.0) if len(sites) else 1.0
    site_rows = []
    for _, row in sites.iterrows():
        used = row["mw_used"] > 1e-6
        site_rows.append({
            "position": [float(row["lon"]), float(row["lat"])],
            "elevation": float(max(row["mw_used"], 0.0) / cap_max * TALLEST_COLUMN_M) if used else 2_000.0,
            "colour": risk_colour(row["reg_risk"], 230 if used else 90),
            "tip": _site_tip(row, mult),
        })

    origins = scn.origins.drop(columns=["_row"], errors="ignore")
    counts = scn.fleet.groupby("origin")["count"].sum()
    moved = res.allocation.groupby(["origin", "action"])["rigs"].sum().unstack(fill_value=0.0)
    total = float(counts.max() or 1.0) if len(counts) else 1.0
    origin_rows = []
    for _, row in origins.iterrows():
        n = float(counts.get(row["origin"], 0.0))
        parts = [f"{a}: {moved.loc[row['origin'], a]:,.0f}" for a in ("relocate", "sell", "idle")
                 if row["origin"] in moved.index and a in moved.columns and moved.loc[row["origin"], a] > 0.5]
        origin_rows.append({
            "position": [float(row["lon"]), float(row["lat"])],
            "radius": 40_000 + 160_000 * math.sqrt(n / total),
            "tip": f"<b>{row['origin']}</b> ({row['country']})<br/>Fleet here: {n:,.0f} rigs<br/>" + "<br/>".join(parts),
        })

    reloc = res.allocation[res.allocation["action"] == "relocate"]
    flows = reloc.groupby(["origin", "site"], as_index=False).agg(rigs=("rigs", "sum"), mw=("mw", "sum"))
    pos_o = {r["origin"]: (float(r["lon"]), float(r["lat"])) for _, r in origins.iterrows()}
    pos_s = {r["site"]: (float(r["lon"]), float(r["lat"])) for _, r in sites.iterrows()}
    biggest = float(flows["rigs"].max()) if len(flows) else 1.0
    arc_rows = [{
        "source": list(pos_o[f["origin"]]), "target": list(pos_s[f["site"]]),
        "width": 1.0 + 9.0 * float(f["rigs"]) / biggest,
        "tip": f"<b>{f['origin']} &rarr; {f['site']}</b><br/>{f['rigs']:,.0f} rigs, {f['mw']:.2f} MW",
    } for _, f in flows.iterrows() if f["origin"] in pos_o and f["site"] in pos_s]

    layers = [
        pdk.Layer("GeoJsonLayer", COUNTRIES_URL if STATIC_COUNTRIES.is_file() else COUNTRIES_PLACEHOLDER, id="countries", stroked=True, filled=True,
                  get_fill_color=[236, 236, 232, 255], get_line_color=[160, 160, 160, 255],
                  line_width_min_pixels=0.5, pickable=False),
        pdk.Layer("ArcLayer", arc_rows, id="flows", get_source_position="source", get_target_position="target",
                  get_width="width", width_units="pixels", great_circle=True, get_height=0.35,
                  get_source_color=[31, 71, 136, 200], get_target_color=[232, 113, 10, 220], pickable=True),
        pdk.Layer("ColumnLayer", site_rows, id="sites", get_position="position", get_elevation="elevation",
                  elevation_scale=1, radius=COLUMN_RADIUS_M, get_fill_color="colour", extruded=True,
                  pickable=True, auto_highlight=True),
        pdk.Layer("ScatterplotLayer", origin_rows, id="origins", get_position="position", get_radius="radius",
                  get_fill_color=[31, 71, 136, 200], get_line_color=[255, 255, 255, 255], stroked=True,
                  line_width_min_pixels=1, pickable=True),
    ]
    return _Deck(layers=layers, initial_view_state=initial_view, map_style=None,
                    views=[pdk.View(type="MapView", controller=True, repeat=True)],
                    tooltip={"html": "{tip}", "style": TOOLTIP_STYLE})
