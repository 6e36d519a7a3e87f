"""The replays the app has computed in this session, for the decision report (issue 24: "complete whatever was
computed last"): the What happened tab's replay on the scenario's history and the Risk tab's replay over sampled
futures (``ui.monthly_view``), looked up by the scenario's fingerprint when the report is made, never computed here.

``replay_lookup(scn)`` runs in the script (it takes this session's stores) and returns a function that, when the
report is built (on download, possibly after the tabs computed in the same run), gives the report's replay
sections (``workspace.report_monthly.replay_section``): the history's first, then the sampled futures' most
recently computed.
"""
from __future__ import annotations

from typing import Any, Callable

import optimizer

from . import compute

STORES = ("replay_history", "replay_samples")  # ui.monthly_view's per_session names


def replay_lookup(scn: optimizer.Scenario) -> Callable[[], list[dict[str, Any]]]:
    stores = {name: compute.memo_store(name) for name in STORES}

    def sections() -> list[dict[str, Any]]:
        from workspace.report_monthly import replay_section

        from .monthly_view import replay_scenario

        try:
            fp = compute.fingerprint(replay_scenario(scn))
        except Exception:  # noqa: BLE001 - no replay section rather than no report
            return []
        out = []
        for name, where in (("replay_history", "history"), ("replay_samples", "samples")):
            hits = [(key, rep) for key, rep in list(stores[name].items()) if key and key[0] == fp]
            if hits:
                key, rep = hits[-1]  # the most recently used
                n = int(rep.summary.get("n_futures", 1))
                out.append(replay_section(rep.summary, n, where))
        return out
    return sections
