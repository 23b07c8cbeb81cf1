"""The run ledger: typed completion markers, each read from disk at most once per run.

A marker on disk is the JSON a step wrote when it finished (``pipeline.intermediates``):
``<ingest>/<file fingerprint>/done.json`` (:class:`IngestMarker`), ``<stage>/<shard>.done.json``
(:class:`StepResult`) and the scan / reduce / finalize markers of a global stage (kept as
dicts). The dataclasses read what any earlier version wrote (a key an older marker lacks
takes the default named on the field) and write the same keys (``to_json``), so a run
started by older code resumes with this one.

:class:`RunLedger` is the driver's view of one run: every marker it verified (skip
decisions) or that a worker returned in this run, keyed by path. Stage totals, the
accounting counts and the card summary are served from it instead of reading the markers
again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.intermediates import HASH, done
from pipeline.io.arrow_files import read_json

#: A marker's ``files``: ``{name: {"bytes": size, "xxh3_128": hex}}`` (``files_field``).
Files = dict[str, dict[str, Any]]


def _hash_of(files: Files, name: str) -> str:
    return files[name][HASH]


def as_on_disk(data: Any) -> Any:
    """``data`` as a marker file gives it back: through JSON with sorted keys (as
    ``write_json`` writes), so what a worker returned and what a later run reads are equal,
    key order included (the card iterates the summary's dicts in that order)."""
    return json.loads(json.dumps(data, ensure_ascii=False, sort_keys=True))


@dataclass(frozen=True)
class ShardRef:
    """One ingested shard as the stages see it: ``index`` is its position in the run (input
    order), ``source`` the input path it came from, ``input`` its Arrow file, ``rows`` its
    record count and ``hash`` the xxh3-128 of that file (from the ingest marker)."""

    id: str
    index: int
    source: str
    input: str
    rows: int
    hash: str


@dataclass(frozen=True)
class IngestShard:
    """A shard entry of an ingest marker: id, rows, text-length histogram (``summary``)."""

    id: str
    rows: int
    length_hist: tuple[int, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IngestShard:
        return cls(data["id"], data["rows"], tuple(data.get("length_hist", ())))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "rows": self.rows, "length_hist": list(self.length_hist)}


@dataclass(frozen=True)
class IngestMarker:
    """What ingest's ``done.json`` holds for one input file (see ``pipeline.ingest``).

    ``dir`` (the marker's folder) and ``io_error`` (a read that failed: no marker is written)
    are not stored on disk. ``read_errors`` defaults to ``quarantined`` for markers written
    before it existed (every quarantined record was a read error then)."""

    path: str
    format: str = ""
    bytes: int = 0
    sha256: str = ""
    records: int = 0
    quarantined: int = 0
    read_errors: int = 0
    first_error: str | None = None
    shards: tuple[IngestShard, ...] = ()
    files: Files = field(default_factory=dict)
    dir: str = ""
    io_error: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any], folder: str | None = None) -> IngestMarker:
        """From a marker's JSON (or a failed read's ``{path, io_error, dir}``); ``folder``
        overrides ``dir``."""
        return cls(
            path=data["path"],
            format=data.get("format", ""),
            bytes=data.get("bytes", 0),
            sha256=data.get("sha256", ""),
            records=data.get("records", 0),
            quarantined=data.get("quarantined", 0),
            read_errors=data.get("read_errors", data.get("quarantined", 0)),
            first_error=data.get("first_error"),
            shards=tuple(IngestShard.from_json(s) for s in data.get("shards", ())),
            files=data.get("files", {}),
            dir=folder if folder is not None else data.get("dir", ""),
            io_error=data.get("io_error"),
        )

    def to_json(self) -> dict[str, Any]:
        """The keys ``run_ingest`` writes to ``done.json`` (without ``dir``/``io_error``)."""
        return {
            "path": self.path,
            "format": self.format,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "records": self.records,
            "quarantined": self.quarantined,
            "read_errors": self.read_errors,
            "first_error": self.first_error,
            "shards": [s.to_json() for s in self.shards],
            "files": self.files,
        }

    def output_hash(self, name: str) -> str:
        """Recorded xxh3-128 of file ``name`` (relative to ``dir``)."""
        return _hash_of(self.files, name)

    def shard_refs(self, first_index: int) -> list[ShardRef]:
        """This file's shards as :class:`ShardRef`, numbered from ``first_index``."""
        return [
            ShardRef(
                s.id,
                first_index + k,
                self.path,
                str(Path(self.dir) / f"{s.id}.arrow"),
                s.rows,
                self.output_hash(f"{s.id}.arrow"),
            )
            for k, s in enumerate(self.shards)
        ]


@dataclass(frozen=True)
class StepResult:
    """What a stage's ``<shard>.done.json`` holds (``pipeline.worker.run_segment``).

    ``n_in`` is the JSON key ``in``; ``seconds`` worker seconds; ``input`` the xxh3-128 of
    the file the step read; ``state`` that of a global stage's state (None otherwise);
    ``summary`` the kept-record summary of the run's last stage (None elsewhere, and in
    markers written without it: publishing computes it then). ``stat_sums`` defaults to {}
    for markers written before it existed."""

    shard: str
    key: str
    n_in: int
    out: int
    dropped: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    seconds: float = 0.0
    stat_sums: dict[str, float] = field(default_factory=dict)
    files: Files = field(default_factory=dict)
    input: str = ""
    state: str | None = None
    summary: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepResult:
        return cls(
            shard=data["shard"],
            key=data["key"],
            n_in=data["in"],
            out=data["out"],
            dropped=dict(data.get("dropped", {})),
            quarantined=data.get("quarantined", 0),
            seconds=data.get("seconds", 0.0),
            stat_sums=dict(data.get("stat_sums", {})),
            files=data.get("files", {}),
            input=data.get("input", ""),
            state=data.get("state"),
            summary=data.get("summary"),
        )

    def to_json(self) -> dict[str, Any]:
        """The marker's JSON; ``summary`` only when set (as ``run_segment`` writes it)."""
        out = {
            "shard": self.shard,
            "key": self.key,
            "in": self.n_in,
            "out": self.out,
            "dropped": self.dropped,
            "quarantined": self.quarantined,
            "seconds": self.seconds,
            "stat_sums": self.stat_sums,
            "files": self.files,
            "input": self.input,
            "state": self.state,
        }
        if self.summary is not None:
            out["summary"] = self.summary
        return out

    def output_hash(self, name: str) -> str:
        """Recorded xxh3-128 of file ``name`` (in the marker's folder)."""
        return _hash_of(self.files, name)


@dataclass
class StageCounts:
    """Sums over a stage's shards: records in/out/quarantined, drops per reason (sorted),
    worker seconds (unrounded) and stat sums (unrounded, in first-seen order)."""

    n_in: int = 0
    out: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    dropped: dict[str, int] = field(default_factory=dict)
    stat_sums: dict[str, float] = field(default_factory=dict)

    def add(self, r: StepResult) -> None:
        self.n_in += r.n_in
        self.out += r.out
        self.quarantined += r.quarantined
        self.seconds += r.seconds
        for reason, n in r.dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + n
        for key, v in r.stat_sums.items():
            self.stat_sums[key] = self.stat_sums.get(key, 0) + v


def step_marker(out_dir: str, shard_id: str) -> Path:
    """Where a stage's marker for a shard is."""
    return Path(out_dir) / f"{shard_id}.done.json"


class RunLedger:
    """The markers of one run, each read from disk at most once (see the module docstring).

    ``verified_*`` decide whether a step is done (``intermediates.done``: the marker and its
    files are checked; a done marker is kept); ``record_*`` keep what a worker returned;
    ``step``/``phase`` serve a kept marker (reading one not seen yet, once)."""

    def __init__(self) -> None:
        self._markers: dict[Path, Any] = {}

    def _verified(self, path: Path, **expect: str | None) -> dict[str, Any] | None:
        marker = done(path, **expect)
        if marker is not None:
            self._markers[path] = marker
        return marker

    def _kept(self, path: Path) -> Any:
        if path not in self._markers:
            self._markers[path] = read_json(path)
        return self._markers[path]

    def verified_ingest(self, folder: str) -> IngestMarker | None:
        """The ingest marker in ``folder`` if that file is ingested (verified), else None."""
        marker = self._verified(Path(folder) / "done.json")
        return None if marker is None else IngestMarker.from_json(marker, folder)

    def verified_step(self, out_dir: str, shard_id: str, **expect: str | None) -> StepResult | None:
        """The stage's result for the shard if done (and ``expect`` matches), else None."""
        marker = self._verified(step_marker(out_dir, shard_id), **expect)
        if marker is None:
            return None
        result = StepResult.from_json(marker)
        self._markers[step_marker(out_dir, shard_id)] = result
        return result

    def verified_phase(self, path: Path, **expect: str | None) -> dict[str, Any] | None:
        """A scan / reduce / finalize marker if its phase is done, else None."""
        return self._verified(path, **expect)

    def record_steps(self, out_dirs: Sequence[str], results: Iterable[StepResult]) -> None:
        """Keep the results a segment task returned (one per step run, in step order)."""
        for out_dir, r in zip(out_dirs, results):
            kept = StepResult.from_json(as_on_disk(r.to_json()))
            self._markers[step_marker(out_dir, r.shard)] = kept

    def record_ingest(self, folder: str, marker: dict[str, Any]) -> IngestMarker:
        """The marker an ingest task returned for the file in ``folder``, as on disk (a failed
        read's ``{path, io_error, dir}`` too, which is not written)."""
        return IngestMarker.from_json(as_on_disk(marker), folder)

    def record_phase(self, path: Path, marker: dict[str, Any]) -> None:
        """Keep a marker a scan / reduce / finalize task returned (and wrote at ``path``)."""
        self._markers[path] = as_on_disk(marker)

    def step(self, out_dir: str, shard_id: str) -> StepResult:
        """The stage's result for the shard (verified or written in this run)."""
        kept = self._kept(step_marker(out_dir, shard_id))
        if not isinstance(kept, StepResult):
            kept = StepResult.from_json(kept)
            self._markers[step_marker(out_dir, shard_id)] = kept
        return kept

    def phase(self, path: Path) -> dict[str, Any]:
        """A scan / reduce / finalize marker (verified or written in this run)."""
        return self._kept(path)

    def state_hash(self, state_path: str | None) -> str | None:
        """xxh3-128 of a global stage's state file (from its finalize marker); None for a
        stage without state (as ``pipeline.worker.state_hash``)."""
        if state_path is None:
            return None
        marker = self.phase(Path(state_path).with_name("finalize.done.json"))
        return _hash_of(marker["files"], Path(state_path).name)

    def totals(self, out_dir: str, shards: Sequence[ShardRef]) -> StageCounts:
        """A stage's counts summed over ``shards`` (in shard order)."""
        counts = StageCounts()
        for s in shards:
            counts.add(self.step(out_dir, s.id))
        counts.dropped = dict(sorted(counts.dropped.items()))
        return counts

    def phase_seconds(self, out_dir: str) -> dict[str, float]:
        """Worker seconds of a global stage's scan, reduce and finalize (rounded to ms), over
        the markers in its folder (``pipeline.global_phases.phase_seconds``)."""
        root = Path(out_dir)
        out = {}
        for phase, pattern in (
            ("scan", "scan/*.done.json"),
            ("reduce", "reduce/*.done.json"),
            ("finalize", "finalize.done.json"),
        ):
            out[phase] = round(sum(self.phase(p)["seconds"] for p in root.glob(pattern)), 3)
        return out
