"""One small interface for every LLM engine: requests in, results out.

A :class:`LLMRequest` carries chat ``messages`` (instruct models) or a raw ``prompt`` (base
models), :class:`Sampling` parameters and an optional JSON schema; a :class:`LLMResult` carries
the text, the parsed JSON, the finish reason, token counts and an error if any. Engines
(``llamacpp``, ``openai``, ``vllm``) implement :class:`Backend` and are built from a typed
config (:mod:`synth.backends.configs`) by :func:`create_backend`; heavy libraries are imported
only inside the engine modules.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.errors import StageUnavailable

if TYPE_CHECKING:
    pass

#: Called with (request index, result) as soon as one result is known (the cache writes it).
OnResult = Callable[[int, "LLMResult"], None]


class BackendUnavailable(StageUnavailable):
    """The engine cannot be reached after all retries: the run must stop (the cache stays)."""


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters shared by every engine. ``temperature`` 0 means greedy."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stop": list(self.stop)}


@dataclass(frozen=True)
class LLMRequest:
    """One generation: exactly one of ``messages`` (chat) or ``prompt`` (raw completion)."""

    messages: tuple[Mapping[str, str], ...] | None = None
    prompt: str | None = None
    sampling: Sampling = field(default_factory=Sampling)
    json_schema: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("LLMRequest needs exactly one of messages or prompt")

    def payload(self) -> dict[str, Any]:
        """Everything that determines the output (used for the cache key)."""
        return {
            "messages": [dict(m) for m in self.messages] if self.messages is not None else None,
            "prompt": self.prompt,
            "sampling": self.sampling.as_dict(),
            # a string, so that sort_keys keeps the property order (it is the output order)
            "json_schema": (
                json.dumps(self.json_schema, ensure_ascii=False)
                if self.json_schema is not None
                else None
            ),
        }


@dataclass
class LLMResult:
    """The outcome of one request.

    ``finish_reason``: "stop" (natural end or stop string), "length" (hit ``max_tokens``) or
    "error". ``parsed`` is the decoded JSON when the request had a schema and the text parsed.
    ``cached``: served from the on-disk cache (no engine call).
    """

    text: str = ""
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    parsed: Any = None
    error: str | None = None
    cached: bool = False

    def to_record(self) -> dict[str, Any]:
        """What the cache stores (``parsed`` is recomputed, ``cached`` is runtime state)."""
        return {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


class Backend(Protocol):
    """An LLM engine. ``kind`` is the config ``type``; ``model`` names the weights."""

    kind: str
    model: str

    def generate(
        self, requests: Sequence[LLMRequest], on_result: OnResult | None = None
    ) -> list[LLMResult]:
        """Results in request order. Raises :class:`BackendUnavailable` if the engine is down."""
        ...

    def close(self) -> None: ...


def parse_json(text: str) -> Any:
    """Decode a JSON answer; tolerates a Markdown code fence around it and raw newlines inside
    strings (``strict=False``). None if the text is not JSON."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    try:
        return json.loads(body, strict=False)
    except ValueError:
        return None


def finish(result: LLMResult, request: LLMRequest) -> LLMResult:
    """Fill ``parsed`` for schema requests (engines call this on every fresh or cached result)."""
    if request.json_schema is not None and result.error is None:
        result.parsed = parse_json(result.text)
    return result


def identity(kind: str, model: str, request: LLMRequest) -> str:
    """Cache key: sha256 of (backend type, model, sampling incl. seed, prompt/messages, schema)."""
    blob = json.dumps([kind, model, request.payload()], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()
