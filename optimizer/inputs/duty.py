"""Import duty by the country a rig was made in: rigs.csv ``made_in`` and duty.csv, checked against the
scenario, and the (model, site) table of duty shares the economics read.

US duty on mining rigs depends on where they were made, not on where they ship from: since 7 August
2025, 57.6% on rigs made in China and 21.6% on rigs made in Indonesia, Malaysia or Thailand (Compass
Mining, "Tariffs on Bitcoin mining hardware", updated August 2025; datasets/world-2025/README.md). A
duty.csv row (jurisdiction, made_in, import_duty) sets the duty on rigs of that country of manufacture
arriving at any site of that jurisdiction; every other (rig, site) pair keeps sites.csv's import_duty.
Without duty.csv (or with no made_in) every number is what it was.

Names are matched as everywhere else (``names.canon``: case, spaces and Unicode form ignored).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from optimizer.inputs import names
from optimizer.inputs import tables as T
from optimizer.inputs.errors import Problem
from optimizer.inputs.notes import InputWarning

if TYPE_CHECKING:
    from optimizer.inputs.scenario import Scenario


def _rows(frame) -> np.ndarray:
    return frame["_row"].to_numpy() if "_row" in frame.columns else np.arange(2, len(frame) + 2)


def duty_share(scn: "Scenario") -> np.ndarray:
    """(M, S) import duty as a share of resale_usd for a rig of model m (rigs.csv order) arriving at site s
    (sites.csv order): duty.csv's import_duty where (the site's jurisdiction, the rig's made_in) has a row,
    else the site's import_duty. Without duty.csv every row of the result is sites.csv's import_duty."""
    site_duty = scn.sites["import_duty"].to_numpy(float)
    out = np.broadcast_to(site_duty, (len(scn.rigs), len(site_duty))).copy()
    duty = getattr(scn, "duty", None)
    if duty is None or not len(duty) or "made_in" not in scn.rigs.columns:
        return out
    table = {(names.canon(j), names.canon(c)): float(v)
             for j, c, v in zip(duty["jurisdiction"], duty["made_in"], duty["import_duty"])}
    made = [names.canon(c) if isinstance(c, str) and c else "" for c in scn.rigs["made_in"]]
    juris = [names.canon(j) for j in scn.sites["jurisdiction"]]
    for m, c in enumerate(made):
        if not c:
            continue
        for s, j in enumerate(juris):
            v = table.get((j, c))
            if v is not None:
                out[m, s] = v
    return out


def check_duty(scn: "Scenario") -> tuple[list[Problem], list[InputWarning]]:
    """duty.csv against the scenario. Problems (exit 2): a jurisdiction that is not one of sites.csv (the
    row would change nothing). Warnings: a made_in no rig of rigs.csv has (the row changes nothing; a typo?),
    an import_duty above 1 (more than the rig is worth: a percent?). None without duty.csv."""
    duty = getattr(scn, "duty", None)
    if duty is None or not len(duty):
        return [], []
    problems: list[Problem] = []
    warnings: list[InputWarning] = []
    known = sorted(set(scn.sites["jurisdiction"]))
    known_canon = {names.canon(j) for j in known}
    made = sorted({c for c in scn.rigs.get("made_in", []) if isinstance(c, str) and c})
    made_canon = {names.canon(c) for c in made}
    for r, j, c, v in zip(_rows(duty), duty["jurisdiction"], duty["made_in"], duty["import_duty"].to_numpy(float)):
        if names.canon(j) not in known_canon:
            problems.append(Problem(T.DUTY.file, int(r), "jurisdiction", f"unknown jurisdiction '{j}': not in sites.csv",
                                    T._did_you_mean(j, known) or "jurisdictions are: " + ", ".join(known[:10])
                                    + (" ..." if len(known) > 10 else "")))
        if names.canon(c) not in made_canon:
            near = T._did_you_mean(c, made)
            warnings.append(InputWarning(T.DUTY.file, int(r), "made_in", c,
                                         f"no rig of rigs.csv is made in '{c}', so this row changes nothing"
                                         + (f": {near}" if near else " (rigs.csv's made_in is "
                                            + (", ".join(made) if made else "empty") + ")"),
                                         "", "duty.csv:made_in", "name"))
        if v > 1:
            warnings.append(InputWarning(T.DUTY.file, int(r), "import_duty", f"{v:g}",
                                         f"import_duty {v:g} for rigs made in '{c}' arriving in '{j}' means {v:.0%} "
                                         f"of the rig's resale value: is it a percent ({v / 100:g} as a fraction)?",
                                         "percent", "duty.csv:import_duty"))
    return problems, warnings
