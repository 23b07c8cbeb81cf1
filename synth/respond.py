"""respond: n responses per instruction, for SFT outputs and preference pairs.

Response ``j`` uses seed ``seed + j``, temperature ``temperatures[j % len]`` and engine
``[backend, *extra_backends][j % len]`` (several models make better preference data). The
record keeps its id (it is annotated, not derived) and gains ``meta.responses``: one entry
per response with its text, engine, model, sampling, template hash, tokens and finish reason.
``meta.output`` is the first complete response (the SFT answer). A record with fewer than
``min_complete`` complete (not truncated) responses is rejected as ``truncated``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pipeline.record import Doc
from synth.backends.base import Backend, LLMRequest
from synth.backends.configs import BackendConfig, parse_backend
from synth.llm_stage import CALL_STATS, LLMStage, Outcome
from synth.records import instruction_of, user_message
from synth.templates import load_template


@dataclass(frozen=True)
class Respond(LLMStage):
    """Temperatures 0.3/0.9: one careful and one exploratory answer per instruction (own
    choice; UltraFeedback-style pipelines sample 0.7–1.0 across several models)."""

    name: ClassVar[str] = "respond"
    version: ClassVar[str] = "2"
    template: ClassVar[str] = "respond"
    publish_format: ClassVar[str] = "sft"

    n: int = 2
    temperatures: tuple[float, ...] = (0.3, 0.9)
    #: further engines, used in turn with ``backend`` (same form as ``backend``)
    extra_backends: tuple[BackendConfig, ...] = ()
    min_complete: int = 2
    max_tokens: int = 512

    def __post_init__(self) -> None:
        super().__post_init__()
        extra = tuple(
            parse_backend(c, f"extra_backends[{i}]") for i, c in enumerate(self.extra_backends)
        )
        object.__setattr__(self, "extra_backends", extra)

    def engines(self) -> list[Backend]:
        if getattr(self, "_extra", None) is None:
            object.__setattr__(self, "_extra", [self.make_engine(c) for c in self.extra_backends])
        return [self.engine, *self._extra]  # type: ignore[attr-defined]

    def process(self, docs: list[Doc]) -> list[Doc]:
        tpl = load_template(self.template)
        engines = self.engines()
        jobs: dict[int, list[tuple[int, int, LLMRequest]]] = {}  # engine → (doc, j, request)
        for d, doc in enumerate(docs):
            messages = tpl.render(instruction=user_message(*instruction_of(doc)))
            for j in range(self.n):
                sampling = self.sampling(
                    seed=self.seed + j, temperature=self.temperatures[j % len(self.temperatures)]
                )
                jobs.setdefault(j % len(engines), []).append(
                    (d, j, LLMRequest(messages=messages, sampling=sampling))
                )
        outcomes: dict[tuple[int, int], tuple[Outcome, Backend]] = {}
        for e, items in jobs.items():
            for (d, j, _), outcome in zip(items, self.call([r for *_, r in items], engines[e])):
                outcomes[d, j] = (outcome, engines[e])
        for d, doc in enumerate(docs):
            responses, stats = [], dict.fromkeys(CALL_STATS, 0)
            for j in range(self.n):
                outcome, engine = outcomes[d, j]
                for key, value in outcome.stats().items():
                    stats[key] += value
                responses.append(
                    {
                        "text": outcome.result.text,
                        "status": outcome.status,
                        "error": outcome.result.error,
                        **self.llm_meta(outcome, tpl, engine),
                    }
                )
            complete = [r for r in responses if r["status"] == "ok"]
            errors = [r for r in responses if r["status"] == "error"]
            if doc.meta.get("output") and "reference" not in doc.meta:
                doc.set_meta("reference", doc.meta["output"])  # e.g. synth_doc_qa's answer
            doc.set_meta("responses", responses)
            if complete:
                doc.set_meta("output", complete[0]["text"])
            doc.stats = {**stats, "complete": len(complete)}
            if len(complete) < self.min_complete:
                if errors:
                    doc.error = f"llm_error: {errors[0]['error']}"
                else:
                    doc.reason = "truncated"
        return docs
