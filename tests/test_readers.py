"""Readers: every supported format yields the same records; bad items become errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from pipeline.io.base import InputOptions
from pipeline.io.readers import detect_format, get_reader

RECORDS = [
    {"id": "r1", "text": "北京今天晴。", "meta": {"src": "a"}, "lang": "zh"},
    {"id": 2, "text": "第二条记录，含全角ＡＢＣ。"},
]


def read_all(path: Path | str, fmt: str | None = None, **opts) -> tuple[list, bytes]:
    seen = bytearray()
    recs = list(get_reader(fmt or detect_format(path))(path, InputOptions(**opts), seen.extend))
    return recs, bytes(seen)


def _jsonl_bytes() -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS).encode()


@pytest.mark.parametrize(
    "name,pack",
    [
        ("a.jsonl", lambda b: b),
        ("a.jsonl.gz", gzip.compress),
        ("a.jsonl.zst", zstandard.ZstdCompressor().compress),
    ],
)
def test_jsonl_variants_read_and_hash_raw_bytes(tmp_path: Path, name: str, pack) -> None:
    path = tmp_path / name
    path.write_bytes(pack(_jsonl_bytes()))
    recs, seen = read_all(path)
    assert [(r.id, r.text, r.line) for r in recs] == [
        ("r1", "北京今天晴。", 1),
        ("2", "第二条记录，含全角ＡＢＣ。", 2),
    ]
    assert recs[0].meta == {"src": "a", "lang": "zh"}  # nested meta is flattened in
    assert seen == path.read_bytes()  # the sink saw exactly the file's bytes


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": "x", "text": "繁體中文。", "n": 1}]), path)
    recs, seen = read_all(path)
    assert [(r.id, r.text, r.meta) for r in recs] == [("x", "繁體中文。", {"n": 1})]
    assert seen == path.read_bytes()


def test_txt_folder(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "b.txt").write_text("第二篇。", "utf-8")
    (tmp_path / "d" / "sub" / "a.txt").write_text("第一篇。", "utf-8")
    (tmp_path / "d" / "bad.txt").write_bytes("坏".encode("gbk"))
    recs, _ = read_all(tmp_path / "d")
    assert [(r.id, r.text, r.error is None) for r in recs] == [
        ("b.txt", "第二篇。", True),
        ("bad.txt", None, False),
        ("sub/a.txt", "第一篇。", True),
    ]
    assert "invalid UTF-8" in recs[1].error


def test_hf_save_to_disk(tmp_path: Path) -> None:
    import datasets

    ds = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list(RECORDS[:1]),
            "test": datasets.Dataset.from_list([{"id": "t", "text": "测试。"}]),
        }
    )
    ds.save_to_disk(str(tmp_path / "hf"))
    assert detect_format(tmp_path / "hf") == "hf"
    recs, seen = read_all(tmp_path / "hf")
    assert [(r.id, r.text, r.meta.get("split")) for r in recs] == [
        ("t", "测试。", "test"),
        ("r1", "北京今天晴。", "train"),
    ]
    assert len(seen) > 0


def test_bad_lines_become_error_records(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b'{"id": 1, "text": "ok"}\n{"id": 2, "text": \n\n[1, 2]\n'
        b'{"id": 3, "text": "\xff\xfe"}\n{"id": 4}\n' + b'{"text": "' + b"x" * 200 + b'"}\n'
    )
    recs, _ = read_all(path, max_bytes=100)
    assert [(r.line, r.error) for r in recs] == [
        (1, None),
        (2, recs[1].error),  # malformed JSON, message checked below
        (4, "expected a JSON object, got list"),
        (5, "invalid UTF-8 at byte 19"),
        (6, "missing text field 'text'"),
        (7, "record of 212 bytes exceeds max_record_bytes=100"),  # newline not counted
    ]
    assert recs[1].error.startswith("malformed JSON")


def test_truncated_gzip_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(_jsonl_bytes() * 50)[:-30])
    recs, _ = read_all(path)
    assert recs[-1].error and "gzip stream cut off" in recs[-1].error
    assert all(r.error is None for r in recs[:-1])


def test_fsspec_urls_read_like_local_paths(tmp_path: Path) -> None:
    """Inputs may be fsspec URLs (here file://; s3://, gs://... go through the same code)."""
    from pipeline.input_paths import expand_inputs

    for name in ("b.jsonl.gz", "a.jsonl"):
        data = _jsonl_bytes()
        (tmp_path / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    urls = expand_inputs([f"file://{tmp_path}/*.jsonl*"])
    assert urls == [f"file://{tmp_path}/a.jsonl", f"file://{tmp_path}/b.jsonl.gz"]
    for url in urls:
        recs, seen = read_all(url)
        assert [r.text for r in recs] == [r["text"] for r in RECORDS]
        local = Path(url[len("file://") :])
        assert seen == local.read_bytes()
