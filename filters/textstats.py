"""Vectorised per-document statistics over a batch of texts (numpy).

A batch's texts are concatenated into one code-point array with a document index per
position, so each statistic is a few numpy passes over the whole batch instead of a Python loop
per character. Results are per document and do not depend on the other documents of the batch
(n-grams never cross documents; repeats are found with 64-bit hashes keyed by document).

All character statistics are over the *non-whitespace* characters of a document (whitespace is
removed first, so "哈 哈" is a run of two "哈").
"""

from __future__ import annotations

import re
import unicodedata
from itertools import chain

import numpy as np

from filters.zh import CJK_RE

#: Character classes of the lookup table (bit flags; each code point has at most one):
#: whitespace, CJK ideograph (``filters.zh.CJK_RE``), symbol, decimal digit, punctuation,
#: other letter (Latin, Cyrillic, ...), kana or hangul letter.
WS, CJK, SYMBOL, DIGIT, PUNCT, LETTER, KANA = 1, 2, 4, 8, 16, 32, 64
_KANA_RE = re.compile(
    r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9d\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]"
)
#: Code points at or above this (planes 4-16: tags, private use) are classed as symbols.
LIMIT = 0x40000
#: Unicode categories counted as symbols: math, currency, modifier and other symbols (emoji,
#: ★, ■, →, U+FFFD) and private-use glyphs. CJK ideographs are "Lo" and never symbols;
#: punctuation ("P*": ，。！《》#@) is not a symbol either.
SYMBOL_CATEGORIES = frozenset({"Sm", "Sc", "Sk", "So", "Co"})

_B = np.uint64(0x100000001B3)  # odd bases, so powers are invertible mod 2**64
_Q = np.uint64(0x9E3779B97F4A7C15)
_DOC = np.uint64(0xC2B2AE3D27D4EB4F)
_table: np.ndarray | None = None


def char_table() -> np.ndarray:
    """uint8 class flags for code points 0..LIMIT (index LIMIT: everything above)."""
    global _table
    if _table is None:
        table = np.zeros(LIMIT + 1, dtype=np.uint8)
        for cp in range(LIMIT):
            ch = chr(cp)
            cat = unicodedata.category(ch)
            if ch.isspace():
                table[cp] = WS
            elif cat in SYMBOL_CATEGORIES:
                table[cp] = SYMBOL
            elif cat == "Nd":
                table[cp] = DIGIT
            elif cat[0] == "P":
                table[cp] = PUNCT
            elif cat[0] == "L":
                table[cp] = KANA if _KANA_RE.match(ch) else LETTER
        for m in CJK_RE.finditer("".join(map(chr, range(LIMIT)))):
            table[m.start()] = CJK
        table[LIMIT] = SYMBOL
        _table = table
    return _table


def codepoints(texts: list[str]) -> np.ndarray:
    """Code points of the concatenated texts (uint32)."""
    data = "".join(texts).encode("utf-32-le", "surrogatepass")
    return np.frombuffer(data, dtype=np.uint32)


def class_counts(texts: list[str], classes: dict[str, int]) -> dict[str, np.ndarray]:
    """Per document, the number of characters of each class (``{"cjk": CJK, ...}``)."""
    cls = char_table()[np.minimum(codepoints(texts), LIMIT)]
    doc = np.repeat(np.arange(len(texts)), [len(t) for t in texts])
    return {
        name: np.bincount(doc, weights=(cls & flag) > 0, minlength=len(texts)).astype(np.int64)
        for name, flag in classes.items()
    }


def _group_max(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Max of ``values`` per group (``groups`` sorted ascending); 0 for empty groups."""
    out = np.zeros(n, dtype=values.dtype)
    if values.size:
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        out[groups[starts]] = np.maximum.reduceat(values, starts)
    return out


def _repeated(keys: np.ndarray) -> np.ndarray:
    """True where the key occurs at least twice in ``keys``."""
    order = np.argsort(keys)
    sk = keys[order]
    eq = sk[1:] == sk[:-1]
    out = np.empty(keys.size, dtype=bool)
    out[order] = np.r_[eq, False] | np.r_[False, eq]
    return out


def _segments(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(doc index per position, start offset per doc, end offset per position)."""
    ends = np.cumsum(lengths)
    doc = np.repeat(np.arange(lengths.size), lengths)
    return doc, ends - lengths, ends[doc]


def char_stats(
    texts: list[str], dup_ns: tuple[int, ...] = (5, 6, 7, 8, 9, 10)
) -> dict[str, np.ndarray]:
    """Per document: non-whitespace ``chars``, ``cjk``/``symbols``/``digits`` counts, longest
    run of one repeated letter, digit or ideograph ``max_char_run`` (runs of punctuation or
    symbols such as "------" separators are left out), and for each n in ``dup_ns``
    ``dup_ngram_chars_<n>`` = characters covered by character n-grams that occur more than once
    in the document (every occurrence, overlaps counted once: Gopher's definition)."""
    n_docs = len(texts)
    cps = codepoints(texts)
    table = char_table()
    cls = table[np.minimum(cps, LIMIT)]
    doc_all = np.repeat(np.arange(n_docs), [len(t) for t in texts])
    keep = (cls & WS) == 0
    c, cls, doc = cps[keep], cls[keep], doc_all[keep]
    chars = np.bincount(doc, minlength=n_docs)
    out = {"chars": chars}
    for name, flag in (("cjk", CJK), ("symbols", SYMBOL), ("digits", DIGIT)):
        out[name] = np.bincount(doc, weights=(cls & flag) > 0, minlength=n_docs).astype(np.int64)
    if c.size:
        change = np.r_[True, (c[1:] != c[:-1]) | (doc[1:] != doc[:-1])]
        starts = np.flatnonzero(change)
        runs = np.diff(np.r_[starts, c.size])
        runs[(cls[starts] & (PUNCT | SYMBOL)) != 0] = 0  # separators like "-----" are not spam
        out["max_char_run"] = _group_max(runs, doc[starts], n_docs)
    else:
        out["max_char_run"] = np.zeros(n_docs, dtype=np.int64)
    _, _, end = _segments(chars)
    out.update(_dup_coverage(c.astype(np.uint64), doc, end, dup_ns, n_docs))
    return out


def _dup_coverage(
    c: np.ndarray, doc: np.ndarray, end: np.ndarray, ns: tuple[int, ...], n_docs: int
) -> dict[str, np.ndarray]:
    out = {f"dup_ngram_chars_{n}": np.zeros(n_docs, dtype=np.int64) for n in ns}
    if not ns:
        return out
    n0 = min(ns)
    cand = np.flatnonzero(np.arange(c.size) + n0 <= end)
    h = np.zeros(cand.size, dtype=np.uint64)
    doc_mix = doc.astype(np.uint64) * _DOC
    for k in range(n0):
        h = h * _B + c[cand + k]
    for n in range(n0, max(ns) + 1):
        if n > n0:  # an n-gram can repeat only where its (n-1)-gram prefix repeats
            ok = cand + n <= end[cand]
            cand, h = cand[ok], h[ok] * _B + c[cand[ok] + n - 1]
        rep = _repeated(h ^ doc_mix[cand])
        cand, h = cand[rep], h[rep]
        if n in ns and cand.size:
            delta = np.bincount(cand, minlength=c.size + 1)
            delta -= np.bincount(cand + n, minlength=c.size + 1)
            covered = np.cumsum(delta[:-1]) > 0
            out[f"dup_ngram_chars_{n}"] = np.bincount(doc[covered], minlength=n_docs)
    return out


def _word_hashes(words: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """64-bit hash, length and doc index of every word (hash of its code points)."""
    flat = list(chain.from_iterable(words))
    doc = np.repeat(np.arange(len(words)), [len(ws) for ws in words])
    if not flat:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64), doc
    # Words never contain whitespace (filters.segment drops it), so "\n" marks their ends.
    cps = codepoints(["\n".join(flat), "\n"])
    ends = np.flatnonzero(cps == 10)
    if ends.size != len(flat):  # a word with a newline inside: measure lengths one by one
        lens = np.fromiter(map(len, flat), dtype=np.int64, count=len(flat))
        cps = codepoints(flat)
        ends = np.cumsum(lens)
        starts = ends - lens
    else:
        starts = np.r_[0, ends[:-1] + 1]
        lens = ends - starts
    c = cps.astype(np.uint64)
    # prefix[i] = sum_{j<i} c[j] * B**-j (B is odd, so invertible mod 2**64); then
    # hash(s..e) = (prefix[e] - prefix[s]) * B**(e-1) = sum_{s<=j<e} c[j] * B**(e-1-j).
    inv = np.uint64(pow(int(_B), -1, 2**64))
    bpow = np.cumprod(np.r_[np.uint64(1), np.full(c.size - 1, _B, np.uint64)])
    ipow = np.cumprod(np.r_[np.uint64(1), np.full(c.size - 1, inv, np.uint64)])
    prefix = np.r_[np.uint64(0), np.cumsum(c * ipow)]
    hashes = (prefix[ends] - prefix[starts]) * bpow[ends - 1]
    return hashes, lens, doc


def word_stats(words: list[list[str]], ns: tuple[int, ...] = (2, 3, 4)) -> dict[str, np.ndarray]:
    """Per document: ``words`` (token count) and for each n in ``ns`` ``top_ngram_chars_<n>`` =
    occurrences x characters of the most frequent word n-gram (ties: the longer one), counting
    only n-grams that occur at least twice (0 when none repeats)."""
    n_docs = len(words)
    counts = np.fromiter((len(ws) for ws in words), dtype=np.int64, count=n_docs)
    out = {"words": counts} | {f"top_ngram_chars_{n}": np.zeros(n_docs, np.int64) for n in ns}
    h, lens, doc = _word_hashes(words)
    if not ns or not h.size:
        return out
    _, _, end = _segments(counts)
    doc_mix = doc.astype(np.uint64) * _DOC
    n0 = min(ns)
    cand = np.flatnonzero(np.arange(h.size) + n0 <= end)
    key = np.zeros(cand.size, dtype=np.uint64)
    chars = np.zeros(cand.size, dtype=np.int64)
    for k in range(n0):
        key, chars = key * _Q + h[cand + k], chars + lens[cand + k]
    for n in range(n0, max(ns) + 1):
        if n > n0:  # an n-gram can repeat only where its (n-1)-gram prefix repeats
            ok = cand + n <= end[cand]
            cand, key, chars = cand[ok], key[ok], chars[ok]
            key, chars = key * _Q + h[cand + n - 1], chars + lens[cand + n - 1]
        mixed = key ^ doc_mix[cand]
        rep = _repeated(mixed)
        cand, key, chars, mixed = cand[rep], key[rep], chars[rep], mixed[rep]
        if n in ns and cand.size:
            out[f"top_ngram_chars_{n}"] = _top_per_doc(mixed, doc[cand], chars, n_docs)
    return out


def _top_per_doc(keys: np.ndarray, docs: np.ndarray, chars: np.ndarray, n_docs: int) -> np.ndarray:
    """count x chars of each doc's most frequent key (ties: more chars)."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    count = np.diff(np.r_[starts, sk.size])
    first = order[starts]
    low = 1 << 24
    score = count * low + np.minimum(chars[first], low - 1)
    by_doc = np.argsort(docs[first], kind="stable")
    best = _group_max(score[by_doc], docs[first][by_doc], n_docs)
    return (best // low) * (best % low)
