"""Stopping a real run: SIGTERM and Ctrl-C stop it with one line, leave no process behind and
release the dataset lock; a concurrent run is refused with 75 naming the holder; a lock left
by a dead run is taken over. Each run works on generated input long enough to be stopped
while its pool workers are busy."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.errors import ExitCode
from pipeline.remote_store import _alive_here, lock_record, process_start
from pipeline.store import DatasetStore
from tests.conftest import REPO, run_cli, write_config

#: Generated records and shard size: a 2 s run on 2 idle cores (2 workers), in 40 shards.
RECORDS = 3_000
SHARD_SIZE = 75
STAGES = [{"type": "normalize"}, {"type": "heuristics", "min_chars": 30}]


def _text(rng: random.Random) -> str:
    """A document of 8-20 sentences of common Han characters, each ending in 。！？."""
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 2000)]
    return "".join(
        "".join(rng.choices(han, k=rng.randint(10, 30))) + rng.choice("。！？")
        for _ in range(rng.randint(8, 20))
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RECORDS generated documents (seeded) in one JSONL file."""
    rng = random.Random(12)
    path = tmp_path_factory.mktemp("signals") / "in.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(RECORDS):
            fh.write(json.dumps({"id": str(i), "text": _text(rng)}, ensure_ascii=False) + "\n")
    return path


def _config(corpus: Path, tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "c.yaml",
        [str(corpus)],
        tmp_path / "out",
        stages=STAGES,
        input={"shard_size": SHARD_SIZE},
        executor={"workers": 2},
    )


def _start(config: Path, *args: str) -> subprocess.Popen:
    """``run.py run CONFIG ARGS`` in its own session (so its process group is its own)."""
    return subprocess.Popen(
        [sys.executable, str(REPO / "run.py"), "run", str(config), *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _group(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid`` (the run's: started with a new
    session, its pid is its session and group id) — orphans keep their session."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != b"Z":
            found.append(int(entry.name))
    return found


def _wait_for_workers(proc: subprocess.Popen, work: Path, timeout: float = 120) -> None:
    """Until the pool works on stages: a stage marker exists and workers are alive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if len(_group(proc.pid)) >= 4 and any((work / "stages").rglob("*.done.json")):
            return
        time.sleep(0.02)
    pytest.fail(f"the run did not reach its stages (exit {proc.poll()})")


def _gone(sid: int, timeout: float = 5) -> list[int]:
    """Processes of the session still alive after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (left := _group(sid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _stop(corpus: Path, tmp_path: Path, sig: signal.Signals, to_group: bool, *args: str) -> str:
    """Start a run, signal it once its workers are busy; returns its stderr after checking
    it stopped cleanly: nothing of it left running, the lock free, nothing published, and
    the same command then publishes."""
    config = _config(corpus, tmp_path)
    proc = _start(config, *args)
    try:
        _wait_for_workers(proc, tmp_path / "out" / "t" / "_work")
        (os.killpg if to_group else os.kill)(proc.pid, sig)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    code = {signal.SIGTERM: ExitCode.SIGTERM, signal.SIGINT: ExitCode.SIGINT}[sig]
    assert proc.returncode == code, stderr
    assert _gone(proc.pid) == []
    with DatasetStore(tmp_path / "out" / "t").lock():
        pass  # released
    assert not (tmp_path / "out" / "t" / "v0001").exists()
    again = run_cli("run", str(config), *args)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("published ") and "/t/v0001: input 3000 " in again.stdout
    return stderr


def test_sigterm_to_the_main_process_stops_workers_and_releases_the_lock(
    corpus: Path, tmp_path: Path
) -> None:
    stderr = _stop(corpus, tmp_path, signal.SIGTERM, to_group=False)
    assert stderr.strip().splitlines() == [
        "zhcurate: stopped by SIGTERM; workers stopped, lock released; run the same command "
        "again to resume"
    ]


def test_ctrl_c_to_the_process_group_prints_one_line(corpus: Path, tmp_path: Path) -> None:
    stderr = _stop(corpus, tmp_path, signal.SIGINT, to_group=True)
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines() == [
        "zhcurate: interrupted (Ctrl-C); workers stopped, lock released; run the same "
        "command again to resume"
    ]


def test_sigterm_to_the_process_group_as_systemd_does(corpus: Path, tmp_path: Path) -> None:
    stderr = _stop(corpus, tmp_path, signal.SIGTERM, to_group=True)
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith(
        "zhcurate: stopped by SIGTERM"
    )


def test_sigterm_on_ray_shuts_the_local_cluster_down(corpus: Path, tmp_path: Path) -> None:
    """``ray.init`` installs a SIGTERM handler that only exits, and the signal interrupts
    Ray's C code: the run still stops its cluster (raylet, GCS, workers) and exits 143."""
    ray = ("--set", "executor.type=ray", "--set", "executor.num_cpus=2")
    stderr = _stop(corpus, tmp_path, signal.SIGTERM, False, *ray)
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith(
        "zhcurate: stopped by SIGTERM"
    )


def test_workers_die_with_a_main_process_killed_by_sigkill(corpus: Path, tmp_path: Path) -> None:
    """SIGKILL cannot be handled: the kernel ends the workers (``PR_SET_PDEATHSIG``) and
    drops the lock; the same command then resumes and publishes."""
    config = _config(corpus, tmp_path)
    proc = _start(config)
    try:
        _wait_for_workers(proc, tmp_path / "out" / "t" / "_work")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
        assert _gone(proc.pid) == []
    finally:
        with contextlib.suppress(ProcessLookupError):  # none left: the expected case
            os.killpg(proc.pid, signal.SIGKILL)
    again = run_cli("run", str(config))
    assert again.returncode == 0, again.stderr


def test_concurrent_run_exits_75_naming_the_holder(corpus: Path, tmp_path: Path) -> None:
    config = _config(corpus, tmp_path)
    proc = _start(config)
    try:
        _wait_for_workers(proc, tmp_path / "out" / "t" / "_work")
        os.killpg(proc.pid, signal.SIGSTOP)  # frozen mid-run, holding the lock
        second = run_cli("run", str(config))
    finally:
        os.killpg(proc.pid, signal.SIGCONT)
        os.kill(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=20)
    assert second.returncode == ExitCode.LOCKED == 75
    assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    assert "another run of dataset 't' is in progress" in second.stderr
    assert f"(pid {proc.pid} on {socket.gethostname()} since 20" in second.stderr
    assert not (tmp_path / "out" / "t" / "v0001").exists()


def test_lock_file_of_a_dead_run_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    root = tmp_path / "out" / "t"
    root.mkdir(parents=True)
    (root / ".lock").write_text(f"pid {dead.pid} on {socket.gethostname()} since 2026-01-01")
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "1", "text": "一条记录。"}\n', "utf-8")
    r = run_cli("run", str(write_config(tmp_path / "c.yaml", [str(src)], tmp_path / "out")))
    assert r.returncode == 0, r.stderr
    assert (root / ".lock").read_text().startswith("pid ")
    assert f"pid {dead.pid} " not in (root / ".lock").read_text()


def test_the_lock_is_not_inherited_by_forked_children(tmp_path: Path) -> None:
    """A child forked while the lock is held (a pool worker) does not keep it after the
    parent is gone (a ``flock`` would: the orphans blocked the next run)."""
    code = (
        "import os, sys, time; sys.path.insert(0, sys.argv[1]);"
        "from pathlib import Path; from pipeline.store import DatasetStore\n"
        "with DatasetStore(Path(sys.argv[2])).lock():\n"
        " if os.fork() == 0:\n  time.sleep(30); os._exit(0)\n"
        " print('locked', flush=True); time.sleep(30)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(REPO), str(tmp_path / "t")],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        assert len(_group(holder.pid)) == 1  # the forked child lives on
        with DatasetStore(tmp_path / "t").lock():
            pass
    finally:
        os.killpg(holder.pid, signal.SIGKILL)


def test_remote_lock_record_tells_a_reused_pid_from_its_holder() -> None:
    me = lock_record()
    assert me["pid"] == os.getpid() and me["start"] == process_start(os.getpid())
    assert _alive_here(me)
    assert not _alive_here({**me, "start": "another-boot:1"})  # the pid was reused
    assert _alive_here({**me, "host": "elsewhere", "start": "x"})  # unknowable: assume alive
    assert _alive_here({k: v for k, v in me.items() if k != "start"})  # an older record


def test_help_lists_every_exit_code() -> None:
    out = run_cli("--help").stdout
    for code in ExitCode:
        assert f"\n  {int(code):>3}  " in out, code
