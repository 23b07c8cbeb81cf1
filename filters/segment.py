"""Chinese word segmentation shared by every word-level statistic.

``segment(text)`` returns jieba-style words (precise mode, HMM on for unknown words), without
whitespace-only tokens: Chinese has no spaces, so a whitespace token is never a "word".

Backend: ``rjieba`` (binding of the Rust port jieba-rs, same dictionary and HMM model as jieba)
when importable, else ``jieba``. Measured by ``benchmarks/segmenter.py`` on all 72,116 records of
the DEV web data (5.0 M chars, median of 3 runs, one core): rjieba is 11-13x faster (3.6-4.8 vs
0.32-0.36 M chars/s) and starts in 0.1 s instead of ~0.5 s. Agreement with jieba: 96.7 % of
documents get the identical token list, 99.63 % of tokens agree, 99.9996 % of jieba's tokens that
contain a CJK character agree; the differences are Latin/digit runs (jieba: "t", ".", "cn";
rjieba: "t.cn"; "2-3"), irrelevant to Chinese word statistics.
Set ``ZHCURATE_SEGMENTER=jieba`` to force the pure-Python backend.

Both backends load lazily on the first call (jieba's prefix dictionary takes ~0.5 s; nothing is
downloaded). Loading is per process, so a stage that uses this pickles cheaply.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

_cut: Callable[[str], list[str]] | None = None
_backend: str | None = None


def _load() -> Callable[[str], list[str]]:
    global _cut, _backend
    if _cut is not None:
        return _cut
    if os.environ.get("ZHCURATE_SEGMENTER", "") != "jieba":
        try:
            import rjieba
        except ImportError:
            pass
        else:
            jb = rjieba.Jieba()
            _cut, _backend = (lambda text: jb.cut(text, True)), "rjieba"
            return _cut
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    _cut, _backend = (lambda text: tok.lcut(text, HMM=True)), "jieba"
    return _cut


def backend() -> str:
    """Name of the backend in use ("rjieba" or "jieba"); loads it if needed."""
    _load()
    assert _backend is not None
    return _backend


def segment(text: str) -> list[str]:
    """Words of ``text`` in order (jieba precise mode, HMM on), whitespace tokens removed."""
    cut = _cut or _load()
    return list(filter(str.strip, cut(text)))
