"""Shared helpers of the throughput and scale benchmarks: measured child runs, zhcurate runs.

Every measured command runs as a fresh process under the peers' ``treemem.py`` (peak RSS and PSS
summed over the whole process tree, sampled every 0.25 s); wall time is the whole command, from
process start to exit (interpreter start, imports, reading, every stage, publishing the version
with its card and plots).

Without the peers' folder (``treemem.py`` absent) a command runs directly: wall time from
``time.perf_counter`` around the child and peak RSS of the largest single process of its tree
(``ru_maxrss`` of the children), not the sum over the tree; the result says which
(``rss_kind``).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PEERS = REPO.parent / "shared" / "peers"
DEFAULT_WORK = REPO.parent / "bench"


def load1() -> float:
    """1-minute load average of the machine (other users' work included)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def measured(cmd: list[str], peers: Path, log: Path, cwd: Path | None = None) -> dict[str, Any]:
    """Run ``cmd`` under treemem.py: wall seconds, CPU seconds (user + sys of the whole tree,
    from the children's rusage), peak tree RSS/PSS (MiB), 1-minute load before/after."""
    log.parent.mkdir(parents=True, exist_ok=True)
    if not (peers / "treemem.py").exists():
        return measured_plain(cmd, log, cwd)
    mem = log.with_suffix(".mem")
    mem.unlink(missing_ok=True)
    before = load1()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    full = [
        sys.executable,
        str(peers / "treemem.py"),
        "--interval",
        "0.25",
        "--out",
        str(mem),
        "--",
        *cmd,
    ]
    with open(log, "w") as fh:
        rc = subprocess.call(full, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    res: dict[str, Any] = {
        "rc": rc,
        "load_before": before,
        "load_after": load1(),
        "cpu_s": round(cpu, 2),
    }
    if mem.exists():
        m = json.loads(mem.read_text().split(" ", 1)[1])
        res.update(
            rss_kind="tree sum (treemem.py)",
            wall_s=m["wall_s"],
            rss_mib=round(m["tree_rss_kb"] / 1024),
            pss_mib=round(m["tree_pss_kb"] / 1024),
            procs=m["max_procs"],
        )
    if rc != 0:
        tail = log.read_text(errors="replace")[-2000:]
        print(f"  ! rc={rc}: {' '.join(cmd)}\n{tail}", file=sys.stderr)
    return res


def measured_plain(cmd: list[str], log: Path, cwd: Path | None = None) -> dict[str, Any]:
    """``measured`` without treemem.py: wall seconds around the child, CPU seconds of its
    tree, peak RSS (MiB) of the largest single process of the tree, load before/after."""
    before = load1()
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd)
        _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    rc = os.waitstatus_to_exitcode(status)
    res: dict[str, Any] = {
        "rc": rc,
        "load_before": before,
        "load_after": load1(),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
        "wall_s": round(wall, 3),
        "rss_mib": round(ru.ru_maxrss / 1024),
        "rss_kind": "largest single process (treemem.py absent)",
    }
    if rc != 0:
        tail = log.read_text(errors="replace")[-2000:]
        print(f"  ! rc={rc}: {' '.join(cmd)}\n{tail}", file=sys.stderr)
    return res


def count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def write_config(path: Path, stages: list[dict[str, Any]], name: str) -> Path:
    """A zhcurate config (input/output/executor are set per run with --set)."""
    cfg = {
        "name": name,
        "input": {"paths": ["-"], "shard_size": 10000},
        "output": {"dir": "out"},
        "executor": {"type": "local", "workers": 1},
        "stages": stages,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False))
    return path


def default_stages() -> list[dict[str, Any]]:
    """The stage list of ``configs/curation.yaml`` (the whole default curation chain, without the
    synthesis tail of ``configs/default.yaml``)."""
    return yaml.safe_load((REPO / "configs" / "curation.yaml").read_text())["stages"]


def run_zhcurate(
    config: Path,
    corpus: Path,
    workers: int,
    out_dir: Path,
    peers: Path,
    log: Path,
    shard_size: int = 10000,
    repo: Path = REPO,
) -> dict[str, Any]:
    """One fresh ``run.py run`` of the checkout ``repo`` (default: this one; its run.py imports
    that checkout's code) in an empty output dir; wall/RSS plus per-stage figures of the
    manifest: ``stages`` = {name: (records in, worker seconds)}; global stages' seconds include
    scan/reduce/finalize."""
    shutil.rmtree(out_dir, ignore_errors=True)
    cmd = [
        sys.executable,
        str(repo / "run.py"),
        "run",
        str(config),
        "--progress",
        "never",
        "--set",
        f"input.paths=[{corpus}]",
        "--set",
        f"output.dir={out_dir}",
        "--set",
        f"executor.workers={workers}",
        "--set",
        f"input.shard_size={shard_size}",
    ]
    res = measured(cmd, peers, log, cwd=repo)
    manifests = sorted(out_dir.glob("*/v0001/manifest.json"))
    if manifests:
        m = json.loads(manifests[0].read_text())
        res["stages"] = {s["name"]: (s["in"], s["seconds"]) for s in m["stages"]}
        res["kept"] = m["counts"].get("kept")
        res["inner_s"] = m.get("seconds")
        res["input"] = m["counts"].get("input")
    shutil.rmtree(out_dir, ignore_errors=True)
    return res


def median(xs: list[float]) -> float:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def fmt_s(x: float) -> str:
    return "-" if x != x else f"{x:.1f}"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def env_python(work: Path, venv: str, override: str | None) -> str | None:
    """The interpreter of ``work/venv`` (or ``override``), None if it does not exist."""
    py = override or str(work / venv / "bin" / "python")
    return py if os.path.exists(py) else None
