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
from pipeline.global_phases import ReduceTask, ScanTask, run_finalize, run_reduce, run_scan
from pipeline.identity import run_identity
from pipeline.ingest import IngestTask, make_tasks, read_problems, run_ingest
from pipeline.input_paths import expand_inputs
from pipeline.intermediates import clean_stale_tmp
from pipeline.io.location import is_url
from pipeline.ledger import IngestMarker, RunLedger, ShardRef, StepResult
from pipeline.plan import PlannedStage, plan_stages, publish_points
from pipeline.progress import Progress
from pipeline.publish import publish
from pipeline.store import DatasetStore
from pipeline.stores import open_store
from pipeline.worker import SegmentTask, StageStep, run_segment

if TYPE_CHECKING:
    from pipeline.remote_store import RemoteDatasetStore

log = logging.getLogger("zhcurate")


class RunError(Exception):
    """A run that cannot finish; the CLI prints it and exits with code 1."""


def ingest(
    config: dict[str, Any], work: Path, executor: Executor, progress: Progress, ledger: RunLedger
) -> list[IngestMarker]:
    """Ingest every input file (skipping files already ingested); markers in input order."""
    paths = expand_inputs(config["input"]["paths"], config, warn=False)  # resolve warned
    tasks = make_tasks(paths, config["input"], work)
    folders = [str(Path(t.out_dir) / t.fingerprint) for t in tasks]
    verified = {f: ledger.verified_ingest(f) for f in folders}
    todo = [t for t, f in zip(tasks, folders) if verified[f] is None]
    bar = progress.bar("read", total=len(tasks), unit="file", initial=len(tasks) - len(todo))
    results = executor.map(run_ingest, todo, on_result=lambda r: bar.update(1), cost=_input_bytes)
    bar.close()
    for t, r in zip(todo, results):  # failed reads have no done.json (r has io_error)
        folder = str(Path(t.out_dir) / t.fingerprint)
        verified[folder] = ledger.record_ingest(folder, r)
    markers = [m for m in (verified[f] for f in folders) if m is not None]
    problem = read_problems(markers, config["executor"]["max_error_fraction"])
    if problem:
        raise RunError(problem)
    return markers


def _input_bytes(task: IngestTask) -> float:
    """Size of an ingest task's input (0 for URLs and folders: not worth a remote stat)."""
    path = Path(task.path)
    return 0 if is_url(task.path) or not path.is_file() else path.stat().st_size


def _done(step: StageStep, shard_id: str, input_hash: str, ledger: RunLedger) -> str | None:
    """Hash of the step's verified output for the shard if it is done from an input with
    hash ``input_hash`` (and, for an apply step, from the current state), else None."""
    result = ledger.verified_step(
        step.out_dir, shard_id, input=input_hash, state=ledger.state_hash(step.state_path)
    )
    return None if result is None else result.output_hash(f"{shard_id}.arrow")


def _input_hash(shard: ShardRef, input_dir: str | None, ledger: RunLedger) -> str:
    """Hash of a shard's input to a segment: the ingested shard, or the previous stage's
    output (verified or written earlier in this run)."""
    if input_dir is None:
        return shard.hash
    return ledger.step(input_dir, shard.id).output_hash(f"{shard.id}.arrow")


def run_segment_over_shards(
    segment: list[PlannedStage],
    shards: list[ShardRef],
    executor: Executor,
    progress: Progress,
    max_error_fraction: float,
    input_dir: str | None,
    ledger: RunLedger,
) -> None:
    """Submit, per shard, the steps of the segment that are not done yet.

    ``input_dir``: where the segment's input shards are (the previous stage's outputs);
    None for the ingested shards."""
    tasks = []
    bars = {p.key: progress.bar(p.key, unit="rec") for p in segment}
    for shard in shards:
        first, upstream = None, _input_hash(shard, input_dir, ledger)
        for i, p in enumerate(segment):
            output = _done(p.step, shard.id, upstream, ledger)
            if output is None:
                first = i
                break
            upstream = output
        if first is None:
            continue
        if first > 0:
            input_path = Path(segment[first - 1].step.out_dir) / f"{shard.id}.arrow"
        elif input_dir is not None:
            input_path = Path(input_dir) / f"{shard.id}.arrow"
        else:
            input_path = Path(shard.input)
        tasks.append(
            SegmentTask(
                shard.id,
                shard.index,
                shard.source,
                str(input_path),
                tuple(p.step for p in segment[first:]),
                upstream,
                tuple(ledger.state_hash(p.step.state_path) for p in segment[first:]),
            )
        )

    def on_result(results: list[StepResult]) -> None:
        for r in results:
            bars[r.key].update(r.n_in)

    rows = {s.id: s.rows for s in shards}
    results = executor.map(run_segment, tasks, on_result=on_result, cost=lambda t: rows[t.shard_id])
    for task, done_steps in zip(tasks, results):
        ledger.record_steps([s.out_dir for s in task.steps], done_steps)
    for bar in bars.values():
        bar.close()
    for total in collect_stage_results(segment, shards, ledger):
        if total["quarantined"] > max_error_fraction * max(total["in"], 1):
            raise RunError(
                f"stage {total['name']} quarantined {total['quarantined']} of "
                f"{total['in']} records, more than executor.max_error_fraction="
                f"{max_error_fraction}; see {segment[0].step.out_dir}/*.quarantine"
                ".arrow for the errors"
            )


def _scan_marker(step: StageStep, index: int) -> Path:
    return Path(step.out_dir) / "scan" / f"{index:06d}.done.json"


def _reduce_marker(step: StageStep, part: int) -> Path:
    return Path(step.out_dir) / "reduce" / f"p{part:04d}.done.json"


def run_global_phases(
    planned: PlannedStage,
    shards: list[ShardRef],
    input_dir: str | None,
    executor: Executor,
    progress: Progress,
    ledger: RunLedger,
) -> None:
    """scan (per shard) → reduce (per partition) → finalize, each skipped if verified done
    (a reduce reruns when any scan ran, finalize when any reduce ran)."""
    step = planned.step
    scans = []
    for shard in shards:
        upstream = _input_hash(shard, input_dir, ledger)
        if ledger.verified_phase(_scan_marker(step, shard.index), input=upstream):
            continue
        src = (Path(input_dir) / f"{shard.id}.arrow") if input_dir else Path(shard.input)
        scans.append(ScanTask(step, shard.index, str(src), upstream))
    bar = progress.bar(
        f"{planned.key} scan", total=len(shards), unit="shard", initial=len(shards) - len(scans)
    )
    rows = [s.rows for s in shards]
    results = executor.map(
        run_scan, scans, on_result=lambda r: bar.update(1), cost=lambda t: rows[t.shard_index]
    )
    for scan, r in zip(scans, results):
        ledger.record_phase(_scan_marker(step, scan.shard_index), r)
    bar.close()
    parts = planned.stage.partitions  # type: ignore[attr-defined]
    red = [
        ReduceTask(step, p, len(shards))
        for p in range(parts)
        if scans or ledger.verified_phase(_reduce_marker(step, p)) is None
    ]
    bar = progress.bar(f"{planned.key} reduce", total=parts, unit="part", initial=parts - len(red))
    results = executor.map(run_reduce, red, on_result=lambda r: bar.update(1))
    for task, r in zip(red, results):
        ledger.record_phase(_reduce_marker(step, task.part), r)
    bar.close()
    finalize = Path(step.out_dir) / "finalize.done.json"
    if red or ledger.verified_phase(finalize) is None:
        (r,) = executor.map(partial(run_finalize, partitions=parts), [step])
        ledger.record_phase(finalize, r)


def shard_refs(markers: list[IngestMarker]) -> list[ShardRef]:
    """Every ingested shard, numbered in input order."""
    shards: list[ShardRef] = []
    for m in markers:
        shards.extend(m.shard_refs(len(shards)))
    return shards


def process(
    config: dict[str, Any],
    markers: list[IngestMarker],
    store: DatasetStore | RemoteDatasetStore,
    executor: Executor,
    progress: Progress,
    ledger: RunLedger,
) -> tuple[list[PlannedStage], list[ShardRef]]:
    """Run every stage over the ingested shards; returns (planned stages, shards)."""
    shards = shard_refs(markers)
    planned = plan_stages(config, store.work, [s.id for s in shards])
    segment: list[PlannedStage] = []
    prev_dir: str | None = None  # output dir of the last stage run so far
    seg_input: str | None = None  # input dir of the current segment (None: ingested shards)
    fraction = config["executor"]["max_error_fraction"]

    def run_maps(segment: list[PlannedStage], input_dir: str | None) -> None:
        run_segment_over_shards(segment, shards, executor, progress, fraction, input_dir, ledger)

    for p in planned:
        if p.is_global:
            if segment:
                run_maps(segment, seg_input)
                prev_dir = segment[-1].step.out_dir
            segment = []
            run_global_phases(p, shards, prev_dir, executor, progress, ledger)
            seg_input = prev_dir
        segment.append(p)
    run_maps(segment, seg_input)
    return planned, shards


def collect_stage_results(
    planned: list[PlannedStage], shards: list[ShardRef], ledger: RunLedger
) -> list[dict[str, Any]]:
    """Per-stage totals (the manifest's ``stages``) from the ledger's markers (whichever run
    wrote them): seconds rounded to ms, stat sums to 6 decimals."""
    return [_stage_total(p, ledger, shards) for p in planned]


def _stage_total(p: PlannedStage, ledger: RunLedger, shards: list[ShardRef]) -> dict[str, Any]:
    c = ledger.totals(p.step.out_dir, shards)
    total: dict[str, Any] = {
        "name": p.key,
        "type": p.step.params["type"],
        "fingerprint": p.step.fingerprint,
        "in": c.n_in,
        "out": c.out,
        "dropped": c.dropped,
        "quarantined": c.quarantined,
        "seconds": c.seconds,
        "stat_sums": c.stat_sums,
    }
    if p.is_global:  # apply time above; scan/reduce/finalize from their markers
        phases = ledger.phase_seconds(p.step.out_dir)
        total["phase_seconds"] = {**phases, "apply": round(total["seconds"], 3)}
        total["seconds"] += sum(phases.values())
    total["seconds"] = round(total["seconds"], 3)
    total["stat_sums"] = {k: round(v, 6) for k, v in sorted(c.stat_sums.items())}
    return total


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
            ledger = RunLedger()
            markers = ingest(config, store.work, executor, progress, ledger)
            shas = [m.sha256 for m in markers]
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
            planned, shards = process(config, markers, store, executor, progress, ledger)
            stages = collect_stage_results(planned, shards, ledger)
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
                    ledger,
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
