"""Readers for jsonl (plain, .gz, .zst), parquet, folders of .txt files and ``datasets`` folders.

Each reader streams: memory is bounded by one line / one row batch, never by file size.
Bad content becomes a :class:`SourceRecord` with ``error`` set (quarantined by the caller).
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from pipeline.io.base import READERS, InputOptions, SourceRecord, register_reader
from pipeline.io.location import is_url, open_binary

CHUNK = 1 << 20


class _Tap(io.RawIOBase):
    """A raw file whose every read chunk also goes to ``sink`` (for streaming sha256)."""

    def __init__(self, raw: io.BufferedReader, sink: Callable[[bytes], None]) -> None:
        self._raw, self._sink = raw, sink

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        n = self._raw.readinto(buf)
        if n:
            self._sink(bytes(memoryview(buf)[:n]))
        return n or 0


def detect_format(path: str | Path) -> str:
    """Reader name for a path or URL, from its suffixes (or folder contents)."""
    if not is_url(str(path)) and Path(path).is_dir():
        path = Path(path)
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
            return "hf"
        return "txt"
    name = str(path).rsplit("/", 1)[-1].lower()
    for suffixes, fmt in (
        (".warc.wet.gz", "wet"),
        (".wet.gz", "wet"),
        (".wet", "wet"),
        (".warc.gz", "warc"),
        (".warc", "warc"),
        (".parquet", "parquet"),
        (".txt", "txt"),
    ):
        if name.endswith(suffixes):
            return fmt
    return "jsonl"


def _open_lines(path: str | Path, sink: Callable[[bytes], None]) -> io.BufferedReader:
    tap = io.BufferedReader(_Tap(open_binary(str(path)), sink), CHUNK)  # type: ignore[arg-type]
    name = str(path).lower()
    if name.endswith(".gz"):
        return io.BufferedReader(gzip.GzipFile(fileobj=tap), CHUNK)  # type: ignore[arg-type]
    if name.endswith(".zst"):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(tap), CHUNK)
    return tap


def record_from_object(obj: Any, line: int, opts: InputOptions, size: int) -> SourceRecord:
    """Map one parsed object onto id/text/meta; a non-object is an error record."""
    text_field, id_field = opts.text_field, opts.id_field
    if (
        type(obj) is dict
        and len(obj) == 3
        and text_field in obj
        and id_field in obj
        and type(meta := obj.get("meta")) is dict
    ):  # the canonical layout: most records
        rid = obj[id_field]
        return SourceRecord(
            line,
            rid if type(rid) is str or rid is None else str(rid),
            obj[text_field],
            meta,
            None,
            size,
        )
    if not isinstance(obj, dict):
        return SourceRecord(
            line, error=f"expected a JSON object, got {type(obj).__name__}", raw_bytes=size
        )
    if text_field not in obj:
        return SourceRecord(line, error=f"missing text field {text_field!r}", raw_bytes=size)
    rid = obj.get(id_field) if id_field else None
    meta = {}
    for key, value in obj.items():
        if key in (text_field, id_field):
            continue
        if key == "meta" and isinstance(value, dict):
            meta.update(value)
        else:
            meta[key] = value
    return SourceRecord(
        line, id=None if rid is None else str(rid), text=obj[text_field], meta=meta, raw_bytes=size
    )


@register_reader("jsonl")
def read_jsonl(
    path: Path, opts: InputOptions, sink: Callable[[bytes], None]
) -> Iterator[SourceRecord]:
    """One JSON object per line; blank lines are not records and are skipped."""
    loads = orjson.loads
    try:
        stream = _open_lines(path, sink)
        for line_no, raw in enumerate(stream, 1):
            if len(raw) > opts.max_bytes:
                yield SourceRecord(
                    line_no,
                    error=f"record of {len(raw)} bytes exceeds max_record_bytes={opts.max_bytes}",
                    raw_bytes=len(raw),
                )
                continue
            if not raw or raw.isspace():  # blank line (no copy, unlike strip())
                continue
            try:
                obj = loads(raw)
            except orjson.JSONDecodeError as exc:
                yield SourceRecord(line_no, error=_json_error(raw, exc), raw_bytes=len(raw))
                continue
            yield record_from_object(obj, line_no, opts, len(raw))
    except (OSError, EOFError) as exc:  # truncated .gz/.zst, unreadable file
        yield SourceRecord(-1, error=f"cannot read past this point: {exc}")


def _json_error(raw: bytes, exc: Exception) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as ude:
        return f"invalid UTF-8 at byte {ude.start}"
    return f"malformed JSON: {exc}"


def hash_files(paths: list[Path] | list[str], sink: Callable[[bytes], None]) -> None:
    for p in paths:
        with open_binary(str(p)) as fh:
            while chunk := fh.read(CHUNK):
                sink(chunk)


@register_reader("parquet")
def read_parquet(
    path: Path, opts: InputOptions, sink: Callable[[bytes], None]
) -> Iterator[SourceRecord]:
    import pyarrow.parquet as pq

    hash_files([path], sink)
    line = 0
    source = open_binary(str(path)) if is_url(str(path)) else path
    for batch in pq.ParquetFile(source).iter_batches(batch_size=4096):
        for obj in batch.to_pylist():
            line += 1
            yield record_from_object(obj, line, opts, 0)


@register_reader("txt")
def read_txt(
    path: Path, opts: InputOptions, sink: Callable[[bytes], None]
) -> Iterator[SourceRecord]:
    """Each .txt file is one document; its id is the path relative to the folder."""
    files = sorted(path.rglob("*.txt")) if path.is_dir() else [path]
    for i, file in enumerate(files, 1):
        data = file.read_bytes()
        sink(data)
        rel = str(file.relative_to(path)) if path.is_dir() else file.name
        if len(data) > opts.max_bytes:
            yield SourceRecord(
                i,
                id=rel,
                error=f"file {rel} of {len(data)} bytes exceeds max_record_bytes={opts.max_bytes}",
                raw_bytes=len(data),
            )
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield SourceRecord(
                i, id=rel, error=f"{rel}: invalid UTF-8 at byte {exc.start}", raw_bytes=len(data)
            )
            continue
        yield SourceRecord(i, id=rel, text=text, meta={"file": rel}, raw_bytes=len(data))


@register_reader("hf")
def read_hf(
    path: Path, opts: InputOptions, sink: Callable[[bytes], None]
) -> Iterator[SourceRecord]:
    """A folder written by ``Dataset.save_to_disk`` (a DatasetDict: splits in sorted order)."""
    import datasets

    hash_files(sorted(p for p in path.rglob("*") if p.is_file()), sink)
    loaded = datasets.load_from_disk(str(path))
    splits = (
        [(name, loaded[name]) for name in sorted(loaded)]
        if isinstance(loaded, datasets.DatasetDict)
        else [(None, loaded)]
    )
    line = 0
    for split, ds in splits:
        for batch in ds.data.table.to_batches(max_chunksize=4096):
            for obj in batch.to_pylist():
                line += 1
                rec = record_from_object(obj, line, opts, 0)
                if split is not None:
                    rec.meta["split"] = split
                yield rec


def get_reader(fmt: str):
    if fmt in ("warc", "wet"):
        import pipeline.io.web  # noqa: F401  (registers the web readers)
    try:
        return READERS[fmt]
    except KeyError:
        raise ValueError(
            f"no reader for format {fmt!r}; known: {', '.join(sorted(READERS))}"
        ) from None
