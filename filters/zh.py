"""Shared Chinese text helpers: CJK ranges, punctuation sets, character n-grams.

One place for these so every filter agrees on what a "Chinese character" or a
"terminal punctuation mark" is.
"""

from __future__ import annotations

import re

#: CJK Unified Ideographs (basic + extension A + compatibility ideographs). Extensions B+
#: (astral plane) are included via the second class.
CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")

#: Sentence-final punctuation, full- and half-width, plus closing quotes after them.
ZH_TERMINAL = ("。", "！", "？", "…", "”", "」", "』", "；", "!", "?", ".", '"', "）", ")")


def cjk_count(text: str) -> int:
    """Number of CJK ideographs in ``text``."""
    return len(CJK_RE.findall(text))


def cjk_ratio(text: str) -> float:
    """CJK ideographs over non-whitespace characters (0 for empty text)."""
    non_ws = sum(1 for ch in text if not ch.isspace())
    return cjk_count(text) / non_ws if non_ws else 0.0


def char_ngrams(text: str, n: int) -> list[str]:
    """Overlapping character n-grams; a text shorter than ``n`` is one gram (itself)."""
    if len(text) <= n:
        return [text] if text else []
    return [text[i : i + n] for i in range(len(text) - n + 1)]
