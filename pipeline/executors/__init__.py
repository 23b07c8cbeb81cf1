"""Executors know one thing: how to run a function over a list of small tasks.

The runner plans the work (ingest files, stage segments over shards, global-stage phases)
and hands each phase's tasks to an executor; stages never import an executor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol


class Executor(Protocol):
    workers: int

    def map(
        self,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        on_result: Callable[[Any], None] | None = None,
        cost: Callable[[Any], float] | None = None,
    ) -> list[Any]:
        """Run ``fn(task)`` for every task; results in task order; ``on_result`` as each ends.
        ``cost``: a task's expected work; the costliest start first (see
        :func:`submit_order`)."""
        ...

    def close(self) -> None: ...


def submit_order(tasks: Sequence[Any], cost: Callable[[Any], float] | None) -> list[int]:
    """Task indices in the order to start them: by descending ``cost`` (ties in task order),
    so that one big task (a large input file) does not start last and run alone while the
    other workers idle — longest-processing-time-first scheduling."""
    if cost is None:
        return list(range(len(tasks)))
    costs = [cost(t) for t in tasks]
    return sorted(range(len(tasks)), key=lambda i: -costs[i])


def make_executor(cfg: dict[str, Any]) -> Executor:
    if cfg["type"] == "ray":
        from pipeline.executors.ray_executor import RayExecutor

        return RayExecutor(cfg)
    from pipeline.executors.local import LocalExecutor

    return LocalExecutor(cfg["workers"])
