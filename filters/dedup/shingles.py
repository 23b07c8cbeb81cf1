"""Shingles for MinHash: token ids → one 64-bit hash per n-gram, vectorized over a whole shard.

A document is a sequence of token ids: Unicode code points (``tokenizer="char"``) or the
xxh3-64 hash of each jieba word (``tokenizer="word"``). Every n-gram of ids is hashed with a
polynomial over 64-bit words followed by the murmur3 finalizer, all in numpy: no per-shingle
Python call (a signature pass with ``xxhash`` per shingle string measured 2.5x slower overall,
``benchmarks/minhash_impls.py``).

A document with fewer than ``n`` tokens is shingled *whole*: its one shingle is its tokens padded
with :data:`SENTINEL`, which is no code point, so a short text never equals a full n-gram and two
different short texts never share a shingle (Data-Juicer instead gives them empty signatures,
which merges every short document into one cluster). A document with no token has no shingle.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xxhash

#: Pad/separator id: one above the largest Unicode code point.
SENTINEL = 0x110000

#: Odd 64-bit multipliers of the polynomial (one per position in the n-gram).
_MULT_SEED = 0x5EED_D00D


def _multipliers(n: int) -> np.ndarray:
    rng = np.random.default_rng(_MULT_SEED)
    return rng.integers(1, 2**63, size=n, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def fmix64(h: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finalizer, in place on a uint64 array (spreads every input bit)."""
    with np.errstate(over="ignore"):
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xC4CEB9FE1A85EC53)
        h ^= h >> np.uint64(33)
    return h


def char_tokens(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(code points of all texts concatenated as uint64, length of each text in code points)."""
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    cps = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    return cps.astype(np.uint64), lens


def word_tokens(words: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """(xxh3-64 of every word of every document, concatenated; word count of each document)."""
    lens = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    h = xxhash.xxh3_64_intdigest
    ids = np.fromiter(
        (h(w.encode()) for doc in words for w in doc), dtype=np.uint64, count=int(lens.sum())
    )
    return ids, lens


def ngram_hashes(tokens: np.ndarray, lens: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash every token n-gram of every document.

    Returns ``(hashes, offsets)``: ``hashes[offsets[d]:offsets[d + 1]]`` are document ``d``'s
    shingle hashes (uint64, in text order, repeats kept: MinHash ignores multiplicity).
    A document has ``max(len - n + 1, 1)`` shingles, or none if it has no token.
    """
    ndocs = len(lens)
    # Lay documents out with n - 1 sentinels after each, so no window spans two documents.
    starts = np.zeros(ndocs, dtype=np.int64)
    np.cumsum(lens[:-1] + (n - 1), out=starts[1:])
    padded = np.full(int(lens.sum()) + ndocs * (n - 1), SENTINEL, dtype=np.uint64)
    padded[np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(len(tokens))] = tokens
    width = len(padded) - n + 1
    mult = _multipliers(n)
    with np.errstate(over="ignore"):
        h = padded[:width] * mult[0]
        for j in range(1, n):
            h += padded[j : j + width] * mult[j]
    fmix64(h)
    counts = np.where(lens > 0, np.maximum(lens - n + 1, 1), 0)
    offsets = np.zeros(ndocs + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    pos = np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1])
    return h[pos], offsets
