"""filters.segment: jieba-style words, whitespace dropped, same result with either backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from filters.segment import backend, segment

ROOT = Path(__file__).resolve().parents[1]

CASES = [
    ("我来到北京清华大学", ["我", "来到", "北京", "清华大学"]),
    ("他来到了网易杭研大厦", ["他", "来到", "了", "网易", "杭研", "大厦"]),
    ("今天天气不错！", ["今天天气", "不错", "！"]),
    ("hello world 你好", ["hello", "world", "你好"]),
    ("  \n\t ", []),
    ("", []),
    # Full-width letters/digits are not joined (jieba's Latin pattern is ASCII): run the
    # normalize stage (full-width -> ASCII) before word statistics.
    ("全角ＡＢ１２，ABC123", ["全角", "Ａ", "Ｂ", "１", "２", "，", "ABC123"]),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_segment_words(text: str, expected: list[str]) -> None:
    assert segment(text) == expected


def test_tokens_cover_text_without_whitespace() -> None:
    text = "北京时间7月20日讯 记者从市气象局获悉，\n今年入夏以来全市平均气温偏高1.2℃。"
    tokens = segment(text)
    assert "".join(tokens) == "".join(text.split())
    assert all(tok and not tok.isspace() for tok in tokens)


def test_backend_is_rjieba_when_installed() -> None:
    assert backend() == "rjieba"


def test_jieba_fallback_agrees_on_chinese() -> None:
    texts = [c[0] for c in CASES[:4]]
    code = (
        "import json, sys; from filters.segment import backend, segment; "
        f"print(json.dumps([backend(), [segment(t) for t in {texts!r}]]))"
    )
    env = {**os.environ, "ZHCURATE_SEGMENTER": "jieba"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    name, words = json.loads(out)
    assert name == "jieba"
    assert words == [segment(t) for t in texts]
