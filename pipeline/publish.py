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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from data_cards.plot_worker import PlotWorker
from pipeline.config import config_hash
from pipeline.io.arrow_files import read_ipc, read_json, write_json, write_parquet
from pipeline.manifest import environment
from pipeline.plan import PlannedStage
from pipeline.shard_tables import load_output
from pipeline.store import DatasetStore
from pipeline.summary import merge, shard_summary

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


def _existing(paths: Iterable[Path]) -> list[Path]:
    return [p for p in paths if p.exists()]


def _file_entry(path: Path, root: Path, rows: int) -> dict[str, Any]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"path": path.relative_to(root).as_posix(), "rows": rows, "bytes": path.stat().st_size,
            "sha256": digest}


def write_outputs(tmp: Path, planned: list[PlannedStage], shards: list[dict[str, Any]],
                  markers: list[dict[str, Any]], level: int, examples_per_reason: int
                  ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Write data/rejected/quarantine parquet; return (file entries, dropped examples)."""
    files: list[dict[str, Any]] = []
    examples: dict[str, list[dict[str, str]]] = {}
    last = Path(planned[-1].step.out_dir)

    def emit(table: pa.Table, rel: str, always: bool = False) -> None:
        if table.num_rows or always:
            write_parquet(tmp / rel, table, level)
            files.append(_file_entry(tmp / rel, tmp, table.num_rows))

    for shard in shards:
        i, sid = shard["index"], shard["id"]
        kept = published_table(load_output(last / f"{sid}.arrow"))
        emit(kept, f"data/part-{i:05d}.parquet", always=True)
        rejected = [published_table(read_ipc(f), ("reason",)) for f in
                    _existing(Path(p.step.out_dir) / f"{sid}.rejected.arrow" for p in planned)]
        rej = pa.concat_tables(rejected) if rejected else pa.table(
            {c: pa.array([], pa.string()) for c in [*OUT_COLUMNS, "reason"]})
        for rid, text, reason in zip(rej["id"].to_pylist(), rej["text"].to_pylist(),
                                     rej["reason"].to_pylist()):
            bucket = examples.setdefault(reason, [])
            if len(bucket) < examples_per_reason:
                bucket.append({"id": rid, "text": text[:EXAMPLE_CHARS]})
        emit(rej, f"rejected/part-{i:05d}.parquet")
        quarantined = [read_ipc(f) for f in _existing(
            Path(p.step.out_dir) / f"{sid}.quarantine.arrow" for p in planned)]
        if quarantined:
            emit(pa.concat_tables(quarantined), f"quarantine/part-{i:05d}.parquet")
    for j, m in enumerate(markers):
        emit(read_ipc(Path(m["dir"]) / "quarantine.arrow"), f"quarantine/read-{j:05d}.parquet")
    return files, examples


def gather_summary(planned: list[PlannedStage], shards: list[dict[str, Any]],
                   markers: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge the workers' shard summaries (computing any a reused marker lacks)."""
    last = Path(planned[-1].step.out_dir)
    kept = []
    for shard in shards:
        done = read_json(last / f"{shard['id']}.done.json")
        kept.append(done.get("summary")
                    or shard_summary(load_output(last / f"{shard['id']}.arrow")))
    inputs = [s["length_hist"] for m in markers for s in m["shards"]]
    return merge(inputs, kept)


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
            shards: list[dict[str, Any]], stages: list[dict[str, Any]], started: float,
            plotter: PlotWorker) -> dict[str, Any]:
    from data_cards.render import render_card

    counts = check_accounting(markers, stages)
    name = store.next_version_name()
    tmp = store.staging_dir(name)
    manifest: dict[str, Any] = {
        "name": config["name"], "version": name, "config_path": config_path,
        "config": config, "config_hash": config_hash(config),
        **environment(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "inputs": [{k: m[k] for k in ("path", "format", "bytes", "sha256", "records",
                                      "quarantined")} for m in markers],
        "counts": counts, "accounting_ok": True, "stages": stages,
        "summary": gather_summary(planned, shards, markers),
    }
    plotter.start(manifest, tmp / "plots")  # drawn while the data files are written
    manifest["outputs"], manifest["examples"] = write_outputs(
        tmp, planned, shards, markers, config["output"]["compression_level"],
        config["card"]["examples_per_reason"])
    manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    manifest["seconds"] = round(time.time() - started, 3)
    write_json(tmp / "manifest.json", manifest)
    (tmp / "README.md").write_text(render_card(manifest), "utf-8")
    plotter.wait()
    final = store.commit(tmp, name)
    return {"status": "published", "version": str(final), "counts": counts, "stages": stages}
