"""Scale curve: records/s and peak RSS of the default chain at 10k, 100k and 1M records.

The sets are built once under ``--work`` (outside the repo) from the dev corpus, the way the
peers' ``make_corpus.py`` builds its 4x copy: ``--copies`` copies of every record of the data
dir (copy 1 verbatim, the others with each character deleted with probability 2 %, seeded),
shuffled with a fixed seed; ``scale_1000000.jsonl`` is the first 1M of them and the smaller
sets are its first N lines (so every size has the same mix of sources and near-duplicates
grows with size, as in a real crawl). Each size runs ``configs/curation.yaml``'s stages with
``--workers`` processes, ``--reps`` times interleaved (sizes above ``--max-reps-size`` once).

Cost is linear if seconds per record stay flat across sizes (``us/rec`` column; the ratio to
the smallest size is printed). Peak RSS is summed over the process tree (treemem.py).

    python benchmarks/scale_curve.py [--work ../bench] [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import glob
import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import (  # noqa: E402
    DEFAULT_PEERS,
    DEFAULT_WORK,
    count_lines,
    default_stages,
    median,
    now,
    run_zhcurate,
    write_config,
)
from dev_data import add_data_argument, data_dir  # noqa: E402


def build_sets(
    data: Path, work: Path, sizes: list[int], copies: int, seed: int = 1234
) -> dict[int, Path]:
    """``work/scale_<N>.jsonl`` for every size (built once; existing files are reused)."""
    paths = {n: work / f"scale_{n}.jsonl" for n in sizes}
    if all(p.exists() and count_lines(p) == n for n, p in paths.items()):
        return paths
    recs: list[tuple[str, str]] = []
    for f in sorted(glob.glob(str(data / "*.jsonl"))):
        base = Path(f).stem
        with open(f, encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if line.strip() and isinstance(text := json.loads(line).get("text"), str):
                    recs.append((f"{base}-{i}", text))
    out: list[str] = []
    for k in range(1, copies + 1):
        rng = random.Random(seed * 1000 + k)
        for rid, text in recs:
            if k > 1:
                r = rng.random
                text = "".join(c for c in text if r() >= 0.02)
            out.append(json.dumps({"id": f"{rid}#c{k}", "text": text}, ensure_ascii=False))
    if len(out) < max(sizes):
        raise SystemExit(f"{copies} copies give {len(out)} records < {max(sizes)}: raise --copies")
    random.Random(seed).shuffle(out)
    work.mkdir(parents=True, exist_ok=True)
    for n, p in paths.items():
        tmp = p.with_suffix(".tmp")
        tmp.write_text("\n".join(out[:n]) + "\n", encoding="utf-8")
        tmp.replace(p)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK)
    add_data_argument(ap)  # reads DIR/web/*.jsonl
    ap.add_argument("--peers", type=Path, default=DEFAULT_PEERS)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--copies", type=int, default=14, help="copies of the dev corpus (72k each)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shard-size", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument(
        "--max-reps-size", type=int, default=100000, help="sizes above this run once per invocation"
    )
    ap.add_argument("--results", type=Path, help="JSON lines (default WORK/scale.jsonl)")
    ap.add_argument("--summarize", type=Path, help="only print the table of a results file")
    a = ap.parse_args()
    if a.summarize:
        summarize([json.loads(x) for x in a.summarize.read_text().splitlines() if x.strip()])
        return
    a.work = a.work.resolve()
    sizes = [int(x) for x in a.sizes.split(",")]
    paths = build_sets(data_dir(a.data, "web") / "web", a.work, sizes, a.copies)
    config = write_config(a.work / "configs" / "default.yaml", default_stages(), "bench_default")
    results = a.results or a.work / "scale.jsonl"
    rows = []
    for rep in range(1, a.reps + 1):
        for n in sizes:
            if rep > 1 and n > a.max_reps_size:
                continue
            log = a.work / "logs" / f"scale_{n}_w{a.workers}_r{rep}.log"
            res = run_zhcurate(
                config,
                paths[n],
                a.workers,
                a.work / "scratch" / "zc_scale",
                a.peers,
                log,
                a.shard_size,
            )
            row = {"records": n, "workers": a.workers, "rep": rep, "ts": now(), **res}
            rows.append(row)
            with open(results, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(
                f"rep {rep} {n:>9,} records: wall {res.get('wall_s')} s, cpu {res.get('cpu_s')}"
                f" s, peak RSS {res.get('rss_mib')} MiB, load {res['load_before']:.1f}",
                flush=True,
            )
    summarize(rows)


def summarize(rows: list[dict[str, Any]]) -> None:
    ok = [r for r in rows if r.get("rc") == 0 and r.get("wall_s")]
    print(
        f"\n{'records':>10}{'procs':>6}{'reps':>5}{'wall s':>9}{'rec/s':>9}{'us/rec':>8}"
        f"{'vs 1st':>7}{'cpu s':>8}{'cpu us/rec':>11}{'peak RSS MiB':>13}{'kept':>9}{'load1':>7}"
    )
    base = None
    for n in sorted({r["records"] for r in ok}):
        rs = [r for r in ok if r["records"] == n]
        wall, cpu = median([r["wall_s"] for r in rs]), median([r.get("cpu_s") for r in rs])
        us = wall / n * 1e6
        base = base or us
        print(
            f"{n:>10,}{rs[0]['workers']:>6}{len(rs):>5}{wall:>9.1f}{n / wall:>9.0f}{us:>8.1f}"
            f"{us / base:>7.2f}{cpu:>8.1f}{cpu / n * 1e6:>11.1f}"
            f"{max(r.get('rss_mib', 0) for r in rs):>13,}{str(rs[0].get('kept')):>9}"
            f"{median([r['load_before'] for r in rs]):>7.1f}"
        )
    print("\nPer stage at each size: records in / worker seconds (median over reps)")
    for n in sorted({r["records"] for r in ok}):
        rs = [r for r in ok if r["records"] == n and r.get("stages")]
        if rs:
            cells = [
                f"{k} {v[0] / max(median([r['stages'][k][1] for r in rs]), 1e-9):,.0f}/s"
                for k, v in rs[0]["stages"].items()
            ]
            print(f"  {n:>9,}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
