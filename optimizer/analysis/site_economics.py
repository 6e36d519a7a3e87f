"""What one MW of rigs earns and costs at each site over the horizon, for the plan's rig mix there.

Every per-rig term is read from the economics (``economics.compute``: upfront, penalty, terminal
value, resale, MW per rig; ``Economics.path``: the month-by-month revenue, power and hosting of
``economics.margin_path``), split the way ``analysis.breakdown`` splits it for one rig; nothing
here re-derives a term. Break-even prices: ``optimizer.analysis.breakeven``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer import economics as E
from optimizer.analysis.breakeven import breakeven_hashprice, breakeven_power
from optimizer.analysis.timeline import ZERO_RIGS, relocations
from optimizer.economics import Economics
from optimizer.inputs.scenario import Scenario
from optimizer.results import Result

COST_TERMS = ["power", "hosting", "freight", "duty", "risk charge"]
TERMS = ["revenue"] + COST_TERMS + ["resale left", "sell now"]


@dataclass(frozen=True)
class SiteMix:
    """Which rigs a site's numbers are for: the plan's rigs there, else the whole fleet's mix."""

    weights: np.ndarray  # (G, S) rigs of each group (``Economics`` order) at each site; the fleet's counts at unused sites
    used: np.ndarray  # (S,) bool: the plan sends rigs there


def site_mix(scn: Scenario, res: Result, econ: Economics | None = None) -> SiteMix:
    """The rigs behind each site's figures: the plan's relocations there, else (unused sites) the whole fleet."""
    econ = econ if econ is not None else E.compute(scn)
    w = np.zeros((econ.n_groups, len(econ.sites)))
    reloc = relocations(econ, res)
    reloc = reloc[(reloc["gi"] >= 0) & (reloc["si"] >= 0)]
    np.add.at(w, (reloc["gi"].to_numpy(), reloc["si"].to_numpy()), reloc["rigs"].to_numpy(float))
    used = w.sum(axis=0) > ZERO_RIGS
    w[:, ~used] = econ.count.astype(float)[:, None]
    return SiteMix(w, used)


def pair_terms(scn: Scenario, econ: Economics) -> dict[str, np.ndarray]:
    """Per rig, for every (group, site): the present-value terms of relocating it there, USD, (G, S) arrays.

    Keys: revenue, power (both counted in the months the rig runs, as ``analysis.breakdown``),
    hosting, freight, duty, risk charge, resale left (terminal value), sell now (resale today);
    and mw_per_rig (MW at the wall, cooling included). revenue - power - hosting is
    ``econ.ops_usd``; freight + duty is ``econ.upfront_usd``; revenue - costs + resale left is
    ``econ.value_usd`` (V).
    """
    G, S = econ.n_groups, len(econ.sites)
    path = econ.path(scn, np.arange(G)[:, None], np.arange(S)[None, :])
    w, running = path.weights(), path.running()
    revenue = (w * np.where(running, path.revenue_usd, 0.0)).sum(axis=-1)
    freight = E.freight(scn)[1][econ.group_origin, :]
    return {
        "revenue": revenue,
        "power": (w * np.where(running, path.power_usd, 0.0)).sum(axis=-1),
        "hosting": w.sum(axis=-1) * path.hosting_usd,
        "freight": freight,
        "duty": econ.upfront_usd - freight,
        "risk charge": econ.penalty_usd,
        "resale left": np.broadcast_to(econ.terminal_usd[:, None], (G, S)),
        "sell now": np.broadcast_to(econ.resale_usd[:, None], (G, S)),
        "mw_per_rig": econ.mw_per_rig,
    }


def site_economics(scn: Scenario, res: Result, econ: Economics | None = None) -> pd.DataFrame:
    """Per site (one row each, sites.csv order), USD per MW of rigs over the horizon (present values),
    for the site's rig mix (``site_mix``).

    Columns: site, jurisdiction, used (bool), revenue, power, hosting, freight, duty, risk charge,
    resale left, sell now (what those rigs fetch if sold today), value (revenue - costs + resale
    left), all USD per MW; breakeven_power_usd_kwh (USD/kWh, after the power-price multiplier) and
    breakeven_hashprice (USD per TH/s per day), NaN where none exists in the searched range.
    ``econ``: ``economics.compute(scn)`` when the caller has it.
    """
    econ = econ if econ is not None else E.compute(scn)
    mix = site_mix(scn, res, econ)
    terms = pair_terms(scn, econ)
    w = mix.weights
    mw = (w * terms["mw_per_rig"]).sum(axis=0)
    mw = np.where(mw > 0, mw, np.nan)
    out = pd.DataFrame({"site": scn.sites["site"], "jurisdiction": scn.sites["jurisdiction"], "used": mix.used})
    for name in TERMS:
        out[name] = (w * terms[name]).sum(axis=0) / mw
    out["value"] = out["revenue"] - out[COST_TERMS].sum(axis=1) + out["resale left"]
    out["breakeven_power_usd_kwh"] = breakeven_power(scn, w, econ) * scn.settings.policy.power_price_multiplier
    out["breakeven_hashprice"] = breakeven_hashprice(scn, w, econ)
    return out
