"""Publishing to an object store vs a local folder: the same run (read → no-op stages →
publish) with ``output.dir`` a local folder, a ``file://`` URL (the upload code path, local
disk) and ``s3://`` on moto's S3 API server on 127.0.0.1 (the s3fs path, loopback network).

Interleaved ``--reps`` times; medians, and each ratio against the local folder of the same rep.
Needs ``pip install 'zhcurate[s3]' 'moto[server]'``.

    python benchmarks/remote_publish.py [--data DIR] [--reps 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from dev_data import add_data_argument, data_dir

REPO = Path(__file__).resolve().parent.parent


def moto_server() -> tuple[subprocess.Popen, dict[str, str]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, env
        except OSError:
            time.sleep(0.2)
    raise SystemExit("moto server did not start")


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr}")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_argument(ap)  # inputs: DIR/web/*.jsonl
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    files = sorted(str(p) for p in (data_dir(args.data, "web") / "web").glob("*.jsonl"))
    server, s3_env = moto_server()
    env = {**os.environ, **s3_env}
    try:
        import s3fs

        os.environ.update(s3_env)
        s3fs.S3FileSystem().mkdir("bench")
        times: dict[str, list[float]] = {"local": [], "file": [], "s3": []}
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "bench.yaml"
            cfg.write_text(
                yaml.safe_dump(
                    {
                        "name": "bench",
                        "input": {"paths": files},
                        "executor": {"workers": args.workers},
                        "stages": [{"type": "noop"}] * 3,
                    }
                )
            )
            for rep in range(args.reps):
                outs = {
                    "local": f"{tmp}/local{rep}",
                    "file": f"file://{tmp}/file{rep}",
                    "s3": f"s3://bench/r{rep}",
                }
                for kind, out in outs.items():
                    times[kind].append(
                        timed(
                            [
                                sys.executable,
                                "run.py",
                                "run",
                                str(cfg),
                                "--progress",
                                "never",
                                "--set",
                                f"output.dir={out}",
                                "--set",
                                f"output.work_dir={tmp}/work-{kind}{rep}",
                            ],
                            env,
                        )
                    )
    finally:
        server.kill()
    print(f"{len(files)} files, {args.workers} workers, {args.reps} reps interleaved, medians")
    base = statistics.median(times["local"])
    for kind, label in (
        ("local", "local folder (rename)"),
        ("file", "file:// URL (upload)"),
        ("s3", "s3:// on moto, 127.0.0.1"),
    ):
        med = statistics.median(times[kind])
        ratio = statistics.median(t / b for t, b in zip(times[kind], times["local"]))
        print(f"{label:<28}{med:>8.2f} s{ratio:>8.2f}x")
    print(f"(local folder median {base:.2f} s; ratios are per-rep medians)")


if __name__ == "__main__":
    main()
