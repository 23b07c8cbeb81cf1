"""Local vs Ray executor on 100k and 1M records: records/s, peak memory of the process tree.

The corpus is every record of ``DIR/web/*.jsonl`` (``--data DIR``, default ``../shared/data``;
72k, real Chinese web text) repeated until N records: copy 1 verbatim, copies 2.. with each
character deleted with probability 0.02 (seeded; the near-duplicates MinHash should find, as
in ``shared/peers/make_corpus.py``), written as files of 25k records. Each run is the real CLI
on ``configs/curation.yaml`` (the whole curation chain) as a fresh process: ``local`` with 2
workers, ``ray`` starting its own 2-CPU cluster. Runs alternate; figures are medians.
Memory is the peak over the whole process tree (driver, pool / raylet, GCS and Ray workers),
sampled every 0.2 s: PSS (shared pages split between processes) and RSS (summed).

Also printed: per-stage throughput per core (worker seconds from the manifest; for a global
stage the sum of its phases, split into scan / reduce / finalize / apply) and the tail (last
marker → manifest: executor shutdown and publishing parquet on the driver) and the ingest
wall time (start → last ingest marker, incl. CLI start-up), the inputs of the scale plan.

    python benchmarks/ray_vs_local.py [--sizes 100000 1000000] [--reps 3] [--reps-large 1]
                                      [--executors local ray]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dev_data import add_data_argument, data_dir

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
PER_FILE = 25_000  # records per input file (ingest runs one task per file)
DEL_RATE = 0.02  # per-character deletion probability in perturbed copies


def build_corpus(n: int, root: Path, src: Path) -> list[Path]:
    """N records from ``src/*.jsonl`` as ``root/c<n>/part-*.jsonl`` (reused when already built)."""
    out = root / f"c{n}"
    done = out / "done"
    if done.exists():
        return sorted(out.glob("part-*.jsonl"))
    out.mkdir(parents=True, exist_ok=True)
    base = []
    for f in sorted(src.glob("*.jsonl")):
        for i, line in enumerate(f.open(encoding="utf-8")):
            rec = json.loads(line)
            if isinstance(rec.get("text"), str):
                base.append((str(rec.get("id", f"{f.stem}-{i}")), rec["text"]))
    fh, written = None, 0
    for k in range(1, n // len(base) + 2):
        rng = random.Random(1234 * 1000 + k)
        for rid, text in base:
            if written == n:
                break
            if k > 1:
                text = "".join(c for c in text if rng.random() >= DEL_RATE)
            if written % PER_FILE == 0:
                fh = (out / f"part-{written // PER_FILE:04d}.jsonl").open("w", encoding="utf-8")
            fh.write(json.dumps({"id": f"{rid}#c{k}", "text": text}, ensure_ascii=False) + "\n")
            written += 1
    done.write_text(str(n))
    return sorted(out.glob("part-*.jsonl"))


def _tree(root: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        try:
            st = (d / "stat").read_bytes()
            kids.setdefault(int(st[st.rfind(b")") + 2 :].split()[1]), []).append(int(d.name))
        except (OSError, ValueError):
            continue
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(kids.get(pid, []))
    return out


def _mem_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB."""
    vals = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key = line.split(":")[0]
            if key in ("Rss", "Pss"):
                vals[key] = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return vals.get("Rss", 0), vals.get("Pss", 0)


def stage_input_mb(work: Path, manifest: dict) -> list[float]:
    """UTF-8 MB of text entering each stage (the previous stage's kept output)."""
    import pyarrow.compute as pc

    from pipeline.shard_tables import load_output

    def text_mb(paths: list[Path]) -> float:
        return (
            sum(pc.sum(pc.binary_length(load_output(p)["text"])).as_py() or 0 for p in paths) / 1e6
        )

    def outputs(d: Path) -> list[Path]:  # kept shards only, not .rejected / .quarantine
        return sorted(
            p for p in d.glob("[0-9a-f]" * 16 + "-[0-9]*.arrow") if p.name.count(".") == 1
        )

    sizes = [text_mb([p for d in work.glob("ingest/*") for p in outputs(d)])]
    for s in manifest["stages"][:-1]:
        step_dir = next(work.glob(f"*/{s['name'].replace('#', '_')}-{s['fingerprint']}"))
        sizes.append(text_mb(outputs(step_dir)))
    return sizes


def run_once(
    executor: str, files: list[Path], out: Path, timeout: float, measure_bytes: bool = False
) -> dict:
    """One CLI run under a process-tree memory sampler."""
    ex = (
        ["--set", "executor.type=local", "--set", "executor.workers=2"]
        if executor == "local"
        else ["--set", "executor.type=ray", "--set", "executor.num_cpus=2"]
    )
    cmd = [
        sys.executable,
        str(REPO / "run.py"),
        "run",
        str(REPO / "configs" / "curation.yaml"),
        "--set",
        f"input.paths=[{files[0].parent / 'part-*.jsonl'}]",
        "--set",
        f"output.dir={out}",
        "--progress",
        "never",
        *ex,
    ]
    started, started_epoch = time.perf_counter(), time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_rss = peak_pss = 0
    while proc.poll() is None:
        mem = [_mem_kb(p) for p in _tree(proc.pid)]
        peak_rss = max(peak_rss, sum(m[0] for m in mem))
        peak_pss = max(peak_pss, sum(m[1] for m in mem))
        if time.perf_counter() - started > timeout:
            proc.kill()
            return {"timeout": True}
        time.sleep(0.2)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{executor} run failed: {proc.stderr.read()[-2000:]}")
    version = out / "default" / "v0001"
    manifest = json.loads((version / "manifest.json").read_text())
    work = out / "default" / "_work"
    last_marker = max(p.stat().st_mtime for p in work.rglob("*.done.json"))
    # ingest (JSONL → Arrow shards, one task per file): start → last ingest marker, wall time
    ingest_s = max(p.stat().st_mtime for p in work.glob("ingest/*/done.json")) - started_epoch
    stages = []
    for s in manifest["stages"]:
        # worker seconds; for a global stage its phases (scan + reduce + finalize + apply)
        stages.append((s["name"], s["in"], s["seconds"], s.get("phase_seconds", {})))
    sizes = stage_input_mb(work, manifest) if measure_bytes else [0.0] * len(stages)
    stages = [(*st, mb) for st, mb in zip(stages, sizes)]
    return {
        "wall": wall,
        "records": manifest["counts"]["input"],
        "pss_mb": peak_pss / 1024,
        "rss_mb": peak_rss / 1024,
        "stages": stages,
        "tail_s": (version / "manifest.json").stat().st_mtime - last_marker,
        "ingest_s": ingest_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--reps", type=int, default=3, help="runs per executor below 500k records")
    ap.add_argument("--reps-large", type=int, default=1, help="runs per executor from 500k")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    ap.add_argument("--executors", nargs="+", default=["local", "ray"], choices=["local", "ray"])
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "zhc_ray_bench")
    add_data_argument(ap)
    args = ap.parse_args()
    web = data_dir(args.data, "web") / "web"
    for n in args.sizes:
        files = build_corpus(n, args.work, web)
        runs: dict[str, list[dict]] = {"local": [], "ray": []}
        for rep in range(args.reps if n < 500_000 else args.reps_large):
            for ex in args.executors:
                out = Path(tempfile.mkdtemp(dir=args.work, prefix=f"{ex}{n}-"))
                r = run_once(ex, files, out, args.timeout, ex == "local" and rep == 0)
                shutil.rmtree(out, ignore_errors=True)
                if r.get("timeout"):
                    print(f"{n:>9,} {ex:5} rep {rep}: timed out after {args.timeout:.0f} s")
                    continue
                runs[ex].append(r)
                print(
                    f"{n:>9,} {ex:5} rep {rep}: {r['wall']:7.1f} s  "
                    f"{r['records'] / r['wall']:7,.0f} rec/s  PSS {r['pss_mb']:6.0f} MB  "
                    f"RSS {r['rss_mb']:6.0f} MB  ingest {r['ingest_s']:5.1f} s  "
                    f"tail {r['tail_s']:5.1f} s",
                    flush=True,
                )
        report(n, runs)


def report(n: int, runs: dict[str, list[dict]]) -> None:
    med = {
        ex: {
            k: statistics.median(r[k] for r in rs)
            for k in ("wall", "pss_mb", "rss_mb", "tail_s", "ingest_s")
        }
        for ex, rs in runs.items()
        if rs
    }
    print(f"\n== {n:,} records, medians of {len(runs['local'])} local / {len(runs['ray'])} ray")
    for ex, m in med.items():
        print(
            f"  {ex:5} {n / m['wall']:8,.0f} rec/s  wall {m['wall']:7.1f} s  peak PSS "
            f"{m['pss_mb']:6.0f} MB  RSS {m['rss_mb']:6.0f} MB  ingest {m['ingest_s']:.1f} s  "
            f"tail {m['tail_s']:.1f} s"
        )
    if len(med) == 2:
        print(f"  ray / local throughput: {med['local']['wall'] / med['ray']['wall']:.2f}")
    print(
        "  per-core throughput by stage (local runs; worker seconds, for a global stage all its"
        " phases; MB = UTF-8 text entering the stage; finalize = the one serial task):"
    )
    for i, (name, n_in, _, phases, mb) in enumerate(
        runs["local"][0]["stages"] if runs["local"] else []
    ):
        sec = statistics.median(r["stages"][i][2] for r in runs["local"])
        split = "  ".join(
            f"{k} {statistics.median(r['stages'][i][3][k] for r in runs['local']):.2f}"
            for k in ("scan", "reduce", "finalize", "apply")
            if k in phases
        )
        print(
            f"    {name:14} in {n_in:>9,} rec {mb:8.1f} MB  {sec:8.1f} s  "
            f"{n_in / max(sec, 1e-9):9,.0f} rec/s/core  {mb / max(sec, 1e-9):6.2f} MB/s/core"
            f"{'  (' + split + ' s)' if split else ''}"
        )


if __name__ == "__main__":
    main()
