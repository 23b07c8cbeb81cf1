"""The run ledger: typed markers read what older code wrote, and each marker is read once.

``tests/fixtures/markers/`` is a whole output folder (``out/``: the published ``fix/v0001``
and its ``_work`` markers) made by the code of commit 31223c1 from ``in.jsonl`` (60 lines
of the bundled ``samples/`` plus one broken line) with ``fix.yaml``, run from that folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pipeline import ingest, runner
from pipeline.config import resolve
from pipeline.ledger import IngestMarker, ShardRef, StepResult
from pipeline.progress import Progress
from pipeline.runner import run

FIXTURE = Path(__file__).parent / "fixtures" / "markers"
WORK = FIXTURE / "out" / "fix" / "_work"
#: The absolute path of ``in.jsonl`` when the fixture was made: an ingest fingerprint keys on
#: it (``pipeline.io.files.content_identity``), so a copy is given that path to resume.
MADE_AT = "/tmp/H_fix/in.jsonl"


def _markers(pattern: str) -> list[Path]:
    found = sorted(WORK.glob(pattern))
    assert found, pattern
    return found


@pytest.mark.parametrize(
    "path", _markers("stages/*/*.done.json") + _markers("global/*/*-*.done.json")
)
def test_step_result_round_trip_of_old_markers(path: Path) -> None:
    data = json.loads(path.read_text("utf-8"))
    result = StepResult.from_json(data)
    assert result.to_json() == data
    assert result.n_in == data["in"] and result.shard == path.name[: -len(".done.json")]
    assert (
        result.output_hash(f"{result.shard}.arrow")
        == data["files"][f"{result.shard}.arrow"]["xxh3_128"]
    )


def test_ingest_marker_round_trip_of_old_marker() -> None:
    (path,) = _markers("ingest/*/done.json")
    data = json.loads(path.read_text("utf-8"))
    marker = IngestMarker.from_json(data, str(path.parent))
    assert marker.to_json() == data
    refs = marker.shard_refs(0)
    assert [r.index for r in refs] == [0, 1, 2]
    assert refs[0] == ShardRef(
        data["shards"][0]["id"],
        0,
        "in.jsonl",
        str(path.parent / f"{data['shards'][0]['id']}.arrow"),
        data["shards"][0]["rows"],
        data["files"][f"{data['shards'][0]['id']}.arrow"]["xxh3_128"],
    )


def test_markers_of_older_versions_get_defaults() -> None:
    """Keys added over time (read_errors, stat_sums, state, summary) default as documented."""
    old = StepResult.from_json({"shard": "s", "key": "k", "in": 3, "out": 2, "dropped": {"a": 1}})
    assert (old.stat_sums, old.state, old.summary, old.quarantined) == ({}, None, None, 0)
    ingest = IngestMarker.from_json({"path": "p", "records": 5, "quarantined": 2, "shards": []})
    assert ingest.read_errors == 2


def _copy_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the fixture whose input has the identity it had when the fixture was made
    (same bytes and hash; only the absolute path is mapped back)."""
    dest = tmp_path / "run"
    shutil.copytree(FIXTURE, dest, symlinks=True)
    real = ingest.content_identity

    def made_at(path: str) -> list[Any]:
        ident = real(path)
        return [MADE_AT, *ident[1:]] if ident[0] == str(dest / "in.jsonl") else ident

    monkeypatch.setattr(ingest, "content_identity", made_at)
    return dest


def _run(monkeypatch: pytest.MonkeyPatch, folder: Path, force: bool = False) -> dict[str, Any]:
    """Run ``fix.yaml`` in ``folder`` in this process (``workers: 1``: inline executor)."""
    monkeypatch.chdir(folder)
    return run(resolve("fix.yaml"), "fix.yaml", force=force, progress=Progress(show=False))


def _data_hashes(version: Path) -> dict[str, str]:
    """sha256 of every published data/rejected/quarantine file of a version (the records;
    the dedup ``index/`` is newer than the fixture and is checked in test_dedup_index)."""
    return {
        p.relative_to(version).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in ("data", "rejected", "quarantine")
        for p in sorted((version / folder).glob("*.parquet"))
    }


def _marker_bytes(work: Path) -> dict[str, bytes]:
    return {p.relative_to(work).as_posix(): p.read_bytes() for p in work.rglob("*done.json")}


@pytest.fixture
def marker_reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Reads of completion markers (``*done.json``) through ``Path.read_text`` (how
    ``read_json`` and ``intermediates.verify`` read them), per path."""
    reads: Counter[str] = Counter()
    read_text = Path.read_text

    def counting(self: Path, *args: Any, **kwargs: Any) -> str:
        if self.name.endswith("done.json"):
            reads[str(self)] += 1
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting)
    return reads


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the steps the runner hands to workers (ingest, stages, global phases)."""
    calls: list[str] = []
    for name in ("run_ingest", "run_segment", "run_scan", "run_reduce", "run_finalize"):
        real = getattr(runner, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(runner, name, spy)
    return calls


def test_run_of_old_markers_is_nothing_new(monkeypatch, tmp_path, computed) -> None:
    folder = _copy_fixture(tmp_path, monkeypatch)
    result = _run(monkeypatch, folder)
    assert result["status"] == "unchanged"
    assert result["message"].startswith("nothing new: out/fix/v0001")
    assert computed == []


def test_forced_rerun_of_old_markers_recomputes_nothing_and_publishes_same_bytes(
    monkeypatch, tmp_path, computed, marker_reads
) -> None:
    folder = _copy_fixture(tmp_path, monkeypatch)
    work = folder / "out" / "fix" / "_work"
    before = _marker_bytes(work)
    result = _run(monkeypatch, folder, force=True)
    assert [d["version"] for d in result["datasets"]] == ["out/fix/v0002"]
    assert computed == []  # every step resumed from the old markers
    assert _marker_bytes(work) == before
    old = _data_hashes(folder / "out" / "fix" / "v0001")
    assert old and _data_hashes(folder / "out" / "fix" / "v0002") == old
    # the ledger reads every marker of the run once (the code of 31223c1: 68 reads of 19)
    read = {Path(p).resolve() for p in marker_reads}  # the run's paths are relative to cwd
    assert len(read) == len(marker_reads) == len(before) == 19
    assert read == {(work / name).resolve() for name in before}
    assert set(marker_reads.values()) == {1}


def test_fresh_run_reads_no_marker_and_publishes_the_old_bytes(
    monkeypatch, tmp_path, marker_reads
) -> None:
    """From scratch, the driver keeps what the workers return (31223c1: 51 reads of 18)."""
    folder = _copy_fixture(tmp_path, monkeypatch)
    shutil.rmtree(folder / "out")
    result = _run(monkeypatch, folder)
    assert result["status"] == "published"
    assert sum(marker_reads.values()) == 0
    fresh = _data_hashes(folder / "out" / "fix" / "v0001")
    assert fresh == _data_hashes(FIXTURE / "out" / "fix" / "v0001")
    counts = result["datasets"][0]["counts"]
    assert counts == {"input": 61, "kept": 19, "rejected": 41, "quarantined": 1}
    # the card drawn from the workers' results is the card of the markers (sorted keys)
    from data_cards.render import render_card

    version = folder / "out" / "fix" / "v0001"
    manifest = json.loads((version / "manifest.json").read_text("utf-8"))
    assert (version / "README.md").read_text("utf-8") == render_card(manifest)
