"""Ingest: one input file → fixed-size Arrow shards plus a quarantine table.

Every raw item of the file is either a shard row or a quarantine row, so accounting starts
here. Shards are named ``<file fingerprint>-<k>``; the fingerprint changes when the file's
path, size, mtime or the reader options change, so a refresh re-reads only changed files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from pipeline.gc_pause import without_gc
from pipeline.intermediates import files_field
from pipeline.io.arrow_files import QUARANTINE_SCHEMA, SHARD_SCHEMA, write_ipc, write_json
from pipeline.io.base import InputOptions, SourceRecord
from pipeline.io.location import identity, is_url
from pipeline.io.readers import detect_format, get_reader
from pipeline.summary import length_hist

INGEST_VERSION = "1"
RAW_PREVIEW = 1000  # characters of a bad record kept in quarantine


@dataclass(frozen=True)
class IngestTask:
    path: str
    fmt: str
    options: InputOptions
    shard_size: int
    out_dir: str

    @property
    def fingerprint(self) -> str:
        key = [
            INGEST_VERSION,
            *identity(self.path),
            self.fmt,
            asdict(self.options),
            self.shard_size,
        ]
        return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


def make_tasks(paths: list[str], input_cfg: dict[str, Any], work: Path) -> list[IngestTask]:
    opts = InputOptions(
        text_field=input_cfg["text_field"],
        id_field=input_cfg["id_field"],
        max_bytes=input_cfg["max_record_bytes"],
    )
    tasks = []
    for p in paths:
        fmt = input_cfg["format"] if input_cfg["format"] != "auto" else detect_format(p)
        tasks.append(IngestTask(p, fmt, opts, input_cfg["shard_size"], str(work / "ingest")))
    return tasks


def _validate(rec: SourceRecord, max_bytes: int) -> str | None:
    if rec.error:
        return rec.error
    if not isinstance(rec.text, str):
        return f"text is {type(rec.text).__name__}, not a string"
    if not rec.text or rec.text.isspace():
        return "empty text"
    if rec.raw_bytes == 0:  # parquet/hf/web: size and encoding not checked by the reader
        try:
            size = len(rec.text.encode("utf-8"))
        except UnicodeEncodeError:
            return "text contains lone surrogates (invalid Unicode)"
        if size > max_bytes:
            return f"text of {size} bytes exceeds max_record_bytes={max_bytes}"
    return None


@without_gc
def run_ingest(task: IngestTask) -> dict[str, Any]:
    """Read one input file into shards; returns (and writes) its completion marker."""
    out = Path(task.out_dir) / task.fingerprint
    sha = hashlib.sha256()
    size = 0

    def sink(chunk: bytes) -> None:
        nonlocal size
        sha.update(chunk)
        size += len(chunk)

    reader = get_reader(task.fmt)
    rows: dict[str, list[Any]] = {"id": [], "text": [], "meta": [], "_line": []}
    bad: dict[str, list[Any]] = {k: [] for k in QUARANTINE_SCHEMA.names}
    shards: list[dict[str, Any]] = []
    records = 0

    def flush() -> None:
        k = len(shards)
        name = f"{task.fingerprint}-{k:05d}"
        table = pa.table(rows, schema=SHARD_SCHEMA)
        write_ipc(out / f"{name}.arrow", table)
        shards.append(
            {"id": name, "rows": len(rows["id"]), "length_hist": length_hist(rows["text"])}
        )
        for col in rows.values():
            col.clear()

    ids, texts, metas, lines = rows["id"], rows["text"], rows["meta"], rows["_line"]
    dumps, max_bytes, shard_size = orjson.dumps, task.options.max_bytes, task.shard_size
    for rec in reader(task.path if is_url(task.path) else Path(task.path), task.options, sink):
        records += 1
        error = _validate(rec, max_bytes)
        if error:
            raw = rec.text if isinstance(rec.text, str) else repr(rec.text)
            for key, value in (
                ("id", rec.id),
                ("source", task.path),
                ("line", rec.line),
                ("stage", "read"),
                ("error", error),
                ("raw", None if rec.text is None else raw[:RAW_PREVIEW]),
            ):
                bad[key].append(value)
            continue
        ids.append(rec.id if rec.id is not None else f"{task.path}:{rec.line}")
        texts.append(rec.text)
        metas.append(dumps(rec.meta, default=str).decode() if rec.meta else "{}")
        lines.append(rec.line)
        if len(ids) >= shard_size:
            flush()
    if rows["id"] or not shards:
        flush()
    quarantined = len(bad["error"])
    write_ipc(out / "quarantine.arrow", pa.table(bad, schema=QUARANTINE_SCHEMA))
    marker = {
        "path": task.path,
        "format": task.fmt,
        "bytes": size,
        "sha256": sha.hexdigest(),
        "records": records,
        "quarantined": quarantined,
        "shards": shards,
        # size and xxh3-128 of every file written, verified before the shards are reused
        "files": files_field(out, [f"{s['id']}.arrow" for s in shards] + ["quarantine.arrow"]),
    }
    write_json(out / "done.json", marker)
    return marker
