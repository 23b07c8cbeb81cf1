"""Quality of ``dedup_minhash`` on near-duplicate pairs with known (exact) character 5-gram Jaccard.

Pairs come from long DEV documents (news, wiki, CC web; see ``benchmarks/dedup_pairs.py``):
each original is edited once (substitutions, insertions/deletions, sentence reordering, added
boilerplate lines, truncation, mixed), plus unrelated pairs and hard negatives (two different
short texts sharing one boilerplate block). Originals that are near-duplicates of each other
(stage at threshold 0.3) are left out, so a pair is merged only through its own similarity.
All pairs go through the stage's four phases as one corpus (4 shards); a pair counts as merged
when both documents end in the same cluster.

Prints (median over ``--seeds`` hash seeds):
  * recall   = merged / pairs with true J ≥ 0.8 (target ≥ 0.95), at the default threshold
  * FP rate  = merged / pairs with true J ≤ 0.5 (target ≤ 0.5 %)
  * merge rate per J bin; precision/recall where "duplicate" means true J ≥ t, for t 0.5..0.9
  * the same at the default threshold for verify_bits 1..32 and num_perm 128/256
  * PAWS-X (adversarial paraphrases) and Sohu 2021 pairs, scored pair by pair (information)

    python3 benchmarks/dedup_quality.py [--data DIR] [--seeds 3]

``--data DIR``: the DEV data folder (default ``../shared/data`` beside the repository).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dedup_pairs import Pair, jaccard, load_docs, make_pairs
from benchmarks.dev_data import add_data_argument, data_dir
from filters.dedup.lsh import band_hashes
from filters.dedup.minhash import DedupMinhash
from filters.dedup.signature import jaccard_estimate, pack_bits
from pipeline.inline import run_global
from pipeline.record import Doc

BINS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


def merged_pairs(stage: DedupMinhash, pairs: list[Pair], shards: int = 4) -> np.ndarray:
    """Run the phases on all pair documents; True where a pair's two documents share a cluster."""
    texts = [t for p in pairs for t in (p.x, p.y)]
    per = -(-len(texts) // shards)
    docs = [
        [Doc(id=str(i), text=t) for i, t in enumerate(texts[s * per : (s + 1) * per])]
        for s in range(shards)
    ]
    state = run_global(stage, docs)
    root = dict(zip(state["key"].to_pylist(), state["keeper"].to_pylist()))
    keys = [(s << 32) + r for s in range(shards) for r in range(len(docs[s]))]
    roots = np.array([root.get(k, k) for k in keys])
    return roots[0::2] == roots[1::2]


def pair_decisions(stage: DedupMinhash, x: list[str], y: list[str]) -> np.ndarray:
    """What the stage would decide for each pair alone: a shared band bucket and a verified
    estimate ≥ threshold (used where pairs share texts, e.g. PAWS-X)."""
    b, r = stage.band_shape()
    sx, sy = stage.signatures(x), stage.signatures(y)
    collide = (band_hashes(sx, b, r, stage.seed) == band_hashes(sy, b, r, stage.seed)).any(1)
    bits = stage.verify_bits
    return collide & (
        jaccard_estimate(pack_bits(sx, bits), pack_bits(sy, bits), bits) >= stage.threshold
    )


def rates(j: np.ndarray, merged: np.ndarray) -> tuple[float, float]:
    return float(merged[j >= 0.8].mean()), float(merged[j <= 0.5].mean())


def over_seeds(make: Callable[[int], DedupMinhash], pairs: list[Pair], seeds: int) -> np.ndarray:
    """(seeds, pairs) merge decisions."""
    return np.array([merged_pairs(make(seed), pairs) for seed in range(1, seeds + 1)])


def report_default(pairs: list[Pair], j: np.ndarray, seeds: int) -> None:
    runs = over_seeds(lambda s: DedupMinhash(seed=s), pairs, seeds)
    rec, fpr = zip(*(rates(j, m) for m in runs))
    print(f"\ndefault stage (threshold 0.7, 256 perm, 25x10 bands, 2-bit verify), {seeds} seeds:")
    print(
        f"  recall J>=0.8: {statistics.median(rec):.4f} (n={int((j >= 0.8).sum())}, "
        f"target >= 0.95)   FP rate J<=0.5: {statistics.median(fpr):.4%} "
        f"(n={int((j <= 0.5).sum())}, target <= 0.5%)"
    )
    print(
        "  merge rate by true J:  "
        + "  ".join(
            f"[{lo:.1f},{min(hi, 1):.1f}) {np.median(runs[:, (j >= lo) & (j < hi)].mean(1)):.3f}"
            f" n={int(((j >= lo) & (j < hi)).sum())}"
            for lo, hi in zip(BINS, BINS[1:])
        )
    )
    print("  by edit kind: n, median true J, merged (first seed)")
    for kind in sorted({p.kind for p in pairs}):
        sel = np.array([p.kind == kind for p in pairs])
        print(
            f"    {kind:18s} {int(sel.sum()):4d}  {np.median(j[sel]):.2f}  "
            f"{runs[0][sel].mean():.3f}"
        )


def report_curve(pairs: list[Pair], j: np.ndarray, seeds: int) -> None:
    print("\nthreshold sweep (duplicate := true J >= t; bands x rows from the optimizer):")
    print("  t     bands x rows  precision  recall   (median over seeds)")
    for t in (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9):
        runs = over_seeds(lambda s, t=t: DedupMinhash(threshold=t, seed=s), pairs, seeds)
        truth = j >= t
        prec = [m[truth].sum() / max(m.sum(), 1) for m in runs]
        rec = [m[truth].mean() for m in runs]
        b, r = DedupMinhash(threshold=t).band_shape()
        print(
            f"  {t:.2f}  {b:3d} x {r:<3d}     {statistics.median(prec):.4f}     "
            f"{statistics.median(rec):.4f}"
        )


def report_variants(pairs: list[Pair], j: np.ndarray, seeds: int) -> None:
    print(
        "\nvariants at threshold 0.7: recall J>=0.8 | FP J<=0.5 | wrong side of 0.7 for "
        "J in [0.6,0.8] | bytes per band row"
    )
    border = (j >= 0.6) & (j < 0.8)
    for perm, bits in ((128, 4), (256, 1), (256, 2), (256, 4), (256, 8), (256, 32)):
        runs = over_seeds(
            lambda s, p=perm, v=bits: DedupMinhash(num_perm=p, verify_bits=v, seed=s), pairs, seeds
        )
        rec, fpr = zip(*(rates(j, m) for m in runs))
        wrong = [(m[border] != (j[border] >= 0.7)).mean() for m in runs]
        b, _ = DedupMinhash(num_perm=perm).band_shape()
        print(
            f"  num_perm {perm} bits {bits:2d}: {statistics.median(rec):.4f} | "
            f"{statistics.median(fpr):.4%} | {statistics.median(wrong):.3f} | "
            f"{16 + 4 + perm * bits // 8} B x {b} bands"
        )


def report_pairs_file(path: Path, positive: Callable[[int], bool]) -> None:
    rows = [orjson.loads(line) for line in path.open("rb")]
    x, y = [r["text1"] for r in rows], [r["text2"] for r in rows]
    j = np.array([jaccard(a, b) for a, b in zip(x, y)])
    pos = np.array([positive(r["label"]) for r in rows])
    merged = pair_decisions(DedupMinhash(), x, y)
    print(f"\n{path.name}: {len(rows)} pairs, scored pair by pair at the default stage")
    for name, sel in (("positive", pos), ("negative", ~pos)):
        print(
            f"  {name:8s} n={int(sel.sum()):5d}  true J median {np.median(j[sel]):.3f} "
            f"p90 {np.quantile(j[sel], 0.9):.3f}  merged {merged[sel].mean():.4f}  "
            f"(J>=0.7: {(j[sel] >= 0.7).mean():.4f})"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    add_data_argument(ap)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    data_dir(args.data, "web", "dedup/pawsx_zh.jsonl", "dedup/sohu2021_text_matching.jsonl")
    docs = load_docs(args.data / "web")
    screen = [[Doc(id=str(i), text=t) for i, t in enumerate(docs)]]
    run_global(DedupMinhash(threshold=0.3), screen)
    docs = [d.text for d in screen[0] if d.stats["dup_cluster_size"] == 1]
    pairs = make_pairs(docs, n_edit=2400, n_unrelated=300, n_shared=300)
    j = np.array([p.j for p in pairs])
    print(
        f"{len(docs)} distinct long documents; {len(pairs)} pairs; true J quartiles "
        f"{np.quantile(j, [0.25, 0.5, 0.75]).round(3).tolist()}"
    )
    report_default(pairs, j, args.seeds)
    report_curve(pairs, j, args.seeds)
    report_variants(pairs, j, args.seeds)
    report_pairs_file(args.data / "dedup/pawsx_zh.jsonl", lambda label: label == 1)
    report_pairs_file(args.data / "dedup/sohu2021_text_matching.jsonl", lambda label: label >= 4)


if __name__ == "__main__":
    main()
