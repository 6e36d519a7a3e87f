"""The plan's map as a static PNG for the report (matplotlib, offline): country outlines from
the bundled Natural Earth GeoJSON, origins as triangles, sites as circles sized by the MW the
plan puts there and coloured by regulatory risk, great-circle arcs sized by the rigs moved.
"""
from __future__ import annotations

import io
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure  # not pyplot: app sessions draw in parallel threads

from optimizer.inputs.geo import DATA as COUNTRIES  # the one copy of the outlines


RISK_CMAP = "RdYlGn_r"
RISK_MAX = 0.30  # reg_risk at which a site is drawn fully red (as the app's map)


@lru_cache(maxsize=1)
def label_fonts() -> tuple[str, ...]:
    """Font families for names on the map, in fallback order: DejaVu Sans, then a CJK font (Noto Sans
    CJK from Debian's fonts-noto-cjk, `make report-libs`) so that Chinese names print, not boxes.
    Fonts installed after matplotlib built its font cache are added here from the system's font list."""
    from matplotlib import font_manager

    families = ["DejaVu Sans"]
    known = {f.name for f in font_manager.fontManager.ttflist}
    cjk = sorted(n for n in known if "CJK" in n and "Sans" in n and "Mono" not in n)
    if not cjk:
        for path in font_manager.findSystemFonts():
            name = Path(path).name
            if "CJK" in name and "Sans" in name and "Regular" in name and "Mono" not in name:
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # an unreadable font file: go without it
                    continue
        cjk = sorted({f.name for f in font_manager.fontManager.ttflist if "CJK" in f.name and "Sans" in f.name
                      and "Mono" not in f.name})
    cjk.sort(key=lambda n: (not n.endswith(" SC"), n))  # Simplified Chinese glyph forms first (the datasets' origins)
    return tuple(families + cjk[:1])


@lru_cache(maxsize=1)
def _country_polygons() -> tuple[np.ndarray, ...]:
    with COUNTRIES.open(encoding="utf-8") as fh:
        doc = json.load(fh)
    rings = []
    for feature in doc["features"]:
        geom = feature["geometry"]
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        for poly in polys:
            rings.append(np.asarray(poly[0], dtype=float))
    return tuple(rings)


def great_circle(lon1: float, lat1: float, lon2: float, lat2: float, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Points along the shorter great circle, longitudes unwrapped (may leave -180..180)."""
    p1, p2 = np.radians([lat1, lon1]), np.radians([lat2, lon2])
    a = np.array([np.cos(p1[0]) * np.cos(p1[1]), np.cos(p1[0]) * np.sin(p1[1]), np.sin(p1[0])])
    b = np.array([np.cos(p2[0]) * np.cos(p2[1]), np.cos(p2[0]) * np.sin(p2[1]), np.sin(p2[0])])
    omega = np.arccos(np.clip(a @ b, -1.0, 1.0))
    t = np.linspace(0.0, 1.0, n)
    if omega < 1e-9:
        pts = np.outer(1 - t, a) + np.outer(t, b)
    else:
        pts = (np.outer(np.sin((1 - t) * omega), a) + np.outer(np.sin(t * omega), b)) / np.sin(omega)
    lat = np.degrees(np.arcsin(np.clip(pts[:, 2], -1, 1)))
    lon = np.degrees(np.unwrap(np.arctan2(pts[:, 1], pts[:, 0])))
    return lon, lat


def render_png(origins: pd.DataFrame, sites: pd.DataFrame, plan_sites: pd.DataFrame, allocation: pd.DataFrame,
               title: str = "", dpi: int = 130) -> bytes:
    """PNG bytes. ``origins``/``sites``: the scenario's tables (lat, lon); ``plan_sites``: the result's
    sites table (mw_used, excluded); ``allocation``: the result's rows (action, origin, site, rigs)."""
    fig = map_figure(origins, sites, plan_sites, allocation, title, dpi)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def map_figure(origins: pd.DataFrame, sites: pd.DataFrame, plan_sites: pd.DataFrame, allocation: pd.DataFrame,
               title: str = "", dpi: int = 130) -> Figure:
    """The map as a matplotlib Figure (``render_png`` saves it); arguments as ``render_png``."""
    fig = Figure(figsize=(10, 5.2), dpi=dpi)
    ax = fig.subplots()
    ax.add_collection(PolyCollection(_country_polygons(), facecolors="#eef0f3", edgecolors="#b5bac4", linewidths=0.4))
    reloc = allocation[allocation["action"] == "relocate"]
    if len(reloc):
        flows = reloc.groupby(["origin", "site"], as_index=False)["rigs"].sum()
        o_at = origins.set_index("origin")[["lat", "lon"]]
        s_at = sites.set_index("site")[["lat", "lon"]]
        widest = float(flows["rigs"].max())
        for f in flows.itertuples():
            lon, lat = great_circle(o_at.at[f.origin, "lon"], o_at.at[f.origin, "lat"],
                                    s_at.at[f.site, "lon"], s_at.at[f.site, "lat"])
            for shift in (-360.0, 0.0, 360.0):  # an arc over the date line shows on both edges
                ax.plot(lon + shift, lat, color="#E8710A", alpha=0.55, linewidth=0.6 + 3.4 * f.rigs / widest,
                        solid_capstyle="round", zorder=2)
    merged = sites[["site", "lat", "lon", "reg_risk"]].merge(plan_sites[["site", "mw_used"]], on="site", how="left")
    used = merged["mw_used"].fillna(0.0) > 1e-6
    top = float(merged["mw_used"].max() or 1.0)
    ax.scatter(merged.loc[~used, "lon"], merged.loc[~used, "lat"], s=14, facecolors="none", edgecolors="#8a8f99",
               linewidths=0.7, zorder=3, label="candidate site, unused")
    sc = ax.scatter(merged.loc[used, "lon"], merged.loc[used, "lat"], s=30 + 400 * merged.loc[used, "mw_used"] / top,
                    c=merged.loc[used, "reg_risk"], cmap=RISK_CMAP, vmin=0.0, vmax=RISK_MAX, edgecolors="#333",
                    linewidths=0.6, zorder=4, label="site used (area = MW)")
    ax.scatter(origins["lon"], origins["lat"], marker="^", s=60, color="#1f2430", zorder=5, label="origin (fleet today)")
    for r in merged[used].sort_values("mw_used", ascending=False).head(6).itertuples():
        ax.annotate(str(r.site), (r.lon, r.lat), xytext=(4, 4), textcoords="offset points", fontsize=6.5, color="#1f2430",
                    zorder=6, parse_math=False, fontfamily=list(label_fonts()))  # a name is drawn as written: "$" is no maths
    cb = fig.colorbar(sc, ax=ax, fraction=0.02, pad=0.01, shrink=0.7)
    cb.set_label("regulatory risk (reg_risk per year)", fontsize=7)
    cb.ax.tick_params(labelsize=6)
    ax.set_xlim(-180, 180)
    ax.set_ylim(-58, 80)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#cfd3da")
    ax.legend(loc="lower left", fontsize=7, frameon=True, framealpha=0.9)
    if title:
        ax.set_title(title, fontsize=9, parse_math=False, fontfamily=list(label_fonts()))
    fig.tight_layout()
    return fig
