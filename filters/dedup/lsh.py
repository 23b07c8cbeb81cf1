"""LSH banding for MinHash: choose bands × rows, hash bands into buckets, pair bucket members.

Two documents with Jaccard ``s`` share at least one of ``b`` buckets of ``r`` rows with
probability ``1 - (1 - s**r)**b`` (the S-curve). :func:`optimal_bands` picks (b, r) with
``b * r <= num_perm`` minimizing the weighted area of false positives below the threshold plus
false negatives above it: datasketch's ``_optimal_param``, integrated with the trapezoid rule
instead of scipy (same choices: 0.7/256 → 25 × 10, 0.7/128 → 14 × 9).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from filters.dedup.shingles import fmix64

_GRID = 1001  # integration points per [0, t] or [t, 1]
_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz


@lru_cache(maxsize=64)
def optimal_bands(
    threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) minimizing fp_weight * P(false positive) + fn_weight * P(false negative)."""
    lo = np.linspace(0.0, threshold, _GRID)
    hi = np.linspace(threshold, 1.0, _GRID)
    best, best_err = (1, 1), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = _trapezoid(1 - (1 - lo**r) ** b, lo)
            fn = _trapezoid((1 - hi**r) ** b, hi)
            err = fp_weight * fp + fn_weight * fn
            if err < best_err:
                best, best_err = (b, r), err
    return best


def collision_probability(s: float, bands: int, rows: int) -> float:
    """P(two documents with Jaccard ``s`` share at least one bucket)."""
    return 1.0 - (1.0 - s**rows) ** bands


def band_hashes(sig: np.ndarray, bands: int, rows: int, seed: int) -> np.ndarray:
    """(ndocs, bands) uint64 bucket ids: a mixed hash of each band's ``rows`` values and index.

    The band index is part of the hash, so one bucket id never mixes two bands.
    """
    rng = np.random.default_rng(seed ^ 0xBA4D)
    mult = rng.integers(0, 2**62, size=rows + 1, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    # (rows, ndocs, bands): each row position of every band is one contiguous plane.
    v = sig[:, : bands * rows].reshape(len(sig), bands, rows)
    v = np.ascontiguousarray(v.transpose(2, 0, 1))
    with np.errstate(over="ignore"):
        h = np.empty((len(sig), bands), dtype=np.uint64)
        h[:] = np.arange(bands, dtype=np.uint64) * mult[rows]
        for k in range(rows):
            h += v[k].astype(np.uint64) * mult[k]
    return fmix64(h)


def bucket_pairs(
    bucket: np.ndarray, key: np.ndarray, max_group: int
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Candidate pairs among rows that share a bucket.

    Returns ``(left, right, big)``: row indices of every pair (left's key < right's key) in
    buckets of 2..``max_group`` rows, and, for larger buckets, their row indices in key order
    (verified greedily by the caller, to stay linear in the bucket size).
    """
    order = np.lexsort((key, bucket))
    b = bucket[order]
    first = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    sizes = np.diff(np.r_[first, len(b)])
    small = (sizes >= 2) & (sizes <= max_group)
    big = [order[f : f + n] for f, n in zip(first[sizes > max_group], sizes[sizes > max_group])]
    g_first, g_size = first[small], sizes[small]
    # Each member at local index i pairs with the g_size - 1 - i members after it.
    member = np.repeat(g_first, g_size) + _local_index(g_size)
    later = np.repeat(g_size, g_size) - 1 - _local_index(g_size)
    left = np.repeat(member, later)
    right = left + 1 + _local_index(later)
    return order[left], order[right], big


def _local_index(sizes: np.ndarray) -> np.ndarray:
    """0..n-1 for each n in ``sizes``, concatenated."""
    total = int(sizes.sum())
    starts = np.cumsum(sizes) - sizes
    return np.arange(total) - np.repeat(starts, sizes)
