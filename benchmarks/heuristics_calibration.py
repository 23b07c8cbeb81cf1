"""Where the ``heuristics`` defaults that are not copied from FineWeb-2/ChineseWebText come from.

On the DEV web data (documents with >= ``min_chars`` non-whitespace chars, i.e. those that
reach the repetition rules) this prints:
  1. characters per jieba word on the cmrc2018 Wikipedia paragraphs (turns FineWeb-2's word
     counts into ``min_chars``/``max_chars``);
  2. for n = 5..10: how many documents FineWeb-2's cmn_Hani *word* n-gram thresholds flag
     (datatrove's Gopher algorithm over jieba words), and the *character* n-gram threshold
     that flags the same number (``max_dup_<n>gram_frac``), with the overlap of the two sets;
  3. the 99th percentile and maximum of symbol/digit/URL ratios and character runs per source;
  4. the share of each source dropped by the stage defaults, by first failing rule.

    python3 benchmarks/heuristics_calibration.py [--data DIR]   # DEV data, default ../shared/data
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dev_data import parse_data
from filters.heuristics import Heuristics
from filters.segment import segment
from pipeline.record import Doc

FINEWEB2_DUP = {5: 0.198, 6: 0.182, 7: 0.167, 8: 0.154, 9: 0.14, 10: 0.127}


def gopher_dup_chars(words: list[str], n: int) -> int:
    """datatrove's find_all_duplicate: chars of repeated word n-grams (greedy, skip on hit)."""
    seen: set[str] = set()
    rep = idx = 0
    while idx < len(words) - n + 1:
        gram = "".join(words[idx : idx + n])
        if gram in seen:
            rep += len(gram)
            idx += n
        else:
            seen.add(gram)
            idx += 1
    return rep


def main() -> None:
    web = parse_data(__doc__.splitlines()[0], ("web",)) / "web"
    rows = []
    for path in sorted(web.glob("*.jsonl")):
        with path.open("rb") as fh:
            rows.extend((path.stem, orjson.loads(line)["text"]) for line in fh)
    docs = [Doc(id=str(i), text=t) for i, (_, t) in enumerate(rows)]
    stage = Heuristics()
    for i in range(0, len(docs), 1000):
        stage.process(docs[i : i + 1000])
    long_docs = [(src, d) for (src, _), d in zip(rows, docs) if d.stats["chars"] >= stage.min_chars]

    wiki = [d.stats for s, d in long_docs if s.startswith("wiki_zh_cmrc")]
    cpw = sum(s["chars"] for s in wiki) / sum(s["words"] for s in wiki)
    print(
        f"1. cmrc2018: {cpw:.2f} non-whitespace chars per jieba word -> 50 words = "
        f"{50 * cpw:.0f} chars, 100,000 words = {100_000 * cpw:,.0f} chars"
    )

    print(f"2. duplicate n-grams, {len(long_docs)} docs with >= {stage.min_chars} chars")
    words = [segment(d.text) for _, d in long_docs]
    for n, thr in FINEWEB2_DUP.items():
        word_frac = np.array(
            [gopher_dup_chars(w, n) / len(d.text) for w, (_, d) in zip(words, long_docs)]
        )
        char_frac = np.array([d.stats[f"dup_ngram_frac_{n}"] for _, d in long_docs])
        k = int((word_frac > thr).sum())
        match = float(np.sort(char_frac)[::-1][k]) if k else float("nan")
        both = int(((word_frac > thr) & (char_frac > match)).sum())
        print(
            f"   n={n:2d}: FineWeb-2 word thr {thr} flags {k} ({k / len(long_docs):.2%}); "
            f"char thr {match:.3f} flags the same number; overlap {both}; "
            f"default {getattr(stage, f'max_dup_{n}gram_frac')}"
        )

    print(f"3. per source, docs >= {stage.min_chars} chars: 99th percentile / max")
    by_src = collections.defaultdict(list)
    for src, d in long_docs:
        by_src[src].append(d.stats)
    for key in ("symbol_ratio", "digit_ratio", "url_ratio", "max_char_run"):
        param = key if key == "max_char_run" else f"max_{key}"
        print(f"   {key} (default max {getattr(stage, param)})")
        for src, sts in by_src.items():
            v = np.array([s[key] for s in sts])
            print(
                f"      {src[:28]:28s} n={v.size:5d} p99={np.quantile(v, 0.99):8.3f} "
                f"max={v.max():8.3f}"
            )

    print("4. dropped by the defaults (share of each source; top reasons)")
    reasons = collections.defaultdict(collections.Counter)
    for (src, _), d in zip(rows, docs):
        reasons[src][d.reason or "kept"] += 1
    for src, c in reasons.items():
        total = sum(c.values())
        top = ", ".join(f"{r} {v / total:.1%}" for r, v in c.most_common(4))
        print(f"   {src[:28]:28s} {total:6d}: {top}")


if __name__ == "__main__":
    main()
