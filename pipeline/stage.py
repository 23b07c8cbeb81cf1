"""Stage contracts: every curation or synthesis step is a small frozen dataclass.

Two kinds, as in ``DESIGN.md``:

* :class:`MapStage` sees a batch of :class:`~pipeline.record.Doc` and edits them in place
  (rewrite ``text``, fill ``stats``, set ``reason`` to reject, set ``error`` to quarantine).
  It must not depend on batch boundaries or order. :class:`Filter` is the per-document
  shorthand: implement ``keep(doc) -> (bool, rule | None)``.
* :class:`GlobalStage` needs the whole dataset. It is written as four phases that talk
  through Arrow tables, so any executor can run them locally or distribute them:
  ``scan`` (per shard) → ``reduce`` (per hash partition) → ``finalize`` (once, small data) →
  ``apply`` (per shard).

Stages never import an executor and do no bookkeeping: the executor counts, times and
routes records. A numeric stat whose key starts with ``_`` is a run counter (e.g. LLM cache
hits): it is summed into the manifest's ``stat_sums`` but not written into the records, so
a resumed run publishes the same bytes as an uninterrupted one. Parameters are dataclass
fields; their annotations *are* the config schema.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from pipeline.record import Doc


@dataclass(frozen=True)
class Stage:
    """Base of all stages. ``name`` is the config ``type``; bump ``version`` when output changes."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    kind: ClassVar[str] = "map"
    #: Parameters that do not change output (left out of the fingerprint).
    operational: ClassVar[frozenset[str]] = frozenset()
    #: True for stages whose output records are new ones derived from their input (LLM
    #: synthesis: one document → k instruction pairs). Accounting restarts at such a stage:
    #: its input records are consumed, the records it creates are the next dataset's input.
    generates: ClassVar[bool] = False
    #: Row layout of a dataset published after this stage (built by ``export_columns``): "" for
    #: the corpus layout, "sft", "instructions" or "preference". A stage with "" after a
    #: synthesis stage inherits the layout of the last stage that set one.
    publish_format: ClassVar[str] = ""
    #: False for stages that only measure and reject (filters): they never rewrite a record's
    #: id, text or meta nor create records, so the executor stores which rows they kept and
    #: their stats without comparing every record with its upstream value.
    edits: ClassVar[bool] = True

    def setup(self) -> None:
        """Load heavy resources (models, dictionaries). Called once per worker, lazily."""

    @classmethod
    def export_columns(cls, table: pa.Table) -> dict[str, pa.Array]:
        """The columns of this stage's ``publish_format`` for a table with ``id, text, meta``
        columns, put before them in published files (none for the corpus layout)."""
        return {}

    def non_default_params(self) -> dict[str, Any]:
        """Parameters that differ from the class defaults, excluding operational ones."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name in self.operational:
                continue
            value = getattr(self, f.name)
            default = (
                f.default
                if f.default is not dataclasses.MISSING
                else (f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            )
            if value != default:
                out[f.name] = value
        return out

    def fingerprint(self, upstream: str) -> str:
        """Identity of this stage's output: hash(upstream, name@version, non-default params)."""
        payload = json.dumps(
            [upstream, f"{self.name}@{self.version}", self.non_default_params()],
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class MapStage(Stage):
    """A stage that processes one batch at a time, independently of other batches."""

    kind: ClassVar[str] = "map"

    def process(self, docs: list[Doc]) -> list[Doc]:
        """Edit docs in place (or return new ones). Default: :meth:`process_doc` per doc."""
        for doc in docs:
            self.process_doc(doc)
        return docs

    def process_doc(self, doc: Doc) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Filter(MapStage):
    """Per-document keep/drop decision. ``keep`` may write measurements into ``doc.stats``;
    it must not change ``text``, ``id`` or ``meta`` (``edits = False``: such a change would
    not be stored)."""

    edits: ClassVar[bool] = False

    def process_doc(self, doc: Doc) -> None:
        ok, rule = self.keep(doc)
        if not ok:
            doc.reason = rule or "rejected"

    def keep(self, doc: Doc) -> tuple[bool, str | None]:
        raise NotImplementedError


@dataclass(frozen=True)
class GlobalStage(Stage):
    """A stage over the whole dataset, in phases that talk through Arrow tables.

    Rows are identified by ``(shard, row)``: ``shard`` is the shard's index in the run's
    deterministic shard order, ``row`` the position in that shard. Keeping the smallest
    ``(shard, row)`` of a group is the deterministic "first in input order" choice.
    """

    kind: ClassVar[str] = "global"
    #: Number of hash partitions between ``scan`` and ``reduce``.
    partitions: ClassVar[int] = 16
    #: The partition count changes how the work is split, never the result (the work
    #: folder is per count: see ``pipeline.plan``).
    operational: ClassVar[frozenset[str]] = frozenset({"partitions"})

    def scan(self, docs: list[Doc], shard: int) -> pa.Table:
        """Per shard: a table with an int ``_part`` column (0 ≤ _part < partitions)."""
        raise NotImplementedError

    def reduce(self, rows: pa.Table) -> pa.Table:
        """Per partition: all scan rows whose ``_part`` is this partition → partial result."""
        raise NotImplementedError

    def finalize(self, parts: list[pa.Table]) -> pa.Table:
        """Once: combine the partition results into the state that ``apply`` reads."""
        return pa.concat_tables(parts) if parts else pa.table({})

    def prepare_state(self, state: pa.Table) -> Any:
        """Once per worker: turn the finalized table into what ``apply`` reads (e.g. a dict)."""
        return state

    def apply(self, docs: list[Doc], shard: int, state: Any) -> list[Doc]:
        """Per shard: use the prepared state to edit/reject docs, like a map stage."""
        raise NotImplementedError


def param_specs(cls: type[Stage]) -> list[tuple[str, str, Any]]:
    """(name, type, default) for each parameter of a stage class, for ``run.py stages``."""
    specs = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = "(required)"
        type_name = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        specs.append((f.name, type_name, default))
    return specs
