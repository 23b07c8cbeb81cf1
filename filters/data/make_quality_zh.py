"""Build ``quality_zh.jsonl.gz``, the labelled set behind the default ``quality`` model.

"High quality" here means *edited reference prose* (encyclopedia and news commentary, as in
GPT-3/LLaMA-style "Wikipedia-like" classifiers); "low" means *unedited user-generated text*
(microblog posts, short reviews, chit-chat). Only permissively licensed DEV sources are used:

  label 1  DRCD zh-TW Wikipedia paragraphs (CC BY-SA 3.0), converted with OpenCC t2s
  label 1  News Commentary v13 zh side (dbiir/UER-py corpora, Apache-2.0)
  label 0  SMP2020-EWECT Weibo posts (dbiir/UER-py datasets, Apache-2.0)
  label 0  Douban book reviews (dbiir/UER-py datasets, Apache-2.0)
  label 0  LCCC toy dialogues (thu-coai/CDial-GPT, MIT)

No length leakage: Wikipedia paragraphs (median 413 chars) are cut at sentence ends into
snippets whose target lengths are drawn from the low-quality texts' lengths, then both classes
are sampled to the same count in every length bin (texts of at least 20 chars), so length says
nothing about the label (``benchmarks/quality_model.py`` prints a length-only baseline).
Deterministic (seeded); the gzip has mtime 0, so rebuilding gives the same bytes.

    python3 filters/data/make_quality_zh.py [--data DIR]   # DEV data, default ../shared/data
"""

from __future__ import annotations

import gzip
import random
import re
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.dev_data import parse_data  # noqa: E402

OUT = Path(__file__).with_name("quality_zh.jsonl.gz")
SEED = 20261127
MIN_CHARS = 20
NEG = {"weibo_smp2020_ewect": 4000, "reviews_douban_book": 3200, "lccc_toy_dialogues": 800}
BINS = (20, 30, 45, 70, 100, 150, 250, 400, 10**9)
SENT_END = re.compile(r"(?<=[。！？；])")


def read(web: Path, name: str) -> list[dict]:
    with (web / f"{name}.jsonl").open("rb") as fh:
        return [orjson.loads(line) for line in fh]


def snippets(paragraph: str, targets: list[int], rng: random.Random) -> list[str]:
    """Cut a paragraph at sentence ends into consecutive snippets of about the target lengths."""
    sents = [s for s in SENT_END.split(paragraph) if s.strip()]
    out, i = [], 0
    while i < len(sents):
        target, cur = rng.choice(targets), ""
        while i < len(sents) and len(cur) < target:
            cur += sents[i]
            i += 1
        out.append(cur.strip())
    return out


def length_bin(text: str) -> int:
    return next(i for i, hi in enumerate(BINS[1:]) if len(text) < hi)


def main(root: Path) -> None:
    import opencc

    web = root / "web"
    rng = random.Random(SEED)
    neg: list[dict] = []
    for name, k in NEG.items():
        texts = sorted({t for r in read(web, name) if len(t := r["text"].strip()) >= MIN_CHARS})
        neg += [{"text": t, "label": 0, "source": name} for t in rng.sample(texts, k)]
    targets = [len(r["text"]) for r in neg]

    t2s = opencc.OpenCC("t2s")
    pos = [
        {"text": t, "label": 1, "source": "news_commentary_en_zh"}
        for r in read(web, "news_commentary_en_zh")
        if len(t := r["text"].strip()) >= MIN_CHARS
    ]
    for para in sorted({t2s.convert(r["text"]) for r in read(web, "wiki_zh_tw_drcd_paragraphs")}):
        pos += [
            {"text": s, "label": 1, "source": "wiki_zh_tw_drcd_paragraphs(t2s)"}
            for s in snippets(para, targets, rng)
            if len(s) >= MIN_CHARS
        ]
    rows = []
    for b in range(len(BINS) - 1):  # same number of each class in every length bin
        p = [r for r in pos if length_bin(r["text"]) == b]
        n = [r for r in neg if length_bin(r["text"]) == b]
        k = min(len(p), len(n))
        rows += rng.sample(p, k) + rng.sample(n, k)
    rng.shuffle(rows)
    with OUT.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for row in rows:
            gz.write(orjson.dumps(row) + b"\n")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB): {len(rows)} rows")


if __name__ == "__main__":
    main(parse_data(__doc__.splitlines()[0], ("web",)))
