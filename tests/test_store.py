"""Versioned output: numbering, immutability, latest pointer, lock, unchanged input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.store import DatasetStore, LockedError
from tests.conftest import REPO, run_cli, write_config, write_jsonl


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    src = write_jsonl(
        tmp_path / "in.jsonl", [{"id": str(i), "text": f"第{i}条记录。"} for i in range(20)]
    )
    return write_config(tmp_path / "c.yaml", [str(src)], tmp_path / "out"), src


def test_versions_latest_and_immutability(setup: tuple[Path, Path], tmp_path: Path) -> None:
    cfg, src = setup
    assert run_cli("run", str(cfg)).returncode == 0
    root = tmp_path / "out" / "t"
    v1 = root / "v0001"
    before = {p: p.read_bytes() for p in v1.rglob("*") if p.is_file()}
    assert os.readlink(root / "latest") == "v0001"
    assert all(p.stat().st_mode & 0o222 == 0 for p in before)  # published files are read-only

    unchanged = run_cli("run", str(cfg))
    assert unchanged.returncode == 0 and "nothing new" in unchanged.stdout
    assert not (root / "v0002").exists()

    with open(src, "a") as fh:
        fh.write(json.dumps({"id": "new", "text": "新增的一条。"}, ensure_ascii=False) + "\n")
    assert run_cli("run", str(cfg)).returncode == 0
    assert os.readlink(root / "latest") == "v0002"
    m2 = json.loads((root / "v0002" / "manifest.json").read_text())
    assert m2["counts"]["input"] == 21
    assert {p: p.read_bytes() for p in v1.rglob("*") if p.is_file()} == before

    forced = run_cli("run", str(cfg), "--force")
    assert forced.returncode == 0 and (root / "v0003").exists()


def test_manifest_records_what_the_issue_asks(setup: tuple[Path, Path], tmp_path: Path) -> None:
    cfg, src = setup
    assert run_cli("run", str(cfg)).returncode == 0
    m = json.loads((tmp_path / "out" / "t" / "v0001" / "manifest.json").read_text())
    assert m["config"]["name"] == "t" and len(m["config_hash"]) == 64
    assert m["code"]["package_version"] and "git_commit" in m["code"]
    assert {"pyarrow", "orjson"} <= set(m["libraries"])
    import hashlib

    assert m["inputs"] == [
        {
            "path": str(src),
            "format": "jsonl",
            "bytes": src.stat().st_size,
            "sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
            "records": 20,
            "quarantined": 0,
        }
    ]
    assert m["counts"] == {"input": 20, "kept": 20, "rejected": 0, "quarantined": 0}
    assert [s["name"] for s in m["stages"]] == ["noop"]
    assert {"in", "out", "dropped", "seconds"} <= set(m["stages"][0])
    for f in m["outputs"]:
        data = (tmp_path / "out" / "t" / "v0001" / f["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
    assert sum(f["rows"] for f in m["outputs"] if f["path"].startswith("data/")) == 20
    assert m["started"] <= m["finished"]


def test_concurrent_run_is_refused(setup: tuple[Path, Path], tmp_path: Path) -> None:
    cfg, _ = setup
    store = DatasetStore(tmp_path / "out" / "t")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; sys.path.insert(0, sys.argv[1]);"
                "from pathlib import Path; from pipeline.store import DatasetStore;"
                "s = DatasetStore(Path(sys.argv[2]));\n"
                "with s.lock():\n print('locked', flush=True); time.sleep(30)"
            ),
            str(REPO),
            str(store.root),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        proc = run_cli("run", str(cfg))
        assert proc.returncode == 75  # EX_TEMPFAIL: retry later
        assert "another run of dataset 't' is in progress" in proc.stderr
        assert f"pid {holder.pid}" in proc.stderr
        with pytest.raises(LockedError):
            with store.lock():
                pass
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert run_cli("run", str(cfg)).returncode == 0  # the lock died with its holder
