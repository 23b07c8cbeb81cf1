"""The Ray executor: each task of a phase is one Ray task running the same worker function.

The runner's phases already talk through files (ingest shards, per-shard stage outputs,
scan partitions, reduce outputs, the finalized state), each written atomically with a
completion marker. So Ray only has to run ``fn(task)`` somewhere in the cluster:

* backpressure — at most ``workers`` tasks in flight (default: twice the cluster's CPUs), each
  holding one CPU and one shard, so memory per node is bounded by shard size, not corpus size;
* global stages are distributed by construction — one reduce task per hash partition, state
  in files, nothing collected on the driver but small result dicts;
* a worker or node that dies is retried by Ray (``max_retries``); a transient ``OSError``
  (e.g. a shared filesystem hiccup) is retried too. Retrying is safe: tasks are idempotent;
* a driver that dies leaves the markers behind: the same command resumes from them.
* LLM stages: the openai backend's ``concurrency`` holds cluster-wide and the vLLM
  backend runs as GPU actors (``synth.backends.ray_llm``; stages learn they run on Ray from
  the :class:`~pipeline.stage.Placement` their setup gets).

Workers run in the driver's working directory when it exists on their node, so relative
input paths (and ids derived from them) mean the same as with the local executor.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Any

from pipeline.executors import submit_order
from pipeline.executors.ray_cluster import cluster_cpus, init_kwargs, shutdown_named_actors
from pipeline.signals import restore_stop_signals
from pipeline.stage import RAY_NAMESPACE

#: Attempts Ray makes after a task's worker process or node dies (or it raises OSError).
MAX_RETRIES = 4
#: In-flight tasks per cluster CPU when ``executor.workers`` is not set.
INFLIGHT_PER_CPU = 2


class ClusterError(Exception):
    """Ray could not run a task (node lost more than ``MAX_RETRIES`` times, env setup failed)."""


def _in_dir(cwd: str, fn: Callable[[Any], Any], task: Any) -> Any:
    """Run ``fn(task)`` from the driver's working directory (if this node has it)."""
    if os.getcwd() != cwd and os.path.isdir(cwd):
        os.chdir(cwd)
    return fn(task)


class RayExecutor:
    """Runs each task as a Ray task; results come back in task order."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        import ray

        self._owns_connection = not ray.is_initialized()
        if self._owns_connection:
            ray.init(**init_kwargs(cfg))
            restore_stop_signals()  # ray.init's SIGTERM handler exits without ray.shutdown
        self.cpus = cluster_cpus()
        self.workers = cfg.get("workers") or self.cpus
        self.inflight = cfg.get("workers") or INFLIGHT_PER_CPU * self.cpus
        self._remote = ray.remote(_in_dir).options(
            num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=[OSError]
        )
        self._cwd = os.getcwd()

    def map(
        self,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        on_result: Callable[[Any], None] | None = None,
        cost: Callable[[Any], float] | None = None,
    ) -> list[Any]:
        import ray

        results: list[Any] = [None] * len(tasks)
        if not tasks:
            return results
        fn_ref = ray.put(fn)
        running: dict[Any, int] = {}
        todo = ((i, tasks[i]) for i in submit_order(tasks, cost))
        try:
            while True:
                for i, task in todo:
                    running[self._remote.remote(self._cwd, fn_ref, task)] = i
                    if len(running) >= self.inflight:
                        break
                if not running:
                    return results
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    i = running.pop(ref)
                    results[i] = _get(ref)
                    if on_result:
                        on_result(results[i])
        except BaseException:
            for ref in running:
                with contextlib.suppress(Exception):  # the cluster may be gone already
                    ray.cancel(ref, force=True)
            raise

    def close(self) -> None:
        """End the actors the run's stages shared (LLM limiters, vLLM engines: the named actors
        of :data:`~pipeline.stage.RAY_NAMESPACE`), then the connection we made."""
        import ray

        if ray.is_initialized():
            with contextlib.suppress(Exception):  # the cluster may be gone already
                shutdown_named_actors(RAY_NAMESPACE)
        if self._owns_connection and ray.is_initialized():
            ray.shutdown()
        self._owns_connection = False


def _get(ref: Any) -> Any:
    """``ray.get`` that re-raises a task's own exception as itself, cluster failures as one."""
    import ray
    from ray.exceptions import RayError, RayTaskError

    try:
        return ray.get(ref)
    except RayTaskError as exc:
        raise exc.as_instanceof_cause() from None
    except RayError as exc:
        raise ClusterError(
            f"Ray could not run a task ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            "the finished work is kept — run the same command again to resume"
        ) from exc
