"""Where the sampled work runs: local cores (Dask's threaded scheduler) or a Dask cluster.

``Runner(None)`` runs tasks on this machine's cores through ``dask.compute(scheduler="threads")``
(numpy releases the GIL in the heavy loops); ``Runner("tcp://HOST:PORT")`` sends them to that
``dask.distributed`` cluster. Tasks are pure functions of their arguments and results come back
in submission order, so the files and numbers are the same either way.

``Runner("tls://HOST:PORT", security=...)`` connects with Dask's mutual TLS (``cluster_security``:
the given ``distributed.security.Security``, else Dask's ``distributed.comm.tls.*`` configuration).
Start a cluster from an environment where the project is installed (``make run`` installs it into
.venv), bound to this machine unless it uses Dask's TLS (docs/risk.md)::

    .venv/bin/dask scheduler --host 127.0.0.1 --port 8786
    .venv/bin/dask worker tcp://127.0.0.1:8786 --nworkers 2 --nthreads 1

The scheduler too must import ``optimizer`` (Dask's scheduler unpickles the task graph).
"""
from __future__ import annotations

import math
import os
from typing import Any, Callable, Sequence

import dask

from optimizer.inputs.errors import Problem, ScenarioError

ENV_SCHEDULER = "RIGSHIFT_DASK_SCHEDULER"
CONNECT_TIMEOUT_S = 5
WAIT_WORKERS_S = 20.0  # a cluster with no workers is waited for this long before the run says so
INSTALL_HINT = ("start the scheduler and the workers from an environment where this Rigshift is installed "
                "(`make run` installs it into .venv; elsewhere `pip install -e .` of the same checkout)")
TASK_RETRIES = 2  # Dask re-runs a task that raised this many times (client.submit(retries=...))
MAP_ATTEMPTS = 3  # a map whose tasks or scattered data were lost with their workers is sent again this often


class Runner:
    """Map a function over items, locally or on a Dask cluster. Use as a context manager."""

    def __init__(self, scheduler: str | None = None, threads: int | None = None, security: Any = None):
        self.scheduler = scheduler or None
        self.threads = threads
        self.security = security  # distributed.security.Security; None: Dask's TLS configuration (cluster_security)
        self._client = None

    @classmethod
    def from_env(cls) -> "Runner":
        """The cluster named by RIGSHIFT_DASK_SCHEDULER, else local cores (for the app)."""
        return cls(os.environ.get(ENV_SCHEDULER) or None)

    def __enter__(self) -> "Runner":
        if self.scheduler:
            from distributed import Client

            from optimizer.risk.cluster_security import client_security, connect_hint

            security = client_security(self.scheduler, self.security)
            try:
                self._client = Client(self.scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False, security=security)
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise ScenarioError(Problem("--scheduler", None, None,
                                            f"cannot reach the Dask scheduler at {self.scheduler}: {exc}",
                                            connect_hint(self.scheduler))) from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _fault(self, what: str, hint: str) -> ScenarioError:
        return ScenarioError(Problem("--scheduler", None, None, f"the Dask cluster at {self.scheduler} {what}", hint))

    def _check_imports(self, fn: Callable[..., Any]) -> None:
        """Every worker and the scheduler can import the task's module (a worker that cannot would
        leave the task waiting for ever): checked once per module with the standard library's
        ``importlib.util.find_spec``, run there by ``client.run`` / ``run_on_scheduler``."""
        import importlib.util

        module = getattr(fn, "__module__", None)
        checked = self.__dict__.setdefault("_checked", set())
        if not module or module == "__main__" or module in checked:
            return
        client = self._client
        where = dict(client.run(importlib.util.find_spec, module))
        try:
            where["the scheduler"] = client.run_on_scheduler(importlib.util.find_spec, module)
        except Exception:  # noqa: BLE001 - a scheduler that forbids run_on_scheduler: the workers' answer stands
            pass
        missing = sorted(str(w) for w, spec in where.items() if spec is None)
        if missing:
            raise self._fault(f"cannot load Rigshift's tasks: module '{module}' is not importable on "
                              + ", ".join(missing),
                              INSTALL_HINT)
        checked.add(module)

    def _cluster_map(self, fn: Callable[..., Any], items: list[Any], shared: dict[str, Any],
                     sent_before: Callable[[], dict[str, Any]] | None = None, star: bool = False) -> list[Any]:
        """The map on the cluster: wait (boundedly) for a worker, scatter the shared arguments, submit
        with Dask's task retries, gather; tasks lost with their workers are sent again up to
        MAP_ATTEMPTS times. Every cluster fault ends as a ScenarioError naming what the cluster lacks.

        ``sent_before`` gives arguments already on the workers (``share``: scattered once per Runner);
        ``star`` calls ``fn(*item)`` instead of ``fn(item)``."""
        from distributed import KilledWorker
        from distributed.comm.core import CommClosedError

        try:
            from distributed.client import FutureCancelledError
        except ImportError:  # older distributed
            from asyncio import CancelledError as FutureCancelledError
        from asyncio import CancelledError

        client = self._client
        lost: BaseException | None = None
        for _attempt in range(MAP_ATTEMPTS):
            if client.status not in ("running", "connecting"):
                raise self._fault("is gone: the client lost its connection to the scheduler",
                                  "check that `dask scheduler` is still running at that address, then run again")
            try:
                client.wait_for_workers(1, timeout=WAIT_WORKERS_S)
            except OSError as exc:  # TimeoutError is one: no worker came; other OSErrors: the scheduler is gone
                if not isinstance(exc, TimeoutError) or client.status not in ("running", "connecting"):
                    raise self._fault("stopped answering (the scheduler is down or unreachable)",
                                      "restart `dask scheduler` and its workers, then run again") from None
                raise self._fault(f"has no workers (waited {WAIT_WORKERS_S:g} s for one)",
                                  "start workers from an environment with Rigshift installed: dask worker tcp://SCHEDULER:PORT "
                                  "(docs/risk.md)") from None
            self._check_imports(fn)
            try:
                sent = dict(sent_before()) if sent_before is not None else {}
                sent.update({k: client.scatter(v, broadcast=True, hash=False) for k, v in shared.items()})
                futures = [client.submit(fn, *(item if star else (item,)), **sent, pure=False, retries=TASK_RETRIES)
                           for item in items]
                return client.gather(futures)
            except (ModuleNotFoundError, ImportError) as exc:
                raise self._fault(f"cannot load Rigshift's tasks: {exc}",
                                  INSTALL_HINT) from None
            except RuntimeError as exc:
                if "deserializ" in str(exc):
                    raise self._fault(f"cannot load Rigshift's tasks: {exc}",
                                      INSTALL_HINT) from None
                raise
            except KilledWorker as exc:
                raise self._fault(f"lost a worker on every try of one task ({exc}); workers may run out of memory",
                                  "give the workers more memory (dask worker --memory-limit) or fewer threads, "
                                  "or run without --scheduler") from None
            except (FutureCancelledError, CancelledError, CommClosedError, TimeoutError, OSError) as exc:
                lost = exc  # workers restarted (the nanny), data lost with them, or the scheduler hiccuped: again
                continue
        raise self._fault(f"lost the run's tasks {MAP_ATTEMPTS} times ({type(lost).__name__}: {lost})",
                          "check the workers' logs (restarts, memory limits) and the scheduler, then run again")

    @property
    def where(self) -> str:
        return f"dask cluster {self.scheduler}" if self.scheduler else "local cores"

    def map(self, fn: Callable[..., Any], items: Sequence[Any], /, **shared: Any) -> list[Any]:
        """``[fn(item, **shared) for item in items]``, in parallel; shared arguments are sent once."""
        items = list(items)
        if not items:
            return []
        if self._client is not None:
            return self._cluster_map(fn, items, shared)
        if len(items) == 1:
            return [fn(items[0], **shared)]
        tasks = [dask.delayed(fn, pure=False)(item, **shared) for item in items]
        kwargs = {"num_workers": self.threads} if self.threads else {}
        return list(dask.compute(*tasks, scheduler="threads", **kwargs))


# ---------------------------------------------------------------------------- data sent once, chunks sized from the work
#
# Issue 23: a cluster pays only when (1) the big inputs cross the network once, not with every task,
# and (2) every task carries enough work to hide its own overhead. ``share`` sends a value to every
# worker once per Runner (client.scatter(broadcast=True)) and hands back the same future while the
# caller passes the same object again (e.g. a SampleSet used by every round of the cutting-plane
# method, by each frontier point, by repeated evaluations). ``map_ranges`` runs ``fn(start, stop)``
# over index ranges of that shared data, so a task carries two integers instead of its slice.
#
# Chunk rule (``chunk_ranges``). Two probe ranges run first in this process, timed: P items then
# 2P more, so a task's cost splits into a fixed part f (set-up that does not shrink with the chunk,
# e.g. a loop over jurisdictions and months) and c seconds per item: c = (t2 - t1) / P,
# f = t1 - c P. With the measured per-task overhead o (``task_overhead_s``) and W worker slots,
# the remaining N items go in
#   chunks = min(CHUNKS_PER_WORKER * W, floor(N c * OVERHEAD_SHARE / (o + f)))
# equal ranges (so o + f is at most 5% of a chunk's work), rounded down to a multiple of W when above
# W (every worker gets the same number of chunks), more if ``max_bytes`` of working memory
# per chunk needs it; fewer than two chunks run here, in this process, as one range (one remote
# task cannot beat doing the same work here). Each item's result never depends on the chunking
# (tested), so any chunking gives the same numbers and files.

OVERHEAD_SHARE = 0.05
CHUNKS_PER_WORKER = 2
PROBE_ITEMS = 64  # the first probe's items (the second has twice as many)
OVERHEAD_PROBES = 8  # trivial tasks timed once per Runner for the overhead


def _noop(i: int) -> int:
    return i


def workers(runner: Runner) -> int:
    """Task slots: the cluster's worker threads, or this machine's cores (``threads`` if set)."""
    if runner._client is not None:
        info = runner._client.scheduler_info()
        return max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))
    return max(1, runner.threads or os.cpu_count() or 1)


_LOCAL_OVERHEAD_S: dict[int, float] = {}  # local cores -> measured overhead, once per process (the app makes a
# Runner per rerun; measuring it again each time cost about 30 ms of every served what-if)


def task_overhead_s(runner: Runner) -> float:
    """Seconds one task costs beyond its work (submit, schedule, run a no-op, gather), measured once
    per Runner on a cluster and once per process for local cores: the median of ``OVERHEAD_PROBES``
    round trips of a trivial task (local cores: one dask.compute of a no-op per probe)."""
    cached = runner.__dict__.get("_overhead_s")
    if cached is None and runner._client is None:
        cached = _LOCAL_OVERHEAD_S.get(workers(runner))  # the threads scheduler's cost is this process's
    if cached is not None:
        runner.__dict__["_overhead_s"] = cached
        return cached
    import time

    times = []
    for i in range(OVERHEAD_PROBES):
        t = time.perf_counter()
        if runner._client is not None:
            runner._client.submit(_noop, i, pure=False).result()
        else:
            dask.compute(dask.delayed(_noop, pure=False)(i), scheduler="threads")
        times.append(time.perf_counter() - t)
    runner.__dict__["_overhead_s"] = sorted(times)[len(times) // 2]
    if runner._client is None:
        _LOCAL_OVERHEAD_S[workers(runner)] = runner.__dict__["_overhead_s"]
    return runner.__dict__["_overhead_s"]


def share(runner: Runner, name: str, value: Any) -> Any:
    """``value`` as tasks should receive it: on a cluster a future of it, scattered to every worker
    once (broadcast) and reused while the same object is shared again under ``name``; locally the
    value itself. Sharing a new object under a name releases the old one on the cluster."""
    if runner._client is None:
        return value
    cache = runner.__dict__.setdefault("_shared", {})
    held = cache.get(name)
    if held is not None and held[0] is value and held[2] is runner._client:  # same object, same connection
        return held[1]
    future = runner._client.scatter(value, broadcast=True, hash=False)
    cache[name] = (value, future, runner._client)  # the object is held, so its identity is not reused while cached
    runner.__dict__["_scatters"] = runner.__dict__.get("_scatters", 0) + 1
    return future


def chunk_ranges(start: int, stop: int, seconds_per_item: float, n_workers: int, overhead_s: float,
                 fixed_s: float = 0.0, bytes_per_item: float = 0.0,
                 max_bytes: float = 128 * 2**20) -> list[tuple[int, int]]:
    """Index ranges covering start..stop-1 by the chunk rule above (equal sizes, in order)."""
    n = stop - start
    if n <= 0:
        return []
    work = n * max(seconds_per_item, 0.0)
    by_overhead = int(work * OVERHEAD_SHARE / max(overhead_s + max(fixed_s, 0.0), 1e-9))
    by_memory = math.ceil(n * bytes_per_item / max_bytes) if bytes_per_item > 0 else 1
    parts = min(by_overhead, CHUNKS_PER_WORKER * n_workers)
    if parts > n_workers:
        parts -= parts % n_workers  # whole rounds: 3 equal chunks on 2 workers leave one idle a third of the time
    parts = max(1, by_memory, parts)
    size = math.ceil(n / min(parts, n))
    return [(a, min(a + size, stop)) for a in range(start, stop, size)]


def map_ranges(runner: Runner, fn: Callable[..., Any], n_items: int, shared: dict[str, Any] | None = None,
               bytes_per_item: float = 0.0, /, **per_call: Any) -> list[Any]:
    """``fn(start, stop, **shared, **per_call)`` over ranges covering 0..n_items-1, results in order.

    ``shared`` values go to workers once per Runner (``share``), ``per_call`` values once per call.
    Two probe ranges run here, timed, and the rest is chunked by ``chunk_ranges``; work too small to
    pay for two tasks runs here too. Records what it did in ``runner.last_map`` (items, chunks, where,
    seconds per item, fixed seconds per task, overhead).
    """
    import time

    shared = shared or {}
    if n_items <= 0:
        return []
    p1 = min(n_items, PROBE_ITEMS)
    p2 = min(n_items, 3 * p1)
    t = time.perf_counter()
    out = [fn(0, p1, **shared, **per_call)]
    t1 = time.perf_counter() - t
    if p2 == p1:
        runner.last_map = {"items": n_items, "chunks": 0, "where": "here"}
        return out
    t = time.perf_counter()
    out.append(fn(p1, p2, **shared, **per_call))
    t2 = time.perf_counter() - t
    per_item = max(0.0, (t2 - t1) / max(p2 - 2 * p1, 1)) if p2 - p1 == 2 * p1 else t2 / (p2 - p1)
    fixed = max(0.0, t1 - per_item * p1)
    if p2 == n_items:
        runner.last_map = {"items": n_items, "chunks": 0, "where": "here", "s_per_item": per_item, "fixed_s": fixed}
        return out
    overhead = task_overhead_s(runner)
    ranges = chunk_ranges(p2, n_items, per_item, workers(runner), overhead, fixed, bytes_per_item)
    remote = len(ranges) > 1
    runner.last_map = {"items": n_items, "chunks": len(ranges) if remote else 0, "where": runner.where if remote else "here",
                       "s_per_item": per_item, "fixed_s": fixed, "overhead_s": overhead}
    if not remote:
        return out + [fn(p2, n_items, **shared, **per_call)]
    if runner._client is not None:  # with the cluster's fault handling and retries (Runner._cluster_map)
        return out + runner._cluster_map(fn, list(ranges), per_call, star=True,
                                         sent_before=lambda: {k: share(runner, k, v) for k, v in shared.items()})
    tasks = [dask.delayed(fn, pure=False)(a, b, **shared, **per_call) for a, b in ranges]
    kwargs = {"num_workers": runner.threads} if runner.threads else {}
    return out + list(dask.compute(*tasks, scheduler="threads", **kwargs))
