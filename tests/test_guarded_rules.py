"""Three rules that every other test let break unnoticed (issue 19), each worked by hand:

- the budget row of a MIP counts the fixed opening costs (SPEC section 3: sum upfront x + sum fixed_cost y <= budget);
- the canonical tie-break weighs each column by the MW it draws (optimizer/solver/canonical.py: sum h_j mw_j x_j),
  not by its name hash alone;
- the workspace library loads the newest version of a saved scenario when no version is asked for.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import optimizer
from optimizer.cli import main as cli
from tests import scenario_builder as sb
from tests.test_canonical import _h


def _one_batch(tmp_path: Path, sites: list[dict], **sections) -> optimizer.Scenario:
    """1000 rigs of 100 TH/s and 1,000 W (1 MW in all) at one origin; freight 20 USD per rig, no lead time."""
    rigs = [{"model": "R0", "hashrate_ths": 100.0, "power_w": 1000.0, "resale_usd": 1000.0}]
    origins = [{"origin": "O0", "country": "CN", "lat": 30.0, "lon": 100.0}]
    fleet = [{"origin": "O0", "model": "R0", "count": 1000}]
    lanes = [{"origin": "O0", "site": s["site"], "ship_usd_per_rig": 20.0, "lead_days": 0.0} for s in sites]
    sc = sb.scenario(rigs, origins, fleet, sites, lanes, **sections)
    return optimizer.load_scenario(sb.write(sc, tmp_path / f"s{len(list(tmp_path.iterdir()))}"))


@pytest.mark.parametrize("integer_rigs", [False, True])
def test_mip_budget_counts_the_fixed_opening_cost(tmp_path, integer_rigs):
    # One site worth opening (V far above resale), fixed cost 5,000 USD, freight 20 USD per rig.
    # Budget 15,000: after opening, 10,000 USD buys freight for 500 rigs; without the fixed cost in
    # the row it would buy 750. The other 500 are sold (resale 1,000 > storing).
    site = {"site": "Alpha", "jurisdiction": "J0", "lat": 40.0, "lon": 70.0, "capacity_mw": 2.0,
            "power_usd_kwh": 0.0, "fixed_cost_usd": 5000.0}
    scn = _one_batch(tmp_path, [site], policy={"budget_usd": 15000.0, "integer_rigs": integer_rigs, "risk_aversion": 0.0})
    res = optimizer.solve(scn)
    assert res.summary["mode"] == "mip"
    assert res.summary["rigs_relocated"] == pytest.approx(500, abs=1e-6)
    assert res.summary["rigs_sold"] == pytest.approx(500, abs=1e-6)
    assert res.summary["upfront_usd"] == pytest.approx(15000.0, rel=1e-9)  # freight and the opening, within budget


def test_tie_break_weighs_the_mw_each_column_draws(tmp_path):
    # Two sites alike but for the name and the PUE, with free power: a rig is worth exactly the same
    # at either, so every split of the 1000 rigs is optimal. The rule minimises sum h x MW per rig:
    # h(Alpha) = 1.318 < h(Bravo) = 1.812, but Alpha's PUE 1.5 makes it 1.318 x 1.5e-3 = 1.98e-3 per
    # rig against Bravo's 1.812 x 1.0e-3: all rigs go to Bravo (by the hash alone they would go to Alpha).
    h_alpha, h_bravo = _h("O0\x1fR0", "Alpha"), _h("O0\x1fR0", "Bravo")
    assert h_alpha < h_bravo and h_alpha * 1.5 > h_bravo
    sites = [{"site": name, "jurisdiction": "J0", "lat": 40.0, "lon": 70.0, "capacity_mw": 2.0, "power_usd_kwh": 0.0,
              "pue": pue} for name, pue in (("Alpha", 1.5), ("Bravo", 1.0))]
    scn = _one_batch(tmp_path, sites)
    econ = optimizer.compute_economics(scn)
    assert econ.value_usd[0, 0] == econ.value_usd[0, 1] > 1000.0  # a true tie, and relocating beats selling
    for overrides in ({}, {"solver.name": "cbc"}, {"solver.backend": "columns"}):
        res = optimizer.solve(scn.with_overrides(overrides))
        reloc = res.allocation[res.allocation["action"] == "relocate"]
        assert dict(zip(reloc["site"], reloc["rigs"])) == pytest.approx({"Bravo": 1000.0}, rel=1e-9), overrides


def test_library_load_without_a_version_gives_the_newest(tmp_path):
    from workspace.repository import Library

    url = f"sqlite:///{tmp_path / 'lib.db'}"
    lib = Library(url)
    for i in range(1, 4):
        lib.save("ann", "plan", {"x.csv": f"version {i}".encode()})
    lib.save("ann", "other", {"x.csv": b"another entry"})  # a later save of another entry changes nothing
    assert lib.load("ann", "plan").info.version == 3
    assert lib.load("ann", "plan").files == {"x.csv": b"version 3"}
    assert lib.load("ann", "plan", 1).files == {"x.csv": b"version 1"}
    assert [e.version for e in lib.list("ann") if e.name == "plan"] == [3]
    # the CLI: `library load` without --version writes the newest files
    folder = tmp_path / "china"
    optimizer.load_scenario(Path(__file__).resolve().parents[1] / "datasets" / "china-2021").write(folder)
    args = ["--db", url, "--user", "bob"]
    for btc in (30000, 40000, 50000):
        assert cli(["library", "save", str(folder), "--name", "what-if", "--set", f"market.btc_price_usd={btc}", *args]) == 0
    out = tmp_path / "loaded"
    assert cli(["library", "load", "what-if", "--out", str(out), *args]) == 0
    assert optimizer.load_scenario(out).settings.market.btc_price_usd == 50000.0
    assert lib.load("bob", "what-if").info.version == 3
