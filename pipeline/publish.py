"""Publish a finished run as an immutable version: data files, manifest, card, plots.

Files: ``data/part-NNNNN.parquet`` (kept, one per shard), ``rejected/part-NNNNN.parquet``
(every stage's drops for that shard, with ``reason``), ``quarantine/read-NNNNN.parquet``
(per input file) and ``quarantine/part-NNNNN.parquet`` (stage errors). The published
columns are ``id, text, meta, stats`` (+ ``reason``): ``meta`` and ``stats`` are JSON
strings, ``stats`` = ``{stage: {measurement: value}}``.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.config import config_hash
from pipeline.io.arrow_files import read_ipc, write_json, write_parquet
from pipeline.manifest import Summary, environment
from pipeline.plan import PlannedStage
from pipeline.store import DatasetStore

OUT_COLUMNS = ["id", "text", "meta", "stats"]
EXAMPLE_CHARS = 160


class AccountingError(Exception):
    """input != kept + rejected + quarantined: a record went missing."""


def merge_stats(table: pa.Table) -> pa.Array:
    """Fold the ``stats.<stage>`` JSON columns into one JSON object per row."""
    cols = [(c[len("stats."):], table[c].to_pylist()) for c in table.column_names
            if c.startswith("stats.")]
    keys = [f'"{k}":' for k, _ in cols]
    out = []
    for i in range(table.num_rows):
        parts = [k + vals[i] for k, (_, vals) in zip(keys, cols) if vals[i] is not None]
        out.append("{" + ",".join(parts) + "}")
    return pa.array(out, pa.string())


def published_table(table: pa.Table, extra: tuple[str, ...] = ()) -> pa.Table:
    cols = {"id": table["id"], "text": table["text"], "meta": table["meta"],
            "stats": merge_stats(table)}
    for name in extra:
        cols[name] = table[name]
    return pa.table(cols)


def _file_entry(path: Path, root: Path, rows: int) -> dict[str, Any]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"path": path.relative_to(root).as_posix(), "rows": rows, "bytes": path.stat().st_size,
            "sha256": digest}


def write_outputs(tmp: Path, planned: list[PlannedStage], shards: list[dict[str, Any]],
                  markers: list[dict[str, Any]], level: int, examples_per_reason: int
                  ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Write data/rejected/quarantine parquet; return (file entries, card material)."""
    files: list[dict[str, Any]] = []
    examples: dict[str, list[dict[str, str]]] = {}
    summary = Summary()
    last = Path(planned[-1].step.out_dir)

    def emit(table: pa.Table, rel: str, always: bool = False) -> None:
        if table.num_rows or always:
            write_parquet(tmp / rel, table, level)
            files.append(_file_entry(tmp / rel, tmp, table.num_rows))

    for shard in shards:
        i, sid = shard["index"], shard["id"]
        final = read_ipc(last / f"{sid}.arrow")
        summary.add_input(read_ipc(Path(shard["input"]))["text"])
        summary.add_kept(final)
        kept = published_table(final)
        emit(kept, f"data/part-{i:05d}.parquet", always=True)
        rejected = [published_table(read_ipc(Path(p.step.out_dir) / f"{sid}.rejected.arrow"),
                                    ("reason",)) for p in planned]
        rej = pa.concat_tables(rejected)
        for rid, text, reason in zip(rej["id"].to_pylist(), rej["text"].to_pylist(),
                                     rej["reason"].to_pylist()):
            bucket = examples.setdefault(reason, [])
            if len(bucket) < examples_per_reason:
                bucket.append({"id": rid, "text": text[:EXAMPLE_CHARS]})
        emit(rej, f"rejected/part-{i:05d}.parquet")
        quarantined = pa.concat_tables(
            [read_ipc(Path(p.step.out_dir) / f"{sid}.quarantine.arrow") for p in planned])
        emit(quarantined, f"quarantine/part-{i:05d}.parquet")
    for j, m in enumerate(markers):
        emit(read_ipc(Path(m["dir"]) / "quarantine.arrow"), f"quarantine/read-{j:05d}.parquet")
    return files, {"examples": examples, "summary": summary.result()}


def check_accounting(markers: list[dict[str, Any]], stages: list[dict[str, Any]]
                     ) -> dict[str, int]:
    counts = {"input": sum(m["records"] for m in markers),
              "kept": stages[-1]["out"],
              "rejected": sum(sum(s["dropped"].values()) for s in stages),
              "quarantined": sum(m["quarantined"] for m in markers)
              + sum(s["quarantined"] for s in stages)}
    if counts["input"] != counts["kept"] + counts["rejected"] + counts["quarantined"]:
        raise AccountingError(f"records unaccounted for: input {counts['input']} != kept "
                              f"{counts['kept']} + rejected {counts['rejected']} + quarantined "
                              f"{counts['quarantined']}")
    return counts


def publish(config: dict[str, Any], config_path: str, store: DatasetStore,
            markers: list[dict[str, Any]], planned: list[PlannedStage],
            shards: list[dict[str, Any]], stages: list[dict[str, Any]], started: float
            ) -> dict[str, Any]:
    from data_cards.render import render_card, render_plots

    counts = check_accounting(markers, stages)
    name = store.next_version_name()
    tmp = store.staging_dir(name)
    files, samples = write_outputs(tmp, planned, shards, markers,
                                   config["output"]["compression_level"],
                                   config["card"]["examples_per_reason"])
    manifest = {
        "name": config["name"], "version": name, "config_path": config_path,
        "config": config, "config_hash": config_hash(config),
        **environment(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.time() - started, 3),
        "inputs": [{k: m[k] for k in ("path", "format", "bytes", "sha256", "records",
                                      "quarantined")} for m in markers],
        "counts": counts, "accounting_ok": True,
        "stages": stages, "outputs": files,
        "examples": samples["examples"],
        "summary": samples["summary"],
    }
    write_json(tmp / "manifest.json", manifest)
    render_plots(manifest, tmp / "plots")
    (tmp / "README.md").write_text(render_card(manifest), "utf-8")
    final = store.commit(tmp, name)
    return {"status": "published", "version": str(final), "counts": counts, "stages": stages}
