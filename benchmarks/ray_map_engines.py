"""Map stages on Ray: Ray tasks over shards (the executor) vs Ray Data ``map_batches``.

Same cluster (local, 2 CPUs, 512 MiB object store, started once), same ingested shards of
the ``ray_vs_local`` corpus, same map stages of ``configs/curation.yaml`` in order (the global
ones — boilerplate, dedup — are left out: Ray Data has no equivalent of their phases here).

* ``tasks``: ``RayExecutor.map(run_segment, ...)``, one task per shard, which writes each
  stage's kept/rejected/delta files and completion markers (what resume needs).
* ``data``: ``read_parquet → map_batches(chain of the same stages, batch = shard size,
  2 actors) → write_parquet`` of every record with its reason; no per-stage files or markers.
  Each actor asks for ``ACTOR_CPUS`` = 0.5 logical CPU: two 1-CPU actors would hold both
  CPUs of the cluster and leave none for the read and write tasks (Ray Data then waits
  forever — it did, with Ray 2.60). Both engines still get the same 2 physical cores.

Figures: medians of ``--reps`` alternating runs, records/s over the wall time, and peak PSS
of this process tree (driver + Ray processes) during each run.

    python benchmarks/ray_map_engines.py [--records 100000] [--reps 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
#: Logical CPUs per Ray Data actor (see the module docstring).
ACTOR_CPUS = 0.5
sys.path.insert(0, str(REPO))

from benchmarks.ray_vs_local import _mem_kb, _tree, build_corpus  # noqa: E402
from pipeline.config import resolve  # noqa: E402
from pipeline.ingest import make_tasks, run_ingest  # noqa: E402
from pipeline.registry import STAGES  # noqa: E402
from pipeline.worker import SegmentTask, StageStep  # noqa: E402


class Chain:
    """Ray Data UDF: run the stages over a batch; every record comes out with its reason."""

    def __init__(self, params: list[dict]) -> None:
        from pipeline.worker import get_stage

        self.steps = [StageStep(p, p["type"], f"bench-{i}", "") for i, p in enumerate(params)]
        self.stages = [get_stage(s) for s in self.steps]

    def __call__(self, batch: pa.Table) -> pa.Table:
        from pipeline.shard_tables import table_to_docs
        from pipeline.worker import run_stage

        docs, done = table_to_docs(batch)[0], []
        for stage, step in zip(self.stages, self.steps):
            out = run_stage(stage, step, docs, 0)
            for d in out:
                if d.error is not None or d.reason is not None:
                    d.reason = f"{step.params['type']}:{d.reason or 'error'}"
                    done.append(d)
            docs = [d for d in out if d.error is None and d.reason is None]
        done.extend(docs)
        return pa.table(
            {
                "id": [d.id for d in done],
                "text": [d.text for d in done],
                "reason": pa.array([d.reason for d in done], pa.string()),
            }
        )


class PeakMem(threading.Thread):
    """Samples this process tree's summed PSS every 0.2 s until stopped (MB)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.stop = 0.0, threading.Event()

    def run(self) -> None:
        import os

        while not self.stop.wait(0.2):
            self.peak = max(self.peak, sum(_mem_kb(p)[1] for p in _tree(os.getpid())) / 1024)


def timed(fn) -> tuple[float, float, int]:
    mem = PeakMem()
    mem.start()
    t0 = time.perf_counter()
    kept = fn()
    wall = time.perf_counter() - t0
    mem.stop.set()
    mem.join()
    return wall, mem.peak, kept


def main() -> None:
    import ray

    from pipeline.executors.ray_executor import RayExecutor
    from pipeline.worker import run_segment

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "zhc_ray_bench")
    args = ap.parse_args()
    files = build_corpus(args.records, args.work)
    config = resolve(
        REPO / "configs" / "curation.yaml", [f"input.paths=[{files[0].parent / 'part-*.jsonl'}]"]
    )
    params = [p for p in config["stages"] if STAGES[p["type"]].kind == "map"]
    root = Path(tempfile.mkdtemp(dir=args.work, prefix="engines-"))
    shards = []
    for task in make_tasks([str(f) for f in files], config["input"], root):
        marker = run_ingest(task)
        shards += [
            Path(task.out_dir) / task.fingerprint / f"{s['id']}.arrow" for s in marker["shards"]
        ]
    (root / "pq").mkdir()
    for i, path in enumerate(shards):
        with pa.memory_map(str(path)) as src:
            pq.write_table(pa.ipc.open_file(src).read_all(), root / "pq" / f"{i:05d}.parquet")
    print(
        f"{args.records:,} records in {len(shards)} shards; map stages: "
        f"{', '.join(p['type'] for p in params)}",
        flush=True,
    )

    ray.init(
        address="local",
        num_cpus=2,
        object_store_memory=512 * 2**20,
        include_dashboard=False,
        logging_level="WARNING",
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    ex = RayExecutor({"type": "ray", "workers": None})

    def tasks(rep: int) -> int:
        out = root / f"tasks{rep}"
        steps = tuple(
            StageStep(p, p["type"], f"{p['type']}-{rep}", str(out / p["type"])) for p in params
        )
        todo = [SegmentTask(s.stem, i, "bench", str(s), steps) for i, s in enumerate(shards)]
        return sum(r[-1]["out"] for r in ex.map(run_segment, todo))

    def data(rep: int) -> int:
        out = root / f"data{rep}"
        (
            ray.data.read_parquet(str(root / "pq"))
            .map_batches(
                Chain,
                fn_constructor_args=(params,),
                batch_size=config["input"]["shard_size"],
                batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(size=2),
                num_cpus=ACTOR_CPUS,
            )
            .write_parquet(str(out))
        )
        return pq.read_table(out, columns=["reason"])["reason"].null_count

    runs: dict[str, list[tuple[float, float, int]]] = {"tasks": [], "data": []}
    for rep in range(args.reps):
        for name, fn in (("tasks", tasks), ("data", data)):
            runs[name].append(timed(lambda: fn(rep)))  # noqa: B023 - called at once
            wall, peak, kept = runs[name][-1]
            print(
                f"  {name:5} rep {rep}: {wall:6.1f} s  {args.records / wall:8,.0f} rec/s  "
                f"peak PSS {peak:6.0f} MB  kept {kept:,}",
                flush=True,
            )
            shutil.rmtree(root / f"{name}{rep}", ignore_errors=True)
    ex.close()
    ray.shutdown()
    print(f"\n== map stages on Ray, {args.records:,} records, medians of {args.reps}")
    med = {
        k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v))
        for k, v in runs.items()
    }
    for name, (wall, peak) in med.items():
        print(
            f"  {name:5} {args.records / wall:8,.0f} rec/s  wall {wall:6.1f} s  "
            f"peak PSS {peak:6.0f} MB"
        )
    print(f"  tasks / data throughput: {med['data'][0] / med['tasks'][0]:.2f}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
