"""Lexicon stage: how much clean text each rule drops, and how much spam it catches.

Prints, for the ``lexicon`` defaults and a small grid around them:

* false-drop rate (% of documents dropped) on clean text: zh-CN Wikipedia (CMRC 2018), zh-TW
  Wikipedia (DRCD, converted by ``normalize`` t2s), SogouCS news, CLUE small (news/web/comments),
  News Commentary; and, for information, user text (Weibo, Douban reviews) that is not "clean";
* catch rate on the ChineseWebText CC sample's casino-spam pages (:data:`SPAM_IDS`, labelled by
  hand: each has a casino/betting brand injected into unrelated text), and the drop rate on the
  other pages of that sample.

Documents go through ``normalize`` first, as in the pipeline. Caveat: the gambling brand terms
were added to the list after reading that same CC sample, so the catch rate is in-sample.
Run: ``python3 benchmarks/lexicon_false_drops.py [--data DIR]`` (DEV data, default ../shared/data).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dev_data import parse_data  # noqa: E402
from filters.lexicon import Lexicon, flagged_hits, flagged_set, stopwords, words  # noqa: E402
from filters.normalize import Normalize  # noqa: E402
from pipeline.record import Doc  # noqa: E402

CLEAN = [
    "wiki_zh_cmrc2018_paragraphs",
    "wiki_zh_tw_drcd_paragraphs",
    "sogoucs_smarty_sample",
    "clue_corpus_small_sample",
    "news_commentary_en_zh",
]
USER_TEXT = ["weibo_smp2020_ewect", "reviews_douban_book"]
SPAM_FILE = "chinesewebtext_cc_raw"
SPAM_IDS = {f"cwt-cc-{i}" for i in (0, 16, 19, 23, 32, 34, 35, 46, 69, 72, 93, 99)}
Row = tuple[str, int, float, int, float]  # id, tokens, stopword ratio, flagged hits, ratio


def load(data: Path, name: str) -> list[Doc]:
    docs = []
    for line in (data / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if isinstance(rec["text"], str) and rec["text"].strip():
            docs.append(Doc(id=rec["id"], text=rec["text"]))
    Normalize().process(docs)
    return [d for d in docs if d.reason is None]


def measure(docs: list[Doc], lex: Lexicon) -> list[Row]:
    stop, flagged = stopwords(), flagged_set(lex.categories)
    rows = []
    for doc in docs:
        toks = words(doc.text)
        n = len(toks)
        hits = flagged_hits(toks, flagged)
        stop_ratio = sum(map(stop.__contains__, toks)) / n if n else 0.0
        rows.append((doc.id, n, stop_ratio, hits, hits / n if n else 0.0))
    return rows


def stop_drop(r: Row, min_ratio: float, min_tokens: int) -> bool:
    return r[1] >= min_tokens and r[2] < min_ratio


def flag_drop(r: Row, min_hits: int, max_ratio: float) -> bool:
    return r[3] >= min_hits and r[4] > max_ratio


def pct(rows: list[Row], pred) -> str:  # noqa: ANN001 - a predicate
    return f"{100 * sum(map(pred, rows)) / max(len(rows), 1):5.2f}%"


def main() -> None:
    data = parse_data(__doc__.splitlines()[0], ("web",)) / "web"
    lex = Lexicon()
    sets = {name: measure(load(data, name), lex) for name in CLEAN + USER_TEXT + [SPAM_FILE]}
    spam = [r for r in sets[SPAM_FILE] if r[0] in SPAM_IDS]
    other = [r for r in sets[SPAM_FILE] if r[0] not in SPAM_IDS]
    d = lex
    print(
        f"defaults: min_stopword_ratio={d.min_stopword_ratio} min_tokens={d.min_tokens} "
        f"max_flagged_ratio={d.max_flagged_ratio} min_flagged_hits={d.min_flagged_hits}"
    )
    print("\n== low_stopword_ratio: % dropped (min_tokens fixed) ==")
    grid = [0.05, 0.08, 0.10, 0.12, 0.15]  # the rule drops docs below the value
    print(f"{'set':34} {'docs':>6} " + " ".join(f"<{g:<6}" for g in grid))
    for name, rows in [*sets.items(), ("CC spam pages", spam), ("CC other pages", other)]:
        cells = " ".join(pct(rows, lambda r, g=g: stop_drop(r, g, d.min_tokens)) for g in grid)
        print(f"{name:34} {len(rows):6d} {cells}")
    print("\n== flagged_words: % dropped, (min_hits, max_ratio) ==")
    fgrid = [(1, 0.0), (2, 0.0), (2, 0.001), (2, 0.005), (3, 0.001), (3, 0.01)]
    print(f"{'set':34} {'docs':>6} " + " ".join(f"{str(g):>12}" for g in fgrid))
    for name, rows in [*sets.items(), ("CC spam pages", spam), ("CC other pages", other)]:
        cells = " ".join(f"{pct(rows, lambda r, g=g: flag_drop(r, *g)):>12}" for g in fgrid)
        print(f"{name:34} {len(rows):6d} {cells}")
    print("\n== defaults, both rules ==")
    for name, rows in [*sets.items(), ("CC spam pages", spam), ("CC other pages", other)]:
        both = pct(
            rows,
            lambda r: (
                flag_drop(r, d.min_flagged_hits, d.max_flagged_ratio)
                or stop_drop(r, d.min_stopword_ratio, d.min_tokens)
            ),
        )
        print(f"{name:34} {len(rows):6d} dropped {both}")


if __name__ == "__main__":
    main()
