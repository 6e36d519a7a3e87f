"""The plan on a world map: where the fleet stands, the candidate sites, and the flows between them.

Works offline: no map tiles and no map-style server. The countries are drawn from a bundled
Natural Earth GeoJSON served by the app itself (static/README.md), and the deck asks Streamlit
for no basemap.
Tooltips are plain text (``tooltip={"text": ...}``): every field is computed here, so a
name typed by a user is shown as text and never run as markup.

Flows are bundled by (origin country, destination jurisdiction): a whole country's fleet
leaving for Texas is one arc, whose width is the rigs moved, instead of a fan of one arc per
(origin, site). The camera frames every origin and site, across the antimeridian when that
is the shorter way round, and depends only on the scenario's coordinates, so a slider move
never moves the map.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pydeck as pdk
import streamlit as st
from pydeck.bindings.json_tools import default_serialize


import optimizer
from optimizer.inputs import provenance
from optimizer.results import fmt


# Served by Streamlit's static file serving (.streamlit/config.toml): the browser loads it once and
# deck.gl keeps the tessellated countries across reruns because the URL does not change.
COUNTRIES_URL = "app/static/world-countries-110m.geojson"
# Streamlit adds a Carto basemap (an outbound request) unless the style is pydeck's default
# sentinel, which its frontend reads as "no basemap".
NO_BASEMAP = "__MAP_STYLE__"
TOOLTIP_STYLE = {"backgroundColor": "#1f2430", "color": "white", "fontSize": "12px", "maxWidth": "300px",
                 "whiteSpace": "pre-line", "lineHeight": "1.35", "padding": "6px 8px", "borderRadius": "4px",
                 "zIndex": "1000"}
TOOLTIP = {"text": "{tip}", "style": TOOLTIP_STYLE}
RISK_SCALE_MAX = 0.30  # reg_risk a year at which the colour scale is fully red
# The first view is framed for the narrowest map (a 390 px phone, legend below): a wider map shows more
# around the same frame (the world once, see _build), never less. The height is fixed.
MAP_WIDTH_PX, MAP_HEIGHT_PX = 340, 500
MIN_ZOOM = 0.0  # deck.gl draws no further out (a 512 px world); a phone's 340 px then shows about 240 degrees
ORIGIN_COLOUR = [31, 71, 136, 230]
ARC_SOURCE_COLOUR = [31, 71, 136, 210]
ARC_TARGET_COLOUR = [232, 113, 10, 230]


# ---------------------------------------------------------------- basemap


class _Deck(pdk.Deck):
    """A Deck serialised compactly (pydeck pretty-prints, about twice the bytes)."""

    def to_json(self) -> str:
        cached = self.__dict__.get("_rigshift_json")
        if cached is None:  # serialised once per built deck
            cached = json.dumps(self, sort_keys=True, default=default_serialize, separators=(",", ":"))
            self.__dict__["_rigshift_json"] = cached
        return cached


class CachedDeck:
    """What ``st.pydeck_chart`` needs from a Deck (``to_json``), holding an already built JSON text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._tooltip = TOOLTIP  # Streamlit sends the tooltip beside the spec


    def to_json(self) -> str:
        return self.text


# ---------------------------------------------------------------- colours and camera


def risk_colour(reg_risk: float, alpha: int) -> list[int]:
    """Green (safe) through amber to red (reg_risk RISK_SCALE_MAX a year or more), RGBA 0-255."""
    t = min(max(float(reg_risk) / RISK_SCALE_MAX, 0.0), 1.0)
    if t < 0.5:
        r, g, b = 46 + (245 - 46) * 2 * t, 160 + (180 - 160) * 2 * t, 67 - 67 * 2 * t
    else:
        r, g, b = 245 - (245 - 211) * (2 * t - 1), 180 - 150 * (2 * t - 1), 0 + 40 * (2 * t - 1)
    return [int(r), int(g), int(b), int(alpha)]


def legend_gradient() -> str:
    """CSS linear-gradient of the risk colour scale, 0 to RISK_SCALE_MAX."""
    stops = [risk_colour(RISK_SCALE_MAX * i / 4, 255) for i in range(5)]
    return "linear-gradient(to right, " + ", ".join(f"rgb({r},{g},{b}) {25 * i}%" for i, (r, g, b, _) in enumerate(stops)) + ")"


def lon_window(lon: np.ndarray) -> tuple[float, float]:
    """(centre, span) in degrees of the shortest longitude interval holding every point, either way round.

    The interval is the circle minus its largest gap between neighbouring longitudes, so points
    on both sides of the Pacific give a window across the antimeridian. Centre is in [-180, 180).
    """
    lon = np.sort(np.mod(np.asarray(lon, float) + 180.0, 360.0) - 180.0)
    if len(lon) == 0:
        return 0.0, 360.0
    if len(lon) == 1:
        return float(lon[0]), 0.0
    gaps = np.diff(np.concatenate([lon, [lon[0] + 360.0]]))
    k = int(np.argmax(gaps))
    start = lon[(k + 1) % len(lon)]
    span = 360.0 - float(gaps[k])
    centre = (start + span / 2 + 180.0) % 360.0 - 180.0
    return float(centre), span


def _mercator_y(lat: np.ndarray) -> np.ndarray:
    lat = np.radians(np.clip(lat, -85.0, 85.0))
    return np.log(np.tan(np.pi / 4 + lat / 2))


def _frame_span(scn: optimizer.Scenario) -> float:
    lon = np.concatenate([scn.origins["lon"].to_numpy(float), scn.sites["lon"].to_numpy(float)])
    return lon_window(lon)[1] if len(lon) else 360.0


def view_state(scn: optimizer.Scenario, width_px: int = MAP_WIDTH_PX, height_px: int = MAP_HEIGHT_PX) -> pdk.ViewState:
    """A flat camera that frames every origin and site (a function of their coordinates only)."""
    lat = np.concatenate([scn.origins["lat"].to_numpy(float), scn.sites["lat"].to_numpy(float)])
    lon = np.concatenate([scn.origins["lon"].to_numpy(float), scn.sites["lon"].to_numpy(float)])
    if not len(lat):
        return pdk.ViewState(latitude=20.0, longitude=0.0, zoom=1.0, pitch=0, bearing=0)
    centre_lon, span = lon_window(lon)
    y = _mercator_y(lat)
    y_mid = float((y.max() + y.min()) / 2)
    centre_lat = math.degrees(2 * math.atan(math.exp(y_mid)) - math.pi / 2)
    # At zoom z the world is 512 * 2**z px wide; keep 15% margin each side.
    span_x = max(span, 8.0) * 1.3 / 360.0
    span_y = max(float(y.max() - y.min()), 0.15) * 1.3 / (2 * math.pi)
    zoom = math.log2(min(width_px / (512 * span_x), height_px / (512 * span_y)))
    if zoom < MIN_ZOOM:  # no room for the margin: frame the marks themselves
        zoom = math.log2(min(width_px / (512 * span_x / 1.3), height_px / (512 * span_y / 1.3)))
    zoom = max(MIN_ZOOM, min(6.0, zoom))
    # deck.gl keeps the view inside the world (its controller normalises the centre so no space shows above
    # the pole): a centre it would move is moved here, so where the marks are drawn is where this view says.
    world_px = 512 * 2 ** zoom
    room = max(0.0, (world_px - height_px) / 2) / world_px * 2 * math.pi
    y_mid = max(-room, min(room, y_mid))
    centre_lat = math.degrees(2 * math.atan(math.exp(y_mid)) - math.pi / 2)
    return pdk.ViewState(latitude=round(centre_lat, 2), longitude=round(centre_lon, 2),
                         zoom=round(max(MIN_ZOOM, min(6.0, zoom)), 2), pitch=0, bearing=0, min_zoom=MIN_ZOOM)


def unwrap(lon: float, centre: float) -> float:
    """A longitude moved by whole turns into [centre - 180, centre + 180): the frame's own copy of the world, so
    a straight route between two framed points stays inside the frame."""
    return float((lon - centre + 180.0) % 360.0 - 180.0 + centre)


# ---------------------------------------------------------------- layer data


def site_tip(row: pd.Series, mult: float) -> str:
    """The hover text of one site: plain text, one fact a line."""
    lines = [f"{row['site']} ({row['jurisdiction']})"]
    if row.get("excluded_by_user"):
        lines.append("Left out of the plan by you")
    lines += [f"Uses {row['mw_used']:.2f} of {row['capacity_mw']:.2f} MW ({100 * row['utilization']:.0f}%)",
              f"{row['rigs']:,.0f} rigs, {row['hashrate_ths'] / 1e3:,.1f} PH/s",
              f"Power ${row['power_usd_kwh'] * mult:.4f}/kWh, PUE {row['pue']:.2f}, uptime {100 * row['uptime']:.0f}%",
              f"Regulatory risk {100 * row['reg_risk']:.1f}% a year"]
    shadow = row.get("shadow_usd_per_mw")
    if shadow is not None and not pd.isna(shadow) and row["mw_used"] > 0 and shadow > 0:
        lines.append(f"One more MW here is worth {fmt.usd(shadow)}")
    entry = row.get("entry_power_usd_kwh")
    if entry is not None and not pd.isna(entry):
        lines.append("Not worth using even with free power" if entry < 0
                     else f"Worth using if power cost under ${entry:.4f}/kWh")
    where = provenance.site_summary(row.get("source")) if isinstance(row.get("source"), str) else ""
    if where:
        lines.append("Where from: " + where)
    return "\n".join(lines)


def site_rows(scn: optimizer.Scenario, res: optimizer.Result, excluded_sites: tuple[str, ...] = ()) -> list[dict]:
    mult = scn.settings.policy.power_price_multiplier
    cols = ["site", "lat", "lon", "power_usd_kwh", "pue", "uptime", "reg_risk"] + (["source"] if "source" in scn.sites else [])
    sites = scn.sites[cols].merge(
        res.sites, on="site", how="left")
    sites["excluded_by_user"] = sites["site"].isin(set(excluded_sites))
    biggest = float(sites["mw_used"].max()) if len(sites) else 0.0
    rows = []
    for _, row in sites.iterrows():
        used = row["mw_used"] > 1e-6
        share = float(row["mw_used"]) / biggest if used and biggest > 0 else 0.0
        rows.append({
            "position": [float(row["lon"]), float(row["lat"])],
            "radius": 30_000 + 170_000 * math.sqrt(share),
            "colour": risk_colour(row["reg_risk"], 235 if used else 70),
            "line": [60, 60, 60, 220] if used else [120, 120, 120, 160],
            "tip": site_tip(row, mult),
        })
    return rows


def origin_rows(scn: optimizer.Scenario, res: optimizer.Result) -> list[dict]:
    counts = scn.fleet.groupby("origin")["count"].sum()
    moved = res.allocation.groupby(["origin", "action"])["rigs"].sum().unstack(fill_value=0.0)
    total = float(counts.max() or 1.0) if len(counts) else 1.0
    words = {"relocate": "relocated", "sell": "sold now", "idle": "stored"}
    rows = []
    for _, row in scn.origins.iterrows():
        n = float(counts.get(row["origin"], 0.0))
        parts = [f"{moved.loc[row['origin'], a]:,.0f} {words[a]}" for a in ("relocate", "sell", "idle")
                 if row["origin"] in moved.index and a in moved.columns and moved.loc[row["origin"], a] > 0.5]
        rows.append({
            "position": [float(row["lon"]), float(row["lat"])],
            "radius": 40_000 + 160_000 * math.sqrt(n / total),
            "tip": "\n".join([f"{row['origin']} ({row['country']})", f"Fleet here: {n:,.0f} rigs"] + parts),
        })
    return rows


def flows(scn: optimizer.Scenario, res: optimizer.Result) -> pd.DataFrame:
    """Relocated rigs bundled by (origin country, destination jurisdiction).

    Columns: country, jurisdiction, rigs, mw, src_lon, src_lat (rig-weighted origin centre),
    dst_lon, dst_lat (MW-weighted site centre), origins, sites (text). One row per arc.
    """
    reloc = res.allocation[(res.allocation["action"] == "relocate") & (res.allocation["rigs"] > 1e-6)]
    cols = ["country", "jurisdiction", "rigs", "mw", "src_lon", "src_lat", "dst_lon", "dst_lat", "origins", "sites"]
    if reloc.empty:
        return pd.DataFrame(columns=cols)
    # One pass over the relocation rows in plain Python: a few dozen rows, where pandas' merges and per-group
    # groupby/agg cost about 0.2 s a rerun (issue 23).
    o = {k: (c, float(la), float(lo)) for k, c, la, lo in zip(scn.origins["origin"], scn.origins["country"],
                                                             scn.origins["lat"], scn.origins["lon"])}
    s = {k: (j, float(la), float(lo)) for k, j, la, lo in zip(scn.sites["site"], scn.sites["jurisdiction"],
                                                             scn.sites["lat"], scn.sites["lon"])}
    groups: dict[tuple, dict] = {}
    for origin, site, rigs, mw in zip(reloc["origin"], reloc["site"], reloc["rigs"].to_numpy(float), reloc["mw"].to_numpy(float)):
        if origin not in o or site not in s:  # as the inner merges did
            continue
        (country, o_lat, o_lon), (jur, s_lat, s_lon) = o[origin], s[site]
        g = groups.setdefault((country, jur), {"rigs": 0.0, "mw": 0.0, "origins": {}, "sites": {}})
        g["rigs"] += rigs
        g["mw"] += mw
        a = g["origins"].setdefault(origin, [0.0, o_lat, o_lon])
        a[0] += rigs
        b = g["sites"].setdefault(site, [0.0, 0.0, s_lat, s_lon])
        b[0] += mw
        b[1] += rigs
    out = []
    for (country, jur), g in groups.items():
        by_origin = sorted(g["origins"].items())  # by name, then by rigs for the text (ties stay by name)
        by_site = sorted(g["sites"].items())
        o_w = np.array([v[0] for _, v in by_origin])
        s_w = np.array([v[0] for _, v in by_site]) + 1e-9
        out.append({
            "country": country, "jurisdiction": jur, "rigs": g["rigs"], "mw": g["mw"],
            "src_lon": _mean_lon([v[2] for _, v in by_origin], o_w),
            "src_lat": float(np.average([v[1] for _, v in by_origin], weights=o_w)),
            "dst_lon": _mean_lon([v[3] for _, v in by_site], s_w),
            "dst_lat": float(np.average([v[2] for _, v in by_site], weights=s_w)),
            "origins": ", ".join(f"{k} {v[0]:,.0f}" for k, v in sorted(by_origin, key=lambda kv: -kv[1][0])),
            "sites": ", ".join(f"{k} {v[1]:,.0f}" for k, v in sorted(by_site, key=lambda kv: -kv[1][1])),
        })
    return pd.DataFrame(out, columns=cols).sort_values("rigs", ascending=False).reset_index(drop=True)


def _mean_lon(lon: pd.Series, weights: pd.Series) -> float:
    """Weighted mean longitude on the circle (points either side of 180 average near 180, not 0)."""
    a = np.radians(np.asarray(lon, float))
    w = np.asarray(weights, float)
    return float(np.degrees(np.arctan2((w * np.sin(a)).sum(), (w * np.cos(a)).sum())))


def arc_rows(flow: pd.DataFrame) -> list[dict]:
    biggest = float(flow["rigs"].max()) if len(flow) else 1.0
    return [{
        "source": [round(f.src_lon, 3), round(f.src_lat, 3)], "target": [round(f.dst_lon, 3), round(f.dst_lat, 3)],
        "width": 1.5 + 6.5 * math.sqrt(f.rigs / biggest),
        "tip": f"{f.country} to {f.jurisdiction}\n{f.rigs:,.0f} rigs, {f.mw:.2f} MW\nFrom: {f.origins}\nTo: {f.sites}",
    } for f in flow.itertuples()]


# ---------------------------------------------------------------- the deck


_BUILT: dict[tuple, pdk.Deck] = {}
_BUILT_MAX = 16


def build(scn: optimizer.Scenario, res: optimizer.Result, initial_view: pdk.ViewState,
          excluded_sites: list[str] | tuple[str, ...] = ()) -> pdk.Deck:
    """The map for a plan; the same (scenario, plan, view, exclusions) reuses the built Deck and its JSON."""
    key = (scn.fingerprint(), res.summary.get("objective_usd"), res.summary.get("status"),
           (initial_view.latitude, initial_view.longitude, initial_view.zoom), tuple(excluded_sites))
    deck = _BUILT.get(key)
    if deck is None:
        deck = _build(scn, res, initial_view, excluded_sites)
        if len(_BUILT) >= _BUILT_MAX:
            _BUILT.pop(next(iter(_BUILT)))
        _BUILT[key] = deck
    return deck


def _build(scn: optimizer.Scenario, res: optimizer.Result, initial_view: pdk.ViewState,
           excluded_sites: list[str] | tuple[str, ...] = ()) -> pdk.Deck:
    """The map as a pydeck Deck: countries, flows (arcs), sites and origins (markers that keep a pixel size).

    Routes are drawn straight on the map (not as great circles, which leave the frame over the pole or the
    Pacific) between positions unwrapped into the frame's copy of the world; the world is drawn once unless the
    frame spans the antimeridian, where its far side is the repeated copy."""
    centre = float(initial_view.longitude)
    beyond = []  # unwrapped longitudes past +-180: the frame spans the antimeridian

    def frame(rows: list[dict], *keys: str) -> list[dict]:
        for row in rows:
            for k in keys:
                row[k] = [unwrap(row[k][0], centre), row[k][1]]
                beyond.append(abs(row[k][0]) > 180.0)
        return rows

    marks = [
        pdk.Layer("LineLayer", frame(arc_rows(flows(scn, res)), "source", "target"), id="flows",
                  get_source_position="source", get_target_position="target", get_width="width", width_units="pixels",
                  get_color=ARC_TARGET_COLOUR, pickable=True, auto_highlight=True),
        pdk.Layer("ScatterplotLayer", frame(site_rows(scn, res, tuple(excluded_sites)), "position"), id="sites",
                  get_position="position",
                  get_radius="radius", radius_min_pixels=5, radius_max_pixels=28, get_fill_color="colour",
                  get_line_color="line", stroked=True, line_width_min_pixels=1, pickable=True, auto_highlight=True),
        pdk.Layer("ScatterplotLayer", frame(origin_rows(scn, res), "position"), id="origins", get_position="position",
                  get_radius="radius", radius_min_pixels=6, radius_max_pixels=24, get_fill_color=ORIGIN_COLOUR,
                  get_line_color=[255, 255, 255, 255], stroked=True, line_width_min_pixels=1.5, pickable=True),
    ]
    layers = [pdk.Layer("GeoJsonLayer", COUNTRIES_URL, id="countries", stroked=True, filled=True,
                        get_fill_color=[236, 236, 232, 255], get_line_color=[165, 165, 165, 255],
                        line_width_min_pixels=0.5, pickable=False)] + marks
    # Without a depth test marks draw (and are picked) in layer order: sites and origins stay on top of
    # the arcs, which are lifted off the ground and would otherwise hide them from the pointer.
    return _Deck(layers=layers, initial_view_state=initial_view, map_style=NO_BASEMAP, map_provider=None,
                 parameters={"depthTest": False},
                 views=[pdk.View(type="MapView", controller=True, repeat=any(beyond))],
                 tooltip=TOOLTIP)


def deck_json(scn: optimizer.Scenario, res: optimizer.Result, initial_view: pdk.ViewState,
              excluded_sites: list[str] | tuple[str, ...] = ()) -> str:
    return build(scn, res, initial_view, excluded_sites).to_json()


LEGEND_CSS = """
<style>
.rs-legend {font-size: 0.85rem; line-height: 1.35;}
.rs-legend .rs-bar {height: 10px; border-radius: 3px; margin: 4px 0 2px 0;}
.rs-legend .rs-ticks {display: flex; justify-content: space-between; font-size: 0.75rem; color: #666;}
.rs-legend .rs-dot {display: inline-block; width: 12px; height: 12px; border-radius: 50%; vertical-align: -1px;
  margin-right: 6px;}
.rs-legend .rs-arc {display: inline-block; width: 26px; height: 5px; border-radius: 3px; vertical-align: 2px;
  margin-right: 6px; background: linear-gradient(to right, rgb(31,71,136), rgb(232,113,10));}
.rs-legend p {margin: 0 0 0.55rem 0;}
</style>
"""


def legend_html() -> str:
    """The legend beside the map: the risk colour scale and what each mark means (static, no user text)."""
    pct = int(round(100 * RISK_SCALE_MAX))
    return (LEGEND_CSS + '<div class="rs-legend" data-testid="rs-map-legend">'
            "<p><b>Sites</b>: size = MW used; faint = unused</p>"
            "<p>Colour = regulatory risk a year"
            f'<div class="rs-bar" style="background:{legend_gradient()}"></div>'
            f'<div class="rs-ticks"><span>0%</span><span>{pct // 2}%</span><span>{pct}%+</span></div></p>'
            f'<p><span class="rs-dot" style="background:rgb(31,71,136)"></span>Where the fleet stands now '
            "(size = rigs)</p>"
            '<p><span class="rs-arc"></span>Rigs moved, from a country to a state or country '
            "(width = rigs)</p>"
            "<p>Hover any mark for its numbers.</p></div>")


# ---------------------------------------------------------------- on the page


@st.cache_data(show_spinner=False, max_entries=64, ttl=3600)
def _cached_json(key: str, _scn: optimizer.Scenario, _res: optimizer.Result, view: tuple[float, float, float],
                 excluded_sites: tuple[str, ...]) -> str:
    lat, lon, zoom = view
    return deck_json(_scn, _res, pdk.ViewState(latitude=lat, longitude=lon, zoom=zoom, pitch=0, bearing=0,
                                               min_zoom=MIN_ZOOM),
                     excluded_sites)


def show(scn: optimizer.Scenario, res: optimizer.Result, framing: optimizer.Scenario,
         excluded_sites: list[str] | tuple[str, ...] = (), height_px: int = MAP_HEIGHT_PX, fp: str | None = None) -> None:
    """The map with its legend beside it (below it on a phone). ``framing`` fixes the first view;
    ``fp`` is ``scn``'s fingerprint when the caller has it (else it is computed)."""
    v = view_state(framing)
    key = (fp or scn.fingerprint()) + "|" + repr(res.summary.get("objective_usd"))
    text = _cached_json(key, scn, res, (v.latitude, v.longitude, v.zoom), tuple(excluded_sites))
    left, right = st.columns([5, 1.3], gap="small")
    with left:
        st.pydeck_chart(CachedDeck(text), key="plan_map", height=height_px)
    with right:
        st.html(LEGEND_HTML)  # built from constants only: no user text


LEGEND_HTML = legend_html()
