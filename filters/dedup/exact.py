"""Exact deduplication: one document per normalized text, the first in input order.

scan   per shard: (128-bit xxh3 of the normalized text, row key), partitioned by hash.
reduce per partition: group by hash (pyarrow ``group_by``); every group of two or more rows
       yields (key, keeper = smallest key).
finalize: cluster sizes; the state lists only documents that have an exact twin.
apply  rejects non-keepers with rule ``duplicate``; every document gets ``dup_cluster_size``
       (1 when unique; for a rejected document, the size of the cluster it was dropped from).
index  at publish, per partition: ``hash`` (the scan's 16-byte digest) and ``id`` of every
       published record, sorted by hash (``index/dedup_exact/part-<p>.parquet``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from filters.dedup.clusters import STATE_SCHEMA, ShardLookup, kept_index, row_keys, state_table
from pipeline.record import Doc
from pipeline.stage import GlobalStage

NORMALIZATIONS = ("none", "whitespace", "fold")


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, None]:
    """Code points of Unicode punctuation (P*), symbols (S*) and whitespace, mapped to None."""
    return {
        cp: None
        for cp in range(0x30000)
        if unicodedata.category(chr(cp))[0] in "PSZ" or chr(cp).isspace()
    }


def normalize(text: str, mode: str) -> str:
    """``none``: as is. ``whitespace``: strip, runs of whitespace (incl. U+3000) → one space.
    ``fold``: NFKC (full-width → ASCII), casefold, drop all punctuation, symbols and whitespace.
    """
    if mode == "none":
        return text
    if mode == "whitespace":
        return " ".join(text.split())
    return unicodedata.normalize("NFKC", text).casefold().translate(_fold_table())


@dataclass(frozen=True)
class DedupExact(GlobalStage):
    """Drop documents whose normalized text equals an earlier document's (rule ``duplicate``).

    ``normalize`` = "whitespace" by default: web copies of one text often differ only in
    spacing or line breaks. "fold" also ignores punctuation, case and full-/half-width forms
    (more aggressive: "好。" == "好！"); "none" compares exact text. 128-bit hashes: the chance
    of any false merge among 10^9 documents is ~10^-21 (64 bits would give ~3 %).
    """

    name: ClassVar[str] = "dedup_exact"
    version: ClassVar[str] = "1"
    edits: ClassVar[bool] = False  # rejects duplicates, rewrites nothing

    normalize: str = "whitespace"
    #: Hash partitions (reduce tasks). One row of 28 bytes per document: 16 keep a
    #: 10^8-document partition < 200 MB; raise it with the corpus (same output at any value).
    partitions: int = 16

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError("partitions must be >= 1")
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, not {self.normalize!r}")

    def scan(self, docs: list[Doc], shard: int) -> pa.Table:
        digests = b"".join(
            xxhash.xxh3_128_digest(normalize(d.text, self.normalize).encode()) for d in docs
        )
        n = len(docs)
        words = np.frombuffer(digests, dtype=np.uint64).reshape(n, 2)
        part = (words[:, 0] % np.uint64(self.partitions)).astype(np.int32)
        hashes = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(16), n, [None, pa.py_buffer(digests)]
        )
        return pa.table({"hash": hashes, "key": row_keys(shard, n), "_part": part})

    def reduce(self, rows: pa.Table) -> pa.Table:
        groups = rows.group_by("hash").aggregate([("key", "min"), ("key", "count")])
        groups = groups.filter(pc.greater_equal(groups["key_count"], 2))
        if groups.num_rows == 0:
            return pa.table({"key": pa.array([], pa.int64()), "keeper": pa.array([], pa.int64())})
        dup = rows.select(["hash", "key"]).join(
            groups.select(["hash", "key_min"]), "hash", join_type="inner"
        )
        dup = dup.sort_by("key")
        return pa.table({"key": dup["key"], "keeper": dup["key_min"]})

    def finalize(self, parts: list[pa.Table]) -> pa.Table:
        if not parts:
            return STATE_SCHEMA.empty_table()
        both = pa.concat_tables(parts)
        return state_table(both["key"].to_numpy(), both["keeper"].to_numpy())

    def prepare_state(self, state: pa.Table) -> Any:
        return ShardLookup.from_state(state)

    def apply(self, docs: list[Doc], shard: int, state: Any) -> list[Doc]:
        return state.apply(docs, shard, "duplicate")

    def index_rows(self, scan: pa.Table, kept: pa.Table) -> pa.Table | None:
        """``hash`` (xxh3-128 of the normalized text, 16 bytes) and ``id`` of the published
        records in this partition, sorted by hash: the scan's digests, not recomputed."""
        return kept_index(scan, kept, ["hash"], "hash")
