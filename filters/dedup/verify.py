"""Reduce step of MinHash dedup: band-bucket candidates → verified edges between row keys."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from filters.dedup.lsh import bucket_pairs
from filters.dedup.signature import jaccard_estimate

#: Candidate pairs verified per numpy batch (bounds the gathered-signature temporaries).
BATCH = 1 << 16


def signature_matrix(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """(rows, width) uint8 view of a fixed-size-binary column (no copy for one chunk)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    width = arr.type.byte_width
    buf = np.frombuffer(arr.buffers()[1], dtype=np.uint8)
    return buf[arr.offset * width : (arr.offset + len(arr)) * width].reshape(len(arr), width)


def edges(
    rows: pa.Table, threshold: float, bits: int, max_group: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairs (a < b) of row keys that share a bucket and whose estimate ≥ threshold."""
    if rows.num_rows == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    key = rows["key"].to_numpy()
    sig = signature_matrix(rows["sig"])
    left, right, big = bucket_pairs(rows["bucket"].to_numpy(), key, max_group)
    # The same pair meets in several bands: verify it once.
    first = _first_of_each(key[left], key[right])
    left, right = left[first], right[first]
    ok = np.zeros(len(left), dtype=bool)
    for lo in range(0, len(left), BATCH):
        sl = slice(lo, lo + BATCH)
        ok[sl] = jaccard_estimate(sig[left[sl]], sig[right[sl]], bits) >= threshold
    a, b = [key[left[ok]]], [key[right[ok]]]
    for members in big:
        ga, gb = _greedy(members, sig, threshold, bits)
        a.append(key[ga])
        b.append(key[gb])
    return _distinct(np.concatenate(a), np.concatenate(b))


def _greedy(
    members: np.ndarray, sig: np.ndarray, threshold: float, bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """Edges in one large bucket (members in key order). Members with identical signatures
    are linked to the first of them at once; then each distinct signature is linked to every
    earlier anchor it matches, or becomes an anchor. Linear in the bucket size plus distinct
    signatures times anchors (near-duplicate groups sharing this bucket)."""
    rows = np.ascontiguousarray(sig[members])
    _, first, inverse = np.unique(
        rows.view(f"V{rows.shape[1]}").ravel(), return_index=True, return_inverse=True
    )
    twin = first[inverse] != np.arange(len(members))
    ga, gb = [members[first[inverse]][twin]], [members[twin]]
    distinct = np.sort(first)
    anchors = [distinct[0]]
    for i in distinct[1:]:
        other = np.broadcast_to(rows[i], (len(anchors), rows.shape[1]))
        est = jaccard_estimate(rows[anchors], other, bits)
        hits = np.flatnonzero(est >= threshold)
        if len(hits):
            ga.append(members[np.array(anchors)[hits]])
            gb.append(np.full(len(hits), members[i]))
        else:
            anchors.append(i)
    return np.concatenate(ga).astype(np.int64), np.concatenate(gb).astype(np.int64)


def _first_of_each(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Indices of one occurrence of each distinct (a, b) pair, in (a, b) order."""
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    new = np.ones(len(a), dtype=bool)
    new[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return order[new]


def _distinct(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct (a, b) pairs with a < b."""
    a, b = np.minimum(a, b), np.maximum(a, b)
    first = _first_of_each(a, b)
    return a[first], b[first]
