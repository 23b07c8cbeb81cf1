"""judge: LLM-as-judge in Chinese over the responses that ``respond`` attached.

* ``pointwise`` — one call per response with the rubric (helpfulness, correctness, instruction
  following, fluency; integers 1–10) and a short rationale; ``mean`` = mean of the four.
* ``pairwise`` — each pair (i, j) is judged twice, (A=i, B=j) and (A=j, B=i); the verdict is
  kept only when both orders agree (:func:`synth.preference.pair_verdict`). Stats ``pairs`` and
  ``consistent_pairs`` give the run's consistency rate (sum over records, then divide).

``samples`` > 1 (pointwise): each response is judged that many times at
``sample_temperature`` with distinct seeds and its scores are averaged — G-Eval's estimate of
the expected score when token probabilities are not available (Liu et al., 2023, who sample
20 times at temperature 1). A small judge that answers "10" greedily to everything then
still separates answers it is less sure of; ``scores`` are the per-criterion means.

Reference-guided grading (as in MT-Bench): with ``use_reference`` and a ``meta.reference``
answer (``respond`` keeps the grounded answer of ``synth_doc_qa`` there), the pointwise rubric
also shows the reference, so a fluent answer with wrong facts scores low on correctness.

Responses are untrusted (inside ``<document>`` tags); the output is schema-constrained. A record
with fewer than two usable judgments is rejected as ``parse_error`` or ``truncated``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any, ClassVar

from pipeline.record import Doc
from synth.backends.base import LLMRequest, Sampling
from synth.llm_stage import CALL_STATS, LLMStage, Outcome
from synth.preference import pair_verdict
from synth.records import instruction_of, user_message
from synth.templates import load_template, untrusted

CRITERIA = ("helpfulness", "correctness", "instruction_following", "fluency")
_SCORE = {"type": "integer", "enum": list(range(1, 11))}
_RATIONALE = {"type": "string", "minLength": 1, "maxLength": 200}
POINTWISE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [*CRITERIA, "rationale"],
    "properties": {**dict.fromkeys(CRITERIA, _SCORE), "rationale": _RATIONALE},
}
PAIRWISE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["winner", "rationale"],
    "properties": {
        "winner": {"type": "string", "enum": ["A", "B", "tie"]},
        "rationale": _RATIONALE,
    },
}


@dataclass(frozen=True)
class Judge(LLMStage):
    """Greedy decoding (temperature 0) so a verdict is reproducible; 256 tokens fit the JSON
    with a 50-character rationale."""

    name: ClassVar[str] = "judge"
    version: ClassVar[str] = "4"

    mode: str = "pointwise"
    use_reference: bool = True
    samples: int = 1
    sample_temperature: float = 1.0
    max_tokens: int = 256

    def process(self, docs: list[Doc]) -> list[Doc]:
        if self.mode not in ("pointwise", "pairwise"):
            raise ValueError("judge.mode must be pointwise or pairwise")
        plain = load_template(f"judge_{self.mode}")
        with_ref = load_template("judge_pointwise_ref") if self.mode == "pointwise" else plain
        schema = POINTWISE_SCHEMA if self.mode == "pointwise" else PAIRWISE_SCHEMA
        jobs: list[tuple[int, tuple[int, ...]]] = []  # (doc, response indices)
        requests = []
        templates: dict[int, Any] = {}
        for d, doc in enumerate(docs):
            prompt = untrusted(user_message(*instruction_of(doc)))
            reference = doc.meta.get("reference") if self.use_reference else None
            tpl = with_ref if reference else plain
            extra = {"reference": untrusted(str(reference))} if tpl is with_ref else {}
            texts = [r["text"] for r in doc.meta.get("responses") or []]
            ok = [i for i, r in enumerate(doc.meta.get("responses") or []) if r["status"] == "ok"]
            if self.mode == "pointwise":
                keys: list[tuple[int, ...]] = [(i, k) for i in ok for k in range(self.samples)]
                values = [{"response": untrusted(texts[i]), **extra} for i, _ in keys]
            else:
                keys = [k for i, j in combinations(ok, 2) for k in ((i, j), (j, i))]
                values = [
                    {"response_a": untrusted(texts[a]), "response_b": untrusted(texts[b])}
                    for a, b in keys
                ]
            for key, value in zip(keys, values):
                jobs.append((d, key))
                requests.append(
                    LLMRequest(
                        messages=tpl.render(instruction=prompt, **value),
                        sampling=self.judge_sampling(key),
                        json_schema=schema,
                    )
                )
            templates[d] = tpl
        by_doc: dict[int, dict[tuple[int, ...], Outcome]] = {}
        for (d, key), outcome in zip(jobs, self.call(requests)):
            by_doc.setdefault(d, {})[key] = outcome
        for d, doc in enumerate(docs):
            self._annotate(doc, by_doc.get(d, {}), templates[d])
        return docs

    def judge_sampling(self, key: tuple[int, ...]) -> Sampling:
        """Greedy for one sample; sample ``k`` of several: seed + k at ``sample_temperature``."""
        if self.mode != "pointwise" or self.samples <= 1:
            return self.sampling()
        return self.sampling(seed=self.seed + key[1], temperature=self.sample_temperature)

    def _annotate(self, doc: Doc, outcomes: dict[tuple[int, ...], Outcome], tpl: Any) -> None:
        stats = dict.fromkeys(CALL_STATS, 0)
        for outcome in outcomes.values():
            for key, value in outcome.stats().items():
                stats[key] += value
        responses = [dict(r) for r in doc.meta.get("responses") or []]
        usable, pairs, consistent = 0, 0, 0  # usable: scored responses / fully judged pairs
        if self.mode == "pointwise":
            judged: dict[int, list[dict[str, Any]]] = {}
            for (i, _), outcome in outcomes.items():
                if outcome.status == "ok":
                    judged.setdefault(i, []).append(outcome.result.parsed)
            for i, parsed in sorted(judged.items()):
                scores = {c: round(sum(p[c] for p in parsed) / len(parsed), 4) for c in CRITERIA}
                responses[i].update(
                    scores=scores,
                    rationale=parsed[0]["rationale"],
                    mean=round(sum(scores.values()) / len(CRITERIA), 4),
                    judgments=len(parsed),
                )
                usable += 1
        else:
            verdicts = []
            for (i, j), ab in outcomes.items():
                if i > j:
                    continue
                ba = outcomes[j, i]
                both = ab.status == "ok" and ba.status == "ok"
                winner, agree = pair_verdict(
                    i,
                    j,
                    ab.result.parsed["winner"] if both else None,
                    ba.result.parsed["winner"] if both else None,
                )
                pairs += 1
                consistent += agree
                usable += 2 * both  # a judged pair informs on two responses
                verdicts.append({"i": i, "j": j, "winner": winner, "consistent": agree})
            doc.set_meta("pairwise", verdicts)
        any_outcome = next(iter(outcomes.values()), None)
        if any_outcome is not None:
            doc.set_meta("judge", {**self.llm_meta(any_outcome, tpl), "mode": self.mode})
        doc.set_meta("responses", responses)
        doc.stats = {**stats, "judged": usable, "pairs": pairs, "consistent_pairs": consistent}
        if usable >= 2:
            return
        failed = [o for o in outcomes.values() if o.status != "ok"]
        errors = [o.result.error for o in failed if o.status == "error"]
        if errors:
            doc.error = f"llm_error: {errors[0]}"
        else:  # truncated / parse_error, or fewer than two complete responses to judge
            doc.reason = failed[0].status if failed else "unjudged"
