"""self_instruct: new Chinese instructions from seed tasks (Self-Instruct, BELLE).

Each input record is a seed task. Its prompt shows that seed plus ``n_examples - 1`` others
drawn from ``seed_file`` by a hash of the record id (so the prompt depends only on the record,
never on the batch), and asks for ``k`` new instructions. Each becomes a record
``<seed id>#self_instruct.<i>``, checked in order (template_leak overrides): too_short, too_long,
blacklisted, refusal, not_novel (char ROUGE-L > 0.7 against the seed pool, the input and the
earlier siblings), then incomplete and no_task_form (:mod:`synth.guards`: an instruction cut
mid-sentence, or no question or task at all). Novelty across different inputs is a global
concern (run exact/MinHash dedup after this stage).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

from pipeline.record import Doc
from synth.backends.base import LLMRequest
from synth.guards import check_instruction_form, strip_invisible
from synth.llm_stage import LLMStage, child_id, failure, zero_stats
from synth.records import instruction_of, user_message
from synth.templates import load_template, untrusted
from synth.textrules import BLACKLIST, NOVELTY_MAX_ROUGE, check_instruction


def instructions_schema(k: int) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["instructions"],
        "properties": {
            "instructions": {
                "type": "array",
                "minItems": 1,
                "maxItems": k,
                "items": {"type": "string", "minLength": 1},
            }
        },
    }


@cache
def load_seeds(path: str) -> tuple[str, ...]:
    """Instructions of a JSONL seed file (``instruction`` + optional ``input`` fields)."""
    if not path:
        return ()
    seeds = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                seeds.append(
                    user_message(
                        str(row["instruction"]).strip(), str(row.get("input") or "").strip()
                    )
                )
    return tuple(seeds)


@dataclass(frozen=True)
class SelfInstruct(LLMStage):
    """``temperature`` 0.7 and 4 new tasks per prompt: BELLE/Self-Instruct generation setup
    (they ask for 20 per prompt with large models; a 0.5B model stays coherent for a few).
    Length bounds 6–150 characters: own choice for one- or two-sentence Chinese tasks."""

    name: ClassVar[str] = "self_instruct"
    version: ClassVar[str] = "2"
    template: ClassVar[str] = "self_instruct"
    generates: ClassVar[bool] = True
    publish_format: ClassVar[str] = "instructions"

    seed_file: str = ""
    k: int = 4
    n_examples: int = 3
    min_chars: int = 6
    max_chars: int = 150
    max_rouge_l: float = NOVELTY_MAX_ROUGE
    blacklist: tuple[str, ...] = BLACKLIST
    temperature: float = 0.7
    max_tokens: int = 384

    def examples(self, doc: Doc, seeds: tuple[str, ...]) -> list[str]:
        """The record's own task plus seeds picked by a hash of its id (batch-independent)."""
        own = user_message(*instruction_of(doc))
        rng = random.Random(hashlib.sha256(doc.id.encode()).digest())
        others = [s for s in seeds if s != own]
        return [own] + rng.sample(others, min(len(others), self.n_examples - 1))

    def process(self, docs: list[Doc]) -> list[Doc]:
        tpl = load_template(self.template)
        seeds = load_seeds(self.seed_file)
        schema = instructions_schema(self.k)
        shown = [self.examples(d, seeds) for d in docs]
        requests = [
            LLMRequest(
                messages=tpl.render(
                    k=self.k,
                    examples=untrusted("\n".join(f"{j + 1}. {e}" for j, e in enumerate(ex))),
                ),
                sampling=self.sampling(),
                json_schema=schema,
            )
            for ex in shown
        ]
        out: list[Doc] = []
        for doc, ex, outcome in zip(docs, shown, self.call(requests)):
            llm = self.llm_meta(outcome, tpl)
            reason, error = failure(outcome)
            if reason or error:
                out.append(
                    self.new_doc(
                        child_id(doc.id, self.name, 0),
                        outcome.result.text[:2000],
                        {"source_id": doc.id, "synth": llm},
                        {**outcome.stats(), "index": 0, "max_rouge": 0.0},
                        reason=reason,
                        error=error,
                    )
                )
                continue
            pool = list(seeds) + ex
            for i, text in enumerate(outcome.result.parsed["instructions"]):
                text = strip_invisible(text).strip()
                rule, score = check_instruction(
                    text,
                    pool,
                    min_chars=self.min_chars,
                    max_chars=self.max_chars,
                    max_rouge_l=self.max_rouge_l,
                    words=self.blacklist,
                )
                if rule is None:
                    rule = check_instruction_form(text)
                if tpl.leaks(text):
                    rule = "template_leak"
                if rule is None:
                    pool.append(text)
                calls = outcome.stats() if i == 0 else zero_stats()
                out.append(
                    self.new_doc(
                        child_id(doc.id, self.name, i),
                        text,
                        {"source_id": doc.id, "instruction": text, "input": "", "synth": llm},
                        {**calls, "index": i, "max_rouge": round(score, 4)},
                        reason=rule,
                    )
                )
        return out
