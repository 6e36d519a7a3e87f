"""Warm what-ifs: one scenario's LP kept in HiGHS across slider moves (issue 13).

``Planner(scenario).solve(overrides)`` returns the same ``Result`` as
``optimizer.solve(scenario.with_overrides(overrides))``: the same plan value, the same plan (which
rig batch goes to which site, how many rigs; to 1e-6 relative) and the same shadow prices, also
where the LP has several optimal plans or duals, because both end in ``canonical.canonical``,
which replaces whatever optimum the solve path found by the one a documented rule picks (see
optimizer/solver/canonical.py). ``summary["backend"]`` says ``planner``, ``solve_seconds`` and the
timings differ. It keeps between calls:

- the economics, when the move does not touch them (caps, budget, exclusions, selling/storing),
  and the risk-free part of them when only ``policy.risk_aversion`` moves;
- the HiGHS model (a restricted master of ``transport``) and its basis: a move changes only
  what moved (objective coefficients for prices, hashrate, drifts, risk aversion and the power
  multiplier; row bounds for caps and budget; column bounds for exclusions; objective
  coefficients and bounds for edited table rows that leave the constraint matrix alone: a
  capacity, a power price, hosting, a ban risk, a rig count), then HiGHS re-solves from the last
  basis and column generation brings in any column the move made worth having. A move that adds
  or removes rows (a budget where there was none, a share cap moved to or from 100%) or changes
  the matrix's coefficients (a PUE, a rig's power or hashrate, a site's jurisdiction, upfront costs
  under a budget) rebuilds the model (``_coefficients_token``).
- Under a binding time limit, or when the LP is infeasible, the move goes to the engine's own
  cold solve, so the outcome (plan, status, error) is ``optimizer.solve``'s.

Pruning dominated relocations and a kept model no longer conflict: the master keys its columns
by (rig group, site); a column that a move makes dominated (or excluded) stays in the master with
both bounds at 0, which changes neither the optimum nor the duals (a fixed column constrains no
dual), and a column that becomes worth having re-enters by pricing.

Bounded memory: a planner holds one scenario's model and the economics of its last few settings
(``ECONOMICS_KEPT``); other batches or sites, freight settings or constraint families
replace it (cold start). MIPs, CBC, and LPs where neither
selling nor storing is allowed go through ``optimizer.solve`` unchanged.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any, Mapping

import numpy as np

from optimizer.solver import transport

from optimizer import economics, engine
from optimizer.inputs import tables as T
from optimizer.engine import solve as engine_solve
from optimizer.model import build_model
from optimizer.results import Result
from optimizer.inputs.scenario import Scenario
from optimizer.solver.raw import RawSolution, highs_status
ECONOMICS_KEPT = 3
ECONOMICS_KEPT_UP_TO_PAIRS = 200_000  # above this many (group, site) pairs only the last economics is kept
# Settings that feed the economics (besides the tables); risk aversion is handled apart.
_ECON_SECTIONS = ("market", "horizon", "logistics")


class Planner:
    """Warm re-solves of one scenario under what-if overrides; one per session (calls are serialised).

    ``solve(overrides)``: overrides as for ``Scenario.with_overrides`` ({"section.key": value}).
    ``solve_scenario(scn)``: any scenario (edited tables, other overrides); reuses what it can.
    ``Planner(None)`` serves ``solve_scenario`` only (the app's per-session planner).
    Raises what ``optimizer.solve`` raises (ScenarioError, InfeasibleError, SolverFailure).
    """

    def __init__(self, scenario: Scenario | None):
        self.scenario = scenario
        self._tables: tuple | None = None  # (frames kept alive, their digest)
        self._econ_key: tuple | None = None
        self._econ_cache: OrderedDict[tuple, economics.Economics] = OrderedDict()  # the last few, newest last
        self._econ: economics.Economics | None = None
        self._penalty_key: tuple | None = None
        self._master: transport.Master | None = None
        self._master_key: tuple | None = None
        self.last_model = None  # the model of record of the last solve (for tests and diagnostics)
        self.last_raw: RawSolution | None = None
        self.counts = {"warm": 0, "cold": 0, "engine": 0, "economics_reused": 0}
        self._lock = threading.Lock()  # one HiGHS object: a rerun that overlaps the last one waits

    # ------------------------------------------------------------------ public

    def solve(self, overrides: Mapping[str, Any] | None = None, details: bool = True) -> Result:
        return self.solve_scenario(self.scenario.with_overrides(dict(overrides or {})), details=details)

    def solve_scenario(self, scn: Scenario, details: bool = True) -> Result:
        with self._lock:
            return self._solve_scenario(scn, details)

    def _solve_scenario(self, scn: Scenario, details: bool) -> Result:
        if scn.settings.monthly.enabled:  # SPEC section 8's plan: a different model, solved cold by the engine
            return engine.solve(scn, details=details)
        scn, warnings = engine.prepare(scn)  # the engine's own checks, in its order
        t0 = time.perf_counter()
        econ = engine.check_finite(self._economics(scn))
        t1 = time.perf_counter()
        model = build_model(scn, econ)
        t2 = time.perf_counter()
        if not transport.eligible(model, scn.settings.solver) or scn.settings.solver.backend not in ("auto", "columns"):
            self.counts["engine"] += 1
            return engine_solve(scn, details=details)
        kept = self._solve_kept(scn, econ, model)
        if kept.status != "optimal":
            # infeasible: the engine says why (InfeasibleError with reasons); stopped by the time limit: a warm
            # start may have got further than a cold one would, so the engine's own cold solve decides (the
            # same plan, time_limit status or SolverFailure as optimizer.solve)
            self.counts["engine"] += 1
            return engine_solve(scn, details=details)
        result, self.last_raw = engine.finish(scn, econ, model, kept, warnings, details,
                                              {"economics": t1 - t0, "build": t2 - t1})
        self.last_model = model
        return result

    def forget(self) -> None:
        """Drop the kept model and economics (memory back to nothing)."""
        self._master = self._master_key = self._econ = self._econ_key = self._tables = None
        self._econ_cache.clear()

    # ------------------------------------------------------------------ economics

    def _tables_token(self, scn: Scenario) -> str:
        frames = tuple(getattr(scn, name) for name in T.TABLES)
        if self._tables is not None and all(a is b for a, b in zip(self._tables[0], frames)):
            return self._tables[1]
        self._tables = (frames, scn.tables_digest().hexdigest())  # remembered on the scenario (its what-ifs share it)
        return self._tables[1]

    def _economics(self, scn: Scenario) -> economics.Economics:
        st = scn.settings
        token = self._tables_token(scn)
        base_key = (token, *(repr(getattr(st, s)) for s in _ECON_SECTIONS), st.policy.power_price_multiplier)
        key = (*base_key, st.policy.risk_aversion)
        if key in self._econ_cache:
            self._econ_cache.move_to_end(key)
            self.counts["economics_reused"] += 1
            self._econ, self._econ_key = self._econ_cache[key], key
            return self._econ
        near = next((k for k in reversed(self._econ_cache) if k[:-1] == base_key), None)
        if near is not None:
            econ = self._econ_cache[near].with_risk_aversion(scn)  # only risk aversion moved: the penalty and V again
            self.counts["economics_reused"] += 1
        else:
            econ = economics.compute(scn)
        self._econ_cache[key] = econ
        while len(self._econ_cache) > (ECONOMICS_KEPT if econ.value_usd.size <= ECONOMICS_KEPT_UP_TO_PAIRS else 1):
            self._econ_cache.popitem(last=False)
        self._econ, self._econ_key = econ, key
        return econ

    # ------------------------------------------------------------------ the kept model

    def _solve_kept(self, scn: Scenario, econ: economics.Economics, model) -> RawSolution:
        t0 = time.perf_counter()
        G, S = econ.n_groups, len(econ.sites)
        keys = np.empty(model.n_cols, np.int64)
        keys[: model.n_x] = model.x_group.astype(np.int64) * S + model.x_site
        for offset, cols in ((0, model.sell_col), (G, model.idle_col)):
            if cols is not None:
                keys[cols] = G * S + offset + np.arange(len(cols))
        pricing = transport.model_pricing(model, keys)
        lo, up = model.row_bounds()
        options = transport.master_options(scn.settings.solver, model.n_cols)
        struct = (_coefficients_token(scn, econ, model), repr(scn.settings.logistics),
                  tuple(b.family for b in model.blocks), model.n_rows, G, S)
        master = self._master
        if master is None or self._master_key != struct:
            self._master = None  # let the old model go before building the new one
            master = transport.Master(lo, up, options)
            if model.n_cols > transport.COLUMNS_ABOVE:
                init = transport.initial_columns(pricing, lo, up, transport.capacity_rows(model), options)
            else:
                init = np.arange(model.n_cols)
            master.add(pricing.keys[init], pricing.cost[init], pricing.lower[init], pricing.upper[init],
                       pricing.matrix[:, init])
            self._master, self._master_key = master, struct
            self.counts["cold"] += 1
        else:
            pos = master.positions(keys)
            present = pos >= 0
            lower = np.zeros(master.n_cols)
            upper = np.zeros(master.n_cols)  # columns the model no longer has (dominated, excluded): fixed at 0
            upper[pos[present]] = model.upper[present]
            lower[pos[present]] = model.lower[present]
            cols = np.arange(master.n_cols)
            master.set_costs(pos[present], model.cost[present])
            master.set_bounds(cols, lower, upper)
            master.set_row_bounds(lo, up)
            for key, value in options.items():
                if key not in ("solver", "run_crossover"):
                    master.h.setOptionValue(key, value)
            master.h.setOptionValue("solver", "simplex")
            master.h.setOptionValue("simplex_strategy", 4)  # primal from the kept basis
            self.counts["warm"] += 1
        build = time.perf_counter() - t0
        t1 = time.perf_counter()
        transport.generate(master, pricing, transport.tolerance(pricing.cost),
                           deadline=t1 + float(scn.settings.solver.time_limit_s))
        seconds = time.perf_counter() - t1
        status, gap, bound = highs_status(master.h, "lp")
        if status == "optimal" and not master.stats.priced_out:
            status = "time_limit"
        if status == "infeasible":
            self._master = self._master_key = None  # its basis is of no use to the next move
            return RawSolution("infeasible", np.nan, np.zeros(model.n_cols), None, None, None, "highs", "planner",
                               seconds, build)
        values = master.values()
        pos = master.positions(keys)
        x = np.zeros(model.n_cols)
        x[pos >= 0] = values[pos[pos >= 0]]
        obj = float(master.h.getInfo().objective_function_value)
        duals = master.duals()
        # keep the kept model small (re-solves cost per column): drop columns far from entering
        master.purge(max(5000, transport.KEEP_COLUMNS_PER_ROW * master.n_rows),
                     protected=master.keys >= G * S)
        return RawSolution(status, obj, x, duals, gap, bound, "highs", "planner", seconds, build)


def _coefficients_token(scn: Scenario, econ: economics.Economics, model) -> str:
    """A digest of what the constraint matrix is made of: the batches and sites (by name, in order), each
    pair's MW per rig (capacity rows), each batch's TH/s and each site's jurisdiction (share rows), and the
    upfront cost per rig where a budget row exists. A table edit that leaves these alone (a capacity, a
    power price, a ban risk, a rig count: objective coefficients and row or column bounds) keeps the
    HiGHS model and its basis; one that changes them (a PUE, a rig's power, a jurisdiction) rebuilds it."""
    h = hashlib.sha256()
    h.update(repr((list(model.group_keys), list(model.site_names))).encode())
    for arr in (econ.mw_per_rig, econ.hashrate_ths):
        h.update(np.ascontiguousarray(arr, dtype=float).tobytes())
    h.update(repr(scn.sites["jurisdiction"].astype(str).tolist()).encode())
    if model.block("budget") is not None:
        h.update(np.ascontiguousarray(econ.upfront_usd, dtype=float).tobytes())
    return h.hexdigest()
