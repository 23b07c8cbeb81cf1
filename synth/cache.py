"""On-disk LLM call cache, so a resumed or repeated synthesis run never pays twice.

Key: sha256 of (backend type, model, sampling parameters incl. seed, prompt or messages, JSON
schema) — see :func:`synth.backends.base.identity`. Storage: one SQLite file in WAL mode; every
result is committed as soon as the engine returns it, so ``kill -9`` loses at most the calls in
flight and never corrupts what is stored (SQLite's WAL is atomic per transaction). Several
worker processes may share the file (writers wait on SQLite's lock, ``busy_timeout``).
Errors are never cached; truncated results are (they are the engine's deterministic answer).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from synth.backends.base import Backend, LLMRequest, LLMResult, OnResult, finish, identity

DEFAULT_DIR = "~/.cache/zhcurate/llm"


def default_cache_dir() -> Path:
    return Path(os.environ.get("ZHCURATE_LLM_CACHE", DEFAULT_DIR)).expanduser()


class LLMCache:
    """Key → result JSON, with hit/miss counters for this process."""

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory).expanduser() / "llm_cache.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self.path, timeout=60, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, result TEXT)")
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> LLMResult | None:
        row = self._db.execute("SELECT result FROM calls WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return LLMResult(**json.loads(row[0]), cached=True)

    def put(self, key: str, result: LLMResult) -> None:
        if result.error is not None:
            return
        self._db.execute(
            "INSERT OR REPLACE INTO calls VALUES (?, ?)",
            (key, json.dumps(result.to_record(), ensure_ascii=False)),
        )

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def close(self) -> None:
        self._db.close()


class CachedBackend:
    """A :class:`Backend` that answers from the cache and sends only the misses to ``inner``."""

    def __init__(self, inner: Backend, cache: LLMCache) -> None:
        self.inner = inner
        self.cache = cache
        self.kind = inner.kind
        self.model = inner.model

    def generate(
        self, requests: Sequence[LLMRequest], on_result: OnResult | None = None
    ) -> list[LLMResult]:
        keys = [identity(self.kind, self.model, r) for r in requests]
        results: list[LLMResult | None] = [self.cache.get(k) for k in keys]
        for i, res in enumerate(results):
            if res is not None:
                finish(res, requests[i])
                if on_result:
                    on_result(i, res)
        todo = [i for i, res in enumerate(results) if res is None]

        stored: set[int] = set()

        def store(j: int, res: LLMResult) -> None:  # j indexes ``todo``
            self.cache.put(keys[todo[j]], res)
            stored.add(j)
            if on_result:
                on_result(todo[j], res)

        if todo:
            fresh = self.inner.generate([requests[i] for i in todo], on_result=store)
            for j, res in enumerate(fresh):
                if j not in stored:
                    store(j, res)
                results[todo[j]] = res
        return [r for r in results if r is not None]

    def close(self) -> None:
        self.inner.close()
        self.cache.close()
