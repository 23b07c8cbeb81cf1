"""Atomic writes of intermediate Arrow IPC files, markers and published parquet files.

Each write goes to ``.<name>.tmp<PID>`` next to the target and is renamed over it when
complete; a temp file left by a killed write is removed by the next run
(``pipeline.intermediates.clean_stale_tmp``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

#: Columns every intermediate shard carries. ``_line`` is the 1-based line in the source.
SHARD_SCHEMA = pa.schema(
    [("id", pa.string()), ("text", pa.string()), ("meta", pa.string()), ("_line", pa.int64())]
)
QUARANTINE_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("line", pa.int64()),
        ("stage", pa.string()),
        ("error", pa.string()),
        ("raw", pa.string()),
    ]
)


class IntermediateError(RuntimeError):
    """An intermediate file that cannot be read (the message names it)."""


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def write_ipc(path: Path, table: pa.Table) -> None:
    """Write an Arrow IPC file atomically (temp file + rename; the temp file is removed if
    the write raises)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_ipc(path: Path) -> pa.Table:
    """Read an Arrow IPC file; a missing or damaged one raises :class:`IntermediateError`
    naming it (runs verify files before reading them, so this means a file changed while
    running, or one outside the completion markers' checks)."""
    try:
        with pa.memory_map(str(path), "r") as source:
            return pa.ipc.open_file(source).read_all()
    except (OSError, pa.ArrowInvalid) as exc:
        raise IntermediateError(f"{path}: unreadable Arrow file ({exc})") from exc


def write_parquet(path: Path, table: pa.Table, level: int = 3) -> None:
    """Write a zstd parquet file atomically; byte-identical for identical tables."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    pq.write_table(
        table,
        tmp,
        compression="zstd",
        compression_level=level,
        row_group_size=50_000,
        write_statistics=True,
    )
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (used for completion markers: they appear whole or not at all)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True), "utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))
