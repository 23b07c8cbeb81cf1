"""Stage ``boilerplate``: pattern lines, corpus-frequent lines over simulated shards, drops."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from filters.boilerplate import Boilerplate, line_patterns, load_pattern_set, load_patterns
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


FIXTURES = Path(__file__).parent / "fixtures" / "web"


def test_wechat_article_chrome_removed_body_kept() -> None:
    page = (FIXTURES / "wechat_article.md").read_text(encoding="utf-8")
    body = (FIXTURES / "wechat_article.body.txt").read_text(encoding="utf-8").splitlines()
    doc = clean(page)
    kept = [ln for ln in doc.text.split("\n") if ln.strip()]
    assert kept == body
    chrome = {ln.strip() for ln in page.split("\n") if ln.strip()} - set(body)
    assert len(chrome) >= 30
    assert not chrome & set(kept)
    assert doc.reason is None


PORTAL_CHROME = [
    "返回搜狐，查看更多",
    "声明：该文观点仅代表作者本人，搜狐号系信息发布平台，搜狐仅提供信息存储空间服务。",
    "特别声明：以上内容(如有图片或视频亦包括在内)为自媒体平台“网易号”用户上传并发布，本平台仅提供信息存储服务。",
    "打开网易新闻 查看精彩图片",
    "本文来源：新京报 责任编辑：王晓_NBJS7152",
    "海量资讯、精准解读，尽在新浪财经APP",
    "新浪声明：此消息系转载自新浪合作媒体，新浪网登载此文出于传递更多信息之目的。",
    "文章关键词： 春运 铁路",
    "我要反馈",
    "举报 / 分享到",
    "分享到： 微博 微信 QQ空间",
    "免责声明：本内容来自腾讯平台创作者，不代表腾讯新闻或腾讯网的观点和立场。",
    "打开腾讯新闻，查看更多精彩资讯",
]
FORUM_CHROME = [
    "发表于 2013-3-12 10:22 | 只看该作者",
    "楼主",
    "沙发",
    "板凳",
    "5#",
    "回复 引用 举报",
    "回复 支持 反对",
    "使用道具 举报",
    "本帖最后由 老王 于 2013-3-12 10:30 编辑",
    "春游.jpg (32.35 KB, 下载次数: 0)",
    "1.png (32.35 KB, 下载次数: 0)",  # ChineseWebText CC sample, a Discuz attachment
    "下载附件 保存到相册",
    "马上注册，结交更多好友，享用更多功能，让你轻松玩转社区。",
    "您需要 登录 才可以下载或查看，没有帐号？立即注册",
    "查看: 1234|回复: 56",
    "返回列表 发表回复",
    "回复 1# 老王 的帖子",
]
FORUM_POST = "周末带孩子去了西湖边的植物园，樱花开得正好，人也不算太多，推荐大家趁早去看看。"


def test_portal_chrome_lines_removed() -> None:
    text = "\n".join([BODY_1, *PORTAL_CHROME, BODY_2])
    doc = clean(text)
    assert doc.text == f"{BODY_1}\n{BODY_2}"
    assert doc.stats["lines_removed_pattern"] == len(PORTAL_CHROME)


def test_forum_chrome_lines_removed() -> None:
    text = "\n".join(["老王", FORUM_CHROME[0], FORUM_CHROME[1], FORUM_POST, *FORUM_CHROME[2:]])
    doc = clean(text)
    assert doc.text == f"老王\n{FORUM_POST}"
    assert doc.stats["lines_removed_pattern"] == len(FORUM_CHROME)


@pytest.mark.parametrize(
    "line",
    [
        # button words inside sentences, and as replies in a chat (no WeChat/forum page signal)
        "如果取消了午休，下午容易犯困。",
        "航班取消以后，航空公司允许乘客免费改签一次。",
        "知道了",
        "取消",
        "好的，我知道了，明天见。",
        "他把这次旅行的照片分享给了大家。",
        "举报之后平台很快就处理了。",
        "楼主说得对，我也是这么想的。",
        "回复：谢谢你的建议",
        "在看电影的时候手机要静音。",
        "赞同你的观点",
        "……",
        "***",
        "▼",
        "滑动解锁以后才能看到下一个页面的内容，这个设计很贴心。",
        "我用微信扫一扫付款，很方便，也不用带零钱。",
        "预览时请注意检查标签是否正确。",
    ],
)
def test_false_positive_lines_kept(line: str) -> None:
    text = f"{BODY_1}\n{line}\n{BODY_2}"
    doc = clean(text)
    assert doc.text == text, line


def test_button_lines_removed_only_on_wechat_pages() -> None:
    chat = "你明天还来吗\n知道了\n取消\n好的"
    assert clean(chat).text == chat
    page = f"{BODY_1}\n知道了\n取消 允许\n{BODY_2}\n轻点两下取消赞"
    assert clean(page).text == f"{BODY_1}\n{BODY_2}"


def test_punctuation_line_runs_removed() -> None:
    text = f"{BODY_1}\n：\n\n，\n\n。\n{BODY_2}\n……\n{BODY_1}"
    doc = clean(text)
    assert doc.text == f"{BODY_1}\n\n{BODY_2}\n……\n{BODY_1}"
    assert doc.stats["lines_removed_pattern"] == 3


def test_long_image_line_counts_visible_length() -> None:
    url = "https://mmbiz.qpic.cn/mmbiz_jpg/" + "a1" * 40 + "/640?wx_fmt=jpeg&from=appmsg"
    doc = clean(f"{BODY_1}\n![Image 2: 图片]({url})\n{BODY_2}")
    assert doc.text == f"{BODY_1}\n{BODY_2}"


def test_page_kind_patterns_compile_like_plain_alternation(tmp_path: Path) -> None:
    ps = load_pattern_set()
    assert set(ps.contexts) == set(ps.markers) == {"crawler", "wechat", "forum"}
    page = (FIXTURES / "wechat_article.md").read_text(encoding="utf-8").split("\n")
    lines = page + FORUM_CHROME + PORTAL_CHROME + ["知道了。", "回复", "楼主说得对"]
    for patterns in ps.contexts.values():
        plain = re.compile("|".join(f"(?:{p})" for p in patterns))
        fast = LinePatterns.compile(patterns)
        assert fast.always is None
        for line in lines:
            assert fast.matches(line) is bool(plain.search(line)), line
    bad = tmp_path / "p.txt"
    bad.write_text("[nokind] ^x$  # a pattern for an undeclared kind\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no '@context nokind' marker"):
        load_pattern_set(bad)
    bad.write_text("ok\n[wechat] (unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"p\.txt:2: bad regex"):
        load_pattern_set(bad)
