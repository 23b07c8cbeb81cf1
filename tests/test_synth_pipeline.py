"""Synthesis through the real CLI with the REAL embedded llama.cpp model: SFT and preference
versions with their layouts and cards, and kill -9 in the middle of the LLM work → the same
command again finishes from the call cache with byte-identical data files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO, write_config, write_jsonl
from tests.test_resume import data_hashes

# Written for this test (not taken from a dataset).
DOCS = [
    "长城是中国古代的军事防御工程，东起山海关，西至嘉峪关，全长两万多公里。明朝时期对长城进行了"
    "大规模修缮，今天看到的砖石长城大多建于明代。",
    "杭州西湖位于浙江省杭州市西部，湖面面积约六点四平方公里。西湖十景形成于南宋时期，其中"
    "苏堤春晓和断桥残雪最为有名。二〇一一年西湖被列入世界遗产名录。",
]
ENGINE = {
    "type": "llamacpp",
    "model": "qwen2.5-coder-0.5b-instruct-q4",
    "n_ctx": 2048,
    "n_threads": 2,
}


def _config(tmp: Path, out: Path) -> Path:
    src = write_jsonl(
        tmp / "docs.jsonl", [{"id": f"doc{i}", "text": t} for i, t in enumerate(DOCS)]
    )
    stages = [
        {"type": "heuristics", "min_chars": 20, "publish": "docs"},
        {"type": "synth_doc_qa", "k": 1, "max_tokens": 200, "backend": ENGINE, "publish": "sft"},
        {"type": "respond", "n": 2, "max_tokens": 48, "min_complete": 1, "backend": ENGINE},
        {"type": "judge", "max_tokens": 200, "backend": ENGINE},
        {"type": "preference_pairs", "margin": 0.0},
    ]
    return write_config(
        tmp / f"{out.name}.yaml",
        [str(src)],
        out,
        stages=stages,
        name="pref",
        input={"shard_size": 1},
        executor={"workers": 1},
    )


def _run(config: Path, cache: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ZHCURATE_LLM_CACHE": str(cache)}
    return subprocess.Popen(
        [sys.executable, str(REPO / "run.py"), "run", str(config), "--progress", "never"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _cached_calls(cache: Path) -> int:
    try:
        with sqlite3.connect(next(cache.glob("*.sqlite*"))) as db:
            return int(db.execute("SELECT count(*) FROM calls").fetchone()[0])
    except (StopIteration, sqlite3.Error):
        return 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run (its own cache): the versions every other run must equal."""
    tmp = tmp_path_factory.mktemp("synth_ref")
    proc = _run(_config(tmp, tmp / "out"), tmp / "cache")
    stdout, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 0, stderr.decode()
    return tmp / "out"


def test_sft_and_preference_versions_have_their_layouts_and_cards(reference: Path) -> None:
    import datasets
    from huggingface_hub import DatasetCard

    sft = datasets.load_dataset(
        "parquet", data_dir=str(reference / "sft" / "v0001" / "data"), split="train"
    )
    assert sft.column_names[:4] == ["instruction", "input", "output", "messages"]
    for row in sft:
        assert row["messages"] == [
            {"role": "user", "content": row["instruction"]},
            {"role": "assistant", "content": row["output"]},
        ]
        meta = json.loads(row["meta"])
        assert meta["source_id"] in {"doc0", "doc1"}
        assert meta["synth"]["model"] == "qwen2.5-coder-0.5b-instruct-q4"
    pref_dir = reference / "pref" / "v0001"
    manifest = json.loads((pref_dir / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["input"] == counts["kept"] + counts["rejected"] + counts["quarantined"] >= 2
    if counts["kept"]:
        pref = pq.read_table(pref_dir / "data").to_pylist()
        for row in pref:
            assert row["chosen"] != row["rejected"]
            assert row["chosen_score"] >= row["rejected_score"]
    syn = manifest["synthesis"]
    assert {s["name"] for s in syn["llm_stages"]} == {"synth_doc_qa", "respond", "judge"}
    assert syn["cache_hits"] == 0 and syn["cache_misses"] == syn["calls"] > 0
    assert syn["tokens_generated"] > 0
    assert {e["stage"] for e in syn["engines"]} >= {"synth_doc_qa", "respond", "judge"}
    card = DatasetCard.load(pref_dir / "README.md")
    assert card.data.annotations_creators == ["machine-generated"]
    text = (pref_dir / "README.md").read_text()
    assert "## Synthesis" in text and "qwen2.5-coder-0.5b-instruct-q4" in text
    for e in syn["engines"]:
        assert e["template_sha256"][:16] in text


def _marked_calls(work: Path) -> int:
    """LLM calls of the shard × stage work that finished (has a completion marker)."""
    return sum(
        int(json.loads(p.read_text()).get("stat_sums", {}).get("calls", 0))
        for p in work.rglob("*.done.json")
    )


def test_kill9_mid_synthesis_resumes_from_the_cache_with_identical_output(
    reference: Path, tmp_path: Path
) -> None:
    config, cache, out = _config(tmp_path, tmp_path / "out"), tmp_path / "cache", tmp_path / "out"
    proc = _run(config, cache)
    deadline = time.monotonic() + 600
    while _cached_calls(cache) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "pref" / "v0001").exists()
    # calls answered before the kill whose shard x stage work was not finished (no marker):
    # the resumed run must get exactly these from the cache instead of decoding them again
    orphans = _cached_calls(cache) - _marked_calls(out / "pref" / "_work")

    again = _run(config, cache)
    _, stderr = again.communicate(timeout=900)
    assert again.returncode == 0, stderr.decode()
    for dataset in ("docs", "sft", "pref"):
        assert data_hashes(out / dataset / "v0001") == data_hashes(reference / dataset / "v0001"), (
            dataset
        )
    syn = json.loads((out / "pref" / "v0001" / "manifest.json").read_text())["synthesis"]
    ref = json.loads((reference / "pref" / "v0001" / "manifest.json").read_text())["synthesis"]
    assert syn["cache_hits"] == orphans
    assert syn["cache_hits"] + syn["cache_misses"] == syn["calls"] == ref["calls"]
