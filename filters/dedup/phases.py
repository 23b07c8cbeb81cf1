"""Run a GlobalStage's four phases in one process, exactly as the executors do (see COMMON
contract in ``pipeline/stage.py``). For tests and benchmarks; executors have their own."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.record import Doc
from pipeline.stage import GlobalStage


def partition_rows(scans: list[pa.Table], partitions: int) -> list[pa.Table]:
    """Rows of every scan table grouped by ``_part``, in shard order then row order."""
    by_part: list[list[pa.Table]] = [[] for _ in range(partitions)]
    for t in scans:
        part = t["_part"].to_numpy()
        order = np.argsort(part, kind="stable")
        cuts = np.searchsorted(part[order], np.arange(partitions + 1))
        for p in range(partitions):
            by_part[p].append(t.take(order[cuts[p] : cuts[p + 1]]))
    return [pa.concat_tables(ts) for ts in by_part]


def run_phases(stage: GlobalStage, shards: list[list[Doc]]) -> pa.Table:
    """scan every shard → reduce every partition → finalize → apply to every shard (in place).

    Returns the finalized state table.
    """
    scans = [stage.scan(docs, s) for s, docs in enumerate(shards)]
    parts = [stage.reduce(rows) for rows in partition_rows(scans, stage.partitions)]
    state = stage.finalize(parts)
    prepared = stage.prepare_state(state)
    for s, docs in enumerate(shards):
        stage.apply(docs, s, prepared)
    return state
