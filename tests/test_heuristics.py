"""Stage ``heuristics``: table of Chinese documents -> exact drop rule (None = kept)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from filters.heuristics import RULES, Heuristics
from filters.textstats import char_stats
from pipeline.record import Doc

WIKI = (
    "长江是亚洲第一长河，也是世界第三长河，全长约六千三百公里。它发源于青藏高原的唐古拉山脉，"
    "自西向东流经青海、西藏、四川、云南、重庆、湖北、湖南、江西、安徽、江苏和上海，最后注入东海。"
    "长江流域面积约一百八十万平方公里，约占中国陆地总面积的五分之一。\n"
    "长江中下游地区气候温暖湿润，土地肥沃，自古以来就是中国重要的农业区。沿岸的武汉、南京等城市"
    "依托航运发展成为重要的工业和商业中心，三峡工程则是世界上装机容量最大的水电站之一。"
)
FULLWIDTH = (
    "你听说了吗？那家开在巷子口的老面馆终于重新开张了！老板说，他花了整整三个月重新装修，"
    "还请回了当年掌勺的师傅……\n"
    "我问他为什么不干脆搬到大街上去，他笑着回答：「老街坊们都认得这条巷子，搬走了谁还找得到？」"
    "第二天一早，门口果然排起了长队，有人专门从城东赶过来，只为吃一碗熟悉的牛肉面。"
)
MIXED = (
    "Transformer 是 Google 在 2017 年提出的模型架构，论文题为 Attention Is All You Need。"
    "它完全基于注意力机制（attention mechanism），抛弃了循环神经网络，因此训练可以高度并行。"
    "如今的大语言模型，例如 GPT 和 LLaMA，都建立在这一架构之上。"
)
ENGLISH = (
    "The Yangtze is the longest river in Asia and the third longest in the world. It rises in "
    "the Tanggula Mountains and flows east into the East China Sea near Shanghai. 长江。"
)
NAV = "\n".join(
    [
        "首页 新闻中心 产品展示 解决方案 客户案例 联系我们",
        "关于我们 企业文化 发展历程 人才招聘 在线留言",
        "热门标签 智能家居 工业控制 物联网平台 软件开发",
        "版权所有 北京某某科技有限公司 京ICP备12345678号",
        "友情链接 网站地图 隐私政策 法律声明 投诉建议",
    ]
)
ONE_WORD_LINES = "\n".join(
    w + "。"
    for w in "春夏秋冬东南西北上下左右前后天地日月山水风雨江河湖海" * 2
    + "金木火土花草树木鸟兽虫鱼琴棋书画诗酒茶" * 2
)
LIST = "\n".join(
    [
        "北京市朝阳区天气晴朗。",
        "上海市浦东新区多云。",
        "广州市天河区有小雨。",
        "深圳市南山区有雷阵雨。",
        "杭州市西湖区阴转晴。",
        "成都市武侯区有大雾。",
        "重庆市渝中区有中雨。",
        "南京市鼓楼区晴转多云。",
        "武汉市江汉区有阵雨。",
    ]
)
SPAM = "\n".join(
    ["威尼斯人现金网，澳门赌场官方网站，注册即送彩金，天天返水无上限！"] * 3
    + [
        "本站提供最新最全的真人娱乐、体育投注和电子游戏，欢迎广大玩家前来体验。",
        "客服二十四小时在线，充值提款快速到账，安全可靠，信誉第一，值得信赖。",
    ]
)
GOOD_PREFIX = WIKI.split("\n")[0]

CASES: list[tuple[str, str, dict[str, Any], str | None]] = [
    ("wiki paragraph kept", WIKI, {}, None),
    ("full-width punctuation kept", FULLWIDTH, {}, None),
    ("mixed zh/en kept", MIXED, {}, None),
    ("weibo-length post", "今天终于吃到了心心念念的火锅，太开心了！[哈哈]", {}, "too_short"),
    (
        "short post kept when min_chars lowered",
        "今天终于吃到了心心念念的火锅，太开心了！",
        {"min_chars": 10},
        None,
    ),
    ("too long", WIKI, {"max_chars": 100}, "too_long"),
    ("english", ENGLISH, {}, "low_cjk_ratio"),
    ("one word per line", ONE_WORD_LINES, {}, "short_mean_line"),
    (
        "short lines, when enabled",
        LIST,
        {"max_short_line_ratio": 0.5, "short_line_chars": 11},
        "short_line_ratio",
    ),
    ("navigation menu", NAV, {}, "low_terminal_punct"),
    ("list of short sentences", LIST, {}, "list_ratio"),
    ("gambling spam", SPAM, {}, "dup_line_frac"),
    ("repeated phrase", "好吃不贵，" * 20 + "下次还来。", {}, "top_ngram_frac_2"),
    (
        "repeated 5-grams",
        GOOD_PREFIX + "长江是亚洲第一长河，也是世界第三长河" * 8 + "。",
        {f"max_top_{n}gram_frac": None for n in (2, 3, 4)},
        "dup_ngram_frac_5",
    ),
    ("laughing run", WIKI + FULLWIDTH + MIXED + "哈" * 31 + "。", {}, "char_run"),
    ("dash separator is not a run", GOOD_PREFIX + "\n" + "-" * 60 + "\n" + FULLWIDTH, {}, None),
    ("emoji and symbols", GOOD_PREFIX + "★☆★☆😀😂🎉👍🔥💯" * 5 + "。", {}, "symbol_ratio"),
    (
        "lottery numbers",
        "第2023120期开奖号码：03 15 22 27 31 08，一等奖6注，单注奖金1000万元。"
        "第2023121期开奖号码：05 11 19 24 33 02，一等奖3注，单注奖金856万元。",
        {"min_chars": 50},
        "digit_ratio",
    ),
    (
        "link share",
        "推荐一篇关于城市规划的好文章，作者写得很用心，值得一读：https://mp.weixin.qq.com/s/"
        "AbCdEfGhIjKlMnOp 还有这个视频也不错，讲的是老城区改造的故事，大家有空看看：http://t.cn/A6xYz123。",
        {},
        "url_ratio",
    ),
]


def run(text: str, **params: Any) -> Doc:
    doc = Doc(id="d", text=text)
    Heuristics(**params).process([doc])
    return doc


@pytest.mark.parametrize("label,text,params,reason", CASES, ids=[c[0] for c in CASES])
def test_reason(label: str, text: str, params: dict[str, Any], reason: str | None) -> None:
    assert run(text, **params).reason == reason


@pytest.mark.parametrize(
    "label,text,params,reason", [c for c in CASES if c[3] is not None], ids=lambda v: str(v)[:20]
)
def test_rule_can_be_disabled(label: str, text: str, params: dict[str, Any], reason: str) -> None:
    [param] = next(rule.reads for rule in RULES if rule.name == reason)
    assert run(text, **{**params, param: None}).reason != reason


def test_same_stat_keys_for_every_doc_and_batch_independent() -> None:
    texts = [c[1] for c in CASES] + ["", "   \n  "]
    together = [Doc(id=str(i), text=t) for i, t in enumerate(texts)]
    Heuristics().process(together)
    keys = set(together[0].stats)
    assert {"chars", "cjk_ratio", "dup_ngram_frac_10", "top_ngram_frac_4", "url_ratio"} <= keys
    for doc, text in zip(together, texts):
        assert set(doc.stats) == keys
        assert run(text).stats == doc.stats
        assert Heuristics().decide(doc.stats) == doc.reason
    assert together[-1].reason == "too_short"


def test_hand_computed_stats() -> None:
    # 24 non-whitespace chars; char 5..7-grams of "我爱北京天安门" repeat: 14 chars covered.
    # jieba words: 我/爱/北京/天安门/，/我/爱/北京/天安门/。/天安门/上/太阳升/。; most frequent
    # 2-gram (x2, ties -> longer) "北京天安门" = 5 chars -> 10; 4-gram "我爱北京天安门" -> 14.
    st = run("我爱北京天安门，\n我爱北京天安门。 天安门上太阳升。", min_chars=None).stats
    assert st["chars"] == 24 and st["lines"] == 2 and st["words"] == 14
    assert st["dup_ngram_frac_5"] == st["dup_ngram_frac_7"] == round(14 / 24, 4)
    assert st["dup_ngram_frac_8"] == 0.0
    assert st["top_ngram_frac_2"] == round(10 / 24, 4)
    assert st["top_ngram_frac_4"] == round(14 / 24, 4)
    assert st["terminal_punct_frac"] == 0.5
    assert st["cjk_ratio"] == round(21 / 24, 4)
    assert st["mean_line_chars"] == round((8 + 17) / 2, 4)


@pytest.mark.parametrize("text", [WIKI, "一上士丁七万丈三下不与丐丑专且丕世", "《红楼梦》·曹雪芹"])
def test_chinese_text_has_no_symbols(text: str) -> None:
    assert run(text).stats["symbol_ratio"] == 0.0


@pytest.mark.parametrize(
    "text,symbols,digits",
    [
        ("温度：３０℃，价格￥１２元 ©2024 😀", 4, 8),
        ("①②③ ★☆ →", 3, 0),
    ],
)
def test_symbol_and_digit_counts(text: str, symbols: int, digits: int) -> None:
    cs = char_stats([text])
    assert (int(cs["symbols"][0]), int(cs["digits"][0])) == (symbols, digits)


def test_frozen_params_and_fingerprint() -> None:
    stage = Heuristics()
    assert replace(stage, min_chars=200).non_default_params() == {"min_chars": 200}
    assert stage.fingerprint("x") != replace(stage, min_chars=200).fingerprint("x")
