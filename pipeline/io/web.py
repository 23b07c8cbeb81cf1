"""WARC and WET readers (raw web crawls), via fastwarc.

Formats ``warc`` and ``wet`` share one reader; plain or compressed files (``.warc.gz``,
``.wet.gz``: gzip per record, also zstd/lz4) are detected by fastwarc from the bytes.

What becomes a record: ``response`` and ``resource`` records (a fetched page: HTML goes through
:func:`pipeline.io.html.extract_main_text`, ``text/plain`` is kept as decoded) and
``conversion`` records (WET: text already extracted, UTF-8). ``warcinfo``, ``request``,
``metadata``, ``revisit`` and ``continuation`` records are *not input records*: they describe
a crawl or a fetch, not a document, and are skipped without being counted.

``SourceRecord.line`` is the 1-based position of the record among *all* WARC records of the
file (a ``warcinfo`` header record is record 1), so a quarantined record can be found again.
``id`` is the WARC-Record-ID without its angle brackets. ``raw_bytes`` is the size of the
record's content block (HTTP header + payload) as stored. ``meta``: url, date (WARC-Date as
written), record_type, http_status, content_type, encoding (Python codec used),
encoding_source (bom | http | meta | detected | fallback | wet) and languages (WET's
WARC-Identified-Content-Language, else null).

Never raises on content: a non-HTML/-text payload, a non-200 response, a truncated record,
undecodable bytes or a page without main text yields a record with ``error`` set (HTTP
status, content type and no-main-text ones with ``not_document``: no read error); a file whose
WARC framing breaks off yields one error record at the next record number and stops there, and
so does an uncompressed file that ends inside a record's header (a torn last record).
``OSError`` from the file itself (not from its data) propagates.
Every byte of the file passes through ``byte_sink`` (the rest is drained after an error).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

from pipeline.io.base import InputOptions, SourceRecord, register_reader
from pipeline.io.html import decode_html, extract_main_text

DOC_TYPES = WarcRecordType.response | WarcRecordType.resource | WarcRecordType.conversion
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain"})
#: Share of decoded characters that may be U+FFFD (bytes no codec accepted) or C0/C1 control
#: characters before a payload is called undecodable (binary served as text/html lands at 10-15%).
MAX_BAD_CHARS = 0.05
_BAD_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd]")
_CHUNK = 1 << 16
#: first bytes of gzip, zstd and lz4 frames (fastwarc decompresses these itself)
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"\x28\xb5", b"\x04\x22")
_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([^\"';\s]+)", re.I)


class _Tap:
    """Read-only file wrapper handing every chunk read to ``sink`` (fastwarc reads through it)."""

    def __init__(self, f: BinaryIO, sink: Callable[[bytes], None]) -> None:
        self.f, self.sink, self.pos = f, sink, 0
        self.io_error: OSError | None = None  # set when the file itself failed, not its data

    def read(self, n: int = -1) -> bytes:
        try:
            data = self.f.read(n)
        except OSError as exc:
            self.io_error = exc
            raise
        if data:
            self.sink(data)
            self.pos += len(data)
        return data

    def tell(self) -> int:
        return self.pos

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass


def _content_type(value: str | None) -> tuple[str, str | None]:
    """('text/html', 'gbk') from 'text/html; charset=GBK'."""
    if not value:
        return "", None
    match = _CHARSET_RE.search(value)
    return value.split(";")[0].strip().lower(), match.group(1) if match else None


def _sniff_html(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def _document(rec: WarcRecord, line: int, opts: InputOptions) -> SourceRecord:
    """One response / resource / conversion record -> SourceRecord (error set on failure)."""
    rid = rec.record_id
    meta: dict[str, Any] = {
        "url": rec.headers.get("WARC-Target-URI"),
        "date": rec.headers.get("WARC-Date"),
        "record_type": str(rec.record_type),
        "http_status": None,
        "content_type": None,
        "encoding": None,
        "encoding_source": None,
        "languages": rec.headers.get("WARC-Identified-Content-Language"),
    }
    out = SourceRecord(line=line, id=rid.strip("<>") if rid else None, meta=meta)
    declared = rec.content_length
    if declared > opts.max_bytes:
        rec.reader.consume()
        out.raw_bytes, out.error = declared, f"record of {declared} bytes exceeds max_bytes"
        return out
    block = rec.reader.read()
    out.raw_bytes = len(block)
    if len(block) < declared:
        out.error = f"truncated record: {len(block)} of {declared} content bytes"
        return out
    if rec.record_type == WarcRecordType.conversion:
        body, ctype = block, rec.headers.get("Content-Type")
    else:
        rec.set_bytes_content(block)
        http = rec.record_type == WarcRecordType.response
        try:
            if http:
                rec.parse_http(auto_decode="all", quirks_mode=True)
            body = rec.reader.read()
        except OSError as exc:
            out.error = f"bad HTTP payload: {exc}"
            return out
        if http and rec.http_headers is None:
            out.error = "response record without an HTTP header"
            return out
        meta["http_status"] = rec.http_headers.status_code if http else None
        ctype = rec.http_headers.get("Content-Type") if http else rec.headers.get("Content-Type")
    mime, charset = _content_type(ctype)
    meta["content_type"] = mime or None
    return _text(out, body, mime, charset)


def _text(out: SourceRecord, body: bytes, mime: str, charset: str | None) -> SourceRecord:
    """Decode the payload and extract its text into ``out``."""
    meta = out.meta
    if meta["http_status"] not in (None, 200):
        out.error = f"HTTP status {meta['http_status']}, not a document"
        out.not_document = True
        return out
    wet = meta["record_type"] == "conversion"
    html = not wet and (mime in HTML_TYPES or (not mime and _sniff_html(body)))
    if not (wet or html or mime in TEXT_TYPES):
        out.error = f"not HTML or text: content type {mime or 'unknown'}"
        out.not_document = True
        return out
    if wet:
        text = body.decode("utf-8", errors="replace")
        meta["encoding"], meta["encoding_source"] = "utf-8", "wet"
    else:
        decoded = decode_html(body, charset)
        text = decoded.text
        meta["encoding"], meta["encoding_source"] = decoded.encoding, decoded.source
    bad = len(_BAD_RE.findall(text))
    if bad > MAX_BAD_CHARS * max(len(text), 1):
        out.error = (
            f"undecodable: {bad} of {len(text)} characters invalid or control "
            f"characters as {meta['encoding']}"
        )
        return out
    try:
        out.text = extract_main_text(text) if html else text.strip()
    except Exception as exc:  # noqa: BLE001 - parser failures on odd HTML are per-record problems
        out.error = f"HTML extraction failed: {type(exc).__name__}: {exc}"
        return out
    if not out.text:
        out.text, out.error = None, "no main text found in HTML" if html else "empty text payload"
        out.not_document = True
    return out


@register_reader("warc", "wet")
def read_warc(
    path: Path, opts: InputOptions, byte_sink: Callable[[bytes], None]
) -> Iterator[SourceRecord]:
    """Documents of a WARC or WET file (plain or compressed); see the module docstring."""
    with open(path, "rb") as f:
        tap = _Tap(f, byte_sink)
        line, last = 0, None  # last: (stream offset, declared content length) of the last record
        pending: SourceRecord | None = None  # held back one record: it may be the torn one
        try:
            for rec in ArchiveIterator(
                tap, record_types=WarcRecordType.any_type, parse_http=False, quirks_mode=True
            ):
                line += 1
                last = (rec.stream_pos, rec.content_length)
                doc = _document(rec, line, opts) if rec.record_type & DOC_TYPES else None
                if pending is not None:
                    yield pending
                pending = doc
        except OSError as exc:
            if tap.io_error is not None:
                raise tap.io_error from None
            if pending is not None:
                yield pending
            yield SourceRecord(
                line=line + 1, error=f"unreadable WARC data after record {line}: {exc}"
            )
            tap.drain()
            return
        tap.drain()
    torn = _torn_tail(path, last, tap.pos)
    if torn is not None and torn[1]:  # the last record fastwarc gave is the torn one
        pending = SourceRecord(line=line, error=torn[0])
    if pending is not None:
        yield pending
    if torn is not None and not torn[1]:
        yield SourceRecord(line=line + 1, error=torn[0])


def _torn_tail(path: Path, last: tuple[int, int] | None, size: int) -> tuple[str, bool] | None:
    """(why, whether it is the last record read) when an uncompressed WARC ends inside a
    record, else None. fastwarc hands a record whose header the file cuts off on as a record
    of unknown type or without Content-Length (so it vanished or looked like a bad page).

    Compressed files report damage from the decoder instead. Reads the last record's header
    (up to :data:`_CHUNK` bytes) and at most :data:`_CHUNK` bytes after its end."""
    with open(path, "rb") as f:
        if f.read(4)[:2] in _COMPRESSED_MAGIC:
            return None
        start = 0
        if last is not None:
            f.seek(last[0])
            head = f.read(_CHUNK)
            cut = head.find(b"\r\n\r\n")
            if cut < 0:
                if last[0] + len(head) < size:
                    return None  # a header longer than we look at: leave it to fastwarc
                return _torn(last[0], size, "inside its header"), True
            start = last[0] + cut + 4 + last[1]
        if start >= size:
            return None
        f.seek(start)
        rest = f.read(_CHUNK)
    skip = len(rest) - len(rest.lstrip())
    if skip == len(rest):
        return None
    return _torn(start + skip, size, "before its header is complete"), False


def _torn(at: int, size: int, where: str) -> str:
    return f"torn WARC record at byte {at}: the file ends {size - at} bytes later, {where}"
