"""Stage ``heuristics``: document-level rules for Chinese pretraining web text.

Every measurement is written to ``doc.stats`` for every document (whether or not it is dropped),
so thresholds can be retuned from the stats alone; the rules read exactly the rounded stats.
Rules (``RULES``) run in the order below; the first one that fails is the drop reason. A
threshold of ``None`` disables its rule (the stat is still measured).

Units. "chars" are non-whitespace characters; every ``*_ratio``/``*_frac`` over characters is
over a document's non-whitespace characters. Line statistics are over non-empty lines (stripped).
"Words" are ``filters.segment.segment`` tokens (jieba precise mode, punctuation included,
whitespace excluded), as FineWeb-2's cmn tokenizer does, so its word-level thresholds apply.

Defaults and where they come from (figures: ``benchmarks/heuristics_calibration.py``):
  * ``min_chars`` 90: FineWeb-2 keeps Gopher's minimum of 50 words; ordinary Chinese has 1.74
    non-whitespace chars per jieba word (cmrc2018 Wikipedia paragraphs), so 50 words = 87 chars.
    ChineseWebText uses 200 (set it for a stricter recipe). Short Weibo posts and reviews
    (median 17-60 chars) are real text but not pretraining *documents*; a config that wants
    them lowers this (and ``min_terminal_punct``, which a one-line post often fails).
  * ``max_chars`` 175,000: Gopher's 100,000-word maximum x 1.74 chars/word.
  * ``min_cjk_ratio`` 0.3: ChineseWebText (CJK ideographs over non-whitespace chars).
  * ``min_mean_line_chars`` 10: ChineseWebText (average non-empty line length).
  * ``max_short_line_ratio`` None: FineWeb-2 disables FineWeb's short-line rule (0.67 of lines
    <= 30 chars in English); ``short_line_chars`` 10 is ~30 English chars in Chinese.
  * ``min_terminal_punct`` 0.106: FineWeb-2 cmn_Hani ``line_punct_thr`` (lines ending in
    ``filters.zh.ZH_TERMINAL`` over non-empty lines). A one-line document scores 0 or 1, so
    truncated one-line excerpts (cmrc2018: 13.7 %, CLUE sample: 22 %) fail it.
  * ``max_newline_per_word`` 0.178: FineWeb-2 cmn_Hani ``new_line_ratio`` (newlines / words).
  * ``max_dup_line_frac`` 0.287: FineWeb-2 cmn_Hani (repeated lines beyond the first / lines).
  * ``max_dup_line_char_frac`` 0.1: FineWeb-2 ``char_duplicates_ratio`` (chars of repeated
    lines beyond the first / chars of non-empty lines).
  * ``max_top_{2,3,4}gram_frac`` 0.256/0.201/0.171: FineWeb-2 cmn_Hani, over jieba words:
    occurrences x chars of the most frequent word n-gram / chars. Deviation: only n-grams seen
    at least twice count (datatrove also counts a single occurrence, which flags any text under
    ~20 chars as "repetitive").
  * ``max_dup_{5..10}gram_frac`` 0.55/0.55/0.50/0.46/0.46/0.41: over *characters* (no
    segmentation errors; Chinese words are short): chars covered by repeated char n-grams /
    chars. Each flags as many DEV documents (>= 90 chars) as FineWeb-2's word n-gram threshold
    for the same n (0.198 ... 0.127, about 0.9 % of them).
  * ``max_char_run`` 30: longest run of one letter/digit/ideograph (separator runs of
    punctuation or symbols, "------", do not count); clean wiki/news max 22.
  * ``max_symbol_ratio`` 0.1: symbols/emoji/private-use glyphs (``filters.textstats``) over
    chars; clean wiki max 0.074 (Gopher uses 0.1 symbols per word).
  * ``max_digit_ratio`` 0.3: decimal digits over chars; clean wiki max 0.28.
  * ``max_url_ratio`` 0.2: chars inside URLs over chars; clean wiki max 0.096, Weibo p99 0.30.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from filters.segment import segment
from filters.textstats import char_stats, word_stats
from filters.zh import ZH_TERMINAL
from pipeline.record import Doc
from pipeline.stage import LOCAL, Filter, Placement, Rule, at_least, at_most

#: URLs: scheme or "www." up to whitespace, CJK, full-width forms or quotes/brackets.
URL_RE = re.compile(
    r"(?:https?://|ftp://|www\.)[^\s\u3000-\u303f\u3400-\u9fff\uff00-\uffef<>\"'()\[\]{}]+",
    re.IGNORECASE,
)
_URL_HINT = re.compile(r"://|www\.", re.IGNORECASE)
DUP_NS = (5, 6, 7, 8, 9, 10)
TOP_NS = (2, 3, 4)


LINE_STATS = (
    "lines",
    "mean_line_chars",
    "short_line_ratio",
    "terminal_punct_frac",
    "dup_line_frac",
    "dup_line_char_frac",
)


def line_stats(text: str, short_line_chars: int) -> tuple[int, float, float, float, float, float]:
    """``LINE_STATS`` over the non-empty (stripped) lines of ``text``."""
    lines = list(filter(None, map(str.strip, text.splitlines())))
    n = len(lines)
    if not n:
        return 0, 0.0, 0.0, 0.0, 0.0, 0.0
    lens = list(map(len, lines))
    total = sum(lens)
    dup_lines = dup_chars = 0
    if n != len(set(lines)):
        seen: set[str] = set()
        for ln in lines:
            if ln in seen:
                dup_lines += 1
                dup_chars += len(ln)
            else:
                seen.add(ln)
    short = sum(x <= short_line_chars for x in lens)
    ends = sum(ln.endswith(ZH_TERMINAL) for ln in lines)
    return n, total / n, short / n, ends / n, dup_lines / n, dup_chars / total


#: The drop rules in order: ``at_least`` drops when the stat is below the parameter,
#: ``at_most`` when above; a parameter of None disables its rule.
RULES: tuple[Rule, ...] = (
    at_least("chars", "min_chars", "too_short"),
    at_most("chars", "max_chars", "too_long"),
    at_least("cjk_ratio", "min_cjk_ratio", "low_cjk_ratio"),
    at_least("mean_line_chars", "min_mean_line_chars", "short_mean_line"),
    at_most("short_line_ratio", "max_short_line_ratio", "short_line_ratio"),
    at_least("terminal_punct_frac", "min_terminal_punct", "low_terminal_punct"),
    at_most("newline_per_word", "max_newline_per_word", "list_ratio"),
    at_most("dup_line_frac", "max_dup_line_frac", "dup_line_frac"),
    at_most("dup_line_char_frac", "max_dup_line_char_frac", "dup_line_char_frac"),
    *(
        at_most(f"top_ngram_frac_{n}", f"max_top_{n}gram_frac", f"top_ngram_frac_{n}")
        for n in TOP_NS
    ),
    *(
        at_most(f"dup_ngram_frac_{n}", f"max_dup_{n}gram_frac", f"dup_ngram_frac_{n}")
        for n in DUP_NS
    ),
    at_most("max_char_run", "max_char_run", "char_run"),
    at_most("symbol_ratio", "max_symbol_ratio", "symbol_ratio"),
    at_most("digit_ratio", "max_digit_ratio", "digit_ratio"),
    at_most("url_ratio", "max_url_ratio", "url_ratio"),
)


@dataclass(frozen=True)
class Heuristics(Filter):
    """Gopher/FineWeb-2/ChineseWebText-style document rules (see the module docstring)."""

    name: ClassVar[str] = "heuristics"
    version: ClassVar[str] = "1"
    rules: ClassVar[tuple[Rule, ...]] = RULES

    min_chars: int | None = 90
    max_chars: int | None = 175_000
    min_cjk_ratio: float | None = 0.3
    min_mean_line_chars: float | None = 10.0
    max_short_line_ratio: float | None = None
    short_line_chars: int = 10
    min_terminal_punct: float | None = 0.106
    max_newline_per_word: float | None = 0.178
    max_dup_line_frac: float | None = 0.287
    max_dup_line_char_frac: float | None = 0.1
    max_top_2gram_frac: float | None = 0.256
    max_top_3gram_frac: float | None = 0.201
    max_top_4gram_frac: float | None = 0.171
    max_dup_5gram_frac: float | None = 0.55
    max_dup_6gram_frac: float | None = 0.55
    max_dup_7gram_frac: float | None = 0.50
    max_dup_8gram_frac: float | None = 0.46
    max_dup_9gram_frac: float | None = 0.46
    max_dup_10gram_frac: float | None = 0.41
    max_char_run: int | None = 30
    max_symbol_ratio: float | None = 0.1
    max_digit_ratio: float | None = 0.3
    max_url_ratio: float | None = 0.2

    def setup(self, placement: Placement = LOCAL) -> None:
        segment("预热")  # load the segmenter and the character table once per worker
        char_stats(["预热"])

    def measure(self, docs: list[Doc]) -> list[dict[str, Any]]:
        """All statistics of every doc (ratios rounded to 4 decimals)."""
        texts = [d.text for d in docs]
        cs = char_stats(texts, DUP_NS)
        ws = word_stats([segment(t) for t in texts], TOP_NS)
        chars, words = cs["chars"], ws["words"]
        per_char = 1.0 / np.maximum(chars, 1)
        urls = np.array(
            [
                sum(m.end() - m.start() for m in URL_RE.finditer(t)) if _URL_HINT.search(t) else 0
                for t in texts
            ]
        )
        newlines = np.array([t.count("\n") for t in texts])
        lines = np.array(
            [line_stats(t, self.short_line_chars) for t in texts], dtype=np.float64
        ).reshape(len(texts), len(LINE_STATS))
        cols: dict[str, Any] = {
            "chars": chars,
            "words": words,
            "lines": lines[:, 0].astype(np.int64),
        }
        ratios = {name: lines[:, j] for j, name in enumerate(LINE_STATS) if j}
        ratios["cjk_ratio"] = cs["cjk"] * per_char
        ratios["newline_per_word"] = newlines / np.maximum(words, 1)
        for n in TOP_NS:
            ratios[f"top_ngram_frac_{n}"] = ws[f"top_ngram_chars_{n}"] * per_char
        for n in DUP_NS:
            ratios[f"dup_ngram_frac_{n}"] = cs[f"dup_ngram_chars_{n}"] * per_char
        ratios["symbol_ratio"] = cs["symbols"] * per_char
        ratios["digit_ratio"] = cs["digits"] * per_char
        ratios["url_ratio"] = np.minimum(urls * per_char, 1.0)
        cols.update({k: np.round(v, 4) for k, v in ratios.items()})
        cols["max_char_run"] = cs["max_char_run"]
        names = list(cols)
        return [dict(zip(names, row)) for row in zip(*(cols[k].tolist() for k in names))]
