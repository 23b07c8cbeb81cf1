"""The local executor: a process pool over tasks (inline when one worker is asked for).

Workers die with the main process (``pipeline.signals.init_worker``) and ignore Ctrl-C: on
Ctrl-C or SIGTERM the main process kills them (:meth:`LocalExecutor.terminate`) and exits."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from pipeline.executors import submit_order
from pipeline.signals import init_worker

#: Seconds :meth:`LocalExecutor.terminate` waits for each killed worker to be reaped.
STOP_TIMEOUT_S = 5.0


def preload_for_workers() -> None:
    """Import, once in the parent, what every forked worker would otherwise import itself.

    pyarrow imports pandas on its first array conversion (~0.2 s of CPU per process); done
    before the fork, the workers share it instead of each paying it at once on the same cores.
    """
    import pyarrow as pa

    pa.array([], pa.string())


class LocalExecutor:
    """Runs tasks in ``workers`` forked processes; ``workers=None`` means one per CPU."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            preload_for_workers()
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=init_worker,
                initargs=(os.getpid(),),
            )
        return self._pool

    def map(
        self,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        on_result: Callable[[Any], None] | None = None,
        cost: Callable[[Any], float] | None = None,
    ) -> list[Any]:
        """See :class:`pipeline.executors.Executor`; inline (in task order) at one worker."""
        if self.workers == 1 or len(tasks) <= 1:
            results = []
            for task in tasks:
                results.append(fn(task))
                if on_result:
                    on_result(results[-1])
            return results
        pool = self._get_pool()
        futures = {pool.submit(fn, tasks[i]): i for i in submit_order(tasks, cost)}
        results: list[Any] = [None] * len(tasks)
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    results[futures[fut]] = fut.result()
                    if on_result:
                        on_result(results[futures[fut]])
        except BaseException as exc:
            for fut in pending:
                fut.cancel()
            if not isinstance(exc, Exception):  # Ctrl-C, SIGTERM: do not wait for the tasks
                self.terminate()
            raise
        return results

    def close(self) -> None:
        """Let running tasks finish, start no new ones, end the workers."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def terminate(self) -> None:
        """Kill the workers now (their tasks' partial outputs are temp files: a rerun redoes
        those tasks) and wait until they are gone, at most ``STOP_TIMEOUT_S``."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = list((getattr(pool, "_processes", None) or {}).values())
        for proc in procs:
            proc.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        for proc in procs:
            proc.join(STOP_TIMEOUT_S)
