"""Throughput of the ``heuristics`` stage on all of the DEV web data (72,116 records, 21 MB).

Prints records/s (median of ``--reps`` runs) for one process and for ``--workers`` processes
(each takes every other batch, like the executor's shard pool), after a warm-up that loads the
segmenter and the character table (``setup()``, timed separately). The baseline in the same
run is segmentation alone (the stage's single largest cost), to show what the rules add.

    python3 benchmarks/stage_throughput_heuristics.py [--data DIR] [--batch 1000] [--reps 3] \
        [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dev_data import add_data_argument, data_dir
from filters.heuristics import Heuristics
from filters.segment import segment
from pipeline.record import Doc


def load(folder: Path) -> list[str]:
    texts = []
    for path in sorted(folder.glob("*.jsonl")):
        with path.open("rb") as fh:
            texts.extend(orjson.loads(line)["text"] for line in fh if line.strip())
    return texts


def run_stage(texts: list[str], batch: int) -> int:
    stage = Heuristics()
    stage.setup()
    dropped = 0
    for i in range(0, len(texts), batch):
        docs = [Doc(id=str(i + j), text=t) for j, t in enumerate(texts[i : i + batch])]
        dropped += sum(d.reason is not None for d in stage.process(docs))
    return dropped


def timed(fn, *args) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    add_data_argument(ap)  # DEV data, default ../shared/data; reads DIR/web/*.jsonl
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    texts = load(data_dir(args.data, "web") / "web")
    n = len(texts)
    print(f"{n} records, {sum(map(len, texts)) / 1e6:.1f} M chars, batch {args.batch}")
    t_setup, _ = timed(Heuristics().setup)
    print(f"setup (segmenter + char table): {t_setup:.2f} s")

    seg, one, pool = [], [], []
    dropped = 0
    chunks = [texts[i : i + args.batch] for i in range(0, n, args.batch)]
    parts = [[t for c in chunks[w :: args.workers] for t in c] for w in range(args.workers)]
    with ProcessPoolExecutor(args.workers) as ex:
        list(ex.map(run_stage, [p[:10] for p in parts], [args.batch] * args.workers))  # warm
        for _ in range(args.reps):
            seg.append(timed(lambda: [segment(t) for t in texts])[0])
            t, dropped = timed(run_stage, texts, args.batch)
            one.append(t)
            pool.append(
                timed(lambda: list(ex.map(run_stage, parts, [args.batch] * args.workers)))[0]
            )
    for label, ts in (
        ("segmentation only, 1 process", seg),
        ("heuristics, 1 process", one),
        (f"heuristics, {args.workers} processes", pool),
    ):
        med = statistics.median(ts)
        print(
            f"{label:32s} median {med:.2f} s  {n / med:>9,.0f} records/s  (runs: "
            + ", ".join(f"{t:.2f}" for t in ts)
            + ")"
        )
    print(
        f"heuristics / segmentation time (1 process): "
        f"{statistics.median(one) / statistics.median(seg):.2f}x"
    )
    print(f"dropped {dropped} of {n} ({dropped / n:.1%}) with default thresholds")


if __name__ == "__main__":
    main()
