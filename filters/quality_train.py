"""Train the fastText quality classifier behind the ``quality`` stage.

Input: JSONL (optionally .gz) rows with ``text`` and ``label`` (1/0, true/false, or
"high"/"low"). A seeded split holds out ``valid_fraction`` of the rows; fastText trains on the
rest with ``thread=1`` and a fixed ``seed``, so the same data and parameters give the same
model. Returns (and prints) precision/recall/F1 of the "high" class on the held-out split at
P(high) >= 0.5, plus ROC AUC. Training runs in a fresh (spawned) process: that is what makes
it reproducible (byte-identical model files).

Tokenization (``tokenize``): "chars" = every non-whitespace character is a token (with
``word_ngrams=2``: character bigrams too); "words" = ``filters.segment`` words (word bigrams);
"words+chars" = both. ``benchmarks/quality_model.py`` compares them; the default is the best
there (see ``DEFAULT_TOKENIZE``).

The default model is trained from the shipped ``filters/data/quality_zh.jsonl.gz`` into
``$ZHCURATE_HOME/models`` (default ``~/.cache/zhcurate/models``)::

    python -m filters.quality_train --default
    python -m filters.quality_train data.jsonl [...] --out model.bin [--tokenize chars]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import multiprocessing
import os
import random
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from filters.segment import segment

log = logging.getLogger("zhcurate.train_quality")

DEFAULT_DATA = Path(__file__).parent / "data" / "quality_zh.jsonl.gz"
DEFAULT_TOKENIZE = "chars"
#: fastText hyper-parameters of the default model (``bucket``/``dim`` keep the .bin ~13 MB).
DEFAULT_PARAMS: dict[str, Any] = {
    "epoch": 20,
    "lr": 0.3,
    "dim": 32,
    "word_ngrams": 2,
    "min_count": 2,
    "bucket": 100_000,
    "seed": 1,
}
LABELS = {"__label__hq": 1, "__label__lq": 0}
HIGH = {"1", "true", "high", "hq", "clean", "pos", "positive"}
LOW = {"0", "false", "low", "lq", "dirty", "neg", "negative"}


def tokenize(text: str, mode: str) -> str:
    """One fastText input line for ``text`` (see the module docstring for the modes)."""
    if mode == "chars":
        return " ".join("".join(text.split()))
    if mode == "words":
        return " ".join(segment(text))
    if mode == "words+chars":
        return " ".join(segment(text)) + " " + " ".join("".join(text.split()))
    raise ValueError(f"unknown tokenize mode {mode!r} (chars, words, words+chars)")


def _jsonl_records(path: Path, label_field: str) -> Iterator[tuple[str, Any, Any]]:
    """(where, text, label) of each line of a labelled JSONL (.gz) file."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = orjson.loads(line)
                yield f"{path}:{n}", rec["text"], rec[label_field]
            except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(
                    f"{path}:{n}: expected a JSON object with 'text' and {label_field!r}: {exc}"
                ) from None


def _published_records(path: Path, label_field: str) -> Iterator[tuple[str, Any, Any]]:
    """(where, text, label) of a published version (its ``data/``) or parquet files, the label
    read from ``stats`` as ``<stage>.<measurement>`` (e.g. ``llm_quality_annotate.score``).
    Records without it, or with a negative score (not sampled / not parsed), are skipped."""
    import pyarrow.parquet as pq

    stage, _, key = label_field.partition(".")
    if not key:
        raise ValueError(
            f"{path}: for a published version give --label-field "
            f"<stage>.<measurement>, e.g. llm_quality_annotate.score"
        )
    data = path / "data" if (path / "data").is_dir() else path
    files = sorted(data.glob("*.parquet")) if data.is_dir() else [data]
    for file in files:
        table = pq.read_table(file, columns=["id", "text", "stats"])
        for rid, text, raw in zip(*(table[c].to_pylist() for c in ("id", "text", "stats"))):
            value = orjson.loads(raw or "{}").get(stage, {}).get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                continue
            yield f"{file}:{rid}", text, value


def read_labelled(
    paths: list[str | Path], threshold: float | None = None, label_field: str = "label"
) -> list[tuple[str, int]]:
    """(text, 1|0) rows. Labels are high/low words or 1/0, or — with ``threshold`` — numeric
    scores binarized as ``score >= threshold`` (e.g. LLM 0-5 ratings, threshold 3). A path may
    be labelled JSONL or a published version / parquet file (labels from ``stats``)."""
    rows = []
    for path in map(Path, paths):
        published = path.is_dir() or path.suffix == ".parquet"
        records = (_published_records if published else _jsonl_records)(path, label_field)
        for where, text, raw in records:
            if not isinstance(text, str):
                raise ValueError(f"{where}: 'text' is not a string")
            if threshold is not None:
                if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                    raise ValueError(
                        f"{where}: label {raw!r} is not a number (needed with a threshold)"
                    )
                rows.append((text, int(raw >= threshold)))
                continue
            label = str(raw).strip().lower()
            if label not in HIGH | LOW:
                raise ValueError(
                    f"{where}: label {raw!r} is not high/low or 1/0 "
                    "(give a threshold for numeric scores)"
                )
            rows.append((text, int(label in HIGH)))
    return rows


def auc(scores: list[float], labels: list[int]) -> float:
    """ROC AUC = probability that a random positive outscores a random negative."""
    order = sorted(range(len(scores)), key=scores.__getitem__)
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):  # average ranks over ties
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(labels)
    neg = len(labels) - pos
    rank_sum = sum(r for r, y in zip(ranks, labels) if y)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg) if pos and neg else float("nan")


def p_high(model: Any, lines: list[str]) -> list[float]:
    """P(high quality) per fastText input line."""
    labels, probs = model.predict(lines, k=2, threshold=0.0)
    return [
        next((float(p) for lb, p in zip(lab, pr) if lb == "__label__hq"), 0.0)
        for lab, pr in zip(labels, probs)
    ]


def evaluate(model: Any, lines: list[str], labels: list[int]) -> dict[str, float]:
    scores = p_high(model, lines)
    tp = sum(s >= 0.5 and y for s, y in zip(scores, labels))
    fp = sum(s >= 0.5 and not y for s, y in zip(scores, labels))
    fn = sum(s < 0.5 and y for s, y in zip(scores, labels))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "auc": round(auc(scores, labels), 4),
        "n_valid": len(labels),
    }


def _fit(train_file: str, out: str, hp: dict[str, Any]) -> None:
    import fasttext_new as fasttext

    model = fasttext.train_supervised(
        input=train_file,
        epoch=hp["epoch"],
        lr=hp["lr"],
        dim=hp["dim"],
        wordNgrams=hp["word_ngrams"],
        minCount=hp["min_count"],
        bucket=hp["bucket"],
        seed=hp["seed"],
        thread=1,
        verbose=0,
        loss="softmax",
    )
    model.save_model(out)


def train_quality(
    jsonl_paths: list[str | Path],
    out_model: str | Path,
    *,
    tokenize_mode: str = DEFAULT_TOKENIZE,
    valid_fraction: float = 0.2,
    split_seed: int = 0,
    threshold: float | None = None,
    label_field: str = "label",
    **params: Any,
) -> dict[str, Any]:
    """Train, save ``out_model`` (+ ``.json`` sidecar) atomically, return held-out metrics."""
    import fasttext_new as fasttext

    rows = read_labelled(jsonl_paths, threshold, label_field)
    if len({y for _, y in rows}) < 2:
        raise ValueError("training needs both high- and low-quality examples")
    random.Random(split_seed).shuffle(rows)
    n_valid = int(len(rows) * valid_fraction)
    valid, train = rows[:n_valid], rows[n_valid:]
    hp = {**DEFAULT_PARAMS, **params}
    out_model = Path(out_model)
    out_model.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_model.parent) as tmp:
        train_file = Path(tmp) / "train.txt"
        with train_file.open("w", encoding="utf-8") as fh:
            for text, y in train:
                label = "__label__hq" if y else "__label__lq"
                fh.write(f"{label} {tokenize(text, tokenize_mode)}\n")
        tmp_model = Path(tmp) / "model.bin"
        # A fresh process per training: repeated training inside one process is not
        # reproducible with fasttext 0.9/0.10 (state leaks between runs; seen as different
        # models and even "Encountered NaN"), while a fresh process gives identical bytes.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
            ex.submit(_fit, str(train_file), str(tmp_model), hp).result()
        model = fasttext.load_model(str(tmp_model))
        meta = {"tokenize": tokenize_mode, "params": hp, "n_train": len(train)}
        metrics = (
            evaluate(model, [tokenize(t, tokenize_mode) for t, _ in valid], [y for _, y in valid])
            if valid
            else {}
        )
        meta["metrics"] = metrics
        sidecar = out_model.with_suffix(out_model.suffix + ".json")
        sidecar.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        os.replace(tmp_model, out_model)
    return {**metrics, "n_train": len(train), "tokenize": tokenize_mode}


def model_dir() -> Path:
    home = os.environ.get("ZHCURATE_HOME")
    base = Path(home) if home else Path.home() / ".cache" / "zhcurate"
    return base / "models"


@lru_cache(maxsize=1)
def _default_hash() -> str:
    h = hashlib.sha256(DEFAULT_DATA.read_bytes())
    h.update(json.dumps([DEFAULT_TOKENIZE, DEFAULT_PARAMS], sort_keys=True).encode())
    return h.hexdigest()[:12]


def default_model_path() -> Path:
    """Where the default model lives: named after the training set's and parameters' hash."""
    return model_dir() / f"quality_zh-{_default_hash()}.bin"


def build_default_model(force: bool = False) -> Path:
    """Train the default model into the cache unless it is there (file lock against races)."""
    import fcntl

    path = default_model_path()
    if path.exists() and not force:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists() and not force:
            return path
        log.warning(
            "quality: building the default model from %s into %s (one-time, "
            "deterministic, a few seconds)",
            DEFAULT_DATA.name,
            path,
        )
        metrics = train_quality([DEFAULT_DATA], path)
        log.warning("quality: default model ready, held-out %s", metrics)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="*", help="labelled JSONL files (text, label)")
    ap.add_argument("--default", action="store_true", help="(re)build the default model")
    ap.add_argument("--out", help="output model path (.bin)")
    ap.add_argument("--tokenize", default=DEFAULT_TOKENIZE)
    ap.add_argument("--valid-fraction", type=float, default=0.2)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.default:
        print(build_default_model(force=True))
        return
    if not args.inputs or not args.out:
        ap.error("give labelled JSONL inputs and --out, or --default")
    print(
        json.dumps(
            train_quality(
                args.inputs,
                args.out,
                tokenize_mode=args.tokenize,
                valid_fraction=args.valid_fraction,
            )
        )
    )


if __name__ == "__main__":
    main()
