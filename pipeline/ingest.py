"""Ingest: one input file → fixed-size Arrow shards plus a quarantine table.

Every raw item of the file is either a shard row or a quarantine row, so accounting starts
here. Shards are named ``<file fingerprint>-<k>``; the fingerprint changes when the file's
path, bytes (a content hash, :func:`pipeline.io.files.content_identity`; size + ETag for
URLs) or the reader options change, so a refresh re-reads only changed files.

A file that cannot be read (``OSError``: permissions, a folder where a file should be, I/O
errors; or any reader crash) gets no completion marker, so the next run tries it again;
:func:`read_problems` turns it, a file that lost every record, and read errors above
``executor.max_error_fraction`` into the one-line reason the run stops before publishing.
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
from pipeline.io.files import check_regular, content_identity
from pipeline.io.location import is_url
from pipeline.io.readers import detect_format, get_reader
from pipeline.ledger import IngestMarker
from pipeline.summary import length_hist

INGEST_VERSION = "2"  # 2: identity is a content hash (was size + mtime); encoding option
RAW_PREVIEW = 1000  # characters of a bad record kept in quarantine


@dataclass(frozen=True)
class IngestTask:
    path: str
    fmt: str
    options: InputOptions
    shard_size: int
    out_dir: str
    #: content identity of the input, taken once when the task is made (see make_tasks)
    identity: tuple[Any, ...] = ()

    @property
    def fingerprint(self) -> str:
        key = [
            INGEST_VERSION,
            *self.identity,
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
        encoding=input_cfg.get("encoding", "utf-8"),
    )
    tasks = []
    for p in paths:
        fmt = input_cfg["format"] if input_cfg["format"] != "auto" else detect_format(p)
        ident = tuple(content_identity(p))
        tasks.append(IngestTask(p, fmt, opts, input_cfg["shard_size"], str(work / "ingest"), ident))
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
    not_documents, first_error = 0, None
    try:
        if not is_url(task.path):
            check_regular(task.path)
        for rec in reader(task.path if is_url(task.path) else Path(task.path), task.options, sink):
            records += 1
            error = _validate(rec, max_bytes)
            if error:
                if rec.not_document:
                    not_documents += 1
                elif first_error is None:
                    first_error = f"line {rec.line}: {error}"
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
    except Exception as exc:  # noqa: BLE001 - I/O failure or reader crash: retried next run
        return {"path": task.path, "io_error": _io_error(exc), "dir": str(out)}
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
        "read_errors": quarantined - not_documents,
        "first_error": first_error,
        "shards": shards,
        # size and xxh3-128 of every file written, verified before the shards are reused
        "files": files_field(out, [f"{s['id']}.arrow" for s in shards] + ["quarantine.arrow"]),
    }
    write_json(out / "done.json", marker)
    return marker


def _io_error(exc: Exception) -> str:
    """One line for a failed read: the OS message, or the exception type and text."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f" ({exc.filename})" if exc.filename else "")
    return f"{type(exc).__name__}: {exc}"


def read_problems(markers: list[IngestMarker], max_error_fraction: float) -> str | None:
    """Why the run must stop after reading, or None.

    In this order: files that could not be read at all (I/O); files whose every record failed
    to read (a whole input lost: e.g. GBK read as UTF-8); read errors over
    ``max_error_fraction`` of all records read (WARC non-documents, ``not_document``, are
    quarantined but not counted)."""
    tail = (
        "; nothing was published (fix the input or remove it from input.paths: files "
        "already read are not read again)"
    )
    failed = [m for m in markers if m.io_error is not None]
    if failed:
        listed = "; ".join(f"{m.path}: {m.io_error}" for m in failed[:3])
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        return f"cannot read {listed}{more}{tail}"
    lost = [m for m in markers if m.read_errors and m.records == m.quarantined]
    if lost:
        listed = "; ".join(
            f"{m.path}: all {m.records} records failed to read (first: {m.first_error})"
            for m in lost[:3]
        )
        more = f" (and {len(lost) - 3} more files)" if len(lost) > 3 else ""
        return f"input lost: {listed}{more}{tail}"
    errors, total = sum(m.read_errors for m in markers), sum(m.records for m in markers)
    if errors > max_error_fraction * max(total, 1):
        worst = max(markers, key=lambda m: m.read_errors)
        return (
            f"read quarantined {errors} of {total} records, more than "
            f"executor.max_error_fraction={max_error_fraction} (most in {worst.path}: "
            f"{worst.read_errors}, first {worst.first_error}); the rows are in "
            f"{worst.dir}/quarantine.arrow{tail}"
        )
    return None
