"""Local cores as worker processes, for work that holds Python's GIL.

``scaleout.Runner(None)`` runs tasks on threads, which pays where numpy and HiGHS do the work
(sampled plan values). Replay's tasks are mostly Python between small HiGHS solves (building each
re-plan's columns, the canonical tie-break, carrying out decisions), so threads take turns on the
GIL and local cores run no faster than one. ``map_processes`` runs them in worker processes
instead (the standard library's ``concurrent.futures.ProcessPoolExecutor``, "spawn" start: no
fork of a process that holds threads or HiGHS objects): the shared arguments are sent to each worker
process once (its initializer; the executor serialises them, between this process and its own
children only), and every task carries only its own item.
Results come back in submission order; each is a pure function of its item and the shared
arguments, so the numbers are those of any other runner.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Sequence

_SHARED: dict[str, Any] = {}


def _init(shared: dict[str, Any]) -> None:
    _SHARED.clear()
    _SHARED.update(shared)


def _call(job: tuple[Callable[..., Any], Any]) -> Any:
    fn, item = job
    return fn(item, **_SHARED)


def cores() -> int:
    """Cores this process may use (its CPU affinity where the system says, else os.cpu_count())."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def map_processes(fn: Callable[..., Any], items: Sequence[Any], shared: dict[str, Any], workers: int) -> list[Any]:
    """``[fn(item, **shared) for item in items]`` on up to ``workers`` processes (module docstring).
    ``fn`` must be a module-level function (pickled by reference). Exceptions raised by ``fn`` reach
    the caller as themselves."""
    items = list(items)
    if not items:
        return []
    workers = max(1, min(int(workers), len(items)))
    if workers == 1:
        return [fn(item, **shared) for item in items]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init, initargs=(shared,)) as pool:
        return list(pool.map(_call, [(fn, item) for item in items]))
