"""Stage ``quality``: fastText classifier score P(high quality), with a minimum.

"High quality" is what the default model learned from ``filters/data/quality_zh.jsonl.gz``:
edited reference prose (Wikipedia, news commentary) against unedited user-generated text
(Weibo posts, short reviews, chit-chat), length-matched (``filters/data/make_quality_zh.py``).
It is a "reference-likeness" score in the spirit of GPT-3/LLaMA's Wikipedia classifiers, not a
judgement of truth or safety. Train your own with ``filters.quality_train`` and point
``model_path`` at it.

``model_path`` "" = the default model: ``setup()`` trains it into ``$ZHCURATE_HOME/models``
(default ``~/.cache/zhcurate/models``) on first use if missing (deterministic: thread=1, fixed
seed; ~5 s; one log line), so a fresh clone runs with no manual step. Its file name carries the
hash of the training set and parameters.

Stats: ``score`` = P(high) from the first ``max_chars`` characters (tokenized as the model was
trained: its ``.json`` sidecar, else characters). Rule: "low_quality" when score < min_score.
``min_score`` 0.05 (own measurement, ``benchmarks/quality_model.py``): after the default
``heuristics`` it keeps 99 % of cmrc2018 Wikipedia (never trained on), 80 % of Sohu news, 75 %
of ChineseWebText crawl, but 5 % of Weibo posts and 9 % of Douban reviews. The model is formal-
vs-colloquial: narrative news and Q&A score low (at 0.5 only 38 % of Sohu news stays), so
raise ``min_score`` only for a deliberately "reference-like" mix. Held-out P/R/F1 of the
default model: 0.945/0.985/0.965 (in-distribution split; length-only baseline AUC 0.51).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from filters.langid import load_fasttext
from filters.quality_train import DEFAULT_TOKENIZE, build_default_model, p_high, tokenize
from pipeline.record import Doc
from pipeline.stage import LOCAL, Filter, Placement, Rule, at_least


@lru_cache(maxsize=4)
def load_quality_model(path: str) -> tuple[Any, str]:
    """(fastText model, tokenize mode) for a model file, once per process."""
    sidecar = Path(path + ".json")
    mode = (
        json.loads(sidecar.read_text("utf-8"))["tokenize"]
        if sidecar.exists()
        else (DEFAULT_TOKENIZE)
    )
    return load_fasttext(path), mode


@dataclass(frozen=True)
class Quality(Filter):
    """Keep documents whose P(high quality) is at least ``min_score``."""

    name: ClassVar[str] = "quality"
    version: ClassVar[str] = "1"
    rules: ClassVar[tuple[Rule, ...]] = (at_least("score", "min_score", "low_quality"),)

    min_score: float | None = 0.05
    model_path: str = ""
    max_chars: int = 2000

    def setup(self, placement: Placement = LOCAL) -> None:
        self._model()

    def _model(self) -> tuple[Any, str]:
        path = self.model_path or str(build_default_model())
        if not Path(path).is_file():
            raise FileNotFoundError(f"quality model_path {path!r} does not exist")
        return load_quality_model(path)

    def measure(self, docs: list[Doc]) -> list[dict[str, Any]]:
        """``score``: P(high quality) of each doc's first ``max_chars`` chars, 4 decimals."""
        model, mode = self._model()
        lines = [tokenize(d.text[: self.max_chars], mode) for d in docs]
        return [{"score": round(score, 4)} for score in p_high(model, lines)]
