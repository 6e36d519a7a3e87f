"""One upload cannot starve a shared server (issue 22): an upload over the session budget (sites,
rows, MB) is refused with a message naming the file and the limit before it is parsed, and the
session keeps its scenario; warnings are grouped by kind and capped, so thousands of slips reach
the browser as a few lines."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui import budget

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
TINY = ROOT / "tests" / "fixtures" / "tiny"
MWH = ROOT / "tests" / "data" / "cases" / "06-power-price-per-mwh"


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _many_sites(folder: Path, n: int) -> dict[str, bytes]:
    """The folder's scenario with its first site copied n times under new names (plausible values kept)."""
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    head, first = files["sites.csv"].decode().splitlines()[:2]
    name, rest = first.split(",", 1)
    rows = [f"{name} {i},{rest}" for i in range(n)]
    files["sites.csv"] = ("\n".join([head, *rows]) + "\n").encode()
    files.pop("lanes.csv", None)
    return files


def _plan_value(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "Plan value")


def test_an_upload_over_the_site_budget_is_refused_before_it_costs(monkeypatch):
    calls = []
    import ui.compute as compute

    real = compute.scenario_from_files
    monkeypatch.setattr(compute, "scenario_from_files", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    before = _plan_value(at)
    calls.clear()
    big = _zip(_many_sites(TINY, budget.DEFAULT_MAX_SITES + 1))
    at.file_uploader(key="upload").set_value(("big.zip", big, "application/zip")).run()
    assert not at.exception
    said = " ".join(e.value for e in at.error)
    assert "sites\\.csv" in said and f"{budget.DEFAULT_MAX_SITES:,}" in said and "RIGSHIFT\\_MAX\\_SITES" in said
    assert "big" not in calls  # never parsed
    assert _plan_value(at) == before  # the scenario the session had is still the one shown


@pytest.mark.parametrize("env, value, name, make", [
    (budget.ENV_MAX_ROWS, "10", "fleet.csv",
     lambda f: f | {"fleet.csv": f["fleet.csv"] + b"".join(b"Sichuan,Antminer S9,1\n" for _ in range(10))}),
    (budget.ENV_MAX_UPLOAD_MB, "0.0001", "upload", lambda f: f),
])
def test_every_limit_names_its_file_and_setting(monkeypatch, env, value, name, make):
    monkeypatch.setenv(env, value)
    files = make({p.name: p.read_bytes() for p in TINY.iterdir()})
    with pytest.raises(Exception) as exc:
        budget.check_files(files)
    said = " ".join(str(p) for p in exc.value.problems)
    assert name in said and env in said


def test_warnings_are_grouped_by_kind_and_capped():
    lines = [f"sites.csv row {i + 2}, power_usd_kwh: '{30 + i}' looks like USD/MWh; divide by 1000" for i in range(500)]
    lines += [f"kind {chr(65 + k)} of slip in 'x{k}'" for k in range(30)]
    shown = budget.group_warnings(lines, cap=12)
    assert len(shown) == 13
    assert shown[0].startswith("sites.csv row 2,") and "499 more like this: rows 3, 4, 5" in shown[0]
    assert "19 more warning(s) of 19 other kind(s)" in shown[-1]
    assert budget.group_warnings(["one", "two things"]) == ["one", "two things"]


def test_the_app_shows_thousands_of_slips_as_a_few_lines():
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    files = _many_sites(MWH, 1500)
    at.file_uploader(key="upload").set_value(("mwh.zip", _zip(files), "application/zip")).run()
    assert not at.exception
    box = "\n".join(w.value for w in at.warning if "Check these inputs" in w.value)
    assert "more like this" in box and "USD/MWh" in box
    assert box.count("\n- ") <= budget.DEFAULT_WARNING_GROUPS + 2
    assert len(box) < 6000


def test_remembered_results_are_bounded_in_bytes():
    from collections import OrderedDict

    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"x": np.zeros(125_000)})  # 1 MB of float64
    assert 1_000_000 <= budget.approx_bytes(frame) < 1_100_000
    assert budget.approx_bytes({"a": frame, "b": [frame, frame]}) < 1_200_000  # shared parts counted once
    store, sizes = OrderedDict(), {}
    for i in range(10):
        budget.remember(store, sizes, i, pd.DataFrame({"x": np.full(125_000, float(i))}), max_entries=32,
                        max_bytes=3.5e6)
    assert list(store) == [7, 8, 9]  # the three newest, as 3.5 MB allow
    budget.remember(store, sizes, "big", pd.DataFrame({"x": np.zeros(1_250_000)}), max_entries=32, max_bytes=3.5e6)
    assert list(store) == ["big"]  # the newest stays even alone over the budget
