"""Data summaries for the card: length histograms and numeric stats of kept records.

Workers summarize their own shard (so nothing is re-read at publish time and the work is
parallel); :func:`merge` combines shard summaries into the manifest's ``summary``, from
which the card and its plots are re-rendered.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pyarrow as pa

#: Text-length histogram bin edges in characters (log-spaced, 1 .. 1M).
LENGTH_BINS = np.unique(np.round(np.logspace(0, 6, 31)).astype(np.int64))
SAMPLE_PER_SHARD = 2_000  # first N values of each stat per shard, for quantiles
SAMPLE_TOTAL = 50_000


def length_hist(texts: pa.ChunkedArray | pa.Array | list[str]) -> list[int]:
    """Counts of text lengths (characters) per LENGTH_BINS bin (bin 0: shorter than 1).
    A Python list (ingest has one) is measured without importing ``pyarrow.compute``."""
    if isinstance(texts, list):
        lengths = np.fromiter(map(len, texts), np.int64, len(texts))
    else:
        import pyarrow.compute as pc

        lengths = pc.utf8_length(texts).to_numpy(zero_copy_only=False)
    return np.bincount(
        np.searchsorted(LENGTH_BINS, lengths, side="right"), minlength=len(LENGTH_BINS) + 1
    ).tolist()


def shard_summary(table: pa.Table, texts: list[str] | None = None) -> dict[str, Any]:
    """Kept-record summary of one shard: length histogram, per-stat sum, count and sample.
    ``texts``: the shard's texts as a list, when the caller has them (saves a conversion)."""
    stats: dict[str, dict[str, dict[str, Any]]] = {}
    for col in (c for c in table.column_names if c.startswith("stats.")):
        per_key = stats.setdefault(col[len("stats.") :], {})
        for raw in table[col].to_pylist():
            if raw is None:
                continue
            for key, value in orjson.loads(raw).items():
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                acc = per_key.setdefault(key, {"sum": 0.0, "n": 0, "sample": []})
                acc["sum"] += value
                acc["n"] += 1
                if len(acc["sample"]) < SAMPLE_PER_SHARD:
                    acc["sample"].append(value)
    return {"length_hist": length_hist(table["text"] if texts is None else texts), "stats": stats}


def merge(input_hists: list[list[int]], shards: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest summary from per-file input histograms and per-shard kept summaries."""
    zeros = np.zeros(len(LENGTH_BINS) + 1, np.int64)
    hist_in = np.sum([np.array(h) for h in input_hists], axis=0) if input_hists else zeros
    hist_kept = np.sum([np.array(s["length_hist"]) for s in shards], axis=0) if shards else zeros
    numeric: dict[str, dict[str, Any]] = {}
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    for s in shards:
        for stage, keys in s["stats"].items():
            for key, acc in keys.items():
                m = merged.setdefault(stage, {}).setdefault(key, {"sum": 0.0, "n": 0, "sample": []})
                m["sum"] += acc["sum"]
                m["n"] += acc["n"]
                m["sample"].extend(acc["sample"][: max(0, SAMPLE_TOTAL - len(m["sample"]))])
    for stage, keys in merged.items():
        for key, m in keys.items():
            values = np.array(m["sample"], dtype=float)
            q = np.quantile(values, [0.1, 0.5, 0.9]).tolist()
            numeric.setdefault(stage, {})[key] = {
                "sum": round(m["sum"], 6),
                "mean": round(m["sum"] / m["n"], 6),
                "p10": q[0],
                "p50": q[1],
                "p90": q[2],
                "hist": np.histogram(values, bins=20)[0].tolist(),
                "hist_range": [float(values.min()), float(values.max())],
            }
    return {
        "length_bins": LENGTH_BINS.tolist(),
        "length_hist_input": list(map(int, hist_in)),
        "length_hist_kept": list(map(int, hist_kept)),
        "stats": numeric,
    }
