"""Each published version keeps its dedup indexes beside its data (issue 11, item 2)."""

from __future__ import annotations

import json
import os
import random
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xxhash

from filters.dedup.exact import DedupExact, normalize
from filters.dedup.lsh import band_hashes
from filters.dedup.minhash import DedupMinhash
from filters.dedup.signature import pack_bits
from pipeline.config import resolve
from pipeline.progress import Progress
from pipeline.record import Doc
from pipeline.registry import STAGES
from pipeline.runner import run
from pipeline.stage import Filter, MapStage, Rule
from tests.conftest import write_config, write_jsonl

PARTS = {"dedup_exact": 4, "dedup_minhash": 8}


@dataclass(frozen=True)
class DropMarked(Filter):
    """Test filter after the dedup stages: drops texts that contain 删."""

    name: ClassVar[str] = "drop_marked"
    rules: ClassVar[tuple[Rule, ...]] = (Rule("marked", lambda stats, params: stats["marked"]),)

    def measure(self, docs: list[Doc]) -> list[dict[str, Any]]:
        return [{"marked": "删" in d.text} for d in docs]


@pytest.fixture(autouse=True)
def stages(monkeypatch) -> None:
    monkeypatch.setitem(STAGES, "drop_marked", DropMarked)


def records(seed: int = 7) -> list[dict[str, str]]:
    """60 texts: 40 distinct, 8 exact copies (spaces around), 8 near copies (two
    characters changed), 4 distinct ones marked 删 for the later filter."""
    rng = random.Random(seed)
    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 2000) if chr(c) != "删"]
    base = ["".join(rng.choice(chars) for _ in range(300)) for _ in range(40)]
    texts = list(base)
    texts += [" " + base[i] + " \n" for i in range(8)]
    for i in range(8, 16):
        t = list(base[i])
        t[50], t[200] = "甲", "乙"
        texts.append("".join(t))
    texts += ["删" + "".join(rng.choice(chars) for _ in range(300)) for _ in range(4)]
    return [{"id": f"r{i:03d}", "text": t} for i, t in enumerate(texts)]


DEFAULT_STAGES = [
    {"type": "dedup_exact", "partitions": PARTS["dedup_exact"]},
    {"type": "dedup_minhash", "partitions": PARTS["dedup_minhash"]},
    {"type": "drop_marked"},
]


def publish(
    tmp_path: Path,
    recs: list[dict[str, str]] | None = None,
    stages: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    src = write_jsonl(tmp_path / "in.jsonl", recs or records())
    cfg = resolve(
        write_config(
            tmp_path / "c.yaml",
            [str(src)],
            tmp_path / "out",
            input={"shard_size": 16},
            stages=stages or DEFAULT_STAGES,
        )
    )
    return run(cfg, "c.yaml", progress=Progress(False))


@pytest.fixture(scope="module")
def version(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("idx")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(STAGES, "drop_marked", DropMarked)
        result = publish(tmp)
    return Path(result["datasets"][0]["version"])


def index(version: Path, key: str) -> pa.Table:
    files = sorted((version / "index" / key).glob("part-*.parquet"))
    assert len(files) == PARTS[key]
    return pa.concat_tables([pq.read_table(f) for f in files])


def test_index_ids_are_the_published_ids(version: Path) -> None:
    kept = pq.read_table(version / "data")["id"].to_pylist()
    assert kept == [f"r{i:03d}" for i in range(40)]  # copies and marked texts dropped
    reasons = pq.read_table(version / "rejected")["reason"].to_pylist()
    assert sorted(set(reasons)) == [
        "dedup_exact:duplicate",
        "dedup_minhash:near_duplicate",
        "drop_marked:marked",
    ]
    exact = index(version, "dedup_exact")
    assert sorted(exact["id"].to_pylist()) == sorted(kept)
    minhash = index(version, "dedup_minhash")
    bands, _ = DedupMinhash().band_shape()
    ids = minhash["id"].to_pylist()
    assert sorted(set(ids)) == sorted(kept) and len(ids) == bands * len(kept)


def test_exact_hashes_are_the_stage_digests(version: Path) -> None:
    texts = {r["id"]: r["text"] for r in records()}
    for row in index(version, "dedup_exact").to_pylist():
        expected = xxhash.xxh3_128_digest(normalize(texts[row["id"]], "whitespace").encode())
        assert row["hash"] == expected


def test_minhash_bands_match_recomputed_signatures(version: Path) -> None:
    texts = {r["id"]: r["text"] for r in records()}
    stage = DedupMinhash()
    bands, rows = stage.band_shape()
    table = index(version, "dedup_minhash")
    for rid in ["r000", "r017", "r039"]:
        sig = stage.signatures([texts[rid]])
        mine = table.filter(pa.compute.equal(table["id"], rid))
        assert sorted(mine["hash"].to_pylist()) == sorted(
            band_hashes(sig, bands, rows, stage.seed).ravel().tolist()
        )
        assert set(mine["sig"].to_pylist()) == {pack_bits(sig, stage.verify_bits)[0].tobytes()}


def test_each_partition_holds_its_hashes_sorted(version: Path) -> None:
    for key in PARTS:
        for p, f in enumerate(sorted((version / "index" / key).glob("part-*.parquet"))):
            h = pq.read_table(f)["hash"]
            values = h.to_pylist()
            assert values == sorted(values)
            if key == "dedup_minhash":
                part = (np.array(values, np.uint64) >> np.uint64(40)) % np.uint64(PARTS[key])
            else:
                words = np.frombuffer(b"".join(values), np.uint64).reshape(-1, 2)[:, 0]
                part = words % np.uint64(PARTS[key])
            assert (part == p).all()


def test_manifest_lists_index_apart_from_data(version: Path) -> None:
    m = json.loads((version / "manifest.json").read_text())
    assert all(not f["path"].startswith("index/") for f in m["outputs"])
    assert set(m["index"]) == set(PARTS)
    for key, entry in m["index"].items():
        assert entry["partitions"] == PARTS[key] and entry["records"] == m["counts"]["kept"]
        on_disk = sorted(
            p.relative_to(version).as_posix() for p in (version / "index" / key).iterdir()
        )
        assert [f["path"] for f in entry["files"]] == on_disk
        for f in entry["files"]:
            assert f["bytes"] == (version / f["path"]).stat().st_size
            assert f["rows"] == pq.read_metadata(version / f["path"]).num_rows


def test_index_is_read_only(version: Path) -> None:
    for f in (version / "index").rglob("*.parquet"):
        assert not f.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_rerun_publishing_nothing_leaves_the_index_untouched(tmp_path: Path) -> None:
    first = publish(tmp_path)
    v = Path(first["datasets"][0]["version"])
    before = {f: (os.stat(f).st_mtime_ns, f.read_bytes()) for f in (v / "index").rglob("*.parquet")}
    again = publish(tmp_path)
    assert again["status"] == "unchanged"
    after = {f: (os.stat(f).st_mtime_ns, f.read_bytes()) for f in (v / "index").rglob("*.parquet")}
    assert after == before and sorted(p.name for p in v.parent.glob("v*")) == ["v0001"]


def test_datasets_loads_only_the_data(version: Path) -> None:
    import datasets

    ds = datasets.load_dataset("parquet", data_dir=str(version / "data"), split="train")
    assert ds.column_names == ["id", "text", "meta", "stats"] and len(ds) == 40


def test_stages_without_index_publish_none(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "text": "今天天气很好。"}, ensure_ascii=False) + "\n")
    cfg = resolve(write_config(tmp_path / "c.yaml", [str(src)], tmp_path / "out"))
    v = Path(run(cfg, "c.yaml", progress=Progress(False))["datasets"][0]["version"])
    assert not (v / "index").exists()
    assert json.loads((v / "manifest.json").read_text())["index"] == {}


def test_only_stages_that_implement_index_rows_have_an_index() -> None:
    from pipeline.publish_index import has_index

    assert has_index(DedupExact()) and has_index(DedupMinhash())
    assert not has_index(STAGES["boilerplate"]())  # a global stage without an index
    assert STAGES["boilerplate"]().index_rows(pa.table({}), pa.table({})) is None


@dataclass(frozen=True)
class Suffix(MapStage):
    """Test editing stage after the dedup stages: rewrites every text (a full table)."""

    name: ClassVar[str] = "suffix"

    def process_doc(self, doc: Doc) -> None:
        doc.text += "。"


def test_an_editing_stage_after_dedup_still_indexes_the_published_ids(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setitem(STAGES, "suffix", Suffix)
    stages = [{"type": "dedup_exact", "partitions": 4}, {"type": "suffix"}, {"type": "drop_marked"}]
    v = Path(publish(tmp_path, stages=stages)["datasets"][0]["version"])
    kept = pq.read_table(v / "data")["id"].to_pylist()
    assert len(kept) == 48  # 8 exact copies and 4 marked texts dropped
    got = pa.concat_tables([pq.read_table(f) for f in sorted((v / "index/dedup_exact").iterdir())])
    assert sorted(got["id"].to_pylist()) == sorted(kept)
