"""LLM call cache (keys, hits/misses, kill -9 safety) and the packaged-model resolver."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from synth import models
from synth.backends.base import LLMRequest, LLMResult, Sampling, identity
from synth.backends.scripted import ScriptedBackend
from synth.cache import CachedBackend, LLMCache

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}
BASE = LLMRequest(
    messages=({"role": "user", "content": "介绍一下长城"},),
    sampling=Sampling(temperature=0.0, max_tokens=64, seed=0),
    json_schema=SCHEMA,
)


def with_sampling(**changes: object) -> LLMRequest:
    return dataclasses.replace(BASE, sampling=dataclasses.replace(BASE.sampling, **changes))


KEY_CHANGES = [
    ("kind", "openai", "m", BASE),
    ("model", "llamacpp", "other-model", BASE),
    ("temperature", "llamacpp", "m", with_sampling(temperature=0.7)),
    ("top_p", "llamacpp", "m", with_sampling(top_p=0.9)),
    ("max_tokens", "llamacpp", "m", with_sampling(max_tokens=65)),
    ("stop", "llamacpp", "m", with_sampling(stop=("。",))),
    ("seed", "llamacpp", "m", with_sampling(seed=1)),
    (
        "prompt",
        "llamacpp",
        "m",
        dataclasses.replace(BASE, messages=({"role": "user", "content": "介绍一下黄河"},)),
    ),
    (
        "raw prompt",
        "llamacpp",
        "m",
        LLMRequest(prompt="介绍一下长城", sampling=BASE.sampling, json_schema=SCHEMA),
    ),
    ("schema", "llamacpp", "m", dataclasses.replace(BASE, json_schema=None)),
    (
        "property order",
        "llamacpp",
        "m",
        dataclasses.replace(
            BASE,
            json_schema={
                "type": "object",
                "properties": {"b": {"type": "string"}, "a": {"type": "string"}},
            },
        ),
    ),
]


@pytest.mark.parametrize(("what", "kind", "model", "request_"), KEY_CHANGES)
def test_every_input_of_the_output_changes_the_key(
    what: str, kind: str, model: str, request_: LLMRequest
) -> None:
    assert identity(kind, model, request_) != identity("llamacpp", "m", BASE), what


def test_key_is_stable_for_equal_requests() -> None:
    twin = LLMRequest(
        messages=({"role": "user", "content": "介绍一下长城"},),
        sampling=Sampling(temperature=0.0, max_tokens=64, seed=0),
        json_schema=dict(SCHEMA),
    )
    assert identity("llamacpp", "m", twin) == identity("llamacpp", "m", BASE)


def test_cached_backend_hits_misses_and_never_caches_errors(tmp_path: Path) -> None:
    def responder(r: LLMRequest) -> object:
        if "坏" in r.messages[-1]["content"]:
            return LLMResult(finish_reason="error", error="HTTP 400")
        return '{"a": "长城", "b": "两万多公里"}'

    inner = ScriptedBackend(responder)
    reqs = [BASE, dataclasses.replace(BASE, messages=({"role": "user", "content": "坏请求"},))]
    first = CachedBackend(inner, LLMCache(tmp_path)).generate(reqs)
    assert first[0].parsed == {"a": "长城", "b": "两万多公里"} and not first[0].cached
    cached = CachedBackend(inner, LLMCache(tmp_path))
    second = cached.generate(reqs)
    assert second[0].cached and second[0].parsed == first[0].parsed
    assert second[0].completion_tokens == first[0].completion_tokens
    assert second[1].error == "HTTP 400" and not second[1].cached  # errors are asked again
    assert (cached.cache.hits, cached.cache.misses) == (1, 1)
    assert len(inner.calls) == 3 and len(cached.cache) == 1


WRITER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from synth.backends.base import LLMRequest, Sampling
    from synth.backends.scripted import ScriptedBackend
    from synth.cache import CachedBackend, LLMCache

    def slow(r):
        time.sleep(0.05)
        return "答案" + r.prompt

    backend = CachedBackend(ScriptedBackend(slow), LLMCache({cache!r}))
    reqs = [LLMRequest(prompt=f"问题{{i}}", sampling=Sampling()) for i in range(1000)]
    backend.generate(reqs, on_result=lambda i, r: print(i, flush=True))
""")


def test_cache_survives_kill_9(tmp_path: Path) -> None:
    script = WRITER.format(root=str(ROOT), cache=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for _ in range(20):  # 20 results reported as stored
        proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    db = sqlite3.connect(tmp_path / "llm_cache.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    inner = ScriptedBackend(lambda r: "不应被调用")
    resumed = CachedBackend(inner, LLMCache(tmp_path))
    reqs = [LLMRequest(prompt=f"问题{i}", sampling=Sampling()) for i in range(20)]
    assert [r.text for r in resumed.generate(reqs)] == [f"答案问题{i}" for i in range(20)]
    assert inner.calls == [] and resumed.cache.hits == 20


def fake_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[bytes], size: int, sha: str
) -> models.PackagedModel:
    pkg_root = tmp_path / "site"
    for i, chunk in enumerate(chunks, 1):
        (pkg_root / f"fakepart{i}" / "data").mkdir(parents=True)
        (pkg_root / f"fakepart{i}" / "__init__.py").write_text("")
        (pkg_root / f"fakepart{i}" / "data" / f"p{i}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(pkg_root))
    model = models.PackagedModel(
        "fake.gguf",
        tuple((f"fakepart{i}", f"p{i}.bin") for i in range(1, len(chunks) + 1)),
        size,
        sha,
        "pip install fakepart1 fakepart2",
    )
    monkeypatch.setitem(models.MODELS, "fake-model", model)
    monkeypatch.setenv("ZHCURATE_MODEL_DIR", str(tmp_path / "models"))
    return model


def test_resolver_assembles_chunks_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    data = b"GGUF" + bytes(range(256)) * 10
    fake_model(
        tmp_path, monkeypatch, [data[:700], data[700:]], len(data), hashlib.sha256(data).hexdigest()
    )
    path = models.resolve_model("fake-model")
    assert path == tmp_path / "models" / "fake.gguf" and path.read_bytes() == data
    mtime = path.stat().st_mtime_ns
    assert models.resolve_model("fake-model").stat().st_mtime_ns == mtime  # not rebuilt
    assert models.model_identity("fake-model") == "fake-model"
    assert models.model_identity(str(path)) == f"fake.gguf:{len(data)}"
    assert list((tmp_path / "models").iterdir()) == [path]  # no temp left


def test_resolver_rejects_corrupt_chunks_and_missing_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_model(tmp_path, monkeypatch, [b"GGUF", b"xx"], 6, "0" * 64)
    with pytest.raises(ValueError, match="does not match"):
        models.resolve_model("fake-model")
    assert list((tmp_path / "models").iterdir()) == []
    monkeypatch.setitem(
        models.MODELS,
        "gone",
        models.PackagedModel(
            "g.gguf", (("no_such_pkg_zz", "p.bin"),), 1, "0" * 64, "pip install no-such-pkg"
        ),
    )
    with pytest.raises(FileNotFoundError, match="pip install no-such-pkg"):
        models.resolve_model("gone")
    with pytest.raises(FileNotFoundError, match="neither a known name"):
        models.resolve_model("/nonexistent/model.gguf")
