"""Load over Streamlit's own websocket protocol: 20 sessions at once on one running app, each moving the
power-price what-if to its own setting, must each be shown their own plan (no timings asserted).

The clients are bench.served's (what a browser sends: a rerun BackMsg with the widget states, the
message-cache hashes); the plan value each rerun's deltas carry is checked against the engine's plan
for that client's setting, solved here, independently of the server, as the app opens china-2021
(whole rigs).
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import optimizer
from bench import served
from optimizer.results import fmt
from tests.streamlit_server import ROOT, running_app

CLIENTS = 20
MOVES = 2  # each client: two settings of its own sequence (bench.served.setting_for)

pytestmark = [pytest.mark.slow]

if not (ROOT / "app.py").exists():
    pytest.skip("app.py is not in this checkout", allow_module_level=True)


def expected_values(settings: set[float]) -> dict[float, str]:
    """The plan value the app must show for each power-price multiplier: the engine's, in the app's format."""
    base = optimizer.load_scenario(ROOT / "datasets" / "china-2021").with_overrides({"policy.integer_rigs": True})
    return {v: fmt.usd(optimizer.solve(base.with_overrides({"policy.power_price_multiplier": v})).summary["objective_usd"])
            for v in sorted(settings)}


@pytest.mark.timeout(900)
def test_twenty_websocket_sessions_each_see_their_own_plan(tmp_path: Path):
    with running_app(tmp_path / "streamlit.log", startup_s=90) as (url, proc):
        out = asyncio.run(served.drive(url, CLIENTS, MOVES, think_s=1.0, seed=1))
        assert proc.poll() is None, "the server died"
    log = (tmp_path / "streamlit.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    record = out["record"]  # (client, setting sent, plan value shown, slider value shown, exception)
    assert len(record) == CLIENTS * MOVES
    assert sorted(k for k, *_ in record) == sorted(list(range(CLIENTS)) * MOVES)
    expected = expected_values({v for _, v, *_ in record})
    # the settings' plans are told apart by what is shown (else a swapped plan could pass)
    assert len(set(expected.values())) == len(expected), expected
    wrong = [(k, v, shown, expected[v], slider, exc) for k, v, shown, slider, exc in record
             if shown != expected[v] or slider != v or exc is not None]
    assert not wrong, f"{len(wrong)} of {len(record)} reruns showed another plan: {wrong[:5]}"
