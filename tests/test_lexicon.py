"""Stage ``lexicon``: stopword ratio and flagged words over jieba tokens (exact reasons)."""

from __future__ import annotations

import pytest

from filters.lexicon import Lexicon, flagged_hits, flagged_set, flagged_terms, stopwords, words
from pipeline.record import Doc

PROSE = (
    "今天我们去公园散步，看到很多人在湖边钓鱼。天气很好，孩子们在草地上玩耍，老人们坐在长椅上"
    "聊天。我觉得这样的周末非常惬意，希望以后能经常来这里走走。"
)
KEYWORDS = " ".join(
    f"{city}二手车{kind}"
    for city in ("北京", "上海", "广州", "深圳", "杭州")
    for kind in ("交易", "价格", "市场", "评估", "报价", "过户", "贷款", "保险")
)
CASINO = (
    "王者威尼斯人现金网网址：宜春市铜鼓县江西佰利达制药有限公司发生一起爆炸事故，"
    "造成1人死亡、2人受伤。相关新闻：威尼斯人现金网，申博太阳城真人登入，欧宝体育app下载。"
)
CRACKDOWN = (
    "警方近日破获一起利用六合彩进行非法赌博的案件，抓获犯罪嫌疑人5名，"
    "现场缴获赌资3万余元。警方提醒广大群众远离赌博，切勿参与任何形式的非法彩票活动。"
)
RUDE = "卧槽，这也太离谱了吧，傻逼司机差点撞到我，真他妈气死了"


def run(text: str, **params: object) -> Doc:
    doc = Doc(id="t", text=text)
    Lexicon(**params).process([doc])
    return doc


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (PROSE, None),
        (KEYWORDS, "low_stopword_ratio"),  # 80 tokens of SEO keywords
        (KEYWORDS[:60], None),  # too few tokens to judge
        ("中国人民公安大学2012年硕士研究生目录及书目", None),  # a headline is not prose
        (CASINO, "flagged_words"),  # injected casino brands
        (CRACKDOWN, None),  # one mention of 六合彩 in news
        ("附近的现金网点都关门了，只能去银行柜台取钱。", None),  # 现金网点 is not 现金网
        (RUDE, None),  # profanity is not counted by default
        (PROSE + "\n" + CASINO, "flagged_words"),
    ],
)
def test_reasons(text: str, reason: str | None) -> None:
    assert run(text).reason == reason


def test_profanity_category_opt_in() -> None:
    doc = run(RUDE, categories=("profanity",))
    assert (doc.reason, doc.stats["flagged_hits"]) == ("flagged_words", 3)  # 卧槽 傻逼 真他妈


def test_stats() -> None:
    doc = run(CASINO)
    assert set(doc.stats) == {"tokens", "stopword_ratio", "flagged_hits", "flagged_ratio"}
    # 威尼斯人现金网 x2 (the inner 现金网 not counted again), 申博太阳城, 欧宝体育
    assert doc.stats["flagged_hits"] == 4
    assert doc.stats["flagged_ratio"] == pytest.approx(4 / doc.stats["tokens"])
    assert run("").stats == {
        "tokens": 0,
        "stopword_ratio": 0.0,
        "flagged_hits": 0,
        "flagged_ratio": 0.0,
    }


def test_words_drop_punctuation_and_lowercase() -> None:
    assert words("Hello，世界！V2.0版本…") == ["hello", "世界", "v2.0", "版本"]


@pytest.mark.parametrize(
    ("tokens", "hits"),
    [
        (["澳门", "金沙", "娱乐", "城"], 1),  # 3-token term
        (["a", "b", "c", "b", "c"], 2),  # abc, then bc; the c inside each not again
        (["x", "bc"], 1),  # one token that is a term
        (["b", "c", "b", "c"], 2),
        (["现金", "网点"], 0),  # 现金网 would cut the word 网点
        (["c"], 1),
        ([], 0),
    ],
)
def test_flagged_hits_runs(tokens: list[str], hits: int) -> None:
    terms = frozenset({"澳门金沙娱乐", "abc", "bc", "c", "现金网"})
    assert flagged_hits(tokens, terms) == hits


def test_lists_shipped() -> None:
    stop = stopwords()
    assert {"的", "了", "我们", "因为"} <= stop and "，" not in stop
    cats = set(flagged_terms().values())
    assert cats == {"porn", "gambling", "illicit_trade", "profanity"}
    assert "威尼斯人现金网" in flagged_set(("gambling",))
    # everyday words that the source lexicon lists are not flagged
    assert not {"网络", "小姐", "按摩", "淘宝", "自拍", "赌博", "习近平"} & set(flagged_terms())


def test_unknown_category() -> None:
    with pytest.raises(ValueError, match="politics"):
        Lexicon(categories=("porn", "politics"))
