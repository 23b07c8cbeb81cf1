"""Nothing lost: every bad kind of input is quarantined with file, line and error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow.parquet as pq
import pytest

from pipeline.config import resolve
from pipeline.progress import Progress
from pipeline.record import Doc
from pipeline.registry import STAGES
from pipeline.runner import run
from pipeline.stage import Filter, Rule
from tests.conftest import run_cli, write_config

GOOD = ["北京今天晴，最高气温十五度。", "这本书写得很好，推荐。", "上海地铁新线路开通。"]


def mixed_file(path: Path) -> Path:
    lines = [
        json.dumps({"id": "g1", "text": GOOD[0]}, ensure_ascii=False).encode(),
        b'{"id": "bad-json", "text": "unterminated',  # 2 malformed JSON
        b'{"id": "bad-utf8", "text": "\xe4\xb8"}',  # 3 invalid UTF-8
        b'{"id": "no-text"}',  # 4 missing text
        b'{"id": "num", "text": 42}',  # 5 non-string text
        b'{"id": "null", "text": null}',  # 6 null text
        b'{"id": "empty", "text": "   "}',  # 7 empty text
        b"",  # 8 blank line (not a record)
        json.dumps({"id": "g2", "text": GOOD[1]}, ensure_ascii=False).encode(),
        b'{"id": "huge", "text": "' + "长".encode() * 400 + b'"}',  # 10 over the size limit
        b'["not", "an", "object"]',  # 11 not an object
        json.dumps({"id": "g3", "text": GOOD[2]}, ensure_ascii=False).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


EXPECTED = {
    2: "malformed JSON",
    3: "invalid UTF-8",
    4: "missing text field 'text'",
    5: "text is int, not a string",
    6: "text is NoneType, not a string",
    7: "empty text",
    10: "exceeds max_record_bytes=1000",
    11: "expected a JSON object, got list",
}


def test_bad_input_is_quarantined_and_counts_add_up(tmp_path: Path) -> None:
    src = mixed_file(tmp_path / "mixed.jsonl")
    cfg = write_config(
        tmp_path / "c.yaml",
        [str(src)],
        tmp_path / "out",
        input={"max_record_bytes": 1000},
        executor={"workers": 1, "max_error_fraction": 0.8},  # 8 of 11 are read errors
    )
    proc = run_cli("run", str(cfg))
    assert proc.returncode == 0, proc.stderr
    version = tmp_path / "out" / "t" / "v0001"
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["counts"] == {"input": 11, "kept": 3, "rejected": 0, "quarantined": 8}
    assert manifest["accounting_ok"] is True
    q = pq.read_table(version / "quarantine").to_pylist()
    assert {r["line"]: r["source"] for r in q} == {line: str(src) for line in EXPECTED}
    for row in q:
        assert EXPECTED[row["line"]] in row["error"], row
        assert row["stage"] == "read"
    kept = pq.read_table(version / "data").to_pylist()
    assert [r["text"] for r in kept] == GOOD


@dataclass(frozen=True)
class Explodes(Filter):
    """Test stage: raises on documents containing 炸, rejects those containing 差."""

    name: ClassVar[str] = "explodes"
    rules: ClassVar[tuple[Rule, ...]] = (Rule("has_cha", lambda stats, params: stats["cha"] > 0),)

    def measure(self, docs: list[Doc]) -> list[dict[str, Any]]:
        if any("炸" in doc.text for doc in docs):
            raise ValueError("boom")
        return [{"n": len(doc.text), "cha": doc.text.count("差")} for doc in docs]


def test_stage_errors_quarantine_only_the_culprit(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(STAGES, "explodes", Explodes)
    texts = ["好的开始。", "这里会炸。", "质量很差。", "正常结尾。"]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts))
    cfg = resolve(
        write_config(
            tmp_path / "c.yaml",
            [str(src)],
            tmp_path / "out",
            stages=[{"type": "explodes"}],
            executor={"workers": 1, "max_error_fraction": 0.5},
        )
    )
    result = run(cfg, "c.yaml", progress=Progress(False))
    [published] = result["datasets"]
    assert published["counts"] == {"input": 4, "kept": 2, "rejected": 1, "quarantined": 1}
    version = Path(published["version"])
    q = pq.read_table(version / "quarantine").to_pylist()
    assert [(r["id"], r["line"], r["stage"]) for r in q] == [(f"{src}:2", 2, "explodes")]
    assert q[0]["error"].startswith("ValueError: boom")
    rej = pq.read_table(version / "rejected").to_pylist()
    assert [(r["text"], r["reason"], json.loads(r["stats"])) for r in rej] == [
        ("质量很差。", "explodes:has_cha", {"explodes": {"n": 5, "cha": 1}})
    ]
    kept = pq.read_table(version / "data").to_pylist()
    assert [json.loads(r["stats"]) for r in kept] == [{"explodes": {"n": 5, "cha": 0}}] * 2


def test_too_many_stage_errors_fail_the_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(STAGES, "explodes", Explodes)
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in ["炸一", "炸二", "好"])
    )
    cfg = resolve(
        write_config(
            tmp_path / "c.yaml", [str(src)], tmp_path / "out", stages=[{"type": "explodes"}]
        )
    )
    from pipeline.runner import RunError

    with pytest.raises(RunError, match=r"explodes quarantined 2 of 3 records"):
        run(cfg, "c.yaml", progress=Progress(False))
    assert not list((tmp_path / "out" / "t").glob("v0*"))


def test_global_stages_after_everything_was_dropped(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in GOOD))
    cfg = write_config(
        tmp_path / "c.yaml",
        [str(src)],
        tmp_path / "out",
        stages=[
            {"type": "heuristics", "min_chars": 1000},
            {"type": "boilerplate"},
            {"type": "dedup_exact"},
            {"type": "dedup_minhash"},
        ],
    )
    proc = run_cli("run", str(cfg))
    assert proc.returncode == 0, proc.stderr
    m = json.loads((tmp_path / "out" / "t" / "v0001" / "manifest.json").read_text())
    assert m["counts"] == {"input": 3, "kept": 0, "rejected": 3, "quarantined": 0}
    assert [s["in"] for s in m["stages"]] == [3, 0, 0, 0]
