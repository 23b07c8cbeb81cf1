"""Executors know one thing: how to run a function over a list of small tasks.

The runner plans the work (ingest files, stage segments over shards, global-stage phases)
and hands each phase's tasks to an executor; stages never import an executor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol


class Executor(Protocol):
    workers: int

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any],
            on_result: Callable[[Any], None] | None = None) -> list[Any]:
        """Run ``fn(task)`` for every task; results in task order; ``on_result`` as each ends."""
        ...

    def close(self) -> None: ...


def make_executor(cfg: dict[str, Any]) -> Executor:
    if cfg["type"] == "ray":
        from pipeline.executors.ray_executor import RayExecutor

        return RayExecutor(cfg)
    from pipeline.executors.local import LocalExecutor

    return LocalExecutor(cfg["workers"])
