"""Long work in the background of one browser session, with a progress bar, an estimate and a cancel (issue 24).

A job runs its steps on a worker thread while the page stays usable: the script draws the bar in a fragment that
reruns itself every ``POLL_S`` seconds (``st.fragment(run_every=...)``), and the rest of the page answers its widgets
as usual. When the job ends the fragment reruns the whole page, which draws the result. The Cancel button sets the
job's flag; the job stops before its next step (a step in progress finishes) and keeps what it had computed.

One job per *slot* per session (``st.session_state["_longjob_<slot>"]``); starting a job in a slot cancels the one
there. The worker never touches Session State or draws anything: it calls only the engine and ``st.cache_data``
functions, and reports through its ``Job``.

Use::

    job = longjob.current(SLOT)
    if go or (job is None or job.key != key) and wanted:
        job = longjob.start(SLOT, key, "the frontier", longjob.steps_work(steps))
    longjob.show(job, clears=(FLAG,))      # the bar while it runs; "cancelled after k of n" when it was cancelled
    if job.state == longjob.DONE: ... job.result ...

Steps are ``(what, weight, make)``: ``what`` names the step on the bar, ``weight`` its share of the work (solves),
``make()`` computes it. Work whose steps are known only while it runs (the engine's ``runner.map`` over places)
reports through ``StepRunner``.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Hashable, Sequence

import streamlit as st

RUNNING, DONE, CANCELLED, FAILED = "running", "done", "cancelled", "failed"
POLL_S = 0.5  # how often the bar redraws itself while a job runs
PREFIX = "_longjob_"
# Jobs of every session share this many worker threads (a shared server's cores); a job beyond them waits its turn.
_POOL = ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2)), thread_name_prefix="rigshift-longjob")


class Cancelled(Exception):
    """Raised inside a job's work at its next step once Cancel was pressed."""


class Job:
    """One long computation: its progress (``done`` of ``total`` weight), the step it is on, and its outcome.

    ``state`` is RUNNING, DONE (``result`` holds the work's return), CANCELLED (``partial`` holds the steps finished)
    or FAILED (``error`` holds the exception). Times are ``time.monotonic()`` seconds."""

    def __init__(self, key: Hashable, what: str):
        self.key, self.what = key, what
        self.total = 0.0
        self.done = 0.0
        self.steps_done, self.steps_total = 0, 0
        self.step = f"Starting {what}"
        self.started = time.monotonic()  # when it was asked for (a wait for a free worker counts: the user waits too)
        self.picked = False  # a worker has picked it up
        self.ended: float | None = None
        self.state = RUNNING
        self.result: Any = None
        self.partial: list[Any] = []
        self.error: BaseException | None = None
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._lock = threading.Lock()

    # ---- the worker's side
    def plan(self, weight: float, steps: int) -> None:
        """Add ``steps`` steps of total ``weight`` to the work still to do."""
        with self._lock:
            self.total += float(weight)
            self.steps_total += int(steps)

    def begin(self, what: str) -> None:
        """About to compute ``what``: raises Cancelled if Cancel was pressed."""
        if self._cancel.is_set():
            raise Cancelled
        with self._lock:
            self.step = what

    def advance(self, weight: float, value: Any = None) -> None:
        """A step of ``weight`` is finished (its ``value`` kept for a cancelled job's partial result)."""
        with self._lock:
            self.done += float(weight)
            self.steps_done += 1
            self.partial.append(value)

    # ---- the page's side
    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the job ends (tests, scripts); True if it has."""
        return self._finished.wait(timeout_s)

    def fraction(self) -> float:
        with self._lock:
            return min(1.0, self.done / self.total) if self.total > 0 else 0.0

    def elapsed_s(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (elapsed / fraction done - elapsed); None before the first step ends."""
        f = self.fraction()
        return self.elapsed_s() * (1.0 - f) / f if f > 0 else None

    def text(self) -> str:
        """The bar's words: the step, how far, the time so far and the estimate."""
        with self._lock:
            step, k, n = self.step, self.steps_done, self.steps_total
        count = " (waiting for a free worker)" if not self.picked else f" ({k} of {n} done)" if n else ""
        eta = self.eta_s()
        left = f"about {_secs(eta)} left" if eta is not None else "estimating the time left"
        return f"{step}{count}: {_secs(self.elapsed_s())} so far, {left}."

    # ---- running
    def _run(self, work: Callable[["Job"], Any]) -> None:
        self.picked = True
        try:
            if self._cancel.is_set():
                raise Cancelled
            value = work(self)
            self.result, self.state = value, DONE
        except Cancelled:
            self.state = CANCELLED
        except BaseException as exc:  # noqa: BLE001 - shown where the result would be; the session lives on
            self.error, self.state = exc, FAILED
        finally:
            self.ended = time.monotonic()
            self._finished.set()


def _secs(s: float) -> str:
    return f"{s:,.0f} s" if s < 120 else f"{s / 60:,.1f} min"


def steps_work(steps: Sequence[tuple[str, float, Callable[[], Any]]]) -> Callable[[Job], list[Any]]:
    """Work that computes ``(what, weight, make)`` steps in order and returns their values (a list)."""
    def work(job: Job) -> list[Any]:
        job.plan(sum(w for _, w, _ in steps), len(steps))
        out = []
        for what, weight, make in steps:
            job.begin(f"Computing {what}")
            value = make()
            out.append(value)
            job.advance(weight, value)
        return out
    return work


class StepRunner:
    """A runner (``optimizer.risk.scaleout.Runner``'s ``map``) that maps item by item on ``inner``, one step each,
    so work that fans out through ``runner.map`` (the stress tests) shows its progress and stops on Cancel."""

    def __init__(self, job: Job, inner: Any, name: Callable[[Any], str] = str):
        self.job, self.inner, self.name = job, inner, name

    def map(self, fn: Callable[..., Any], items: Sequence[Any], /, **shared: Any) -> list[Any]:
        items = list(items)
        self.job.plan(len(items), len(items))
        out = []
        for item in items:
            self.job.begin(f"Computing {self.name(item)}")
            value = self.inner.map(fn, [item], **shared)[0]
            out.append(value)
            self.job.advance(1, value)
        return out


def current(slot: str) -> Job | None:
    """This session's job in ``slot`` (running or ended), or None."""
    return st.session_state.get(PREFIX + slot)


def start(slot: str, key: Hashable, what: str, work: Callable[[Job], Any]) -> Job:
    """Start ``work(job)`` in the background for this session's ``slot`` (cancelling the job there) and return it."""
    old = current(slot)
    if old is not None and old.state == RUNNING:
        old.cancel()
    job = Job(key, what)
    st.session_state[PREFIX + slot] = job
    _POOL.submit(job._run, work)
    return job


def cancel(slot: str, clears: Sequence[str] = ()) -> None:
    """The Cancel button's callback: cancel the slot's job and switch off the flags that would start it again."""
    job = current(slot)
    if job is not None:
        job.cancel()
    for key in clears:
        st.session_state[key] = False


def show(slot: str, clears: Sequence[str] = ()) -> None:
    """Draw the slot's job: while it runs, the bar (with the estimate) and Cancel, redrawn every POLL_S seconds
    (the page's other widgets stay usable); after a cancel or a failure, a message. Nothing once it is done."""
    job = current(slot)
    if job is None:
        return
    if job.state == RUNNING:
        _bar(slot, tuple(clears))
    elif job.state == CANCELLED:
        st.warning(f"Cancelled: {job.what} stopped after {job.steps_done} of {job.steps_total or '?'} steps "
                   f"({_secs(job.elapsed_s())}).", icon=":material/cancel:")
    elif job.state == FAILED:
        st.error(f"{job.what[:1].upper()}{job.what[1:]} failed: {type(job.error).__name__}: {job.error}",
                 icon=":material/error:")


@st.fragment(run_every=POLL_S)
def _bar(slot: str, clears: tuple[str, ...]) -> None:
    job = current(slot)
    if job is None:
        return
    if job.state != RUNNING:
        st.rerun()  # the whole page, which draws the result (or the cancel message)
    with st.container(horizontal=True, vertical_alignment="center"):
        st.progress(job.fraction(), text=job.text(), width="stretch")
        st.button("Cancel", key=f"{PREFIX}{slot}_cancel", icon=":material/cancel:", on_click=cancel,
                  args=(slot, clears), disabled=job.cancel_requested,
                  help="Stops after the step in progress; what was computed so far is kept.")
    if job.cancel_requested:
        st.caption("Cancelling after the step in progress...")
