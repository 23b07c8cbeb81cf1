"""The ``synthesis`` section of a generated dataset's manifest (read by its data card).

Figures per LLM stage (a stage whose records carry ``calls`` stats), from the per-stage sums
the workers report: calls (attempts, retries included), cache hits and misses, prompt and
completion tokens, the completion tokens the engine decoded in this run (cache misses), stage
seconds and decoded tokens per second, and the share of the
records it emitted that failed to parse or were truncated, and ``rejections``: every rejection
reason of its generated records (``copied_source``, ``no_task_form``, ``incomplete``,
``answer_fragment``, ``not_novel``, ...) with its count and share of the records it emitted,
most frequent first. Dataset-wide: the distinct
engines, models, prompt templates (with sha256) and sampling parameters found in the
records' provenance, tokens generated, and the judge's order-swap consistency rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

#: meta keys whose value is one LLM provenance dict; ``responses`` holds a list of them.
PROVENANCE_KEYS = ("synth", "judge")
ENGINE_FIELDS = ("stage", "backend", "model", "template", "template_sha256")


def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def add_entries(seen: dict[bytes, dict[str, Any]], entries: Iterable[dict[str, Any]]) -> None:
    """Add engine entries to ``seen``, keyed by their canonical JSON (duplicates dropped)."""
    for entry in entries:
        seen.setdefault(orjson.dumps(entry, option=orjson.OPT_SORT_KEYS), entry)


def add_provenance(seen: dict[bytes, dict[str, Any]], metas: Iterable[str | None]) -> None:
    """Add the distinct (stage, backend, model, template, template hash, sampling) found in
    meta JSON rows to ``seen``, one shard at a time."""
    for raw in metas:
        meta = orjson.loads(raw) if raw else {}
        found = [meta.get(k) for k in PROVENANCE_KEYS] + list(meta.get("responses") or [])
        add_entries(
            seen,
            (
                {**{k: item.get(k) for k in ENGINE_FIELDS}, "sampling": item.get("sampling")}
                for item in found
                if isinstance(item, dict) and "model" in item
            ),
        )


def ordered(seen: dict[bytes, dict[str, Any]]) -> list[dict[str, Any]]:
    """The collected engine entries in a stable order (by their canonical JSON)."""
    return [seen[k] for k in sorted(seen)]


def stage_figures(stage: dict[str, Any]) -> dict[str, Any] | None:
    """LLM figures of one manifest stage entry, or None if it made no LLM call."""
    sums = stage.get("stat_sums", {})
    if "calls" not in sums:
        return None
    emitted = stage["out"] + sum(stage["dropped"].values()) + stage["quarantined"]
    calls, hits = int(sums.get("calls", 0)), int(sums.get("_cache_hits", 0))
    completion = int(sums.get("completion_tokens", 0))
    decoded = int(sums.get("_engine_tokens", 0))
    parse = stage["dropped"].get(f"{stage['type']}:parse_error", 0)
    truncated = stage["dropped"].get(f"{stage['type']}:truncated", 0)
    return {
        "name": stage["name"],
        "records": emitted,
        "calls": calls,
        "cache_hits": hits,
        "cache_misses": calls - hits,
        "prompt_tokens": int(sums.get("prompt_tokens", 0)),
        "completion_tokens": completion,
        "engine_tokens": decoded,
        "seconds": stage["seconds"],
        "engine_tokens_per_s": _rate(decoded, stage["seconds"]) if decoded else None,
        "parse_errors": parse,
        "parse_failure_rate": _rate(parse, emitted),
        "truncated": truncated,
        "truncation_rate": _rate(truncated, emitted),
        "rejections": rejections(stage, emitted),
    }


def rejections(stage: dict[str, Any], emitted: int) -> list[dict[str, Any]]:
    """[{reason, n, rate}] of one stage's dropped records (rate over the records it emitted;
    reasons without the ``<stage>:`` prefix), most frequent first, then by name."""
    prefix = f"{stage['type']}:"
    counts = sorted(stage["dropped"].items(), key=lambda kv: (-kv[1], kv[0]))
    return [
        {"reason": reason.removeprefix(prefix), "n": n, "rate": _rate(n, emitted)}
        for reason, n in counts
        if n
    ]


def synthesis_report(
    stages: list[dict[str, Any]], engines: list[dict[str, Any]], fmt: str
) -> dict[str, Any]:
    """The manifest's ``synthesis`` section for a dataset published after ``stages``."""
    figures = [f for f in map(stage_figures, stages) if f is not None]
    pairs = sum(s["stat_sums"].get("pairs", 0) for s in stages if s["type"] == "judge")
    consistent = sum(
        s["stat_sums"].get("consistent_pairs", 0) for s in stages if s["type"] == "judge"
    )
    return {
        "format": fmt or "corpus",
        "engines": engines,
        "llm_stages": figures,
        "calls": sum(f["calls"] for f in figures),
        "cache_hits": sum(f["cache_hits"] for f in figures),
        "cache_misses": sum(f["cache_misses"] for f in figures),
        "tokens_generated": sum(f["completion_tokens"] for f in figures),
        "parse_failure_rate": _rate(
            sum(f["parse_errors"] for f in figures), sum(f["records"] for f in figures)
        ),
        "judge_pairs": int(pairs),
        "judge_consistency_rate": _rate(consistent, pairs),
    }
