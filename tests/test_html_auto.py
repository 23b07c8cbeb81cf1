"""``html: auto`` detection (:func:`filters.html_text.looks_like_html`) in both directions."""

from __future__ import annotations

import pytest

from filters.html_text import looks_like_html
from filters.normalize import Normalize
from pipeline.record import Doc


def run(text: str) -> Doc:
    doc = Doc(id="t", text=text)
    Normalize(html="auto").process([doc])
    return doc


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        # one well-formed pair of a known tag is markup, however short the document
        ("<p>这是个测试</p>", "这是个测试"),
        ('<a href="https://example.cn/1.html">测试</a>', "测试"),
        ("<P CLASS='lead'>大写标签</P>", "大写标签"),
        ("正文开始<span style='color:red'>红字</span>结束", "正文开始红字结束"),
        ("<h2>标题</h2>\n第一段", "标题\n第一段"),
        ("<strong>加粗</strong>与<br>换行", "加粗与\n换行"),
    ],
)
def test_short_markup_is_html(markup: str, text: str) -> None:
    assert looks_like_html(markup)
    doc = run(markup)
    assert doc.stats["html"] is True
    assert doc.text == text


@pytest.mark.parametrize(
    "prose",
    [
        "当 a<b 且 b>c 时，不等式成立。",
        "代码 if (a<b && c>d) { return; } 很常见。",
        "泛型写作 List<String> 或 Map<K, V>。",
        "在HTML里用<br>标签换行，用<p>分段。",  # quotes two tags, no element
        "《三体》和〈乡愁〉用的是书名号，不是尖括号。",
        "箭头 <- 和 -> 以及 <=> 都是符号。",
        "x<p 并且 q>y，其中 p</q 不成立。",  # letters after < that are not a pair
    ],
)
def test_prose_with_angle_brackets_is_not_html(prose: str) -> None:
    assert not looks_like_html(prose)
    doc = run(prose)
    assert doc.stats["html"] is False
    assert doc.text == prose
