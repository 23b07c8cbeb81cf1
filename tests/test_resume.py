"""Resume: SIGKILL a real run at several points, rerun, compare published bytes."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

CHAIN_CONFIG = REPO / "configs" / "curation.yaml"
SAMPLES = REPO / "samples"
SHARD_SIZE = 400  # 5,201 lines -> 13 shards: enough markers to kill between stages


def data_hashes(version: Path) -> dict[str, str]:
    """sha256 of every published parquet file (data, rejected, quarantine, and the dedup
    stages' index)."""
    return {
        p.relative_to(version).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(version.rglob("*.parquet"))
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The bundled sample (5,200 real records of six sources, ``samples/README.md``) plus
    one bad line, as one input: 13 shards of ``SHARD_SIZE`` records."""
    out = tmp_path_factory.mktemp("corpus") / "in.jsonl"
    with open(out, "wb") as fh:
        for path in sorted(SAMPLES.glob("*.jsonl")):
            fh.write(path.read_bytes())
        fh.write(b'{"id": "broken", "text": \n')
    return out


def _args(corpus: Path, out: Path) -> list[str]:
    return [
        "run",
        str(CHAIN_CONFIG),
        "--set",
        f"input.paths=[{corpus}]",
        "--set",
        f"output.dir={out}",
        "--set",
        f"input.shard_size={SHARD_SIZE}",
        "--set",
        "executor.workers=2",
    ]


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("ref")
    proc = run_cli(*_args(corpus, out))
    assert proc.returncode == 0, proc.stderr
    return data_hashes(out / "default" / "v0001")


def _kill_when(args: list[str], ready, timeout: float = 300) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "run.py"), *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + timeout
    while not ready() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its worker processes
    proc.wait()


def _count(root: Path, pattern: str) -> int:
    return sum(1 for _ in root.rglob(pattern)) if root.exists() else 0


@pytest.mark.parametrize("point", ["ingest", "first_stage", "later_stage", "publish"])
def test_kill9_then_rerun_gives_identical_bytes(
    corpus: Path, reference: dict[str, str], tmp_path: Path, point: str
) -> None:
    work = tmp_path / "default" / "_work"
    ready = {
        "ingest": lambda: _count(work / "ingest", "*.arrow") >= 3,
        "first_stage": lambda: _count(work / "stages", "*.done.json") >= 2,
        "later_stage": lambda: _count(work, "*.done.json") >= 30,
        "publish": lambda: _count(tmp_path / "default", ".v0001.tmp*/data/*.parquet") >= 1,
    }[point]
    _kill_when(_args(corpus, tmp_path), ready)
    assert not (tmp_path / "default" / "v0001").exists()
    proc = run_cli(*_args(corpus, tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert data_hashes(tmp_path / "default" / "v0001") == reference
    assert not list((tmp_path / "default").glob(".v*.tmp*"))


def test_finished_work_is_not_redone_and_param_change_reruns_from_that_stage(
    corpus: Path, tmp_path: Path
) -> None:
    args = _args(corpus, tmp_path)
    assert run_cli(*args).returncode == 0
    again = run_cli(*args)
    assert again.returncode == 0 and "nothing new" in again.stdout
    markers = {
        p: p.stat().st_mtime_ns for p in (tmp_path / "default" / "_work").rglob("*.done.json")
    }
    config = json.loads((tmp_path / "default" / "v0001" / "manifest.json").read_text())["config"]
    types = [s["type"] for s in config["stages"]]
    changed = types.index("heuristics")
    proc = run_cli(*args, "--set", "stages.heuristics.min_chars=7")
    assert proc.returncode == 0, proc.stderr
    m2 = json.loads((tmp_path / "default" / "v0002" / "manifest.json").read_text())
    m1 = json.loads((tmp_path / "default" / "v0001" / "manifest.json").read_text())
    fps1 = [s["fingerprint"] for s in m1["stages"]]
    fps2 = [s["fingerprint"] for s in m2["stages"]]
    assert fps1[:changed] == fps2[:changed]
    assert all(a != b for a, b in zip(fps1[changed:], fps2[changed:]))
    # stages before the change were not re-run: their markers are untouched
    for p, mtime in markers.items():
        assert p.stat().st_mtime_ns == mtime
