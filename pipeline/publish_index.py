"""The dedup indexes of a version, written once at publish beside its data.

A global stage that implements :meth:`~pipeline.stage.GlobalStage.index_rows` (the dedup
stages) gets ``index/<stage key>/part-<p>.parquet``, one file per reduce partition ``p``
(every partition, empty ones too, so a reader finds a file for each), built from the
stage's scan files in the work folder: no signature is recomputed. The rows are those of
the records the version publishes in ``data/`` (what a later run dedups against), found by
following the delta files (``_row``) from the last stage's output back to the stage's input,
or by id when an editing stage lies between. (A stage after dedup that drops records,
e.g. ``quality``, thus shrinks the index; indexing the dedup stage's own kept output instead
is the one-line change in :func:`write_indexes` that "incremental equals batch" may need.)
Measured on the 72k dev corpus (``configs/curation.yaml``, 5,750 published records):
25 bytes per record for ``dedup_exact``, 1,514 for ``dedup_minhash`` (25 band rows of
hash + 64-byte b-bit signature + id), 0.8-1.1 s added to a publish. The manifest lists
the files in its ``index`` section (not in ``outputs``: they are not records), and the
version's files are made read-only with the rest at commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.executors import Executor
from pipeline.global_phases import scan_dir
from pipeline.io.arrow_files import read_ipc, write_ipc, write_parquet
from pipeline.ledger import ShardRef
from pipeline.plan import PlannedStage
from pipeline.publish_shards import file_entry
from pipeline.shard_tables import UPSTREAM_KEY
from pipeline.stage import GlobalStage
from pipeline.worker import StageStep, get_stage

KEPT_SCHEMA = pa.schema([("shard", pa.int32()), ("row", pa.int32()), ("id", pa.string())])


@dataclass(frozen=True)
class IndexTask:
    """Write partition ``part`` of the index of the global stage ``step`` into ``tmp``,
    for the published records listed in the IPC file ``kept_path`` (:data:`KEPT_SCHEMA`)."""

    tmp: str
    step: StageStep
    folder: str
    part: int
    kept_path: str
    level: int


def has_index(stage: Any) -> bool:
    """True for a global stage that overrides ``index_rows``."""
    return isinstance(stage, GlobalStage) and type(stage).index_rows is not GlobalStage.index_rows


def column(path: Path, name: str) -> pa.ChunkedArray:
    """One column of a stage output, resolving delta files for that column only (no text is
    copied, unlike :func:`pipeline.shard_tables.load_output`)."""
    table = read_ipc(path)
    meta = table.schema.metadata or {}
    if name in table.column_names or UPSTREAM_KEY not in meta:
        return table[name]
    return column(path.parent / meta[UPSTREAM_KEY].decode(), name).take(table["_row"])


def rows_in(path: Path, ancestor: Path) -> np.ndarray | None:
    """Positions in ``ancestor`` of the rows of the stage output at ``path`` (composing the
    ``_row`` of each delta file between them); None when a full table lies between."""
    rows: np.ndarray | None = None
    cur, goal = path, ancestor.resolve()
    while cur.resolve() != goal:
        table = read_ipc(cur)
        meta = table.schema.metadata or {}
        if UPSTREAM_KEY not in meta:
            return None
        step = table["_row"].to_numpy().astype(np.int64)
        rows = step if rows is None else step[rows]
        cur = cur.parent / meta[UPSTREAM_KEY].decode()
    return rows if rows is not None else np.arange(read_ipc(path).num_rows, dtype=np.int64)


def kept_rows(stage_input: Path, published: Path, shard: int) -> pa.Table:
    """``shard, row, id`` of the rows of ``stage_input`` whose record is in ``published``
    (the shard's output after the version's last stage), in row order."""
    ids = column(stage_input, "id")
    rows = rows_in(published, stage_input)
    if rows is None:  # an editing stage between: match the published ids
        mask = pc.is_in(ids, value_set=column(published, "id").combine_chunks())
        rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    rows = np.sort(rows)
    return pa.table(
        [
            pa.array(np.full(len(rows), shard, np.int32)),
            pa.array(rows.astype(np.int32)),
            ids.take(pa.array(rows)).combine_chunks(),
        ],
        schema=KEPT_SCHEMA,
    )


def write_index_part(task: IndexTask) -> dict[str, Any]:
    """Write one partition's index file; return its manifest entry."""
    stage = get_stage(task.step)
    assert isinstance(stage, GlobalStage)
    files = sorted(scan_dir(task.step).glob(f"*.p{task.part:04d}.arrow"))
    tables = [read_ipc(f) for f in files]
    scan = pa.concat_tables(tables) if tables else _empty_scan(task.step, stage)
    table = stage.index_rows(scan, read_ipc(Path(task.kept_path)))
    assert table is not None, f"{task.step.key}: index_rows returned None"
    rel = f"index/{task.folder}/part-{task.part:05d}.parquet"
    write_parquet(Path(task.tmp) / rel, table, task.level)
    return file_entry(Path(task.tmp) / rel, Path(task.tmp), table.num_rows)


def _empty_scan(step: StageStep, stage: GlobalStage) -> pa.Table:
    for f in sorted(scan_dir(step).glob("*.p*.arrow")):
        return read_ipc(f).slice(0, 0)
    return stage.scan([], 0)


def write_indexes(
    tmp: Path,
    planned: list[PlannedStage],
    first: int,
    last: int,
    shards: list[ShardRef],
    level: int,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Write the index of every indexing stage among ``planned[first..last]`` for the
    records published after stage ``last``; return the manifest's ``index`` section:
    ``{stage key: {type, fingerprint, partitions, rows, bytes, files}}``."""
    out: dict[str, Any] = {}
    published = Path(planned[last].step.out_dir)
    for i in range(first, last + 1):
        p = planned[i]
        if not has_index(p.stage):
            continue
        kept = (
            pa.concat_tables(
                [
                    kept_rows(_stage_input(planned, i, s), published / f"{s.id}.arrow", s.index)
                    for s in shards
                ]
            )
            if shards
            else KEPT_SCHEMA.empty_table()
        )
        kept_path = Path(p.step.out_dir) / "index" / f"kept-{planned[last].step.fingerprint}.arrow"
        write_ipc(kept_path, kept)
        folder = p.key.replace("#", "_")
        parts = p.stage.partitions  # type: ignore[attr-defined]
        tasks = [
            IndexTask(str(tmp), p.step, folder, q, str(kept_path), level) for q in range(parts)
        ]
        files = (
            executor.map(write_index_part, tasks)
            if executor is not None
            else [write_index_part(t) for t in tasks]
        )
        out[p.key] = {
            "type": p.step.params["type"],
            "fingerprint": p.step.fingerprint,
            "partitions": parts,
            "records": kept.num_rows,
            "rows": sum(f["rows"] for f in files),
            "bytes": sum(f["bytes"] for f in files),
            "files": list(files),
        }
    return out


def _stage_input(planned: list[PlannedStage], i: int, shard: ShardRef) -> Path:
    """The file a global stage's scan read for ``shard``: the previous stage's output, or
    the ingested shard for the first stage (as ``pipeline.runner.process`` wires them)."""
    if i == 0:
        return Path(shard.input)
    return Path(planned[i - 1].step.out_dir) / f"{shard.id}.arrow"
