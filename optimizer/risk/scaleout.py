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

    @property
    def where(self) -> str:
        return f"dask cluster {self.scheduler}" if self.scheduler else "local cores"

    def map(self, fn: Callable[..., Any], items: Sequence[Any], /, **shared: Any) -> list[Any]:
        """``[fn(item, **shared) for item in items]``, in parallel; shared arguments are sent once."""
        items = list(items)
        if not items:
            return []
        if self._client is not None:
            sent = {k: self._client.scatter(v, broadcast=True, hash=False) for k, v in shared.items()}
            futures = [self._client.submit(fn, item, **sent, pure=False) for item in items]
            try:
                return self._client.gather(futures)
            except (RuntimeError, ModuleNotFoundError, ImportError) as exc:
                if "deserializ" not in str(exc) and not isinstance(exc, ImportError):
                    raise
                raise ScenarioError(Problem("--scheduler", None, None,
                                            f"the Dask cluster at {self.scheduler} cannot load Rigshift's tasks: {exc}",
                                            "start the scheduler and the workers from the repository root with "
                                            "PYTHONPATH=$PWD and the same requirements.txt")) from None
        if len(items) == 1:
            return [fn(items[0], **shared)]
        tasks = [dask.delayed(fn, pure=False)(item, **shared) for item in items]
        kwargs = {"num_workers": self.threads} if self.threads else {}
        return list(dask.compute(*tasks, scheduler="threads", **kwargs))
