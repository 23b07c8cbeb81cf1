"""Readers for jsonl (plain, .gz, .zst), parquet, folders of .txt files and ``datasets`` folders.

Each reader streams: memory is bounded by one line / one row batch, never by file size.
Bad content becomes a :class:`SourceRecord` with ``error`` set (quarantined by the caller);
damage to a file (a cut .gz, a corrupt parquet row group) is one such record, after every
record that could be read. ``OSError`` from the file itself (permissions, I/O) is not content:
it propagates, and the caller fails the file without caching it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from pipeline.io.base import READERS, InputOptions, SourceRecord, register_reader
from pipeline.io.decode import BOM, StreamDamage, compression_of, decode_error, decoded_chunks
from pipeline.io.files import walk_files
from pipeline.io.location import is_url, open_binary

CHUNK = 1 << 20
RAW_PREVIEW = 1000  # decoded bytes of a torn line kept as its quarantine ``raw``


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
    """One JSON object per line (plain, .gz or .zst); blank lines are not records.

    A damaged compressed stream yields every complete line before the damage, then one
    error record for the line it cuts (its decoded bytes as text). I/O errors propagate."""
    loads, enc, max_bytes = orjson.loads, opts.encoding, opts.max_bytes
    fast = enc == "utf-8"  # the common case, inlined below; everything else in _parse_line
    line_no, decoded, tail = 0, 0, b""
    with open_binary(str(path)) as raw:
        try:
            for chunk in decoded_chunks(raw, compression_of(str(path)), sink):
                decoded += len(chunk)
                parts = chunk.split(b"\n")
                parts[0] = tail + parts[0]
                tail = parts.pop()
                first, line_no = line_no + 1, line_no + len(parts)
                for at, line in enumerate(parts, first):
                    if fast and at > 1 and len(line) <= max_bytes:
                        if not line or line.isspace():  # blank line (no copy, unlike strip())
                            continue
                        try:
                            obj = loads(line)
                        except orjson.JSONDecodeError:
                            pass  # the error record comes from _parse_line
                        else:
                            yield record_from_object(obj, at, opts, len(line))
                            continue
                    rec = _parse_line(line, at, opts, loads, enc)
                    if rec is not None:
                        yield rec
        except StreamDamage as exc:
            yield SourceRecord(
                line_no + 1,
                text=tail[:RAW_PREVIEW].decode(enc, "replace") if tail else None,
                error=f"{exc}; line {line_no + 1} (from byte {decoded - len(tail)}) of the "
                "decompressed "
                f"data is cut off after {len(tail)} bytes: it and everything after are lost",
                raw_bytes=len(tail),
            )
            while rest := raw.read(CHUNK):  # the manifest hashes the whole file
                sink(rest)
            return
    if tail:
        rec = _parse_line(tail, line_no + 1, opts, loads, enc)
        if rec is not None:
            yield rec


def _parse_line(
    raw: bytes, line_no: int, opts: InputOptions, loads: Callable[[Any], Any], enc: str
) -> SourceRecord | None:
    """One line → a record or an error record; None for a blank line."""
    if len(raw) > opts.max_bytes:
        return SourceRecord(
            line_no,
            error=f"record of {len(raw)} bytes exceeds max_record_bytes={opts.max_bytes}",
            raw_bytes=len(raw),
        )
    if line_no == 1 and raw.startswith(BOM) and enc == "utf-8":
        raw = raw[len(BOM) :]
    if not raw or raw.isspace():  # blank line (no copy, unlike strip())
        return None
    source: bytes | str = raw
    if enc != "utf-8":
        try:
            source = raw.decode(enc).lstrip("\ufeff") if line_no == 1 else raw.decode(enc)
        except UnicodeDecodeError as exc:
            return SourceRecord(line_no, error=decode_error(raw, exc, enc), raw_bytes=len(raw))
    try:
        obj = loads(source)
    except orjson.JSONDecodeError as exc:
        return SourceRecord(line_no, error=_json_error(raw, exc, enc), raw_bytes=len(raw))
    return record_from_object(obj, line_no, opts, len(raw))


def _json_error(raw: bytes, exc: Exception, enc: str) -> str:
    if enc == "utf-8":
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as ude:
            return decode_error(raw, ude, enc)
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
    """Rows of a parquet file, row group by row group.

    A file that is not parquet (or whose footer is damaged) is one error record; a row group
    that cannot be decoded is one error record naming its rows, and the next group is read."""
    import pyarrow.parquet as pq

    hash_files([path], sink)  # reads every byte: an unreadable file fails here (OSError)
    source = open_binary(str(path)) if is_url(str(path)) else str(path)
    try:
        pf = pq.ParquetFile(source)
    except Exception as exc:  # noqa: BLE001 - any pyarrow failure here is a damaged file
        yield SourceRecord(1, error=f"not a readable parquet file: {_arrow_error(exc)}")
        return
    first = 1  # 1-based row number of the group's first row
    for g in range(pf.metadata.num_row_groups):
        rows = pf.metadata.row_group(g).num_rows
        line = first - 1
        try:
            for batch in pf.iter_batches(batch_size=4096, row_groups=[g]):
                for obj in batch.to_pylist():
                    line += 1
                    yield record_from_object(obj, line, opts, 0)
        except Exception as exc:  # noqa: BLE001 - a damaged row group, not a crash
            yield SourceRecord(
                line + 1,
                error=f"corrupt parquet row group {g} (rows {first}-{first + rows - 1}): "
                f"{_arrow_error(exc)}; rows {line + 1}-{first + rows - 1} are lost",
            )
        first += rows


def _arrow_error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")


@register_reader("txt")
def read_txt(
    path: Path, opts: InputOptions, sink: Callable[[bytes], None]
) -> Iterator[SourceRecord]:
    """Each .txt file is one document; its id is the path relative to the folder.

    Folders are walked with :func:`pipeline.io.files.walk_files` (symlinks followed, each
    real file once, loops skipped with one warning)."""
    if path.is_dir():
        listing = walk_files(path, ".txt")
        listing.warn()
        files = listing.files
    else:
        files = [(path.name, path)]
    codec = "utf-8-sig" if opts.encoding == "utf-8" else opts.encoding
    for i, (rel, file) in enumerate(files, 1):
        data = file.read_bytes()
        sink(data)
        if len(data) > opts.max_bytes:
            yield SourceRecord(
                i,
                id=rel,
                error=f"file {rel} of {len(data)} bytes exceeds max_record_bytes={opts.max_bytes}",
                raw_bytes=len(data),
            )
            continue
        try:
            text = data.decode(codec).lstrip("\ufeff")
        except UnicodeDecodeError as exc:
            yield SourceRecord(
                i,
                id=rel,
                error=f"{rel}: {decode_error(data, exc, opts.encoding)}",
                raw_bytes=len(data),
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
