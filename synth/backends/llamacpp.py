"""Embedded CPU engine: llama-cpp-python over a GGUF model that installs from PyPI.

JSON-schema requests are decoded under a GBNF grammar built from the schema
(llama-cpp-python's ``json_schema_to_gbnf``), so the output always has the schema's shape
unless it is cut by ``max_tokens``. Two changes to the stock grammar, from measurements on the
packaged Qwen 0.5B model: whitespace may be a newline plus indentation (the stock rule allows
one space only) and the JSON may sit in a Markdown ```json fence. Forced into compact JSON
without its usual fence, the model copied document sentences as "questions" and decoded several
times slower (it kept proposing tokens the grammar rejects); with both allowed, its constrained
output equals its free output whenever the latter fits the schema.

Requests run one after another (llama.cpp decodes one sequence here); the model loads on the
first request, so building the backend is cheap.

Weight repacking is off by default (``repack: false``): with llama-cpp-python 0.3.36 built
from source on this team's AVX-512 machines, llama.cpp's runtime repacking of Q4_K weights
("extra buffer types") segfaults in ``llama_decode`` on any batch of more than one token,
i.e. on every prompt (measured: crash with every n_threads/n_batch/flash-attention setting;
fine with repacking off, or with ``n_ubatch=1``, which is far slower). The binding has no
argument for it, so :func:`model_params_patch` sets ``use_extra_bufts`` while the model loads.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from typing import Any

from synth.backends.base import LLMRequest, LLMResult, OnResult, finish
from synth.backends.configs import LlamaCppConfig
from synth.models import model_identity, resolve_model

_SPACE = 'space ::= | " " | "\\n" [ \\t]{0,20}'
_FENCED_ROOT = 'root ::= "```json\\n" json-root "\\n```" | json-root'


def schema_grammar(schema: Any) -> str:
    """GBNF for a JSON schema, with newline indentation and an optional ```json fence."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(schema, ensure_ascii=False))
    gbnf = re.sub(r"^space ::= .*$", lambda _: _SPACE, gbnf, flags=re.MULTILINE)
    gbnf = re.sub(r"^root ::=", "json-root ::=", gbnf, flags=re.MULTILINE)
    return f"{gbnf}\n{_FENCED_ROOT}\n"


@contextlib.contextmanager
def model_params_patch(repack: bool) -> Iterator[None]:
    """While active, models load with llama.cpp's weight repacking on or off."""
    import llama_cpp.llama as binding

    original = binding.llama_cpp.llama_model_default_params

    def params() -> Any:
        p = original()
        p.use_extra_bufts = repack
        return p

    binding.llama_cpp.llama_model_default_params = params
    try:
        yield
    finally:
        binding.llama_cpp.llama_model_default_params = original


class LlamaCppBackend:
    """The ``llamacpp`` engine of a :class:`~synth.backends.configs.LlamaCppConfig`.

    ``n_threads`` 0 means one per CPU core; ``repack`` is llama.cpp's runtime weight repacking
    (off: see the module docstring).
    """

    kind = "llamacpp"

    def __init__(self, config: LlamaCppConfig) -> None:
        self.config = config
        self.model = model_identity(config.model)
        self._model_ref = config.model
        self._options = {
            "n_ctx": config.n_ctx,
            "n_threads": config.n_threads or os.cpu_count() or 1,
            "n_batch": config.n_batch,
            "chat_format": config.chat_format,
        }
        self._repack = config.repack
        self._llm: Any = None
        self._grammars: dict[str, Any] = {}

    def _engine(self) -> Any:
        if self._llm is None:
            from llama_cpp import Llama  # heavy: imported only when the model is first used

            with model_params_patch(self._repack):
                self._llm = Llama(
                    model_path=str(resolve_model(self._model_ref)), verbose=False, **self._options
                )
        return self._llm

    def _grammar(self, schema: Any) -> Any:
        if schema is None:
            return None
        key = json.dumps(schema, ensure_ascii=False)  # property order is the output order
        if key not in self._grammars:
            from llama_cpp import LlamaGrammar

            self._grammars[key] = LlamaGrammar.from_string(schema_grammar(schema), verbose=False)
        return self._grammars[key]

    def _one(self, request: LLMRequest) -> LLMResult:
        s = request.sampling
        kwargs = {
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "stop": list(s.stop) or None,
            "seed": s.seed,
            "grammar": self._grammar(request.json_schema),
        }
        llm = self._engine()
        try:
            if request.messages is not None:
                resp = llm.create_chat_completion(
                    messages=[dict(m) for m in request.messages], **kwargs
                )
                text = resp["choices"][0]["message"]["content"] or ""
            else:
                resp = llm.create_completion(prompt=request.prompt, **kwargs)
                text = resp["choices"][0]["text"]
        except ValueError as exc:  # e.g. the prompt does not fit in n_ctx
            return LLMResult(finish_reason="error", error=f"llamacpp: {exc}")
        usage = resp.get("usage") or {}
        return LLMResult(
            text=text,
            finish_reason=resp["choices"][0]["finish_reason"] or "stop",
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
        )

    def generate(
        self, requests: Sequence[LLMRequest], on_result: OnResult | None = None
    ) -> list[LLMResult]:
        results = []
        for i, request in enumerate(requests):
            result = finish(self._one(request), request)
            if on_result:
                on_result(i, result)
            results.append(result)
        return results

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None
