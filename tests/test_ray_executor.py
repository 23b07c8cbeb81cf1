"""Ray executor on a real multi-node Ray cluster started on this machine.

The cluster (``ray.cluster_utils.Cluster``: a head and two worker nodes, one CPU and 100 MiB of
object store each) runs the default config through the real CLI; the published data files
(kept, rejected, quarantine parquet) must equal the local executor's byte for byte — at
several worker counts, after a worker node dies mid-run, and after the driver is SIGKILLed
and the command started again.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

from pipeline.executors.ray_cluster import PACKAGES, init_kwargs
from pipeline.executors.ray_executor import RayExecutor
from tests.conftest import REPO, run_cli
from tests.test_resume import data_hashes

MIB = 2**20
NODE = {"num_cpus": 1, "object_store_memory": 100 * MIB}
DEFAULT = str(REPO / "configs" / "curation.yaml")


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    for _ in range(2):
        c.add_node(**NODE)
    c.wait_for_nodes()
    yield c
    c.shutdown()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """The bundled sample plus records without ids (ids from path:line) and one broken line."""
    root = tmp_path_factory.mktemp("ray")
    (root / "in").mkdir()
    for f in sorted((REPO / "samples").glob("*.jsonl")):
        shutil.copy(f, root / "in" / f.name)
    (root / "in" / "zz_noid.jsonl").write_text(
        '{"text": "北京时间今天上午，国家统计局发布了十月份国民经济运行数据。"}\n'
        '{"text": "这家店的外卖送得很快，味道也不错，下次还会再点。"}\n'
        '{"id": "broken", "text": \n',
        "utf-8",
    )
    return root


def _args(out: str, *executor: str) -> list[str]:
    """Run the default config on ``in/`` with relative paths (workers must resolve them)."""
    return [
        "run",
        DEFAULT,
        "--set",
        "input.paths=[in/*.jsonl]",
        "--set",
        "input.shard_size=300",
        "--set",
        f"output.dir={out}",
        *executor,
    ]


def _ray(address: str, workers: int | None = None) -> list[str]:
    return [
        "--set",
        "executor.type=ray",
        "--set",
        f"executor.address={address}",
        "--set",
        f"executor.workers={'null' if workers is None else workers}",
    ]


def _published(workdir: Path, out: str) -> dict[str, str]:
    return data_hashes(workdir / out / "default" / "v0001")


@pytest.fixture(scope="module")
def reference(workdir: Path) -> dict[str, str]:
    proc = run_cli(*_args("local", "--set", "executor.workers=2"), cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    hashes = _published(workdir, "local")
    # records, and the dedup stages' index: every executor must publish the same of both
    assert {p.split("/")[0] for p in hashes} == {"data", "rejected", "quarantine", "index"}
    return hashes


def test_map_keeps_task_order_reraises_task_errors_and_retries_oserror(cluster, tmp_path) -> None:
    ex = RayExecutor(
        {
            "type": "ray",
            "workers": None,
            "address": cluster.address,
            "num_cpus": None,
            "object_store_memory": None,
        }
    )
    try:
        assert ex.cpus == 3 and ex.inflight == 6
        seen: list[int] = []
        done = tmp_path / "done"
        done.mkdir()

        def slow_square(x: int) -> int:
            """The first task finishes last: it waits for the seven others (not on a timer)."""
            deadline = time.time() + 60
            while x == 0 and len(os.listdir(done)) < 7 and time.time() < deadline:
                time.sleep(0.01)
            (done / str(x)).touch()
            return x * x

        assert ex.map(slow_square, list(range(8)), on_result=seen.append) == [
            x * x for x in range(8)
        ]
        assert sorted(seen) == [x * x for x in range(8)] and seen[-1] == 0

        def bad(x: int) -> int:
            raise ValueError(f"bad record {x}")

        with pytest.raises(ValueError, match="bad record 3"):
            ex.map(bad, [3])

        flag = tmp_path / "failed_once"

        def flaky(x: int) -> int:
            if not flag.exists():
                flag.write_text("1")
                raise OSError("shared filesystem hiccup")
            return x + 1

        assert ex.map(flaky, [41]) == [42] and flag.exists()
    finally:
        ex.close()
    assert not ray.is_initialized()


@pytest.mark.parametrize("workers", [1, None])
def test_cluster_output_equals_local_at_any_worker_count(
    cluster, workdir, reference, workers
) -> None:
    out = f"ray_w{workers}"
    proc = run_cli(*_args(out, *_ray(cluster.address, workers)), cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert _published(workdir, out) == reference


def test_cluster_publishing_to_a_url_equals_local(cluster, workdir, reference) -> None:
    """``output.dir`` a URL: the version's files are uploaded by Ray tasks (manifest last)."""
    proc = run_cli(
        *_args(
            f"file://{workdir / 'ray_url'}",
            *_ray(cluster.address),
            "--set",
            f"output.work_dir={workdir / 'ray_url_work'}",
        ),
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr
    assert _published(workdir, "ray_url") == reference
    assert (workdir / "ray_url" / "default" / "LATEST").read_text() == "v0001\n"
    assert (workdir / "ray_url_work" / "default" / "_work").is_dir()  # intermediates there


def test_local_cluster_with_bounded_resources_equals_local(workdir, reference) -> None:
    """No address: the executor starts its own cluster (2 CPUs, 100 MiB object store)."""
    store = NODE["object_store_memory"]
    proc = run_cli(
        *_args(
            "ray_own",
            "--set",
            "executor.type=ray",
            "--set",
            "executor.num_cpus=2",
            "--set",
            f"executor.object_store_memory={store}",
        ),
        cwd=workdir,
    )
    assert proc.returncode == 0, proc.stderr
    assert _published(workdir, "ray_own") == reference


def _children(pid: int) -> list[int]:
    kids = []
    for d in os.listdir("/proc"):
        try:
            with open(f"/proc/{d}/stat", "rb") as fh:
                st = fh.read()
        except (OSError, ValueError):
            continue
        if d.isdigit() and int(st[st.rfind(b")") + 2 :].split()[1]) == pid:
            kids.append(int(d))
    return kids


def _running_tasks(node) -> int:
    """Worker processes of ``node`` executing one of our tasks (Ray sets their title)."""
    n = 0
    for pid in _children(node.all_processes["raylet"][0].process.pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                n += fh.read().startswith(b"ray::_in_dir")
        except OSError:
            pass
    return n


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(REPO / "run.py"), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for(ready, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not ready() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before the event under test"
    assert ready(), "timed out waiting for the event under test"


def test_worker_node_dies_mid_run_tasks_are_retried(cluster, workdir, reference) -> None:
    """A node is killed while it runs one of our tasks; Ray retries the lost task elsewhere.

    The kill races the task (on a loaded machine it may finish first; then nothing is lost),
    so up to 3 attempts, each with a fresh node and output dir, until Ray reports a retried
    task. Every attempt must publish exactly the reference bytes.
    """
    retried = False
    for attempt in range(3):
        out = f"ray_nodekill{attempt}"
        victim = cluster.add_node(**NODE)
        cluster.wait_for_nodes()
        proc = _start(_args(out, *_ray(cluster.address)), workdir)
        stages = workdir / out / "default" / "_work" / "stages"
        deadline = time.time() + 120
        while (
            proc.poll() is None
            and time.time() < deadline
            and not (stages.exists() and _running_tasks(victim) > 0)
        ):
            time.sleep(0.02)
        cluster.remove_node(victim, allow_graceful=False)
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        assert _published(workdir, out) == reference
        if "will be retried" in stdout + stderr:  # Ray's notice for a task lost with its node
            retried = True
            break
    assert retried, "in 3 attempts the node never died while running one of our tasks"


def test_driver_killed_mid_run_resumes_with_identical_output(cluster, workdir, reference) -> None:
    args = _args("ray_driverkill", *_ray(cluster.address))
    work = workdir / "ray_driverkill" / "default" / "_work"

    def markers() -> dict[Path, int]:
        return (
            {p: p.stat().st_mtime_ns for p in (work / "stages").rglob("*.done.json")}
            if (work / "stages").exists()
            else {}
        )

    proc = _start(args, workdir)
    _wait_for(lambda: len(markers()) >= 10, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (workdir / "ray_driverkill" / "default" / "v0001").exists()
    time.sleep(1)  # let the dead job's workers be reaped before taking the snapshot
    before = markers()
    again = run_cli(*args, cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert _published(workdir, "ray_driverkill") == reference
    assert {p: p.stat().st_mtime_ns for p in before} == before  # finished work was not redone


@pytest.mark.parametrize(
    "cfg, expected",
    [
        (
            {"address": "ray://head:10001", "num_cpus": 8, "object_store_memory": None},
            {"address": "ray://head:10001"},
        ),
        (
            {"address": None, "num_cpus": 3, "object_store_memory": 200 * MIB},
            {"address": "local", "num_cpus": 3, "object_store_memory": 200 * MIB},
        ),
        (
            {"address": None, "num_cpus": None, "object_store_memory": None},
            {"address": "local", "num_cpus": os.cpu_count(), "object_store_memory": 512 * MIB},
        ),
    ],
)
def test_init_kwargs_join_or_start_bounded(cfg, expected) -> None:
    kwargs = init_kwargs(cfg)
    assert {k: kwargs.get(k) for k in expected} == expected
    if cfg["address"]:  # joining: resources are the cluster's, code is shipped with the job
        assert "num_cpus" not in kwargs and "object_store_memory" not in kwargs
        assert sorted(Path(p).name for p in kwargs["runtime_env"]["py_modules"]) == sorted(PACKAGES)


def test_object_store_below_ray_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="object_store_memory"):
        init_kwargs({"address": None, "num_cpus": 1, "object_store_memory": 10 * MIB})


def test_joining_forwards_zhcurate_env_but_not_other_variables(monkeypatch) -> None:
    monkeypatch.setenv("ZHCURATE_HOME", "/shared/zhcurate")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    env = init_kwargs({"address": "auto"})["runtime_env"]["env_vars"]
    assert env["ZHCURATE_HOME"] == "/shared/zhcurate" and "OPENAI_API_KEY" not in env
