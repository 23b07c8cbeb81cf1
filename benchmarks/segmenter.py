"""jieba vs rjieba on the DEV web data: throughput and segmentation agreement.

Prints, per backend, the median over ``--reps`` runs of the time to segment every document
(start-up measured separately), and the agreement of rjieba with jieba:
  * doc agreement   = documents whose token lists are identical / all documents
  * token agreement = tokens with the same (start, end) character span in both outputs, over
                      max(jieba tokens, rjieba tokens), both summed over documents.
  * CJK-token agreement = the same, over jieba tokens that contain a CJK character (the
                      backends split Latin/digit runs such as URLs differently: "t.cn").

    python3 benchmarks/segmenter.py [--data DIR] [--reps 3]

``--data DIR``: the DEV data folder (default ``../shared/data`` beside the repository).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dev_data import add_data_argument, data_dir
from filters.zh import CJK_RE


def load_texts(folder: Path) -> list[str]:
    texts = []
    for path in sorted(folder.glob("*.jsonl")):
        with path.open("rb") as fh:
            texts.extend(orjson.loads(line)["text"] for line in fh if line.strip())
    return texts


def spans_list(tokens: list[str]) -> list[tuple[int, int]]:
    out, pos = [], 0
    for tok in tokens:
        out.append((pos, pos + len(tok)))
        pos += len(tok)
    return out


def spans(tokens: list[str]) -> set[tuple[int, int]]:
    return set(spans_list(tokens))


def main() -> None:
    ap = argparse.ArgumentParser()
    add_data_argument(ap)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    texts = load_texts(data_dir(args.data, "web") / "web")
    n_chars = sum(map(len, texts))
    print(f"{len(texts)} docs, {n_chars / 1e6:.1f} M chars")

    import jieba
    import rjieba

    jieba.setLogLevel(logging.WARNING)
    t0 = time.perf_counter()
    jt = jieba.Tokenizer()
    jt.initialize()
    t_jload = time.perf_counter() - t0
    t0 = time.perf_counter()
    rj = rjieba.Jieba()
    t_rload = time.perf_counter() - t0

    cuts = {
        "jieba": lambda s: jt.lcut(s, HMM=True),
        "rjieba": lambda s: rj.cut(s, True),
    }
    results: dict[str, list[list[str]]] = {}
    times: dict[str, list[float]] = {k: [] for k in cuts}
    for _ in range(args.reps):  # interleave backends so machine noise hits both
        for name, cut in cuts.items():
            t0 = time.perf_counter()
            results[name] = [cut(s) for s in texts]
            times[name].append(time.perf_counter() - t0)

    print(f"load: jieba {t_jload:.2f} s, rjieba {t_rload:.2f} s")
    med = {k: statistics.median(v) for k, v in times.items()}
    for name in cuts:
        print(
            f"{name:7s} median {med[name]:.2f} s  {len(texts) / med[name]:,.0f} docs/s  "
            f"{n_chars / med[name] / 1e6:.2f} M chars/s  (runs: "
            + ", ".join(f"{t:.2f}" for t in times[name])
            + ")"
        )
    print(f"speed-up rjieba vs jieba: {med['jieba'] / med['rjieba']:.1f}x")

    same_docs = shared = total = cjk_shared = cjk_total = 0
    for a, b in zip(results["jieba"], results["rjieba"]):
        same_docs += a == b
        sa, sb = spans(a), spans(b)
        shared += len(sa & sb)
        total += max(len(sa), len(sb))
        cjk = {sp for sp, tok in zip(spans_list(a), a) if CJK_RE.search(tok)}
        cjk_shared += len(cjk & sb)
        cjk_total += len(cjk)
    print(
        f"doc agreement {same_docs / len(texts):.4%}  token agreement {shared / total:.4%}  "
        f"CJK-token agreement {cjk_shared / cjk_total:.4%} (jieba tokens with a CJK char "
        "whose span rjieba also produces)"
    )


if __name__ == "__main__":
    main()
