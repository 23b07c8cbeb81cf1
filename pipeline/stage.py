"""Stage contracts: every curation or synthesis step is a small frozen dataclass.

Two kinds, as in ``DESIGN.md``:

* :class:`MapStage` sees a batch of :class:`~pipeline.record.Doc` and edits them in place
  (rewrite ``text``, fill ``stats``, set ``reason`` to reject, set ``error`` to quarantine).
  It must not depend on batch boundaries or order. :class:`Filter` is the measure-then-decide
  shorthand: implement ``measure(docs) -> list[stats]`` and a table of :class:`Rule`; the base
  class fills ``stats`` and decides with :func:`decide`, which also runs on stored stats.
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
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from pipeline.record import Doc

#: Ray namespace of the named actors stages share on a cluster (LLM concurrency limiters,
#: GPU engines); the Ray executor ends the actors in it when a run ends.
RAY_NAMESPACE = "zhcurate"


@dataclass(frozen=True)
class Placement:
    """Where a stage's worker runs, handed to :meth:`Stage.setup`: ``cluster`` is the
    executor type (``executor.type``: "local" — a process pool or inline — or "ray"), and on
    Ray ``namespace`` holds the actors its stages share."""

    cluster: str = "local"
    namespace: str = RAY_NAMESPACE

    @property
    def on_ray(self) -> bool:
        return self.cluster == "ray"


#: A worker of the local executor (and stages used directly, e.g. in tests).
LOCAL = Placement()


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

    def setup(self, placement: Placement = LOCAL) -> None:
        """Load heavy resources (models, dictionaries). Called once per worker, lazily, with
        where the worker runs (an LLM stage on Ray shares engines and limits cluster-wide)."""

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


#: Environment variable that turns on the stage contract checks (``run.py --debug`` sets it;
#: executors' workers inherit it, and the Ray executor forwards every ``ZHCURATE_*`` variable).
DEBUG_ENV = "ZHCURATE_DEBUG"


def debug_checks() -> bool:
    """True when ``$ZHCURATE_DEBUG`` is "1": workers check that stages keep their contract."""
    return os.environ.get(DEBUG_ENV) == "1"


class ContractError(RuntimeError):
    """A stage broke its declared contract (e.g. ``edits = False`` but it changed a record's
    text). Raised only with :func:`debug_checks` on; it stops the run, it does not quarantine."""


#: A rule's predicate: (one document's stats, the stage instance) -> True when the doc fails.
Predicate = Callable[[Mapping[str, Any], Any], bool]


@dataclass(frozen=True)
class Rule:
    """One named drop rule of a :class:`Filter`: ``fails(stats, params)`` is True to drop.

    ``params`` is the stage instance (its dataclass fields are the thresholds); the predicate
    reads only the stats and those fields, never the text or a model, so a decision can be
    recomputed from a published version's stored stats. ``reads``: the parameters the
    predicate reads (what a changed threshold can affect; see :meth:`Filter.decision_params`).
    """

    name: str
    fails: Predicate
    reads: tuple[str, ...] = ()


def at_least(stat: str, param: str, name: str) -> Rule:
    """Drop when ``stats[stat] < params.<param>``; a threshold of None disables the rule."""

    def fails(stats: Mapping[str, Any], params: Any) -> bool:
        limit = getattr(params, param)
        return limit is not None and stats[stat] < limit

    return Rule(name, fails, (param,))


def at_most(stat: str, param: str, name: str) -> Rule:
    """Drop when ``stats[stat] > params.<param>``; a threshold of None disables the rule."""

    def fails(stats: Mapping[str, Any], params: Any) -> bool:
        limit = getattr(params, param)
        return limit is not None and stats[stat] > limit

    return Rule(name, fails, (param,))


def decide(stats: Mapping[str, Any], rules: Sequence[Rule], params: Any) -> str | None:
    """The name of the first rule in ``rules`` that ``stats`` fails, or None to keep.

    Pure: the same answer on a stage's fresh measurements and on stats read back from a
    published version (``params`` is a stage instance; building one loads no model)."""
    for rule in rules:
        if rule.fails(stats, params):
            return rule.name
    return None


@dataclass(frozen=True)
class Filter(MapStage):
    """Measure, then decide by a table of rules.

    A filter implements :meth:`measure` (batched where a model or segmenter pays for it) and
    lists its :attr:`rules` in order; the base class stores each document's stats and rejects
    it with the first failing rule's name. ``process`` and ``decide`` belong to the base
    class: a subclass that overrides them is refused when it is defined. A filter must not
    change ``text``, ``id`` or ``meta`` (``edits = False``: such a change would not be stored;
    with ``--debug`` the run stops with :class:`ContractError` instead).
    """

    edits: ClassVar[bool] = False
    #: Drop rules in the order they are tried (first failure = the reason).
    rules: ClassVar[tuple[Rule, ...]] = ()
    #: Methods of the contract that a filter does not override.
    _SEALED: ClassVar[tuple[str, ...]] = ("process", "process_doc", "decide")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        sealed = [m for m in Filter._SEALED if m in vars(cls)]
        if sealed:
            raise TypeError(
                f"{cls.__qualname__} overrides Filter.{sealed[0]}: a filter implements "
                "measure(docs) and a rules table; the base class decides"
            )

    def measure(self, docs: list[Doc]) -> list[dict[str, Any]]:
        """One stats dict per doc, in order (numbers, bools or short strings)."""
        raise NotImplementedError

    def decide(self, stats: Mapping[str, Any]) -> str | None:
        """The first failing rule's name for one doc's stats (:func:`decide`), or None."""
        return decide(stats, self.rules, self)

    @classmethod
    def decision_params(cls) -> frozenset[str]:
        """Parameters the rules read (their ``reads``): a changed one needs no re-measurement,
        so ``measure`` never reads them. Every other parameter shapes the measurements
        themselves (e.g. ``max_chars``) and changes stats only by running the stage again."""
        return frozenset(p for rule in cls.rules for p in rule.reads)

    def process(self, docs: list[Doc]) -> list[Doc]:
        measured = self.measure(docs)
        if len(measured) != len(docs):
            raise ValueError(
                f"{self.name}.measure returned {len(measured)} stats for {len(docs)} docs"
            )
        rules = self.rules
        for doc, stats in zip(docs, measured):
            doc.stats.update(stats)
            reason = decide(stats, rules, self)
            if reason is not None:
                doc.reason = reason
        return docs


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

    def index_rows(self, scan: pa.Table, kept: pa.Table) -> pa.Table | None:
        """At publish, per partition: the rows a later run dedups against, or None (default:
        the stage keeps no index).

        ``scan``: every row this stage's ``scan`` wrote for this partition (``_part`` = p).
        ``kept``: ``shard``, ``row`` (int32: the record's position in this stage's input
        shard) and ``id`` of every record of this stage's input that the version publishes
        in ``data/``. The result is written once to ``index/<stage key>/part-<p>.parquet``
        beside the data, so a later run compares new records with published ones without
        recomputing their signatures; sort it by its lookup column. Built from scan rows
        only: it must not recompute what ``scan`` already did.
        """
        return None


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
