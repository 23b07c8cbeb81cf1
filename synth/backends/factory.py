"""Build an engine from a backend config, for where the worker runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.stage import LOCAL, Placement
from synth.backends.base import Backend
from synth.backends.configs import (
    BackendConfig,
    LlamaCppConfig,
    OpenAIConfig,
    VllmConfig,
    parse_backend,
)


def create_backend(
    config: BackendConfig | Mapping[str, Any], placement: Placement = LOCAL
) -> Backend:
    """Build an engine from a typed config or its mapping ``{type: llamacpp|openai|vllm,
    model: ..., <engine options>}`` (validated by :func:`~synth.backends.configs.parse_backend`),
    for a worker at ``placement``: on Ray, vLLM engines are shared GPU actors and the openai
    backend's ``concurrency`` holds cluster-wide (see :mod:`synth.backends.ray_llm`)."""
    typed = parse_backend(config)
    if isinstance(typed, LlamaCppConfig):
        from synth.backends.llamacpp import LlamaCppBackend

        return LlamaCppBackend(typed)
    if isinstance(typed, OpenAIConfig):
        from synth.backends.openai_compat import OpenAIBackend

        return OpenAIBackend(typed, placement)
    assert isinstance(typed, VllmConfig)
    if placement.on_ray:  # engines are GPU actors shared by the cluster's workers
        from synth.backends.ray_llm import RayVllmBackend

        return RayVllmBackend(typed, placement.namespace)
    from synth.backends.vllm_backend import VllmBackend

    return VllmBackend(typed)
