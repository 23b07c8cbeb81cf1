"""Base of the LLM stages: lazy backend, cache, parse retries, lineage metadata.

A stage builds every request of its batch first and sends them in one ``generate`` call (so
the openai backend keeps ``concurrency`` requests in flight and vLLM batches them). A result
whose JSON does not parse or does not match the schema is retried up to ``parse_retries``
times with seed + attempt and temperature ≥ ``retry_temperature`` (a greedy retry would repeat
itself, and a changed request has its own cache key). Outcomes: ``ok``, ``truncated``
(``finish_reason == "length"``, not retried), ``parse_error`` (retries used up) or ``error``
(the engine refused the request). The rule names read as ``<stage>:truncated`` and
``<stage>:parse_error`` once the executor prefixes them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

from pipeline.record import Doc
from pipeline.stage import LOCAL, MapStage, Placement
from synth.backends.base import Backend, LLMRequest, LLMResult, Sampling
from synth.backends.configs import BackendConfig, LlamaCppConfig, parse_backend
from synth.backends.factory import create_backend
from synth.cache import CachedBackend, LLMCache, default_cache_dir
from synth.layouts import PublishedLayout
from synth.templates import Template

#: Engines of this process by config (see ``LLMStage.make_engine``).
_ENGINES: dict[str, Backend] = {}

#: Stat keys every LLM-generated record carries (summed over the calls charged to it).
#: ``_cache_hits`` and ``_engine_tokens`` (completion tokens the engine decoded in this run,
#: i.e. not answered from the cache) are run counters: they reach the manifest, not the record.
CALL_STATS = (
    "calls",
    "_cache_hits",
    "_engine_tokens",
    "prompt_tokens",
    "completion_tokens",
    "attempts",
)


@dataclass
class Outcome:
    """Final state of one logical request after retries."""

    result: LLMResult
    status: str = "ok"
    attempts: int = 1
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    engine_tokens: int = 0
    sampling: Sampling = field(default_factory=Sampling)

    def stats(self) -> dict[str, int]:
        return {
            "calls": self.attempts,
            "_cache_hits": self.cache_hits,
            "_engine_tokens": self.engine_tokens,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "attempts": self.attempts,
        }


def zero_stats() -> dict[str, int]:
    """Call stats for a record that was charged no call (a sibling of a fan-out)."""
    return dict.fromkeys(CALL_STATS, 0)


def child_id(source_id: str, stage: str, index: int) -> str:
    """Stable id of the ``index``-th record a stage derived from ``source_id``."""
    return f"{source_id}#{stage}.{index}"


def _valid(parsed: Any, schema: Any) -> bool:
    if parsed is None:
        return False
    import jsonschema

    return jsonschema.Draft202012Validator(schema).is_valid(parsed)


@dataclass(frozen=True)
class LLMStage(PublishedLayout, MapStage):
    """A map stage that calls an LLM. ``backend`` is the engine config: a typed
    :class:`~synth.backends.configs.BackendConfig`, given in YAML as a mapping
    ``{type: llamacpp|openai|vllm, ...}`` and parsed (validated) when the stage is built.

    ``cache_dir``: LLM call cache ("" = ``$ZHCURATE_LLM_CACHE`` or ``~/.cache/zhcurate/llm``,
    "off" = no cache). It does not change outputs, so it is operational.
    """

    #: engine: {type: llamacpp|openai|vllm, model: ..., options} (docs/synthesis.md lists them)
    backend: BackendConfig = field(default_factory=LlamaCppConfig)
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int = 0
    parse_retries: int = 2
    retry_temperature: float = 0.7
    cache_dir: str = ""

    operational: ClassVar[frozenset[str]] = frozenset({"cache_dir"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "backend", parse_backend(self.backend, "backend"))

    def non_default_params(self) -> dict[str, Any]:
        """As :meth:`Stage.non_default_params`, with engine configs reduced to their identity
        (:meth:`BackendConfig.identity`): a new server URL or concurrency keeps the
        fingerprint."""
        params = super().non_default_params()
        for f in dataclasses.fields(self):
            if f.name not in ("backend", "extra_backends"):
                continue
            value = getattr(self, f.name)
            default = f.default_factory() if callable(f.default_factory) else f.default
            ident = value.identity() if f.name == "backend" else [v.identity() for v in value]
            base = default.identity() if f.name == "backend" else [v.identity() for v in default]
            params.pop(f.name, None)
            if ident != base:
                params[f.name] = ident
        return params

    def make_engine(self, config: BackendConfig) -> Backend:
        """An engine from a typed config, behind the call cache unless ``cache_dir`` is "off".
        Stages of one worker process with the same engine config share one engine (one copy
        of the model in memory, not one per stage). Built for where :meth:`setup` was told
        the worker runs (on Ray: engines and request limits shared across the cluster)."""
        placement: Placement = getattr(self, "_placement", LOCAL)
        key = orjson.dumps([config.as_config(), placement.cluster, placement.namespace]).decode()
        if key not in _ENGINES:
            _ENGINES[key] = create_backend(config, placement)
        engine: Backend = _ENGINES[key]
        if self.cache_dir != "off":
            engine = CachedBackend(engine, LLMCache(self.cache_dir or default_cache_dir()))
        return engine

    def setup(self, placement: Placement = LOCAL) -> None:
        if getattr(self, "_engine", None) is None:
            object.__setattr__(self, "_placement", placement)
            object.__setattr__(self, "_engine", self.make_engine(self.backend))

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the parameters only: each worker builds its own engine in ``setup``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)

    @property
    def engine(self) -> Backend:
        self.setup()
        return self._engine  # type: ignore[attr-defined,no-any-return]

    def sampling(self, **changes: Any) -> Sampling:
        base = Sampling(
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            seed=self.seed,
        )
        return dataclasses.replace(base, **changes)

    def call(self, requests: list[LLMRequest], engine: Backend | None = None) -> list[Outcome]:
        """Run requests with parse retries; one outcome per request, in order."""
        engine = engine or self.engine
        outcomes: list[Outcome | None] = [None] * len(requests)
        pending = list(range(len(requests)))
        current = list(requests)
        for attempt in range(self.parse_retries + 1):
            results = engine.generate([current[i] for i in pending])
            retry = []
            for i, res in zip(pending, results):
                prev = outcomes[i]
                out = Outcome(
                    res,
                    attempts=attempt + 1,
                    sampling=current[i].sampling,
                    cache_hits=(prev.cache_hits if prev else 0) + res.cached,
                    prompt_tokens=(prev.prompt_tokens if prev else 0) + res.prompt_tokens,
                    completion_tokens=(prev.completion_tokens if prev else 0)
                    + res.completion_tokens,
                    engine_tokens=(prev.engine_tokens if prev else 0)
                    + (0 if res.cached else res.completion_tokens),
                )
                schema = current[i].json_schema
                if res.error is not None:
                    out.status = "error"
                elif res.finish_reason == "length":
                    out.status = "truncated"
                elif schema is not None and not _valid(res.parsed, schema):
                    out.status = "parse_error"
                    retry.append(i)
                outcomes[i] = out
            pending = retry
            for i in pending:
                s = requests[i].sampling
                current[i] = dataclasses.replace(
                    requests[i],
                    sampling=dataclasses.replace(
                        s,
                        seed=(s.seed or 0) + attempt + 1,
                        temperature=max(s.temperature, self.retry_temperature),
                    ),
                )
            if not pending:
                break
        return [o for o in outcomes if o is not None]

    def llm_meta(
        self, outcome: Outcome, template: Template, engine: Backend | None = None
    ) -> dict[str, Any]:
        """Provenance of one generated value: engine, model, sampling, template, tokens."""
        engine = engine or self.engine
        return {
            "stage": self.name,
            "backend": engine.kind,
            "model": engine.model,
            "sampling": outcome.sampling.as_dict(),
            "template": template.name,
            "template_sha256": template.sha256,
            "finish_reason": outcome.result.finish_reason,
            "prompt_tokens": outcome.prompt_tokens,
            "completion_tokens": outcome.completion_tokens,
            "attempts": outcome.attempts,
        }

    @staticmethod
    def new_doc(
        doc_id: str,
        text: str,
        meta: dict[str, Any],
        stats: dict[str, Any],
        reason: str | None = None,
        error: str | None = None,
    ) -> Doc:
        return Doc(
            id=doc_id,
            text=text,
            meta_json=orjson.dumps(meta).decode(),
            stats=stats,
            reason=reason,
            error=error,
        )


def failure(outcome: Outcome) -> tuple[str | None, str | None]:
    """(reason, error) for a failed outcome: rejected for truncation/parse, quarantined else."""
    if outcome.status in ("truncated", "parse_error"):
        return outcome.status, None
    if outcome.status == "error":
        return None, f"llm_error: {outcome.result.error}"
    return None, None
