"""Everything the app computes, cached on small hashable keys (dataset name, scenario fingerprint).

The engine does the work; this module only decides what to remember. A scenario's
fingerprint covers its tables and settings, so a key built from it changes exactly when
the plan could change. Scenario objects travel as ``_scn`` (unhashed) beside their key.

No cache hands one session's data to another: scenarios built from a user's uploads or
table edits are remembered in that session only (``per_session``); the process-wide
caches are ``st.cache_data`` (each caller gets its own copy, so nobody can change what
another session sees), keyed by a hash of the full inputs (a hit needs the very same
inputs), bounded in entries and in time.
"""
from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable, TypeVar

import numpy as np
import pandas as pd
import streamlit as st

import optimizer
from optimizer.analysis import breakeven

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = "china-2021"
CACHE_TTL_S = 3600  # process-wide entries live an hour at most
V = TypeVar("V")


def memo_store(name: str) -> OrderedDict[Hashable, Any]:
    """This session's ``per_session`` store called ``name`` (key -> value, least recently used first)."""
    return st.session_state.setdefault(f"_memo_{name}", OrderedDict())


def per_session(name: str, key: Hashable, make: Callable[[], V], max_entries: int) -> V:
    """Remember ``make()`` under ``key`` in this browser session only (least recently used go first), at
    most ``max_entries`` and ``budget.store_budget_bytes()`` of them (freed with the session's state)."""
    from .budget import remember, store_budget_bytes

    store = memo_store(name)
    sizes: dict[Hashable, int] = st.session_state.setdefault(f"_memo_{name}_bytes", {})
    if key in store:
        store.move_to_end(key)
        return store[key]
    value = make()
    remember(store, sizes, key, value, max_entries, store_budget_bytes())  # bounded in entries and in bytes
    return value


def datasets_dir() -> Path:
    """Where built-in scenarios live; RIGSHIFT_DATASETS_DIR points elsewhere (tests)."""
    return Path(os.environ.get("RIGSHIFT_DATASETS_DIR") or REPO_ROOT / "datasets")


def builtin_names() -> list[str]:
    """Folders under datasets/ that hold a sites.csv; the default one first."""
    root = datasets_dir()
    names = sorted(p.name for p in root.iterdir() if (p / "sites.csv").is_file()) if root.is_dir() else []
    if DEFAULT_DATASET in names:
        names.remove(DEFAULT_DATASET)
        names.insert(0, DEFAULT_DATASET)
    return names


def _folder_stamp(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and mtimes: a cheap cache key that changes when the files do."""
    return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()))


def fingerprint(scn: optimizer.Scenario) -> str:
    """``scn.fingerprint()``: the tables' digest is kept on the scenario and carried to its what-ifs
    (``with_overrides`` keeps the same tables), so a rerun hashes only the settings (issue 13)."""
    return scn.fingerprint()


@st.cache_data(show_spinner=False, max_entries=16, ttl=CACHE_TTL_S)
def _load_builtin(path: str, stamp: tuple) -> optimizer.Scenario:
    return optimizer.load_scenario(path)


def load_builtin(name: str) -> optimizer.Scenario:
    """A built-in scenario: loaded once per process (each session gets its own copy), and kept as one
    object per session so the tables' fingerprint is remembered by identity across reruns."""
    folder = datasets_dir() / name
    stamp = _folder_stamp(folder)
    return per_session("builtin", (str(folder), stamp), lambda: _load_builtin(str(folder), stamp), max_entries=4)


def files_digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()[:16]


def scenario_from_files(files: dict[str, bytes], name: str) -> optimizer.Scenario:
    """An uploaded (or saved) scenario, validated once per distinct file set in this session."""
    return per_session("uploads", (files_digest(files), name),
                         lambda: optimizer.scenario_from_files(files, name=name), max_entries=16)


def frame_key(frame: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).values.tobytes()
                          + repr(list(frame.columns)).encode()).hexdigest()[:16]


def with_tables(base: optimizer.Scenario, frames: dict[str, pd.DataFrame]) -> optimizer.Scenario:
    """``base.with_tables(**frames)``, validated by the engine once per distinct edit."""
    key = "|".join(f"{name}:{frame_key(frames[name])}" for name in sorted(frames))
    return per_session("edits", (fingerprint(base), key), lambda: base.with_tables(**frames), max_entries=32)


@st.cache_data(show_spinner=False, max_entries=512, ttl=CACHE_TTL_S)
def _solve(fp: str, _scn: optimizer.Scenario, _planner: optimizer.Planner | None = None) -> optimizer.Result:
    return _planner.solve_scenario(_scn) if _planner is not None else optimizer.solve(_scn)


PLANNER_KEY = "_rigshift_planner"


def session_planner() -> optimizer.Planner | None:
    """This session's planner (one kept HiGHS model per session; issue 13), made on first use."""
    try:
        planner = st.session_state.get(PLANNER_KEY)
        if planner is None:
            planner = st.session_state[PLANNER_KEY] = optimizer.Planner(None)
        return planner
    except Exception:  # noqa: BLE001 - outside a Streamlit session (bare-mode scripts, tests): no planner
        return None


def solve(scn: optimizer.Scenario, fp: str | None = None) -> optimizer.Result:
    """The engine's plan, re-solved warm from this session's planner (the same Result as
    optimizer.solve, ties included: optimizer/solver/canonical.py); raises what optimizer.solve raises
    (errors are never cached)."""
    return _solve(fp or fingerprint(scn), scn, session_planner())


# ---------------------------------------------------------------- sensitivity


@dataclass(frozen=True)
class Sweep:
    """Plan value along one what-if axis, holding everything else at the current settings."""

    key: str  # the override key that moves
    frame: pd.DataFrame  # columns: value, objective_usd, rigs_relocated, rigs_sold, rigs_idle, status
    current_value: float


def _point(scn: optimizer.Scenario, key: str, value: float, planner: optimizer.Planner | None = None) -> dict:
    try:
        moved = scn.with_overrides({key: float(value)})
        s = (planner.solve_scenario(moved, details=False) if planner else optimizer.solve(moved, details=False)).summary
        return {"value": float(value), "objective_usd": s["objective_usd"], "rigs_relocated": s["rigs_relocated"],
                "rigs_sold": s["rigs_sold"], "rigs_idle": s["rigs_idle"], "status": s["status"]}
    except (optimizer.InfeasibleError, optimizer.SolverFailure) as exc:
        return {"value": float(value), "objective_usd": np.nan, "rigs_relocated": np.nan, "rigs_sold": np.nan,
                "rigs_idle": np.nan, "status": type(exc).__name__}


def sweep_grid(current: float, lo_factor: float, hi_factor: float, n: int) -> list[float]:
    """n evenly spaced values from lo_factor*current to hi_factor*current, with current itself included."""
    grid = set(np.round(np.linspace(lo_factor * current, hi_factor * current, n), 6).tolist())
    grid.add(round(float(current), 6))
    return sorted(grid)


@st.cache_data(show_spinner=False, max_entries=64, ttl=CACHE_TTL_S)
def _sweep(fp: str, key: str, grid: tuple[float, ...], _scn: optimizer.Scenario) -> pd.DataFrame:
    planner = optimizer.Planner(_scn)  # neighbouring points re-solve warm from one kept model
    return pd.DataFrame([_point(_scn, key, v, planner) for v in grid])


def sweep(scn: optimizer.Scenario, key: str, grid: list[float], fp: str | None = None) -> Sweep:
    current = float(getattr(getattr(scn.settings, key.split(".")[0]), key.split(".")[1]))
    return Sweep(key, _sweep(fp or fingerprint(scn), key, tuple(grid), scn), current)


def _relocates(scn: optimizer.Scenario, btc_price_usd: float, planner: optimizer.Planner | None = None) -> bool:
    try:
        moved = scn.with_overrides({"market.btc_price_usd": float(btc_price_usd)})
        res = planner.solve_scenario(moved, details=False) if planner else optimizer.solve(moved, details=False)
    except (optimizer.InfeasibleError, optimizer.SolverFailure):
        return False
    return res.summary["rigs_relocated"] > 0.5


@st.cache_data(show_spinner=False, max_entries=64, ttl=CACHE_TTL_S)
def _breakeven(fp: str, tolerance_usd: float, _scn: optimizer.Scenario) -> float | None:
    planner = optimizer.Planner(_scn)  # the bisection's solves re-solve warm from one kept model
    return breakeven.breakeven_btc_price(_scn.settings.market.btc_price_usd, lambda p: _relocates(_scn, p, planner),
                                         tolerance_usd)


def breakeven_btc_price(scn: optimizer.Scenario, tolerance_usd: float = 50.0, fp: str | None = None) -> float | None:
    """The BTC price below which the plan relocates nothing (sells or stores the whole fleet).

    ``optimizer.analysis.breakeven.breakeven_btc_price`` over this session's warm re-solves, to
    within ``tolerance_usd``. Only meaningful when hashprice is derived.
    """
    return _breakeven(fp or fingerprint(scn), tolerance_usd, scn)


# ---------------------------------------------------------------- downloads (issue 13: built once per plan)


@st.cache_data(show_spinner=False, max_entries=32, ttl=CACHE_TTL_S)
def _plan_files(fp: str, _res: optimizer.Result) -> dict[str, str]:
    return _res.files()


def plan_files(scn: optimizer.Scenario, res: optimizer.Result) -> dict[str, str]:
    """``res.files()`` for the plan of ``scn``, built once per scenario fingerprint."""
    return _plan_files(fingerprint(scn), res)


@st.cache_data(show_spinner=False, max_entries=32, ttl=CACHE_TTL_S)
def _scenario_zip(fp: str, _scn: optimizer.Scenario) -> bytes:
    return _scn.to_zip()


def scenario_zip(scn: optimizer.Scenario) -> bytes:
    """``scn.to_zip()``, built once per scenario fingerprint."""
    return _scenario_zip(fingerprint(scn), scn)


WHOLE_RIGS_MAX_COLUMNS = 5_000  # relocation columns (rig batches x sites) up to which the app plans in whole rigs


def whole_rigs_interactive(fp: str, _scn: optimizer.Scenario) -> bool:
    """Whether the app opens the scenario in whole rigs: when it has at most WHOLE_RIGS_MAX_COLUMNS relocation
    columns (rig batches x sites). A size rule, not a timed solve, so the same scenario always opens the same
    way whatever the server's load. Measured on 2 shared cores: china-2021 (22 batches x 27 sites) proves its
    whole-rig optimum in about 1 s, post-halving-2024 in about 0.1 s. The engine's own default stays fractional
    (SPEC section 1: policy.integer_rigs = false); this is the app's default for its control.
    """
    batches = int((_scn.fleet["count"].to_numpy(float) > 0).sum())
    return 0 < batches * len(_scn.sites) <= WHOLE_RIGS_MAX_COLUMNS


def run_with_progress(steps: list[tuple[str, int, Callable[[], Any]]], key: str) -> list[Any]:
    """Run ``(what, solves, make)`` steps in order under a progress bar that names the step and estimates the time
    left from the seconds per solve measured so far; returns each step's result. The bar is removed when done."""
    import time

    total = sum(n for _, n, _ in steps) or 1
    bar = st.progress(0.0, text=f"Starting {steps[0][0]}..." if steps else "")
    out: list[Any] = []
    done, started = 0, time.perf_counter()
    for i, (what, n, make) in enumerate(steps):
        if done:
            per = (time.perf_counter() - started) / done
            left = per * (total - done)
            bar.progress(done / total, text=f"Computing {what} ({i + 1} of {len(steps)}); about {left:,.0f} s left")
        else:
            bar.progress(0.0, text=f"Computing {what} ({i + 1} of {len(steps)})...")
        out.append(make())
        done += n
    bar.empty()
    return out


def setting_notes(source: str) -> dict[str, str] | None:
    """Where each setting of a scenario comes from (``optimizer.inputs.provenance.toml_notes``): the comments of
    its scenario.toml, built-in or uploaded; None when there is no such file to read."""
    from optimizer.inputs import provenance

    files = st.session_state.get("uploads", {}).get(source)
    if files is not None:
        raw = files.get("scenario.toml")
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else None
    else:
        path = datasets_dir() / source / "scenario.toml"
        text = path.read_text(encoding="utf-8") if path.is_file() else None
    return provenance.toml_notes(text) if text else None
