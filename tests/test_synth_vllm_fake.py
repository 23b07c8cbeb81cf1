"""vLLM backend request/parameter mapping, against a FAKE ``vllm`` module.

vLLM needs a GPU and cannot be installed here. The fake below mirrors the documented offline
API (vLLM ≥ 0.12): ``LLM(model, *, tensor_parallel_size, seed, gpu_memory_utilization,
**engine_args)``, ``LLM.chat(messages, sampling_params, use_tqdm)``, ``LLM.generate(prompts,
sampling_params, *, use_tqdm)``, ``SamplingParams`` (no ``guided_*`` fields any more) with
``structured_outputs=StructuredOutputsParams(json=...)``, and ``RequestOutput`` /
``CompletionOutput``. It records every call so the test can check what the backend sent.
"""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest

from synth.backends.base import LLMRequest, Sampling
from synth.backends.factory import create_backend


@dataclass
class FakeStructuredOutputsParams:
    json: str | dict | None = None
    regex: str | None = None
    choice: list[str] | None = None
    grammar: str | None = None
    json_object: bool | None = None
    disable_any_whitespace: bool = False
    disable_additional_properties: bool = False
    whitespace_pattern: str | None = None
    structural_tag: str | None = None

    def __post_init__(self) -> None:
        count = sum(
            x is not None
            for x in (
                self.json,
                self.regex,
                self.choice,
                self.grammar,
                self.json_object,
                self.structural_tag,
            )
        )
        if count != 1:
            raise ValueError("exactly one structured outputs constraint is required")


@dataclass
class FakeSamplingParams:  # documented fields only: an old guided_json= raises TypeError
    n: int = 1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    seed: int | None = None
    stop: str | list[str] | None = None
    stop_token_ids: list[int] | None = None
    max_tokens: int | None = 16
    structured_outputs: FakeStructuredOutputsParams | None = None


@dataclass
class FakeCompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str | None


@dataclass
class FakeRequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    outputs: list[FakeCompletionOutput]
    finished: bool = True


@dataclass
class FakeLLM:
    """Records construction and calls; answers JSON for schema requests, text otherwise."""

    instances: Any = None
    init: dict[str, Any] = field(default_factory=dict)
    calls: list[tuple[str, Any, Any, bool]] = field(default_factory=list)

    def _answer(self, params: FakeSamplingParams, prompt_len: int) -> FakeRequestOutput:
        if params.structured_outputs is not None:
            text = json.dumps({"answer": "长城全长两万多公里"}, ensure_ascii=False)
        else:
            text = "长城是中国古代的军事防御工程"
        cut = params.max_tokens is not None and params.max_tokens < 5
        return FakeRequestOutput(
            "0",
            None,
            list(range(prompt_len)),
            [
                FakeCompletionOutput(
                    0,
                    text[:3] if cut else text,
                    [1] * (3 if cut else 9),
                    "length" if cut else "stop",
                )
            ],
        )

    def chat(
        self, messages: Any, sampling_params: Any = None, use_tqdm: bool = True, **kwargs: Any
    ) -> list[FakeRequestOutput]:
        self.calls.append(("chat", messages, sampling_params, use_tqdm))
        return [self._answer(p, 20 + len(m)) for m, p in zip(messages, sampling_params)]

    def generate(
        self, prompts: Any, sampling_params: Any = None, *, use_tqdm: bool = True, **kwargs: Any
    ) -> list[FakeRequestOutput]:
        self.calls.append(("generate", prompts, sampling_params, use_tqdm))
        return [self._answer(p, len(t)) for t, p in zip(prompts, sampling_params)]


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> list[FakeLLM]:
    """Install the fake as ``vllm`` / ``vllm.sampling_params``; yields the LLMs it built."""
    built: list[FakeLLM] = []

    def make_llm(
        model: str,
        *,
        tensor_parallel_size: int = 1,
        seed: int | None = None,
        gpu_memory_utilization: float = 0.9,
        **engine_args: Any,
    ) -> FakeLLM:
        llm = FakeLLM(
            init={
                "model": model,
                "tensor_parallel_size": tensor_parallel_size,
                "seed": seed,
                "gpu_memory_utilization": gpu_memory_utilization,
                **engine_args,
            }
        )
        built.append(llm)
        return llm

    vllm = types.ModuleType("vllm")
    vllm.LLM = make_llm  # type: ignore[attr-defined]
    vllm.SamplingParams = FakeSamplingParams  # type: ignore[attr-defined]
    sampling = types.ModuleType("vllm.sampling_params")
    sampling.SamplingParams = FakeSamplingParams  # type: ignore[attr-defined]
    sampling.StructuredOutputsParams = FakeStructuredOutputsParams  # type: ignore[attr-defined]
    vllm.sampling_params = sampling  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sampling)
    return built


SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def test_engine_arguments_are_mapped(fake_vllm: list[FakeLLM]) -> None:
    backend = create_backend(
        {
            "type": "vllm",
            "model": "Qwen/Qwen2.5-7B-Instruct",
            "tensor_parallel_size": 4,
            "gpu_memory_utilization": 0.85,
            "max_model_len": 8192,
            "engine": {"dtype": "bfloat16"},
        }
    )
    assert fake_vllm == []  # nothing loads before first use
    backend.generate([LLMRequest(prompt="长城", sampling=Sampling())])
    assert fake_vllm[0].init == {
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "tensor_parallel_size": 4,
        "seed": 0,
        "gpu_memory_utilization": 0.85,
        "enable_prefix_caching": True,
        "max_model_len": 8192,
        "dtype": "bfloat16",
    }


def test_requests_map_to_batched_chat_and_generate(fake_vllm: list[FakeLLM]) -> None:
    backend = create_backend({"type": "vllm", "model": "m"})
    messages = (
        {"role": "system", "content": "你是助手"},
        {"role": "user", "content": "长城多长？"},
    )
    reqs = [
        LLMRequest(
            messages=messages,
            json_schema=SCHEMA,
            sampling=Sampling(temperature=0.0, top_p=0.9, max_tokens=64, seed=3),
        ),
        LLMRequest(prompt="从前有座山，", sampling=Sampling(temperature=0.8, stop=("\n",))),
        LLMRequest(messages=messages, sampling=Sampling(max_tokens=2)),
    ]
    results = backend.generate(reqs)
    [(kind1, convs, params1, tqdm1), (kind2, prompts, params2, tqdm2)] = fake_vllm[0].calls
    assert (kind1, kind2, tqdm1, tqdm2) == ("chat", "generate", False, False)
    assert convs == [list(messages), list(messages)] and prompts == ["从前有座山，"]
    p = params1[0]
    assert (p.temperature, p.top_p, p.max_tokens, p.seed, p.stop) == (0.0, 0.9, 64, 3, None)
    assert p.structured_outputs == FakeStructuredOutputsParams(json=SCHEMA)
    assert params1[1].structured_outputs is None
    assert (params2[0].temperature, params2[0].stop) == (0.8, ["\n"])
    assert results[0].parsed == {"answer": "长城全长两万多公里"}
    assert (results[0].prompt_tokens, results[0].completion_tokens) == (22, 9)
    assert results[1].text == "长城是中国古代的军事防御工程" and results[1].parsed is None
    assert (results[2].finish_reason, results[2].completion_tokens) == ("length", 3)


def test_on_result_reports_every_request_in_order(fake_vllm: list[FakeLLM]) -> None:
    backend = create_backend({"type": "vllm", "model": "m"})
    seen: list[int] = []
    reqs = [
        LLMRequest(prompt="一", sampling=Sampling()),
        LLMRequest(messages=({"role": "user", "content": "二"},), sampling=Sampling()),
    ]
    backend.generate(reqs, on_result=lambda i, r: seen.append(i))
    assert seen == [0, 1]
