"""Rigshift's engine: scenario folders in, an optimal relocation plan out.

A pure pipeline that never imports streamlit or pydeck:
settings.py, tables.py, scenario.py (load and validate) -> economics.py (per-rig values, month by
month) -> model.py (the LP/MIP, labelled rows) -> solvers.py (HiGHS, CBC) -> results.py (tables and
KPIs) and analysis.py (shadow prices, entry prices, payback, explain); engine.py runs it::

    import optimizer
    scn = optimizer.load_scenario("datasets/china-2021", overrides={"policy.risk_aversion": 2.0})
    res = optimizer.solve(scn)
    res.summary, res.allocation, res.sites
"""
from .analysis import breakdown
from .economics import compute as compute_economics, hashprice_today, margin_path
from .engine import solve
from .planner import Planner
from .errors import InfeasibleError, Problem, ScenarioError, SolverFailure
from .results import Result
from .scenario import Scenario, load_scenario, read_zip, scenario_from_files
from .settings import ALL_KEYS, Settings

__all__ = [
    "ALL_KEYS", "InfeasibleError", "Problem", "Result", "Scenario", "ScenarioError", "Settings",
    "SolverFailure", "breakdown", "compute_economics", "hashprice_today", "load_scenario", "margin_path", "read_zip",
    "scenario_from_files", "solve",
    "Planner",
]
