"""Rigshift's engine: scenario folders in, an optimal relocation plan out.

A pure pipeline (load and validate -> economics -> build model -> solve -> results) that
never imports streamlit or pydeck::

    import optimizer
    scn = optimizer.load_scenario("datasets/china-2021", overrides={"policy.risk_aversion": 2.0})
    res = optimizer.solve(scn)
    res.summary, res.allocation, res.sites
"""
from .economics import breakdown, compute as compute_economics, hashprice_today
from .engine import solve
from .planner import Planner
from .errors import InfeasibleError, Problem, ScenarioError, SolverFailure
from .results import Result
from .scenario import Scenario, load_scenario, read_zip, scenario_from_files
from .settings import ALL_KEYS, Settings

__all__ = [
    "ALL_KEYS", "InfeasibleError", "Problem", "Result", "Scenario", "ScenarioError", "Settings",
    "SolverFailure", "breakdown", "compute_economics", "hashprice_today", "load_scenario", "read_zip",
    "scenario_from_files", "solve",
    "Planner",
]
