"""The per-shard half of publishing: one task per shard writes that shard's published files.

``write_shard_outputs`` runs in an executor worker (a pool process or a Ray task), so writing
parquet and hashing it scale with the cluster instead of running in the driver. It writes
into the version's staging folder (on the shared output filesystem) and returns small
dicts: the file entries for the manifest, the first dropped examples per reason, and (for
generated datasets) the LLM provenance it saw. The driver merges them in shard order, so the
manifest and the files are the same whatever ran where.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.gc_pause import without_gc
from pipeline.io.arrow_files import read_ipc, write_parquet
from pipeline.llm_report import add_provenance, ordered
from pipeline.registry import STAGES
from pipeline.shard_tables import load_output

#: Characters of a dropped record's text shown as an example in the card.
EXAMPLE_CHARS = 160


def merge_stats(table: pa.Table) -> pa.Array:
    """Fold the ``stats.<stage>`` JSON columns into one JSON object per row (``{}`` when no
    stage measured the row), column-wise: ``{"<stage>":<json>,...}`` skipping null cells."""
    cols = [c for c in table.column_names if c.startswith("stats.")]
    if not cols:
        return pa.array(["{}"] * table.num_rows, pa.string())
    import pyarrow.compute as pc

    # '"<stage>":<json>,' per non-null cell, '' per null, concatenated; the last comma goes
    # (every cell is a JSON object, ending in '}'). Not join(null_handling="skip"): in
    # pyarrow 26 it drops rows whose cells are all null.
    pieces = [
        pc.fill_null(pc.binary_join_element_wise(f'"{c[len("stats.") :]}":', table[c], ",", ""), "")
        for c in cols
    ]
    body = pc.utf8_rtrim(pc.binary_join_element_wise(*pieces, ""), characters=",")
    return pc.binary_join_element_wise("{", body, "}", "").combine_chunks()


def published_table(table: pa.Table, extra: tuple[str, ...] = (), layout: str = "") -> pa.Table:
    """Published columns: the columns of the layout of stage ``layout`` (a registry name, ""
    for the corpus layout; see ``pipeline.export``), then ``id, text, meta, stats`` and
    ``extra`` (e.g. ``reason``)."""
    cols = {
        **(STAGES[layout].export_columns(table) if layout else {}),
        "id": table["id"],
        "text": table["text"],
        "meta": table["meta"],
        "stats": merge_stats(table),
    }
    for name in extra:
        cols[name] = table[name]
    return pa.table(cols)


def file_entry(path: Path, root: Path, rows: int) -> dict[str, Any]:
    """The manifest's record of one published file: path, rows, bytes, sha256."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {
        "path": path.relative_to(root).as_posix(),
        "rows": rows,
        "bytes": path.stat().st_size,
        "sha256": digest,
    }


@dataclass(frozen=True)
class ShardOutputTask:
    """Publish shard ``index``: its kept rows after the last stage of ``step_dirs`` and the
    rejected/quarantined rows of every stage in ``step_dirs``."""

    tmp: str
    index: int
    shard_id: str
    step_dirs: tuple[str, ...]
    level: int
    layout: str
    examples_per_reason: int
    collect_provenance: bool


@without_gc
def write_shard_outputs(task: ShardOutputTask) -> dict[str, Any]:
    """Write ``data/``, ``rejected/`` and ``quarantine/`` parquet of one shard (a file only
    when it has rows); return file entries, examples per reason and provenance entries."""
    tmp, i, sid = Path(task.tmp), task.index, task.shard_id
    files: list[dict[str, Any]] = []
    examples: dict[str, list[dict[str, str]]] = {}
    engines: dict[bytes, dict[str, Any]] = {}

    def emit(table: pa.Table, rel: str) -> None:
        if table.num_rows:
            write_parquet(tmp / rel, table, task.level)
            files.append(file_entry(tmp / rel, tmp, table.num_rows))

    kept = load_output(Path(task.step_dirs[-1]) / f"{sid}.arrow")
    emit(published_table(kept, layout=task.layout), f"data/part-{i:05d}.parquet")
    rejected = [
        published_table(read_ipc(f), ("reason",))
        for f in (Path(d) / f"{sid}.rejected.arrow" for d in task.step_dirs)
        if f.exists()
    ]
    if task.collect_provenance:
        add_provenance(engines, kept["meta"].to_pylist())
        for rej in rejected:
            add_provenance(engines, rej["meta"].to_pylist())
    if rejected:
        rej = pa.concat_tables(rejected)
        for rid, text, reason in zip(
            rej["id"].to_pylist(), rej["text"].to_pylist(), rej["reason"].to_pylist()
        ):
            bucket = examples.setdefault(reason, [])
            if len(bucket) < task.examples_per_reason:
                bucket.append({"id": rid, "text": text[:EXAMPLE_CHARS]})
        emit(rej, f"rejected/part-{i:05d}.parquet")
    quarantined = [
        read_ipc(f)
        for f in (Path(d) / f"{sid}.quarantine.arrow" for d in task.step_dirs)
        if f.exists()
    ]
    if quarantined:
        emit(pa.concat_tables(quarantined), f"quarantine/part-{i:05d}.parquet")
    return {"files": files, "examples": examples, "engines": ordered(engines)}
