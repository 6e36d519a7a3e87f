"""The process-wide caches are bounded in bytes (issue 22: "caches bounded in bytes"): the app's
config sets Streamlit's ``server.maxCacheDataSize``, and Streamlit holds every ``st.cache_data``
cache together under it, evicting the least recently used entries (checked here with a 1 MB budget
and real cached functions; the per-session stores have their own byte bound, tests/test_upload_budget.py)."""
from __future__ import annotations

import tomllib
from pathlib import Path

import streamlit as st
from streamlit import config
from streamlit.runtime.caching.global_cache_budget import (config_max_cache_data_size_to_bytes,
                                                           reconfigure_global_cache_budget_from_config)

ROOT = Path(__file__).resolve().parents[1]


def test_the_app_config_bounds_the_process_wide_caches_in_bytes():
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    value = settings["server"]["maxCacheDataSize"]
    assert 64 * 2**20 <= config_max_cache_data_size_to_bytes(value) <= 2 * 2**30


def test_streamlit_evicts_beyond_the_budget_across_cached_functions():
    old = config.get_option("server.maxCacheDataSize")
    calls = []

    @st.cache_data(max_entries=100)
    def plan(i: int) -> bytes:
        calls.append(("plan", i))
        return bytes([i % 251]) * 300_000

    @st.cache_data(max_entries=100)
    def layer(i: int) -> bytes:
        calls.append(("layer", i))
        return bytes([i % 251]) * 300_000

    try:
        config.set_option("server.maxCacheDataSize", "1mb")
        reconfigure_global_cache_budget_from_config()
        for i in range(4):
            plan(i)
            layer(i)  # eight values of 0.3 MB against a 1 MB budget shared by both functions
        calls.clear()
        assert layer(3) == bytes([3]) * 300_000 and calls == []  # the newest is kept
        plan(0)
        assert calls == [("plan", 0)]  # the oldest was evicted: computed again
        kept = sum(1 for i in range(4) for f in (plan, layer) if _cached(f, i, calls))
        assert kept * 300_000 <= 2**20
    finally:
        plan.clear()
        layer.clear()
        config.set_option("server.maxCacheDataSize", old)
        reconfigure_global_cache_budget_from_config()


def _cached(fn, i: int, calls: list) -> bool:
    n = len(calls)
    fn(i)
    return len(calls) == n
