"""LLM engines on Ray: one global concurrency limit for the openai backend, vLLM engines as actors.

Under the Ray executor every shard's stage chain is a Ray task, and an LLM stage's backend is
built once per worker process (``LLMStage.setup``, told by its
:class:`~pipeline.stage.Placement` that it runs on Ray and in which namespace its shared actors
live). Two things then need the cluster:

* **openai backend** — ``backend.concurrency`` is what the *server* can take. With one worker
  it bounds the requests in flight; with 40 Ray workers each keeping ``concurrency`` requests
  in flight the server would get 40×. Under Ray every HTTP attempt therefore also holds a slot
  of a :class:`ConcurrencyLimiter`: a named Ray actor (in the placement's namespace, one per
  ``(base_url, concurrency)``) that grants at most ``concurrency`` slots across the whole
  cluster. A slot is a lease: one whose holder died (its node was lost mid-request) is
  reclaimed after ``lease_s`` seconds, so a lost worker cannot shrink the limit for good.
  Outputs do not depend on the limiter (requests are independent and seeded; results are
  cached by request), only the request timing does.
* **vLLM** — an engine must own its GPUs for the whole run, not be rebuilt inside every CPU
  task. :class:`RayVllmBackend` (the ``vllm`` backend when running under Ray) sends each batch
  to one of ``cluster GPUs // tensor_parallel_size`` :class:`VllmEngine` actors, each created
  once per cluster with ``num_gpus=tensor_parallel_size`` and running the ordinary
  :class:`~synth.backends.vllm_backend.VllmBackend` (vLLM's documented offline ``LLM`` API).
  No GPU here: tested against a fake ``vllm`` module named as such.

Both are detached named actors (they outlive the worker that created them, which Ray may
recycle); the Ray executor ends the named actors of the namespace when the run ends
(``pipeline.executors.ray_cluster.shutdown_named_actors``). This module knows nothing of
stages or executors.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Sequence
from typing import Any

from pipeline.stage import RAY_NAMESPACE, Placement
from synth.backends.base import BackendUnavailable, LLMRequest, LLMResult, OnResult
from synth.backends.configs import VllmConfig

LIMITER_PREFIX = "zhcurate-llm-limit-"
VLLM_PREFIX = "zhcurate-vllm-"
#: Seconds a slot may be held before it is considered lost (default: 2 × timeout + 30).
LEASE_MARGIN_S = 30.0


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


class ConcurrencyLimiter:
    """Async Ray actor: at most ``limit`` slots out at once, cluster-wide, as leases."""

    def __init__(self, limit: int, lease_s: float) -> None:
        self.limit = max(1, int(limit))
        self.lease_s = lease_s
        self.leases: dict[int, float] = {}  # token -> expiry (monotonic)
        self.next_token = 0
        self.granted = 0
        self.reclaimed = 0
        self.max_in_use = 0
        self._cond: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:  # created on the actor's event loop
            self._cond = asyncio.Condition()
        return self._cond

    def _reclaim(self) -> None:
        now = time.monotonic()
        for token in [t for t, expiry in self.leases.items() if expiry < now]:
            del self.leases[token]
            self.reclaimed += 1

    async def acquire(self) -> int:
        """Wait for a free slot; returns its token (pass it to :meth:`release`)."""
        cond = self._condition()
        async with cond:
            while True:
                self._reclaim()
                if len(self.leases) < self.limit:
                    break
                try:
                    await asyncio.wait_for(cond.wait(), timeout=min(1.0, self.lease_s))
                except TimeoutError:
                    pass
            token = self.next_token
            self.next_token += 1
            self.leases[token] = time.monotonic() + self.lease_s
            self.granted += 1
            self.max_in_use = max(self.max_in_use, len(self.leases))
            return token

    async def release(self, token: int) -> None:
        """Return a slot (an unknown or reclaimed token is ignored)."""
        cond = self._condition()
        async with cond:
            self.leases.pop(token, None)
            cond.notify()

    def stats(self) -> dict[str, int]:
        """Limit, slots out now, most ever out at once, grants and reclaimed leases."""
        self._reclaim()
        return {
            "limit": self.limit,
            "in_use": len(self.leases),
            "max_in_use": self.max_in_use,
            "granted": self.granted,
            "reclaimed": self.reclaimed,
        }


def limiter_name(base_url: str, limit: int) -> str:
    """Actor name of the limiter shared by every backend of one server and limit."""
    return LIMITER_PREFIX + _digest(base_url.rstrip("/"), int(limit))


_remote_classes: dict[type, Any] = {}


def _remote(cls: type) -> Any:
    """``ray.remote(cls)``, made once per process (each call would export the class again)."""
    if cls not in _remote_classes:
        import ray

        _remote_classes[cls] = ray.remote(cls)
    return _remote_classes[cls]


def get_limiter(base_url: str, limit: int, lease_s: float, namespace: str) -> Any:
    """The cluster's limiter for ``(base_url, limit)`` in ``namespace``, created on first use."""
    return (
        _remote(ConcurrencyLimiter)
        .options(
            name=limiter_name(base_url, limit),
            namespace=namespace,
            get_if_exists=True,
            lifetime="detached",
            num_cpus=0,
            max_concurrency=100_000,
            max_restarts=-1,
            max_task_retries=-1,
        )
        .remote(limit, lease_s)
    )


class GlobalSlots:
    """Async context manager: a local semaphore slot, then a cluster-wide limiter slot.

    Drop-in for the ``asyncio.Semaphore`` the openai backend holds around each HTTP attempt.
    Tokens are kept per asyncio task (each request runs in its own task under ``gather``).
    """

    def __init__(
        self, local: asyncio.Semaphore, base_url: str, limit: int, lease_s: float, namespace: str
    ) -> None:
        self.local = local
        self.base_url, self.limit, self.lease_s = base_url, limit, lease_s
        self.namespace = namespace
        self.actor = get_limiter(base_url, limit, lease_s, namespace)
        self._tokens: dict[asyncio.Task[Any] | None, int] = {}

    async def __aenter__(self) -> GlobalSlots:
        from ray.exceptions import RayActorError

        await self.local.acquire()
        try:
            try:
                token = await self.actor.acquire.remote()
            except RayActorError:  # removed by another run's shutdown: make a new one
                self.actor = get_limiter(self.base_url, self.limit, self.lease_s, self.namespace)
                token = await self.actor.acquire.remote()
        except BaseException:
            self.local.release()
            raise
        self._tokens[asyncio.current_task()] = token
        return self

    async def __aexit__(self, *exc: object) -> None:
        token = self._tokens.pop(asyncio.current_task(), None)
        if token is not None:
            self.actor.release.remote(token)  # fire and forget: the lease expires anyway
        self.local.release()


def request_slots(
    local: asyncio.Semaphore, base_url: str, limit: int, timeout: float, placement: Placement
) -> asyncio.Semaphore | GlobalSlots:
    """What the openai backend holds per HTTP attempt: ``local`` alone, or on Ray ``local``
    plus a slot of the cluster-wide limiter (``ZHCURATE_RAY_LLM_LIMIT=off`` opts out, e.g.
    when the server queues requests itself). ``timeout``: seconds per request."""
    if not placement.on_ray or os.environ.get("ZHCURATE_RAY_LLM_LIMIT", "").lower() == "off":
        return local
    lease_s = 2 * timeout + LEASE_MARGIN_S
    return GlobalSlots(local, base_url, limit, lease_s, placement.namespace)


class VllmEngine:
    """Ray actor owning one vLLM engine (``num_gpus=tensor_parallel_size``) for the run."""

    def __init__(self, config: VllmConfig) -> None:
        from synth.backends.vllm_backend import VllmBackend

        self.backend = VllmBackend(config)
        self.batches = 0

    def generate(self, requests: list[LLMRequest]) -> list[LLMResult]:
        """One batched vLLM call (the engine loads on the first one)."""
        self.batches += 1
        return self.backend.generate(requests)

    def info(self) -> dict[str, Any]:
        """Where this engine runs: pid, GPUs Ray assigned, batches served."""
        import ray

        return {
            "pid": os.getpid(),
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "batches": self.batches,
        }


class RayVllmBackend:
    """The ``vllm`` backend under Ray: batches go to shared :class:`VllmEngine` actors.

    Takes the same :class:`~synth.backends.configs.VllmConfig` as
    :class:`~synth.backends.vllm_backend.VllmBackend`; engines = cluster GPUs //
    ``tensor_parallel_size`` (at least one GPU must be in the cluster).
    Each worker process sends its batches round-robin, starting at an engine chosen by pid.
    """

    kind = "vllm"

    def __init__(self, config: VllmConfig, namespace: str = RAY_NAMESPACE) -> None:
        self.config = config
        self.namespace = namespace
        self.model = config.model
        self.tp = config.tensor_parallel_size
        self._engines: list[Any] | None = None
        self._next = os.getpid()

    def engines(self) -> list[Any]:
        """The engine actors (created once per cluster, found by name afterwards)."""
        if self._engines is None:
            import ray

            gpus = int(ray.cluster_resources().get("GPU", 0))
            if gpus < self.tp:
                raise BackendUnavailable(
                    f"vllm backend on Ray needs GPUs: the cluster has {gpus}, "
                    f"tensor_parallel_size is {self.tp}"
                )
            key = _digest(self.config.as_config())
            self._engines = [
                _remote(VllmEngine)
                .options(
                    name=f"{VLLM_PREFIX}{key}-{i}",
                    namespace=self.namespace,
                    get_if_exists=True,
                    lifetime="detached",
                    num_cpus=0,
                    num_gpus=self.tp,
                    max_concurrency=1,
                    max_restarts=1,
                )
                .remote(self.config)
                for i in range(gpus // self.tp)
            ]
        return self._engines

    def generate(
        self, requests: Sequence[LLMRequest], on_result: OnResult | None = None
    ) -> list[LLMResult]:
        import ray
        from ray.exceptions import RayActorError

        batch = list(requests)
        for attempt in range(2):  # an engine killed meanwhile is made again once
            engines = self.engines()
            self._next += 1
            actor = engines[self._next % len(engines)]
            try:
                results: list[LLMResult] = ray.get(actor.generate.remote(batch))
                break
            except RayActorError as exc:
                self._engines = None
                if attempt:
                    raise BackendUnavailable(f"vLLM engine actor died: {exc}") from exc
        if on_result:
            for i, result in enumerate(results):
                on_result(i, result)
        return results

    def close(self) -> None:
        """The engines stay up for the other workers; the executor ends them with the run."""
        self._engines = None
