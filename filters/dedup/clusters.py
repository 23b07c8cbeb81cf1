"""What both dedup stages share: row keys, duplicate clusters, the state table and its lookup.

A row key is ``shard << 32 | row`` (int64), so sorting keys is sorting by (shard, row), i.e.
input order, and the smallest key of a cluster is its deterministic keeper.

The state written by ``finalize`` holds only documents in clusters of two or more:
``key`` (int64), ``keeper`` (int64: the cluster's smallest key) and ``cluster_size`` (int32),
sorted by key. Every other document is unique (cluster size 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pipeline.record import Doc

STATE_SCHEMA = pa.schema(
    [("key", pa.int64()), ("keeper", pa.int64()), ("cluster_size", pa.int32())]
)
ROW_BITS = 32


def row_keys(shard: int, n: int) -> np.ndarray:
    """Keys of rows 0..n-1 of ``shard``."""
    return (np.int64(shard) << np.int64(ROW_BITS)) + np.arange(n, dtype=np.int64)


def connected_components(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union-find over edges (a[i], b[i]) of int64 keys, vectorized.

    Returns ``(nodes, root)``: the sorted distinct keys and, for each, the smallest key of
    its component. Min-label hooking plus pointer jumping: every round each unfinished
    component merges with a neighbour, so rounds grow with the log of the largest cluster;
    memory grows with the number of edges (duplicates), not with the corpus.
    """
    nodes, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    u, v = inv[: len(a)], inv[len(a) :]
    label = np.arange(len(nodes))
    while True:
        lu, lv = label[u], label[v]
        differ = lu != lv
        if not differ.any():
            break
        lo, hi = np.minimum(lu, lv)[differ], np.maximum(lu, lv)[differ]
        np.minimum.at(label, hi, lo)
        while True:  # pointer jumping until every node points at a root
            jumped = label[label]
            if (jumped == label).all():
                break
            label = jumped
    return nodes, nodes[label]


def state_table(keys: np.ndarray, keepers: np.ndarray) -> pa.Table:
    """State rows for documents in clusters of two or more, from (key, keeper) per document."""
    order = np.argsort(keys, kind="stable")
    keys, keepers = keys[order], keepers[order]
    _, inv, counts = np.unique(keepers, return_inverse=True, return_counts=True)
    size = counts[inv].astype(np.int32)
    multi = size >= 2
    return pa.table([keys[multi], keepers[multi], size[multi]], schema=STATE_SCHEMA)


@dataclass(frozen=True)
class ShardLookup:
    """Per shard: sorted rows of its documents in clusters of two or more, whether each is
    its cluster's keeper, and the cluster size (numpy arrays: ~13 bytes per row)."""

    shards: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]

    @classmethod
    def from_state(cls, state: pa.Table) -> ShardLookup:
        key = state["key"].to_numpy()
        order = np.argsort(key, kind="stable")
        key = key[order]
        keep = key == state["keeper"].to_numpy()[order]
        size = state["cluster_size"].to_numpy()[order]
        shard = key >> ROW_BITS
        cuts = np.flatnonzero(np.r_[True, shard[1:] != shard[:-1]]) if len(key) else []
        bounds = zip(cuts, [*cuts[1:], len(key)])
        return cls(
            {
                int(shard[lo]): (key[lo:hi] - (shard[lo] << ROW_BITS), keep[lo:hi], size[lo:hi])
                for lo, hi in bounds
            }
        )

    def apply(self, docs: list[Doc], shard: int, rule: str) -> list[Doc]:
        """Set ``dup_cluster_size`` on every doc; reject non-keepers with ``rule``."""
        keep = np.ones(len(docs), dtype=bool)
        size = np.ones(len(docs), dtype=np.int64)
        if shard in self.shards:
            rows, k, s = self.shards[shard]
            keep[rows] = k
            size[rows] = s
        for doc, kept, n in zip(docs, keep.tolist(), size.tolist()):
            doc.stats["dup_cluster_size"] = n
            if not kept:
                doc.reason = rule
        return docs


def kept_index(scan: pa.Table, kept: pa.Table, columns: list[str], sort: str) -> pa.Table:
    """The ``columns`` of the scan rows of published records, with their ``id`` last, sorted
    by ``sort`` then ``id`` (the dedup index of a version: see ``GlobalStage.index_rows``).

    ``kept``: ``shard``, ``row``, ``id`` of the published records; a scan row's ``key`` is
    ``shard << 32 | row`` (:func:`row_keys`)."""
    keys = (kept["shard"].to_numpy().astype(np.int64) << np.int64(ROW_BITS)) + kept[
        "row"
    ].to_numpy().astype(np.int64)
    ids = pa.table({"key": keys, "id": kept["id"]})
    rows = scan.select(["key", *columns]).join(ids, "key", join_type="inner")
    return rows.select([*columns, "id"]).sort_by([(sort, "ascending"), ("id", "ascending")])
