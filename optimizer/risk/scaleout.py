"""Where the sampled work runs: local cores (Dask's threaded scheduler) or a Dask cluster.

``Runner(None)`` runs tasks on this machine's cores through ``dask.compute(scheduler="threads")``
(numpy releases the GIL in the heavy loops); ``Runner("tcp://HOST:PORT")`` sends them to that
``dask.distributed`` cluster. Tasks are pure functions of their arguments and results come back
in submission order, so the files and numbers are the same either way.

Start a cluster (from the repository root, so workers can import ``optimizer``)::

    PYTHONPATH=$PWD .venv/bin/dask scheduler --port 8786
    PYTHONPATH=$PWD .venv/bin/dask worker tcp://SCHEDULER_HOST:8786 --nworkers 2 --nthreads 1

The scheduler too must import ``optimizer`` (Dask's scheduler unpickles the task graph).
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import dask

from optimizer.inputs.errors import Problem, ScenarioError

ENV_SCHEDULER = "RIGSHIFT_DASK_SCHEDULER"
CONNECT_TIMEOUT_S = 5
WAIT_WORKERS_S = 20.0  # a cluster with no workers is waited for this long before the run says so
TASK_RETRIES = 2  # Dask re-runs a task that raised this many times (client.submit(retries=...))
MAP_ATTEMPTS = 3  # a map whose tasks or scattered data were lost with their workers is sent again this often


class Runner:
    """Map a function over items, locally or on a Dask cluster. Use as a context manager."""

    def __init__(self, scheduler: str | None = None, threads: int | None = None):
        self.scheduler = scheduler or None
        self.threads = threads
        self._client = None

    @classmethod
    def from_env(cls) -> "Runner":
        """The cluster named by RIGSHIFT_DASK_SCHEDULER, else local cores (for the app)."""
        return cls(os.environ.get(ENV_SCHEDULER) or None)

    def __enter__(self) -> "Runner":
        if self.scheduler:
            from distributed import Client

            try:
                self._client = Client(self.scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise ScenarioError(Problem("--scheduler", None, None,
                                            f"cannot reach the Dask scheduler at {self.scheduler}: {exc}",
                                            "start one with `dask scheduler` and give its tcp://HOST:PORT")) from None
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
                              "start the scheduler and the workers from the repository root with "
                              "PYTHONPATH=$PWD and the same requirements.txt")
        checked.add(module)

    def _cluster_map(self, fn: Callable[..., Any], items: list[Any], shared: dict[str, Any]) -> list[Any]:
        """The map on the cluster: wait (boundedly) for a worker, scatter the shared arguments, submit
        with Dask's task retries, gather; tasks lost with their workers are sent again up to
        MAP_ATTEMPTS times. Every cluster fault ends as a ScenarioError naming what the cluster lacks."""
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
                                  "start workers: PYTHONPATH=$PWD dask worker tcp://SCHEDULER:PORT (see README)") from None
            self._check_imports(fn)
            try:
                sent = {k: client.scatter(v, broadcast=True, hash=False) for k, v in shared.items()}
                futures = [client.submit(fn, item, **sent, pure=False, retries=TASK_RETRIES) for item in items]
                return client.gather(futures)
            except (ModuleNotFoundError, ImportError) as exc:
                raise self._fault(f"cannot load Rigshift's tasks: {exc}",
                                  "start the scheduler and the workers from the repository root with "
                                  "PYTHONPATH=$PWD and the same requirements.txt") from None
            except RuntimeError as exc:
                if "deserializ" in str(exc):
                    raise self._fault(f"cannot load Rigshift's tasks: {exc}",
                                      "start the scheduler and the workers from the repository root with "
                                      "PYTHONPATH=$PWD and the same requirements.txt") from None
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
