"""Stage ``lexicon``: word-list statistics over jieba tokens (stopword and flagged-word ratios).

Tokens are the words of :func:`filters.segment.segment` over the lowercased text that contain a
letter, digit or CJK character (punctuation and symbols are not words). Lists (``filters/data``):

* ``stopwords_zh.txt``: stopwords-iso ``zh`` (MIT), CJK entries only. Natural Chinese prose is
  full of function words (的 了 在 是 我们); a low share marks keyword lists, titles glued
  together, product catalogues and SEO spam.
* ``flagged_zh.txt``: porn, gambling and illicit-trade terms curated from the konsheng lexicon
  (see ``filters/data/build_flagged_zh.py``). A hit is a run of 1-3 consecutive tokens whose
  concatenation is a listed term (overlapping runs count once), so a term never matches part
  of a word: 现金网 does not match 现金网点 (tokens 现金 / 网点).

Rules (first failing one is the reason):

* ``flagged_words``: flagged hits / tokens > ``max_flagged_ratio`` and hits >= ``min_flagged_hits``.
* ``low_stopword_ratio``: stopword tokens / tokens < ``min_stopword_ratio``, judged only for
  documents of at least ``min_tokens`` tokens (a headline or a 10-word review is not prose).

Defaults are our own measurement (``benchmarks/lexicon_false_drops.py`` prints the figures): on
clean text (zh-CN/zh-TW Wikipedia, SogouCS and CLUE news) each rule drops <= 1 % of documents,
while the flagged rule catches the casino spam pages of the ChineseWebText CC sample.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from itertools import compress, count
from pathlib import Path
from typing import Any, ClassVar

from filters.segment import segment
from pipeline.record import Doc
from pipeline.stage import LOCAL, Filter, Placement, Rule

DATA = Path(__file__).parent / "data"
_HAS_WORD_CHAR = re.compile(r"[^\W_]")
#: Longest flagged term, in tokens, that is looked up.
MAX_TERM_TOKENS = 3


def _data_lines(name: str) -> list[str]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [ln for ln in text.splitlines() if ln and not ln.startswith("#")]


@cache
def stopwords() -> frozenset[str]:
    """The stopword list (one word per line)."""
    return frozenset(_data_lines("stopwords_zh.txt"))


@cache
def flagged_terms() -> dict[str, str]:
    """Flagged term -> category (``term<TAB>category`` lines)."""
    return dict(ln.split("\t", 1) for ln in _data_lines("flagged_zh.txt"))


@cache
def flagged_set(categories: tuple[str, ...]) -> frozenset[str]:
    """The flagged terms of the given categories."""
    unknown = set(categories) - set(flagged_terms().values())
    if unknown:
        raise ValueError(f"unknown flagged-word categories: {sorted(unknown)}")
    return frozenset(t for t, c in flagged_terms().items() if c in categories)


@cache
def _prefixes(terms: frozenset[str]) -> frozenset[str]:
    """Proper prefixes of the terms: a run of tokens can only grow into a term through them."""
    return frozenset(t[:k] for t in terms for k in range(1, len(t)))


def words(text: str) -> list[str]:
    """Lowercased segmenter tokens that contain a letter, digit or CJK character."""
    return [
        t for t in segment(text.lower()) if t.isalnum() or (len(t) > 1 and _HAS_WORD_CHAR.search(t))
    ]


def flagged_hits(tokens: list[str], terms: frozenset[str]) -> int:
    """Non-overlapping runs of 1..MAX_TERM_TOKENS consecutive tokens that are a flagged term.

    Overlaps (威尼斯人现金网 and 现金网 inside it) count once: longest run first, left to right.
    Single tokens are looked up with C-level ``map``; longer runs are only built from tokens
    that are a prefix of some term (~10 % of tokens on the DEV web data).
    """
    spans = [(i, -1) for i in compress(count(), map(terms.__contains__, tokens))]
    prefixes, n = _prefixes(terms), len(tokens)
    for i in compress(count(), map(prefixes.__contains__, tokens)):
        run = tokens[i]
        for k in range(1, min(MAX_TERM_TOKENS, n - i)):
            run += tokens[i + k]
            if run in terms:
                spans.append((i, -k - 1))
            if run not in prefixes:
                break
    if len(spans) < 2:
        return len(spans)
    hits, covered = 0, 0
    for start, neg_len in sorted(spans):
        if start >= covered:
            hits, covered = hits + 1, start - neg_len
    return hits


def _word_list_stats(
    tokens: list[str], stop: frozenset[str], terms: frozenset[str]
) -> dict[str, Any]:
    n = len(tokens)
    hits = flagged_hits(tokens, terms)
    return {
        "tokens": n,
        "stopword_ratio": sum(map(stop.__contains__, tokens)) / n if n else 0.0,
        "flagged_hits": hits,
        "flagged_ratio": hits / n if n else 0.0,
    }


def _flagged(stats: Mapping[str, Any], params: Lexicon) -> bool:
    return (
        stats["flagged_hits"] >= params.min_flagged_hits
        and stats["flagged_ratio"] > params.max_flagged_ratio
    )


def _low_stopwords(stats: Mapping[str, Any], params: Lexicon) -> bool:
    """Judged only for documents of at least ``min_tokens`` tokens."""
    return (
        stats["tokens"] >= params.min_tokens and stats["stopword_ratio"] < params.min_stopword_ratio
    )


RULES: tuple[Rule, ...] = (
    Rule("flagged_words", _flagged, ("min_flagged_hits", "max_flagged_ratio")),
    Rule("low_stopword_ratio", _low_stopwords, ("min_tokens", "min_stopword_ratio")),
)


@dataclass(frozen=True)
class Lexicon(Filter):
    """Stopword ratio and flagged-word ratio over jieba word tokens.

    ``categories``: flagged-word categories that count (porn, gambling, illicit_trade,
    profanity; profanity is off by default: rude chat is not spam).
    Stats: ``tokens`` (word tokens), ``stopword_ratio`` (stopword tokens / tokens, 0 if none),
    ``flagged_hits`` (flagged token runs), ``flagged_ratio`` (flagged_hits / tokens).
    """

    name: ClassVar[str] = "lexicon"
    version: ClassVar[str] = "1"
    rules: ClassVar[tuple[Rule, ...]] = RULES

    min_stopword_ratio: float = 0.08
    min_tokens: int = 50
    max_flagged_ratio: float = 0.001
    min_flagged_hits: int = 2
    categories: tuple[str, ...] = ("porn", "gambling", "illicit_trade")

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", tuple(self.categories))
        flagged_set(self.categories)  # fails early on an unknown category

    def setup(self, placement: Placement = LOCAL) -> None:
        """Load the word lists and the segmenter (once per process)."""
        stopwords()
        _prefixes(flagged_set(self.categories))
        segment("预热")

    def measure(self, docs: list[Doc]) -> list[dict[str, Any]]:
        """The class docstring's stats for each doc."""
        stop, terms = stopwords(), flagged_set(self.categories)
        return [_word_list_stats(words(d.text), stop, terms) for d in docs]
