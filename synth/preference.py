"""Preference logic (pure) and the preference_pairs stage.

* :func:`pair_verdict` — a pairwise judgment asked in both orders, (A=i, B=j) and (A=j, B=i);
  the verdict stands only if both name the same response (or both say tie).
* :func:`select_pointwise` — chosen = the highest mean score; rejected = the lowest-scored
  response whose score is ≥ ``margin`` below it; a tie for the top is dropped.
* :func:`select_pairwise` — chosen = the response with the most consistent wins (unique);
  rejected = the response it beat with the fewest wins of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pipeline.record import Doc
from pipeline.stage import MapStage
from synth.layouts import PublishedLayout
from synth.records import instruction_of, user_message

_AB = {"A": 0, "B": 1}


def pair_verdict(i: int, j: int, ab: str | None, ba: str | None) -> tuple[int | str | None, bool]:
    """(winner index | "tie" | None, consistent) from the verdicts of both orders.

    ``ab`` judged (A=i, B=j), ``ba`` judged (A=j, B=i); each is "A", "B", "tie" or None (failed).
    """
    if ab is None or ba is None:
        return None, False
    first = "tie" if ab == "tie" else (i, j)[_AB[ab]]
    second = "tie" if ba == "tie" else (j, i)[_AB[ba]]
    return (first, True) if first == second else (None, False)


def select_pointwise(scores: Sequence[float | None], margin: float) -> tuple[int, int] | str:
    """(chosen, rejected) indices, or the rule: "unscored", "tie", "low_margin"."""
    scored = [(s, i) for i, s in enumerate(scores) if s is not None]
    if len(scored) < 2:
        return "unscored"
    best = max(s for s, _ in scored)
    top = [i for s, i in scored if s == best]
    if len(top) > 1:
        return "tie"
    low = [(s, i) for s, i in scored if best - s >= margin]
    if not low:
        return "low_margin"
    return top[0], min(low)[1]


def select_pairwise(n: int, verdicts: Sequence[dict[str, Any]]) -> tuple[int, int] | str:
    """(chosen, rejected) from consistent verdicts ``{"i", "j", "winner"}``, or the rule:
    "inconsistent" (no consistent verdict), "tie" (no unique winner)."""
    decided = [v for v in verdicts if v.get("consistent")]
    if not decided:
        return "inconsistent"
    wins = [0] * n
    beaten: dict[int, list[int]] = {}
    for v in decided:
        w = v["winner"]
        if w != "tie":
            wins[w] += 1
            beaten.setdefault(w, []).append(v["j"] if w == v["i"] else v["i"])
    best = max(wins)
    top = [i for i in range(n) if wins[i] == best]
    if best == 0 or len(top) > 1:
        return "tie"
    loser = min(beaten[top[0]], key=lambda k: (wins[k], k))
    return top[0], loser


@dataclass(frozen=True)
class PreferencePairs(PublishedLayout, MapStage):
    """One (chosen, rejected) pair per judged instruction. ``margin`` 1.0 on the 1–10 mean
    rubric score (UltraFeedback-style binarization keeps pairs whose ratings differ; one point
    is own choice for a 0.5B judge's noise)."""

    name: ClassVar[str] = "preference_pairs"
    version: ClassVar[str] = "1"
    publish_format: ClassVar[str] = "preference"

    mode: str = "pointwise"
    margin: float = 1.0

    def process_doc(self, doc: Doc) -> None:
        responses = doc.meta.get("responses") or []
        scores = [r.get("mean") for r in responses]
        if self.mode == "pointwise":
            picked = select_pointwise(scores, self.margin)
        elif self.mode == "pairwise":
            picked = select_pairwise(len(responses), doc.meta.get("pairwise") or [])
        else:
            raise ValueError("preference_pairs.mode must be pointwise or pairwise")
        doc.stats = {"responses": len(responses), "margin": 0.0}
        if isinstance(picked, str):
            doc.reason = picked
            return
        c, r = picked
        chosen_score, rejected_score = scores[c], scores[r]
        if chosen_score is not None and rejected_score is not None:
            doc.stats["margin"] = round(chosen_score - rejected_score, 4)
        doc.set_meta("prompt", user_message(*instruction_of(doc)))
        doc.set_meta("chosen", responses[c]["text"])
        doc.set_meta("rejected", responses[r]["text"])
        doc.set_meta("chosen_score", chosen_score)
        doc.set_meta("rejected_score", rejected_score)
        doc.set_meta("chosen_model", responses[c].get("model"))
        doc.set_meta("rejected_model", responses[r].get("model"))
