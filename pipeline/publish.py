"""Publish a finished run as immutable versions: data files, manifest, card, plots.

A run publishes one version per publish point (see :func:`pipeline.plan.publish_points`):
the curated corpus, and for synthesis configs the generated sets (e.g. SFT, preferences).

Files: ``data/part-NNNNN.parquet`` (kept, one per shard), ``rejected/part-NNNNN.parquet``
(every stage's drops for that shard, with ``reason``), ``quarantine/read-NNNNN.parquet``
(per input file), ``quarantine/part-NNNNN.parquet`` (stage errors) and, for dedup stages,
``index/<stage>/part-NNNNN.parquet`` (see ``pipeline.publish_index``). The published
columns are ``id, text, meta, stats`` (+ ``reason``; generated datasets put the columns of
their layout first: see ``pipeline.export``): ``meta`` and ``stats`` are JSON
strings, ``stats`` = ``{stage: {measurement: value}}``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data_cards.plot_worker import PlotWorker
from pipeline.executors import Executor
from pipeline.export import layout_stage, span_format
from pipeline.identity import config_hash, run_identity
from pipeline.io.arrow_files import read_ipc, write_json, write_parquet
from pipeline.ledger import IngestMarker, RunLedger, ShardRef
from pipeline.llm_report import add_entries, ordered, synthesis_report
from pipeline.manifest import environment
from pipeline.plan import PlannedStage, PublishPoint
from pipeline.publish_index import write_indexes
from pipeline.publish_shards import (
    ShardOutputTask,
    file_entry,
    published_table,
    write_shard_outputs,
)
from pipeline.redact import redact_config, redact_url
from pipeline.shard_tables import load_output
from pipeline.store import DatasetStore
from pipeline.summary import merge, shard_summary

if TYPE_CHECKING:
    from pipeline.remote_store import RemoteDatasetStore

OUT_COLUMNS = ["id", "text", "meta", "stats"]
#: What the manifest's ``inputs`` list of each input file (its ingest marker's fields).
INPUT_FIELDS = ("path", "format", "bytes", "sha256", "records", "quarantined")


class AccountingError(Exception):
    """input != kept + rejected + quarantined: a record went missing."""


def _merge_examples(
    into: dict[str, list[dict[str, str]]], part: dict[str, list[dict[str, str]]], limit: int
) -> None:
    for reason, items in part.items():
        bucket = into.setdefault(reason, [])
        bucket.extend(items[: max(0, limit - len(bucket))])


def write_outputs(
    tmp: Path,
    span: list[PlannedStage],
    shards: list[ShardRef],
    read_markers: list[IngestMarker],
    level: int,
    examples_per_reason: int,
    engines: dict[bytes, dict[str, Any]] | None = None,
    executor: Executor | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Write data/rejected/quarantine parquet for the stages in ``span`` (and the read
    quarantine when given); return (file entries, dropped examples per reason). Each shard is
    one task on ``executor`` (inline without one); results are merged in shard order. With
    ``engines``, collect the LLM provenance of every published row into it."""
    layout = layout_stage(span)
    step_dirs = tuple(p.step.out_dir for p in span)
    tasks = [
        ShardOutputTask(
            str(tmp),
            s.index,
            s.id,
            step_dirs,
            level,
            layout,
            examples_per_reason,
            engines is not None,
        )
        for s in shards
    ]
    rows = [s.rows for s in shards]
    results = (
        executor.map(write_shard_outputs, tasks, cost=lambda t: rows[t.index])
        if executor is not None
        else [write_shard_outputs(t) for t in tasks]
    )
    files: list[dict[str, Any]] = []
    examples: dict[str, list[dict[str, str]]] = {}
    for result in results:
        files.extend(result["files"])
        _merge_examples(examples, result["examples"], examples_per_reason)
        if engines is not None:
            add_entries(engines, result["engines"])
    if shards and not any(f["path"].startswith("data/") for f in files):
        # no record kept: one empty data file (datasets' loader needs a file, not zero)
        last = shards[-1]
        rel = f"data/part-{last.index:05d}.parquet"
        empty = load_output(Path(step_dirs[-1]) / f"{last.id}.arrow")
        write_parquet(tmp / rel, published_table(empty, layout=layout), level)
        at = next(
            (k for k, f in enumerate(files) if f["path"].endswith(rel[len("data/") :])), len(files)
        )  # where the loop over shards would have put it
        files.insert(at, file_entry(tmp / rel, tmp, 0))
    for j, m in enumerate(read_markers):
        table = read_ipc(Path(m.dir) / "quarantine.arrow")
        if table.num_rows:
            rel = f"quarantine/read-{j:05d}.parquet"
            write_parquet(tmp / rel, table, level)
            files.append(file_entry(tmp / rel, tmp, table.num_rows))
    return files, examples


def gather_summary(
    step_dir: str, shards: list[ShardRef], input_hists: list[list[int]], ledger: RunLedger
) -> dict[str, Any]:
    """Merge the workers' shard summaries (computing any that a reused marker lacks)."""
    kept = []
    for shard in shards:
        summary = ledger.step(step_dir, shard.id).summary
        kept.append(summary or shard_summary(load_output(Path(step_dir) / f"{shard.id}.arrow")))
    return merge(input_hists, kept)


def count_records(
    point: PublishPoint, markers: list[IngestMarker], stages: list[dict[str, Any]]
) -> dict[str, int]:
    """input = kept + rejected + quarantined over the point's span, or AccountingError."""
    first = point.start if point.start is not None else 0
    span = stages[first : point.index + 1]
    if point.start is None:
        counts = {
            "input": sum(m.records for m in markers),
            "quarantined": sum(m.quarantined for m in markers),
        }
    else:  # every record the generating stage emitted, kept or not
        g = stages[point.start]
        counts = {
            "input": g["out"] + sum(g["dropped"].values()) + g["quarantined"],
            "quarantined": 0,
        }
    counts = {
        "input": counts["input"],
        "kept": span[-1]["out"],
        "rejected": sum(sum(s["dropped"].values()) for s in span),
        "quarantined": counts["quarantined"] + sum(s["quarantined"] for s in span),
    }
    if counts["input"] != counts["kept"] + counts["rejected"] + counts["quarantined"]:
        raise AccountingError(
            f"{point.dataset}: records unaccounted for: input "
            f"{counts['input']} != kept {counts['kept']} + rejected "
            f"{counts['rejected']} + quarantined {counts['quarantined']}"
        )
    return counts


def publish(
    config: dict[str, Any],
    config_path: str,
    store: DatasetStore | RemoteDatasetStore,
    point: PublishPoint,
    markers: list[IngestMarker],
    planned: list[PlannedStage],
    shards: list[ShardRef],
    stages: list[dict[str, Any]],
    ledger: RunLedger,
    started: float,
    plotter: PlotWorker,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Publish the records after ``point.index`` as the next version of ``point.dataset``.

    ``stages``: the run's stage totals (``runner.collect_stage_results``); ``ledger``: the
    run's markers (the card summary is read from it)."""
    from data_cards.render import render_card

    counts = count_records(point, markers, stages)
    first = point.start if point.start is not None else 0
    span, span_stats = planned[first : point.index + 1], stages[first : point.index + 1]
    read_markers = markers if point.start is None else []
    if point.start is None:
        input_hists = [list(s.length_hist) for m in markers for s in m.shards]
    else:
        input_hists = []
    name = store.next_version_name()
    tmp = store.staging_dir(name)
    manifest: dict[str, Any] = {
        "name": point.dataset,
        "version": name,
        "config_name": config["name"],
        "config_path": redact_url(config_path),
        "config": redact_config(config),
        "config_hash": config_hash(config),
        "run_identity": run_identity(config),
        "published_after_stage": span[-1].key,
        **environment(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "inputs": [redact_config({k: getattr(m, k) for k in INPUT_FIELDS}) for m in markers],
        "counts": counts,
        "accounting_ok": True,
        "stages": span_stats,
        "synthetic": point.start is not None,
        "summary": gather_summary(span[-1].step.out_dir, shards, input_hists, ledger),
    }
    plotter.start(manifest, tmp / "plots")  # drawn while the data files are written
    engines: dict[bytes, dict[str, Any]] | None = {} if manifest["synthetic"] else None
    manifest["outputs"], manifest["examples"] = write_outputs(
        tmp,
        span,
        shards,
        read_markers,
        config["output"]["compression_level"],
        config["card"]["examples_per_reason"],
        engines,
        executor,
    )
    manifest["index"] = write_indexes(
        tmp,
        planned,
        first,
        point.index,
        shards,
        config["output"]["compression_level"],
        executor,
    )
    if engines is not None:
        manifest["synthesis"] = redact_config(
            synthesis_report(span_stats, ordered(engines), span_format(span))
        )
    manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    manifest["seconds"] = round(time.time() - started, 3)
    write_json(tmp / "manifest.json", manifest)
    (tmp / "README.md").write_text(render_card(manifest), "utf-8")
    plotter.wait()
    final = store.commit(tmp, name, executor)
    return {
        "dataset": point.dataset,
        "status": "published",
        "version": str(final),
        "counts": counts,
        "stages": span_stats,
    }
