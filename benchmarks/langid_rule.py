"""``langid`` on the DEV web data: what the Han-script rule changes, script detection, speed.

Prints per source (plus the English side of news_commentary, ``meta.en``, as "news_en"):
the share fastText alone labels zh, the share the stage keeps (fastText + Han-script rule +
``min_score``), and how many documents the rule rescued; then script labels on DRCD
(Traditional) and cmrc2018 (Simplified); then stage throughput (median of ``--reps``).

    python3 benchmarks/langid_rule.py [--data DIR] [--reps 3]   # DEV data, default ../shared/data
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dev_data import add_data_argument, data_dir
from filters.langid import LangId
from pipeline.record import Doc


def load(web: Path) -> list[tuple[str, str]]:
    rows = []
    for path in sorted(web.glob("*.jsonl")):
        with path.open("rb") as fh:
            for line in fh:
                rec = orjson.loads(line)
                rows.append((path.stem, rec["text"]))
                if "en" in rec.get("meta", {}):
                    rows.append(("news_en", rec["meta"]["en"]))
    return rows


def run(stage: LangId, texts: list[str], batch: int = 1000) -> list[Doc]:
    docs = [Doc(id=str(i), text=t) for i, t in enumerate(texts)]
    for i in range(0, len(docs), batch):
        stage.process(docs[i : i + batch])
    return docs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    add_data_argument(ap)
    args = ap.parse_args()
    rows = load(data_dir(args.data, "web") / "web")
    stage = LangId()
    t0 = time.perf_counter()
    stage.setup()
    print(f"setup (model + OpenCC script table): {time.perf_counter() - t0:.2f} s")
    docs = run(stage, [t for _, t in rows])

    print(f"{'source':30s} {'docs':>6s} {'ft zh':>7s} {'kept':>7s} {'rescued':>8s}")
    groups = collections.defaultdict(list)
    for (src, _), doc in zip(rows, docs):
        groups[src].append(doc)
    for src, ds in groups.items():
        ft = sum(d.stats["ft_lang"] == "zh" for d in ds) / len(ds)
        kept = sum(d.reason is None for d in ds) / len(ds)
        rescued = sum(d.reason is None and d.stats["ft_lang"] != "zh" for d in ds)
        print(f"{src[:30]:30s} {len(ds):6d} {ft:7.1%} {kept:7.1%} {rescued:8d}")
    en = groups["news_en"]
    print(f"news_en: max cjk_share {max(d.stats['cjk_share'] for d in en)}")

    for src in ("wiki_zh_tw_drcd_paragraphs", "wiki_zh_cmrc2018_paragraphs"):
        print(src, dict(collections.Counter(d.stats["script"] for d in groups[src])))

    texts = [t for _, t in rows]
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        run(stage, texts)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(
        f"langid, 1 process: median {med:.2f} s, {len(texts) / med:,.0f} records/s (runs: "
        + ", ".join(f"{t:.2f}" for t in times)
        + ")"
    )


if __name__ == "__main__":
    main()
