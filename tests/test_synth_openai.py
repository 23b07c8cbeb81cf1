"""openai backend: against llama.cpp's OpenAI-compatible server (real model, started here on
127.0.0.1), including a server killed mid-run → retries → a clear failure → restart and resume
from the cache; and retry/status handling against a small scripted HTTP server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from synth.backends.base import BackendUnavailable, LLMRequest, Sampling
from synth.backends.factory import create_backend
from synth.cache import CachedBackend, LLMCache
from synth.models import resolve_model
from tests.conftest import http_server, run_cli, send_json, write_config, write_jsonl

MODEL = "qwen2.5-coder-0.5b-instruct-q4"
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["city"],
    "properties": {"city": {"type": "string"}},
}
QUESTIONS = [
    "中国的首都是哪座城市？",
    "上海位于中国的哪个方向？",
    "广州是哪个省的省会？",
    "长城的东端起点是哪里？",
    "杭州以什么湖闻名？",
    "成都是哪个省的省会？",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """llama.cpp's server (``python -m synth.backends.llama_server``, i.e. ``llama_cpp.server``
    with weight repacking off) on 127.0.0.1:<port>, started and killed by the test."""

    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log = port, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "synth.backends.llama_server",
            "--model",
            str(resolve_model(MODEL)),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            "2048",
            "--model_alias",
            MODEL,
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/models", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"llama.cpp server did not start; see {self.log}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    srv = LlamaServer(free_port(), tmp_path_factory.mktemp("llama") / "server.log")
    srv.start()
    yield srv
    srv.kill()


def backend_config(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "openai",
        "model": MODEL,
        "base_url": url,
        "concurrency": 2,
        "timeout": 60,
        "max_retries": 3,
        "backoff": 0.05,
        "schema_mode": "json_object",
        **extra,
    }


def requests() -> list[LLMRequest]:
    return [
        LLMRequest(
            messages=({"role": "user", "content": q + "用JSON回答。"},),
            sampling=Sampling(temperature=0.0, max_tokens=24, seed=0),
            json_schema=SCHEMA,
        )
        for q in QUESTIONS
    ]


def test_json_schema_output_and_concurrency_limit(server: LlamaServer) -> None:
    backend = create_backend(backend_config(server.url))
    results = backend.generate(requests())
    assert all(r.error is None and r.finish_reason == "stop" for r in results)
    assert results[0].parsed == {"city": "北京"}
    assert all(set(r.parsed) == {"city"} for r in results)
    assert all(r.prompt_tokens > 0 and r.completion_tokens > 0 for r in results)
    assert backend.max_in_flight == 2


def test_server_killed_mid_run_then_resume_from_cache(server: LlamaServer, tmp_path: Path) -> None:
    reference = [r.text for r in create_backend(backend_config(server.url)).generate(requests())]
    cached = CachedBackend(create_backend(backend_config(server.url)), LLMCache(tmp_path))
    done: list[int] = []

    def kill_after_two(i: int, _result: object) -> None:
        done.append(i)
        if len(done) == 2:
            server.kill()

    start = time.monotonic()
    with pytest.raises(BackendUnavailable, match=r"failed 4 attempts.*last error"):
        cached.generate(requests(), on_result=kill_after_two)
    assert time.monotonic() - start < 60
    stored = len(cached.cache)
    assert stored == len(done) and 2 <= stored < len(QUESTIONS)

    server.start()  # same port, fresh process
    resumed = CachedBackend(create_backend(backend_config(server.url)), LLMCache(tmp_path))
    texts = [r.text for r in resumed.generate(requests())]
    assert (resumed.cache.hits, resumed.cache.misses) == (stored, len(QUESTIONS) - stored)
    assert texts == reference  # same output as an uninterrupted run


class Scripted(BaseHTTPRequestHandler):
    """Answers POSTs from a per-server script of (status, body) and records the requests."""

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append((self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        status, payload = self.server.script.pop(0)  # type: ignore[attr-defined]
        send_json(self, status, payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[ThreadingHTTPServer]:
    with http_server(Scripted, seen=[], script=[]) as srv:
        yield srv


OK = {
    "choices": [{"message": {"content": '{"city": "北京"}'}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 6},
}


def test_retries_on_429_and_5xx_and_sends_key_from_env(
    scripted: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZHC_TEST_API_KEY", "sk-test-123")
    scripted.script += [(429, {"error": "slow down"}), (503, {"error": "busy"}), (200, OK)]
    url = f"http://127.0.0.1:{scripted.server_port}/v1"
    backend = create_backend(
        backend_config(url, api_key_env="ZHC_TEST_API_KEY", schema_mode="json_schema")
    )
    [result] = backend.generate(requests()[:1])
    assert result.parsed == {"city": "北京"} and result.completion_tokens == 6
    assert len(scripted.seen) == 3
    path, headers, body = scripted.seen[-1]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-test-123"
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": SCHEMA, "strict": True},
    }
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.0, 24, 0)
    assert "sk-test-123" not in json.dumps(backend_config(url, api_key_env="ZHC_TEST_API_KEY"))


def test_client_error_is_a_per_request_error_and_missing_key_is_clear(
    scripted: ThreadingHTTPServer,
) -> None:
    scripted.script += [(400, {"error": "prompt too long"})]
    url = f"http://127.0.0.1:{scripted.server_port}/v1"
    [result] = create_backend(backend_config(url)).generate(requests()[:1])
    assert result.finish_reason == "error" and result.error.startswith("HTTP 400")
    assert len(scripted.seen) == 1  # a 400 is not retried
    with pytest.raises(ValueError, match="ZHC_NOT_SET_KEY"):
        create_backend(backend_config(url, api_key_env="ZHC_NOT_SET_KEY"))


def test_unreachable_server_fails_with_a_clear_message() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    backend = create_backend(backend_config(url, max_retries=2))
    with pytest.raises(BackendUnavailable, match=rf"{url} failed 3 attempts.*ConnectError"):
        backend.generate(requests()[:2])


def test_run_with_a_dead_server_fails_clearly_and_keeps_finished_work(tmp_path: Path) -> None:
    """Through the CLI: the engine is down → exit 1 with one line naming the server, no record
    quarantined for it, nothing published, and the curation work before it kept for resume."""
    src = write_jsonl(
        tmp_path / "docs.jsonl",
        [{"id": "d1", "text": "长城是中国古代的军事防御工程，东起山海关，西至嘉峪关。"}],
    )
    url = f"http://127.0.0.1:{free_port()}/v1"
    config = write_config(
        tmp_path / "c.yaml",
        [str(src)],
        tmp_path / "out",
        name="qa",
        stages=[
            {"type": "heuristics", "min_chars": 10, "publish": "docs"},
            {
                "type": "synth_doc_qa",
                "k": 1,
                "cache_dir": str(tmp_path / "cache"),
                "backend": backend_config(url, max_retries=1, backoff=0.01),
            },
        ],
    )
    proc = run_cli("run", str(config), "--progress", "never")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and url in proc.stderr and "resume" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list((tmp_path / "out").glob("*/v0001"))
    assert list((tmp_path / "out" / "qa" / "_work").rglob("*.done.json"))  # heuristics done
