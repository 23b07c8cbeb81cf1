"""MinHash implementations compared: throughput on the DEV web data and Jaccard accuracy.

Every implementation computes 256-permutation signatures of character 5-gram shingles:
  * datasketch  ``MinHash.bulk`` (sha1 per shingle, numpy permutations per document): baseline
  * rensa       ``RMinHash.digests_from_token_sets`` (Rust; shingle strings built in Python)
  * rensa+np    our numpy shingle hashes → ``RMinHash.digest_matrix_from_flat_token_hashes``
                (one Rust call), plus ``to_rows()``: the only way to read the values back
  * numpy+xxh   ``xxhash.xxh3_64_intdigest`` per shingle → our numpy permutations
  * numpy       ``filters.dedup`` (vectorized shingle hashes + numpy permutations): chosen

Throughput: median seconds over ``--reps`` runs on all documents (ratio vs datasketch).
Accuracy: on 1,500 edited pairs of long documents (``benchmarks/dedup_pairs.py``), the error of
each implementation's Jaccard estimate against the exact 5-gram Jaccard, for 5 hash seeds:
median |bias| and median RMSE, against the RMSE of an ideal MinHash (sqrt(J(1-J)/256)). One
seed's hash functions are shared by all pairs, so its bias is a seed effect (±0.003 for every
implementation here), not a property of the family.

    python3 benchmarks/minhash_impls.py [--data DIR] [--reps 3]

``--data DIR``: the DEV data folder (default ``../shared/data`` beside the repository).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import xxhash

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dedup_pairs import load_docs, make_pairs, normalize
from benchmarks.dev_data import add_data_argument, data_dir
from filters.dedup.shingles import char_tokens, ngram_hashes
from filters.dedup.signature import minhash

K, N, SEED = 256, 5, 42


def shingle_strings(texts: list[str]) -> list[list[str]]:
    return [[t[i : i + N] for i in range(max(len(t) - N + 1, 1))] for t in texts]


def datasketch_bulk(texts: list[str], seed: int = SEED) -> np.ndarray:
    from datasketch import MinHash

    sh = [[s.encode() for s in doc] for doc in shingle_strings(texts)]
    return np.array([m.hashvalues for m in MinHash.bulk(sh, num_perm=K, seed=seed)], np.uint32)


def rensa_tokens(texts: list[str], seed: int = SEED) -> np.ndarray:
    from rensa import RMinHash

    return np.array(RMinHash.digests_from_token_sets(shingle_strings(texts), K, seed), np.uint32)


def rensa_matrix(texts: list[str], seed: int = SEED) -> np.ndarray:
    from rensa import RMinHash

    h, off = ngram_hashes(*char_tokens(texts), N)
    m = RMinHash.digest_matrix_from_flat_token_hashes(h, off.astype(np.uint64), K, seed)
    return np.array(m.to_rows(), np.uint32)


def numpy_xxhash(texts: list[str], seed: int = SEED) -> np.ndarray:
    f = xxhash.xxh3_64_intdigest
    docs = shingle_strings(texts)
    h = np.fromiter((f(s.encode()) for d in docs for s in d), np.uint64)
    off = np.zeros(len(docs) + 1, np.int64)
    np.cumsum([len(d) for d in docs], out=off[1:])
    return minhash(h, off, K, seed)


def numpy_vectorized(texts: list[str], seed: int = SEED) -> np.ndarray:
    h, off = ngram_hashes(*char_tokens(texts), N)
    return minhash(h, off, K, seed)


IMPLS: dict[str, Callable[[list[str], int], np.ndarray]] = {
    "datasketch": datasketch_bulk,
    "rensa": rensa_tokens,
    "rensa+np": rensa_matrix,
    "numpy+xxh": numpy_xxhash,
    "numpy": numpy_vectorized,
}


def main() -> None:
    ap = argparse.ArgumentParser()
    add_data_argument(ap)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    data_dir(args.data, "web")
    texts = []
    for path in sorted((args.data / "web").glob("*.jsonl")):
        with path.open("rb") as fh:
            texts += [t for t in (orjson.loads(line)["text"] for line in fh) if isinstance(t, str)]
    texts = [normalize(t) for t in texts]
    print(
        f"{len(texts)} docs, {sum(map(len, texts)) / 1e6:.2f} M chars; {K} permutations, "
        f"char {N}-grams; median of {args.reps} runs"
    )
    base = None
    for name, fn in IMPLS.items():
        times = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            fn(texts, SEED)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        base = base or med
        print(f"  {name:11s} {med:7.2f} s  {len(texts) / med:9.0f} docs/s  {base / med:5.1f}x")

    pairs = make_pairs(load_docs(args.data / "web"), n_edit=1500, n_unrelated=0, n_shared=0)
    j = np.array([p.j for p in pairs])
    flat = [normalize(t) for p in pairs for t in (p.x, p.y)]
    ideal = np.sqrt(np.mean(j * (1 - j) / K))
    print(
        f"\nJaccard estimate vs exact on {len(pairs)} edited pairs (J mean {j.mean():.2f}); "
        f"ideal MinHash RMSE {ideal:.4f}"
    )
    for name, fn in IMPLS.items():
        bias, rmse = [], []
        for seed in range(1, 6):
            sig = fn(flat, seed)
            err = (sig[0::2] == sig[1::2]).mean(axis=1) - j
            bias.append(abs(err.mean()))
            rmse.append(np.sqrt((err**2).mean()))
        print(
            f"  {name:11s} |bias| {statistics.median(bias):.4f}  "
            f"RMSE {statistics.median(rmse):.4f}  ({rmse_ratio(rmse, ideal):.2f}x ideal)"
        )


def rmse_ratio(rmse: list[float], ideal: float) -> float:
    return statistics.median(rmse) / ideal


if __name__ == "__main__":
    main()
