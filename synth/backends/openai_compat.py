"""Any OpenAI-compatible server (``vllm serve``, SGLang, llama.cpp's server, hosted APIs).

Requests of one batch run concurrently on an asyncio loop, at most ``concurrency`` in flight.
Under Ray the limit holds across the whole cluster, not per worker process
(``synth.backends.ray_llm``: every HTTP attempt also takes a slot of one shared limiter).
A request that fails with HTTP 429/5xx, a timeout or a connection error is retried with
exponential backoff (``backoff`` · 2^attempt seconds, capped at ``max_backoff``, jittered,
``Retry-After`` honoured); after ``max_retries`` retries the whole batch stops with
:class:`BackendUnavailable` (results already returned were handed to ``on_result``, so the cache
keeps them). Other 4xx answers are per-request errors. The API key is read from the environment
variable *named* by ``api_key_env``; the key itself never enters the config or the cache.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pipeline.stage import LOCAL, Placement
from synth.backends.base import BackendUnavailable, LLMRequest, LLMResult, OnResult, finish
from synth.backends.configs import SCHEMA_MODES, OpenAIConfig
from synth.backends.ray_llm import request_slots

__all__ = ["SCHEMA_MODES", "OpenAIBackend"]


class OpenAIBackend:
    """The ``openai`` engine of an :class:`~synth.backends.configs.OpenAIConfig`."""

    kind = "openai"

    def __init__(self, config: OpenAIConfig, placement: Placement = LOCAL) -> None:
        self.config = config
        self.placement = placement
        self.model = config.model
        self.base_url = config.base_url.rstrip("/")
        self.headers = {"Content-Type": "application/json"}
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise ValueError(
                    f"environment variable {config.api_key_env} (backend.api_key_env) is not set"
                )
            self.headers["Authorization"] = f"Bearer {key}"
        self.concurrency = config.concurrency
        self.timeout = config.timeout
        self.max_retries = config.max_retries
        self.backoff = config.backoff
        self.max_backoff = config.max_backoff
        self.schema_mode = config.schema_mode
        self.in_flight = 0
        self.max_in_flight = 0
        #: Set to a list to record (start, end) monotonic times of every HTTP attempt.
        self.trace: list[tuple[float, float]] | None = None

    def body(self, request: LLMRequest) -> tuple[str, dict[str, Any]]:
        """(path, JSON body) for one request."""
        s = request.sampling
        body: dict[str, Any] = {
            "model": self.model,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
        }
        if s.stop:
            body["stop"] = list(s.stop)
        if s.seed is not None:
            body["seed"] = s.seed
        schema = request.json_schema
        if schema is not None and self.schema_mode == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": schema, "strict": True},
            }
        elif schema is not None and self.schema_mode == "json_object":
            body["response_format"] = {"type": "json_object", "schema": schema}
        elif schema is not None and self.schema_mode == "structured_outputs":
            body["structured_outputs"] = {"json": schema}
        if request.messages is not None:
            body["messages"] = [dict(m) for m in request.messages]
            return "/chat/completions", body
        body["prompt"] = request.prompt
        return "/completions", body

    @staticmethod
    def parse(data: dict[str, Any]) -> LLMResult:
        choice = data["choices"][0]
        text = choice["message"].get("content") if "message" in choice else choice.get("text")
        usage = data.get("usage") or {}
        return LLMResult(
            text=text or "",
            finish_reason=choice.get("finish_reason") or "stop",
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
        )

    async def _attempt(
        self, client: Any, sem: asyncio.Semaphore, path: str, body: dict[str, Any]
    ) -> tuple[LLMResult | None, str, float]:
        """One HTTP attempt: (result or None if retryable, error text, server's Retry-After)."""
        import httpx

        async with sem:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            start = time.monotonic()
            try:
                resp = await client.post(self.base_url + path, json=body)
            except httpx.TransportError as exc:  # connection refused/reset, timeouts
                return None, f"{type(exc).__name__}: {exc}", 0.0
            finally:
                self.in_flight -= 1
                if self.trace is not None:
                    self.trace.append((start, time.monotonic()))
        if resp.status_code == 429 or resp.status_code >= 500:
            retry_after = resp.headers.get("retry-after", "")
            wait = float(retry_after) if retry_after.replace(".", "", 1).isdigit() else 0.0
            return None, f"HTTP {resp.status_code}: {resp.text[:200]}", wait
        if resp.status_code >= 400:
            return (
                LLMResult(
                    finish_reason="error", error=f"HTTP {resp.status_code}: {resp.text[:500]}"
                ),
                "",
                0.0,
            )
        return self.parse(resp.json()), "", 0.0

    async def _call(self, client: Any, sem: asyncio.Semaphore, request: LLMRequest) -> LLMResult:
        path, body = self.body(request)
        error = ""
        for attempt in range(self.max_retries + 1):
            result, error, wait = await self._attempt(client, sem, path, body)
            if result is not None:
                return finish(result, request)
            if attempt < self.max_retries:  # back off outside the semaphore
                delay = min(self.max_backoff, self.backoff * 2**attempt)
                await asyncio.sleep(max(wait, delay * (0.5 + random.random() / 2)))
        raise BackendUnavailable(
            f"openai backend at {self.base_url} failed {self.max_retries + 1} attempts "
            f"(model {self.model!r}); last error: {error}"
        )

    async def agenerate(
        self, requests: Sequence[LLMRequest], on_result: OnResult | None = None
    ) -> list[LLMResult]:
        import httpx

        sem = request_slots(
            asyncio.Semaphore(self.concurrency),
            self.base_url,
            self.concurrency,
            self.timeout,
            self.placement,
        )
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        async with httpx.AsyncClient(
            headers=self.headers, timeout=self.timeout, limits=limits
        ) as client:

            async def run(i: int, request: LLMRequest) -> LLMResult:
                result = await self._call(client, sem, request)
                if on_result:
                    on_result(i, result)
                return result

            return list(await asyncio.gather(*(run(i, r) for i, r in enumerate(requests))))

    def generate(
        self, requests: Sequence[LLMRequest], on_result: OnResult | None = None
    ) -> list[LLMResult]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # the usual case: no loop in this thread
            return asyncio.run(self.agenerate(requests, on_result))
        with ThreadPoolExecutor(1) as pool:  # called from async code: use a private loop
            return pool.submit(asyncio.run, self.agenerate(requests, on_result)).result()

    def close(self) -> None:
        """Nothing to release: each batch opens and closes its own HTTP client."""
