"""Near-duplicate removal: MinHash + LSH bands, candidate pairs verified, clusters by union-find.

scan   per shard: shingles → signatures (numpy) → one row per (document, band): row key,
       bucket id (band hash), ``_part`` (from the bucket id) and the document's b-bit signature.
reduce per partition: rows sharing a bucket are candidate pairs; a pair becomes an edge only if
       its signatures' Jaccard estimate is ≥ ``threshold``. Emits edges (a, b) of row keys.
finalize: union-find over the edges (memory ∝ duplicates, not corpus); the keeper of each
       cluster is its smallest (shard, row).
apply  rejects non-keepers with rule ``near_duplicate``; every document gets ``dup_cluster_size``.
index  at publish, per partition: ``hash`` (band bucket id), ``sig`` (b-bit signature) and
       ``id`` of every band row of a published record, sorted by hash
       (``index/dedup_minhash/part-<p>.parquet``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from filters.dedup import verify
from filters.dedup.clusters import (
    STATE_SCHEMA,
    ShardLookup,
    connected_components,
    kept_index,
    row_keys,
    state_table,
)
from filters.dedup.lsh import band_hashes, optimal_bands
from filters.dedup.shingles import char_tokens, ngram_hashes, word_tokens
from filters.dedup.signature import minhash, pack_bits
from pipeline.record import Doc
from pipeline.stage import GlobalStage

TOKENIZERS = ("char", "word")
#: Characters shingled per batch inside one shard (bounds scan memory to ~200 MB).
BATCH_CHARS = 1 << 22
EDGE_SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.int64())])


def _index_names(scan: pa.Table) -> list[str]:
    """Scan column names with the bucket id named ``hash``, as in the published index."""
    return ["hash" if c == "bucket" else c for c in scan.column_names]


@dataclass(frozen=True)
class DedupMinhash(GlobalStage):
    """Drop documents whose shingle-set Jaccard with an earlier document is ≥ ``threshold``.

    Defaults follow Data-Juicer's Chinese recipe (character 5-grams, 256 permutations, Jaccard
    0.7). ``benchmarks/dedup_quality.py`` on 3,000 edited DEV pairs: recall 0.997 for true
    J ≥ 0.8, no false merge for J ≤ 0.5; with 128 permutations recall is 0.990 and 27 % (vs
    20 %) of pairs with J in [0.6, 0.8) land on the wrong side of 0.7. ``tokenizer="word"``:
    jieba words (``filters.segment``) and word ``ngram``s. ``lowercase``: shingle lowercased
    text (runs of whitespace always count as one space). ``bands``/``rows`` = 0: chosen from
    ``threshold`` by :func:`~filters.dedup.lsh.optimal_bands` (25 × 10 for 0.7/256).
    ``verify_bits``: bits per signature value kept to verify candidates (b-bit MinHash); 2 bits
    measured as good as 32 on recall and false merges (wrong side of 0.7: 20.5 % vs 20.2 % of
    [0.6, 0.8) pairs) at 84 instead of 1,044 bytes per band row.
    """

    name: ClassVar[str] = "dedup_minhash"
    version: ClassVar[str] = "1"
    edits: ClassVar[bool] = False  # rejects near-duplicates, rewrites nothing
    #: Buckets larger than this are verified greedily (each member against cluster anchors).
    max_group: ClassVar[int] = 256

    threshold: float = 0.7
    num_perm: int = 256
    ngram: int = 5
    tokenizer: str = "char"
    lowercase: bool = True
    bands: int = 0
    rows: int = 0
    verify_bits: int = 2
    seed: int = 42
    #: Band-bucket partitions (reduce tasks). Rows are 84 bytes × 25 bands per document
    #: (2.1 kB): 32 keep a partition of a 10^7-document corpus near 650 MB; raise it with the
    #: corpus (same output at any value).
    partitions: int = 32

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError("partitions must be >= 1")
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"tokenizer must be one of {TOKENIZERS}, not {self.tokenizer!r}")
        if self.verify_bits not in (1, 2, 4, 8, 32):
            raise ValueError("verify_bits must be 1, 2, 4, 8 or 32")
        if not 0.0 < self.threshold <= 1.0 or self.ngram < 1 or self.num_perm < 1:
            raise ValueError("need 0 < threshold <= 1, ngram >= 1, num_perm >= 1")
        if self.num_perm * self.verify_bits % 8:
            raise ValueError("num_perm * verify_bits must be a multiple of 8")
        b, r = self.band_shape()
        if b * r > self.num_perm:
            raise ValueError(f"bands * rows = {b * r} exceeds num_perm = {self.num_perm}")

    def band_shape(self) -> tuple[int, int]:
        """(bands, rows): the configured ones, or the optimum for ``threshold``."""
        if self.bands and self.rows:
            return self.bands, self.rows
        return optimal_bands(self.threshold, self.num_perm)

    def signatures(self, texts: list[str]) -> np.ndarray:
        """MinHash signatures (len(texts), num_perm) uint32, computed in batches of about
        :data:`BATCH_CHARS` characters (the shingle arrays take ~40 bytes per character)."""
        lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        batch = np.searchsorted(
            np.cumsum(lens), np.arange(1, 1 + lens.sum() // BATCH_CHARS) * BATCH_CHARS
        )
        cuts = [0, *np.unique(batch + 1).tolist(), len(texts)]
        parts = [self._signatures(texts[lo:hi]) for lo, hi in zip(cuts, cuts[1:]) if hi > lo]
        return np.concatenate(parts) if parts else np.empty((0, self.num_perm), np.uint32)

    def _signatures(self, texts: list[str]) -> np.ndarray:
        if self.lowercase:
            texts = [t.lower() for t in texts]
        if self.tokenizer == "word":
            from filters.segment import segment

            tokens, lens = word_tokens([segment(t) for t in texts])
        else:
            tokens, lens = char_tokens([" ".join(t.split()) for t in texts])
        hashes, offsets = ngram_hashes(tokens, lens, self.ngram)
        return minhash(hashes, offsets, self.num_perm, self.seed)

    def scan(self, docs: list[Doc], shard: int) -> pa.Table:
        bands, rows = self.band_shape()
        sig = self.signatures([d.text for d in docs])
        bucket = band_hashes(sig, bands, rows, self.seed).ravel()
        packed = np.repeat(pack_bits(sig, self.verify_bits), bands, axis=0)
        width = packed.shape[1]
        sig_col = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(width), len(bucket), [None, pa.py_buffer(packed)]
        )
        return pa.table(
            {
                "key": np.repeat(row_keys(shard, len(docs)), bands),
                "bucket": bucket,
                "_part": ((bucket >> np.uint64(40)) % np.uint64(self.partitions)).astype(np.int32),
                "sig": sig_col,
            }
        )

    def reduce(self, rows: pa.Table) -> pa.Table:
        a, b = verify.edges(rows, self.threshold, self.verify_bits, self.max_group)
        return pa.table([a, b], schema=EDGE_SCHEMA)

    def finalize(self, parts: list[pa.Table]) -> pa.Table:
        edges = pa.concat_tables(parts) if parts else EDGE_SCHEMA.empty_table()
        if edges.num_rows == 0:
            return STATE_SCHEMA.empty_table()
        nodes, roots = connected_components(edges["a"].to_numpy(), edges["b"].to_numpy())
        return state_table(nodes, roots)

    def prepare_state(self, state: pa.Table) -> Any:
        return ShardLookup.from_state(state)

    def apply(self, docs: list[Doc], shard: int, state: Any) -> list[Doc]:
        return state.apply(docs, shard, "near_duplicate")

    def index_rows(self, scan: pa.Table, kept: pa.Table) -> pa.Table | None:
        """One row per (published record, band) in this partition: ``hash`` (uint64 bucket
        id; the band index is mixed into it, see :func:`~filters.dedup.lsh.band_hashes`),
        ``sig`` (the ``verify_bits``-bit signature the reduce phase verifies candidates
        with) and ``id``, sorted by hash. A later run probes the partition of a new
        record's bucket and verifies a match as ``reduce`` does, reading no other file."""
        return kept_index(scan.rename_columns(_index_names(scan)), kept, ["hash", "sig"], "hash")
