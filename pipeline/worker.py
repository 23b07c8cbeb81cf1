"""Work that runs inside an executor's worker: a chain of stages over one shard.

The functions here take small picklable task objects and return small dicts, so any
executor (process pool, Ray tasks) can run them. Each stage's output for a shard is written
atomically with a completion marker written last; the marker records the size and xxh3-128 of
every file written and the hash of the input read (see ``pipeline.intermediates``).
"""

from __future__ import annotations

import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.errors import StageUnavailable
from pipeline.gc_pause import without_gc
from pipeline.intermediates import files_field, output_hash
from pipeline.io.arrow_files import QUARANTINE_SCHEMA, read_ipc, read_json, write_ipc, write_json
from pipeline.record import Doc
from pipeline.schema import build_stage
from pipeline.shard_tables import Originals, build_rows, load_output, table_to_docs, write_output
from pipeline.stage import GlobalStage, Stage
from pipeline.summary import shard_summary

_INSTANCES: dict[str, Stage] = {}
_STATES: dict[str, Any] = {}


@dataclass(frozen=True)
class StageStep:
    """One stage of a segment: its resolved config, column key, fingerprint and output dir."""

    params: dict[str, Any]
    key: str
    fingerprint: str
    out_dir: str
    state_path: str | None = None  # set for the apply phase of a global stage
    summarize: bool = False  # the run's last stage: summarize kept records for the card


@dataclass(frozen=True)
class SegmentTask:
    """Run ``steps`` in order over one shard, starting from the table at ``input_path``."""

    shard_id: str
    shard_index: int
    source: str
    input_path: str
    steps: tuple[StageStep, ...] = field(default_factory=tuple)
    input_hash: str = ""  # xxh3-128 of the file at input_path (from its marker)


def get_stage(step: StageStep) -> Stage:
    """The worker's stage instance (built and set up once per process)."""
    stage = _INSTANCES.get(step.fingerprint)
    if stage is None:
        stage = build_stage(step.params)
        stage.setup()
        _INSTANCES[step.fingerprint] = stage
    return stage


def _state(stage: GlobalStage, step: StageStep) -> Any:
    if step.fingerprint not in _STATES:
        _STATES[step.fingerprint] = stage.prepare_state(read_ipc(Path(step.state_path)))
    return _STATES[step.fingerprint]


def _call(stage: Stage, step: StageStep, docs: list[Doc], shard_index: int) -> list[Doc]:
    if isinstance(stage, GlobalStage):
        return stage.apply(docs, shard_index, _state(stage, step))
    return stage.process(docs)  # type: ignore[attr-defined]


def state_hash(step: StageStep) -> str | None:
    """xxh3-128 of a global stage's state file (from its finalize marker); None otherwise."""
    if step.state_path is None:
        return None
    marker = read_json(Path(step.state_path).with_name("finalize.done.json"))
    return output_hash(marker, Path(step.state_path).name)


def run_stage(stage: Stage, step: StageStep, docs: list[Doc], shard_index: int) -> list[Doc]:
    """Run a stage; if the batch raises, retry one doc at a time to quarantine the culprits."""
    try:
        return _call(stage, step, docs, shard_index)
    except StageUnavailable:
        raise  # not the records' fault: stop the run (finished work is kept)
    except Exception:  # noqa: BLE001 - isolate the failing records below
        out: list[Doc] = []
        for doc in docs:
            try:
                out.extend(_call(stage, step, [doc], shard_index))
            except StageUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001
                tb = traceback.extract_tb(exc.__traceback__)[-1]
                doc.error = f"{type(exc).__name__}: {exc} (at {Path(tb.filename).name}:{tb.lineno})"
                out.append(doc)
        return out


@without_gc
def run_segment(task: SegmentTask) -> list[dict[str, Any]]:
    """Run the segment's stages over one shard; returns one result dict per step run."""
    results = []
    upstream_path, upstream_hash = Path(task.input_path), task.input_hash
    table = load_output(upstream_path)
    docs: list[Doc] | None = None
    orig: Originals | None = None
    for step in task.steps:
        stage = get_stage(step)  # setup (model loading) is not counted as processing time
        started = time.perf_counter()
        if docs is None:
            docs, orig = table_to_docs(table)
        elif orig is None and stage.edits:
            orig = Originals.of(docs)  # what the stage's edits are detected against
        n_in = len(docs)
        out = run_stage(stage, step, docs, task.shard_index)
        kept, rejected, broken, sums = partition(out)
        compare_with = orig if stage.edits else None
        base = Path(step.out_dir) / task.shard_id
        reasons = [f"{step.params['type']}:{d.reason}" for d in rejected]
        # side files are written only when non-empty (the marker has counts); one left by
        # an earlier run of this step is removed, so only this run's files are published
        side = {
            ".rejected.arrow": build_rows(
                table, compare_with, rejected, step.key, {"reason": reasons}
            )[0]
            if rejected
            else None,
            ".quarantine.arrow": _quarantine(task, step, table, broken) if broken else None,
        }
        for suffix, side_table in side.items():
            if side_table is not None:
                write_ipc(base.with_suffix(suffix), side_table)
            else:
                base.with_suffix(suffix).unlink(missing_ok=True)
        kept_table, delta = build_rows(table, compare_with, kept, step.key)
        write_output(base.with_suffix(".arrow"), kept_table, delta, upstream_path)
        upstream_path = base.with_suffix(".arrow")
        names = [base.with_suffix(s).name for s, t in side.items() if t is not None]
        names.append(upstream_path.name)
        files = files_field(base.parent, names)
        result = {
            "shard": task.shard_id,
            "key": step.key,
            "in": n_in,
            "out": len(kept),
            "dropped": dict(Counter(reasons)),
            "quarantined": len(broken),
            "seconds": time.perf_counter() - started,
            "stat_sums": sums,
            "files": files,
            "input": upstream_hash,
            "state": state_hash(step),
        }
        upstream_hash = output_hash(result, upstream_path.name)
        if step.summarize:
            result["summary"] = shard_summary(kept_table, [d.text for d in kept])
        write_json(base.with_suffix(".done.json"), result)
        results.append(result)
        table = kept_table
        for i, d in enumerate(kept):
            d.row = i
            if d.stats:
                d.stats = {}
            if not d.meta_json:  # edited: carry the serialized value, so that the next
                d.meta_json = d.meta_out()  # stage's edits are detected as changes too
        docs, orig = kept, None
    return results


def partition(docs: list[Doc]) -> tuple[list[Doc], list[Doc], list[Doc], dict[str, float]]:
    """(kept, rejected, quarantined, stat sums) of a stage's output, in order, in one pass.

    The sums, for the manifest:

    * numeric stats of the docs it emitted (kept and rejected, not quarantined): e.g. tokens
      generated by an LLM stage, or masked PII, including records later dropped;
    * run counters — stats whose key starts with ``_`` (e.g. ``_cache_hits``), over every doc.
      They are removed from the docs: they describe this run, not the record, so they stay
      out of the published rows (whose bytes must not depend on resume or cache state).
    """
    kept: list[Doc] = []
    rejected: list[Doc] = []
    broken: list[Doc] = []
    sums: dict[str, float] = {}
    for d in docs:
        if d.stats:
            _add_stats(sums, d)
        if d.error is not None:
            broken.append(d)
        elif d.reason is not None:
            rejected.append(d)
        else:
            kept.append(d)
    return kept, rejected, broken, sums


def _numeric(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))


def _add_stats(sums: dict[str, float], d: Doc) -> None:
    stats = d.stats
    for key in [k for k in stats if k.startswith("_")]:
        value = stats.pop(key)
        if _numeric(value):
            sums[key] = sums.get(key, 0) + value
    if d.error is None:
        for key, value in stats.items():
            if _numeric(value):
                sums[key] = sums.get(key, 0) + value


def _quarantine(task: SegmentTask, step: StageStep, table: pa.Table, docs: list[Doc]) -> pa.Table:
    lines = [table["_line"][d.row].as_py() if d.row >= 0 else -1 for d in docs]
    return pa.table(
        {
            "id": [d.id for d in docs],
            "source": [task.source] * len(docs),
            "line": lines,
            "stage": [step.params["type"]] * len(docs),
            "error": [d.error for d in docs],
            "raw": [d.text[:1000] for d in docs],
        },
        schema=QUARANTINE_SCHEMA,
    )
