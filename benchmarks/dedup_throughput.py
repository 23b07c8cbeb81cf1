"""Throughput and peak memory of ``dedup_exact`` and ``dedup_minhash`` on all DEV web records.

Each stage runs its four phases in one process (``filters.dedup.phases``: scan per shard, group
rows by partition, reduce per partition, finalize, apply per shard) over ``--shards`` shards.
Prints, per stage, the median over ``--reps`` runs of each phase's seconds, records/s for the
whole stage, the scan output size, and peak RSS of a fresh process running only that stage
(minus the RSS after loading the records). Baseline in the same run: xxh3-64 of every text
(the least any dedup pass over the records costs).

    python3 benchmarks/dedup_throughput.py [--data DIR] [--shards 8] [--reps 3]

``--data``: the DEV data folder (default ``../shared/data`` beside the repository).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import xxhash

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dev_data import add_data_argument, data_dir
from filters.dedup.exact import DedupExact
from filters.dedup.minhash import DedupMinhash
from pipeline.record import Doc


def partition_rows(scans: list[pa.Table], partitions: int) -> list[pa.Table]:
    """Rows of every scan table grouped by ``_part``, in shard order then row order (what
    the executors' per-partition reduce tasks read, without the files)."""
    by_part: list[list[pa.Table]] = [[] for _ in range(partitions)]
    for t in scans:
        part = t["_part"].to_numpy()
        order = np.argsort(part, kind="stable")
        cuts = np.searchsorted(part[order], np.arange(partitions + 1))
        for p in range(partitions):
            by_part[p].append(t.take(order[cuts[p] : cuts[p + 1]]))
    return [pa.concat_tables(ts) for ts in by_part]


STAGES = {"dedup_exact": DedupExact, "dedup_minhash": DedupMinhash}


def load(folder: Path) -> list[str]:
    texts = []
    for path in sorted(folder.glob("*.jsonl")):
        with path.open("rb") as fh:
            texts += [
                t for t in (orjson.loads(line)["text"] for line in fh) if isinstance(t, str) and t
            ]
    return texts


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_once(stage, texts: list[str], n_shards: int) -> dict[str, float]:
    per = -(-len(texts) // n_shards)
    shards = [
        [Doc(id=str(i), text=t) for i, t in enumerate(texts[s * per : (s + 1) * per])]
        for s in range(n_shards)
    ]
    t = [time.perf_counter()]
    scans = [stage.scan(docs, s) for s, docs in enumerate(shards)]
    t.append(time.perf_counter())
    parts = partition_rows(scans, stage.partitions)
    t.append(time.perf_counter())
    reduced = [stage.reduce(rows) for rows in parts]
    t.append(time.perf_counter())
    state = stage.finalize(reduced)
    t.append(time.perf_counter())
    prepared = stage.prepare_state(state)
    for s, docs in enumerate(shards):
        stage.apply(docs, s, prepared)
    t.append(time.perf_counter())
    out = dict(
        zip(("scan", "group", "reduce", "finalize", "apply"), (b - a for a, b in zip(t, t[1:])))
    )
    out["total"] = t[-1] - t[0]
    out["scan_mb"] = sum(x.nbytes for x in scans) / 1e6
    out["dropped"] = sum(d.reason is not None for docs in shards for d in docs)
    return out


def child(args: argparse.Namespace) -> None:
    """One stage in this process: print one JSON line of medians and peak RSS."""
    texts = load(args.data / "web")
    base_rss = rss_mb()
    stage = STAGES[args.stage]()
    runs = [run_once(stage, texts, args.shards) for _ in range(args.reps)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    med.update(n=len(texts), rss=rss_mb(), rss_over_data=rss_mb() - base_rss)
    print(orjson.dumps(med).decode())


def main() -> None:
    ap = argparse.ArgumentParser()
    add_data_argument(ap)  # records: DIR/web/*.jsonl
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--stage", choices=list(STAGES))
    args = ap.parse_args()
    if args.stage:
        return child(args)
    texts = load(data_dir(args.data, "web") / "web")
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        for text in texts:
            xxhash.xxh3_64_intdigest(text.encode())
        times.append(time.perf_counter() - t0)
    base = statistics.median(times)
    print(
        f"{len(texts)} records, {sum(map(len, texts)) / 1e6:.1f} M chars, {args.shards} shards, "
        f"median of {args.reps} runs; baseline xxh3 of every text {base:.3f} s"
    )
    for name in STAGES:
        cmd = [
            sys.executable,
            __file__,
            "--stage",
            name,
            "--data",
            str(args.data),
            "--shards",
            str(args.shards),
            "--reps",
            str(args.reps),
        ]
        r = orjson.loads(subprocess.run(cmd, capture_output=True, check=True).stdout)
        phases = "  ".join(
            f"{k} {r[k]:.3f}" for k in ("scan", "group", "reduce", "finalize", "apply")
        )
        print(
            f"{name}: {r['total']:.2f} s = {r['n'] / r['total']:,.0f} rec/s "
            f"({r['total'] / base:.0f}x baseline); {phases}\n"
            f"    dropped {r['dropped']:,}, scan output {r['scan_mb']:.0f} MB, peak RSS "
            f"{r['rss']:.0f} MB ({r['rss_over_data']:.0f} MB over the loaded records)"
        )


if __name__ == "__main__":
    main()
