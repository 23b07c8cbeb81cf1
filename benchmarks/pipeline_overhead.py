"""Pipeline overhead: read → N no-op stages → publish, against a bare JSONL→parquet loop.

Both run as fresh processes over the same input files, interleaved, ``--reps`` times; the
figures are medians. Peak RSS is the child's max resident set (sum over the pipeline's
process tree is not needed at workers=1: it runs inline).

With ``--scale K`` (default 4) the same jobs also run on K copies of every input file (ids
suffixed per copy), in the same interleaved reps. That separates what a run costs once
(interpreter start, imports, the plot helper, card, manifest) from what each record costs:
``marginal ratio = (pipeline(Kx) - pipeline(1x)) / (bare(Kx) - bare(1x))``.

Checksum cost: a run hashes (xxh3-128) every intermediate file it writes once, right after
writing it, for its completion marker; a resumed run hashes each reused file once more to
verify it. After every pipeline run the benchmark times that same hashing
(``pipeline.intermediates.files_field``) over every file in the run's ``_work`` (still in
the page cache, as in the run) and reports the median ms and its share of the run's wall
time (an upper bound at 2 workers, where the workers hash in parallel).

    python benchmarks/pipeline_overhead.py [--data DIR] [--reps 5]
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
from dev_data import add_data_argument, data_dir

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.intermediates import files_field  # noqa: E402

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


def checksum_cost(work: Path) -> tuple[float, int]:
    """(seconds, bytes) to hash every file under ``work`` once, as markers record them."""
    files = [p for p in work.rglob("*") if p.is_file()]
    start = time.perf_counter()
    for f in files:
        files_field(f.parent, [f.name])
    return time.perf_counter() - start, sum(f.stat().st_size for f in files)


def scaled_copy(files: list[str], k: int, out: Path) -> list[str]:
    """K copies of every file's records, ids suffixed ``#c1..#cK`` (so nothing is an exact
    duplicate by id); one output file per input file."""
    import orjson

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for f in files:
        dest = out / Path(f).name
        with open(f, "rb") as src, open(dest, "wb") as fh:
            lines = src.readlines()
            for c in range(1, k + 1):
                for line in lines:
                    obj = orjson.loads(line)
                    obj["id"] = f"{obj.get('id')}#c{c}"
                    fh.write(orjson.dumps(obj) + b"\n")
        written.append(str(dest))
    return written


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_argument(ap)  # inputs: DIR/web/*.jsonl
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--stages", type=int, default=3, help="number of no-op stages")
    ap.add_argument("--scale", type=int, default=4, help="copies for the marginal cost (0: off)")
    args = ap.parse_args()
    base = sorted(str(p) for p in (data_dir(args.data, "web") / "web").glob("*.jsonl"))
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {"1x": base}
        if args.scale > 1:
            inputs[f"{args.scale}x"] = scaled_copy(base, args.scale, Path(tmp) / "scaled")
        records = {k: sum(sum(1 for _ in open(f, "rb")) for f in v) for k, v in inputs.items()}
        times: dict[tuple[str, str], list[float]] = {}
        mem: dict[tuple[str, str], list[int]] = {}
        sums: dict[tuple[str, str], list[float]] = {}
        hashed: dict[str, int] = {}
        cfg = Path(tmp) / "bench.yaml"
        for rep in range(args.reps):  # interleaved, so load changes hit every variant alike
            for size, files in inputs.items():
                out = Path(tmp) / f"bare{rep}{size}"
                out.mkdir()
                t, m = timed([sys.executable, "-c", BARE, *files, str(out)])
                times.setdefault((size, "bare"), []).append(t)
                mem.setdefault((size, "bare"), []).append(m)
                for workers in (1, 2):
                    pipe_out = Path(tmp) / f"pipe{rep}{size}w{workers}"
                    cfg.write_text(
                        yaml.safe_dump(
                            {
                                "name": "bench",
                                "input": {"paths": files},
                                "output": {"dir": str(pipe_out)},
                                "executor": {"workers": workers},
                                "stages": [{"type": "noop"}] * args.stages,
                            }
                        )
                    )
                    t, m = timed([sys.executable, "run.py", "run", str(cfg), "--progress", "never"])
                    times.setdefault((size, f"w{workers}"), []).append(t)
                    mem.setdefault((size, f"w{workers}"), []).append(m)
                    c, hashed[size] = checksum_cost(pipe_out / "bench" / "_work")
                    sums.setdefault((size, f"w{workers}"), []).append(c)
    med = {k: statistics.median(v) for k, v in times.items()}
    labels = {
        "bare": "bare loop (parse JSONL + write parquet)",
        "w1": f"pipeline, {args.stages} no-op stages, 1 worker",
        "w2": f"pipeline, {args.stages} no-op stages, 2 workers",
    }
    print(f"{len(base)} files; {args.reps} reps interleaved, medians")
    print(f"{'input':<7}{'':<40}{'seconds':>9}{'records/s':>12}{'peak RSS MiB':>14}{'ratio':>8}")
    for size in inputs:
        for key, label in labels.items():
            t = med[size, key]
            print(
                f"{size + ' ' + format(records[size], ','):<14}{label:<40}{t:>9.2f}"
                f"{records[size] / t:>12,.0f}{statistics.median(mem[size, key]):>14}"
                f"{t / med[size, 'bare']:>7.2f}x"
            )
    if len(inputs) == 2:
        big = f"{args.scale}x"
        for key in ("w1", "w2"):
            marginal = (med[big, key] - med["1x", key]) / (med[big, "bare"] - med["1x", "bare"])
            fixed = med["1x", key] - med["1x", "bare"] * marginal
            print(
                f"marginal (per-record) ratio, {labels[key]}: {marginal:.2f}x; "
                f"fixed start-up cost beyond the bare loop's: {fixed:.2f} s"
            )
    for size in inputs:
        for key in ("w1", "w2"):
            c = statistics.median(sums[size, key])
            print(
                f"checksums {size}, {labels[key]}: xxh3-128 of {hashed[size] / 2**20:.1f} MiB "
                f"of intermediates in {c * 1000:.1f} ms median = "
                f"{100 * c / med[size, key]:.2f}% of the run"
            )
    print("peak RSS: the main process (workers are separate processes at 2 workers)")
    print("target: pipeline / bare <= 1.5x")


if __name__ == "__main__":
    main()
