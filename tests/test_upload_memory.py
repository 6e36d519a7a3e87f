"""A 160,000-site upload on a shared server (issue 22, "How we will know"): refused within the
time a page takes to answer, before the zip is unpacked, and the server's memory back within
100 MB of where it was once the session has closed.

The unit tests check the streamed pre-check (``ui/upload_scan.py``) against the budget's own row
count (``budget._rows`` on the whole file) and count the bytes it unpacks. The browser test serves
the real app (``streamlit run app.py``), uploads a generated 4 MB zip of 160,000 sites through
Chromium's file chooser, reads the refusal in the sidebar, closes the browser, and polls the
server process's resident memory (psutil) until it is within 100 MB of the figure taken before the
upload. Streamlit keeps a disconnected session for ``server.disconnectedSessionTTL`` seconds (120
by default) so that a reconnecting tab finds it; the test serves with 5 s so that the wait is
short. ``ui/memory_guard.py`` then shuts the expired session down and hands the freed heap back to
the system (without it, Streamlit drops an expired session only when another visitor disconnects).
The RSS figures go to tests/artifacts/upload-memory*.txt.
"""
from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest

import optimizer
from tests.streamlit_server import WAIT_MS, chromium, chromium_missing_reason, idle, metric, running_app, wait_until
from ui import budget, upload_scan

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"
ARTIFACTS = ROOT / "tests" / "artifacts"
N_SITES = 160_000
MB = 1024 * 1024


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(f"big/{name}", data)
    return buf.getvalue()


def _many_sites(n: int, tag: str = "") -> dict[str, bytes]:
    """The tiny scenario with n plausible sites (its first site, renamed and moved a little)."""
    files = {p.name: p.read_bytes() for p in TINY.iterdir() if p.is_file()}
    head, first = files["sites.csv"].decode().splitlines()[:2]
    name, juris, lat, lon, rest = first.split(",", 4)
    rows = [f"{name} {tag}{i},{juris},{float(lat) + (i % 100) / 1000:.3f},{float(lon) - (i // 100 % 100) / 1000:.3f},{rest}"
            for i in range(n)]
    files["sites.csv"] = ("\n".join([head, *rows]) + "\n").encode()
    files.pop("lanes.csv", None)
    return files


@pytest.fixture(scope="module")
def big_files() -> dict[str, bytes]:
    return _many_sites(N_SITES)


def _unpacked_bytes_read(monkeypatch) -> list[int]:
    read = []
    real = zipfile.ZipExtFile.read

    def counting(self, n=-1):
        out = real(self, n)
        read.append(len(out))
        return out

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting)
    return read


def test_a_160000_site_zip_is_refused_after_reading_about_one_piece(monkeypatch, big_files):
    data = _zip(big_files)
    assert budget._rows(big_files["sites.csv"]) == N_SITES
    read = _unpacked_bytes_read(monkeypatch)
    with pytest.raises(optimizer.ScenarioError) as exc:
        upload_scan.precheck_zip(data, "big.zip")
    (problem,) = exc.value.problems
    assert problem.file == "big.zip:sites.csv"
    assert f"more than {budget.DEFAULT_MAX_SITES:,} sites" in problem.message and budget.ENV_MAX_SITES in problem.message
    # the whole sites.csv is many pieces; the check stopped within the piece that crossed the limit
    row_bytes = len(big_files["sites.csv"]) / N_SITES
    assert len(big_files["sites.csv"]) > 4 * upload_scan.PIECE_BYTES
    assert sum(read) <= budget.DEFAULT_MAX_SITES * row_bytes * 1.2 + upload_scan.PIECE_BYTES + sum(
        len(v) for k, v in big_files.items() if k != "sites.csv")


@pytest.mark.parametrize("n, refused", [(budget.DEFAULT_MAX_SITES, False), (budget.DEFAULT_MAX_SITES + 1, True)])
def test_the_streamed_count_agrees_with_the_budget_on_the_whole_file(n, refused):
    files = _many_sites(n)
    for last_newline in (True, False):
        if not last_newline:
            files["sites.csv"] = files["sites.csv"].rstrip(b"\n")
        whole_refused = budget._rows(files["sites.csv"]) > budget.DEFAULT_MAX_SITES
        assert whole_refused == refused
        if refused:
            with pytest.raises(optimizer.ScenarioError):
                upload_scan.precheck_zip(_zip(files))
        else:
            assert upload_scan.precheck_zip(_zip(files)) is None


def test_rows_and_megabytes_budgets_hold_for_every_table(monkeypatch):
    files = {p.name: p.read_bytes() for p in TINY.iterdir() if p.is_file()}
    upload_scan.precheck_zip(_zip(files))  # the tiny scenario is within every budget
    monkeypatch.setenv(budget.ENV_MAX_ROWS, "10")
    long_fleet = files | {"fleet.csv": files["fleet.csv"] + b"".join(b"Sichuan,Antminer S9,1\n" for _ in range(10))}
    with pytest.raises(optimizer.ScenarioError) as exc:
        upload_scan.precheck_zip(_zip(long_fleet), "f.zip")
    assert exc.value.problems[0].file == "f.zip:fleet.csv" and budget.ENV_MAX_ROWS in exc.value.problems[0].message
    monkeypatch.delenv(budget.ENV_MAX_ROWS)
    monkeypatch.setenv(budget.ENV_MAX_UPLOAD_MB, "0.0005")
    with pytest.raises(optimizer.ScenarioError) as exc:
        upload_scan.precheck_zip(_zip(files), "m.zip")
    assert exc.value.problems[0].file == "m.zip" and budget.ENV_MAX_UPLOAD_MB in exc.value.problems[0].message


def test_a_zip_it_cannot_read_is_left_to_read_zip_to_name():
    assert upload_scan.precheck_zip(b"not a zip", "x.zip") is None
    with pytest.raises(optimizer.ScenarioError, match="not a valid zip"):
        optimizer.read_zip(b"not a zip", "x.zip")


# ---------------------------------------------------------------- the served app, through a browser


def _rss(pid: int) -> int:
    import psutil

    return psutil.Process(pid).memory_info().rss


def _visit(browser, url: str):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    wait_until(lambda: metric(page, "Plan value"), timeout_s=WAIT_MS / 1000, what="the first plan")
    idle(page)
    return context, page


@pytest.mark.browser
@pytest.mark.skipif(bool(chromium_missing_reason()), reason=str(chromium_missing_reason()))
def test_a_160000_site_upload_is_refused_and_the_server_memory_returns(tmp_path, big_files):
    pytest.importorskip("psutil")
    path = tmp_path / "big-160000-sites.zip"
    path.write_bytes(_zip(big_files))
    ttl = ("--server.disconnectedSessionTTL", "5")
    with running_app(ARTIFACTS / "streamlit-upload-memory.log", extra_args=ttl) as (url, proc), \
            chromium(WAIT_MS) as browser:
        context, page = _visit(browser, url)  # warm: imports, the built-in scenario's plan cached
        context.close()
        time.sleep(6)
        context, page = _visit(browser, url)
        before = _rss(proc.pid)
        plan_value = metric(page, "Plan value")
        page.get_by_text("Bring your own scenario").click()
        page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(path))
        err = page.locator("[data-testid='stSidebar'] [data-testid='stAlertContentError']")
        err.wait_for(timeout=WAIT_MS)
        said = err.inner_text()
        idle(page)
        assert "sites.csv" in said and f"more than {budget.DEFAULT_MAX_SITES:,} sites" in said, said
        assert metric(page, "Plan value") == plan_value  # the scenario the user had is still the one shown
        peak = _rss(proc.pid)
        context.close()

        after = wait_until(lambda: (lambda r: r if r <= before + 100 * MB else None)(_rss(proc.pid)),
                           timeout_s=180, what=f"the server's memory back within 100 MB of {before / MB:.0f} MB")
        (ARTIFACTS / "upload-memory.txt").write_text(
            f"rss before upload {before / MB:.0f} MB, after refusal {peak / MB:.0f} MB, after close {after / MB:.0f} MB\n")
        assert after <= before + 100 * MB
