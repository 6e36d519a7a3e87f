"""Each built-in dataset as an example, in pyoframe's sense: ``tests/examples/<dataset>/expected/`` holds
what the engine gives for it, and one parametrised test (tests/test_datasets_golden.py) compares a fresh
solve with it, with every solver.

Files per example (``FILES``):

- summary.json, allocation.csv, sites.csv: as ``rigshift solve`` writes them (HiGHS), without the facts
  of the solve path (``PATH_KEYS``: which solver, its backend, the seconds it took, the gap it reports);
- rows.csv: the model's labelled rows (``capacity[site]``, ``fleet[origin,model]``, ``share[J]``,
  ``budget``, ...) with their sense (``<=``, ``>=``, ``=``) and right-hand side.

The allocation is compared row by row: the canonical tie-break (optimizer/solver/canonical.py) makes the
optimal plan unique, so every solver path must give this one. Numbers are compared to ``REL[solver]`` relative (HiGHS 1e-8;
CBC 1e-6: its duals and values come through PuLP with about 8 significant digits, and the entry power
prices are found by bisection on those duals) and ``ABS`` absolute, for values near 0. Text compares exactly.

``make golden`` (``.venv/bin/python -m tests.examples``) writes the files again: only for an intended
change of results, said in the commit.
"""
from __future__ import annotations

import argparse
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

import optimizer
from optimizer import economics, engine
from optimizer.model import build_model

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "tests" / "examples"
DATASETS = sorted(p.parent.name for p in (ROOT / "datasets").glob("*/sites.csv"))
FILES = ("summary.json", "allocation.csv", "sites.csv", "rows.csv")
PATH_KEYS = ("solver", "backend", "solve_seconds", "mip_gap")
REL = {"highs": 1e-8, "cbc": 1e-6}  # relative, by solver
ABS = 1e-6  # absolute, for values near 0 (USD, rigs, MW, USD/kWh)


def expected_dir(name: str) -> Path:
    return EXAMPLES / name / "expected"


def produce(name: str, solver: str = "highs") -> dict[str, str]:
    """The example's files for dataset ``name`` solved with ``solver``: {file name: text}."""
    scn = optimizer.load_scenario(ROOT / "datasets" / name, {"solver.name": solver})
    files = optimizer.solve(scn).files()
    summary = {k: v for k, v in json.loads(files["summary.json"]).items() if k not in PATH_KEYS}
    prepared, _ = engine.prepare(scn)
    model = build_model(prepared, economics.compute(prepared))
    lo, up = model.row_bounds()
    rows = pd.DataFrame({"row": model.row_labels(), "sense": [_sense(a, b) for a, b in zip(lo, up)],
                         "rhs": [b if math.isfinite(b) else a for a, b in zip(lo, up)]})
    return {"summary.json": json.dumps(summary, indent=2) + "\n", "allocation.csv": files["allocation.csv"],
            "sites.csv": files["sites.csv"], "rows.csv": rows.to_csv(index=False, lineterminator="\n")}


def _sense(lower: float, upper: float) -> str:
    if lower == upper:
        return "="
    if not math.isfinite(lower):
        return "<="
    if not math.isfinite(upper):
        return ">="
    raise ValueError(f"a ranged row ({lower}, {upper}): give rows.csv a column for it")


def differences(file: str, got: str, want: str, rel: float = REL["highs"]) -> list[str]:
    """How ``got`` differs from ``want`` (texts of ``file``), in words; [] when they agree to ``rel`` and ABS."""
    if file.endswith(".json"):
        a, b = json.loads(got), json.loads(want)
        if set(a) != set(b):
            return [f"{file}: keys differ: extra {sorted(set(a) - set(b))}, missing {sorted(set(b) - set(a))}"]
        return [f"{file}: {k} is {a[k]!r}, expected {b[k]!r}" for k in b if not _same(a[k], b[k], rel)]
    a, b = pd.read_csv(io.StringIO(got), keep_default_na=False), pd.read_csv(io.StringIO(want), keep_default_na=False)
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return [f"{file}: columns {list(a.columns)} x {len(a)} rows, expected {list(b.columns)} x {len(b)} rows"]
    out = []
    for col in b.columns:
        for i, (x, y) in enumerate(zip(a[col].tolist(), b[col].tolist())):
            if not _same(x, y, rel):
                out.append(f"{file}: row {i + 2}, column {col}: {x!r}, expected {y!r}")
    return out


def _same(x, y, rel: float) -> bool:
    if isinstance(x, dict) and isinstance(y, dict):
        return set(x) == set(y) and all(_same(x[k], y[k], rel) for k in y)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_same(a, b, rel) for a, b in zip(x, y))
    fx, fy = _number(x), _number(y)
    if fx is None or fy is None or isinstance(x, bool) or isinstance(y, bool):
        return x == y
    return bool(np.isclose(fx, fy, rtol=rel, atol=ABS, equal_nan=True))


def _number(v) -> float | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v) if v.strip() else None
        except ValueError:
            return None
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.examples", description="write tests/examples/*/expected again")
    p.add_argument("names", nargs="*", default=DATASETS, help="datasets (default: every built-in one)")
    args = p.parse_args(argv)
    for name in args.names:
        folder = expected_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        for file, text in produce(name).items():
            (folder / file).write_text(text, encoding="utf-8")
        print(f"wrote {folder.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
