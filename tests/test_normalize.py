"""Stage ``normalize``: exact output text and stats on Chinese cases."""

from __future__ import annotations

import pytest

from filters.normalize import KEEP_FULLWIDTH, Normalize
from filters.script import script_counts, script_label
from pipeline.record import Doc


def run(text: str, **params: object) -> Doc:
    doc = Doc(id="t", text=text)
    Normalize(**params).process([doc])
    return doc


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # full-width letters/digits/ideographic space fold; Chinese punctuation stays
        ("深圳将设地铁ＶＩＰ头等车厢，２０１２年！", "深圳将设地铁VIP头等车厢，2012年！"),
        ("南都讯　记者刘凡　周昌和", "南都讯 记者刘凡 周昌和"),
        ("邮箱：ｔｅｓｔ＠ｑｑ．ｃｏｍ；电话（０１０）", "邮箱：test@qq.com；电话（010）"),
        ("涨幅５０％，价格＋１０／－５＝？", "涨幅50%，价格+10/-5=？"),
        ("他说：「好！」【注】《书》、“引号”～", "他说：「好！」【注】《书》、“引号”～"),
        # control and invisible characters go, \t stays inside a line
        ("零\u200b宽\u200c空\ufeff格\u00ad软\u2060连\x07字\x1b符", "零宽空格软连字符"),
        ("列一\t列二\u2028下一行\u2029末行", "列一\t列二\n下一行\n末行"),
        # ZWJ inside an emoji sequence stays, a stray one goes
        ("一家人👨\u200d👩\u200d👧很开心\u200d。", "一家人👨\u200d👩\u200d👧很开心。"),
        # whitespace: runs of spaces, line ends, blank lines, CRLF
        ("第一段   很长  \r\n\r\n\r\n\r\n  第二段\r第三行 ", "第一段 很长\n\n第二段\n第三行"),
        ("　　段首缩进的正文。\n　　第二段。", "段首缩进的正文。\n第二段。"),
        # SogouCS paragraph mark U+E40C -> newline; other private-use glyphs dropped
        ("条件之一：\ue40c１．\u3000父母双亡的；\ue000", "条件之一：\n1. 父母双亡的；"),
        # broken Unicode (UTF-8 read as cp1252) and entities are repaired
        ("ä¸\xadæ–‡ç½‘ç«™", "中文网站"),
        ("&amp;quot;闹市一女子&amp;quot;&nbsp;", '"闹市一女子"'),
        ("萨尔科奇所喜欢的&lt;&lt;星期日&gt;&gt;杂志", "萨尔科奇所喜欢的<<星期日>>杂志"),
        # C1 controls outside mojibake are removed (NEL -> newline), never cp1252 punctuation
        ("价格\x80100元\x84引用\x85下一行", "价格100元引用\n下一行"),
        ("中文\x85第二行\x9f。", "中文\n第二行。"),
        ("Hello\x85world \x93quoted\x94", "Hello\nworld quoted"),
        # ... while UTF-8 read as Latin-1 (C1 controls inside the sequences) is still repaired
        ("ä¸\xadæ\x96\x87ç½\x91ç«\x99", "中文网站"),
        ("æ\x96\x87ç«\xa0\x85下一段", "文章\n下一段"),
        ("â\x80\x9c引号â\x80\x9d与caf\u00c3\u00a9", "“引号”与café"),
        # a JSON surrogate pair becomes one emoji
        ("表情\ud83d\ude00好", "表情😀好"),
        # mixed zh/en text and emoji are untouched
        ("用 Python 写了个脚本😀，效果 great!", "用 Python 写了个脚本😀，效果 great!"),
        # Traditional -> Simplified (phrase-aware: 乾隆 stays, 乾燥 -> 干燥)
        ("在歐洲，梵語的學術研究由德國學者開創。", "在欧洲，梵语的学术研究由德国学者开创。"),
        ("乾隆年間天氣乾燥", "乾隆年间天气干燥"),
        ("學院坐落於倫敦市中心", "学院坐落于伦敦市中心"),  # needs a second t2s pass
    ],
)
def test_output_text(raw: str, expected: str) -> None:
    assert run(raw).text == expected


def test_t2s_off_keeps_traditional_but_records_script() -> None:
    doc = run("這個軟體很好用", t2s=False)
    assert doc.text == "這個軟體很好用"
    assert (doc.stats["script"], doc.stats["t2s"]) == ("hant", False)


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("这个软件很好用，我们都喜欢。", "hans"),
        ("這個軟體很好用，我們都喜歡。", "hant"),
        ("這個软件很好用", "mixed"),  # 這 個 vs 软: 2 traditional, 1 simplified
        ("你好", "none"),  # only characters shared by both scripts
        ("hello world 123", "none"),
        ("里面的后台", "none"),  # 里 面 后 台: valid in both scripts (OpenCC ST list)
        ("台灣的群峰", "hant"),  # 群 峰 are Taiwan standard forms, not simplified
        ("乾隆皇帝的国家与时代，为后人所学习和传颂，历史书里记载了很多。", "hans"),
    ],
)
def test_script_label(text: str, script: str) -> None:
    doc = run(text)
    assert doc.stats["script"] == script
    assert doc.stats["t2s"] == (doc.stats["trad_chars"] > 0)


def test_script_label_boundaries() -> None:
    assert script_label(9, 1) == "hant"
    assert script_label(8, 2) == "mixed"
    assert script_label(1, 9) == "hans"
    assert script_label(2, 8) == "mixed"
    assert script_label(0, 0) == "none"
    assert script_counts("國为里") == (1, 1)


HTML_PAGE = """<!DOCTYPE html><html><head><title>标题不算正文</title>
<style>p {color: red}</style></head><body>
<div class="nav">首页 &gt; 新闻</div>
<p>第一段
正文，<b>加粗</b>也在同一行。</p><p>第二段<br>换行</p>
<script>var tracking = 1;</script><ul><li>条目一</li><li>条目二</li></ul></body></html>"""


def test_html_auto_extracts_block_structure() -> None:
    doc = run(HTML_PAGE)
    assert doc.text == (
        "首页 > 新闻\n\n第一段 正文，加粗也在同一行。\n\n第二段\n换行\n\n条目一\n\n条目二"
    )
    assert doc.stats["html"] is True


@pytest.mark.parametrize(
    ("text", "html", "is_html"),
    [
        ("在HTML里用<br>标签换行，用<p>分段。", "auto", False),  # prose quoting 2 tags
        ("<p>一</p><p>二</p>", "auto", True),
        ("<p>一</p><p>二</p>", "never", False),
        ("纯文本 a < b", "always", True),
    ],
)
def test_html_modes(text: str, html: str, is_html: bool) -> None:
    doc = run(text, html=html)
    assert doc.stats["html"] is is_html
    if not is_html:
        assert doc.text == text


def test_stats_keys_and_empty_rejection() -> None:
    keys = {
        "chars_before",
        "chars_after",
        "script",
        "trad_chars",
        "simp_chars",
        "html",
        "unicode_fixed",
        "t2s",
    }
    ok, empty = run("正常的文本。"), run("\u200b\x07\u3000\ufeff")
    assert set(ok.stats) == set(empty.stats) == keys
    assert (ok.reason, empty.reason, empty.text) == (None, "empty", "")
    assert (empty.stats["chars_before"], empty.stats["chars_after"]) == (4, 0)


def test_kept_fullwidth_set() -> None:
    assert set(KEEP_FULLWIDTH) == set("！（），：；？～")


def test_bad_html_param() -> None:
    with pytest.raises(ValueError, match="html"):
        Normalize(html="sometimes")


def test_idempotent_on_real_like_text() -> None:
    once = run(
        "昨日，《南都ＭＥＴＲＯ》创刊仪式暨２０１２年深港地铁圈高峰论坛上透露……\n\n\n\n 記者  報道"
    ).text
    assert run(once).text == once
