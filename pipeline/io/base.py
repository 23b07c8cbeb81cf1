"""Reader contract: a reader turns one input file (or folder) into :class:`SourceRecord` s.

Readers never raise on bad content: a line that cannot be parsed becomes a SourceRecord with
``error`` set, which the executor quarantines with the file and line. Readers register
themselves in :data:`READERS` by format name (see ``pipeline/io/readers.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class InputOptions:
    """How records map onto ``id``/``text``/``meta`` (from the config's ``input`` section)."""

    text_field: str = "text"
    id_field: str | None = "id"
    max_bytes: int = 8_000_000
    #: text encoding of jsonl/txt inputs (``input.encoding``; see pipeline.io.decode.ENCODINGS)
    encoding: str = "utf-8"


@dataclass(slots=True)
class SourceRecord:
    """One raw item of an input file.

    ``line``: 1-based line (or record) number in the file. ``text`` is whatever the source
    held (validated later: non-str or empty text is quarantined). ``raw_bytes`` is the size
    of the raw item, for the size limit. ``error`` marks an item that could not be parsed.
    ``not_document``: an item with ``error`` that was read fine but is no document (a WARC
    404 or image): quarantined, but not a read error for ``executor.max_error_fraction``.
    """

    line: int
    id: str | None = None
    text: Any = None
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    raw_bytes: int = 0
    not_document: bool = False


#: (path, options, byte_sink) -> records. ``byte_sink`` receives every raw byte chunk read, so
#: the caller can hash the input while streaming it (manifest sha256 without a second pass).
ReaderFn = Callable[[Path, InputOptions, Callable[[bytes], None]], Iterator[SourceRecord]]

READERS: dict[str, ReaderFn] = {}


def register_reader(*formats: str) -> Callable[[ReaderFn], ReaderFn]:
    def wrap(fn: ReaderFn) -> ReaderFn:
        for fmt in formats:
            READERS[fmt] = fn
        return fn

    return wrap
