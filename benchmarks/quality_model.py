"""Quality classifier: held-out precision/recall/F1 per tokenization, leakage and OOD checks.

1. For each tokenization, train on ``filters/data/quality_zh.jsonl.gz`` (seeded 80/20 split,
   thread=1) and print held-out precision/recall/F1 (class "high", P >= 0.5), ROC AUC, time.
2. Length-only baseline on the same held-out split (AUC of length as the score; best F1 over
   length thresholds): near 0.5 / the all-positive F1 means no length leakage.
3. Default model on DEV sources it never saw: cmrc2018 Wikipedia (simplified originals),
   Waimai reviews, ChineseWebText crawl, its 20 clean/dirty-labelled documents (AUC).
4. Share of each source kept by the default ``quality`` stage after the default
   ``heuristics`` stage, at ``min_score`` and at 0.5.

    python3 benchmarks/quality_model.py [--data DIR]   # DEV data, default ../shared/data
"""

from __future__ import annotations

import collections
import random
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dev_data import parse_data
from filters.heuristics import Heuristics
from filters.quality import Quality
from filters.quality_train import DEFAULT_DATA, auc, read_labelled, train_quality
from pipeline.record import Doc


def read(web: Path, name: str) -> list[dict]:
    with (web / f"{name}.jsonl").open("rb") as fh:
        return [orjson.loads(line) for line in fh]


def scores(stage: Quality, texts: list[str]) -> list[float]:
    docs = [Doc(id=str(i), text=t) for i, t in enumerate(texts)]
    stage.process(docs)
    return [d.stats["score"] for d in docs]


def main() -> None:
    web = parse_data(__doc__.splitlines()[0], ("web",)) / "web"
    print("1. held-out metrics (20 % of the shipped set)")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("chars", "words", "words+chars"):
            t0 = time.perf_counter()
            m = train_quality([DEFAULT_DATA], Path(tmp) / f"{mode}.bin", tokenize_mode=mode)
            print(
                f"   {mode:12s} P {m['precision']:.4f} R {m['recall']:.4f} F1 {m['f1']:.4f} "
                f"AUC {m['auc']:.4f}  ({time.perf_counter() - t0:.1f} s incl. segmentation)"
            )

    rows = read_labelled([DEFAULT_DATA])
    random.Random(0).shuffle(rows)  # the same split as train_quality
    valid = rows[: int(len(rows) * 0.2)]
    lens, ys = [len(t) for t, _ in valid], [y for _, y in valid]
    best = 0.0
    for thr in sorted(set(lens)):
        for sign in (1, -1):
            pred = [sign * (n - thr) >= 0 for n in lens]
            tp = sum(p and y for p, y in zip(pred, ys))
            if tp:
                prec, rec = tp / sum(pred), tp / sum(ys)
                best = max(best, 2 * prec * rec / (prec + rec))
    print(
        f"2. length-only baseline: AUC {auc([float(n) for n in lens], ys):.3f}, best F1 "
        f"{best:.3f} (predicting all 'high': {2 * sum(ys) / (sum(ys) + len(ys)):.3f})"
    )

    stage = Quality()
    stage.setup()
    print(f"3. default model ({stage.min_score=}) on sources it never saw")
    for name in ("wiki_zh_cmrc2018_paragraphs", "reviews_waimai_10k", "chinesewebtext_cc_raw"):
        s = scores(stage, [r["text"] for r in read(web, name)])
        print(
            f"   {name:30s} n={len(s):6d} mean {sum(s) / len(s):.3f}  >=0.5 "
            f"{sum(x >= 0.5 for x in s) / len(s):6.1%}  >=min_score "
            f"{sum(x >= stage.min_score for x in s) / len(s):6.1%}"
        )
    lab = read(web, "chinesewebtext_quality_labeled")
    s = scores(stage, [r["text"] for r in lab])
    y = [int(r["meta"]["quality_label"] == "clean") for r in lab]
    print(
        f"   chinesewebtext clean/dirty (n={len(y)}): AUC {auc(s, y):.3f}, mean clean "
        f"{sum(a for a, b in zip(s, y) if b) / sum(y):.3f}, dirty "
        f"{sum(a for a, b in zip(s, y) if not b) / (len(y) - sum(y)):.3f}"
    )

    print("4. after default heuristics: kept by quality at min_score / at 0.5")
    heur = Heuristics()
    for path in sorted(web.glob("*.jsonl")):
        docs = [Doc(id=str(i), text=r["text"]) for i, r in enumerate(read(web, path.stem))]
        heur.process(docs)
        survivors = [d.text for d in docs if d.reason is None]
        if not survivors:
            continue
        s = scores(stage, survivors)
        counts = collections.Counter(x >= stage.min_score for x in s)
        print(
            f"   {path.stem:30s} {len(s):5d} after heuristics: kept "
            f"{counts[True] / len(s):6.1%}, at 0.5 {sum(x >= 0.5 for x in s) / len(s):6.1%}"
        )


if __name__ == "__main__":
    main()
