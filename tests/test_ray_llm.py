"""LLM stages on Ray, on a real two-node Ray cluster started here (``ray.cluster_utils``).

* openai backend: four Ray tasks on two nodes, each with ``concurrency: 3``, against one HTTP
  server on 127.0.0.1 that counts the requests in flight. Under the cluster-wide limiter the
  server never sees more than 3 at once (and does see 3); with the limiter switched off the
  same tasks exceed 3, so the test can tell the two apart. The answers are the same.
* the real CLI with an openai-backed LLM stage publishes the same bytes on the cluster as with
  the local executor, and the server sees at most ``concurrency`` requests at once.
* a slot whose holder died is reclaimed after its lease.
* vLLM engines as GPU actors, against a FAKE ``vllm`` package written by this test (no GPU and
  no vLLM here): the worker node declares 2 logical GPUs; each engine actor must be given its
  own GPU(s) by Ray, build ``vllm.LLM`` once, and return what the local backend returns.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import ray
from ray.cluster_utils import Cluster
from ray.util import list_named_actors

from pipeline.executors.ray_cluster import shutdown_named_actors
from pipeline.stage import LOCAL, RAY_NAMESPACE, Placement
from synth.backends.base import BackendUnavailable, LLMRequest, Sampling
from synth.backends.configs import OpenAIConfig, VllmConfig
from synth.backends.factory import create_backend
from synth.backends.ray_llm import RayVllmBackend, get_limiter, limiter_name
from tests.conftest import REPO, http_server, run_cli, send_json, write_config
from tests.test_resume import data_hashes

MIB = 2**20

FAKE_VLLM = '''"""FAKE vllm for tests (no GPU here): the documented offline API surface only."""
import os
from dataclasses import dataclass, field

from vllm.sampling_params import SamplingParams, StructuredOutputsParams  # noqa: F401

BUILT = []


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list
    finish_reason: str | None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list
    outputs: list
    finished: bool = True


class LLM:
    def __init__(self, model, *, tensor_parallel_size=1, seed=None,
                 gpu_memory_utilization=0.9, **engine_args):
        self.model, self.tp = model, tensor_parallel_size
        self.visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        BUILT.append(self)

    def _out(self, text, params):
        answer = "答：" + text[::-1]
        return RequestOutput("0", None, list(range(len(text))), [
            CompletionOutput(0, answer, [1] * len(answer), "stop")])

    def chat(self, messages, sampling_params=None, use_tqdm=True, **kwargs):
        return [self._out(m[-1]["content"], p) for m, p in zip(messages, sampling_params)]

    def generate(self, prompts, sampling_params=None, *, use_tqdm=True, **kwargs):
        return [self._out(t, p) for t, p in zip(prompts, sampling_params)]
'''
FAKE_SAMPLING = '''"""FAKE vllm.sampling_params for tests."""
from dataclasses import dataclass


@dataclass
class StructuredOutputsParams:
    json: object = None


@dataclass
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list | None = None
    max_tokens: int | None = 16
    structured_outputs: StructuredOutputsParams | None = None
'''


@pytest.fixture(scope="module")
def fake_vllm_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("fake_vllm")
    (root / "vllm").mkdir()
    (root / "vllm" / "__init__.py").write_text(FAKE_VLLM, "utf-8")
    (root / "vllm" / "sampling_params.py").write_text(FAKE_SAMPLING, "utf-8")
    return str(root)


@pytest.fixture(scope="module")
def cluster(fake_vllm_path: str) -> Iterator[Cluster]:
    """Head (2 CPUs) + a worker node (2 CPUs, 2 logical GPUs); the driver connected to it."""
    c = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 2,
            "object_store_memory": 100 * MIB,
            "include_dashboard": False,
        },
    )
    c.add_node(num_cpus=2, num_gpus=2, object_store_memory=100 * MIB)
    c.wait_for_nodes()
    path = os.pathsep.join((fake_vllm_path, str(Path(__file__).parent)))  # + this module
    ray.init(
        address=c.address, logging_level="WARNING", runtime_env={"env_vars": {"PYTHONPATH": path}}
    )
    yield c
    ray.shutdown()
    c.shutdown()


class Counting(BaseHTTPRequestHandler):
    """OpenAI-style chat answers after 0.1 s; counts requests in flight."""

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv: Any = self.server
        with srv.lock:
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
            srv.total += 1
        time.sleep(0.1)
        with srv.lock:
            srv.in_flight -= 1
        question = body["messages"][-1]["content"]
        answer = f"答：{question}"
        if "response_format" in body:  # a schema request: the annotation stage's JSON
            score = int(hashlib.sha256(question.encode()).hexdigest(), 16) % 6
            answer = json.dumps({"score": score, "rationale": f"评分{score}"}, ensure_ascii=False)
        send_json(
            self,
            200,
            {
                "choices": [{"message": {"content": answer}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 3},
            },
        )

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Any]:
    with http_server(Counting, lock=threading.Lock(), in_flight=0, max_in_flight=0, total=0) as srv:
        yield srv


def _fan_out(url: str, barrier: str, task: int, n: int, parties: int) -> list[str]:
    """One Ray task: wait until all ``parties`` tasks run, then send ``n`` chat requests."""
    from synth.backends.openai_compat import OpenAIBackend

    Path(barrier, f"{task}.{os.getpid()}").touch()
    deadline = time.time() + 60
    while len(os.listdir(barrier)) < parties and time.time() < deadline:
        time.sleep(0.01)
    config = OpenAIConfig(model="m", base_url=url, concurrency=3, max_retries=0)
    backend = OpenAIBackend(config, Placement("ray"))  # what LLMStage.setup gets under Ray
    reqs = [
        LLMRequest(messages=({"role": "user", "content": f"问题{task}-{i}"},), sampling=Sampling())
        for i in range(n)
    ]
    return [r.text for r in backend.generate(reqs)]


def _run_tasks(
    url: str, tmp: Path, limit_off: bool, parties: int = 4, n: int = 9
) -> tuple[list[list[str]], set[str]]:
    barrier = tmp / ("off" if limit_off else "on")
    barrier.mkdir()
    env = {"env_vars": {"ZHCURATE_RAY_LLM_LIMIT": "off" if limit_off else "on"}}
    fan_out = ray.remote(_fan_out).options(num_cpus=1, max_retries=0, runtime_env=env)
    answers = ray.get([fan_out.remote(url, str(barrier), t, n, parties) for t in range(parties)])
    return answers, {name.split(".")[1] for name in os.listdir(barrier)}


def test_openai_concurrency_is_one_limit_across_the_cluster(
    cluster: Cluster, server: Any, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    limited, pids = _run_tasks(url, tmp_path, limit_off=False)
    assert len(pids) == 4  # 4 worker processes: 1 CPU each, 2 nodes
    assert server.total == 36 and server.max_in_flight == 3
    stats = ray.get(ray.get_actor(limiter_name(url, 3), namespace=RAY_NAMESPACE).stats.remote())
    assert stats["granted"] == 36 and stats["max_in_use"] == 3 and stats["reclaimed"] == 0

    server.max_in_flight = 0
    unlimited, _ = _run_tasks(url, tmp_path, limit_off=True)
    assert server.max_in_flight > 3  # per-process limits only: the server gets more
    assert unlimited == limited == [[f"答：问题{t}-{i}" for i in range(9)] for t in range(4)]

    assert limiter_name(url, 3) in shutdown_named_actors(RAY_NAMESPACE)
    assert not [
        a for a in list_named_actors(all_namespaces=True) if a["namespace"] == RAY_NAMESPACE
    ]


def _take_slot_and_die(limiter: Any) -> None:
    ray.get(limiter.acquire.remote())
    os._exit(1)  # the worker dies holding the slot


def test_slot_of_a_dead_holder_is_reclaimed_after_its_lease(cluster: Cluster) -> None:
    limiter = get_limiter("http://lease.test/v1", 1, lease_s=1.5, namespace=RAY_NAMESPACE)
    with pytest.raises(ray.exceptions.RayError):
        ray.get(ray.remote(_take_slot_and_die).options(max_retries=0).remote(limiter))
    assert ray.get(limiter.stats.remote())["in_use"] == 1
    started = time.monotonic()
    token = ray.get(limiter.acquire.remote(), timeout=30)  # waits for the lease to expire
    assert time.monotonic() - started < 10
    ray.get(limiter.release.remote(token))
    stats = ray.get(limiter.stats.remote())
    assert (stats["reclaimed"], stats["in_use"], stats["granted"]) == (1, 0, 2)
    shutdown_named_actors(RAY_NAMESPACE)


def _batch(task: int, b: int) -> list[LLMRequest]:
    """Batch ``b`` of task ``task``: two chat requests and one raw prompt."""
    reqs = [
        LLMRequest(
            messages=({"role": "user", "content": f"长城{task}{b}{i}"},), sampling=Sampling(seed=i)
        )
        for i in range(2)
    ]
    return [*reqs, LLMRequest(prompt=f"从前{task}{b}", sampling=Sampling())]


def _answers(backend: Any, task: int) -> list[str]:
    return [r.text for b in range(3) for r in backend.generate(_batch(task, b))]


def _vllm_batches(options: dict[str, Any], task: int) -> list[str]:
    return _answers(RayVllmBackend(VllmConfig(**options)), task)


def _local_vllm_answers(fake_vllm_path: str, options: dict[str, Any], task: int) -> list[str]:
    """The same batches through the local (in-process) vLLM backend with the same fake."""
    from synth.backends.vllm_backend import VllmBackend

    sys.path.insert(0, fake_vllm_path)
    saved = {k: sys.modules.pop(k) for k in ("vllm", "vllm.sampling_params") if k in sys.modules}
    try:
        return _answers(VllmBackend(VllmConfig(**options)), task)
    finally:
        sys.path.remove(fake_vllm_path)
        for k in ("vllm", "vllm.sampling_params"):
            sys.modules.pop(k, None)
        sys.modules.update(saved)


@pytest.mark.parametrize("tp, engines", [(1, 2), (2, 1)])
def test_vllm_engines_are_gpu_actors_with_fake_vllm(
    cluster: Cluster, fake_vllm_path: str, tp: int, engines: int
) -> None:
    options = {"model": "Qwen/Qwen2.5-7B-Instruct", "tensor_parallel_size": tp}
    batches = ray.remote(_vllm_batches).options(num_cpus=1, max_retries=0)
    answers = ray.get([batches.remote(options, t) for t in range(4)])
    assert answers == [_local_vllm_answers(fake_vllm_path, options, t) for t in range(4)]

    actors = [
        a["name"] for a in list_named_actors(all_namespaces=True) if a["namespace"] == RAY_NAMESPACE
    ]
    assert len(actors) == engines
    infos = [ray.get(ray.get_actor(name, namespace=RAY_NAMESPACE).info.remote()) for name in actors]
    assert sum(i["batches"] for i in infos) == 12  # 4 tasks × 3 batches, all on the actors
    gpus = sorted(g for i in infos for g in i["gpu_ids"])
    assert gpus == ["0", "1"] and all(len(i["gpu_ids"]) == tp for i in infos)
    assert all(i["cuda_visible_devices"] == ",".join(i["gpu_ids"]) for i in infos)
    assert sorted(shutdown_named_actors(RAY_NAMESPACE)) == sorted(actors)


def test_vllm_config_under_ray_builds_the_actor_backend(cluster: Cluster) -> None:
    """The same ``{type: vllm}`` config an LLM stage uses: GPU actors for a worker placed on
    Ray, the in-process engine for a local one — even with Ray up (building either imports no
    vLLM)."""
    from synth.backends.vllm_backend import VllmBackend

    assert ray.is_initialized()
    on_ray = create_backend({"type": "vllm", "model": "m"}, Placement("ray", "zhc-test"))
    assert isinstance(on_ray, RayVllmBackend) and on_ray.namespace == "zhc-test"
    assert isinstance(create_backend({"type": "vllm", "model": "m"}, LOCAL), VllmBackend)


def test_vllm_on_a_cluster_without_enough_gpus_fails_clearly(cluster: Cluster) -> None:
    with pytest.raises(BackendUnavailable, match="needs GPUs: the cluster has 2"):
        RayVllmBackend(VllmConfig(model="m", tensor_parallel_size=4)).generate(
            [LLMRequest(prompt="一", sampling=Sampling())]
        )


def test_llm_stage_on_the_cluster_publishes_what_local_publishes(
    cluster: Cluster, server: Any, tmp_path: Path
) -> None:
    """LLM annotation of 120 records in 12 shards: local (2 workers) vs the Ray cluster."""
    lines = [
        json.loads(x)
        for x in (REPO / "samples" / sorted(p.name for p in (REPO / "samples").glob("*.jsonl"))[0])
        .read_text("utf-8")
        .splitlines()
    ]
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines[:120]), "utf-8")
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    stage = {
        "type": "llm_quality_annotate",
        "cache_dir": "off",
        "backend": {
            "type": "openai",
            "model": "fake-qwen",
            "base_url": url,
            "concurrency": 2,
            "max_retries": 0,
        },
    }
    hashes = {}
    for name, executor in (
        ("local", {"type": "local", "workers": 2}),
        ("ray", {"type": "ray", "address": cluster.address}),
    ):
        server.max_in_flight = server.total = 0
        cfg = write_config(
            tmp_path / f"{name}.yaml",
            [str(inp)],
            tmp_path / name,
            stages=[stage],
            input={"shard_size": 10},
            executor=executor,
        )
        proc = run_cli("run", str(cfg), "--progress", "never")
        assert proc.returncode == 0, proc.stderr
        assert server.total == 120
        if name == "ray":  # up to 4 tasks at once, each allowed 2: the limit is cluster-wide
            assert server.max_in_flight == 2
        hashes[name] = data_hashes(tmp_path / name / "t" / "v0001")
    assert hashes["ray"] == hashes["local"] and hashes["local"]
