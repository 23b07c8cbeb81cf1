"""Run one global stage over in-memory shards through the production path (tests, benchmarks).

The shards are written as ingest shards, then the runner's own ``run_global_phases`` (scan →
reduce → finalize, as files) and ``run_segment`` (apply) run them with a one-worker local
executor (inline, no pool). The docs passed in are updated from the published outcome: their
text and meta as the stage left them, ``reason`` for rejected ones (without the ``type:``
prefix) and ``stats`` as the stage measured them.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import pyarrow as pa

from pipeline.executors.local import LocalExecutor
from pipeline.intermediates import file_hash
from pipeline.io.arrow_files import read_ipc, write_ipc
from pipeline.ledger import RunLedger, ShardRef
from pipeline.plan import plan_stages
from pipeline.progress import Progress
from pipeline.record import Doc
from pipeline.runner import run_global_phases
from pipeline.shard_tables import load_output
from pipeline.stage import GlobalStage
from pipeline.worker import SegmentTask, run_segment


def _params(stage: GlobalStage) -> dict[str, object]:
    return {"type": type(stage).name, **stage.non_default_params(), **_operational(stage)}


def _operational(stage: GlobalStage) -> dict[str, object]:
    return {k: getattr(stage, k) for k in type(stage).operational if hasattr(stage, k)}


def run_global(stage: GlobalStage, shards: list[list[Doc]], work: Path | None = None) -> pa.Table:
    """Run ``stage`` over ``shards`` (in place, see the module docstring); return its state."""
    if work is None:
        with tempfile.TemporaryDirectory() as tmp:
            return run_global(stage, shards, Path(tmp))
    ids = [f"s{s:05d}-{_digest(docs)}" for s, docs in enumerate(shards)]
    infos = []
    for s, (sid, docs) in enumerate(zip(ids, shards)):
        path = work / "in" / f"{sid}.arrow"
        table = pa.table(
            {
                "id": pa.array([d.id for d in docs], pa.string()),
                "text": pa.array([d.text for d in docs], pa.string()),
                "meta": pa.array([d.meta_out() for d in docs], pa.string()),
            }
        )
        write_ipc(path, table)
        infos.append(ShardRef(sid, s, "inline", str(path), len(docs), file_hash(path)))
    opts = ("format", "text_field", "id_field", "max_record_bytes", "shard_size")
    config = {"name": "inline", "input": dict.fromkeys(opts, "test"), "stages": [_params(stage)]}
    (planned,) = plan_stages(config, work / "work", ids)
    executor = LocalExecutor(workers=1)
    run_global_phases(planned, infos, None, executor, Progress(show=False), RunLedger())
    for info in infos:
        run_segment(
            SegmentTask(info.id, info.index, "inline", info.input, (planned.step,), info.hash)
        )
    out = Path(planned.step.out_dir)
    for sid, docs in zip(ids, shards):
        _update(docs, out, sid, planned.key)
    return read_ipc(out / "state.arrow")


def _digest(docs: list[Doc]) -> str:
    """Content hash of a shard: as in a real run, other input means another fingerprint (the
    worker caches stage instances and prepared states by fingerprint)."""
    blob = json.dumps([[d.id, d.text, d.meta_out()] for d in docs], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _update(docs: list[Doc], out: Path, sid: str, key: str) -> None:
    tables = [load_output(out / f"{sid}.arrow")]
    rejected = out / f"{sid}.rejected.arrow"
    if rejected.exists():
        tables.append(read_ipc(rejected))
    rows = {}
    for table in tables:
        for row in table.to_pylist():
            rows[row["id"]] = row
    for d in docs:
        row = rows[d.id]
        d.text = row["text"]
        d.meta_json, d._meta = row["meta"] or "{}", None
        d.reason = row["reason"].split(":", 1)[1] if row.get("reason") else None
        stats = row.get(f"stats.{key}")
        d.stats = json.loads(stats) if stats else {}
