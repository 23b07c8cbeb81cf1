"""llm_quality_annotate: 0–5 educational-value labels on a sample of curated documents.

The rubric is FineWeb-Edu's additive 5-point prompt, written in Chinese (as CCI3-HQ does);
the labels are for distilling into the fastText quality classifier (``train-quality``). The
stage annotates, it never drops: every document keeps flowing and gets the same stats —
``sampled`` (bool), ``score`` (0–5, or -1 if not sampled or not parsed), ``status`` ("ok",
"not_sampled", "parse_error", "truncated", "error") and the call stats. The sample is
``hash(id) < sample_rate`` (deterministic, independent of batches and workers).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar

from pipeline.record import Doc
from synth.backends.base import LLMRequest
from synth.llm_stage import LLMStage, zero_stats
from synth.templates import load_template, untrusted

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["score", "rationale"],
    "properties": {
        "score": {"type": "integer", "enum": [0, 1, 2, 3, 4, 5]},
        "rationale": {"type": "string", "minLength": 1, "maxLength": 200},
    },
}


def in_sample(doc_id: str, rate: float) -> bool:
    """Deterministic Bernoulli(rate) draw from the sha256 of the id."""
    return int(hashlib.sha256(doc_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < rate


@dataclass(frozen=True)
class LLMQualityAnnotate(LLMStage):
    """``max_doc_chars`` 2000: FineWeb-Edu's annotation prompt also shows a truncated page."""

    name: ClassVar[str] = "llm_quality_annotate"
    version: ClassVar[str] = "2"
    template: ClassVar[str] = "quality_annotate"

    sample_rate: float = 1.0
    max_doc_chars: int = 2000
    max_tokens: int = 160

    def process(self, docs: list[Doc]) -> list[Doc]:
        tpl = load_template(self.template)
        chosen = [i for i, d in enumerate(docs) if in_sample(d.id, self.sample_rate)]
        requests = [
            LLMRequest(
                messages=tpl.render(document=untrusted(docs[i].text[: self.max_doc_chars])),
                sampling=self.sampling(),
                json_schema=SCHEMA,
            )
            for i in chosen
        ]
        outcomes = dict(zip(chosen, self.call(requests)))
        for i, doc in enumerate(docs):
            outcome = outcomes.get(i)
            if outcome is None:
                doc.stats = {**zero_stats(), "sampled": False, "score": -1, "status": "not_sampled"}
                continue
            ok = outcome.status == "ok"
            score = outcome.result.parsed["score"] if ok else -1
            doc.stats = {
                **outcome.stats(),
                "sampled": True,
                "score": score,
                "status": outcome.status,
            }
            doc.set_meta(
                "llm_quality",
                {
                    "score": score,
                    "rationale": outcome.result.parsed["rationale"] if ok else None,
                    **self.llm_meta(outcome, tpl),
                },
            )
        return docs
