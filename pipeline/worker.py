"""Work that runs inside an executor's worker: a chain of stages over one shard.

The functions here take small picklable task objects and return small dicts, so any
executor (process pool, Ray tasks) can run them. Each stage's output for a shard is written
atomically with a completion marker written last; the marker records the size and xxh3-128 of
every file written and the hash of the input read (see ``pipeline.intermediates``).
"""

from __future__ import annotations

import operator
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from pipeline.errors import StageUnavailable
from pipeline.gc_pause import without_gc
from pipeline.intermediates import files_field, output_hash
from pipeline.io.arrow_files import QUARANTINE_SCHEMA, read_ipc, read_json, write_ipc, write_json
from pipeline.ledger import StepResult
from pipeline.record import Doc
from pipeline.schema import build_stage
from pipeline.shard_tables import Originals, build_rows, load_output, table_to_docs, write_output
from pipeline.stage import LOCAL, ContractError, GlobalStage, Placement, Stage, debug_checks
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
    placement: Placement = LOCAL  # where the workers run (handed to the stage's setup)


@dataclass(frozen=True)
class SegmentTask:
    """Run ``steps`` in order over one shard, starting from the table at ``input_path``."""

    shard_id: str
    shard_index: int
    source: str
    input_path: str
    steps: tuple[StageStep, ...] = field(default_factory=tuple)
    input_hash: str = ""  # xxh3-128 of the file at input_path (from its marker)
    #: per step, the xxh3-128 of its global stage's state (from the driver's ledger; empty:
    #: read from the finalize markers here)
    states: tuple[str | None, ...] = ()


def get_stage(step: StageStep) -> Stage:
    """The worker's stage instance (built and set up once per process)."""
    stage = _INSTANCES.get(step.fingerprint)
    if stage is None:
        stage = build_stage(step.params)
        stage.setup(step.placement)
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
    """Run a stage; if the batch raises, retry one doc at a time to quarantine the culprits.

    The retry starts from copies of the docs as they were before the batch ran (a stage edits
    in place: a half-run batch must not be edited twice). With ``$ZHCURATE_DEBUG`` set, a stage
    declaring ``edits = False`` that changed a record raises :class:`ContractError`."""
    before = _Snapshot(docs)
    try:
        out = _call(stage, step, docs, shard_index)
    except StageUnavailable:
        raise  # not the records' fault: stop the run (finished work is kept)
    except Exception:  # noqa: BLE001 - isolate the failing records below
        out = _one_by_one(stage, step, before, shard_index)
    if not stage.edits and debug_checks():
        before.check_unedited(stage, out)
    return out


def _one_by_one(stage: Stage, step: StageStep, before: _Snapshot, shard_index: int) -> list[Doc]:
    """Run the stage on a fresh copy of each doc alone; a doc whose run raises is quarantined
    as it was before the stage (not half-edited), with the error and where it was raised."""
    out: list[Doc] = []
    for i in range(len(before.values)):
        try:
            out.extend(_call(stage, step, [before.copy(i)], shard_index))
        except StageUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001
            tb = traceback.extract_tb(exc.__traceback__)[-1]
            doc = before.copy(i)
            doc.error = f"{type(exc).__name__}: {exc} (at {Path(tb.filename).name}:{tb.lineno})"
            out.append(doc)
    return out


_FIELDS = operator.attrgetter("id", "text", "meta_json", "stats", "reason", "error", "row")
_STATS, _META_JSON = operator.attrgetter("stats"), operator.attrgetter("meta_json")


class _Snapshot:
    """What a batch's docs were before a stage ran: references, no text is copied."""

    def __init__(self, docs: list[Doc]) -> None:
        #: The usual stage input: no stats yet and meta as serialized. Then the references
        #: are all that is needed (C-level, ~0.1 µs/doc); else copy what a stage edits in
        #: place (stats; meta parsed and changed).
        self.plain = not any(map(_STATS, docs)) and all(map(_META_JSON, docs))
        if self.plain:
            self.values = list(map(_FIELDS, docs))
        else:
            self.values = [
                (d.id, d.text, d.meta_out(), dict(d.stats), d.reason, d.error, d.row) for d in docs
            ]

    def copy(self, i: int) -> Doc:
        """A fresh doc with the i-th doc's values before the stage ran (meta parsed on use)."""
        doc_id, text, meta_json, stats, reason, error, row = self.values[i]
        return Doc(
            doc_id, text, meta_json, {} if self.plain else dict(stats), reason, error, None, row
        )

    def check_unedited(self, stage: Stage, out: list[Doc]) -> None:
        """Raise :class:`ContractError` if a doc's id, text or meta differs from before."""
        by_row = {v[-1]: v for v in self.values}
        for doc in out:
            if doc.row < 0 or doc.row not in by_row:
                raise ContractError(
                    f"stage {stage.name!r} declares edits = False but created record {doc.id!r}"
                )
            doc_id, text, meta_json, *_ = by_row[doc.row]
            for what, changed in (
                ("id", doc.id != doc_id),
                ("text", doc.text != text),
                ("meta", _meta_changed(doc, meta_json)),
            ):
                if changed:
                    raise ContractError(
                        f"stage {stage.name!r} declares edits = False but changed the {what} "
                        f"of record {doc_id!r}, which would not be stored: set edits = True"
                    )


def _meta_changed(doc: Doc, meta_json: str) -> bool:
    """True if the doc's metadata (serialized or parsed) differs from ``meta_json``'s."""
    if doc.meta_json == meta_json and doc._meta is None:  # noqa: SLF001 - parsed copy
        return False
    return doc.meta != orjson.loads(meta_json or "{}")


@without_gc
def run_segment(task: SegmentTask) -> list[StepResult]:
    """Run the segment's stages over one shard; returns one result per step run (each also
    written as the step's ``<shard>.done.json``)."""
    results = []
    upstream_path, upstream_hash = Path(task.input_path), task.input_hash
    table = load_output(upstream_path)
    docs: list[Doc] | None = None
    orig: Originals | None = None
    states = task.states or tuple(state_hash(step) for step in task.steps)
    for step, step_state in zip(task.steps, states):
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
        result = StepResult(
            shard=task.shard_id,
            key=step.key,
            n_in=n_in,
            out=len(kept),
            dropped=dict(Counter(reasons)),
            quarantined=len(broken),
            seconds=time.perf_counter() - started,
            stat_sums=sums,
            files=files,
            input=upstream_hash,
            state=step_state,
        )
        upstream_hash = result.output_hash(upstream_path.name)
        if step.summarize:
            result = replace(result, summary=shard_summary(kept_table, [d.text for d in kept]))
        write_json(base.with_suffix(".done.json"), result.to_json())
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
