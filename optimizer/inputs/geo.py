"""Which country a point lies in, and how far it is from a named country, from the bundled
Natural Earth 1:110m outlines (``data/world-countries-110m.geojson``; coarse: borders are good to
tens of km, so callers only warn beyond a few hundred km).

Point-in-polygon by ray casting (even-odd rule over all rings), vectorised with numpy.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from optimizer.inputs.names import canon

DATA = Path(__file__).resolve().parent / "data" / "world-countries-110m.geojson"
EARTH_RADIUS_KM = 6371.0

# Names people use for a country, and subdivisions that name their country (first-level, the
# ones mining scenarios use). Keys are compared with names.canon.
ALIASES = {
    "usa": "United States of America", "us": "United States of America", "united states": "United States of America",
    "u.s.": "United States of America", "america": "United States of America",
    "uk": "United Kingdom", "great britain": "United Kingdom", "russian federation": "Russia",
    "prc": "China", "people's republic of china": "China", "mainland china": "China",
    "drc": "Dem. Rep. Congo", "democratic republic of the congo": "Dem. Rep. Congo",
    "czech republic": "Czechia", "uae": "United Arab Emirates", "south korea": "South Korea", "korea": "South Korea",
    "ivory coast": "Côte d'Ivoire", "cote d'ivoire": "Côte d'Ivoire", "bosnia and herzegovina": "Bosnia and Herz.",
    "central african republic": "Central African Rep.", "dominican republic": "Dominican Rep.",
    "swaziland": "eSwatini", "eswatini": "eSwatini", "burma": "Myanmar", "kyrgyz republic": "Kyrgyzstan",
}
US_STATES = ("Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia Hawaii Idaho "
             "Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts Michigan Minnesota "
             "Mississippi Missouri Montana Nebraska Nevada New_Hampshire New_Jersey New_Mexico New_York "
             "North_Carolina North_Dakota Ohio Oklahoma Oregon Pennsylvania Rhode_Island South_Carolina South_Dakota "
             "Tennessee Texas Utah Vermont Virginia Washington West_Virginia Wisconsin Wyoming").split()
CA_PROVINCES = ("Alberta British_Columbia Manitoba New_Brunswick Newfoundland_and_Labrador Nova_Scotia Ontario "
                "Prince_Edward_Island Quebec Québec Saskatchewan Yukon Nunavut Northwest_Territories").split()
CN_PROVINCES = ("Anhui Beijing Chongqing Fujian Gansu Guangdong Guangxi Guizhou Hainan Hebei Heilongjiang Henan Hubei "
                "Hunan Inner_Mongolia Jiangsu Jiangxi Jilin Liaoning Ningxia Qinghai Shaanxi Shandong Shanghai Shanxi "
                "Sichuan Tianjin Tibet Xinjiang Yunnan Zhejiang").split()
SUBDIVISIONS = {**{s.replace("_", " "): "United States of America" for s in US_STATES},
                **{p.replace("_", " "): "Canada" for p in CA_PROVINCES},
                **{p.replace("_", " "): "China" for p in CN_PROVINCES}}
# "Georgia" is both a US state and a country: the country wins only when named as such.
AMBIGUOUS = {"georgia"}


@functools.lru_cache(maxsize=1)
def _countries() -> dict[str, list[np.ndarray]]:
    """country name -> list of rings, each an (n, 2) array of (lon, lat)."""
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    out: dict[str, list[np.ndarray]] = {}
    for feat in doc["features"]:
        geom = feat["geometry"]
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        rings = [np.asarray(ring, float) for poly in polys for ring in poly]
        out[feat["properties"]["name"]] = rings
    return out


@functools.lru_cache(maxsize=1)
def _lookup() -> dict[str, str]:
    names = {canon(n): n for n in _countries()}
    names.update({canon(k): v for k, v in ALIASES.items()})
    return names


@functools.lru_cache(maxsize=1)
def _subdivisions() -> dict[str, str]:
    return {canon(name): country for name, country in SUBDIVISIONS.items()}


@functools.lru_cache(maxsize=4096)
def country_named(text: str) -> str | None:
    """The outline's country name for a jurisdiction or country text ("Texas" -> United States of America,
    "Russia (Irkutsk)" -> Russia, "kazakhstan" -> Kazakhstan), or None if it is not recognised."""
    key = canon(text)
    base = canon(text.split("(")[0])
    lookup = _lookup()
    for k in (key, base):
        if k in lookup:
            return lookup[k]
    subdivisions = _subdivisions()
    for k in (key, base):
        if k in subdivisions and k not in AMBIGUOUS:
            return subdivisions[k]
    return None


@functools.lru_cache(maxsize=4096)
def subdivision_of(text: str) -> str | None:
    """For 'Georgia' and the like: the country of the subdivision of that name (or None)."""
    return _subdivisions().get(canon(text.split("(")[0]))


def _inside(lon: np.ndarray, lat: np.ndarray, rings: list[np.ndarray]) -> np.ndarray:
    inside = np.zeros(lon.shape, bool)
    for ring in rings:
        x1, y1 = ring[:-1, 0][None, :], ring[:-1, 1][None, :]
        x2, y2 = ring[1:, 0][None, :], ring[1:, 1][None, :]
        px, py = lon[:, None], lat[:, None]
        crosses = (y1 > py) != (y2 > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
        inside ^= (crosses & (px < x_at)).sum(axis=1) % 2 == 1
    return inside


def inside(country: str, lat, lon) -> np.ndarray:
    """Bool array: which points (decimal degrees) lie inside the named country's outline."""
    lat, lon = np.atleast_1d(np.asarray(lat, float)), np.atleast_1d(np.asarray(lon, float))
    return _inside(lon, lat, _countries()[country])


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between points in degrees (broadcasting), Earth radius 6371 km
    (SPEC section 2's dist(o, s); also the distance to a country's outline)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_km(country: str, lat, lon) -> np.ndarray:
    """Approximate distance (km) from each point to the named country: 0 inside, else to the nearest vertex."""
    lat, lon = np.atleast_1d(np.asarray(lat, float)), np.atleast_1d(np.asarray(lon, float))
    rings = _countries()[country]
    verts = np.concatenate(rings)
    d = haversine_km(lat[:, None], lon[:, None], verts[:, 1][None, :], verts[:, 0][None, :]).min(axis=1)
    return np.where(_inside(lon, lat, rings), 0.0, d)


def country_of(lat: float, lon: float) -> str | None:
    """The country whose outline contains the point, or None (sea, or a gap of the coarse outlines)."""
    for name, rings in _countries().items():
        if _inside(np.array([lon], float), np.array([lat], float), rings)[0]:
            return name
    return None
