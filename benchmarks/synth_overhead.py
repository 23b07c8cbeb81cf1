"""Synthesis overhead and openai concurrency, measured in one run.

1. llama.cpp: the ``synth_doc_qa`` stage vs raw ``backend.generate`` on the very same requests
   (same prompts, schema, sampling; greedy, so both decode identical tokens), no cache, runs
   alternated. Two figures: (a) in-stage overhead = (stage wall time − time inside the engine
   during that stage run) / engine time — robust on a shared, noisy machine since both are
   measured in the same run; (b) the ratio stage / raw of the alternated runs (median).
   Also prints decode speed (completion tokens / raw seconds).
2. openai backend against llama.cpp's server on 127.0.0.1: requests in flight over time with a
   concurrency limit C — time-weighted mean in flight and the share of time exactly C are in
   flight while at least C requests are still unanswered.

Usage: python benchmarks/synth_overhead.py [--data DIR] [--docs 4] [--reps 3] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.dev_data import add_data_argument, data_dir  # noqa: E402
from pipeline.record import Doc  # noqa: E402
from synth.backends.base import LLMRequest, Sampling  # noqa: E402
from synth.backends.factory import create_backend  # noqa: E402
from synth.backends.scripted import use_engine  # noqa: E402
from synth.doc_qa import SynthDocQA, qa_schema  # noqa: E402
from synth.templates import load_template, untrusted  # noqa: E402

CMRC = "web/wiki_zh_cmrc2018_paragraphs.jsonl"  # inside the DEV data folder (--data)
MODEL = "qwen2.5-coder-0.5b-instruct-q4"


def load_docs(data: Path, n: int, chars: int) -> list[Doc]:
    with (data / CMRC).open(encoding="utf-8") as fh:
        rows = [json.loads(line) for _, line in zip(range(n), fh)]
    return [Doc(id=r["id"], text=r["text"][:chars]) for r in rows]


def raw_requests(stage: SynthDocQA, docs: list[Doc]) -> list[LLMRequest]:
    """The stage's requests, built independently from the template (what a script would do)."""
    tpl = load_template("doc_qa")
    return [
        LLMRequest(
            messages=tpl.render(k=stage.k, document=untrusted(d.text)),
            sampling=Sampling(temperature=0.0, max_tokens=stage.max_tokens, seed=0),
            json_schema=qa_schema(stage.k),
        )
        for d in docs
    ]


class Timed:
    """Wraps an engine and adds up the wall time spent inside ``generate``."""

    def __init__(self, inner: object) -> None:
        self.inner, self.seconds = inner, 0.0
        self.kind, self.model = inner.kind, inner.model  # type: ignore[attr-defined]

    def generate(self, requests, on_result=None):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return self.inner.generate(requests, on_result)  # type: ignore[attr-defined]
        finally:
            self.seconds += time.perf_counter() - t

    def close(self) -> None:
        self.inner.close()  # type: ignore[attr-defined]


def overhead(data: Path, n_docs: int, reps: int, threads: int) -> None:
    docs = load_docs(data, n_docs, 400)
    engine = create_backend(
        {"type": "llamacpp", "model": MODEL, "n_ctx": 2048, "n_threads": threads}
    )
    timed = Timed(engine)
    stage = use_engine(SynthDocQA(k=2, max_tokens=160, cache_dir="off"), timed)
    requests = raw_requests(stage, docs)
    engine.generate(requests[:1])  # load the model, warm up
    raw_t, stage_t, inside, tokens = [], [], [], 0
    for _ in range(reps):
        t = time.perf_counter()
        results = engine.generate(requests)
        raw_t.append(time.perf_counter() - t)
        tokens = sum(r.completion_tokens for r in results)
        timed.seconds = 0.0
        t = time.perf_counter()
        out = stage.process([Doc(id=d.id, text=d.text) for d in docs])
        stage_t.append(time.perf_counter() - t)
        inside.append(timed.seconds)
    stage_tokens = sum(d.stats["completion_tokens"] for d in out)
    raw_m, stage_m = statistics.median(raw_t), statistics.median(stage_t)
    print(f"llama.cpp  docs={n_docs} reps={reps} threads={threads}")
    print(f"  raw generate   median {raw_m:7.2f} s  runs {[round(x, 2) for x in raw_t]}")
    print(f"  synth_doc_qa   median {stage_m:7.2f} s  runs {[round(x, 2) for x in stage_t]}")
    print(f"  same tokens decoded: {tokens == stage_tokens} ({tokens} vs {stage_tokens})")
    own = [(s - e) / e for s, e in zip(stage_t, inside)]
    print(
        f"  in-stage overhead (stage − engine time) / engine time: median "
        f"{100 * statistics.median(own):.3f} %  runs {[f'{100 * x:.3f}' for x in own]}"
    )
    print(
        f"  stage / raw ratio of alternated runs: median "
        f"{statistics.median(s / r for s, r in zip(stage_t, raw_t)):.3f} (noisy if shared)"
    )
    print(f"  decode speed {tokens / raw_m:.1f} completion tok/s (incl. prompt eval)")
    engine.close()


def in_flight_profile(trace: list[tuple[float, float]], limit: int) -> tuple[float, float]:
    """(time-weighted mean in flight, share of time at the limit while ≥ limit unanswered)."""
    events = sorted([(s, 1) for s, _ in trace] + [(e, -1) for _, e in trace])
    total = len(trace)
    busy = weighted = at_limit = saturated = 0.0
    level = finished = 0
    for (t0, delta), (t1, _) in zip(events, events[1:]):
        level += delta
        finished += delta < 0
        span = t1 - t0
        busy += span
        weighted += level * span
        if total - finished >= limit:
            saturated += span
            at_limit += span if level == limit else 0.0
    return weighted / busy, at_limit / saturated if saturated else 0.0


def concurrency(limit: int, n_requests: int) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_synth_openai import LlamaServer, free_port  # reuse the test's server launcher

    server = LlamaServer(free_port(), Path("/tmp/zhcurate_bench_llama_server.log"))
    server.start()
    try:
        backend = create_backend(
            {
                "type": "openai",
                "model": MODEL,
                "base_url": server.url,
                "concurrency": limit,
                "schema_mode": "json_object",
            }
        )
        backend.trace = []
        reqs = [
            LLMRequest(
                messages=({"role": "user", "content": f"写一句关于数字{i}的话。"},),
                sampling=Sampling(max_tokens=16),
            )
            for i in range(n_requests)
        ]
        t = time.perf_counter()
        backend.generate(reqs)
        elapsed = time.perf_counter() - t
        mean, share = in_flight_profile(backend.trace, limit)
        print(f"openai  limit={limit} requests={n_requests} wall {elapsed:.2f} s")
        print(f"  max in flight {backend.max_in_flight}, time-weighted mean {mean:.2f}")
        print(f"  share of time at the limit while ≥{limit} unanswered: {100 * share:.1f} %")
    finally:
        server.kill()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=4)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--requests", type=int, default=16)
    add_data_argument(ap)
    args = ap.parse_args()
    overhead(data_dir(args.data, CMRC), args.docs, args.reps, args.threads)
    concurrency(args.concurrency, args.requests)


if __name__ == "__main__":
    main()
