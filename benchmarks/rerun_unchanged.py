"""Cost of change detection: wall time of a "nothing new" rerun, and of hashing the inputs.

A first run publishes; then ``--reps`` reruns of the same command (which find the inputs
unchanged and print "nothing new") are timed as fresh processes; the figure is the median.
Run it with ``--repo`` pointing at another checkout to compare code versions on the same
input (each repo's ``run.py`` imports its own ``pipeline``).

    python benchmarks/rerun_unchanged.py [--data DIR] [--reps 5]
        [--repo /path/to/other/checkout]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from dev_data import add_data_argument, data_dir

REPO = Path(__file__).resolve().parent.parent


def timed_run(repo: Path, cfg: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(repo / "run.py"), "run", str(cfg), "--progress", "never"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"run failed: {proc.stderr.strip()}")
    return elapsed, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_argument(ap)  # inputs: DIR/web/*.jsonl
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument(
        "--repo",
        action="append",
        help="checkout whose run.py is timed (repeat to compare; reps are interleaved); "
        "default: this one",
    )
    args = ap.parse_args()
    repos = [Path(r) for r in (args.repo or [str(REPO)])]
    web = data_dir(args.data, "web") / "web"
    files = sorted(str(p) for p in web.glob("*.jsonl"))
    if not files:
        raise SystemExit(f"no *.jsonl in {web}")
    size = sum(Path(f).stat().st_size for f in files)
    times: dict[Path, list[float]] = {r: [] for r in repos}
    with tempfile.TemporaryDirectory() as tmp:
        cfgs = {}
        for i, repo in enumerate(repos):
            cfgs[repo] = Path(tmp) / f"bench{i}.yaml"
            cfgs[repo].write_text(
                yaml.safe_dump(
                    {
                        "name": "bench",
                        "input": {"paths": files},
                        "output": {"dir": str(Path(tmp) / f"out{i}")},
                        "executor": {"workers": 1, "max_error_fraction": 1.0},
                        "stages": [{"type": "noop"}],
                    }
                )
            )
            timed_run(repo, cfgs[repo])  # the first run publishes
        for _ in range(args.reps):  # interleaved, so load changes hit every checkout alike
            for repo in repos:
                t, out = timed_run(repo, cfgs[repo])
                if "nothing new" not in out:
                    raise SystemExit(f"rerun was not 'nothing new': {out.strip()}")
                times[repo].append(t)
    sys.path.insert(0, str(REPO))
    from pipeline.io.files import content_identity

    hashing = []
    for _ in range(args.reps):
        start = time.perf_counter()
        for f in files:
            content_identity(f)
        hashing.append(time.perf_counter() - start)
    print(f"{len(files)} files, {size / 1e6:.1f} MB; {args.reps} reps interleaved")
    for repo, ts in times.items():
        print(
            f"{repo}: 'nothing new' rerun median {statistics.median(ts):.3f} s "
            f"(min {min(ts):.3f}, max {max(ts):.3f})"
        )
    med = statistics.median(hashing)
    print(
        f"content hash of every input (content_identity, this checkout): median "
        f"{med * 1000:.1f} ms = {size / 1e6 / med:.0f} MB/s"
    )


if __name__ == "__main__":
    main()
