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
import gc as _gc

# Importing pandas, SciPy and HiGHS creates about a million objects, none of them garbage: the cyclic
# garbage collector's ~200 passes over them meanwhile cost about 40 ms of every CLI run, so it waits
# until the imports are done (and is left as it was found).
_gc_enabled = _gc.isenabled()
_gc.disable()
try:
    from optimizer.analysis import breakdown
    from optimizer.economics import compute as compute_economics, hashprice_today, margin_path
    from optimizer.engine import solve
    from optimizer.engine.planner import Planner
    from optimizer.inputs.errors import InfeasibleError, Problem, ScenarioError, SolverFailure
    from optimizer.results import Result
    from optimizer.inputs.scenario import Scenario, load_scenario, read_zip, scenario_from_files
    from optimizer.inputs.settings import ALL_KEYS, Settings
finally:
    if _gc_enabled:
        _gc.enable()

__all__ = [
    "ALL_KEYS", "InfeasibleError", "Problem", "Result", "Scenario", "ScenarioError", "Settings",
    "SolverFailure", "breakdown", "compute_economics", "hashprice_today", "load_scenario", "margin_path", "read_zip",
    "scenario_from_files", "solve",
    "Planner",
]
