"""Run a resolved config: ingest → stage segments and global phases → accounting → publish.

Everything done is recorded by completion markers under ``<output.dir>/<name>/_work``, so a
run killed at any point and started again skips finished work and ends with the same bytes.
A marker counts only if the files it lists still have their recorded size and xxh3-128
(``pipeline.intermediates``): a corrupted, truncated or missing file is recomputed.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data_cards.plot_worker import PlotWorker
from pipeline.executors import Executor, make_executor
from pipeline.global_phases import (
    ReduceTask,
    ScanTask,
    phase_seconds,
    run_finalize,
    run_reduce,
    run_scan,
)
from pipeline.identity import run_identity
from pipeline.ingest import IngestTask, make_tasks, read_problems, run_ingest
from pipeline.input_paths import expand_inputs
from pipeline.intermediates import clean_stale_tmp, done, output_hash
from pipeline.io.arrow_files import read_json
from pipeline.io.location import is_url
from pipeline.plan import PlannedStage, plan_stages, publish_points
from pipeline.progress import Progress
from pipeline.publish import publish
from pipeline.store import DatasetStore
from pipeline.stores import open_store
from pipeline.worker import SegmentTask, StageStep, run_segment, state_hash

if TYPE_CHECKING:
    from pipeline.remote_store import RemoteDatasetStore

log = logging.getLogger("zhcurate")


class RunError(Exception):
    """A run that cannot finish; the CLI prints it and exits with code 1."""


def ingest(
    config: dict[str, Any], work: Path, executor: Executor, progress: Progress
) -> list[dict[str, Any]]:
    """Ingest every input file (skipping files already ingested); markers in input order."""
    paths = expand_inputs(config["input"]["paths"], config, warn=False)  # resolve warned
    tasks = make_tasks(paths, config["input"], work)
    todo = [t for t in tasks if done(Path(t.out_dir) / t.fingerprint / "done.json") is None]
    bar = progress.bar("read", total=len(tasks), unit="file", initial=len(tasks) - len(todo))
    results = executor.map(run_ingest, todo, on_result=lambda r: bar.update(1), cost=_input_bytes)
    bar.close()
    fresh = {t.fingerprint: r for t, r in zip(todo, results)}  # failed reads have no done.json
    markers = []
    for t in tasks:
        marker = fresh.get(t.fingerprint) or read_json(
            Path(t.out_dir) / t.fingerprint / "done.json"
        )
        marker["dir"] = str(Path(t.out_dir) / t.fingerprint)
        markers.append(marker)
    problem = read_problems(markers, config["executor"]["max_error_fraction"])
    if problem:
        raise RunError(problem)
    return markers


def _input_bytes(task: IngestTask) -> float:
    """Size of an ingest task's input (0 for URLs and folders: not worth a remote stat)."""
    path = Path(task.path)
    return 0 if is_url(task.path) or not path.is_file() else path.stat().st_size


def _done(step: StageStep, shard_id: str, input_hash: str) -> str | None:
    """Hash of the step's verified output for the shard if it is done from an input with
    hash ``input_hash`` (and, for an apply step, from the current state), else None."""
    marker = done(
        Path(step.out_dir) / f"{shard_id}.done.json", input=input_hash, state=state_hash(step)
    )
    return None if marker is None else output_hash(marker, f"{shard_id}.arrow")


def _input_hash(shard: dict[str, Any], input_dir: str | None) -> str:
    """Hash of a shard's input to a segment: the ingested shard, or the previous stage's
    output (verified or written earlier in this run)."""
    if input_dir is None:
        return shard["hash"]
    marker = read_json(Path(input_dir) / f"{shard['id']}.done.json")
    return output_hash(marker, f"{shard['id']}.arrow")


def run_segment_over_shards(
    segment: list[PlannedStage],
    shards: list[dict[str, Any]],
    executor: Executor,
    progress: Progress,
    max_error_fraction: float,
    input_dir: str | None,
) -> None:
    """Submit, per shard, the steps of the segment that are not done yet.

    ``input_dir``: where the segment's input shards are (the previous stage's outputs);
    None for the ingested shards."""
    tasks = []
    bars = {p.key: progress.bar(p.key, unit="rec") for p in segment}
    for shard in shards:
        first, upstream = None, _input_hash(shard, input_dir)
        for i, p in enumerate(segment):
            output = _done(p.step, shard["id"], upstream)
            if output is None:
                first = i
                break
            upstream = output
        if first is None:
            continue
        if first > 0:
            input_path = Path(segment[first - 1].step.out_dir) / f"{shard['id']}.arrow"
        elif input_dir is not None:
            input_path = Path(input_dir) / f"{shard['id']}.arrow"
        else:
            input_path = Path(shard["input"])
        tasks.append(
            SegmentTask(
                shard["id"],
                shard["index"],
                shard["source"],
                str(input_path),
                tuple(p.step for p in segment[first:]),
                upstream,
            )
        )

    def on_result(results: list[dict[str, Any]]) -> None:
        for r in results:
            bars[r["key"]].update(r["in"])

    rows = {s["id"]: s["rows"] for s in shards}
    executor.map(run_segment, tasks, on_result=on_result, cost=lambda t: rows[t.shard_id])
    for bar in bars.values():
        bar.close()
    for total in collect_stage_results(segment, shards):
        if total["quarantined"] > max_error_fraction * max(total["in"], 1):
            raise RunError(
                f"stage {total['name']} quarantined {total['quarantined']} of "
                f"{total['in']} records, more than executor.max_error_fraction="
                f"{max_error_fraction}; see {segment[0].step.out_dir}/*.quarantine"
                ".arrow for the errors"
            )


def run_global_phases(
    planned: PlannedStage,
    shards: list[dict[str, Any]],
    input_dir: str | None,
    executor: Executor,
    progress: Progress,
) -> None:
    """scan (per shard) → reduce (per partition) → finalize, each skipped if verified done
    (a reduce reruns when any scan ran, finalize when any reduce ran)."""
    step = planned.step
    scans = []
    for shard in shards:
        upstream = _input_hash(shard, input_dir)
        if done(Path(step.out_dir) / "scan" / f"{shard['index']:06d}.done.json", input=upstream):
            continue
        src = (Path(input_dir) / f"{shard['id']}.arrow") if input_dir else Path(shard["input"])
        scans.append(ScanTask(step, shard["index"], str(src), upstream))
    bar = progress.bar(
        f"{planned.key} scan", total=len(shards), unit="shard", initial=len(shards) - len(scans)
    )
    rows = [s["rows"] for s in shards]
    executor.map(
        run_scan, scans, on_result=lambda r: bar.update(1), cost=lambda t: rows[t.shard_index]
    )
    bar.close()
    parts = planned.stage.partitions  # type: ignore[attr-defined]
    red = [
        ReduceTask(step, p, len(shards))
        for p in range(parts)
        if scans or done(Path(step.out_dir) / "reduce" / f"p{p:04d}.done.json") is None
    ]
    bar = progress.bar(f"{planned.key} reduce", total=parts, unit="part", initial=parts - len(red))
    executor.map(run_reduce, red, on_result=lambda r: bar.update(1))
    bar.close()
    if red or done(Path(step.out_dir) / "finalize.done.json") is None:
        executor.map(partial(run_finalize, partitions=parts), [step])


def process(
    config: dict[str, Any],
    markers: list[dict[str, Any]],
    store: DatasetStore | RemoteDatasetStore,
    executor: Executor,
    progress: Progress,
) -> tuple[list[PlannedStage], list[dict[str, Any]]]:
    """Run every stage over the ingested shards; returns (planned stages, shards)."""
    shards = []
    for m in markers:
        for s in m["shards"]:
            shards.append(
                {
                    "id": s["id"],
                    "index": len(shards),
                    "source": m["path"],
                    "input": str(Path(m["dir"]) / f"{s['id']}.arrow"),
                    "rows": s["rows"],
                    "hash": output_hash(m, f"{s['id']}.arrow"),
                }
            )
    planned = plan_stages(config, store.work, [s["id"] for s in shards])
    segment: list[PlannedStage] = []
    prev_dir: str | None = None  # output dir of the last stage run so far
    seg_input: str | None = None  # input dir of the current segment (None: ingested shards)
    for p in planned:
        if p.is_global:
            if segment:
                run_segment_over_shards(
                    segment,
                    shards,
                    executor,
                    progress,
                    config["executor"]["max_error_fraction"],
                    seg_input,
                )
                prev_dir = segment[-1].step.out_dir
            segment = []
            run_global_phases(p, shards, prev_dir, executor, progress)
            seg_input = prev_dir
        segment.append(p)
    run_segment_over_shards(
        segment, shards, executor, progress, config["executor"]["max_error_fraction"], seg_input
    )
    return planned, shards


def collect_stage_results(
    planned: list[PlannedStage], shards: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per-stage totals from the completion markers (whichever run wrote them)."""
    out = []
    for p in planned:
        total = {
            "name": p.key,
            "type": p.step.params["type"],
            "fingerprint": p.step.fingerprint,
            "in": 0,
            "out": 0,
            "dropped": {},
            "quarantined": 0,
            "seconds": 0.0,
            "stat_sums": {},
        }
        for s in shards:
            r = read_json(Path(p.step.out_dir) / f"{s['id']}.done.json")
            total["in"] += r["in"]
            total["out"] += r["out"]
            total["quarantined"] += r["quarantined"]
            total["seconds"] += r["seconds"]
            for reason, n in r["dropped"].items():
                total["dropped"][reason] = total["dropped"].get(reason, 0) + n
            for key, v in r.get("stat_sums", {}).items():
                total["stat_sums"][key] = total["stat_sums"].get(key, 0) + v
        total["dropped"] = dict(sorted(total["dropped"].items()))
        if p.is_global:  # apply time above; scan/reduce/finalize from their markers
            total["phase_seconds"] = {**phase_seconds(p.step), "apply": round(total["seconds"], 3)}
            total["seconds"] += sum(v for k, v in total["phase_seconds"].items() if k != "apply")
        total["seconds"] = round(total["seconds"], 3)
        total["stat_sums"] = {k: round(v, 6) for k, v in sorted(total["stat_sums"].items())}
        out.append(total)
    return out


def run(
    config: dict[str, Any],
    config_path: str,
    force: bool = False,
    progress: Progress | None = None,
    plotter: PlotWorker | None = None,
) -> dict[str, Any]:
    """Run and publish every publish point; returns a summary for the CLI.

    ``status``: ``published`` (``datasets`` lists each new version) or ``unchanged`` (every
    dataset already has a version built from this config and these input bytes).
    ``plotter``: a plot helper the caller started early (closed by the caller); else one is
    started here.
    """
    progress = progress or Progress()
    points = publish_points(config)
    stores = {p.dataset: open_store(config["output"], p.dataset) for p in points}
    store = stores.get(config["name"]) or open_store(config["output"], config["name"])
    every = {str(s.root): s for s in (store, *stores.values())}
    started = time.time()
    with ExitStack() as locks:
        for root in sorted(every):  # one order for every run: no lock-order deadlock
            locks.enter_context(every[root].lock())
        for s in every.values():
            s.clean_partial_versions()
        clean_stale_tmp(store.work)  # temp files of writes killed in an earlier run
        own_plotter = plotter is None
        plotter = plotter or PlotWorker()
        executor = make_executor(config["executor"])
        try:
            markers = ingest(config, store.work, executor, progress)
            shas = [m["sha256"] for m in markers]
            identity = run_identity(config)
            same = [stores[p.dataset].find_same_run(identity, shas) for p in points]
            if all(same) and not force:
                listed = ", ".join(str(v) for v in same)
                return {
                    "status": "unchanged",
                    "versions": [str(v) for v in same],
                    "message": f"nothing new: {listed} already built from this config and "
                    "input (use --force to publish again)",
                }
            planned, shards = process(config, markers, store, executor, progress)
            stages = collect_stage_results(planned, shards)
            # each shard's files are written by an executor task (parallel, and on the
            # cluster under Ray); the driver only merges entries and writes the manifest/card
            published = [
                publish(
                    config,
                    config_path,
                    stores[p.dataset],
                    p,
                    markers,
                    planned,
                    shards,
                    stages,
                    started,
                    plotter,
                    executor,
                )
                for p, v in zip(points, same)
                if force or v is None
            ]
            return {"status": "published", "datasets": published, "stages": stages}
        finally:
            executor.close()
            if own_plotter:
                plotter.close()
