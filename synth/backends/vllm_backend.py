"""Offline vLLM engine (GPU): one batched ``LLM.chat`` / ``LLM.generate`` call per batch.

JSON schemas go through ``SamplingParams(structured_outputs=StructuredOutputsParams(json=...))``
(vLLM ≥ 0.12; the older ``guided_*`` fields were removed). vLLM is installed by the ``gpu``
extra and imported only when the engine is first used; this module is tested against a fake
``vllm`` module that mirrors the documented signatures (no GPU on the dev machines).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from synth.backends.base import LLMRequest, LLMResult, OnResult, finish
from synth.backends.configs import VllmConfig


class VllmBackend:
    """The ``vllm`` engine of a :class:`~synth.backends.configs.VllmConfig`.

    ``config.engine`` is passed to ``vllm.LLM`` unchanged (e.g. ``dtype``, ``quantization``,
    ``max_num_seqs``).
    """

    kind = "vllm"

    def __init__(self, config: VllmConfig) -> None:
        self.config = config
        self.model = config.model
        self.engine_args: dict[str, Any] = {
            "model": config.model,
            "tensor_parallel_size": config.tensor_parallel_size,
            "gpu_memory_utilization": config.gpu_memory_utilization,
            "enable_prefix_caching": config.enable_prefix_caching,
            "seed": config.seed,
            **config.engine,
        }
        if config.max_model_len is not None:
            self.engine_args["max_model_len"] = config.max_model_len
        self._llm: Any = None

    def _engine(self) -> Any:
        if self._llm is None:
            import vllm  # heavy: imported only when the engine is first used

            self._llm = vllm.LLM(**self.engine_args)
        return self._llm

    @staticmethod
    def sampling_params(request: LLMRequest) -> Any:
        """The ``vllm.SamplingParams`` for one request."""
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        s = request.sampling
        structured = (
            StructuredOutputsParams(json=dict(request.json_schema))
            if request.json_schema is not None
            else None
        )
        return SamplingParams(
            temperature=s.temperature,
            top_p=s.top_p,
            max_tokens=s.max_tokens,
            stop=list(s.stop) or None,
            seed=s.seed,
            structured_outputs=structured,
        )

    @staticmethod
    def to_result(output: Any) -> LLMResult:
        """A ``vllm.RequestOutput`` → :class:`LLMResult` (first completion)."""
        completion = output.outputs[0]
        return LLMResult(
            text=completion.text,
            finish_reason=completion.finish_reason or "stop",
            prompt_tokens=len(output.prompt_token_ids or ()),
            completion_tokens=len(completion.token_ids),
        )

    def generate(
        self, requests: Sequence[LLMRequest], on_result: OnResult | None = None
    ) -> list[LLMResult]:
        llm = self._engine()
        results: list[LLMResult | None] = [None] * len(requests)
        chat = [i for i, r in enumerate(requests) if r.messages is not None]
        raw = [i for i, r in enumerate(requests) if r.messages is None]
        if chat:
            outs = llm.chat(
                [[dict(m) for m in requests[i].messages or ()] for i in chat],
                sampling_params=[self.sampling_params(requests[i]) for i in chat],
                use_tqdm=False,
            )
            for i, out in zip(chat, outs):
                results[i] = self.to_result(out)
        if raw:
            outs = llm.generate(
                [requests[i].prompt for i in raw],
                sampling_params=[self.sampling_params(requests[i]) for i in raw],
                use_tqdm=False,
            )
            for i, out in zip(raw, outs):
                results[i] = self.to_result(out)
        final = []
        for i, result in enumerate(results):
            assert result is not None
            final.append(finish(result, requests[i]))
            if on_result:
                on_result(i, final[-1])
        return final

    def close(self) -> None:
        self._llm = None
