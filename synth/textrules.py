"""Pure checks on generated Chinese instructions: novelty, blacklist, length, refusals.

Similarity is character-level ROUGE-L: the longest common subsequence (LCS) over characters,
whitespace and punctuation removed, F1 of LCS/len(candidate) and LCS/len(reference). Word
tokenizers that split on whitespace see a Chinese sentence as one token and score every
distinct pair 0, so they never catch a near-duplicate.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

#: Self-Instruct drops a new instruction whose max ROUGE-L vs the pool exceeds 0.7.
NOVELTY_MAX_ROUGE = 0.7

#: Tasks a text-only model cannot do (Self-Instruct's blacklist, in Chinese; BELLE-style).
BLACKLIST: tuple[str, ...] = (
    "图片",
    "图像",
    "图表",
    "示意图",
    "流程图",
    "链接",
    "网址",
    "文件",
    "附件",
    "绘制",
    "照片",
    "视频",
    "音频",
    "音乐",
    "地图",
    "画",
)

#: Markers of a refusal or of a model talking about itself (WizardLM's "sorry" elimination).
REFUSALS: tuple[str, ...] = (
    "抱歉",
    "对不起",
    "作为一个AI",
    "作为一个人工智能",
    "作为AI",
    "作为人工智能",
    "我无法",
    "我不能",
)


def normalize_chars(text: str) -> str:
    """NFKC (full-width → half-width), lower case, without whitespace and punctuation."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(
        ch for ch in text if not ch.isspace() and not unicodedata.category(ch).startswith("P")
    )


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence of two strings (bit-parallel, Hyyrö 2004)."""
    if not a or not b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    masks: dict[str, int] = {}
    for i, ch in enumerate(a):
        masks[ch] = masks.get(ch, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for ch in b:
        u = v & masks.get(ch, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def rouge_l(candidate: str, reference: str) -> float:
    """Character-level ROUGE-L F1 in [0, 1] (over normalized characters)."""
    c, r = normalize_chars(candidate), normalize_chars(reference)
    lcs = lcs_length(c, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(c), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def max_rouge(candidate: str, pool: Iterable[str]) -> float:
    """Highest ROUGE-L of ``candidate`` against any text of ``pool`` (0 for an empty pool)."""
    return max((rouge_l(candidate, ref) for ref in pool), default=0.0)


def blacklisted(text: str, words: Sequence[str] = BLACKLIST) -> str | None:
    """The first blacklisted word found in ``text`` (None if none)."""
    return next((w for w in words if w in text), None)


def is_refusal(text: str, max_chars: int = 80) -> bool:
    """A short text (≤ ``max_chars`` chars) containing a refusal marker, or any "作为…AI"."""
    flat = text.replace(" ", "")
    if "作为一个AI" in flat or "作为AI" in flat:
        return True
    return len(flat) <= max_chars and any(m in flat for m in REFUSALS)


def check_instruction(
    text: str,
    pool: Sequence[str],
    *,
    min_chars: int,
    max_chars: int,
    max_rouge_l: float = NOVELTY_MAX_ROUGE,
    words: Sequence[str] = BLACKLIST,
) -> tuple[str | None, float]:
    """(rule or None, max ROUGE-L vs pool). Rules in order: too_short, too_long, blacklisted,
    refusal, not_novel. Length counts normalized characters (no spaces or punctuation)."""
    score = max_rouge(text, pool)
    n = len(normalize_chars(text))
    if n < min_chars:
        return "too_short", score
    if n > max_chars:
        return "too_long", score
    if blacklisted(text, words):
        return "blacklisted", score
    if is_refusal(text):
        return "refusal", score
    return ("not_novel" if score > max_rouge_l else None), score
