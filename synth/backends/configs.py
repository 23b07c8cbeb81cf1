"""Typed engine configs: one frozen dataclass per backend ``type``, validated at config load.

A stage's ``backend`` (and ``respond.extra_backends``) is written in YAML as a mapping
``{type: llamacpp|openai|vllm, model: ..., <options>}``; :func:`parse_backend` turns it into
:class:`LlamaCppConfig`, :class:`OpenAIConfig` or :class:`VllmConfig` when the stage is built,
which ``pipeline.schema`` does while loading the config. A misspelt option therefore stops the
run before any work (exit 2) with one line naming the key and the valid ones, e.g.
``stages[2] (synth_doc_qa): backend.n_thread: unknown option for llamacpp; valid: ...``.

Each class lists its ``operational`` options: how fast or where calls run, never what they
return. They are left out of :meth:`BackendConfig.identity` (the part of the config in the
stage fingerprint), as they are out of the call cache key, so moving to another server or
raising ``concurrency`` reuses earlier results.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

#: How the openai backend sends a JSON schema: OpenAI's ``json_schema`` response format (vLLM,
#: SGLang, OpenAI), llama.cpp server's ``json_object`` + ``schema``, vLLM's
#: ``structured_outputs`` extra field, or not at all (the prompt alone asks for JSON).
SCHEMA_MODES = ("json_schema", "json_object", "structured_outputs", "none")

#: Short name of the model the default run uses (packaged on PyPI, see ``synth.models``).
DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct-q4"


@dataclass(frozen=True)
class BackendConfig:
    """Base of the engine configs: ``kind`` is the YAML ``type``."""

    kind: ClassVar[str] = ""
    operational: ClassVar[frozenset[str]] = frozenset()

    def as_config(self) -> dict[str, Any]:
        """The YAML form: ``{type: <kind>, <every option>}`` (defaults filled in)."""
        return {"type": self.kind, **dataclasses.asdict(self)}

    def identity(self) -> dict[str, Any]:
        """The output-relevant part: type, model and every other non-operational option that
        differs from its default (so spelling out a default keeps the fingerprint)."""
        out: dict[str, Any] = {"type": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "model" or (f.name not in self.operational and value != _default(f)):
                out[f.name] = value
        return out

    @classmethod
    def from_config(cls, value: Any, where: str = "backend") -> BackendConfig:
        """Alias of :func:`parse_backend` (``pipeline.schema`` recognises typed configs by it)."""
        return parse_backend(value, where)


@dataclass(frozen=True)
class LlamaCppConfig(BackendConfig):
    """Embedded llama.cpp on the CPU (``synth.backends.llamacpp``). Defaults: the packaged
    Qwen2.5-Coder-0.5B-Instruct and its 4096-token window (enough for a 2000-character
    document plus the answer)."""

    kind: ClassVar[str] = "llamacpp"
    operational: ClassVar[frozenset[str]] = frozenset({"n_threads", "n_batch"})

    #: short name of a packaged model (``synth.models.MODELS``) or a path to a .gguf file
    model: str = DEFAULT_MODEL
    #: context window in tokens (prompt + completion)
    n_ctx: int = 4096
    #: CPU threads; 0 = one per core (llama-cpp-python's own default is half the cores)
    n_threads: int = 0
    #: prompt tokens evaluated per step (llama-cpp-python's default)
    n_batch: int = 512
    #: chat template name; null = the one in the GGUF metadata
    chat_format: str | None = None
    #: llama.cpp's runtime weight repacking; off: it segfaults on AVX-512 with 0.3.36
    repack: bool = False

    def __post_init__(self) -> None:
        _at_least(self, n_ctx=1, n_threads=0, n_batch=1)


@dataclass(frozen=True)
class OpenAIConfig(BackendConfig):
    """Any OpenAI-compatible server (``synth.backends.openai_compat``). ``backoff`` 0.5 s is
    the OpenAI Python client's initial retry delay; 5 retries capped at 30 s ride out a server
    restart, and ``concurrency`` 8 suits one llama.cpp or small vLLM server (own choices)."""

    kind: ClassVar[str] = "openai"
    operational: ClassVar[frozenset[str]] = frozenset(
        {
            "base_url",
            "api_key_env",
            "concurrency",
            "timeout",
            "max_retries",
            "backoff",
            "max_backoff",
        }
    )

    #: model name the server knows (``GET /v1/models``)
    model: str
    #: server root including ``/v1``
    base_url: str = "http://127.0.0.1:8000/v1"
    #: name of the environment variable holding the API key (the key never enters the config)
    api_key_env: str | None = None
    #: requests in flight at once (cluster-wide under Ray)
    concurrency: int = 8
    #: seconds per HTTP attempt
    timeout: float = 120.0
    #: retries after HTTP 429/5xx, timeouts and connection errors
    max_retries: int = 5
    #: seconds before the first retry (doubles each retry, jittered)
    backoff: float = 0.5
    #: seconds, cap of one backoff wait
    max_backoff: float = 30.0
    #: how a JSON schema is sent: json_schema, json_object, structured_outputs or none
    schema_mode: str = "json_schema"

    def __post_init__(self) -> None:
        if self.schema_mode not in SCHEMA_MODES:
            raise ValueError(
                f"backend.schema_mode: must be one of {', '.join(SCHEMA_MODES)} "
                f"(got {self.schema_mode!r})"
            )
        _at_least(self, concurrency=1, timeout=0, max_retries=0, backoff=0, max_backoff=0)


@dataclass(frozen=True)
class VllmConfig(BackendConfig):
    """Offline vLLM on GPUs (``synth.backends.vllm_backend``; GPU actors under Ray).
    ``tensor_parallel_size`` 1 and ``gpu_memory_utilization`` 0.9 are ``vllm.LLM``'s defaults;
    prefix caching is on because every request of a stage shares its system prompt."""

    kind: ClassVar[str] = "vllm"
    operational: ClassVar[frozenset[str]] = frozenset(
        {"tensor_parallel_size", "gpu_memory_utilization", "enable_prefix_caching"}
    )

    #: Hugging Face model id or local path
    model: str
    #: GPUs per engine
    tensor_parallel_size: int = 1
    #: share (0..1] of each GPU's memory vLLM may take
    gpu_memory_utilization: float = 0.9
    #: context length in tokens; null = the model's
    max_model_len: int | None = None
    #: reuse the KV cache of shared prompt prefixes
    enable_prefix_caching: bool = True
    #: engine seed (each request also carries its own)
    seed: int = 0
    #: further ``vllm.LLM`` arguments passed unchanged (dtype, quantization, max_num_seqs, ...)
    engine: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _at_least(self, tensor_parallel_size=1)
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ValueError("backend.gpu_memory_utilization: must be in (0, 1]")


BACKEND_CONFIGS: dict[str, type[BackendConfig]] = {
    c.kind: c for c in (LlamaCppConfig, OpenAIConfig, VllmConfig)
}


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _at_least(config: BackendConfig, **bounds: float) -> None:
    for name, low in bounds.items():
        if getattr(config, name) < low:
            raise ValueError(f"backend.{name}: must be >= {low} (got {getattr(config, name)!r})")


def parse_backend(value: Any, where: str = "backend") -> BackendConfig:
    """A config mapping (or an already typed config) → its typed config.

    Raises ValueError with one line naming the key path and what is allowed: a missing or
    unknown ``type``, an unknown option (listing the valid ones), a missing ``model``, a
    value of the wrong type, or one out of range.
    """
    from pipeline.schema import matches, type_name

    if isinstance(value, BackendConfig):
        return value
    kinds = ", ".join(BACKEND_CONFIGS)
    if not isinstance(value, Mapping):
        raise ValueError(
            f"{where}: expected a mapping {{type: {kinds}, model: ...}}, got {value!r}"
        )
    options = dict(value)
    kind = options.pop("type", None)
    if kind not in BACKEND_CONFIGS:
        raise ValueError(f"{where}.type: must be one of {kinds} (got {kind!r})")
    cls = BACKEND_CONFIGS[kind]
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, option in options.items():
        if key not in fields:
            raise ValueError(
                f"{where}.{key}: unknown option for {kind}; valid: {', '.join(fields)}"
            )
        if not matches(option, hints[key]):
            raise ValueError(f"{where}.{key}: expected {type_name(hints[key])}, got {option!r}")
    missing = [
        k for k, f in fields.items() if _default(f) is dataclasses.MISSING and k not in options
    ]
    if missing:
        raise ValueError(f"{where}.{missing[0]}: required for type {kind}")
    try:
        return cls(**options)
    except ValueError as exc:
        raise ValueError(str(exc).replace("backend.", f"{where}.", 1)) from None
