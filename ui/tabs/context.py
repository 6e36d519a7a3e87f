"""What every tab renders: one frozen context per run, built by ``ui.main`` after the solve."""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

import optimizer


@dataclass(frozen=True)
class Context:
    """The scenario and plan of this run, as the tabs read them.

    ``scn``/``fp``/``res`` are the current settings (the user's table edits and what-ifs applied)
    and their plan (None when they did not solve). ``shown_scn``/``shown_fp``/``shown`` are the
    plan on screen: the current one, or the last plan that solved while the current settings have
    none (``stale``); ``shown`` is None only when no plan has solved in this session.
    """

    source: str  # the scenario picker's label (a built-in name, "upload: ...", "library: ...")
    base: optimizer.Scenario  # the scenario as loaded: no table edits, no what-ifs
    overrides: Mapping[str, Any]  # the what-if controls' values, settings key -> value
    excluded_sites: tuple[str, ...]  # sites the user ticked "exclude" in the Edit data grid
    scn: optimizer.Scenario
    fp: str  # scn's fingerprint (the cache key of everything computed from it)
    res: optimizer.Result | None
    shown_scn: optimizer.Scenario
    shown_fp: str
    shown: optimizer.Result | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))
        object.__setattr__(self, "excluded_sites", tuple(self.excluded_sites))

    @property
    def stale(self) -> bool:
        """The current settings have no plan (the one on screen, if any, is an earlier one)."""
        return self.res is None
