"""synth_doc_qa: k question/answer pairs grounded in each curated document.

One call per document asks for ``k`` pairs as JSON (the document is read once, which is most of
the cost on a small CPU model). Each pair becomes a new record ``<doc id>#synth_doc_qa.<i>``.
Grounding check: ``support`` = share of the answer's character bigrams (normalized: no spaces
or punctuation) that occur in the document; answers below ``min_support`` are rejected as
``unsupported``. A question too close to an earlier one of the same document (char ROUGE-L
> ``max_rouge_l``) is ``not_novel``; a pair quoting the prompt template is ``template_leak``.
A question that is mostly copied from the document (``copied_share`` ≥ ``max_copied_share``)
is ``copied_source``; one cut mid-sentence is ``incomplete``; one that is no question or task
is ``no_task_form``; an answer that is a fragment is ``answer_fragment`` (:mod:`synth.guards`).
Rules in order: template_leak, too_short, copied_source, incomplete, no_task_form, not_novel,
answer_fragment, unsupported. Invisible format characters are removed from both texts.

Which documents: those with at least ``min_doc_chars`` characters whose id falls in the
deterministic ``sample_rate`` sample (``hash(id) < rate``, independent of batches and
workers); the others generate nothing (a generating stage consumes its input: they stay in
the curated dataset published before it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pipeline.record import Doc
from synth.backends.base import LLMRequest
from synth.guards import MAX_COPIED_SHARE, check_answer, check_instruction_form, copied_share
from synth.guards import strip_invisible as clean
from synth.llm_stage import LLMStage, child_id, failure, zero_stats
from synth.quality_annotate import in_sample
from synth.templates import Template, load_template, untrusted
from synth.textrules import NOVELTY_MAX_ROUGE, max_rouge, normalize_chars


def qa_schema(k: int) -> dict[str, Any]:
    pair = {
        "type": "object",
        "additionalProperties": False,
        "required": ["question", "answer"],
        "properties": {
            "question": {"type": "string", "minLength": 1},
            "answer": {"type": "string", "minLength": 1},
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["pairs"],
        "properties": {"pairs": {"type": "array", "items": pair, "minItems": 1, "maxItems": k}},
    }


def support(answer: str, document: str) -> float:
    """Share of the answer's normalized character bigrams found in the document (0..1)."""
    a, d = normalize_chars(answer), normalize_chars(document)
    grams = [a[i : i + 2] for i in range(len(a) - 1)] or ([a] if a else [])
    if not grams:
        return 0.0
    doc_grams = {d[i : i + 2] for i in range(len(d) - 1)} | set(d)
    return sum(g in doc_grams for g in grams) / len(grams)


@dataclass(frozen=True)
class SynthDocQA(LLMStage):
    """Grounded QA pairs from documents (instruction back-translation style).

    ``max_doc_chars`` 2000: the first 2000 characters of a document (~1.5k Qwen tokens) fit the
    default 4096-token context with room for the answer. ``min_support`` 0.5: own measurement
    (see tests and the report): grounded answers of the 0.5B model score ≥ 0.6.
    """

    name: ClassVar[str] = "synth_doc_qa"
    version: ClassVar[str] = "2"
    template: ClassVar[str] = "doc_qa"
    generates: ClassVar[bool] = True
    publish_format: ClassVar[str] = "sft"

    k: int = 3
    sample_rate: float = 1.0
    min_doc_chars: int = 0
    max_doc_chars: int = 2000
    min_support: float = 0.5
    min_question_chars: int = 4
    max_rouge_l: float = NOVELTY_MAX_ROUGE
    #: a question with this share of its characters copied from the document is rejected
    max_copied_share: float = MAX_COPIED_SHARE
    max_tokens: int = 512

    def rule(self, q: str, a: str, text: str, sim: float, sup: float, tpl: Template) -> str | None:
        """The first rule a (question, answer) pair breaks (see the module docstring)."""
        if tpl.leaks(q) or tpl.leaks(a):
            return "template_leak"
        if len(normalize_chars(q)) < self.min_question_chars:
            return "too_short"
        form = check_instruction_form(q, text, max_copied_share=self.max_copied_share)
        if form:
            return form
        if sim > self.max_rouge_l:
            return "not_novel"
        if check_answer(a, q):
            return "answer_fragment"
        return "unsupported" if sup < self.min_support else None

    def process(self, docs: list[Doc]) -> list[Doc]:
        tpl = load_template(self.template)
        schema = qa_schema(self.k)
        docs = [
            d
            for d in docs
            if len(d.text) >= self.min_doc_chars
            and (self.sample_rate >= 1.0 or in_sample(d.id, self.sample_rate))
        ]
        texts = [d.text[: self.max_doc_chars] for d in docs]
        requests = [
            LLMRequest(
                messages=tpl.render(k=self.k, document=untrusted(t)),
                sampling=self.sampling(),
                json_schema=schema,
            )
            for t in texts
        ]
        out: list[Doc] = []
        for doc, text, outcome in zip(docs, texts, self.call(requests)):
            llm = self.llm_meta(outcome, tpl)
            reason, error = failure(outcome)
            if reason or error:
                out.append(
                    self.new_doc(
                        child_id(doc.id, self.name, 0),
                        outcome.result.text[:2000],
                        {"source_id": doc.id, "synth": llm},
                        {
                            **outcome.stats(),
                            "index": 0,
                            "support": 0.0,
                            "max_rouge": 0.0,
                            "copied_share": 0.0,
                        },
                        reason=reason,
                        error=error,
                    )
                )
                continue
            questions: list[str] = []
            for i, pair in enumerate(outcome.result.parsed["pairs"]):
                q, a = clean(pair["question"]).strip(), clean(pair["answer"]).strip()
                sup, sim = support(a, text), max_rouge(q, questions)
                rule = self.rule(q, a, text, sim, sup, tpl)
                questions.append(q)
                calls = outcome.stats() if i == 0 else zero_stats()
                out.append(
                    self.new_doc(
                        child_id(doc.id, self.name, i),
                        q,
                        {
                            "source_id": doc.id,
                            "instruction": q,
                            "input": "",
                            "output": a,
                            "synth": llm,
                        },
                        {
                            **calls,
                            "index": i,
                            "support": round(sup, 4),
                            "max_rouge": round(sim, 4),
                            "copied_share": round(copied_share(q, text), 4),
                        },
                        reason=rule,
                    )
                )
        return out
