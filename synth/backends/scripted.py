"""A fake engine for tests: answers come from a Python function, calls are recorded.

Not a config ``type``: tests inject it into a stage with :func:`use_engine`. It lets stage and
executor tests (resume, accounting) run without a model, with fixed, known model outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from synth.backends.base import LLMRequest, LLMResult, OnResult, finish

#: request → text, or (text, finish_reason), or an LLMResult.
Responder = Callable[[LLMRequest], "str | tuple[str, str] | LLMResult"]


class ScriptedBackend:
    """Answers each request with ``responder(request)``; ``calls`` lists every request seen."""

    kind = "scripted"

    def __init__(self, responder: Responder, model: str = "scripted-model") -> None:
        self.responder = responder
        self.model = model
        self.calls: list[LLMRequest] = []

    def generate(
        self, requests: Sequence[LLMRequest], on_result: OnResult | None = None
    ) -> list[LLMResult]:
        results = []
        for i, request in enumerate(requests):
            self.calls.append(request)
            answer = self.responder(request)
            if isinstance(answer, LLMResult):
                result = answer
            else:
                text, reason = (answer, "stop") if isinstance(answer, str) else answer
                result = LLMResult(
                    text=text,
                    finish_reason=reason,
                    prompt_tokens=10,
                    completion_tokens=max(1, len(text) // 2),
                )
            results.append(finish(result, request))
            if on_result:
                on_result(i, results[-1])
        return results

    def close(self) -> None:
        pass


def use_engine(stage: Any, engine: Any) -> Any:
    """Give a stage a ready engine (bypasses ``setup``); returns the stage."""
    object.__setattr__(stage, "_engine", engine)
    return stage


def user_text(request: LLMRequest) -> str:
    """The last message's content (or the raw prompt)."""
    if request.messages is None:
        return request.prompt or ""
    return request.messages[-1]["content"]
