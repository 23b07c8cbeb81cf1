"""Stage ``boilerplate``: remove Chinese web boilerplate lines (by pattern and by corpus frequency).

Two signals, both per line (a line = text between "\\n", compared stripped):

* **Patterns** (``patterns``): the curated regex list ``filters/data/boilerplate_zh.txt`` (WeChat
  follow/share/QR prompts, bylines and 来源 lines, disclaimers, copyright/ICP, prev/next and
  pagination, crumbs, login/print widgets, link- or image-only lines), searched only in lines of
  at most ``max_line_chars`` characters: boilerplate lines are short, and a body paragraph that
  mentions 点击 or 来源 must survive.
  A pattern may be tied to a page kind (``[wechat] regex`` in the file): it is searched only in
  documents where that kind's marker (``@context wechat regex``) occurs anywhere, so the dialog
  buttons of a WeChat page (取消 / 允许 / 知道了) or a forum's 楼主 / 沙发 lines go while a chat
  reply "知道了" stays. The length limit counts a Markdown link or image as its text only (an
  ``![](https://mmbiz.qpic.cn/...)`` line is ~120 characters of URL).
* **Punctuation runs** (``min_symbol_run``): ``min_symbol_run`` or more consecutive non-empty
  lines (blank lines between them allowed) made only of punctuation and symbols are removed
  (the ``：`` ``，`` ``。`` lines left of a WeChat page's widgets). Default 3: a single ``……``
  or ``***`` line is a pause or a section break in fiction and stays. Counted as pattern lines;
  off with ``patterns: false``.
* **Corpus frequency** (``min_doc_count``): a line of at least ``min_line_chars`` characters that
  occurs in at least ``min_doc_count`` distinct documents of the run is a site template line.
  Documents are counted by their text hash, so N exact copies of one page count once (copies
  are the dedup stage's job, and this stage runs before it). Only documents with 2+ non-empty
  lines take part: a one-line document repeated is a duplicate, not a page with a template.
  Default 10 (own measurement on the DEV web data, 1,653 multi-line documents): at 5, the
  opening posts that many LCCC dialogues quote are cut (15 lines, 13 dialogues then dropped as
  too_little_left); at 10 no line of the DEV data is frequent, while a template on 10+ pages
  of one site is caught. The DEV data holds no real cross-page template, so recall of this
  signal is shown by tests only. 0 turns this signal off.
  ``min_remaining_chars`` 20 / ``min_remaining_ratio`` 0.2: own choice; on the DEV data only
  one-line documents that were entirely boilerplate were dropped (6 of 72k).

A document that lost lines and keeps fewer than ``min_remaining_chars`` characters or less than
``min_remaining_ratio`` of its characters is dropped with rule ``too_little_left``; a document
this stage did not touch is never dropped (length is the heuristics stage's business).

Phases (see :class:`pipeline.stage.GlobalStage`): ``scan`` emits one row per (document, distinct
line): 64-bit xxhash of the line, xxhash of the document, shard, row, ``_part`` = line hash mod
partitions; ``reduce`` counts distinct document hashes per line hash and keeps the frequent
ones; ``finalize`` concatenates them sorted; ``apply`` removes pattern and frequent lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from filters.line_patterns import (
    LinePatterns,
    literal_trie,
    required_literals,
    split_alternatives,
)
from pipeline.record import Doc
from pipeline.stage import LOCAL, GlobalStage, Placement

PATTERN_FILE = Path(__file__).parent / "data" / "boilerplate_zh.txt"
_COMMENT = re.compile(r"\s{2,}#\s.*$")
_CONTEXT_LINE = re.compile(r"@context\s+(\w+)\s+(.+)$")
_CONTEXT_TAG = re.compile(r"\[(\w+)\]\s+(.+)$")
#: Punctuation, symbols, spaces (no letter, digit, CJK character or "_" is a non-word char).
_NON_WORD = re.compile(r"[^\w]+")
#: A Markdown link target: ``](url)`` counts as ``]()`` for the line length limit.
_LINK_TARGET = re.compile(r"\]\([^()\s]*(?:\([^()\s]*\)[^()\s]*)*\)")
_BLANK_RUNS = re.compile(r"\n{3,}")
_SCAN_SCHEMA = pa.schema(
    [
        ("line_hash", pa.uint64()),
        ("doc_hash", pa.uint64()),
        ("shard", pa.int32()),
        ("row", pa.int32()),
        ("_part", pa.int32()),
    ]
)
_STATE_SCHEMA = pa.schema([("line_hash", pa.uint64()), ("docs", pa.int64())])


@dataclass(frozen=True)
class PatternSet:
    """A pattern file: patterns for every line, and per page kind a marker and its patterns."""

    always: list[str]
    #: kind -> marker regex (searched in the whole document)
    markers: dict[str, str] = field(default_factory=dict)
    #: kind -> patterns searched only in documents where the kind's marker occurs
    contexts: dict[str, list[str]] = field(default_factory=dict)


def _checked(pattern: str, where: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{where}: bad regex {pattern!r}: {exc}") from exc
    return pattern


def load_pattern_set(path: Path = PATTERN_FILE) -> PatternSet:
    """All patterns of a pattern file (format in its header); an error names its line."""
    out = PatternSet([])
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        line, where = _COMMENT.sub("", raw), f"{path}:{number}"
        if m := _CONTEXT_LINE.match(line):
            out.markers[m.group(1)] = _checked(m.group(2), where)
        elif m := _CONTEXT_TAG.match(line):
            out.contexts.setdefault(m.group(1), []).append(_checked(m.group(2), where))
        else:
            out.always.append(_checked(line, where))
    for kind in out.contexts:
        if kind not in out.markers:
            raise ValueError(f"{path}: patterns for [{kind}] but no '@context {kind}' marker")
    return out


def load_patterns(path: Path = PATTERN_FILE) -> list[str]:
    """The patterns of a pattern file that apply to every line."""
    return load_pattern_set(path).always


@cache
def line_patterns() -> LinePatterns:
    """The every-line patterns of :data:`PATTERN_FILE`, compiled once per process."""
    return LinePatterns.compile(load_patterns())


@dataclass(frozen=True)
class PageKind:
    """A page kind's marker and patterns, compiled."""

    marker: re.Pattern[str]
    #: literals of which every marker match contains one (None: always search the marker);
    #: one search for them costs a fraction of a search with the marker's alternation.
    literals: re.Pattern[str] | None
    patterns: LinePatterns

    def present(self, text: str) -> bool:
        """Does the marker occur in the document?"""
        if self.literals is not None and self.literals.search(text) is None:
            return False
        return self.marker.search(text) is not None


def _marker_literals(marker: str) -> re.Pattern[str] | None:
    out: list[str] = []
    for alt in split_alternatives(marker):
        lits = required_literals(alt.lstrip("^"))
        if lits is None:
            return None
        out += lits
    return re.compile("|".join(map(re.escape, out)))


@cache
def page_kinds() -> tuple[PageKind, ...]:
    """The page kinds of :data:`PATTERN_FILE`, compiled once per process."""
    ps = load_pattern_set()
    return tuple(
        PageKind(
            re.compile(ps.markers[kind], re.MULTILINE),
            _marker_literals(ps.markers[kind]),
            LinePatterns.compile(patterns),
        )
        for kind, patterns in ps.contexts.items()
    )


def _page_kinds_in(text: str) -> list[LinePatterns]:
    """The patterns of the page kinds whose marker occurs in ``text``."""
    gate = _any_marker_literal()
    if gate is not None and gate.search(text) is None:
        return []
    return [k.patterns for k in page_kinds() if k.present(text)]


@cache
def _any_marker_literal() -> re.Pattern[str] | None:
    """One search for the literals of every page kind (None if a marker has none)."""
    literals: list[str] = []
    for ps in [load_pattern_set()]:
        for kind in ps.contexts:
            for alt in split_alternatives(ps.markers[kind]):
                lits = required_literals(alt.lstrip("^"))
                if lits is None:
                    return None
                literals += lits
    return re.compile(literal_trie(sorted(literals))) if literals else None


def _visible_len(key: str) -> int:
    """Length of a line with Markdown link/image targets left out."""
    return len(_LINK_TARGET.sub("]()", key)) if "](" in key else len(key)


def _symbols_only(key: str) -> bool:
    """A non-empty line of punctuation, symbols and spaces only (：, ，, ……, ▲, ***)."""
    return _NON_WORD.fullmatch(key) is not None


def _key(line: str) -> str:
    """A line as compared across documents: stripped, inner whitespace runs -> one space."""
    line = line.strip()
    return " ".join(line.split()) if "  " in line or "\t" in line else line


def _hash(text: str) -> int:
    """64-bit xxhash of the UTF-8 bytes (lone surrogates pass through instead of raising)."""
    return xxhash.xxh64_intdigest(text.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class Boilerplate(GlobalStage):
    """Remove boilerplate lines (patterns + lines frequent across the run); drop what is left
    too small. Stats: ``lines_removed_pattern``, ``lines_removed_frequent``, ``chars_removed``
    (code points, newlines included) and ``remaining_ratio`` (chars after / chars before)."""

    name: ClassVar[str] = "boilerplate"
    #: 2: page-kind (WeChat, forum) patterns, portal/forum/WeChat chrome, punctuation runs,
    #: Markdown link targets left out of the line length.
    version: ClassVar[str] = "2"

    patterns: bool = True
    max_line_chars: int = 80
    min_doc_count: int = 10
    min_line_chars: int = 10
    min_remaining_chars: int = 20
    min_remaining_ratio: float = 0.2
    #: Consecutive punctuation/symbol-only lines from which the run is removed (0: off).
    min_symbol_run: int = 3
    #: Line-hash partitions (reduce tasks); same output at any value.
    partitions: int = 16

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError("partitions must be >= 1")

    def setup(self, placement: Placement = LOCAL) -> None:
        """Compile the pattern list (once per process)."""
        if self.patterns:
            line_patterns()
            page_kinds()

    def _frequency_keys(self, text: str) -> list[str] | None:
        """Distinct line keys long enough to count, or None for a document with < 2 lines."""
        keys = [_key(ln) for ln in text.split("\n")]
        if sum(1 for k in keys if k) < 2:
            return None
        return sorted({k for k in keys if len(k) >= self.min_line_chars})

    def scan(self, docs: list[Doc], shard: int) -> pa.Table:
        cols: dict[str, list[int]] = {name: [] for name in _SCAN_SCHEMA.names}
        if self.min_doc_count > 0:
            for row, doc in enumerate(docs):
                keys = self._frequency_keys(doc.text)
                if not keys:
                    continue
                doc_hash = _hash(doc.text)
                for key in keys:
                    h = _hash(key)
                    cols["line_hash"].append(h)
                    cols["doc_hash"].append(doc_hash)
                    cols["shard"].append(shard)
                    cols["row"].append(row)
                    cols["_part"].append(h % self.partitions)
        return pa.table(cols, schema=_SCAN_SCHEMA)

    def reduce(self, rows: pa.Table) -> pa.Table:
        if rows.num_rows == 0:
            return _STATE_SCHEMA.empty_table()
        pairs = rows.group_by(["line_hash", "doc_hash"]).aggregate([])
        counts = pairs.group_by("line_hash").aggregate([("doc_hash", "count")])
        counts = counts.rename_columns(["line_hash", "docs"]).select(["line_hash", "docs"])
        frequent = counts.filter(pc.greater_equal(counts["docs"], self.min_doc_count))
        return frequent.cast(_STATE_SCHEMA).sort_by("line_hash")

    def finalize(self, parts: list[pa.Table]) -> pa.Table:
        if not parts:
            return _STATE_SCHEMA.empty_table()
        return pa.concat_tables([p.cast(_STATE_SCHEMA) for p in parts]).sort_by("line_hash")

    def prepare_state(self, state: pa.Table) -> frozenset[int]:
        return frozenset(state.column("line_hash").to_pylist())

    def apply(self, docs: list[Doc], shard: int, state: frozenset[int]) -> list[Doc]:
        regex = line_patterns() if self.patterns else None
        for doc in docs:
            self._clean(doc, regex, state)
        return docs

    def _pattern_lines(self, keys: list[str], text: str, regex: LinePatterns) -> set[int]:
        """Indexes of the lines a pattern (or a run of symbol lines) removes."""
        out = self._symbol_runs(keys)
        kinds: list[LinePatterns] | None = None if len(keys) > 1 else []
        limit = self.max_line_chars
        for i, key in enumerate(keys):
            if not key or (len(key) > limit and ("](" not in key or _visible_len(key) > limit)):
                continue
            if regex.matches(key):
                out.add(i)
                continue
            if kinds is None:  # page kinds only matter for multi-line documents
                kinds = _page_kinds_in(text)
            if kinds and any(p.matches(key) for p in kinds):
                out.add(i)
        return out

    def _symbol_runs(self, keys: list[str]) -> set[int]:
        """Indexes of lines in runs of ``min_symbol_run``+ symbol-only lines (blanks between)."""
        out: set[int] = set()
        if self.min_symbol_run < 1 or len(keys) < self.min_symbol_run:
            return out
        run: list[int] = []
        for i, key in enumerate([*keys, "x"]):
            if not key:
                continue
            if _symbols_only(key):
                run.append(i)
                continue
            if len(run) >= self.min_symbol_run:
                out.update(run)
            run = []
        return out

    def _clean(self, doc: Doc, regex: LinePatterns | None, frequent: frozenset[int]) -> None:
        text = doc.text
        lines = text.split("\n")
        keys = [_key(line) for line in lines]
        check_frequent = bool(frequent) and self._frequency_keys(text) is not None
        removed = self._pattern_lines(keys, text, regex) if regex is not None else set()
        kept, by_pattern, by_frequency = [], 0, 0
        for i, (line, key) in enumerate(zip(lines, keys)):
            if i in removed:
                by_pattern += 1
            elif check_frequent and len(key) >= self.min_line_chars and _hash(key) in frequent:
                by_frequency += 1
            else:
                kept.append(line)
        if by_pattern or by_frequency:
            doc.text = _BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip()
        ratio = len(doc.text) / len(text) if text else 1.0
        doc.stats.update(
            lines_removed_pattern=by_pattern,
            lines_removed_frequent=by_frequency,
            chars_removed=len(text) - len(doc.text),
            remaining_ratio=ratio,
        )
        if (by_pattern or by_frequency) and (
            len(doc.text) < self.min_remaining_chars or ratio < self.min_remaining_ratio
        ):
            doc.reason = "too_little_left"
