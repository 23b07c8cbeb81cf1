"""Quality classifier: training on a small labelled set, the stage's score, the default model."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest

from filters.quality import Quality
from filters.quality_train import DEFAULT_DATA, read_labelled, tokenize, train_quality
from pipeline.record import Doc

WIKI = [
    "长江是亚洲第一长河，发源于青藏高原的唐古拉山脉，自西向东注入东海，流域面积约一百八十万平方公里。",
    "光合作用是植物利用光能，把二氧化碳和水合成有机物并释放氧气的过程，是生物圈能量的主要来源。",
]
CHAT = [
    "哈哈哈哈笑死我了，你也太逗了吧[哈哈][哈哈]",
    "外卖送得太慢了，饭都凉了，差评！！下次不点了",
]


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A model trained on 1,200 rows of the shipped set (600 per class)."""
    tmp = tmp_path_factory.mktemp("q")
    rows = [orjson.loads(x) for x in gzip.open(DEFAULT_DATA)]
    pick = [r for r in rows if r["label"] == 1][:600] + [r for r in rows if r["label"] == 0][:600]
    data = tmp / "small.jsonl"
    data.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in pick))
    metrics = train_quality([data], tmp / "small.bin", epoch=25)
    return tmp / "small.bin", metrics


def test_small_training_separates_classes(small_model: tuple[Path, dict]) -> None:
    path, metrics = small_model
    assert metrics["n_valid"] == 240 and metrics["n_train"] == 960
    assert metrics["f1"] > 0.8 and metrics["auc"] > 0.85
    docs = [Doc(id=str(i), text=t) for i, t in enumerate(WIKI + CHAT)]
    Quality(model_path=str(path), min_score=0.5).process(docs)
    wiki, chat = docs[:2], docs[2:]
    assert min(d.stats["score"] for d in wiki) > 0.7
    assert max(d.stats["score"] for d in chat) < 0.3
    assert [d.reason for d in docs] == [None, None, "low_quality", "low_quality"]
    assert json.loads(Path(str(path) + ".json").read_text())["tokenize"] == "chars"


def test_stage_writes_score_for_every_doc(small_model: tuple[Path, dict]) -> None:
    docs = [Doc(id="a", text=WIKI[0]), Doc(id="b", text=""), Doc(id="c", text="一行\n两行\n")]
    Quality(model_path=str(small_model[0]), min_score=None).process(docs)
    assert all(set(d.stats) == {"score"} and 0.0 <= d.stats["score"] <= 1.0 for d in docs)
    assert all(d.reason is None for d in docs)


def test_training_is_reproducible(tmp_path: Path) -> None:
    rows = [{"text": t, "label": y} for t, y in zip(WIKI * 20 + CHAT * 20, [1] * 40 + [0] * 40)]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    train_quality([data], tmp_path / "a.bin", epoch=5)
    train_quality([data], tmp_path / "b.bin", epoch=5)
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()


def test_bad_label_names_the_line(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "好", "label": 1}\n{"text": "坏", "label": "maybe"}\n', "utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        read_labelled([data])


@pytest.mark.parametrize(
    "mode,expected",
    [
        ("chars", "我 爱 北 京 。"),
        ("words", "我 爱 北京 。"),
        ("words+chars", "我 爱 北京 。 我 爱 北 京 。"),
    ],
)
def test_tokenize(mode: str, expected: str) -> None:
    assert tokenize("我爱\n北京。", mode) == expected


def test_default_model_is_built_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHCURATE_HOME", str(tmp_path))
    stage = Quality()
    stage.setup()
    models = list((tmp_path / "models").glob("quality_zh-*.bin"))
    assert len(models) == 1
    mtime = models[0].stat().st_mtime_ns
    Quality().setup()
    assert models[0].stat().st_mtime_ns == mtime
    docs = [Doc(id=str(i), text=t) for i, t in enumerate(WIKI + CHAT)]
    stage.process(docs)
    assert min(d.stats["score"] for d in docs[:2]) > 0.5 > max(d.stats["score"] for d in docs[2:])


def test_llm_labels_of_a_published_version_are_distilled(tmp_path: Path) -> None:
    """train-quality reads a version's stats (llm_quality_annotate.score); unscored records
    (-1: not sampled or not parsed) are left out; the score is binarized at the threshold."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    scores = [4, 5, 1, -1, 0, 3]
    texts = [WIKI[0], WIKI[1], CHAT[0], CHAT[1], "今天吃什么", "长城位于中国北方。"]
    (tmp_path / "v0001" / "data").mkdir(parents=True)
    pq.write_table(
        pa.table(
            {
                "id": [f"d{i}" for i in range(6)],
                "text": texts,
                "meta": ["{}"] * 6,
                "stats": [
                    json.dumps({"llm_quality_annotate": {"score": s, "sampled": s >= 0}})
                    for s in scores
                ],
            }
        ),
        tmp_path / "v0001" / "data" / "part-00000.parquet",
    )
    rows = read_labelled(
        [tmp_path / "v0001"], threshold=3, label_field="llm_quality_annotate.score"
    )
    assert rows == [
        (WIKI[0], 1),
        (WIKI[1], 1),
        (CHAT[0], 0),
        ("今天吃什么", 0),
        ("长城位于中国北方。", 1),
    ]
    with pytest.raises(ValueError, match="<stage>.<measurement>"):
        read_labelled([tmp_path / "v0001"], threshold=3, label_field="score")
