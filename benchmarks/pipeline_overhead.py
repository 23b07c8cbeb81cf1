"""Pipeline overhead: read → N no-op stages → publish, against a bare JSONL→parquet loop.

Both run as fresh processes over the same input files, interleaved, ``--reps`` times; the
figures are medians. Peak RSS is the child's max resident set (sum over the pipeline's
process tree is not needed at workers=1: it runs inline).

    python benchmarks/pipeline_overhead.py [--input-dir ../shared/data/web] [--reps 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent

BARE = r"""
import sys, glob, orjson, pyarrow as pa, pyarrow.parquet as pq
files, out = sys.argv[1:-1], sys.argv[-1]
n = 0
for i, f in enumerate(files):
    ids, texts, metas = [], [], []
    with open(f, "rb") as fh:
        for line in fh:
            obj = orjson.loads(line)
            ids.append(str(obj.get("id"))); texts.append(obj["text"])
            metas.append(orjson.dumps(obj.get("meta", {})).decode())
    n += len(ids)
    pq.write_table(pa.table({"id": ids, "text": texts, "meta": metas}), f"{out}/{i}.parquet",
                   compression="zstd", compression_level=3)
print(n)
"""


def timed(cmd: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss // 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input-dir", default=str(REPO.parent / "shared" / "data" / "web"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--stages", type=int, default=3, help="number of no-op stages")
    args = ap.parse_args()
    files = sorted(str(p) for p in Path(args.input_dir).glob("*.jsonl"))
    records = sum(sum(1 for _ in open(f, "rb")) for f in files)
    times: dict[str, list[float]] = {"bare": [], "w1": [], "w2": []}
    mem: dict[str, list[int]] = {"bare": [], "w1": [], "w2": []}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.yaml"
        for rep in range(args.reps):  # interleaved, so load changes hit every variant alike
            out = Path(tmp) / f"bare{rep}"
            out.mkdir()
            t, m = timed([sys.executable, "-c", BARE, *files, str(out)])
            times["bare"].append(t)
            mem["bare"].append(m)
            for workers in (1, 2):
                cfg.write_text(yaml.safe_dump({
                    "name": "bench", "input": {"paths": files},
                    "output": {"dir": str(Path(tmp) / f"pipe{rep}w{workers}")},
                    "executor": {"workers": workers},
                    "stages": [{"type": "noop"}] * args.stages}))
                t, m = timed([sys.executable, "run.py", "run", str(cfg), "--progress", "never"])
                times[f"w{workers}"].append(t)
                mem[f"w{workers}"].append(m)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"input: {len(files)} files, {records} records; {args.reps} reps, medians")
    print(f"{'':<40}{'seconds':>9}{'records/s':>12}{'peak RSS MiB':>14}{'ratio':>8}")
    labels = {"bare": "bare loop (parse JSONL + write parquet)",
              "w1": f"pipeline, {args.stages} no-op stages, 1 worker",
              "w2": f"pipeline, {args.stages} no-op stages, 2 workers"}
    for key, label in labels.items():
        print(f"{label:<40}{med[key]:>9.2f}{records / med[key]:>12,.0f}"
              f"{statistics.median(mem[key]):>14}{med[key] / med['bare']:>7.2f}x")
    print("peak RSS: the main process (workers are separate processes at 2 workers)")
    print("target: pipeline / bare <= 1.5x")


if __name__ == "__main__":
    main()
