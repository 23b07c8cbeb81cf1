"""Stage ``boilerplate``: pattern lines, corpus-frequent lines over simulated shards, drops."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from filters.boilerplate import Boilerplate, line_patterns, load_patterns
from filters.line_patterns import LinePatterns, required_literals, split_alternatives
from pipeline.inline import run_global
from pipeline.record import Doc


def clean(text: str, **params: object) -> Doc:
    doc = Doc(id="d", text=text)
    run_global(Boilerplate(**params), [[doc]])
    return doc


BODY_1 = "今年春节期间，全市共接待游客120万人次，同比增长15%，旅游收入创下历史新高。"
BODY_2 = "文旅局表示，将继续加强节假日期间的安全管理和服务保障工作，确保游客玩得开心、玩得放心。"

WECHAT = "\n".join(
    [
        "点击上方蓝字关注我们",
        BODY_1,
        "",
        BODY_2,
        "长按识别二维码关注",
        "▼",
        "阅读原文",
        "分享、点赞、在看，一键三连",
        "- END -",
    ]
)
PORTAL = "\n".join(
    [
        "当前位置：首页 > 新闻中心 > 公司新闻",
        "发布时间：2021-06-03 10:20:11 浏览量：128 作者：办公室",
        BODY_1,
        BODY_2,
        "（来源：燕赵都市网）",
        "责任编辑：王小明",
        "上一篇：公司开展消防应急演练",
        "下一篇：没有了",
        "版权所有 © 2021 某某有限公司 京ICP备12345678号",
        "[返回首页](http://www.example.com/)",
        "![](http://img.example.com/a.jpg)",
    ]
)


@pytest.mark.parametrize(
    ("text", "expected", "removed"),
    [
        (WECHAT, f"{BODY_1}\n\n{BODY_2}\n▼", 5),
        (PORTAL, f"{BODY_1}\n{BODY_2}", 9),
        # a long paragraph mentioning 点击进入 / 扫码 is body text
        (
            "很多老年人不会使用智能手机，社区志愿者手把手地教他们如何点击进入健康码页面、如何扫码乘车，"
            "还耐心地讲解了防范电信诈骗的常识，老人们纷纷表示受益匪浅，希望以后多举办这样的活动。",
            None,
            0,
        ),
    ],
)
def test_pattern_lines_removed(text: str, expected: str | None, removed: int) -> None:
    doc = clean(text)
    assert doc.text == (text if expected is None else expected)
    assert doc.stats["lines_removed_pattern"] == removed
    assert doc.stats["chars_removed"] == len(text) - len(doc.text)
    assert doc.reason is None


@pytest.mark.parametrize(
    ("line", "is_boilerplate"),
    [
        ("点击蓝字关注我们", True),
        ("欢迎关注“南方周末”公众号", True),
        ("扫描二维码下载客户端", True),
        ("点个在看，你最好看", True),
        ("2022年04月14日 来源：南方周末 分享到", True),
        ("13 10:50:34 出处：快科技 作者：陈驰 编辑：陈驰 评论(0)", True),
        ("温馨提示：文章内容系个人观点，不代表本站观点，若侵权请联系作者进行删除。", True),
        ("版权声明：本文为原创文章，转载请保留出处！", True),
        ("首页 上一页 5 6 7 8 9 10 尾页", True),
        ("新闻 > 国内 > 正文", True),
        ("登录 | 注册", True),
        ("【打印】【关闭窗口】", True),
        ("Copyright 2008-2021 All Rights Reserved", True),
        ("本文访问地址：https://www.example.org/a.html", True),
        ("[相关新闻](https://news.example.com/1.html) [更多](https://news.example.com/)", True),
        # near misses: body sentences with the same words
        ("日本地震：金吉列关注在日学子系列报道", False),
        ("声明说，叙利亚外交部当天召见摩洛哥驻叙利亚大使馆临时代办。", False),
        ("上一条微博是什么时候发出去的宝宝自己都不知道", False),
        ("下一个逗号不是忧伤", False),
        ("宇宙学→地质学→生物学→历史学，史前部分占比尤其突出。", False),
        ("首页大家都在说怎么预防，想问一下前期有什么表现", False),
        ("该公司各种注册和资质手续均齐备，且网站也有ICP备案。", False),
        ("作者：《水经注》的作者是北魏晚期的郦道元。", False),
        ("<隔云勿相忘>", False),
        ("我们分享了各自的旅行经历，大家都很开心。", False),
    ],
)
def test_line_patterns(line: str, is_boilerplate: bool) -> None:
    assert line_patterns().matches(line) is is_boilerplate


def test_fast_matcher_equals_plain_alternation() -> None:
    patterns = load_patterns()
    plain = re.compile("|".join(f"(?:{p})" for p in patterns))
    fast = LinePatterns.compile(patterns)
    lines = [
        *WECHAT.split("\n"),
        *PORTAL.split("\n"),
        "来源：新华社",
        "责编 ： 李四",
        "侵删",
        "喜欢就点个在看吧",
        "转发到朋友圈",
        "20:15 阅读 3",
        "评论（12）",
        "Top",
        "下一页",
        "document.write('x')",
        "粤ICP备05001234号",
        "www.example.com",
        "展开全文",
        "完",
    ]
    for line in lines + [ln[1:] for ln in lines] + [ln + "。" for ln in lines]:
        assert fast.matches(line) is bool(plain.search(line)), line
    assert fast.always is None  # every shipped alternative has a trigger literal


@pytest.mark.parametrize(
    ("branch", "literals"),
    [
        ("点击.{0,10}(蓝字|上方).{0,12}关注", ["点击"]),
        ("(扫描|扫一扫|扫码|识别).{0,10}二维码", ["二维码"]),
        ("点个?在看", ["在看"]),
        (r"\s(来源|出处)\s*[:：]", ["来源", "出处"]),
        (r"document\.write", ["document.write"]),
        ("(阅读|浏览)(量|数)?", ["阅读", "浏览"]),
        ("(?:a|b)?c+", ["c"]),
        (r"\d+[:：]", None),
        ("(?i:top)", None),
    ],
)
def test_required_literals(branch: str, literals: list[str] | None) -> None:
    assert required_literals(branch) == literals


def test_split_alternatives() -> None:
    assert split_alternatives(r"a(b|c)|[|]d|\|e") == ["a(b|c)", "[|]d", r"\|e"]


FOOTER = "本站所有文章均来自互联网用户投稿，仅供学习交流使用。"


def site_pages(n: int) -> list[Doc]:
    """n different pages of one site, each with the same footer line."""
    return [
        Doc(id=f"p{i}", text=f"第{i}篇文章的正文内容，讲述了不同的故事，编号{i}。\n{FOOTER}")
        for i in range(n)
    ]


def test_frequent_line_removed_only_at_threshold() -> None:
    docs = site_pages(3)
    state = run_global(Boilerplate(min_doc_count=3), [docs])
    assert state.num_rows == 1 and state.column("docs").to_pylist() == [3]
    assert all(FOOTER not in d.text and d.stats["lines_removed_frequent"] == 1 for d in docs)
    fewer = site_pages(2)
    run_global(Boilerplate(min_doc_count=3), [fewer])
    assert all(FOOTER in d.text and d.stats["lines_removed_frequent"] == 0 for d in fewer)


def test_exact_copies_count_once_and_one_line_docs_take_no_part() -> None:
    page = "第一段正文，介绍了这次活动的背景。\n" + FOOTER
    copies = [Doc(id=f"c{i}", text=page) for i in range(5)]
    singles = [Doc(id=f"s{i}", text=FOOTER) for i in range(5)]
    state = run_global(Boilerplate(min_doc_count=3), [copies + singles])
    assert state.num_rows == 0
    assert all(d.text == page for d in copies) and all(d.text == FOOTER for d in singles)


def test_result_independent_of_shard_split() -> None:
    def corpus() -> list[Doc]:
        docs = site_pages(7) + [
            Doc(id=f"o{i}", text=f"另一个网站的文章{i}。\n正文第二行{i}。") for i in range(5)
        ]
        docs.insert(3, Doc(id="wx", text=WECHAT))
        return docs

    outputs = []
    for n_shards in (1, 2, 3, 5):
        docs = corpus()
        shards = [docs[i::n_shards] for i in range(n_shards)]
        state = run_global(Boilerplate(min_doc_count=4), shards)
        result = [(d.id, d.text, d.reason, d.stats) for d in sorted(docs, key=lambda d: d.id)]
        outputs.append((result, state.to_pylist()))
    assert all(out == outputs[0] for out in outputs[1:])
    assert outputs[0][1][0]["docs"] == 7


def test_too_little_left() -> None:
    doc = clean("上一篇：公司开展消防应急演练\n好的")
    assert (doc.reason, doc.text) == ("too_little_left", "好的")
    only = clean("长按识别二维码关注")
    assert (only.reason, only.text, only.stats["remaining_ratio"]) == ("too_little_left", "", 0.0)
    short_untouched = clean("好吃")
    assert short_untouched.reason is None and short_untouched.stats["chars_removed"] == 0


def test_frequency_off_and_patterns_off() -> None:
    docs = site_pages(4)
    state = run_global(Boilerplate(min_doc_count=0, patterns=False), [docs + [Doc("w", WECHAT)]])
    assert state.num_rows == 0
    assert all(
        d.stats["lines_removed_frequent"] == d.stats["lines_removed_pattern"] == 0 for d in docs
    )


def test_empty_partition_reduce() -> None:
    stage = Boilerplate()
    empty = stage.scan([], 0)
    assert empty.num_rows == 0
    assert stage.reduce(empty).num_rows == 0
    assert stage.finalize([]).num_rows == 0


def test_stats_keys_always_same() -> None:
    keys = {"lines_removed_pattern", "lines_removed_frequent", "chars_removed", "remaining_ratio"}
    assert set(clean(WECHAT).stats) == set(clean("普通的一句话。").stats) == keys


def test_scan_partitions_are_int32() -> None:
    stage = Boilerplate(min_doc_count=2)
    scan = stage.scan([Doc("a", BODY_1 + "\n" + BODY_2), Doc("b", BODY_1)], 0)
    assert scan.schema.field("_part").type == pa.int32()
