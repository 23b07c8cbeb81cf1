"""Bytes → lines → text: streaming decompression that keeps everything before damage.

A library decoder behind a buffered reader loses the lines still in its buffer when the
compressed stream breaks (``EOFError`` from the reader's refill). Here the compressed bytes are
fed chunk by chunk to ``zlib`` / ``zstandard`` decompression objects and every decoded byte
is handed on at once, so a cut or corrupt ``.gz`` / ``.zst`` file yields all complete lines
before the damage and then one :class:`StreamDamage` naming the compressed byte offset.

Text encodings (``input.encoding``): :data:`ENCODINGS`; a UTF-8 byte order mark at the start of
a file is skipped.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Generator, Iterator
from typing import IO, Any

#: Values of ``input.encoding`` (Python codec names). GBK files may hold GB18030-only characters
#: when written by newer tools; ``gb18030`` is the safe superset (and Big5-HKSCS of Big5).
ENCODINGS = ("utf-8", "gb18030", "gbk", "big5", "big5hkscs")
BOM = b"\xef\xbb\xbf"
CHUNK = 1 << 20  # compressed bytes read at a time


class StreamDamage(Exception):
    """The compressed stream cannot be decoded past ``offset`` (bytes into the file)."""

    def __init__(self, kind: str, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.offset, self.reason = kind, offset, reason


def compression_of(name: str) -> str:
    """'gz', 'zst' or 'plain' from a file name's suffix."""
    low = name.lower()
    return "gz" if low.endswith(".gz") else "zst" if low.endswith(".zst") else "plain"


def _new_decoder(kind: str) -> Any:
    if kind == "gz":
        return zlib.decompressobj(wbits=31)  # one gzip member
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()  # one zstd frame


def _errors(kind: str) -> tuple[type[Exception], ...]:
    if kind == "gz":
        return (zlib.error,)
    import zstandard

    return (zstandard.ZstdError,)


def decoded_chunks(raw: IO[bytes], kind: str, sink: Callable[[bytes], None]) -> Iterator[bytes]:
    """Decompressed bytes of ``raw`` as they come; every raw chunk also goes to ``sink``.

    Concatenated gzip members / zstd frames are read one after another (zero padding between
    gzip members is skipped, as gzip does). Raises :class:`StreamDamage` after yielding all
    that could be decoded, when the data is corrupt or the file ends inside a member: for
    gzip up to the exact corrupt byte; for zstd up to the last whole block (zstd decodes a
    block, <= 128 KiB, at once). ``OSError`` from ``raw`` (the file itself) is not caught:
    that is an I/O failure, not damage."""
    if kind == "plain":
        while chunk := raw.read(CHUNK):
            sink(chunk)
            yield chunk
        return
    dec = _Decoder(kind)
    fed = 0  # compressed bytes of the file read so far
    while chunk := raw.read(CHUNK):
        sink(chunk)
        for i in range(0, len(chunk), SLICE):
            yield from dec.feed(chunk[i : i + SLICE], fed + i)
        fed += len(chunk)
    yield from dec.finish(fed)


SLICE = 1 << 16  # compressed bytes per decoder call: what a corrupt zstd slice may cost


class _Decoder:
    """One gzip/zstd decoder over concatenated members, fed slice by slice."""

    def __init__(self, kind: str) -> None:
        self.kind, self.name, self.errors = kind, _NAMES[kind], _errors(kind)
        self.dec: Any = None  # decoder of the current member; None between members

    def feed(self, data: bytes, offset: int) -> Iterator[bytes]:
        """Decode ``data`` (which starts at byte ``offset`` of the file)."""
        while data:
            if self.dec is None:
                if self.kind == "gz":
                    stripped = data.lstrip(b"\x00")
                    offset += len(data) - len(stripped)
                    data = stripped
                    if not data:
                        return
                self.dec = _new_decoder(self.kind)
            saved = self.dec.copy() if self.kind == "gz" else None
            try:
                out = self.dec.decompress(data)
            except self.errors as exc:
                at = offset
                if saved is not None:  # redo byte by byte: keep all output before the fault
                    at = yield from _salvage(saved, data, offset)
                raise StreamDamage(
                    self.kind, at, f"corrupt {self.name} data at byte {at} ({exc})"
                ) from None
            if out:
                yield out
            if not self.dec.eof:
                return
            rest = self.dec.unused_data
            if len(rest) == len(data):  # no progress: never loop forever
                raise StreamDamage(self.kind, offset, f"corrupt {self.name} data at byte {offset}")
            offset += len(data) - len(rest)
            data, self.dec = rest, None

    def finish(self, size: int) -> Iterator[bytes]:
        """End of file (``size`` bytes): damage if it ends inside a member."""
        if self.dec is not None and not self.dec.eof:
            if self.kind == "gz" and (rest := self.dec.flush()):
                yield rest
            raise StreamDamage(
                self.kind, size, f"{self.name} stream cut off: the file ends at byte {size}"
            )


def _salvage(dec: Any, data: bytes, offset: int) -> Generator[bytes, None, int]:
    """Feed ``data`` (from byte ``offset``) one byte at a time, yielding the output, until the
    fault; returns the file offset of the faulty byte (or of the member's end)."""
    for i in range(len(data)):
        try:
            out = dec.decompress(data[i : i + 1])
        except zlib.error:
            return offset + i
        if out:
            yield out
        if dec.eof:
            return offset + i + 1
    return offset + len(data)


_NAMES = {"gz": "gzip", "zst": "zstd"}


def split_lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Lines (without ``\\n``) of a chunk stream; the last line may lack its newline."""
    tail = b""
    for chunk in chunks:
        parts = chunk.split(b"\n")
        parts[0] = tail + parts[0]
        tail = parts.pop()
        yield from parts
    if tail:
        yield tail


def decode_error(raw: bytes, exc: UnicodeDecodeError, encoding: str) -> str:
    """'invalid UTF-8 at byte 13' plus a hint when the bytes read as GB18030 or Big5."""
    msg = f"invalid {_LABELS.get(encoding, encoding)} at byte {exc.start}"
    if encoding == "utf-8":
        for other in ("gb18030", "big5hkscs"):
            try:
                raw.decode(other)
            except UnicodeDecodeError:
                continue
            return f"{msg} (not UTF-8; if the file is GBK/GB18030 or Big5, set input.encoding)"
        return msg
    return f"{msg} (input.encoding={encoding})"


_LABELS = {"utf-8": "UTF-8", "gb18030": "GB18030", "gbk": "GBK", "big5": "Big5"}
