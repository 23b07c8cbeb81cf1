"""Throughput of the text stages normalize, boilerplate, lexicon and pii on the DEV web data.

All ``*.jsonl`` files of the web folder (~72k records, 21 MB) run through the chain in order;
each stage is timed on the output of the previous one, single process, median of 3 runs (the
machine is shared, so medians). ``boilerplate`` runs all four global phases over 4 shards with
16 partitions, as the local executor would. Baselines measured in the same run: a pass that
only reads ``len(doc.text)`` (per-record Python overhead) and ``segment()`` alone (the part
of ``lexicon`` that belongs to the segmenter).
Run: ``python3 benchmarks/stage_throughput_text.py [--data DIR]`` (DEV data, default
``../shared/data``).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

from benchmarks.dev_data import parse_data  # noqa: E402
from filters.boilerplate import Boilerplate  # noqa: E402
from filters.lexicon import Lexicon  # noqa: E402
from filters.normalize import Normalize  # noqa: E402
from filters.pii import Pii  # noqa: E402
from filters.segment import segment  # noqa: E402
from pipeline.record import Doc  # noqa: E402

SHARDS = 4
RUNS = 3


def load(folder: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if isinstance(rec.get("text"), str) and rec["text"].strip():
                out.append((rec["id"], rec["text"]))
    return out


def run_global(stage: Boilerplate, docs: list[Doc]) -> list[Doc]:
    shards = [docs[i::SHARDS] for i in range(SHARDS)]
    scans = [stage.scan(s, i) for i, s in enumerate(shards)]
    parts = [
        stage.reduce(pa.concat_tables([t.filter(pc.equal(t["_part"], p)) for t in scans]))
        for p in range(stage.partitions)
    ]
    state = stage.prepare_state(stage.finalize(parts))
    for i, s in enumerate(shards):
        stage.apply(s, i, state)
    return [d for s in shards for d in s]


Records = list[tuple[str, str]]


def timed(records: Records, fn: Callable[[list[Doc]], list[Doc]]) -> tuple[float, list[Doc]]:
    """Median seconds of RUNS runs of ``fn`` on fresh docs, and the surviving docs of the last."""
    times, out = [], []
    for _ in range(RUNS):
        docs = [Doc(id=i, text=t) for i, t in records]
        start = time.perf_counter()
        out = fn(docs)
        times.append(time.perf_counter() - start)
    return statistics.median(times), [d for d in out if d.reason is None and d.error is None]


def main() -> None:
    folder = parse_data(__doc__.splitlines()[0], ("web",)) / "web"
    records = load(folder)
    chars = sum(len(t) for _, t in records)
    print(f"{len(records)} records, {chars / 1e6:.1f} M chars, median of {RUNS} runs\n")
    Normalize().process([Doc("warm", "預熱")])  # one-time table builds are not throughput
    Lexicon().process([Doc("warm", "预热")])
    Pii().process([Doc("warm", "13812345678")])

    base, _ = timed(records, lambda docs: [d for d in docs if len(d.text) >= 0])
    print(f"{'baseline (len only)':22} {len(records) / base:12,.0f} rec/s")
    stages: list[tuple[str, Callable[[list[Doc]], list[Doc]]]] = [
        ("normalize", Normalize().process),
        ("boilerplate", lambda docs: run_global(Boilerplate(), docs)),
        ("lexicon", Lexicon().process),
        ("pii", Pii().process),
    ]
    total = 0.0
    for name, fn in stages:
        if name == "lexicon":
            seg, _ = timed(records, lambda docs: [d for d in docs if segment(d.text.lower())])
            print(f"{'  segment() alone':22} {len(records) / seg:12,.0f} rec/s   ({seg:.2f} s)")
        seconds, survivors = timed(records, fn)
        total += seconds
        print(
            f"{name:22} {len(records) / seconds:12,.0f} rec/s   ({seconds:.2f} s for "
            f"{len(records)} in, {len(survivors)} kept)"
        )
        records = [(d.id, d.text) for d in survivors]
    print(f"\nchain total {total:.2f} s")


if __name__ == "__main__":
    main()
