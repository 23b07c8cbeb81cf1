"""benchmarks/curation_throughput.py runs from the repository with only ``--data``: without the
peers' scripts it builds its corpora itself, skips the floor and measures without treemem.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from benchmarks.curation_throughput import make_corpora, parse_repos
from tests.conftest import REPO


def _data(tmp_path: Path, n: int = 40) -> Path:
    """A DEV-data-shaped folder (web/*.jsonl) holding the first ``n`` records of samples/."""
    src = sorted((REPO / "samples").glob("*.jsonl"))[0]
    web = tmp_path / "data" / "web"
    web.mkdir(parents=True)
    lines = src.read_bytes().splitlines()[:n]
    (web / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return tmp_path / "data"


def test_corpora_built_without_the_peers_make_corpus(tmp_path: Path) -> None:
    data = _data(tmp_path)
    make_corpora(data / "web", tmp_path / "work")
    one = [orjson.loads(x) for x in (tmp_path / "work" / "corpus.jsonl").read_bytes().splitlines()]
    four = [
        orjson.loads(x) for x in (tmp_path / "work" / "corpus4x.jsonl").read_bytes().splitlines()
    ]
    assert len(one) == 40 and set(one[0]) == {"id", "text"}
    assert len(four) == 160
    assert [r["id"] for r in four[:40]] == [f"{r['id']}#c1" for r in one]
    assert [r["text"] for r in four[:40]] == [r["text"] for r in one]
    shorter = sum(len(b["text"]) < len(a["text"]) for a, b in zip(one, four[40:80]))
    assert shorter > 0  # copies 2-4 lose ~2 % of their characters
    assert all(len(b["text"]) <= len(a["text"]) for a, b in zip(one * 3, four[40:]))


def test_repos_must_hold_run_py(tmp_path: Path) -> None:
    assert parse_repos(f"head={REPO}") == {"head": REPO}
    with pytest.raises(SystemExit) as exc:
        parse_repos(f"old={tmp_path}")
    assert exc.value.code == 2


def test_runs_with_only_data_and_no_peers(tmp_path: Path) -> None:
    data = _data(tmp_path)
    work = tmp_path / "work"
    cmd = [
        sys.executable,
        str(REPO / "benchmarks" / "curation_throughput.py"),
        "--data",
        str(data),
        "--work",
        str(work),
        "--peers",
        str(tmp_path / "no-peers"),
        "--no-dj",
        "--variants",
        "djchain",
        "--workers",
        "1",
        "--reps",
        "1",
        "--corpora",
        "corpus.jsonl",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "floors.py not found: floor job and ratio (b) skipped" in proc.stderr
    rows = [json.loads(x) for x in (work / "throughput.jsonl").read_text().splitlines()]
    assert [(r["job"], r["rc"], r["input"]) for r in rows] == [("djchain", 0, 40)]
    assert rows[0]["wall_s"] > 0 and rows[0]["rss_mib"] > 0
    assert rows[0]["rss_kind"].startswith("largest single process")
