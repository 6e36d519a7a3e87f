"""A real `streamlit run app.py` on a free loopback port, and the Chromium the browser tests drive."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google's hosts on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def chromium_missing_reason() -> str | None:
    """Why browser tests cannot run here, or None. In CI they must run: the Makefile installs chromium."""
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        return f"{CHROMIUM} is missing (run `make browser`); in CI this test must run"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(proc: subprocess.Popen, url: str, timeout_s: float,
                 exited: Callable[[int], str] = lambda rc: f"streamlit exited with {rc}") -> None:
    """Poll ``url``'s /_stcore/health until it answers 200; RuntimeError if ``proc`` exits first (``exited`` words
    it) or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(exited(proc.returncode))
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not become healthy within {timeout_s:.0f} s")
        time.sleep(0.25)


@contextlib.contextmanager
def running_app(log_path: Path, startup_s: float = 60, *, port: int | None = None,
                extra_args: tuple[str, ...] = ()) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start the app, wait until it is healthy (bounded), yield (url, process), always stop it.
    ``port``: a port chosen by the caller (e.g. for an OIDC redirect URI); ``extra_args``: more
    ``streamlit run`` options (e.g. ``--secrets.files``)."""
    port = port or free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         # A served app does not hot-reload: Streamlit's module reloader races with concurrent sessions
         # when source files change under it (streamlit/streamlit#6404, "KeyError: 'ui.main'").
         "--server.fileWatcherType", "none", "--server.runOnSave", "false", *extra_args],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, startup_s, lambda rc: f"streamlit exited with {rc}: {log_path.read_text()[-2000:]}")
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@contextlib.contextmanager
def chromium(timeout_ms: float) -> Iterator:
    """Debian's Chromium through playwright, headless with the flags this machine needs; closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=timeout_ms)
        try:
            yield b
        finally:
            b.close()


# ---------------------------------------------------------------- page helpers shared by the browser tests

WAIT_MS = 60_000


def metric(page, label: str) -> str:
    """The value a headline metric card shows."""
    box = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return (box.locator("[data-testid='stMetricValue']").text_content() or "").strip()  # also in a closed expander


def wait_until(predicate, timeout_s: float = 60, what: str = "condition"):
    """Poll ``predicate`` until it returns something true (returned); AssertionError naming ``what`` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def idle(page) -> None:
    """Wait for the rerun to finish (the status widget shows while the script runs)."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=WAIT_MS)


class MemorySampler(threading.Thread):
    """RSS of a process and its children (MB), every 0.2 s, until ``stop_event`` is set."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.samples: list[float] = []
        self.stop_event = threading.Event()

    def rss_mb(self) -> float:
        import psutil

        total = 0
        for p in [self.proc] + self.proc.children(recursive=True):
            try:
                total += p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return total / 2**20

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.samples.append(self.rss_mb())
            except Exception:  # noqa: BLE001 - the server may be gone at the very end
                return
            self.stop_event.wait(0.2)
