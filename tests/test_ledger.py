"""The run ledger: typed markers read what older code wrote, and each marker is read once.

``tests/fixtures/markers/`` is a whole output folder (``out/``: the published ``fix/v0001``
and its ``_work`` markers) made by the code of commit 31223c1 from ``in.jsonl`` (60 lines
of the bundled ``samples/`` plus one broken line) with ``fix.yaml``, run from that folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.ledger import IngestMarker, ShardRef, StepResult

FIXTURE = Path(__file__).parent / "fixtures" / "markers"
WORK = FIXTURE / "out" / "fix" / "_work"


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
