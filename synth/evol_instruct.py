"""evol_instruct: harder (in-depth) and new (in-breadth) instructions from existing ones.

WizardLM's evolutions, one prompt file each: ``constraints``, ``deepen``, ``concretize``,
``reasoning`` (in-depth) and ``breadth``. Each input gets ``per_doc`` evolutions; the methods
are taken in a rotation that starts at a hash of the record id (deterministic, batch-independent).
Failed evolutions are eliminated (WizardLM's elimination rules) with the rule:

* ``refusal`` — a short answer such as "抱歉…"/"对不起"/"作为一个AI…" instead of an instruction;
* ``prompt_copy`` — it repeats the rewriting prompt ("原始指令", "改写后的指令", template text);
* ``no_gain`` — no information gain: nothing added to the parent (all of it is a subsequence of
  the parent) or char ROUGE-L vs the parent ≥ ``max_parent_rouge`` (in-depth only);
* ``too_short`` / ``too_long`` — normalized length outside [min_chars, max_chars];
* ``incomplete`` / ``no_task_form`` — cut mid-sentence, or no question or task at all
  (:mod:`synth.guards`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar

from pipeline.record import Doc
from synth.backends.base import LLMRequest
from synth.guards import check_instruction_form, strip_invisible
from synth.llm_stage import LLMStage, child_id, failure
from synth.records import instruction_of, user_message
from synth.templates import Template, load_template, untrusted
from synth.textrules import is_refusal, lcs_length, normalize_chars, rouge_l

METHODS = ("constraints", "deepen", "concretize", "reasoning", "breadth")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["instruction"],
    "properties": {"instruction": {"type": "string", "minLength": 1}},
}
#: Words of the rewriting prompt that never belong in an evolved instruction.
PROMPT_WORDS = (
    "原始指令",
    "改写后的指令",
    "改写后指令",
    "新指令：",
    "#Given Prompt#",
    "#Rewritten Prompt#",
    "<document>",
)


def eliminate(
    evolved: str,
    parent: str,
    template: Template,
    *,
    in_depth: bool,
    min_chars: int,
    max_chars: int,
    max_parent_rouge: float,
) -> str | None:
    """The elimination rule an evolved instruction breaks (None if it survives)."""
    e, p = normalize_chars(evolved), normalize_chars(parent)
    if is_refusal(evolved):
        return "refusal"
    if any(w in evolved for w in PROMPT_WORDS) or template.leaks(evolved):
        return "prompt_copy"
    if not e or lcs_length(e, p) == len(e):
        return "no_gain"
    if in_depth and rouge_l(evolved, parent) >= max_parent_rouge:
        return "no_gain"
    if len(e) < min_chars:
        return "too_short"
    if len(e) > max_chars:
        return "too_long"
    return check_instruction_form(evolved)


@dataclass(frozen=True)
class EvolInstruct(LLMStage):
    """``max_parent_rouge`` 0.9: an in-depth rewrite of a 20-character instruction that adds
    fewer than ~4 characters scores above it (own choice; WizardLM asks ChatGPT instead)."""

    name: ClassVar[str] = "evol_instruct"
    version: ClassVar[str] = "2"
    generates: ClassVar[bool] = True
    publish_format: ClassVar[str] = "instructions"

    methods: tuple[str, ...] = METHODS
    per_doc: int = 1
    min_chars: int = 6
    max_chars: int = 300
    max_parent_rouge: float = 0.9
    temperature: float = 0.7
    max_tokens: int = 256

    def chosen_methods(self, doc: Doc) -> list[str]:
        start = int(hashlib.sha256(doc.id.encode()).hexdigest(), 16) % len(self.methods)
        return [self.methods[(start + j) % len(self.methods)] for j in range(self.per_doc)]

    def process(self, docs: list[Doc]) -> list[Doc]:
        unknown = set(self.methods) - set(METHODS)
        if unknown:
            raise ValueError(f"evol_instruct.methods: unknown {sorted(unknown)}; use {METHODS}")
        jobs = []  # (doc, parent, index, method)
        for doc in docs:
            parent = user_message(*instruction_of(doc))
            jobs += [(doc, parent, j, m) for j, m in enumerate(self.chosen_methods(doc))]
        requests = [
            LLMRequest(
                messages=load_template(f"evol_{m}").render(instruction=untrusted(parent)),
                sampling=self.sampling(),
                json_schema=SCHEMA,
            )
            for _, parent, _, m in jobs
        ]
        out = []
        for (doc, parent, j, method), outcome in zip(jobs, self.call(requests)):
            tpl = load_template(f"evol_{method}")
            meta = {
                "source_id": doc.id,
                "evol_method": method,
                "parent_instruction": parent,
                "synth": self.llm_meta(outcome, tpl),
            }
            reason, error = failure(outcome)
            text = outcome.result.text[:2000]
            sim = 0.0
            if not (reason or error):
                text = strip_invisible(outcome.result.parsed["instruction"]).strip()
                sim = rouge_l(text, parent)
                reason = eliminate(
                    text,
                    parent,
                    tpl,
                    in_depth=method != "breadth",
                    min_chars=self.min_chars,
                    max_chars=self.max_chars,
                    max_parent_rouge=self.max_parent_rouge,
                )
                meta.update(instruction=text, input="")
            out.append(
                self.new_doc(
                    child_id(doc.id, self.name, j),
                    text,
                    meta,
                    {**outcome.stats(), "parent_rouge": round(sim, 4)},
                    reason=reason,
                    error=error,
                )
            )
        return out
