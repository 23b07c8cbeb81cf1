"""Shared fixtures: run the real CLI, write small inputs, read published versions."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def run_cli(
    *args: str, cwd: Path | str = REPO, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``python run.py ARGS`` as a real process (exit codes and stderr as a user sees)."""
    return subprocess.run(
        [sys.executable, str(REPO / "run.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def write_config(
    path: Path,
    inputs: list[str],
    out: Path,
    stages: list[dict] | None = None,
    name: str = "t",
    **sections: dict,
) -> Path:
    import yaml

    config = {
        "name": name,
        "input": {"paths": inputs, **sections.pop("input", {})},
        "output": {"dir": str(out)},
        "executor": sections.pop("executor", {"workers": 1}),
        "stages": stages or [{"type": "noop"}],
        **sections,
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    return path


@pytest.fixture
def repo() -> Path:
    return REPO


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: object) -> None:
    """Answer the request ``handler`` is serving with ``payload`` as JSON."""
    data = json.dumps(payload, ensure_ascii=False).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@contextlib.contextmanager
def http_server(
    handler: type[BaseHTTPRequestHandler], **attrs: object
) -> Iterator[ThreadingHTTPServer]:
    """A ThreadingHTTPServer on 127.0.0.1 (free port) in a daemon thread, with ``attrs`` set
    on it for the handler to use; shut down on exit."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    for name, value in attrs.items():
        setattr(srv, name, value)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield srv
    finally:
        srv.shutdown()
