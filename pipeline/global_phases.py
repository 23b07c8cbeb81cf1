"""Worker functions for the scan / reduce / finalize phases of a :class:`GlobalStage`.

Scan output is split by the ``_part`` column into one file per partition, so a reduce task
reads only its partition (bounded memory) and any executor can run the partitions in parallel.
Layout under ``<work>/global/<fingerprint>/``: ``scan/<shard>.p<part>.arrow`` +
``scan/<shard>.done.json``; ``reduce/p<part>.arrow``; ``state.arrow``. Each marker lists the
size and xxh3-128 of the files its phase wrote (see ``pipeline.intermediates``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.gc_pause import without_gc
from pipeline.intermediates import files_field
from pipeline.io.arrow_files import read_ipc, write_ipc, write_json
from pipeline.shard_tables import load_output, table_to_docs
from pipeline.stage import GlobalStage
from pipeline.worker import StageStep, get_stage


@dataclass(frozen=True)
class ScanTask:
    step: StageStep
    shard_index: int
    input_path: str
    input_hash: str = ""  # xxh3-128 of the file at input_path (from its marker)


@dataclass(frozen=True)
class ReduceTask:
    step: StageStep
    part: int
    shards: int


def scan_dir(step: StageStep) -> Path:
    return Path(step.out_dir) / "scan"


@without_gc
def run_scan(task: ScanTask) -> dict[str, Any]:
    started = time.perf_counter()
    stage = get_stage(task.step)
    assert isinstance(stage, GlobalStage)
    docs, _ = table_to_docs(load_output(Path(task.input_path)))
    table = stage.scan(docs, task.shard_index)
    out = scan_dir(task.step)
    for old in out.glob(f"{task.shard_index:06d}.p*.arrow"):  # an earlier, discarded scan's
        old.unlink()
    names = []
    if table.num_rows:
        table = table.sort_by("_part") if table.num_rows > 1 else table
        parts = table["_part"].to_numpy()
        bounds = [0, *[i for i in range(1, len(parts)) if parts[i] != parts[i - 1]], len(parts)]
        for lo, hi in zip(bounds, bounds[1:]):
            names.append(f"{task.shard_index:06d}.p{int(parts[lo]):04d}.arrow")
            write_ipc(out / names[-1], table.slice(lo, hi - lo))
    result = {
        "shard": task.shard_index,
        "rows": table.num_rows,
        "docs": len(docs),
        "seconds": time.perf_counter() - started,
        "files": files_field(out, names),
        "input": task.input_hash,
    }
    write_json(out / f"{task.shard_index:06d}.done.json", result)
    return result


def run_reduce(task: ReduceTask) -> dict[str, Any]:
    started = time.perf_counter()
    stage = get_stage(task.step)
    assert isinstance(stage, GlobalStage)
    files = sorted(scan_dir(task.step).glob(f"*.p{task.part:04d}.arrow"))
    tables = [read_ipc(f) for f in files]
    rows = pa.concat_tables(tables) if tables else _empty_like(task.step, stage)
    result_table = stage.reduce(rows)
    out = Path(task.step.out_dir) / "reduce"
    write_ipc(out / f"p{task.part:04d}.arrow", result_table)
    result = {
        "part": task.part,
        "rows": rows.num_rows,
        "seconds": time.perf_counter() - started,
        "files": files_field(out, [f"p{task.part:04d}.arrow"]),
    }
    write_json(out / f"p{task.part:04d}.done.json", result)
    return result


def _empty_like(step: StageStep, stage: GlobalStage) -> pa.Table:
    """An empty table with the scan schema (from any partition file, else an empty scan)."""
    for f in sorted(scan_dir(step).glob("*.p*.arrow")):
        return read_ipc(f).slice(0, 0)
    return stage.scan([], 0)


def run_finalize(step: StageStep, partitions: int) -> dict[str, Any]:
    started = time.perf_counter()
    stage = get_stage(step)
    assert isinstance(stage, GlobalStage)
    red = Path(step.out_dir) / "reduce"
    parts = [read_ipc(red / f"p{p:04d}.arrow") for p in range(partitions)]
    state = stage.finalize(parts)
    write_ipc(Path(step.out_dir) / "state.arrow", state)
    result = {
        "rows": state.num_rows,
        "seconds": time.perf_counter() - started,
        "files": files_field(Path(step.out_dir), ["state.arrow"]),
    }
    write_json(Path(step.out_dir) / "finalize.done.json", result)
    return result
