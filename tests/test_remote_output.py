"""Publishing to fsspec URLs: a real S3 API server (moto's, on 127.0.0.1) through s3fs, and
``file://`` URLs. Output bytes equal a local run's; a killed upload is replaced; a published
version is never rewritten; the lock object refuses a live concurrent run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

CURATION = str(REPO / "configs" / "curation.yaml")
BUCKET = "zhcurate-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_env() -> Iterator[dict[str, str]]:
    """A moto S3 server on 127.0.0.1 with one bucket; the env that points s3fs at it."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # for s3fs in this process, and inherited by the CLI runs
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)
        s3().mkdir(BUCKET)
        yield env
    finally:
        proc.kill()
        proc.wait()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def s3():  # a fresh client each time: the module-scoped server outlives cached instances
    import s3fs

    return s3fs.S3FileSystem(skip_instance_cache=True)


def _run(out: str, tmp_path: Path, *extra: str, workers: int = 2) -> subprocess.CompletedProcess:
    return run_cli(
        "run",
        CURATION,
        "--set",
        f"output.dir={out}",
        "--set",
        f"output.work_dir={tmp_path / 'work'}",
        "--set",
        f"executor.workers={workers}",
        "--progress",
        "never",
        *extra,
    )


def _outputs(manifest: dict) -> list[tuple[str, int, str]]:
    return [(f["path"], f["rows"], f["sha256"]) for f in manifest["outputs"]]


@pytest.fixture(scope="module")
def local_manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("local")
    r = run_cli(
        "run",
        CURATION,
        "--set",
        f"output.dir={out}",
        "--set",
        "executor.workers=2",
        "--progress",
        "never",
    )
    assert r.returncode == 0, r.stderr
    return json.loads((out / "default" / "v0001" / "manifest.json").read_text("utf-8"))


def test_s3_output_equals_local_and_loads(
    s3_env: dict, local_manifest: dict, tmp_path: Path
) -> None:
    url = f"s3://{BUCKET}/same"
    r = _run(url, tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"published {url}/default/v0001" in r.stdout
    fs = s3()
    manifest = json.loads(fs.cat_file(f"{BUCKET}/same/default/v0001/manifest.json"))
    assert _outputs(manifest) == _outputs(local_manifest)
    assert manifest["counts"] == local_manifest["counts"]
    for path, _rows, sha in _outputs(manifest):  # what was uploaded is what was hashed
        import hashlib

        data = fs.cat_file(f"{BUCKET}/same/default/v0001/{path}")
        assert hashlib.sha256(data).hexdigest() == sha
    assert fs.cat_file(f"{BUCKET}/same/default/LATEST") == b"v0001\n"
    assert not fs.exists(f"{BUCKET}/same/default/.lock")  # released
    # datasets' offline switches (set for the suite) also refuse s3:// URLs: lift them for a
    # loader that only talks to the server on 127.0.0.1
    load = subprocess.run(
        [
            sys.executable,
            "-c",
            "import datasets, sys; print(datasets.load_dataset('parquet', "
            "split='train', data_files=sys.argv[1]).num_rows)",
            f"{url}/default/v0001/data/*",
        ],
        env={**os.environ, "HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert load.returncode == 0, load.stderr
    assert int(load.stdout.split()[-1]) == manifest["counts"]["kept"]
    again = _run(url, tmp_path)  # same config and input: nothing new, nothing written
    assert again.returncode == 0 and "nothing new" in again.stdout, again.stderr
    assert not fs.exists(f"{BUCKET}/same/default/v0002")
    card = run_cli("card", f"{url}/default/v0001")
    assert card.returncode == 0 and "card matches the published" in card.stderr


def test_killed_upload_is_replaced_and_versions_are_never_rewritten(
    s3_env: dict, local_manifest: dict, tmp_path: Path
) -> None:
    fs = s3()
    root = f"{BUCKET}/partial/default"
    fs.pipe_file(f"{root}/v0001/data/part-00000.parquet", b"half an upload")  # no manifest
    r = _run(f"s3://{BUCKET}/partial", tmp_path)
    assert r.returncode == 0, r.stderr
    manifest = json.loads(fs.cat_file(f"{root}/v0001/manifest.json"))
    assert _outputs(manifest) == _outputs(local_manifest)
    before = {p: fs.info(p)["ETag"] for p in fs.find(f"{root}/v0001")}
    forced = _run(f"s3://{BUCKET}/partial", tmp_path, "--force")
    assert forced.returncode == 0, forced.stderr
    assert {p: fs.info(p)["ETag"] for p in fs.find(f"{root}/v0001")} == before
    assert fs.exists(f"{root}/v0002/manifest.json")
    assert fs.cat_file(f"{root}/LATEST") == b"v0002\n"


def test_lock_object_refuses_a_live_run_and_takes_over_a_dead_ones(
    s3_env: dict, tmp_path: Path
) -> None:
    fs = s3()
    lock = f"{BUCKET}/locked/default/.lock"
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "since": "now"}  # alive
    fs.pipe_file(lock, json.dumps(owner).encode())
    r = _run(f"s3://{BUCKET}/locked", tmp_path, workers=1)
    assert r.returncode == 75  # EX_TEMPFAIL: retry later
    assert "another run of dataset 'default' is in progress" in r.stderr
    assert f"pid {os.getpid()}" in r.stderr and "Traceback" not in r.stderr
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    fs.pipe_file(lock, json.dumps({**owner, "pid": dead.pid}).encode())
    r = _run(f"s3://{BUCKET}/locked", tmp_path, workers=1)
    assert r.returncode == 0, r.stderr
    assert fs.exists(f"{BUCKET}/locked/default/v0001/manifest.json")
    assert not fs.exists(lock)
    # a live pid that is not the holder any more (its start time differs): taken over too
    fs.pipe_file(lock, json.dumps({**owner, "start": "another-boot:1"}).encode())
    r = _run(f"s3://{BUCKET}/locked", tmp_path, "--force", workers=1)
    assert r.returncode == 0, r.stderr
    assert not fs.exists(lock)


def test_missing_bucket_is_a_config_error_and_not_created(s3_env: dict, tmp_path: Path) -> None:
    r = _run("s3://no-such-bucket/zh", tmp_path, workers=1)
    assert r.returncode == 2, r.stderr
    assert "bucket 'no-such-bucket'" in r.stderr and "Traceback" not in r.stderr
    assert not s3().exists("no-such-bucket")


def test_file_url_output_equals_local(local_manifest: dict, tmp_path: Path) -> None:
    out = tmp_path / "published"
    r = _run(f"file://{out}", tmp_path)
    assert r.returncode == 0, r.stderr
    version = out / "default" / "v0001"
    manifest = json.loads((version / "manifest.json").read_text("utf-8"))
    assert _outputs(manifest) == _outputs(local_manifest)
    assert (out / "default" / "LATEST").read_text() == "v0001\n"
    diff = run_cli("diff", f"file://{version}", str(version), "--json")
    assert diff.returncode == 0, diff.stderr
    assert json.loads(diff.stdout)["ids_added"] == 0


@pytest.mark.parametrize(
    "sets, message",
    [
        (
            ["output.dir=s3://b/x", "output.work_dir=s3://b/work"],
            "output.work_dir: must be a local or shared POSIX folder",
        ),
        (
            ["output.dir=s3://b/x", "executor.type=ray", "executor.address=auto"],
            "output.work_dir: required when output.dir is a URL",
        ),
    ],
)
def test_url_output_config_errors(sets: list[str], message: str) -> None:
    args = [a for s in sets for a in ("--set", s)]
    r = run_cli("validate", CURATION, *args)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
