"""One measured run in a fresh process: ``python -m bench.worker PATH SCENARIO OUT``.

PATH is ``engine`` (what the CLI does: load, solve, write), ``highs-default`` (baseline a: the
same LP, unpruned, built straight into HiGHS from numpy arrays, HiGHS's default settings) or
``pulp-cbc`` (baseline b: the same LP through PuLP and CBC). Prints one JSON line.
"""
from __future__ import annotations

import json
import resource
import sys
import time


def main() -> None:
    path, scenario, out = sys.argv[1:4]
    t_start = time.perf_counter()
    import highspy
    import numpy as np
    import pulp

    import optimizer
    from optimizer import economics, model as M
    from optimizer.solver import backends as S
    timings: dict[str, float] = {}
    t = time.perf_counter()
    scn = optimizer.load_scenario(scenario)
    timings["load"] = time.perf_counter() - t
    result: dict = {"path": path}
    if path == "engine":
        res = optimizer.solve(scn)
        timings.update(res.timings)
        t = time.perf_counter()
        res.write(out)
        timings["write"] = time.perf_counter() - t
        result.update(objective=res.summary["objective_usd"], variables=res.summary["n_variables"],
                      constraints=res.summary["n_constraints"], status=res.summary["status"], backend=res.summary["backend"])
        result.update(mip_gap=res.summary["mip_gap"], best_bound=res.summary["best_bound_usd"])
    else:
        scn = scn.with_overrides({"solver.prune_dominated": False})
        t = time.perf_counter()
        econ = economics.compute(scn)
        timings["economics"] = time.perf_counter() - t
        t = time.perf_counter()
        lm = M.build_model(scn, econ)
        if path == "highs-default":
            csc = lm.matrix().tocsc()
            lo, up = lm.row_bounds()
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            h.setOptionValue("time_limit", float(scn.settings.solver.time_limit_s))
            inf = highspy.kHighsInf
            h.passModel(highspy.HighsLp())
            h.addVars(lm.n_cols, lm.lower, np.where(np.isinf(lm.upper), inf, lm.upper))
            h.changeColsCost(lm.n_cols, np.arange(lm.n_cols, dtype=np.int32), lm.cost)
            csr = csc.tocsr()
            h.addRows(csr.shape[0], np.where(np.isinf(lo), -inf, lo), np.where(np.isinf(up), inf, up), csr.nnz,
                      csr.indptr[:-1].astype(np.int32), csr.indices.astype(np.int32), csr.data)
            h.changeObjectiveSense(highspy.ObjSense.kMaximize)
            timings["build"] = time.perf_counter() - t
            t = time.perf_counter()
            h.run()
            timings["solve"] = time.perf_counter() - t
            result.update(objective=h.getInfo().objective_function_value, status=h.modelStatusToString(h.getModelStatus()))
        else:
            prob, variables, constraints = M.to_pulp(lm)
            timings["build"] = time.perf_counter() - t
            t = time.perf_counter()
            solver = S._cbc_solver(lm, scn.settings.solver, "/tmp")
            prob.solve(solver)
            timings["solve"] = time.perf_counter() - t
            result.update(objective=pulp.value(prob.objective), status=pulp.LpStatus[prob.status])
        result.update(variables=lm.n_cols, constraints=lm.n_rows)
    result["timings"] = timings
    result["total_s"] = time.perf_counter() - t_start
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
