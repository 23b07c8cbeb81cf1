"""Which main-text extractor to use for Chinese pages, and does charset decoding get it right.

Corpus: ``html_extract_pages.build()`` (real article text in realistic Chinese page templates,
UTF-8 / GBK / GB18030 / Big5, labelled in the header, in a meta tag, mislabelled or unlabelled).

Figures printed:
* decoding: share of pages whose :func:`decode_html` output equals the page as written, per
  labelling scenario;
* extraction, per extractor: median precision / recall / F1 over pages of character bigrams
  (multisets, whitespace removed) of the extracted text against the article paragraphs; the
  headline is neutral (its bigrams are removed once from the extract before scoring, since
  some extractors keep it and the reference has none); median F1 per template; and speed in
  pages per CPU-second of this process (median of ``RUNS`` passes, interleaved across
  extractors; CPU time rather than wall time because the machine is shared), with the ratio
  to the selectolax baseline measured in the same run.

Run: ``python3 benchmarks/html_extract_quality.py [--data DIR] [--per-source 40]`` (DEV data,
default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import trafilatura  # noqa: E402
from dev_data import add_data_argument, data_dir  # noqa: E402
from html_extract_pages import Page, build  # noqa: E402
from resiliparse.extract.html2text import extract_plain_text  # noqa: E402
from selectolax.lexbor import LexborHTMLParser  # noqa: E402

from pipeline.io.html import decode_html, extract_fast, extract_main_text  # noqa: E402

RUNS = 5


def _selectolax(html: str) -> str:
    tree = LexborHTMLParser(html)
    for node in tree.css("script, style, noscript"):
        node.decompose()
    return tree.body.text(separator="\n") if tree.body else ""


def _trafilatura(**kw: bool) -> Callable[[str], str]:
    def run(html: str) -> str:
        return trafilatura.extract(html, include_comments=False, **kw) or ""

    return run


EXTRACTORS: dict[str, Callable[[str], str]] = {
    "zhcurate extract_main_text": extract_main_text,
    "zhcurate extract_fast (resiliparse)": extract_fast,
    "resiliparse main_content (comments=True)": lambda h: extract_plain_text(
        h, preserve_formatting=True, main_content=True
    ),
    "trafilatura default": _trafilatura(),
    "trafilatura favor_recall": _trafilatura(favor_recall=True),
    "trafilatura favor_precision": _trafilatura(favor_precision=True),
    "trafilatura fast (no fallback)": _trafilatura(fast=True),
    "trafilatura favor_precision fast": _trafilatura(favor_precision=True, fast=True),
    "selectolax body text (baseline)": _selectolax,
}


def bigrams(text: str) -> Counter[str]:
    s = "".join(text.split())
    return Counter(s[i : i + 2] for i in range(len(s) - 1))


def score(extracted: str, page: Page) -> tuple[float, float, float]:
    """Precision, recall, F1 of bigram multisets; the headline's bigrams are neutral."""
    got, ref = bigrams(extracted), bigrams("\n".join(page.paras))
    got.subtract(bigrams(page.title))
    got = +got
    hit = sum((got & ref).values())
    p = hit / max(sum(got.values()), 1)
    r = hit / max(sum(ref.values()), 1)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def decoding_report(pages: list[Page]) -> None:
    by: dict[str, list[bool]] = {}
    for pg in pages:
        by.setdefault(pg.scenario, []).append(decode_html(pg.body, pg.http_charset).text == pg.html)
    total = sum(sum(v) for v in by.values())
    print(f"decoding: {total}/{len(pages)} pages exact")
    for scen, oks in sorted(by.items()):
        print(f"  {scen:22s} {sum(oks):3d}/{len(oks)}")


def cpu_seconds(fn: Callable[[str], str], pages: list[Page]) -> float:
    t0 = time.process_time()
    for pg in pages:
        fn(pg.html)
    return time.process_time() - t0


def extraction_report(pages: list[Page]) -> None:
    # Timed passes interleave the extractors, so load from other jobs hits them alike.
    times: dict[str, list[float]] = {name: [] for name in EXTRACTORS}
    for _ in range(RUNS):
        for name, fn in EXTRACTORS.items():
            times[name].append(cpu_seconds(fn, pages))
    rows = []
    for name, fn in EXTRACTORS.items():
        outs = [fn(pg.html) for pg in pages]
        scores = [score(o, pg) for o, pg in zip(outs, pages)]
        per_tpl = {
            t: statistics.median(s[2] for s, pg in zip(scores, pages) if pg.template == t)
            for t in sorted({pg.template for pg in pages})
        }
        f1s = sorted(s[2] for s in scores)
        rows.append(
            (
                name,
                *(statistics.median(s[k] for s in scores) for k in range(3)),
                f1s[len(f1s) // 10],
                sum(not o.strip() for o in outs),
                len(pages) / statistics.median(times[name]),
                per_tpl,
            )
        )
    base = rows[-1][6]
    print(
        f"\nextraction over {len(pages)} pages (median P/R/F1, 10th-percentile F1, empty outputs)"
    )
    print(
        f"{'extractor':42s} {'P':>6s} {'R':>6s} {'F1':>6s} {'F1p10':>6s} {'empty':>5s} "
        f"{'pages/s':>8s} {'x base':>7s}"
    )
    for name, p, r, f, f10, empty, speed, _ in rows:
        print(
            f"{name:42s} {p:6.3f} {r:6.3f} {f:6.3f} {f10:6.3f} {empty:5d} {speed:8.1f} "
            f"{speed / base:7.2f}"
        )
    print("\nmedian F1 per template")
    tpls = list(rows[0][7])
    print(f"{'extractor':42s} " + " ".join(f"{t:>7s}" for t in tpls))
    for name, *_, per in rows:
        print(f"{name:42s} " + " ".join(f"{per[t]:7.3f}" for t in tpls))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(ap)
    ap.add_argument("--per-source", type=int, default=40, help="articles per source")
    args = ap.parse_args()
    pages = build(data_dir(args.data, "web", "lexicons"), args.per_source)
    sizes = sorted(len(p.body) for p in pages)
    print(
        f"{len(pages)} pages, median {sizes[len(sizes) // 2] / 1024:.1f} kB; "
        f"templates {dict(Counter(p.template for p in pages))}"
    )
    decoding_report(pages)
    extraction_report(pages)


if __name__ == "__main__":
    main()
