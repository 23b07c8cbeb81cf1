"""Publish points: one run publishes several datasets, each with its own accounting."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow.parquet as pq
import pytest

from pipeline.config import resolve
from pipeline.errors import ConfigError
from pipeline.progress import Progress
from pipeline.record import Doc
from pipeline.registry import STAGES
from pipeline.runner import run
from pipeline.stage import Filter, MapStage, Rule
from tests.conftest import write_config


@dataclass(frozen=True)
class SplitSentences(MapStage):
    """Test generating stage: one new record per sentence; a sentence with 坏 is rejected."""

    name: ClassVar[str] = "split_sentences"
    generates: ClassVar[bool] = True

    def process(self, docs: list[Doc]) -> list[Doc]:
        out = []
        for doc in docs:
            for i, sent in enumerate(s for s in doc.text.split("。") if s):
                new = Doc(f"{doc.id}#s{i}", sent + "。", json.dumps({"source_id": doc.id}))
                new.stats = {"index": i}
                if "坏" in sent:
                    new.reason = "bad_sentence"
                out.append(new)
        return out


@dataclass(frozen=True)
class DropShort(Filter):
    name: ClassVar[str] = "drop_short"
    rules: ClassVar[tuple[Rule, ...]] = (Rule("short", lambda stats, params: stats["chars"] <= 3),)

    def measure(self, docs: list[Doc]) -> list[dict[str, Any]]:
        return [{"chars": len(doc.text)} for doc in docs]


@pytest.fixture(autouse=True)
def stages(monkeypatch) -> None:
    monkeypatch.setitem(STAGES, "split_sentences", SplitSentences)
    monkeypatch.setitem(STAGES, "drop_short", DropShort)


def test_each_dataset_is_published_with_counts_that_add_up(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    docs = ["今天天气很好。我们去公园。", "短。", "坏天气来了。明天会更好。好。"]
    src.write_text(
        "".join(
            json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n"
            for i, t in enumerate(docs)
        )
    )
    cfg = resolve(
        write_config(
            tmp_path / "c.yaml",
            [str(src)],
            tmp_path / "out",
            name="sentences",  # the last stage publishes under the config name
            stages=[
                {"type": "drop_short", "publish": "docs"},
                {"type": "split_sentences"},
                {"type": "drop_short"},
            ],
        )
    )
    result = run(cfg, "c.yaml", progress=Progress(False))
    by_name = {Path(d["version"]).parent.name: d for d in result["datasets"]}
    assert set(by_name) == {"docs", "sentences"}
    assert by_name["docs"]["counts"] == {"input": 3, "kept": 2, "rejected": 1, "quarantined": 0}
    # 5 sentences generated from the 2 kept docs: 1 rejected by the generator, 1 too short
    assert by_name["sentences"]["counts"] == {
        "input": 5,
        "kept": 3,
        "rejected": 2,
        "quarantined": 0,
    }
    sent = tmp_path / "out" / "sentences" / "v0001"
    kept = pq.read_table(sent / "data").to_pylist()
    assert [r["id"] for r in kept] == ["d0#s0", "d0#s1", "d2#s1"]
    assert json.loads(kept[0]["meta"]) == {"source_id": "d0"}
    rejected = {r["id"]: r["reason"] for r in pq.read_table(sent / "rejected").to_pylist()}
    assert rejected == {"d2#s0": "split_sentences:bad_sentence", "d2#s2": "drop_short:short"}
    m = json.loads((sent / "manifest.json").read_text())
    assert m["synthetic"] is True and [s["name"] for s in m["stages"]] == [
        "split_sentences",
        "drop_short#2",
    ]
    assert "machine-generated" in (sent / "README.md").read_text()


def test_a_dataset_name_published_twice_is_an_error(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "一。二。"}\n')
    with pytest.raises(ConfigError, match=r"stages\[1\].publish: dataset 't' is published twice"):
        resolve(
            write_config(
                tmp_path / "c.yaml",
                [str(src)],
                tmp_path / "out",
                name="t",
                stages=[{"type": "drop_short", "publish": "t"}, {"type": "drop_short"}],
            )
        )


def test_generating_stage_needs_a_publish_point_before_it(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "一。二。"}\n')
    with pytest.raises(ConfigError, match=r"stages\[1\] \(split_sentences\) creates new records"):
        resolve(
            write_config(
                tmp_path / "c.yaml",
                [str(src)],
                tmp_path / "out",
                stages=[{"type": "drop_short"}, {"type": "split_sentences"}],
            )
        )


@dataclass(frozen=True)
class Tag(MapStage):
    """Test stage: sets ``meta[field] = value`` on every record (text untouched)."""

    name: ClassVar[str] = "tag"
    field: str = "a"
    value: int = 1

    def process_doc(self, doc: Doc) -> None:
        doc.set_meta(self.field, self.value)


def test_metadata_edits_of_consecutive_stages_are_all_published(
    tmp_path: Path, monkeypatch
) -> None:
    """Two map stages in one segment each edit meta: the second edit must not be lost (it
    once was, when the edited-meta marker of the first made the second look unchanged)."""
    monkeypatch.setitem(STAGES, "tag", Tag)
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "x", "text": "今天天气很好。", "src": "web"}\n', "utf-8")
    cfg = resolve(
        write_config(
            tmp_path / "c.yaml",
            [str(src)],
            tmp_path / "out",
            name="t",
            stages=[
                {"type": "tag", "field": "a", "value": 1},
                {"type": "tag", "field": "b", "value": 2},
                {"type": "drop_short"},
            ],
        )
    )
    run(cfg, "c.yaml", progress=Progress(False))
    rows = pq.read_table(tmp_path / "out" / "t" / "v0001" / "data").to_pylist()
    assert json.loads(rows[0]["meta"]) == {"src": "web", "a": 1, "b": 2}


@dataclass(frozen=True)
class Shout(MapStage):
    """Test stage: rewrites the text (appends ！)."""

    name: ClassVar[str] = "shout"

    def process_doc(self, doc: Doc) -> None:
        doc.text += "！"


def test_edits_around_filters_are_all_published(tmp_path: Path, monkeypatch) -> None:
    """Filters (``edits = False``) between editing stages: rows they keep carry the upstream
    edits, rows they reject are published with the text as it was when rejected, and edits
    after them are kept too. A filter's output is stored as a delta (kept rows + stats)."""
    monkeypatch.setitem(STAGES, "tag", Tag)
    monkeypatch.setitem(STAGES, "shout", Shout)
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(
            json.dumps({"id": f"r{i}", "text": t}, ensure_ascii=False) + "\n"
            for i, t in enumerate(["今天天气很好", "好", "明天会下雨", "嗯"])
        ),
        "utf-8",
    )
    cfg = resolve(
        write_config(
            tmp_path / "c.yaml",
            [str(src)],
            tmp_path / "out",
            name="t",
            stages=[
                {"type": "shout"},
                {"type": "drop_short"},
                {"type": "noop"},
                {"type": "tag"},
                {"type": "shout"},
            ],
        )
    )
    run(cfg, "c.yaml", progress=Progress(False))
    version = tmp_path / "out" / "t" / "v0001"
    kept = pq.read_table(version / "data").to_pylist()
    assert [(r["id"], r["text"], json.loads(r["meta"])) for r in kept] == [
        ("r0", "今天天气很好！！", {"a": 1}),
        ("r2", "明天会下雨！！", {"a": 1}),
    ]
    rejected = pq.read_table(version / "rejected").to_pylist()
    assert [(r["id"], r["text"], r["reason"]) for r in rejected] == [
        ("r1", "好！", "drop_short:short"),
        ("r3", "嗯！", "drop_short:short"),
    ]
    import pyarrow as pa

    from pipeline.shard_tables import UPSTREAM_KEY

    stage_dirs = sorted((tmp_path / "out" / "t" / "_work" / "stages").iterdir())
    kinds = {}
    for d in stage_dirs:
        shard = next(p for p in d.glob("*.arrow") if ".rejected" not in p.name)
        with pa.memory_map(str(shard)) as fh:
            meta = pa.ipc.open_file(fh).schema.metadata or {}
        kinds[d.name.split("-")[0]] = UPSTREAM_KEY in meta
    assert kinds == {
        "shout": False,
        "drop_short": True,
        "noop": True,
        "tag": False,
        "shout_2": False,
    }
